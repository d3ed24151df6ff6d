package org.gradsurgery.study;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import org.gradsurgery.data.LabelMap;

/**
 * A label grouping: raw label codes → classes, every unlisted code background. {@code {"1": [36, 37], "2": [57, 58]}}
 * makes class 1 of codes 36 and 37 (e.g. left and right caudate) and class 2 of 57 and 58:
 * <pre>
 *   class(code) = k if code ∈ group_k, else 0;      K = number of groups + 1
 * </pre>
 * Checks: the classes are exactly 1..K−1; every code is ≥ 1 and in one group only; and ({@link #checkPresent}) every
 * listed code occurs in the data, so a typo cannot silently leave a structure in the background.
 */
public final class Grouping {
    private final TreeMap<Integer, TreeSet<Long>> groups;

    private Grouping(TreeMap<Integer, TreeSet<Long>> groups) {
        this.groups = groups;
    }

    /** Parses the spec form (class as text → codes); errors name {@code dataset.grouping}. */
    public static Grouping of(Map<String, List<Long>> spec) {
        if (spec.isEmpty()) {
            throw new org.gradsurgery.InvalidInputException("dataset.grouping: no classes");
        }
        TreeMap<Integer, List<Long>> byClass = new TreeMap<>();
        for (Map.Entry<String, List<Long>> e : spec.entrySet()) {
            try {
                byClass.put(Integer.parseInt(e.getKey().trim()), e.getValue());
            } catch (NumberFormatException ex) {
                throw new org.gradsurgery.InvalidInputException("dataset.grouping: class '" + e.getKey() + "' is not a number");
            }
        }
        TreeMap<Integer, TreeSet<Long>> g = new TreeMap<>();
        Map<Long, Integer> owner = new TreeMap<>();
        for (Map.Entry<Integer, List<Long>> e : byClass.entrySet()) {
            int k = e.getKey();
            if (e.getValue() == null || e.getValue().isEmpty()) {
                throw new org.gradsurgery.InvalidInputException("dataset.grouping: class " + k + " has no codes");
            }
            for (Long code : e.getValue()) {
                if (code == null || code < 1) {
                    throw new org.gradsurgery.InvalidInputException("dataset.grouping: class " + k + " lists code " + code
                            + "; codes must be >= 1 (unlisted codes, 0 included, are background)");
                }
                Integer prev = owner.put(code, k);
                if (prev != null && prev != k) {
                    throw new org.gradsurgery.InvalidInputException("dataset.grouping: code " + code + " is in class " + prev
                            + " and in class " + k);
                }
            }
            g.computeIfAbsent(k, x -> new TreeSet<>()).addAll(e.getValue());
        }
        int expected = 1;
        for (int k : g.keySet()) {
            if (k != expected++) {
                throw new org.gradsurgery.InvalidInputException("dataset.grouping: classes must be 1.." + g.size() + " without gaps, "
                        + "got " + g.keySet());
            }
        }
        return new Grouping(g);
    }

    /** K, background included. */
    public int numClasses() {
        return groups.size() + 1;
    }

    /** The label map (unlisted codes → 0). */
    public LabelMap labelMap() {
        Map<Long, Integer> pairs = new LinkedHashMap<>();
        groups.forEach((k, codes) -> codes.forEach(c -> pairs.put(c, k)));
        return LabelMap.of(pairs).withDefault(0);
    }

    /** The spec form, sorted. */
    public Map<String, List<Long>> asSpec() {
        Map<String, List<Long>> out = new LinkedHashMap<>();
        groups.forEach((k, codes) -> out.put(Integer.toString(k), List.copyOf(codes)));
        return out;
    }

    /**
     * Refuses a listed code that occurs in none of the label files read.
     *
     * @param seen the codes found in the labels
     * @param where what was read, for the message (e.g. the folder)
     */
    public void checkPresent(Collection<Long> seen, String where) {
        Set<Long> s = new TreeSet<>(seen);
        for (Map.Entry<Integer, TreeSet<Long>> e : groups.entrySet()) {
            for (long c : e.getValue()) {
                if (!s.contains(c)) {
                    throw new org.gradsurgery.InvalidInputException("dataset.grouping: code " + c + " (class " + e.getKey()
                            + ") occurs in no label file of " + where + "; codes found: " + summary(s));
                }
            }
        }
    }

    private static String summary(Set<Long> s) {
        String all = s.toString();
        return all.length() > 200 ? all.substring(0, 200) + "...]" : all;
    }
}
