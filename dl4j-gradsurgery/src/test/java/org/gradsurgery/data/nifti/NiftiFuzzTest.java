package org.gradsurgery.data.nifti;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.shade.jackson.databind.JsonNode;

/**
 * Mutated NIfTI files make {@link Nifti#read} throw {@link NiftiFormatException} and nothing else, and never make
 * it allocate much more than the file holds. Tagged {@code fuzz}, so excluded from the default run:
 *
 * <pre>
 *   # seeded mutation loop over every fixture (-Dnifti.fuzz.iterations=N per fixture, default 300)
 *   # plus Jazzer in regression mode (replays the seed corpus in NiftiFuzzTestInputs/):
 *   mvn -pl dl4j-gradsurgery test -Dgroups=fuzz -DexcludedGroups= -Dtest=NiftiFuzzTest
 *   # coverage-guided fuzzing with Jazzer (libFuzzer) for maxDuration (5 minutes):
 *   JAZZER_FUZZ=1 mvn -pl dl4j-gradsurgery test -Dgroups=fuzz -DexcludedGroups= \
 *       -Dtest='NiftiFuzzTest#jazzerReadsArbitraryBytes'
 * </pre>
 * A finding is saved as {@code crash-*} under {@code src/test/resources/.../NiftiFuzzTestInputs/} and replayed by
 * every later regression run; the growing corpus goes to {@code .cifuzz-corpus/} (git-ignored).
 */
@Tag("fuzz")
class NiftiFuzzTest {

    /** Heap a single read may allocate beyond 16× the input: the first gzip chunks (64 + 128 KiB) and bookkeeping. */
    private static final long ALLOCATION_SLACK = 2L << 20;

    private static final Path WORK;

    static {
        try {
            WORK = Files.createTempDirectory("nifti-fuzz");
            WORK.toFile().deleteOnExit();
            // initialise ND4J and load the reader's classes now, so the allocation bound measures reading only
            for (String warm : new String[]{"layout_nii", "layout_niigz", "rgb24", "dt_uint64_le"}) {
                NiftiImage img = Nifti.read(NiftiFixtures.file(warm));
                img.data(DataType.FLOAT);
                img.labels();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @FuzzTest(maxDuration = "5m")
    void jazzerReadsArbitraryBytes(byte[] input) throws IOException {
        check(input, "fuzz.nii");
    }

    @Test
    void seededMutationsOfEveryFixture() throws IOException {
        int iterations = Integer.getInteger("nifti.fuzz.iterations", 300);
        Random rnd = new Random(Long.getLong("nifti.fuzz.seed", 20260101L));
        int accepted = 0;
        int total = 0;
        for (JsonNode f : NiftiFixtures.all()) {
            Path src = NiftiFixtures.file(f);
            String name = src.getFileName().toString();
            boolean gz = name.endsWith(".gz");
            byte[] original = Files.readAllBytes(src);
            byte[] plain = gz ? gunzip(original) : original;
            Path other = f.has("other_file") ? NiftiFixtures.dir().resolve(f.get("other_file").asText()) : null;
            for (int it = 0; it < iterations; it++) {
                byte[] mutated = mutate(plain, rnd);
                if (gz && rnd.nextBoolean()) {
                    mutated = gzip(mutated);
                } else if (gz) {
                    mutated = mutate(original, rnd); // corrupt the compressed stream itself
                }
                if (other != null) {
                    // a pair: mutate the header, keep the image (or truncate it)
                    Path img = WORK.resolve("pair" + other.getFileName().toString().substring(
                            other.getFileName().toString().indexOf('.')));
                    byte[] imgBytes = Files.readAllBytes(other);
                    Files.write(img, rnd.nextInt(4) == 0 ? Arrays.copyOf(imgBytes, rnd.nextInt(imgBytes.length + 1))
                            : imgBytes);
                    accepted += check(mutated, "pair" + name.substring(name.indexOf('.'))) ? 1 : 0;
                    Files.delete(img);
                } else {
                    accepted += check(mutated, "m" + name.substring(name.indexOf('.'))) ? 1 : 0;
                }
                total++;
            }
        }
        // sanity: the mutations must not be so destructive that every read fails at the first check
        assertTrue(accepted > total / 50, "only " + accepted + " of " + total + " mutants were readable");
        System.out.println("nifti fuzz: " + total + " mutants, " + accepted + " readable");
    }

    /** Reads {@code bytes} saved as {@code name}; returns whether it was accepted. */
    private static boolean check(byte[] bytes, String name) throws IOException {
        Path p = WORK.resolve(name);
        Files.write(p, bytes);
        long before = allocated();
        try {
            NiftiImage img = Nifti.read(p);
            img.affine();
            img.data(DataType.FLOAT);
            try {
                img.labels();
            } catch (IllegalStateException e) {
                // documented: float voxels that are not whole numbers, or uint64 above 2^63 - 1
                assertTrue(e.getMessage().contains(p.toString()), e.getMessage());
            }
            return true;
        } catch (NiftiFormatException e) {
            assertTrue(e.getMessage().startsWith(WORK.toString()), e.getMessage());
            return false;
        } catch (RuntimeException | IOException | Error e) {
            Path keep = Files.createTempFile("nifti-fuzz-crash", "-" + name);
            Files.write(keep, bytes);
            throw new AssertionError("unexpected " + e + " reading a mutant (saved as " + keep + ")", e);
        } finally {
            long used = allocated() - before;
            if (used > ALLOCATION_SLACK + 16L * bytes.length) {
                fail("reading a " + bytes.length + "-byte mutant allocated " + used + " bytes");
            }
            Files.deleteIfExists(p);
        }
    }

    /** One to three random mutations: bit flips, truncation, extension, or a header field set to an edge value. */
    static byte[] mutate(byte[] in, Random rnd) {
        byte[] b = in.clone();
        int n = 1 + rnd.nextInt(3);
        for (int m = 0; m < n && b.length > 0; m++) {
            switch (rnd.nextInt(6)) {
                case 0 -> { // bit flips anywhere
                    for (int k = rnd.nextInt(4); k >= 0; k--) {
                        int i = rnd.nextInt(b.length);
                        b[i] ^= (byte) (1 << rnd.nextInt(8));
                    }
                }
                case 1 -> b = Arrays.copyOf(b, rnd.nextInt(b.length)); // truncation
                case 2 -> { // bytes appended
                    int extra = rnd.nextInt(64);
                    byte[] c = Arrays.copyOf(b, b.length + extra);
                    for (int i = b.length; i < c.length; i++) {
                        c[i] = (byte) rnd.nextInt();
                    }
                    b = c;
                }
                default -> corruptField(b, rnd);
            }
        }
        return b;
    }

    /** NIfTI-1 and NIfTI-2 fields that size or locate memory, set to an edge value in the file's byte order. */
    private static void corruptField(byte[] b, Random rnd) {
        if (b.length < 348) {
            return;
        }
        ByteBuffer buf = ByteBuffer.wrap(b);
        int le = buf.order(ByteOrder.LITTLE_ENDIAN).getInt(0);
        buf.order(le == 348 || le == 540 ? ByteOrder.LITTLE_ENDIAN : ByteOrder.BIG_ENDIAN);
        boolean v2 = buf.getInt(0) == 540 && b.length >= 540;
        long[] edge = {0, 1, -1, 2, 7, 8, 255, 256, 32767, -32768, 65535, Integer.MAX_VALUE, Integer.MIN_VALUE,
                Long.MAX_VALUE, Long.MIN_VALUE, 1L << 31, 1L << 32, 348, 352, 540, 544};
        long v = edge[rnd.nextInt(edge.length)];
        double[] fedge = {0, -0.0, 1, -1, 0.5, 352, 352.5, 1e30, -1e30, Double.NaN, Double.POSITIVE_INFINITY,
                Float.MAX_VALUE, 1e-45};
        double fv = fedge[rnd.nextInt(fedge.length)];
        if (!v2) {
            int[] shorts = {40, 42, 44, 46, 48, 50, 52, 54, 70, 72, 252, 254};
            int[] floats = {76, 80, 84, 88, 108, 112, 116, 256, 260, 264, 280, 296, 312};
            if (rnd.nextBoolean()) {
                buf.putShort(shorts[rnd.nextInt(shorts.length)], (short) v);
            } else {
                buf.putFloat(floats[rnd.nextInt(floats.length)], (float) fv);
            }
        } else {
            int[] longs = {16, 24, 32, 40, 48, 56, 64, 72, 168};
            int[] shorts = {12, 14};
            int[] doubles = {104, 112, 120, 128, 176, 184, 352, 360, 368, 400};
            switch (rnd.nextInt(3)) {
                case 0 -> buf.putLong(longs[rnd.nextInt(longs.length)], v);
                case 1 -> buf.putShort(shorts[rnd.nextInt(shorts.length)], (short) v);
                default -> buf.putDouble(doubles[rnd.nextInt(doubles.length)], fv);
            }
        }
    }

    private static long allocated() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    private static byte[] gzip(byte[] b) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(b);
        }
        return out.toByteArray();
    }

    private static byte[] gunzip(byte[] b) throws IOException {
        try (GZIPInputStream in = new GZIPInputStream(new ByteArrayInputStream(b))) {
            return in.readAllBytes();
        }
    }
}
