package org.gradsurgery.experiment;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.math.BigDecimal;
import java.math.MathContext;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Locale;
import java.util.SplittableRandom;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.InvalidInputException;
import org.gradsurgery.InvalidSettingException;
import org.gradsurgery.data.Augmentation;
import org.gradsurgery.data.CaseWindows;
import org.gradsurgery.data.Cases;
import org.gradsurgery.data.CtNormalization;
import org.gradsurgery.data.DataCheck;
import org.gradsurgery.data.LabelMap;
import org.gradsurgery.data.PatchSampler;
import org.gradsurgery.data.Preprocessing;
import org.gradsurgery.data.Resample;
import org.gradsurgery.data.Sample;
import org.gradsurgery.data.SegmentationDataSetIterator;
import org.gradsurgery.data.SegmentationMultiDataSetIterator;
import org.gradsurgery.data.StageTimes;
import org.gradsurgery.data.Transform;
import org.gradsurgery.evaluation.EvaluationResult;
import org.gradsurgery.evaluation.CaseEvaluation;
import org.gradsurgery.evaluation.CaseEvaluator;
import org.gradsurgery.model.Inference;
import org.gradsurgery.model.SlidingWindowInference;
import org.gradsurgery.training.TrainingData;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;

/**
 * A {@link DataPlan} resolved against its {@link DataSource}: every setting the plan left open is read from the data
 * (dims = the images' rank, classes from the label grouping or the source's names, the split drawn with the seed, CT
 * statistics fitted on the training cases' foreground) and checked against it, and the result gives the training
 * batches ({@link #trainingData()}) and the evaluation ({@link #evaluate}) every command uses, whatever the source.
 *
 * <p>Examples: 2D on a volume = every slice along {@code sliceAxis}; 2D on 2D images = whole images; both padded to a
 * multiple of 2^(levels−1). 3D = {@code patchesPerCase} random patches per training case and epoch (⅓ centred on
 * foreground, nnU-Net), validation on fixed seeded patches, evaluation on whole volumes by Gaussian-weighted sliding
 * windows of the patch size. Per case before that: label grouping, intensity normalisation, resampling (nnU-Net's
 * order).
 */
public final class ExperimentData {
    /** Batch size of evaluation on 2D examples (bounds memory; 3D evaluates one volume at a time). */
    public static final int EVAL_BATCH = 8;
    /** {@link StageTimes} stage: reading a case's files from the source. */
    public static final String LOAD = "load";
    /** {@link StageTimes} stage: label grouping, crop, normalisation, resampling and padding of a case. */
    public static final String PREPROCESS = "preprocess";
    /** {@link StageTimes} stage: the plan's random training augmentation of one example. */
    public static final String AUGMENT = "augment";

    private final DataPlan plan;
    private final DataSource source;
    private final int levels;
    private final int rank;
    private final int channels;
    private final double[] metricSpacing;
    private final LabelMap labelMap;
    private final CtNormalization ct;
    /** With commonPadding: every case of the source preprocessed on its own grid, and padded, by id. */
    private Map<String, Sample> preprocessed;
    private Map<String, Sample> padded;
    /** Where the stages are timed (null = not timed). */
    private StageTimes times;

    private ExperimentData(DataPlan plan, DataSource source, int levels, int rank, int channels,
                           double[] metricSpacing) {
        this.plan = plan;
        this.source = source;
        this.levels = levels;
        this.rank = rank;
        this.channels = channels;
        this.metricSpacing = metricSpacing;
        this.labelMap = labelMap(plan);
        this.ct = ct(plan);
    }

    private static LabelMap labelMap(DataPlan plan) {
        if (plan.labelGrouping() == null) {
            return null;
        }
        LabelMap m = LabelMap.of(plan.labelGrouping());
        return plan.unlistedLabels() != null ? m.withDefault(plan.unlistedLabels()) : m;
    }

    /**
     * The pre-flight check of every case before training ({@link DataCheck}): readable files, finite intensities,
     * image/label grids, channel counts, label values against the classes or the label grouping. Prints the
     * one-screen summary to {@code out} (null = silent) and refuses with one line per problem. For 3D plans, a patch
     * more than twice the largest case along an axis is refused too (it would train mostly on padding; a patch a
     * little larger than the cases, for whole-crop training, is fine). Sources that are not files
     * (generated, demo slices) have nothing to check.
     *
     * @throws IllegalArgumentException listing every problem found
     */
    public void check(PrintStream out) {
        if (!(source instanceof FileCasesSource files)) {
            return;
        }
        List<String> ids;
        try {
            ids = source.caseIds();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        DataCheck.Result r = DataCheck.run(files.cases(ids), labelMap, numClasses(), channels, true, out);
        if (out != null) {
            out.print(r.summary());
        }
        r.requireValid();
        if (dims() == 3 && r.maxShape() != null && r.maxShape().length == 3) {
            int[] patch = plan.patchSize();
            for (int a = 0; a < 3; a++) {
                if (patch[a] > 2 * r.maxShape()[a] && patch[a] > (1 << (levels - 1))) {
                    throw invalid("patchSize", join(patch) + " is more than twice the largest case along axis " + a
                            + " (" + r.maxShape()[a] + " voxels; cases are at most " + join(r.maxShape())
                            + " in RAS order)");
                }
            }
        }
    }

    /**
     * A saved run's resolved data plan (preprocessing with its fitted statistics, label grouping, dims, network
     * input) on the cases of {@code other}: to score the run's model on an external test set with exactly the run's
     * preprocessing. The run's own data need not exist; nothing is re-split or refitted ({@link #evaluateCases}
     * takes the ids to score), and each case's channel count and rank are checked against the run's when loaded.
     */
    public static ExperimentData onSource(ExperimentSpec saved, DataSource other) throws IOException {
        List<String> ids = other.caseIds();
        if (ids.isEmpty()) {
            throw new InvalidInputException(other.describe() + " has no labelled case to evaluate");
        }
        Sample first = other.load(ids.get(0));
        return new ExperimentData(saved.data(), other, saved.model().levels(), first.spatialRank(),
                saved.model().inputChannels(), first.spacing());
    }

    /**
     * Resolves {@code plan} against {@code source} for a U-Net with {@code levels} levels.
     *
     * @param seed     the experiment's seed (draws the split unless the plan's split has its own)
     * @param progress where fitting CT statistics reports (every 10 cases), and the source's notes; null = silent
     * @throws InvalidSettingException naming the setting that does not fit the data
     */
    public static ExperimentData prepare(DataPlan plan, DataSource source, long seed, int levels,
                                         PrintStream progress) throws IOException {
        return prepare(plan, source, seed, levels, progress, null);
    }

    /**
     * {@link #prepare(DataPlan, DataSource, long, int, PrintStream)}, adding the wall time of each stage to
     * {@code times} (null = not timed), then and in every training iterator made later: {@value #LOAD} (a case's
     * files), {@value #PREPROCESS} (label grouping, crop, normalisation, resampling, the common padding) and
     * {@value #AUGMENT} (each training example's random transforms, on whatever thread builds the batch). What
     * {@code bench pipeline} reports per stage of the study's own code.
     */
    public static ExperimentData prepare(DataPlan plan, DataSource source, long seed, int levels,
                                         PrintStream progress, StageTimes times) throws IOException {
        DataPlan p = source.withDefaults(plan);
        if (progress != null) {
            for (String note : source.notes(p)) {
                progress.println("note: " + note);
            }
        }
        List<String> ids = source.caseIds();
        if (ids.size() < 2) {
            throw invalid("split", source.describe() + " has " + ids.size() + " labelled case(s); a case-level "
                    + "training/validation split needs at least 2");
        }
        Sample first = source.load(ids.get(0));
        int rank = first.spatialRank();
        int k = numClasses(p, source);
        List<String> names = p.classNames() != null ? p.classNames() : source.classNames().size() == k
                ? source.classNames() : defaultNames(k);
        if (names.size() != k) {
            throw invalid("classNames", "has " + names.size() + " names, the " + (p.labelGrouping() != null
                    ? "label grouping makes " : "data has ") + k + " classes");
        }
        int d = p.dims() != null ? p.dims() : rank;
        if (d == 3 && rank == 2) {
            throw invalid("dims", "3 needs 3D volumes, but case " + first.id() + " is a 2D image "
                    + Arrays.toString(first.shape()) + "; use dims 2");
        }
        if (p.sliceAxis() != null && (d != 2 || rank != 3) && plan.sliceAxis() != null) {
            throw invalid("sliceAxis", "applies to dims 2 on 3D volumes");
        }
        Integer axis = d == 2 && rank == 3 ? (p.sliceAxis() != null ? p.sliceAxis() : DataPlan.DEFAULT_SLICE_AXIS)
                : null;
        int[] patch = null;
        Integer perCase = null;
        int multiple = 1 << (levels - 1);
        if (d == 3 && !p.padsToCommonSize()) {
            patch = p.patchSize() != null ? p.patchSize()
                    : new int[] {DataPlan.DEFAULT_PATCH, DataPlan.DEFAULT_PATCH, DataPlan.DEFAULT_PATCH};
            for (int s : patch) {
                if (s % multiple != 0) {
                    throw invalid("patchSize", String.format(Locale.ROOT, "%s: every size must be a positive "
                            + "multiple of 2^(levels-1) = %d for levels %d", join(patch), multiple, levels));
                }
            }
            perCase = p.patchesPerCase() != null ? p.patchesPerCase() : DataPlan.DEFAULT_PATCHES_PER_CASE;
        } else if (p.patchSize() != null && d != 3) {
            throw invalid("patchSize", "applies to dims 3; 2D trains on whole slices padded to a multiple of "
                    + "2^(levels-1) = " + multiple);
        } else if (p.patchesPerCase() != null && d != 3) {
            throw invalid("patchesPerCase", "applies to dims 3");
        }
        double[] target = p.spacing();
        if (target != null && target.length != rank && !(d == 2 && rank == 3 && target.length == 2)) {
            throw invalid("spacing", "needs " + rank + " values for " + rank + "D " + (rank == 3 ? "volumes" : "images")
                    + (rank == 3 && d == 2 ? " (or 2, in-plane, with dims 2)" : "") + ", got " + target.length);
        }
        DataPlan.Split split = split(p.splitOrDefault(), ids, seed);
        DataPlan.Builder b = p.toBuilder().dims(d).sliceAxis(axis).patchSize(patch).patchesPerCase(perCase)
                .intensity(p.intensityOrDefault()).augmentation(p.augmentationOrDefault()).numClasses(k)
                .classNames(names).split(split).source(source.spec());
        if (p.intensityOrDefault() == DataPlan.Intensity.CT && p.intensityStatistics() == null) {
            b.intensityStatistics(fitCt(source, split.training(), p, seed, progress));
        }
        DataPlan resolved = b.build();
        double[] spacing = target == null ? first.spacing() : target;
        if (d == 2 && rank == 3 && spacing.length == 3) {
            double[] s = new double[2];
            for (int i = 0, j = 0; i < 3; i++) {
                if (i != axis) {
                    s[j++] = spacing[i];
                }
            }
            spacing = s;
        }
        if (!resolved.padsToCommonSize()) {
            ExperimentData data = new ExperimentData(resolved, source, levels, rank, first.channels(), spacing);
            data.times = times;
            return data;
        }
        StageTimes t = times != null ? times : new StageTimes();
        Map<String, Sample> cases = preprocessAll(resolved, source, progress, t);
        long t0 = System.nanoTime();
        // the size recorded by the run (evaluate, resume), else the source's largest case rounded up
        int[] size = resolved.paddedSize() != null ? resolved.paddedSize()
                : CaseWindows.commonSize(cases.values(), multiple);
        int keep = d == 2 && rank == 3 ? axis : -1;
        Map<String, Sample> padded = new LinkedHashMap<>();
        cases.keySet().stream().sorted().forEach(id -> padded.put(id, CaseWindows.padHighEnd(cases.get(id), size,
                multiple, keep)));
        t.add(PREPROCESS, System.nanoTime() - t0);
        ExperimentData data = new ExperimentData(resolved.toBuilder().paddedSize(size).build(), source, levels, rank,
                first.channels(), spacing);
        data.preprocessed = cases;
        data.padded = padded;
        data.times = times;
        return data;
    }

    /**
     * Every case of the source preprocessed ({@link #caseTransform}, label grouping first), checking on the way what
     * the data must satisfy: label values within the classes (without a label grouping), 3D volumes for dims 3, and
     * that every code the label grouping lists occurs in some label (so a typo cannot leave a structure in the
     * background).
     */
    private static Map<String, Sample> preprocessAll(DataPlan plan, DataSource source, PrintStream progress,
                                                     StageTimes times) throws IOException {
        List<String> ids = source.caseIds();
        Map<String, Sample> out = new LinkedHashMap<>();
        java.util.TreeSet<Long> seen = new java.util.TreeSet<>();
        LabelMap labelMap = labelMap(plan);
        Transform transform = caseTransform(plan);
        int k = plan.numClasses();
        int i = 0;
        for (String id : ids) {
            long t0 = System.nanoTime();
            Sample raw = source.load(id);
            long t1 = System.nanoTime();
            times.add(LOAD, t1 - t0);
            for (int v : raw.labelData()) {
                seen.add((long) v);
                if (labelMap == null && (v < 0 || v >= k)) {
                    throw new InvalidInputException("case " + id + " of " + source.describe() + ": label value " + v
                            + " is outside 0.." + (k - 1) + "; give a label grouping to map raw codes to classes");
                }
            }
            if (plan.dims() == 3 && raw.spatialRank() != 3) {
                throw new InvalidInputException("case " + id + " of " + source.describe() + " is not a 3D volume; "
                        + "dims 3 needs volumes");
            }
            out.put(id, transform.apply(labelMap != null ? labelMap.asTransform().apply(raw, new SplittableRandom(0))
                    : raw, new SplittableRandom(0)));
            times.add(PREPROCESS, System.nanoTime() - t1);
            if (progress != null && (++i % 25 == 0 || i == ids.size())) {
                progress.printf(Locale.ROOT, "loaded %d/%d cases%n", i, ids.size());
            }
        }
        if (plan.labelGrouping() != null) {
            for (Map.Entry<Long, Integer> e : plan.labelGrouping().entrySet()) {
                if (!seen.contains(e.getKey())) {
                    String all = seen.toString();
                    throw invalid("labelGrouping", "code " + e.getKey() + " (class " + e.getValue() + ") occurs in no "
                            + "label file of " + source.describe() + "; codes found: " + (all.length() > 200
                            ? all.substring(0, 200) + "...]" : all));
                }
            }
        }
        return out;
    }

    /**
     * Case {@code id} as the network sees it, on its own grid: label grouping, cropping, intensity normalisation and
     * resampling of the plan applied (no padding).
     */
    public Sample preprocessed(String id) throws IOException {
        if (preprocessed != null) {
            Sample s = preprocessed.get(id);
            if (s == null) {
                throw InvalidSettingException.unreadable("split", source.describe() + " has no case " + id);
            }
            return s;
        }
        Sample s = source.load(id);
        return caseTransform(plan).apply(labelMap != null ? labelMap.asTransform().apply(s, new SplittableRandom(0))
                : s, new SplittableRandom(0));
    }

    private static int numClasses(DataPlan p, DataSource source) {
        Integer grouped = p.labelGrouping() == null || p.labelGrouping().isEmpty() ? null
                : p.labelGrouping().values().stream().mapToInt(Integer::intValue).max().getAsInt() + 1;
        if (p.numClasses() != null) {
            if (grouped != null && grouped > p.numClasses()) {
                throw invalid("numClasses", p.numClasses() + " but the label grouping maps to " + grouped
                        + " classes");
            }
            return p.numClasses();
        }
        if (grouped != null) {
            if (grouped < 2) {
                throw invalid("labelGrouping", "maps every code to class 0; it needs background and one structure");
            }
            return grouped;
        }
        if (source.classNames().size() >= 2) {
            return source.classNames().size();
        }
        throw invalid("numClasses", "is needed with " + source.describe() + " (or a label grouping): the number of "
                + "classes cannot be read from image files");
    }

    private static List<String> defaultNames(int k) {
        List<String> names = new ArrayList<>();
        for (int i = 0; i < k; i++) {
            names.add(i == 0 ? "background" : "class " + i);
        }
        return names;
    }

    /** Listed lists checked against the source; otherwise drawn (by counts, or {@link Cases#heldOut}) and recorded. */
    private static DataPlan.Split split(DataPlan.Split s, List<String> ids, long seed) {
        if (s.listed()) {
            List<String> all = new ArrayList<>(s.training());
            all.addAll(s.validation());
            if (s.test() != null) {
                all.addAll(s.test());
            }
            for (String id : all) {
                if (!ids.contains(id)) {
                    throw invalid("split", "names case " + id + ", which the data source does not have");
                }
            }
            return s;
        }
        long splitSeed = s.seed() != null ? s.seed() : seed;
        if (s.byCounts()) {
            int n = s.trainingCases() + s.validationCases() + s.testCases();
            if (n > ids.size()) {
                throw invalid("split", s.trainingCases() + " + " + s.validationCases() + " + " + s.testCases()
                        + " cases asked, the data source has " + ids.size());
            }
            List<String> sorted = new ArrayList<>(ids);
            java.util.Collections.sort(sorted);
            java.util.Collections.shuffle(sorted, new java.util.Random(splitSeed));
            int t = s.trainingCases();
            int v = t + s.validationCases();
            return new DataPlan.Split(null, s.trainingCases(), s.validationCases(), s.testCases(), splitSeed,
                    sorted.subList(0, t), sorted.subList(t, v), sorted.subList(v, n));
        }
        boolean[] held;
        try {
            held = Cases.heldOut(ids.size(), s.fraction(), splitSeed);
        } catch (IllegalArgumentException e) {
            throw invalid("validationFraction", e.getMessage().replaceFirst("^validation fraction ", ""));
        }
        List<String> train = new ArrayList<>();
        List<String> val = new ArrayList<>();
        for (int i = 0; i < ids.size(); i++) {
            (held[i] ? val : train).add(ids.get(i));
        }
        return DataPlan.Split.byFraction(s.fraction(), splitSeed).withLists(train, val, null);
    }

    private static List<DataPlan.IntensityStatistics> fitCt(DataSource source, List<String> training, DataPlan p,
                                                            long seed, PrintStream progress) {
        if (progress != null) {
            progress.printf(Locale.ROOT, "intensity ct: fitting the statistics on the foreground of %d training "
                    + "case(s)%n", training.size());
        }
        LabelMap map = p.labelGrouping() == null ? null : LabelMap.of(p.labelGrouping());
        int[] done = {0};
        Iterable<Sample> samples = () -> training.stream().map(id -> {
            try {
                Sample s = source.load(id);
                if (progress != null && ++done[0] % 10 == 0) {
                    progress.printf(Locale.ROOT, "  %d/%d cases%n", done[0], training.size());
                }
                return map != null ? map.asTransform().apply(s, new SplittableRandom(0)) : s;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot load case " + id + ": " + e.getMessage(), e);
            }
        }).iterator();
        CtNormalization ct;
        try {
            ct = CtNormalization.fit(samples, CtNormalization.NNUNET_SAMPLES_PER_CASE, seed);
        } catch (IllegalArgumentException e) {
            throw invalid("intensity", "ct: " + e.getMessage().replaceFirst("^CtNormalization: ", ""));
        }
        return ct.channels().stream().map(c -> new DataPlan.IntensityStatistics(c.mean(), c.std(),
                c.percentile005(), c.percentile995())).toList();
    }

    private static CtNormalization ct(DataPlan plan) {
        if (plan.intensityOrDefault() != DataPlan.Intensity.CT) {
            return null;
        }
        if (plan.intensityStatistics() == null || plan.intensityStatistics().isEmpty()) {
            throw invalid("intensityStatistics", "are needed with intensity ct (fitted when the plan is prepared)");
        }
        return CtNormalization.of(plan.intensityStatistics().stream().map(s -> new CtNormalization.Channel(s.mean(),
                s.std(), s.percentile005(), s.percentile995())).toList());
    }

    private static InvalidSettingException invalid(String setting, String problem) {
        return new InvalidSettingException("DataPlan", setting, problem);
    }

    private static String join(int[] a) {
        return String.join(",", Arrays.stream(a).mapToObj(Integer::toString).toList());
    }

    // ------------------------------------------------------------------------------------------- the plan's parts

    /** The resolved plan: what a run records in its {@code config.json}. */
    public DataPlan plan() {
        return plan;
    }

    public DataSource source() {
        return source;
    }

    /** 2 or 3: the network's spatial dimensions. */
    public int dims() {
        return plan.dims();
    }

    /** Image channels C_in. */
    public int channels() {
        return channels;
    }

    public int numClasses() {
        return plan.numClasses();
    }

    public List<String> classNames() {
        return plan.classNames();
    }

    /** Voxel spacing of the network's examples (after resampling, in-plane for slices), for distance metrics. */
    public double[] spacing() {
        return metricSpacing.clone();
    }

    /**
     * {@code spec} completed for this data: spatial dims, input channels and classes from the data, and in 3D the
     * patch size as input size.
     */
    public UNetSpec complete(UNetSpec spec) {
        UNetSpec.Builder b = spec.toBuilder().spatialDims(dims()).inputChannels(channels).numClasses(numClasses());
        if (dims() == 3) {
            b.inputSize(plan.patchSize());
        } else if (spec.spatialDims() != 2) {
            b.inputSize((int[]) null);
        }
        return b.build();
    }

    /** The intensity normalisation of {@code plan} ({@code ct} needs its statistics). */
    public static Transform intensity(DataPlan plan) {
        return switch (plan.intensityOrDefault()) {
            // a case cropped to its non-zero box is z-scored over those voxels (nnU-Net's use of the non-zero mask)
            case ZSCORE -> Preprocessing.zScore(plan.cropsToNonzero() ? Preprocessing.NormalizationRegion.NONZERO
                    : Preprocessing.NormalizationRegion.ALL);
            // z-scoring undoes the linear rescale to [0, 1]: this is clip to the percentiles, then z-score
            case PERCENTILE -> Preprocessing.percentileClip(0.5, 99.5, 0, 1)
                    .then(Preprocessing.zScore(Preprocessing.NormalizationRegion.ALL));
            case CT -> ct(plan).transform();
            case NONE -> Transform.identity();
        };
    }

    /**
     * Resampling to {@code target}: as many values as the sample's spatial axes, or for a volume 2 in-plane values
     * with {@code sliceAxis} keeping the sample's own spacing.
     */
    public static Transform resampling(double[] target, int sliceAxis) {
        double[] t = target.clone();
        return (s, rng) -> {
            double[] sp = t;
            if (s.spatialRank() == 3 && t.length == 2) {
                sp = new double[3];
                for (int i = 0, j = 0; i < 3; i++) {
                    sp[i] = i == sliceAxis ? s.spacing()[i] : t[j++];
                }
            }
            if (sp.length != s.spatialRank()) {
                throw invalid("spacing", Arrays.toString(t) + " has " + t.length + " values but " + s.id() + " is "
                        + s.spatialRank() + "D");
            }
            return Resample.toSpacing(s, sp);
        };
    }

    /**
     * What a new image goes through before the network, as in training: {@code plan}'s intensity normalisation, then
     * its resampling (for {@code predict}).
     */
    public static Transform inputTransform(DataPlan plan) {
        Transform t = intensity(plan);
        if (plan.spacing() != null) {
            t = t.then(resampling(plan.spacing(), plan.sliceAxis() != null ? plan.sliceAxis()
                    : DataPlan.DEFAULT_SLICE_AXIS));
        }
        return t;
    }

    /**
     * What a labelled case goes through before training and evaluation, on its own grid: the crop to its non-zero
     * box (with {@code cropToNonzero}), then {@link #inputTransform}. (Prediction uses {@link #inputTransform} alone,
     * so its output keeps the input's grid.)
     */
    public static Transform caseTransform(DataPlan plan) {
        Transform t = inputTransform(plan);
        return plan.cropsToNonzero() ? CaseWindows.cropToNonzero().then(t) : t;
    }

    /** The training augmentation of {@code plan} (identity for none). */
    public static Transform augmentation(DataPlan plan) {
        int[] axes = plan.flipAxes();
        Transform flips = axes == null ? Augmentation.randomFlip(0.5) : Augmentation.randomFlip(0.5, axes);
        return switch (plan.augmentationOrDefault()) {
            case NONE -> Transform.identity();
            case FLIPS -> flips;
            // nnU-Net's multiplicative brightness (p 0.15, [0.75, 1.25]) and gamma (p 0.3, [0.7, 1.5])
            case NNUNET_LITE -> flips.then(Augmentation.randomScaleShift(0.15, 0.75, 1.25, 0, 0))
                    .then(Augmentation.randomGamma(0.3, 0.7, 1.5));
        };
    }

    /**
     * Normalised, then resampled (nnU-Net's order); in 2D padded in-plane by edge replication so every slice fits,
     * never along the slice axis (3D patches are cut to size).
     */
    private Transform preprocess() {
        Transform t = caseTransform(plan);
        return dims() == 2 ? t.then(Preprocessing.divisibleForSlices(levels, sliceAxis())) : t;
    }

    private int sliceAxis() {
        return plan.sliceAxis() != null ? plan.sliceAxis() : DataPlan.DEFAULT_SLICE_AXIS;
    }

    private SegmentationDataSetIterator.Builder examples(List<String> ids, int batchSize, long seed, boolean train)
            throws IOException {
        SegmentationDataSetIterator.Builder b = source.examples(ids).numClasses(numClasses()).batchSize(batchSize)
                .preprocess(timed(PREPROCESS, preprocess())).shuffle(train).seed(seed);
        if (train) {
            b.augment(timed(AUGMENT, augmentation(plan)));
        }
        if (labelMap != null) {
            b.labelMap(labelMap);
        }
        if (dims() == 3) {
            b.patches(PatchSampler.of(1.0 / 3, plan.patchSize()), plan.patchesPerCase());
        } else if (rank == 3) {
            b.slices(plan.sliceAxis(), false);
        } else {
            b.wholeVolumes();
        }
        return b;
    }

    private MultiDataSetIterator iterator(SegmentationDataSetIterator.Builder b) {
        return new SegmentationMultiDataSetIterator(b.build());
    }

    /** Training batches; validation on fixed (seeded) patches in 3D, on every validation slice or image in 2D. */
    public TrainingData trainingData() {
        if (padded != null) {
            return paddedTrainingData();
        }
        long seed = plan.split().seed() != null ? plan.split().seed() : 0;
        return new TrainingData() {
            @Override
            public MultiDataSetIterator training(int batchSize, long s) {
                return iterator(uncheck(() -> examples(plan.split().training(), batchSize, s, true)));
            }

            @Override
            public MultiDataSetIterator validation(int batchSize) {
                return iterator(uncheck(() -> examples(plan.split().validation(), batchSize, seed, false)));
            }

            @Override
            public int batchesPerEpoch(int batchSize) {
                int n = plan.split().training().size();
                return dims() == 3 ? (n * plan.patchesPerCase() + batchSize - 1) / batchSize
                        : rank == 2 ? (n + batchSize - 1) / batchSize : -1;
            }
        };
    }

    /**
     * Training on the padded cases (commonPadding): 3D whole volumes, 2D every slice of the padded volumes (or the
     * padded images); validation on the padded validation cases in order.
     */
    private TrainingData paddedTrainingData() {
        List<Sample> train = plan.split().training().stream().map(this::paddedCase).toList();
        List<Sample> val = plan.split().validation().stream().map(this::paddedCase).toList();
        Transform aug = timed(AUGMENT, augmentation(plan));
        boolean sliced = dims() == 2 && rank == 3;
        int examples = sliced ? train.stream().mapToInt(s -> s.shape()[sliceAxis()]).sum() : train.size();
        return new TrainingData() {
            @Override
            public MultiDataSetIterator training(int batchSize, long seed) {
                return iterator(train, batchSize, seed, aug, true);
            }

            @Override
            public MultiDataSetIterator validation(int batchSize) {
                return iterator(val, batchSize, 0, Transform.identity(), false);
            }

            @Override
            public int batchesPerEpoch(int batchSize) {
                return (examples + batchSize - 1) / batchSize;
            }

            private MultiDataSetIterator iterator(List<Sample> s, int batchSize, long seed, Transform t,
                                                  boolean shuffle) {
                SegmentationDataSetIterator.Builder b = SegmentationDataSetIterator.builder().samples(s)
                        .numClasses(numClasses()).batchSize(batchSize).augment(t).shuffle(shuffle).seed(seed);
                if (sliced) {
                    b.slices(sliceAxis(), false);
                } else {
                    b.wholeVolumes();
                }
                return new SegmentationMultiDataSetIterator(b.build());
            }
        };
    }

    /** {@code t}, its every application timed as {@code stage} when this data is timed. */
    private Transform timed(String stage, Transform t) {
        return times == null ? t : times.timed(stage, t);
    }

    private Sample paddedCase(String id) {
        Sample s = padded.get(id);
        if (s == null) {
            throw InvalidSettingException.unreadable("split", source.describe() + " has no case " + id);
        }
        return s;
    }

    private interface IoSupplier<T> {
        T get() throws IOException;
    }

    private static <T> T uncheck(IoSupplier<T> s) {
        try {
            return s.get();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** {@link #evaluate(ComputationGraph, int, int[], List)} on the validation cases. */
    public EvaluationResult evaluate(ComputationGraph net, int bins, int[] mirrorAxes) throws IOException {
        return evaluate(net, bins, mirrorAxes, plan.split().validation());
    }

    /** {@link #evaluateCases}'s pooled result. */
    public EvaluationResult evaluate(ComputationGraph net, int bins, int[] mirrorAxes, List<String> ids)
            throws IOException {
        return evaluateCases(net, bins, mirrorAxes, ids, null).result();
    }

    /**
     * The full evaluation (Dice, IoU, HD95 per case, calibration before and after temperature scaling) of
     * {@code net} on the cases {@code ids}, each on its own grid and spacing ({@link CaseEvaluator}): 2D models on
     * every slice of each volume, stacked back into the volume before scoring (whole images for 2D cases); 3D
     * models on whole volumes by sliding windows of the patch size.
     *
     * @param mirrorAxes      test-time mirroring along these spatial axes (every subset, flipped back, averaged), or
     *                        null
     * @param calibrationIds  cases to fit the temperature on (null = on {@code ids})
     */
    public CaseEvaluation evaluateCases(ComputationGraph net, int bins, int[] mirrorAxes, List<String> ids,
                                        List<String> calibrationIds) throws IOException {
        try {
            return evaluator(bins, mirrorAxes).evaluate(net, ids, id -> {
                Sample s = source.load(id);
                if (s.channels() != channels) {
                    throw new InvalidInputException("case " + id + " has " + s.channels() + " channel(s) but the "
                            + "model was trained on " + channels + " (" + source.describe() + ")");
                }
                if (s.spatialRank() < rank) {
                    throw new InvalidInputException("case " + id + " is " + s.spatialRank() + "D but the model was "
                            + "trained on " + rank + "D cases (" + source.describe() + ")");
                }
                return s;
            }, calibrationIds, null);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /**
     * The evaluator behind {@link #evaluateCases}: a raw case of the source goes through label grouping and
     * {@link #caseTransform} ({@link CaseEvaluator#prepare}); its logits ({@link CaseEvaluator#logits}, on a case as
     * {@link #preprocessed} gives it) come from the network run as it was trained: on the case padded to the common
     * size (commonPadding), by Gaussian sliding windows of the patch size (3D patches), or slice by slice (2D).
     */
    public CaseEvaluator evaluator(int bins, int[] mirrorAxes) {
        CaseEvaluator.Builder b = CaseEvaluator.builder().numClasses(numClasses()).bins(bins)
                .preprocess(caseTransform(plan)).labelMap(labelMap);
        if (plan.padsToCommonSize()) {
            b.padHighEnd(plan.paddedSize());       // the cases padded as in training, the padding cut off
        }
        if (dims() == 3 && plan.padsToCommonSize()) {
            if (mirrorAxes != null) {
                throw new InvalidInputException("test-time mirroring is not available for a network trained on whole "
                        + "padded volumes (commonPadding, a study's 3D run)");
            }
            b.whole(1 << (levels - 1));      // trained on whole padded volumes: whole cases, padded to a multiple
        } else if (dims() == 3) {
            SlidingWindowInference.Builder sb = SlidingWindowInference.builder().patchSize(plan.patchSize());
            b.slidingWindow((mirrorAxes != null ? sb.mirrorAxes(mirrorAxes) : sb).build());
        } else {
            b.slices(sliceAxis(), 1 << (levels - 1)).sliceBatch(EVAL_BATCH).inference(wholeImageInference(mirrorAxes));
        }
        return b.build();
    }

    /**
     * How whole 2D images get their logits: the graph's own, or with {@code mirrorAxes} ln of the mean softmax over
     * the flips (each image one window of its own size, constant weights).
     */
    public static Inference wholeImageInference(int[] mirrorAxes) {
        if (mirrorAxes == null) {
            return Inference.graph();
        }
        return Inference.fromProbabilities((net, batch) -> mirroredWholeImages(net, batch, mirrorAxes));
    }

    /** Probabilities of whole images {@code [N, C, spatial...]}, each one window of its own size, mirrored. */
    public static INDArray mirroredWholeImages(ComputationGraph net, INDArray batch, int[] mirrorAxes) {
        int[] size = Arrays.stream(Arrays.copyOfRange(batch.shape(), 2, batch.rank())).mapToInt(Math::toIntExact)
                .toArray();
        // a single window: weights cancel, and constant ones keep the corners' tiny Gaussian weights out of it
        return SlidingWindowInference.builder().patchSize(size).weighting(SlidingWindowInference.Weighting.CONSTANT)
                .mirrorAxes(mirrorAxes).build().predict(net, batch);
    }

    // ---------------------------------------------------------------------------------------------------- reports

    /** What a report says about the data, its split and its preprocessing. */
    public String describe() {
        DataPlan.Split s = plan.split();
        String examples = plan.padsToCommonSize() ? "whole cases padded to one common size" + (dims() == 2
                && rank == 3 ? ", slices along axis " + plan.sliceAxis() : "") : dims() == 3 ? "random " + join(plan.patchSize()) + " patches, " + plan.patchesPerCase()
                + " per case and epoch" : rank == 3 ? "slices along axis " + plan.sliceAxis() : "whole images";
        String how = s.validationFraction() != null && s.seed() != null ? String.format(Locale.ROOT,
                "validation fraction %s, seed %d", s.validationFraction(), s.seed()) : "as listed";
        List<String> val = s.validation();
        return String.format(Locale.ROOT, "Data: %s, %dD (%s), %d channel(s), classes %s. Training: %d cases; "
                        + "evaluation: %d held-out cases (%s, %s)%s.", source.describe(), dims(), examples, channels,
                String.join(", ", classNames()), s.training().size(), val.size(),
                val.size() <= 20 ? String.join(", ", val) : String.join(", ", val.subList(0, 20)) + ", ...", how,
                dims() == 3 ? ", whole volumes by Gaussian sliding-window inference" : "") + " " + preprocessing();
    }

    private static String number(double x) {
        return new BigDecimal(x).round(new MathContext(6)).stripTrailingZeros().toPlainString();
    }

    /** What the report says about normalisation, resampling and augmentation. */
    private String preprocessing() {
        StringBuilder b = new StringBuilder("Intensity (").append(plan.intensity().specName()).append("): ");
        switch (plan.intensity()) {
            case CT -> {
                b.append("nnU-Net's CT normalisation with the training foreground's statistics");
                for (int c = 0; c < ct.channels().size(); c++) {
                    CtNormalization.Channel ch = ct.channels().get(c);
                    b.append(c == 0 ? ";" : ",").append(" channel ").append(c).append(": clip to [")
                            .append(number(ch.percentile005())).append(", ").append(number(ch.percentile995()))
                            .append("], then (x - ").append(number(ch.mean())).append(") / ")
                            .append(number(ch.std()));
                }
            }
            case PERCENTILE -> b.append("each case clipped to its own [0.5, 99.5] percentiles, then z-scored");
            case NONE -> b.append("as the source gives it");
            default -> b.append("each case z-scored over all its voxels");
        }
        double[] target = plan.spacing();
        b.append(". Grid: ").append(target == null ? "each case's own"
                : "resampled to " + Arrays.toString(target) + " mm (image linear, label nearest"
                + (target.length == 2 && rank == 3 ? ", in-plane only" : "") + "); metrics in that spacing");
        String flips = plan.flipAxes() == null ? "each spatial axis" : "axis " + join(plan.flipAxes());
        b.append(". Training augmentation (").append(plan.augmentation().specName()).append("): ")
                .append(switch (plan.augmentation()) {
                    case FLIPS -> flips + " mirrored with probability 0.5";
                    case NNUNET_LITE -> flips + " mirrored with probability 0.5, brightness x U[0.75, 1.25] "
                            + "(p 0.15), gamma U[0.7, 1.5] on each channel's range (p 0.3)";
                    default -> "none";
                }).append('.');
        return b.toString();
    }
}
