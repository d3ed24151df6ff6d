package org.gradsurgery.study;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeSet;
import org.gradsurgery.data.KnownProbabilityImages;
import org.gradsurgery.data.LabelMap;
import org.gradsurgery.data.Preprocessing;
import org.gradsurgery.data.Sample;
import org.gradsurgery.data.StageTimes;
import org.gradsurgery.experiment.DataPlan;
import org.gradsurgery.experiment.DataSource;
import org.gradsurgery.experiment.FileCasesSource;
import org.nd4j.shade.jackson.databind.JsonNode;

/**
 * A study's cases in memory, preprocessed once: labels grouped ({@link Grouping}), optionally cropped to the non-zero
 * image box and resampled, z-scored per case (over the non-zero voxels when cropping to them, else over all), then
 * padded at the high end of each axis the network sees (all axes in 3D, the two in-plane axes in 2D) to one common
 * size divisible by 2^(levels−1). The padding value is the case's minimum intensity, and the padding is cropped off
 * every prediction before anything is scored: metrics see each case in its own (preprocessed) geometry and spacing.
 *
 * @param classNames K names, background first
 * @param cases      every case by id, in id order
 * @param dims       2 or 3
 * @param sliceAxis  the slice axis for 2D on volumes
 */
public record StudyData(List<String> classNames, Map<String, StudyCase> cases, int dims, int sliceAxis) {

    /**
     * One case.
     *
     * @param sample  the preprocessed case on its own grid (evaluation)
     * @param padded  the same, padded to the study's common size (training batches)
     * @param shape   the case's own spatial shape (the padding starts after it)
     * @param spacing its voxel size in mm per spatial axis
     * @param q       the true foreground probability per voxel (synthetic data), else null
     */
    public record StudyCase(String id, Sample sample, Sample padded, int[] shape, double[] spacing, float[] q) {
        /** Whether 2D slices are taken from this case (a 3D case of a 2D study). */
        boolean sliced(int dims) {
            return dims == 2 && shape.length == 3;
        }
    }

    /** {@link StageTimes} stage of reading the case files. */
    public static final String LOAD = "load";
    /** {@link StageTimes} stage of grouping, cropping, resampling, z-scoring and padding. */
    public static final String PREPROCESS = "preprocess";

    /** Number of classes K. */
    public int numClasses() {
        return classNames.size();
    }

    /** The cases with these ids, in the given order. */
    public List<StudyCase> select(List<String> ids) {
        List<StudyCase> out = new ArrayList<>();
        for (String id : ids) {
            StudyCase c = cases.get(id);
            if (c == null) {
                throw new org.gradsurgery.InvalidInputException("split: case " + id + " is not in the data set");
            }
            out.add(c);
        }
        return out;
    }

    /**
     * Loads the cases the split names (all cases when {@code only} is null), preprocessed for a network with
     * {@code levels} levels. Progress lines go to {@code out}.
     */
    public static StudyData load(StudySpec.Dataset d, int levels, java.util.Collection<String> only, PrintStream out)
            throws IOException {
        return load(d, levels, only, out, null);
    }

    /**
     * {@link #load(StudySpec.Dataset, int, java.util.Collection, PrintStream)}, timing its stages into {@code times}
     * (null = not timed): {@value #LOAD} (reading each case's files) and {@value #PREPROCESS} (label grouping,
     * cropping, resampling, z-scoring and the common padding).
     */
    public static StudyData load(StudySpec.Dataset d, int levels, java.util.Collection<String> only, PrintStream out,
                                 StageTimes times) throws IOException {
        StageTimes t = times != null ? times : new StageTimes();
        int multiple = 1 << (levels - 1);
        if (d.synthetic() != null) {
            StudySpec.Synthetic s = d.synthetic();
            KnownProbabilityImages g = new KnownProbabilityImages(s.size(), s.edgeMin(), s.edgeMax(), s.noise());
            List<StudyCase> raw = new ArrayList<>();
            for (KnownProbabilityImages.Item it : g.generate(s.seed(), s.cases())) {
                if (only == null || only.contains(it.sample().id())) {
                    raw.add(new StudyCase(it.sample().id(), it.sample(), it.sample(), it.sample().shape(),
                            it.sample().spacing(), it.q()));
                }
            }
            return new StudyData(List.of("background", "foreground"), pad(raw, 2, 0, multiple), 2, 0);
        }
        Path root = d.root();
        // the cases come through the experiment package's DataSource (its folder pairing and pattern matching);
        // an MSD folder is read as its imagesTr/labelsTr pair, so a task without imagesTs/ works
        DataSource source = d.msd() != null
                ? FileCasesSource.folders(root.resolve("imagesTr"), root.resolve("labelsTr"))
                : FileCasesSource.folders(new DataPlan.Folders(root.toString(), root.toString(), d.imagePattern(),
                d.labelPattern()));
        List<String> names = d.classNames();
        if (names == null && d.msd() != null) {
            names = msdLabelNames(root);
        }
        Grouping grouping = d.grouping() == null ? null : Grouping.of(d.grouping());
        int k = grouping != null ? grouping.numClasses() : names != null ? names.size() : -1;
        if (k < 2) {
            throw new org.gradsurgery.InvalidInputException("dataset.classNames (or a grouping) is needed: the number of classes "
                    + "cannot be read from " + root);
        }
        if (names == null) {
            names = new ArrayList<>();
            for (int i = 0; i < k; i++) {
                names.add(i == 0 ? "background" : "class " + i);
            }
        }
        if (names.size() != k) {
            throw new org.gradsurgery.InvalidInputException("dataset.classNames has " + names.size() + " names, the "
                    + (grouping != null ? "grouping makes " : "data has ") + k + " classes");
        }
        LabelMap map = grouping != null ? grouping.labelMap() : null;
        TreeSet<Long> seen = new TreeSet<>();
        List<StudyCase> raw = new ArrayList<>();
        int i = 0;
        List<String> wanted = source.caseIds().stream().filter(id -> only == null || only.contains(id)).toList();
        for (String id : wanted) {
            long t0 = System.nanoTime();
            Sample s = source.load(id);
            long t1 = System.nanoTime();
            t.add(LOAD, t1 - t0);
            int[] codes = s.labelData();
            for (int v : codes) {
                seen.add((long) v);
            }
            if (map != null) {
                s = map.asTransform().apply(s, new SplittableRandom(0));
            } else {
                for (int v : codes) {
                    if (v < 0 || v >= k) {
                        throw new org.gradsurgery.InvalidInputException("case " + id + " of " + root + ": label value " + v
                                + " is outside 0.." + (k - 1) + "; give dataset.grouping to map raw codes to "
                                + "classes");
                    }
                }
            }
            if (d.dims() == 3 && s.spatialRank() != 3) {
                throw new org.gradsurgery.InvalidInputException("case " + id + " of " + root + " is not a 3D volume; "
                        + "dataset.dims 3 needs volumes");
            }
            if (d.cropToNonzero()) {
                s = cropToNonzero(s);
            }
            if (d.spacing() != null) {
                s = Preprocessing.resample(d.spacing()).apply(s, new SplittableRandom(0));
            }
            s = Preprocessing.zScore(d.cropToNonzero() ? Preprocessing.NormalizationRegion.NONZERO
                    : Preprocessing.NormalizationRegion.ALL).apply(s, new SplittableRandom(0));
            raw.add(new StudyCase(id, s, s, s.shape(), s.spacing(), null));
            t.add(PREPROCESS, System.nanoTime() - t1);
            if (out != null && (++i % 25 == 0 || i == wanted.size())) {
                out.printf(Locale.ROOT, "loaded %d/%d cases%n", i, wanted.size());
            }
        }
        if (grouping != null && !raw.isEmpty()) {
            grouping.checkPresent(seen, root.toString());
        }
        long t0 = System.nanoTime();
        Map<String, StudyCase> padded = pad(raw, d.dims(), d.sliceAxis(), multiple);
        t.add(PREPROCESS, System.nanoTime() - t0);
        return new StudyData(List.copyOf(names), padded, d.dims(), d.sliceAxis());
    }

    private static List<String> msdLabelNames(Path root) throws IOException {
        Path json = root.resolve("dataset.json");
        if (!Files.isRegularFile(json)) {
            return null;
        }
        JsonNode labels = StudySpec.JSON.readTree(json.toFile()).path("labels");
        List<String> names = new ArrayList<>();
        for (int i = 0; labels.has(Integer.toString(i)); i++) {
            names.add(labels.get(Integer.toString(i)).asText());
        }
        return names.isEmpty() ? null : names;
    }

    /** The bounding box of the voxels where any channel is non-zero (the whole sample when there are none). */
    static Sample cropToNonzero(Sample s) {
        int[] shape = s.shape();
        int r = shape.length;
        float[] img = s.imageData();
        int n = s.voxels();
        int[] lo = new int[r];
        int[] hi = new int[r];
        Arrays.fill(lo, Integer.MAX_VALUE);
        Arrays.fill(hi, -1);
        int[] idx = new int[r];
        for (int v = 0; v < n; v++) {
            boolean nz = false;
            for (int c = 0; c < s.channels() && !nz; c++) {
                nz = img[c * n + v] != 0;
            }
            if (nz) {
                for (int a = 0; a < r; a++) {
                    lo[a] = Math.min(lo[a], idx[a]);
                    hi[a] = Math.max(hi[a], idx[a]);
                }
            }
            for (int a = r - 1; a >= 0; a--) {
                if (++idx[a] < shape[a]) {
                    break;
                }
                idx[a] = 0;
            }
        }
        if (hi[0] < 0) {
            return s;
        }
        int[] size = new int[r];
        for (int a = 0; a < r; a++) {
            size[a] = hi[a] - lo[a] + 1;
        }
        return window(s, lo, size, 0f, false);
    }

    /** Pads every case at the high end to one common size (see the class documentation). */
    static Map<String, StudyCase> pad(List<StudyCase> raw, int dims, int sliceAxis, int multiple) {
        Map<String, StudyCase> out = new LinkedHashMap<>();
        if (raw.isEmpty()) {
            return out;
        }
        int r = raw.get(0).shape().length;
        int[] target = new int[r];
        for (StudyCase c : raw) {
            if (c.shape().length != r) {
                throw new org.gradsurgery.InvalidInputException("case " + c.id() + " has spatial rank " + c.shape().length
                        + ", case " + raw.get(0).id() + " has " + r);
            }
            for (int a = 0; a < r; a++) {
                target[a] = Math.max(target[a], c.shape()[a]);
            }
        }
        for (int a = 0; a < r; a++) {
            target[a] = (target[a] + multiple - 1) / multiple * multiple;
        }
        List<StudyCase> sorted = new ArrayList<>(raw);
        sorted.sort(java.util.Comparator.comparing(StudyCase::id));
        for (StudyCase c : sorted) {
            int[] t = target.clone();
            if (dims == 2 && r == 3) {
                t[sliceAxis] = c.shape()[sliceAxis];
            }
            Sample p = window(c.padded(), new int[r], t, Float.NaN, true);
            if (out.put(c.id(), new StudyCase(c.id(), c.sample(), p, c.shape(), c.spacing(), c.q())) != null) {
                throw new org.gradsurgery.InvalidInputException("two cases with id " + c.id());
            }
        }
        return out;
    }

    /**
     * The window of {@code size} starting at {@code offset} (inside the sample or beyond its high end); voxels beyond
     * it get the label 0 and the image value {@code fill} (NaN = each channel's minimum).
     */
    static Sample window(Sample s, int[] offset, int[] size, float fill, boolean minimumFill) {
        int[] shape = s.shape();
        int r = shape.length;
        int ch = s.channels();
        float[] img = s.imageData();
        int[] lab = s.labelData();
        int n = s.voxels();
        int m = Arrays.stream(size).reduce(1, (a, b) -> a * b);
        float[] outImg = new float[ch * m];
        int[] outLab = new int[m];
        float[] fills = new float[ch];
        for (int c = 0; c < ch; c++) {
            float min = Float.POSITIVE_INFINITY;
            for (int v = 0; v < n; v++) {
                min = Math.min(min, img[c * n + v]);
            }
            fills[c] = minimumFill ? min : fill;
        }
        int[] idx = new int[r];
        for (int v = 0; v < m; v++) {
            int src = 0;
            boolean inside = true;
            for (int a = 0; a < r; a++) {
                int x = idx[a] + offset[a];
                if (x >= shape[a]) {
                    inside = false;
                    break;
                }
                src = src * shape[a] + x;
            }
            for (int c = 0; c < ch; c++) {
                outImg[c * m + v] = inside ? img[c * n + src] : fills[c];
            }
            outLab[v] = inside ? lab[src] : 0;
            for (int a = r - 1; a >= 0; a--) {
                if (++idx[a] < size[a]) {
                    break;
                }
                idx[a] = 0;
            }
        }
        double[][] affine = s.affine();
        double[] sp = s.spacing();
        for (int row = 0; row < 3; row++) {
            for (int a = 0; a < Math.min(r, 3); a++) {
                affine[row][3] += affine[row][a] * offset[a];
            }
        }
        return Sample.of(s.id(), outImg, ch, size, outLab, null, sp, affine);
    }

    /** Ids of all loaded cases. */
    public java.util.Set<String> ids() {
        return new HashSet<>(cases.keySet());
    }
}
