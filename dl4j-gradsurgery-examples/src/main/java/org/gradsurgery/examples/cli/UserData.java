package org.gradsurgery.examples.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.data.Case;
import org.gradsurgery.data.Cases;
import org.gradsurgery.data.LabelMap;
import org.gradsurgery.data.MsdDataset;
import org.gradsurgery.data.PatchSampler;
import org.gradsurgery.data.Preprocessing;
import org.gradsurgery.data.Sample;
import org.gradsurgery.data.SegmentationDataSetIterator;
import org.gradsurgery.data.SegmentationMultiDataSetIterator;
import org.gradsurgery.data.Transform;
import org.gradsurgery.model.Inference;
import org.gradsurgery.model.SegmentationEvaluator;
import org.gradsurgery.model.SlidingWindowInference;
import org.gradsurgery.model.TrainingData;
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
 * <p>2D trains on whole slices along {@code --slice-axis} of each volume (or on whole 2D images), z-scored per case and
 * padded to a multiple of 2^(levels−1); 3D trains on random {@code --patch-size} patches, ⅓ of them centred on
 * foreground (nnU-Net), and is evaluated on whole validation volumes by Gaussian-weighted sliding-window inference.
 * Every choice is recorded in the run's config.json ({@link #describe}) so that {@code evaluate} and
 * {@code train --resume} rebuild the same split ({@link #fromConfig}).
 */
final class UserData {
    static final String SOURCE = "source";
    static final double DEFAULT_VAL_FRACTION = 0.2;
    static final int DEFAULT_PATCH = 64;
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
        List<Case> cases;
        List<String> names = null;
        if (msd != null) {
            MsdDataset ds = MsdDataset.open(msd);
            cases = ds.trainingCases();
            names = ds.labelNames();
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
        Cases.Split split = Cases.split(cases, vf, seed);
        double[] spacing = first.spacing();
        if (d == 2 && rank == 3) {
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
                spacing, levels, vf, seed);
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
                  LabelMap labelMap, double[] spacing, int levels, double valFraction, long seed) {

        /** z-score per case; in 2D padded so every slice fits the U-Net (3D patches are cut to size). */
        private Transform preprocess() {
            Transform z = Preprocessing.zScore(Preprocessing.NormalizationRegion.ALL);
            return dims == 2 ? z.then(Preprocessing.divisibleForLevels(levels)) : z;
        }

        private SegmentationDataSetIterator.Builder examples(List<Case> cases, int batchSize, long s, boolean train) {
            SegmentationDataSetIterator.Builder b = SegmentationDataSetIterator.builder().cases(cases)
                    .numClasses(numClasses).batchSize(batchSize).preprocess(preprocess()).shuffle(train).seed(s);
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
        org.gradsurgery.model.EvaluationResult evaluate(org.deeplearning4j.nn.graph.ComputationGraph net, int bins) {
            return evaluate(net, bins, new Mirroring());
        }

        /** {@link #evaluate(org.deeplearning4j.nn.graph.ComputationGraph, int)}, mirrored ({@link Mirroring}). */
        org.gradsurgery.model.EvaluationResult evaluate(org.deeplearning4j.nn.graph.ComputationGraph net, int bins,
                                                        Mirroring mirroring) {
            SegmentationEvaluator.Builder b = SegmentationEvaluator.builder().numClasses(numClasses).bins(bins)
                    .spacing(spacing).inference(mirroring.wholeImageInference());
            MultiDataSetIterator it;
            if (dims == 3) {
                SlidingWindowInference swi = mirroring.build(SlidingWindowInference.builder().patchSize(patchSize));
                b.inference(Inference.fromProbabilities(swi::predict));
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
        Experiment.Outcome run(Options.Model model, org.gradsurgery.model.TrainingConfig config, LossSpec loss,
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
            org.gradsurgery.model.TrainingResult r = org.gradsurgery.model.Trainer.builder(config).output(out)
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
                    dims == 3 ? ", whole volumes by Gaussian sliding-window inference" : "");
        }
    }
}
