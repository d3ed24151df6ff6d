package org.gradsurgery.data.nifti;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.ObjectMapper;

/**
 * The committed NIfTI fixtures ({@code src/test/resources/nifti/files}) and nibabel's reading of each
 * ({@code expected.json}, written by {@code make_fixtures.py}).
 */
final class NiftiFixtures {

    private static List<JsonNode> cache;

    private NiftiFixtures() {
    }

    static Path dir() {
        try {
            return Paths.get(NiftiFixtures.class.getResource("/nifti/files").toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    static synchronized List<JsonNode> all() {
        if (cache == null) {
            try (InputStream in = NiftiFixtures.class.getResourceAsStream("/nifti/expected.json")) {
                JsonNode root = new ObjectMapper().readTree(in);
                List<JsonNode> list = new ArrayList<>();
                root.get("fixtures").forEach(list::add);
                cache = list;
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return cache;
    }

    static JsonNode named(String name) {
        return all().stream().filter(f -> f.get("name").asText().equals(name)).findFirst()
                .orElseThrow(() -> new IllegalArgumentException("no fixture " + name));
    }

    static Path file(JsonNode fixture) {
        return dir().resolve(fixture.get("file").asText());
    }

    static Path file(String name) {
        return file(named(name));
    }

    /** A JSON number, or "nan"/"inf"/"-inf", as a double. */
    static double number(JsonNode v) {
        if (v.isTextual()) {
            return switch (v.asText()) {
                case "nan" -> Double.NaN;
                case "inf" -> Double.POSITIVE_INFINITY;
                case "-inf" -> Double.NEGATIVE_INFINITY;
                default -> throw new IllegalArgumentException(v.asText());
            };
        }
        return v.asDouble();
    }

    static double[] numbers(JsonNode array) {
        double[] r = new double[array.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = number(array.get(i));
        }
        return r;
    }

    static long[] longs(JsonNode array) {
        long[] r = new long[array.size()];
        for (int i = 0; i < r.length; i++) {
            r[i] = array.get(i).asLong();
        }
        return r;
    }

    static double[][] matrix(JsonNode rows) {
        double[][] m = new double[rows.size()][];
        for (int i = 0; i < m.length; i++) {
            m[i] = numbers(rows.get(i));
        }
        return m;
    }

    /**
     * Multi-index of position {@code p} in numpy's {@code ravel(order='F')}: axis 0 varies fastest. Written from
     * the definition (p = Σ iₐ·∏_{b<a} nᵦ) so tests do not reuse the reader's own index arithmetic.
     */
    static long[] fortranIndex(long p, long[] shape) {
        long[] strides = new long[shape.length];
        long s = 1;
        for (int a = 0; a < shape.length; a++) {
            strides[a] = s;
            s *= shape[a];
        }
        long[] idx = new long[shape.length];
        for (int a = shape.length - 1; a >= 0; a--) {
            idx[a] = p / strides[a];
            p -= idx[a] * strides[a];
        }
        return idx;
    }
}
