package org.gradsurgery.data;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalInt;
import java.util.TreeMap;

/**
 * Pre-flight validation of a data set before any training or evaluation: every case is read once and checked, and
 * every problem is listed (one line each, naming the file) instead of surfacing mid-training as a NaN loss or a
 * patch id.
 *
 * <p>Checks per case: the files are readable NIfTI/PNG; every intensity is finite (file and voxel named,
 * {@link Case#load()}); image and label share the grid (shape, and affine within {@link Case#AFFINE_TOLERANCE});
 * the case has a label when labels are required; every label value is a class in {@code 0..K−1}, or a code of the
 * label map when one is given; every case has the channel count of the first (or the expected one).
 *
 * <p>The {@link Result#summary()} fits one screen: number of cases, range of sizes and spacings (after
 * reorientation to RAS), the stored orientations with their counts, and per class the voxel count and the number of
 * cases containing it.
 */
public final class DataCheck {
    private DataCheck() {
    }

    /**
     * Reads and checks every case.
     *
     * @param cases            the cases
     * @param labelMap         raw codes to classes, or null when the labels are class ids already
     * @param numClasses       the class count K the labels must fit (after the map), or 0 to take it from the map or
     *                         the largest label value
     * @param expectedChannels the channel count every image must have, or 0 for "that of the first case"
     * @param labelsRequired   whether a case without a label file is a problem
     * @param progress         where to print "checked i/n" every 25 cases, or null
     */
    public static Result run(List<Case> cases, LabelMap labelMap, int numClasses, int expectedChannels,
                             boolean labelsRequired, PrintStream progress) {
        List<String> problems = new ArrayList<>();
        int[] minShape = null;
        int[] maxShape = null;
        double[] minSpacing = null;
        double[] maxSpacing = null;
        Map<String, Integer> orientations = new TreeMap<>();
        Map<Integer, long[]> classes = new TreeMap<>(); // class -> {voxels, cases}
        int channels = expectedChannels;
        String channelSource = expectedChannels > 0 ? "the expected " + expectedChannels : null;
        int read = 0;
        for (int ci = 0; ci < cases.size(); ci++) {
            Case c = cases.get(ci);
            if (progress != null && (ci + 1) % 25 == 0) {
                progress.printf(Locale.ROOT, "  checked %d/%d cases%n", ci + 1, cases.size());
            }
            Sample stored;
            try {
                stored = c.loadStored();
            } catch (IOException | RuntimeException e) {
                problems.add(oneLine(c.images().get(0) + (e.getMessage() != null
                        && e.getMessage().contains(c.images().get(0).toString()) ? "" : ": cannot read") + ": "
                        + e.getMessage(), c));
                continue;
            }
            read++;
            String orientation = stored.spatialRank() == 3 ? Orientation.of(stored).codes() : "2D";
            orientations.merge(orientation, 1, Integer::sum);
            Sample s = stored.spatialRank() == 3 ? Orientation.of(stored).toCanonical(stored) : stored;
            if (channels == 0) {
                channels = s.channels();
                channelSource = c.images().get(0) + "'s " + channels;
            } else if (s.channels() != channels) {
                problems.add(c.images().get(0) + ": " + s.channels() + " channel(s), but " + channelSource);
            }
            int[] shape = s.shape();
            double[] sp = s.spacing();
            if (minShape == null || minShape.length != shape.length) {
                minShape = shape.clone();
                maxShape = shape.clone();
                minSpacing = sp.clone();
                maxSpacing = sp.clone();
            } else {
                for (int d = 0; d < shape.length; d++) {
                    minShape[d] = Math.min(minShape[d], shape[d]);
                    maxShape[d] = Math.max(maxShape[d], shape[d]);
                    minSpacing[d] = Math.min(minSpacing[d], sp[d]);
                    maxSpacing[d] = Math.max(maxSpacing[d], sp[d]);
                }
            }
            if (!s.hasLabel()) {
                if (labelsRequired) {
                    problems.add(c.images().get(0) + ": no label file for case " + c.id());
                }
                continue;
            }
            countLabels(s.rawLabel(), shape, c, labelMap, numClasses, classes, problems);
        }
        return new Result(cases.size(), read, minShape, maxShape, minSpacing, maxSpacing, orientations, classes,
                channels, problems);
    }

    private static void countLabels(int[] labels, int[] shape, Case c, LabelMap map, int numClasses,
                                    Map<Integer, long[]> classes, List<String> problems) {
        Map<Integer, Long> counts = new TreeMap<>();
        TreeMap<Integer, Long> unknown = new TreeMap<>();
        int firstBad = -1;
        for (int v = 0; v < labels.length; v++) {
            int code = labels[v];
            int cls;
            if (map != null) {
                OptionalInt t = map.lookup(code);
                cls = t.isPresent() ? t.getAsInt() : -1;
            } else {
                cls = numClasses > 0 && (code < 0 || code >= numClasses) ? -1 : code;
            }
            if (cls < 0) {
                unknown.merge(code, 1L, Long::sum);
                if (firstBad < 0) {
                    firstBad = v;
                }
            } else {
                counts.merge(cls, 1L, Long::sum);
            }
        }
        if (!unknown.isEmpty()) {
            problems.add(c.label() + ": label value(s) " + head(unknown.keySet()) + " (first at voxel "
                    + Labels.voxel(firstBad, shape) + ") " + (map != null ? "are not in the label map "
                    + map.pairs().keySet() + " (add them to the --label-map file)"
                    : "are not classes 0.." + (numClasses - 1) + "; map raw codes to classes with --label-map FILE"));
        }
        for (Map.Entry<Integer, Long> e : counts.entrySet()) {
            long[] acc = classes.computeIfAbsent(e.getKey(), k -> new long[2]);
            acc[0] += e.getValue();
            acc[1]++;
        }
    }

    private static String head(java.util.Set<Integer> values) {
        List<Integer> l = new ArrayList<>(values);
        return l.size() <= 10 ? l.toString() : l.subList(0, 10) + " and " + (l.size() - 10) + " more";
    }

    private static String oneLine(String message, Case c) {
        String m = message.replace('\n', ' ').replaceAll(" {2,}", " ");
        return m.startsWith(c.images().get(0).toString()) || m.contains(": ") ? m : c.id() + ": " + m;
    }

    /**
     * What {@link #run} found. Immutable.
     *
     * @param cases        cases listed
     * @param readable     cases that could be read
     * @param orientations stored axis codes (e.g. "LAS") with their case counts; "2D" for 2D images
     * @param classes      per class: {voxels, cases containing it}
     * @param channels     the channel count of the images
     * @param problems     one line per problem, naming the file
     */
    public record Result(int cases, int readable, int[] minShape, int[] maxShape, double[] minSpacing,
                         double[] maxSpacing, Map<String, Integer> orientations, Map<Integer, long[]> classes,
                         int channels, List<String> problems) {
        public Result {
            orientations = Map.copyOf(orientations);
            classes = Map.copyOf(classes);
            problems = List.copyOf(problems);
        }

        public boolean ok() {
            return problems.isEmpty();
        }

        /** A few lines: cases, sizes, spacings, orientations, label counts per class. */
        public String summary() {
            StringBuilder b = new StringBuilder();
            b.append(String.format(Locale.ROOT, "cases       : %d (%d readable), %d channel(s)%n", cases, readable,
                    channels));
            if (minShape != null) {
                b.append("size        : ").append(range(minShape, maxShape)).append(" voxels (RAS order)\n");
                b.append("spacing     : ").append(range(minSpacing, maxSpacing)).append(" mm\n");
            }
            b.append("orientation : ");
            new TreeMap<>(orientations).forEach((k, v) -> b.append(k).append(" x").append(v).append("  "));
            b.append("(stored; every case is reoriented to RAS)\n");
            b.append("labels      :");
            new TreeMap<>(classes).forEach((k, v) -> b.append(String.format(Locale.ROOT, " class %d: %,d voxels in "
                    + "%d case(s);", k, v[0], v[1])));
            b.append('\n');
            return b.toString();
        }

        /** @throws IllegalArgumentException listing every problem, one line each, when there is any */
        public void requireValid() {
            if (!problems.isEmpty()) {
                throw new org.gradsurgery.InvalidInputException(problems.size() + " problem(s) in the data:\n  "
                        + String.join("\n  ", problems));
            }
        }

        private static String range(int[] lo, int[] hi) {
            return Arrays.equals(lo, hi) ? join(lo) : join(lo) + " .. " + join(hi);
        }

        private static String range(double[] lo, double[] hi) {
            String a = joinD(lo);
            String b = joinD(hi);
            return a.equals(b) ? a : a + " .. " + b;
        }

        private static String join(int[] a) {
            return String.join(" x ", Arrays.stream(a).mapToObj(Integer::toString).toList());
        }

        private static String joinD(double[] a) {
            return String.join(" x ", Arrays.stream(a).mapToObj(d -> String.format(Locale.ROOT, "%.3g", d)).toList());
        }
    }
}
