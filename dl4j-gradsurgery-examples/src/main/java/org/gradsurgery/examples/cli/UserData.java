package org.gradsurgery.examples.cli;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.data.Augmentation;
import org.gradsurgery.data.Case;
import org.gradsurgery.data.Cases;
import org.gradsurgery.data.CtNormalization;
import org.gradsurgery.data.LabelMap;
import org.gradsurgery.data.MsdDataset;
import org.gradsurgery.data.PatchSampler;
import org.gradsurgery.data.Preprocessing;
import org.gradsurgery.data.Resample;
import org.gradsurgery.data.Sample;
import org.gradsurgery.data.SegmentationDataSetIterator;
import org.gradsurgery.data.SegmentationMultiDataSetIterator;
import org.gradsurgery.data.Transform;
import org.gradsurgery.model.Inference;
import org.gradsurgery.evaluation.SegmentationEvaluator;
import org.gradsurgery.model.SlidingWindowInference;
import org.gradsurgery.training.TrainingData;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;
import org.nd4j.shade.jackson.databind.JsonNode;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The user's own labelled data instead of the bundled Colin27 slices (picocli mixin): a Medical Segmentation
 * Decathlon folder ({@link MsdDataset}), an image/label folder pair ({@link Cases#fromFolders}) or a CSV manifest
 * ({@link Cases#fromCsv}), split case-wise into training and validation ({@link Cases#split}) by the run's seed.
 *
 * <p>Every case is first normalised ({@code --intensity}: z-score per case, nnU-Net's CT scheme with statistics fitted
 * on the training foreground ({@link CtNormalization}), or per-case percentile clipping then z-score), then resampled
 * to {@code --spacing} if given ({@link Resample}: image linear, label nearest; nnU-Net's order). 2D trains on whole
 * slices along {@code --slice-axis} of each volume (or on whole 2D images), padded to a multiple of 2^(levels−1); 3D
 * trains on random {@code --patch-size} patches, ⅓ of them centred on foreground (nnU-Net), and is evaluated on whole
 * validation volumes by Gaussian-weighted sliding-window inference. {@code --augment} draws random flips (and
 * intensity jitter) per training example. Every choice, and the fitted CT statistics, is recorded in the run's
 * config.json ({@link Loaded#describe}) so that {@code evaluate}, {@code predict} and {@code train --resume} rebuild
 * the same split and preprocessing ({@link #fromConfig}).
 */
final class UserData {
    static final String SOURCE = "source";
    static final double DEFAULT_VAL_FRACTION = 0.2;
    static final int DEFAULT_PATCH = 64;
    /** config.json key of the fitted CT statistics, one object per channel with nnU-Net's key names. */
    static final String INTENSITY_STATISTICS = "intensityStatistics";
    static final List<String> INTENSITIES = List.of("zscore", "ct", "percentile");
    static final List<String> AUGMENTATIONS = List.of("none", "flips", "nnunet-lite");
    /** The flags that name a data source. */
    private static final Set<String> SOURCES = Set.of("--msd", "--images", "--labels", "--manifest");

    /** This mixin's own model (picocli injects it), to walk its options. */
    @Spec
    CommandSpec self;

    @Option(names = "--msd", paramLabel = "DIR",
            description = "Your data: a Medical Segmentation Decathlon task folder (dataset.json, imagesTr/, labelsTr/).")
    Path msd;

    @Option(names = "--images", paramLabel = "DIR",
            description = "Your data: a folder of images (NIfTI or PNG), paired by file name with --labels.")
    Path images;

    @Option(names = "--labels", paramLabel = "DIR", description = "The label folder paired with --images.")
    Path labels;

    @Option(names = "--manifest", paramLabel = "CSV",
            description = "Your data: a CSV with columns image (or image*, one per channel), label, optional id, mask.")
    Path manifest;

    @Option(names = "--dims", paramLabel = "2|3",
            description = "2 = slices (or 2D images), 3 = random 3D patches + sliding-window evaluation "
                    + "(default: the images' own rank).")
    Integer dims;

    @Option(names = "--patch-size", split = ",", paramLabel = "P[,P,P]",
            description = "3D training patch (and sliding window), each divisible by 2^(levels-1) (default: "
                    + DEFAULT_PATCH + ").")
    int[] patchSize;

    @Option(names = "--slice-axis", paramLabel = "A",
            description = "2D on volumes: slice along file axis A = 0, 1 or 2 (default: 2).")
    Integer sliceAxis;

    @Option(names = "--patches-per-case", paramLabel = "N",
            description = "3D: random patches per training case and epoch (default: 4).")
    Integer patchesPerCase;

    @Option(names = "--label-map", paramLabel = "CSV",
            description = "Raw label code -> class index (see docs/DATA.md); needed when labels are not 0..K-1.")
    Path labelMap;

    @Option(names = "--classes", paramLabel = "K",
            description = "Number of classes incl. background (default: from --label-map or dataset.json).")
    Integer classes;

    @Option(names = "--val-fraction", paramLabel = "F",
            description = "Fraction of cases held out for validation and evaluation, chosen by --seed (default: "
                    + DEFAULT_VAL_FRACTION + ").")
    Double valFraction;

    @Option(names = "--intensity", paramLabel = "zscore|ct|percentile",
            description = "Intensity normalisation: zscore = per case over all voxels; ct = nnU-Net's CT scheme (clip "
                    + "to the 0.5/99.5 percentiles of the training cases' foreground, subtract its mean, divide by its "
                    + "std; saved with the run); percentile = per case, clip to its own 0.5/99.5 percentiles, then "
                    + "z-score (default: zscore).")
    String intensity;

    @Option(names = "--spacing", split = ",", paramLabel = "SX,SY[,SZ]",
            description = "Resample every case to this voxel spacing in mm (image linear, label nearest) after "
                    + "normalising; 2 values with --dims 2 on volumes = in-plane, the slice axis keeps each case's "
                    + "own (default: each case's own grid).")
    double[] targetSpacing;

    @Option(names = "--augment", paramLabel = "none|flips|nnunet-lite",
            description = "Training augmentation: flips = each spatial axis mirrored with p 0.5; nnunet-lite = flips, "
                    + "brightness x U[0.75,1.25] (p 0.15) and gamma U[0.7,1.5] (p 0.3) (default: none).")
    String augment;

    /** The recorded data section of the run being evaluated or resumed (its fitted CT statistics), or null. */
    private JsonNode recordedData;

    /** Where fitting the CT statistics reports progress (a pass over every training case), or null for silence. */
    java.io.PrintStream progress;

    /** Whether a data source was named (otherwise the bundled demo data is used). */
    boolean active() {
        return msd != null || images != null || labels != null || manifest != null;
    }

    /**
     * The data-shaping flags (every option of this mixin but the four sources), from picocli's model of it, so that
     * a new flag is checked and restored without being listed again.
     */
    private List<OptionSpec> shapingOptions() {
        return self.options().stream().filter(o -> !SOURCES.contains(o.longestName())).toList();
    }

    /** Rejects data-shaping flags without a data source, so they are never silently ignored. */
    void checkUnusedWithDemoData() {
        if (active()) {
            return;
        }
        List<String> set = shapingOptions().stream().filter(o -> o.getValue() != null).map(OptionSpec::longestName)
                .toList();
        if (!set.isEmpty()) {
            throw new IllegalArgumentException(String.join(", ", set) + " need(s) your own data: --msd DIR, "
                    + "--images DIR --labels DIR, or --manifest CSV");
        }
    }

    /**
     * Fills every flag not given on the command line from a run's recorded {@code data} section, where each flag
     * {@code --some-flag} is the key {@code someFlag} (see {@link Loaded#describe}); the sources only when none was given.
     */
    void fromConfig(JsonNode data) {
        recordedData = data;
        boolean given = active();
        for (OptionSpec o : self.options()) {
            String key = configKey(o.longestName());
            boolean source = SOURCES.contains(o.longestName());
            if ((source ? given : o.getValue() != null) || !data.hasNonNull(key)) {
                continue;
            }
            JsonNode v = data.get(key);
            if (o.type() == Path.class) {
                o.setValue(Path.of(v.asText()));
            } else if (o.type() == Integer.class) {
                o.setValue(v.asInt());
            } else if (o.type() == Double.class) {
                o.setValue(v.asDouble());
            } else if (o.type() == String.class) {
                o.setValue(v.asText());
            } else if (o.type() == double[].class) {
                double[] a = new double[v.size()];
                for (int i = 0; i < a.length; i++) {
                    a[i] = v.get(i).asDouble();
                }
                o.setValue(a);
            } else if (o.type() == int[].class) {
                int[] a = new int[v.size()];
                for (int i = 0; i < a.length; i++) {
                    a[i] = v.get(i).asInt();
                }
                o.setValue(a);
            } else {
                throw new IllegalStateException("UserData: no config.json reader for " + o.longestName() + " of type "
                        + o.type().getSimpleName());
            }
        }
    }

    /** {@code --patch-size} → {@code patchSize}: the config.json key of a flag. */
    static String configKey(String option) {
        StringBuilder k = new StringBuilder();
        boolean upper = false;
        for (char c : option.replaceFirst("^--", "").toCharArray()) {
            if (c == '-') {
                upper = true;
            } else {
                k.append(upper ? Character.toUpperCase(c) : c);
                upper = false;
            }
        }
        return k.toString();
    }

    /** Whether a run's {@code data} section describes user data. */
    static boolean recorded(JsonNode data) {
        return data.hasNonNull(SOURCE);
    }

    /**
     * Loads the case list, checks the flags against it and splits it.
     *
     * @param seed   the split seed (the run's --seed)
     * @param levels the U-Net's levels, which sizes must be divisible by 2^(levels−1)
     */
    Loaded load(long seed, int levels) throws IOException {
        String source = source();
        String norm = choice("--intensity", intensity, INTENSITIES);
        String aug = choice("--augment", augment, AUGMENTATIONS);
        List<Case> cases;
        List<String> names = null;
        if (msd != null) {
            MsdDataset ds = MsdDataset.open(msd);
            cases = ds.trainingCases();
            names = ds.labelNames();
            // nnU-Net picks its CT scheme from these names; here the default stays what it always was
            if (intensity == null && progress != null && ds.modalities().stream().anyMatch("CT"::equalsIgnoreCase)) {
                progress.println("note: " + msd.resolve("dataset.json") + " names a CT channel; nnU-Net would "
                        + "normalise it with --intensity ct (used here: zscore per case)");
            }
        } else if (images != null) {
            cases = Cases.fromFolders(images, labels);
        } else {
            cases = Cases.fromCsv(manifest);
        }
        for (Case c : cases) {
            if (c.label() == null) {
                throw new IllegalArgumentException(manifest + ": case " + c.id() + " has no label; training and "
                        + "evaluation need a label column");
            }
        }
        LabelMap map = labelMap != null ? LabelMap.read(labelMap) : null;
        int k;
        if (classes != null) {
            k = classes;
            if (map != null && map.numClasses() > k) {
                throw new IllegalArgumentException("--classes " + k + " but --label-map " + labelMap + " maps to "
                        + map.numClasses() + " classes");
            }
        } else if (map != null) {
            k = map.numClasses();
        } else if (names != null && !names.isEmpty()) {
            k = names.size();
        } else {
            throw new IllegalArgumentException("--classes K (or --label-map CSV) is needed with " + source
                    + ": the number of classes cannot be read from image files");
        }
        if (k < 2) {
            throw new IllegalArgumentException("--classes must be >= 2 (background + one structure), got " + k);
        }
        if (names == null || names.size() != k) {
            names = new ArrayList<>();
            for (int i = 0; i < k; i++) {
                names.add(i == 0 ? "background" : "class " + i);
            }
        }
        Sample first = cases.get(0).load();
        int rank = first.spatialRank();
        int d = dims != null ? dims : rank;
        if (d != 2 && d != 3) {
            throw new IllegalArgumentException("--dims must be 2 or 3, got " + d);
        }
        if (d == 3 && rank == 2) {
            throw new IllegalArgumentException("--dims 3 needs 3D volumes, but " + cases.get(0).images().get(0)
                    + " is a 2D image " + Arrays.toString(first.shape()) + "; use --dims 2");
        }
        int axis = sliceAxis != null ? sliceAxis : 2;
        if (sliceAxis != null && (d != 2 || rank != 3)) {
            throw new IllegalArgumentException("--slice-axis applies to --dims 2 on 3D volumes");
        }
        if (axis < 0 || axis > 2) {
            throw new IllegalArgumentException("--slice-axis must be 0, 1 or 2, got " + axis);
        }
        if (patchesPerCase != null && d != 3) {
            throw new IllegalArgumentException("--patches-per-case applies to --dims 3");
        }
        int[] patch = null;
        int multiple = 1 << (levels - 1);
        if (d == 3) {
            patch = patchSize == null ? new int[] {DEFAULT_PATCH, DEFAULT_PATCH, DEFAULT_PATCH}
                    : patchSize.length == 1 ? new int[] {patchSize[0], patchSize[0], patchSize[0]} : patchSize.clone();
            if (patch.length != 3) {
                throw new IllegalArgumentException("--patch-size needs 1 or 3 values, got "
                        + Arrays.toString(patchSize));
            }
            for (int p : patch) {
                if (p < 1 || p % multiple != 0) {
                    throw new IllegalArgumentException(String.format(Locale.ROOT, "--patch-size %s: every size "
                                    + "must be a positive multiple of 2^(levels-1) = %d for --levels %d",
                            join(patch), multiple, levels));
                }
            }
        } else if (patchSize != null) {
            throw new IllegalArgumentException("--patch-size applies to --dims 3; 2D trains on whole slices padded "
                    + "to a multiple of 2^(levels-1) = " + multiple);
        }
        double vf = valFraction != null ? valFraction : DEFAULT_VAL_FRACTION;
        if (!(vf > 0 && vf < 1)) {
            throw new IllegalArgumentException("--val-fraction must be in (0, 1): the run is evaluated on the "
                    + "held-out cases, got " + vf);
        }
        if (cases.size() < 2) {
            throw new IllegalArgumentException(source + " has " + cases.size() + " labelled case(s); a case-level "
                    + "training/validation split needs at least 2");
        }
        double[] target = null;
        if (targetSpacing != null) {
            target = targetSpacing.clone();
            boolean inPlane = d == 2 && rank == 3 && target.length == 2;
            if (target.length != rank && !inPlane) {
                throw new IllegalArgumentException("--spacing needs " + rank + " values for " + rank + "D "
                        + (rank == 3 ? "volumes" : "images") + (rank == 3 && d == 2 ? " (or 2, in-plane, with --dims 2)"
                        : "") + ", got " + target.length);
            }
            for (double v : target) {
                if (!(v > 0) || Double.isInfinite(v)) {
                    throw new IllegalArgumentException("--spacing: every value must be a positive number of mm, got "
                            + Arrays.toString(target));
                }
            }
        }
        Cases.Split split = Cases.split(cases, vf, seed);
        CtNormalization ct = norm.equals("ct") ? ctStatistics(split.training(), map, seed) : null;
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
        return new Loaded(this, source, split, d, rank, axis, patch,
                patchesPerCase != null ? patchesPerCase : 4, first.channels(), k, List.copyOf(names), map,
                spacing, levels, vf, seed, norm, ct, target, aug);
    }

    /** The value of a choice flag, lower-cased; null is the first choice (the default). */
    private static String choice(String flag, String value, List<String> allowed) {
        if (value == null) {
            return allowed.get(0);
        }
        String v = value.trim().toLowerCase(Locale.ROOT);
        if (!allowed.contains(v)) {
            throw new IllegalArgumentException(flag + " must be one of " + String.join(", ", allowed) + ", got "
                    + value);
        }
        return v;
    }

    /**
     * The CT statistics: those the run being evaluated or resumed recorded, otherwise fitted on the training cases'
     * foreground (class ids after the label map), {@link CtNormalization#NNUNET_SAMPLES_PER_CASE} voxels per case.
     */
    private CtNormalization ctStatistics(List<Case> training, LabelMap map, long seed) {
        if (recordedData != null && "ct".equals(recordedData.path("intensity").asText())) {
            CtNormalization recorded = ctFromConfig(recordedData);
            if (recorded != null) {
                return recorded;
            }
        }
        if (progress != null) {
            progress.printf(Locale.ROOT, "--intensity ct: fitting the statistics on the foreground of %d training "
                    + "case(s)%n", training.size());
        }
        int[] done = {0};
        Iterable<Sample> samples = () -> training.stream().map(c -> {
            try {
                Sample s = c.load();
                if (progress != null && ++done[0] % 10 == 0) {
                    progress.printf(Locale.ROOT, "  %d/%d cases%n", done[0], training.size());
                }
                return map != null ? map.asTransform().apply(s, new SplittableRandom(0)) : s;
            } catch (IOException e) {
                throw new UncheckedIOException("cannot load case " + c.id() + ": " + e.getMessage(), e);
            }
        }).iterator();
        try {
            return CtNormalization.fit(samples, CtNormalization.NNUNET_SAMPLES_PER_CASE, seed);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--intensity ct: " + e.getMessage().replaceFirst("^CtNormalization: ",
                    ""), e);
        }
    }

    /** The CT statistics a run's data section records, or null if it has none. */
    static CtNormalization ctFromConfig(JsonNode data) {
        JsonNode a = data.path(INTENSITY_STATISTICS);
        if (!a.isArray() || a.size() == 0) {
            return null;
        }
        List<CtNormalization.Channel> channels = new ArrayList<>();
        for (JsonNode c : a) {
            channels.add(new CtNormalization.Channel(c.path("mean").asDouble(), c.path("std").asDouble(),
                    c.path("percentile_00_5").asDouble(), c.path("percentile_99_5").asDouble()));
        }
        return CtNormalization.of(channels);
    }

    /** The config.json form of CT statistics: per channel, nnU-Net's intensity-property names. */
    static List<Map<String, Object>> ctToConfig(CtNormalization ct) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (CtNormalization.Channel c : ct.channels()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("mean", c.mean());
            m.put("std", c.std());
            m.put("percentile_00_5", c.percentile005());
            m.put("percentile_99_5", c.percentile995());
            out.add(m);
        }
        return out;
    }

    /** The {@code --intensity} normalisation ({@code ct} needs its statistics). */
    static Transform intensityTransform(String mode, CtNormalization ct) {
        return switch (mode) {
            case "zscore" -> Preprocessing.zScore(Preprocessing.NormalizationRegion.ALL);
            // z-scoring undoes the linear rescale to [0, 1]: this is clip to the percentiles, then z-score
            case "percentile" -> Preprocessing.percentileClip(0.5, 99.5, 0, 1)
                    .then(Preprocessing.zScore(Preprocessing.NormalizationRegion.ALL));
            case "ct" -> ct.transform();
            default -> throw new IllegalArgumentException("--intensity must be one of " + String.join(", ",
                    INTENSITIES) + ", got " + mode);
        };
    }

    /**
     * The preprocessing of a run's recorded data section for inference on one image: its {@code --intensity} (with
     * its CT statistics), z-score when it records none.
     */
    static Transform recordedIntensity(JsonNode data) {
        String mode = data.path("intensity").asText("zscore");
        CtNormalization ct = null;
        if (mode.equals("ct")) {
            ct = ctFromConfig(data);
            if (ct == null) {
                throw new IllegalArgumentException("the run's config.json records --intensity ct but no "
                        + INTENSITY_STATISTICS);
            }
        }
        return intensityTransform(mode, ct);
    }

    /**
     * Resampling to {@code --spacing}: as many values as the sample's spatial axes, or for a volume 2 in-plane values
     * with {@code sliceAxis} keeping the sample's own spacing.
     */
    static Transform resampling(double[] target, int sliceAxis) {
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
                throw new IllegalArgumentException("--spacing " + Arrays.toString(t) + " has " + t.length
                        + " values but " + s.id() + " is " + s.spatialRank() + "D");
            }
            return Resample.toSpacing(s, sp);
        };
    }

    /** The {@code --augment} transform for training examples (identity for none). */
    static Transform augmentation(String mode) {
        Transform flips = Augmentation.randomFlip(0.5);
        return switch (mode) {
            case "none" -> Transform.identity();
            case "flips" -> flips;
            // nnU-Net's multiplicative brightness (p 0.15, [0.75, 1.25]) and gamma (p 0.3, [0.7, 1.5])
            case "nnunet-lite" -> flips.then(Augmentation.randomScaleShift(0.15, 0.75, 1.25, 0, 0))
                    .then(Augmentation.randomGamma(0.3, 0.7, 1.5));
            default -> throw new IllegalArgumentException("--augment must be one of " + String.join(", ",
                    AUGMENTATIONS) + ", got " + mode);
        };
    }

    private String source() {
        int n = (msd != null ? 1 : 0) + (images != null || labels != null ? 1 : 0) + (manifest != null ? 1 : 0);
        if (n > 1) {
            throw new IllegalArgumentException("name one data source: --msd DIR, --images DIR --labels DIR, or "
                    + "--manifest CSV");
        }
        if (images != null && labels == null) {
            throw new IllegalArgumentException("--images needs --labels DIR (the label folder paired by file name)");
        }
        if (labels != null && images == null) {
            throw new IllegalArgumentException("--labels needs --images DIR");
        }
        return msd != null ? "--msd " + msd : images != null ? "--images " + images : "--manifest " + manifest;
    }

    private static String join(int[] a) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < a.length; i++) {
            b.append(i == 0 ? "" : ",").append(a[i]);
        }
        return b.toString();
    }

    /** The loaded, checked and split user data, and the iterators and evaluator it implies. */
    record Loaded(UserData flags, String source, Cases.Split split, int dims, int rank, int sliceAxis,
                  int[] patchSize, int patchesPerCase, int channels, int numClasses, List<String> classNames,
                  LabelMap labelMap, double[] spacing, int levels, double valFraction, long seed,
                  String intensity, CtNormalization ct, double[] targetSpacing, String augment) {

        /**
         * Normalised, then resampled (nnU-Net's order); in 2D padded so every slice fits the U-Net (3D patches are
         * cut to size).
         */
        private Transform preprocess() {
            Transform t = intensityTransform(intensity, ct);
            if (targetSpacing != null) {
                t = t.then(resampling(targetSpacing, sliceAxis));
            }
            return dims == 2 ? t.then(Preprocessing.divisibleForLevels(levels)) : t;
        }

        private SegmentationDataSetIterator.Builder examples(List<Case> cases, int batchSize, long s, boolean train) {
            SegmentationDataSetIterator.Builder b = SegmentationDataSetIterator.builder().cases(cases)
                    .numClasses(numClasses).batchSize(batchSize).preprocess(preprocess()).shuffle(train).seed(s);
            if (train) {
                b.augment(augmentation(augment));
            }
            if (labelMap != null) {
                b.labelMap(labelMap);
            }
            if (dims == 3) {
                b.patches(PatchSampler.of(1.0 / 3, patchSize), patchesPerCase);
            } else if (rank == 3) {
                b.slices(sliceAxis, false);
            } else {
                b.wholeVolumes();
            }
            return b;
        }

        /** Training batches; validation on fixed (seeded) patches in 3D, on every validation slice in 2D. */
        TrainingData trainingData() {
            return new TrainingData() {
                @Override
                public MultiDataSetIterator training(int batchSize, long s) {
                    return new SegmentationMultiDataSetIterator(examples(split.training(), batchSize, s, true).build());
                }

                @Override
                public MultiDataSetIterator validation(int batchSize) {
                    return new SegmentationMultiDataSetIterator(examples(split.validation(), batchSize, seed, false)
                            .build());
                }

                @Override
                public int batchesPerEpoch(int batchSize) {
                    return dims == 3 ? (split.training().size() * patchesPerCase + batchSize - 1) / batchSize : -1;
                }
            };
        }

        /**
         * The full evaluation of {@code Experiment}: 2D on every validation slice; 3D on whole validation volumes
         * through sliding-window inference with the training patch size.
         */
        org.gradsurgery.evaluation.EvaluationResult evaluate(org.deeplearning4j.nn.graph.ComputationGraph net, int bins) {
            return evaluate(net, bins, new Mirroring());
        }

        /** {@link #evaluate(org.deeplearning4j.nn.graph.ComputationGraph, int)}, mirrored ({@link Mirroring}). */
        org.gradsurgery.evaluation.EvaluationResult evaluate(org.deeplearning4j.nn.graph.ComputationGraph net, int bins,
                                                        Mirroring mirroring) {
            SegmentationEvaluator.Builder b = SegmentationEvaluator.builder().numClasses(numClasses).bins(bins)
                    .spacing(spacing).inference(mirroring.wholeImageInference());
            MultiDataSetIterator it;
            if (dims == 3) {
                SlidingWindowInference swi = mirroring.build(SlidingWindowInference.builder().patchSize(patchSize));
                // no net.score: it would run the whole volume through the network at once, which fails unless every
                // size is a multiple of 2^(levels-1) (and needs the memory of a whole-volume forward); the report
                // does not show it, and training validation measures the loss on patches
                b.inference(Inference.fromProbabilities(swi::predict)).loss(false);
                SegmentationDataSetIterator.Builder vb = SegmentationDataSetIterator.builder()
                        .cases(split.validation()).numClasses(numClasses).batchSize(1).preprocess(preprocess())
                        .shuffle(false).seed(seed).wholeVolumes().cache(false);
                if (labelMap != null) {
                    vb.labelMap(labelMap);
                }
                it = new SegmentationMultiDataSetIterator(vb.build());
            } else {
                it = new SegmentationMultiDataSetIterator(examples(split.validation(), Experiment.EVAL_BATCH, seed,
                        false).cache(false).build());
            }
            return b.build().evaluate(net, it);
        }

        /** Trains {@code loss} into the config's run directory and evaluates on the held-out cases. */
        Experiment.Outcome run(Options.Model model, org.gradsurgery.training.TrainingConfig config, LossSpec loss,
                               List<String> command, java.io.PrintStream out) throws IOException {
            org.gradsurgery.model.UNet.Builder b = model.builder(dims, channels, numClasses, config.seed(),
                    loss.create());
            if (dims == 3) {
                b.inputSize(patchSize);
            }
            org.deeplearning4j.nn.graph.ComputationGraph net = b.build().graph();
            out.printf(Locale.ROOT, "== %s: %dD U-Net, %d levels, %d base filters, %,d parameters; %d training / %d "
                            + "validation cases; %d epochs, batches of %d; run %s%n", loss.label(), dims, model.levels,
                    model.filters, net.numParams(), split.training().size(), split.validation().size(),
                    config.epochs(), config.batchSize(), config.runDirectory());
            Map<String, Object> arch = model.describe(net);
            arch.put("architecture", "UNet " + dims + "D");
            arch.put("inputChannels", channels);
            org.gradsurgery.training.TrainingResult r = org.gradsurgery.training.Trainer.builder(config).output(out)
                    .metadata("command", command)
                    .metadata("model", arch)
                    .metadata("loss", loss.toString())
                    .metadata("data", describe())
                    .build().fit(net, trainingData());
            return new Experiment.Outcome(loss.label(), r, evaluate(r.network(), 15), config.runDirectory());
        }

        /** Writes report.md into {@code dir}, then prints the table and the report's path. */
        Path conclude(java.io.PrintStream out, Path dir, String title, List<Experiment.Outcome> outcomes)
                throws IOException {
            Path report = Experiment.report(dir, title, preamble(), classNames, outcomes);
            out.println();
            out.print(Experiment.table(outcomes));
            out.println("report: " + report);
            return report;
        }

        /** The {@code data} section of config.json: enough to rebuild the same split ({@link #fromConfig}). */
        Map<String, Object> describe() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put(SOURCE, flags.msd != null ? "msd" : flags.images != null ? "folders" : "manifest");
            put(m, "msd", flags.msd);
            put(m, "images", flags.images);
            put(m, "labels", flags.labels);
            put(m, "manifest", flags.manifest);
            put(m, "labelMap", flags.labelMap);
            m.put("dims", dims);
            if (patchSize != null) {
                m.put("patchSize", patchSize);
                m.put("patchesPerCase", patchesPerCase);
            } else if (rank == 3) {
                m.put("sliceAxis", sliceAxis);
            }
            m.put("intensity", intensity);
            if (ct != null) {
                m.put(INTENSITY_STATISTICS, ctToConfig(ct));
            }
            if (targetSpacing != null) {
                m.put("spacing", targetSpacing);
            }
            m.put("augment", augment);
            m.put("channels", channels);
            m.put("classes", numClasses);
            m.put("classNames", classNames);
            m.put("valFraction", valFraction);
            m.put("splitSeed", seed);
            m.put("trainingCases", split.training().stream().map(Case::id).toList());
            m.put("validationCases", split.validation().stream().map(Case::id).toList());
            return m;
        }

        private static void put(Map<String, Object> m, String key, Path p) {
            if (p != null) {
                m.put(key, p.toAbsolutePath().normalize().toString());
            }
        }

        /** What the report says about the data. */
        String preamble() {
            return String.format(Locale.ROOT, "Data: %s, %dD (%s), %d channel(s), classes %s. Training: %d cases; "
                            + "evaluation: %d held-out cases (%s, --val-fraction %s, seed %d)%s.", source, dims,
                    dims == 3 ? "random " + join(patchSize) + " patches, " + patchesPerCase + " per case and epoch"
                            : rank == 3 ? "slices along axis " + sliceAxis : "whole images",
                    channels, String.join(", ", classNames), split.training().size(), split.validation().size(),
                    String.join(", ", split.validation().stream().map(Case::id).toList()), valFraction, seed,
                    dims == 3 ? ", whole volumes by Gaussian sliding-window inference" : "") + " " + preprocessing();
        }

        /** {@code x} to 6 significant digits, without trailing zeros (150, 0.125, 103.457). */
        static String number(double x) {
            return new java.math.BigDecimal(x).round(new java.math.MathContext(6)).stripTrailingZeros()
                    .toPlainString();
        }

        /** What the report says about normalisation, resampling and augmentation. */
        String preprocessing() {
            StringBuilder b = new StringBuilder("Intensity (--intensity ").append(intensity).append("): ");
            switch (intensity) {
                case "ct" -> {
                    b.append("nnU-Net's CT normalisation with the training foreground's statistics");
                    for (int c = 0; c < ct.channels().size(); c++) {
                        CtNormalization.Channel ch = ct.channels().get(c);
                        b.append(c == 0 ? ";" : ",").append(" channel ").append(c).append(": clip to [")
                                .append(number(ch.percentile005())).append(", ").append(number(ch.percentile995()))
                                .append("], then (x - ").append(number(ch.mean())).append(") / ")
                                .append(number(ch.std()));
                    }
                }
                case "percentile" -> b.append("each case clipped to its own [0.5, 99.5] percentiles, then z-scored");
                default -> b.append("each case z-scored over all its voxels");
            }
            b.append(". Grid: ").append(targetSpacing == null ? "each case's own"
                    : "resampled to " + Arrays.toString(targetSpacing) + " mm (image linear, label nearest"
                    + (targetSpacing.length == 2 && rank == 3 ? ", in-plane only" : "")
                    + "); metrics in that spacing");
            b.append(". Training augmentation (--augment ").append(augment).append("): ").append(switch (augment) {
                case "flips" -> "each spatial axis mirrored with probability 0.5";
                case "nnunet-lite" -> "each spatial axis mirrored with probability 0.5, brightness x U[0.75, 1.25] "
                        + "(p 0.15), gamma U[0.7, 1.5] on each channel's range (p 0.3)";
                default -> "none";
            }).append('.');
            return b.toString();
        }
    }
}
