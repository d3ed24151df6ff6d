package org.gradsurgery.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;

/**
 * Colour → class map for masks whose colours (or grey levels) encode classes.
 *
 * <p>File form (CSV, UTF-8), one entry per line, {@code #} comments and a {@code colour,class,name} header allowed:
 * <pre>
 * colour,class,name
 * #000000,0,background
 * #FF0000,1,tumour
 * 176,0,background      (a grey value, for grey-level masks)
 * </pre>
 * A colour is {@code #RRGGBB} or a grey value (0–65535). Lookup of an RGB pixel tries its {@code #RRGGBB} key and,
 * when R = G = B, the grey key R; lookup of a grey pixel g tries the grey key and, for g ≤ 255, {@code #gggggg}.
 * Several colours may share a class. Immutable.
 */
public final class ColourMap {
    private final TreeMap<Integer, Integer> rgb;
    private final TreeMap<Integer, Integer> grey;
    private final TreeMap<Integer, String> names;

    private ColourMap(TreeMap<Integer, Integer> rgb, TreeMap<Integer, Integer> grey, TreeMap<Integer, String> names) {
        this.rgb = rgb;
        this.grey = grey;
        this.names = names;
    }

    /** A map from packed {@code 0xRRGGBB} colours to classes. */
    public static ColourMap ofRgb(Map<Integer, Integer> rgbToClass) {
        TreeMap<Integer, Integer> m = new TreeMap<>();
        rgbToClass.forEach((k, v) -> m.put(checkRgb(k), checkClass(v)));
        return new ColourMap(m, new TreeMap<>(), new TreeMap<>());
    }

    /** A map from grey values to classes. */
    public static ColourMap ofGrey(Map<Integer, Integer> greyToClass) {
        TreeMap<Integer, Integer> m = new TreeMap<>();
        greyToClass.forEach((k, v) -> {
            if (k < 0 || k > 65535) {
                throw new IllegalArgumentException("ColourMap: grey value must be in 0..65535, got " + k);
            }
            m.put(k, checkClass(v));
        });
        return new ColourMap(new TreeMap<>(), m, new TreeMap<>());
    }

    private static int checkRgb(int k) {
        if (k < 0 || k > 0xFFFFFF) {
            throw new IllegalArgumentException("ColourMap: RGB colour must be in 0..0xFFFFFF, got " + k);
        }
        return k;
    }

    private static int checkClass(int v) {
        if (v < 0) {
            throw new IllegalArgumentException("ColourMap: class must be >= 0, got " + v);
        }
        return v;
    }

    /** Reads the CSV form (see class doc). */
    public static ColourMap read(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        TreeMap<Integer, Integer> rgb = new TreeMap<>();
        TreeMap<Integer, Integer> grey = new TreeMap<>();
        TreeMap<Integer, String> names = new TreeMap<>();
        boolean first = true;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || (line.startsWith("#") && !line.matches("#[0-9A-Fa-f]{6}\\s*,.*"))) {
                continue;
            }
            String[] parts = line.split("\\s*,\\s*", -1);
            if (first && parts[0].equalsIgnoreCase("colour") || first && parts[0].equalsIgnoreCase("color")) {
                first = false;
                continue;
            }
            first = false;
            String where = file + " line " + (i + 1);
            if (parts.length < 2 || parts.length > 3) {
                throw new IllegalArgumentException(where + ": expected 'colour,class[,name]', got '" + line + "'");
            }
            int cls;
            try {
                cls = checkClass(Integer.parseInt(parts[1]));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(where + ": class is not an integer: '" + parts[1] + "'");
            }
            String key = parts[0];
            TreeMap<Integer, Integer> target;
            int value;
            try {
                if (key.startsWith("#")) {
                    if (key.length() != 7) {
                        throw new NumberFormatException();
                    }
                    value = Integer.parseInt(key.substring(1), 16);
                    target = rgb;
                } else {
                    value = Integer.parseInt(key);
                    if (value < 0 || value > 65535) {
                        throw new NumberFormatException();
                    }
                    target = grey;
                }
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException(where + ": colour must be #RRGGBB or a grey value 0..65535, got '"
                        + key + "'");
            }
            Integer previous = target.put(value, cls);
            if (previous != null && previous != cls) {
                throw new IllegalArgumentException(where + ": colour " + key + " mapped twice (to " + previous
                        + " and " + cls + ")");
            }
            if (parts.length == 3 && !parts[2].isEmpty()) {
                String prev = names.putIfAbsent(cls, parts[2]);
                if (prev != null && !prev.equals(parts[2])) {
                    throw new IllegalArgumentException(where + ": class " + cls + " named both '" + prev + "' and '"
                            + parts[2] + "'");
                }
            }
        }
        if (rgb.isEmpty() && grey.isEmpty()) {
            throw new IllegalArgumentException(file + ": no colour entries");
        }
        return new ColourMap(rgb, grey, names);
    }

    /** Class of a grey pixel, or empty. */
    public OptionalInt lookupGrey(int g) {
        Integer c = grey.get(g);
        if (c == null && g >= 0 && g <= 255) {
            c = rgb.get((g << 16) | (g << 8) | g);
        }
        return c == null ? OptionalInt.empty() : OptionalInt.of(c);
    }

    /** Class of an 8-bit RGB pixel packed {@code 0xRRGGBB}, or empty. */
    public OptionalInt lookupRgb(int packed) {
        Integer c = rgb.get(packed);
        int r = (packed >> 16) & 0xFF;
        if (c == null && r == ((packed >> 8) & 0xFF) && r == (packed & 0xFF)) {
            c = grey.get(r);
        }
        return c == null ? OptionalInt.empty() : OptionalInt.of(c);
    }

    /** 1 + the largest class. */
    public int numClasses() {
        int max = 0;
        for (int v : rgb.values()) {
            max = Math.max(max, v);
        }
        for (int v : grey.values()) {
            max = Math.max(max, v);
        }
        return max + 1;
    }

    /** Class names given in the file (class → name; read-only, may be empty). */
    public Map<Integer, String> names() {
        return Collections.unmodifiableMap(names);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ColourMap c && rgb.equals(c.rgb) && grey.equals(c.grey) && names.equals(c.names);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * rgb.hashCode() + grey.hashCode()) + names.hashCode();
    }

    @Override
    public String toString() {
        return "ColourMap{rgb=" + rgb + ", grey=" + grey + ", names=" + names + "}";
    }
}
