package org.gradsurgery.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.TreeMap;

/**
 * Remaps raw label codes (atlas indices, grey values) to contiguous class ids: {@code class = map(code)}.
 *
 * <p>File form (CSV, UTF-8): one {@code source,target} pair per line; blank lines and lines starting with {@code #}
 * are ignored, as is a first line {@code source,target}. Example (AAL deep grey matter):
 * <pre>
 * source,target
 * 0,0
 * 71,1
 * 72,1
 * </pre>
 * A code that is not listed is an error naming the code and the sample, unless {@link #withDefault(int)} gives a
 * class for every unlisted code (e.g. 0: "every other structure is background"). Immutable.
 */
public final class LabelMap {
    private final TreeMap<Long, Integer> map;
    private final Integer unlisted;

    private LabelMap(TreeMap<Long, Integer> map, Integer unlisted) {
        this.map = map;
        this.unlisted = unlisted;
    }

    /** A map from the given pairs; unlisted codes are an error. */
    public static LabelMap of(Map<Long, Integer> pairs) {
        TreeMap<Long, Integer> m = new TreeMap<>();
        for (Map.Entry<Long, Integer> e : pairs.entrySet()) {
            if (e.getValue() < 0) {
                throw new IllegalArgumentException("LabelMap: target class must be >= 0, got " + e.getValue()
                        + " for code " + e.getKey());
            }
            m.put(e.getKey(), e.getValue());
        }
        if (m.isEmpty()) {
            throw new IllegalArgumentException("LabelMap: no pairs");
        }
        return new LabelMap(m, null);
    }

    /** Reads a {@code source,target} CSV file (see class doc). */
    public static LabelMap read(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        TreeMap<Long, Integer> m = new TreeMap<>();
        boolean first = true;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] parts = line.split("\\s*,\\s*");
            if (first && parts.length == 2 && parts[0].equalsIgnoreCase("source")) {
                first = false;
                continue;
            }
            first = false;
            if (parts.length != 2) {
                throw new IllegalArgumentException(file + " line " + (i + 1) + ": expected 'source,target', got '"
                        + line + "'");
            }
            long source;
            int target;
            try {
                source = Long.parseLong(parts[0]);
                target = Integer.parseInt(parts[1]);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(file + " line " + (i + 1) + ": not integers: '" + line + "'");
            }
            if (target < 0) {
                throw new IllegalArgumentException(file + " line " + (i + 1) + ": target class must be >= 0, got "
                        + target);
            }
            Integer previous = m.put(source, target);
            if (previous != null && previous != target) {
                throw new IllegalArgumentException(file + " line " + (i + 1) + ": code " + source
                        + " mapped twice (to " + previous + " and " + target + ")");
            }
        }
        if (m.isEmpty()) {
            throw new IllegalArgumentException(file + ": no 'source,target' pairs");
        }
        return new LabelMap(m, null);
    }

    /** The same map, sending every unlisted code to {@code target} instead of failing. */
    public LabelMap withDefault(int target) {
        if (target < 0) {
            throw new IllegalArgumentException("LabelMap.withDefault: target class must be >= 0, got " + target);
        }
        return new LabelMap(map, target);
    }

    /** The class for {@code code}, or empty when it is unlisted and there is no default. */
    public OptionalInt lookup(long code) {
        Integer t = map.get(code);
        if (t == null) {
            t = unlisted;
        }
        return t == null ? OptionalInt.empty() : OptionalInt.of(t);
    }

    /** Number of classes this map produces: 1 + the largest target. */
    public int numClasses() {
        int max = Collections.max(map.values());
        return 1 + Math.max(max, unlisted == null ? 0 : unlisted);
    }

    /** The listed pairs (read-only). */
    public Map<Long, Integer> pairs() {
        return Collections.unmodifiableMap(map);
    }

    /**
     * Applies the map to raw codes.
     *
     * @param what names the source in error messages (file, case id)
     */
    public int[] apply(int[] codes, String what) {
        int[] out = new int[codes.length];
        // Atlas maps are small and label maps large: cache the last hit, most neighbours share a code.
        int lastCode = 0;
        int lastTarget = -1;
        for (int i = 0; i < codes.length; i++) {
            int c = codes[i];
            if (lastTarget >= 0 && c == lastCode) {
                out[i] = lastTarget;
                continue;
            }
            OptionalInt t = lookup(c);
            if (t.isEmpty()) {
                throw new org.gradsurgery.InvalidInputException(what + ": label code " + c + " at voxel " + i
                        + " is not in the label map " + map.keySet() + " (add it to the --label-map file)");
            }
            lastCode = c;
            lastTarget = t.getAsInt();
            out[i] = lastTarget;
        }
        return out;
    }

    /** A transform applying this map to a sample's label. */
    public Transform asTransform() {
        return (s, rng) -> s.hasLabel() ? s.withLabel(apply(s.rawLabel(), s.id())) : s;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LabelMap other && map.equals(other.map) && Objects.equals(unlisted, other.unlisted);
    }

    @Override
    public int hashCode() {
        return Objects.hash(map, unlisted);
    }

    @Override
    public String toString() {
        return "LabelMap" + map + (unlisted != null ? " default " + unlisted : "");
    }
}
