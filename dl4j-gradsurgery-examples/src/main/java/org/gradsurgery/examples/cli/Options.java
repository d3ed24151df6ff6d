package org.gradsurgery.examples.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.data.Augmentation;
import org.gradsurgery.data.Datasets;
import org.gradsurgery.data.SegmentationMultiDataSetIterator;
import org.gradsurgery.loss.GradientSurgery;
import org.gradsurgery.loss.LossKind;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.training.EarlyStopping;
import org.gradsurgery.training.TrainingConfig;
import org.gradsurgery.training.TrainingData;
import org.gradsurgery.model.UNet;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Option groups shared by the subcommands (picocli mixins). */
final class Options {
    private Options() {
    }

    /** {@code --datasets}: where the repository's datasets/ folder is (train, compare, evaluate, demo, sweep). */
    static final class DatasetsDir {
        @Option(names = "--datasets", paramLabel = "DIR",
                description = "The repository's datasets/ folder (default: -Dgradsurgery.datasets, "
                        + "$GRADSURGERY_DATASETS, or datasets/ in the working directory or a parent).")
        Path dir;

        /** The folder given, or the one {@link Datasets#locate()} finds. */
        Path locate() {
            return dir != null ? dir : Datasets.locate();
        }

        /** The bundled Colin27 deep-grey-matter slices at {@code downsample}. */
        Datasets.Colin27DeepGm colin27(int downsample) throws IOException {
            return Datasets.colin27DeepGm(locate(), downsample);
        }
    }

    /** The bundled demo data: Colin27 axial T1 slices, 5 deep-grey-matter classes, held-out slab (docs/DATA.md). */
    static final class Data {
        @Mixin
        DatasetsDir datasets = new DatasetsDir();

        @Option(names = "--downsample", paramLabel = "N",
                description = "In-plane downsampling of the Colin27 slices: 1 = 96x96, 2 = 48x48 (default: 1, or what "
                        + "the model's run recorded).")
        Integer downsample;

        int downsampleOr(int fallback) {
            return downsample != null ? downsample : fallback;
        }

        Datasets.Colin27DeepGm load(int fallbackDownsample) throws IOException {
            int n = downsampleOr(fallbackDownsample);
            if (n != 1 && n != 2) {
                throw new IllegalArgumentException("--downsample must be 1 (96x96) or 2 (48x48), got " + n);
            }
            return datasets.colin27(n);
        }

        static Map<String, Object> describe(int downsample) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("dataset", Datasets.COLIN27_DEEPGM);
            m.put("downsample", downsample);
            return m;
        }

        /** Shuffled, left-right-flip-augmented training slices and the held-out validation slab. */
        static TrainingData trainingData(Datasets.Colin27DeepGm d) {
            return new TrainingData() {
                @Override
                public MultiDataSetIterator training(int batchSize, long seed) {
                    return new SegmentationMultiDataSetIterator(d.trainIterator(batchSize, seed,
                            Augmentation.randomFlip(0.5, 1)));
                }

                @Override
                public MultiDataSetIterator validation(int batchSize) {
                    return TrainingData.batches(d.validation(), batchSize);
                }

                @Override
                public int batchesPerEpoch(int batchSize) {
                    return (int) ((d.trainFeatures().size(0) + batchSize - 1) / batchSize);
                }
            };
        }
    }

    /** The names of {@link LossKind}, for picocli's {@code ${COMPLETION-CANDIDATES}} in help texts. */
    static final class LossNames implements Iterable<String> {
        @Override
        public Iterator<String> iterator() {
            return Arrays.stream(LossKind.values()).map(LossKind::specName).iterator();
        }
    }

    /**
     * The loss of {@code train}: one flag per {@link LossSpec} setting, so every loss a sweep's {@code LossSpace}
     * yields can be trained again (the sweep prints the flags, {@code SweepReport.trainLossFlags}).
     */
    static final class Loss {
        /** Flag of each LossSpec setting, to name the flag in errors. */
        private static final Map<String, String> FLAGS = Map.of("exponent", "--exponent", "tverskyAlpha",
                "--tversky-alpha", "tverskyBeta", "--tversky-beta", "ceWeight", "--ce-weight", "regionWeight",
                "--region-weight");

        @Option(names = "--loss", defaultValue = "dice", paramLabel = "NAME", completionCandidates = LossNames.class,
                description = "Loss: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
        String loss;

        @Option(names = "--include-background", arity = "1", defaultValue = "true", paramLabel = "true|false",
                description = "Whether the region loss also scores the background class (default: ${DEFAULT-VALUE}).")
        boolean includeBackground;

        @Option(names = "--tversky-alpha", defaultValue = "0.5", paramLabel = "A",
                description = "Tversky α, the weight of false positives (tversky, focal-tversky; default: "
                        + "${DEFAULT-VALUE}).")
        double tverskyAlpha;

        @Option(names = "--tversky-beta", defaultValue = "0.5", paramLabel = "B",
                description = "Tversky β, the weight of false negatives (tversky, focal-tversky; default: "
                        + "${DEFAULT-VALUE}).")
        double tverskyBeta;

        @Option(names = "--surgery", description = "Apply gradient vector field surgery to the loss.")
        boolean surgery;

        @Option(names = "--exponent", defaultValue = "1", paramLabel = "GAMMA",
                description = "Surgery error exponent γ (default: ${DEFAULT-VALUE}).")
        double exponent;

        @Option(names = "--surgery-space", defaultValue = "logits", paramLabel = "SPACE",
                description = "Where the surgery acts: logits (the paper's) or probabilities (default: "
                        + "${DEFAULT-VALUE}).")
        String surgerySpace;

        @Option(names = "--ce-weight", defaultValue = "0", paramLabel = "W",
                description = "Add W x cross-entropy to the (surgery-wrapped) loss; 0 = none (default: "
                        + "${DEFAULT-VALUE}).")
        double ceWeight;

        @Option(names = "--region-weight", defaultValue = "1", paramLabel = "W",
                description = "Weight of the region loss next to a cross-entropy term (default: ${DEFAULT-VALUE}).")
        double regionWeight;

        /** The loss these flags describe; errors name the flag. */
        LossSpec spec() {
            LossKind kind;
            try {
                kind = LossKind.parse(loss);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--loss: " + e.getMessage(), e);
            }
            GradientSurgery.Space space = null;
            for (GradientSurgery.Space s : GradientSurgery.Space.values()) {
                if (s.name().equalsIgnoreCase(surgerySpace.trim())) {
                    space = s;
                }
            }
            if (space == null) {
                throw new IllegalArgumentException("--surgery-space must be logits or probabilities, got "
                        + surgerySpace);
            }
            try {
                return LossSpec.builder().kind(kind).includeBackground(includeBackground).tverskyAlpha(tverskyAlpha)
                        .tverskyBeta(tverskyBeta).surgery(surgery).exponent(exponent).surgerySpace(space)
                        .ceWeight(ceWeight).regionWeight(regionWeight).build();
            } catch (IllegalArgumentException e) {
                String setting = e.getMessage().split(" ", 2)[0];
                throw new IllegalArgumentException(FLAGS.getOrDefault(setting, setting)
                        + e.getMessage().substring(setting.length()), e);
            }
        }
    }

    /** The 2D U-Net. */
    static final class Model {
        @Option(names = "--levels", defaultValue = "3", paramLabel = "L",
                description = "U-Net resolution levels (default: ${DEFAULT-VALUE}).")
        int levels;

        @Option(names = "--filters", defaultValue = "8", paramLabel = "F",
                description = "Filters at the first level, doubling per level (default: ${DEFAULT-VALUE}).")
        int filters;

        @Option(names = "--norm", defaultValue = "INSTANCE", paramLabel = "KIND",
                description = "Normalisation: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
        UNet.Normalization norm;

        @Option(names = "--dropout", defaultValue = "0", paramLabel = "P",
                description = "Drop probability on inner convolutions (default: ${DEFAULT-VALUE}).")
        double dropout;

        @Option(names = "--lr", defaultValue = "0.003", paramLabel = "RATE",
                description = "Adam learning rate (default: ${DEFAULT-VALUE}).")
        double lr;

        UNet unet(int classes, long seed, ILossFunction loss, long size) {
            return builder(2, 1, classes, seed, loss).inputSize((int) size, (int) size).build();
        }

        /** The U-Net of these flags for {@code dims}-D inputs with {@code channels} channels (size left open). */
        UNet.Builder builder(int dims, int channels, int classes, long seed, ILossFunction loss) {
            if (!(lr > 0)) {
                throw new IllegalArgumentException("--lr must be > 0, got " + lr);
            }
            return UNet.builder().spatialDims(dims).inputChannels(channels).numClasses(classes).levels(levels)
                    .baseFilters(filters).normalization(norm).dropout(dropout).loss(loss).seed(seed)
                    .updater(new Adam(lr));
        }

        Map<String, Object> describe(ComputationGraph net) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("architecture", "UNet 2D");
            m.put("levels", levels);
            m.put("baseFilters", filters);
            m.put("normalization", norm.name());
            m.put("dropout", dropout);
            m.put("updater", "Adam");
            m.put("learningRate", lr);
            m.put("parameters", net.numParams());
            return m;
        }
    }

    /** Training budget and bookkeeping. */
    static final class Training {
        @Option(names = "--epochs", defaultValue = "40", paramLabel = "N",
                description = "Epochs (default: ${DEFAULT-VALUE}).")
        int epochs;

        @Option(names = "--max-iterations", defaultValue = "0", paramLabel = "N",
                description = "Stop after N updates in total (0 = no limit; default: ${DEFAULT-VALUE}).")
        long maxIterations;

        @Option(names = "--batch-size", defaultValue = "8", paramLabel = "N",
                description = "Slices per batch (default: ${DEFAULT-VALUE}).")
        int batchSize;

        @Option(names = "--seed", defaultValue = "42", paramLabel = "N",
                description = "Seed of weights, data order, augmentation and dropout (default: ${DEFAULT-VALUE}).")
        long seed;

        @Option(names = "--validate-every", defaultValue = "1", paramLabel = "N",
                description = "Validate every N epochs, 0 = never (default: ${DEFAULT-VALUE}).")
        int validateEvery;

        @Option(names = "--checkpoint-every", defaultValue = "1", paramLabel = "N",
                description = "Checkpoint every N epochs, 0 = only at the end (default: ${DEFAULT-VALUE}).")
        int checkpointEvery;

        @Option(names = "--early-stopping", paramLabel = "METRIC",
                description = "Stop when the validation METRIC (loss, dice or ece) stops improving.")
        String earlyStopping;

        @Option(names = "--patience", defaultValue = "5", paramLabel = "N",
                description = "Epochs without improvement before early stopping (default: ${DEFAULT-VALUE}).")
        int patience;

        @Option(names = "--progress", defaultValue = "AUTO", paramLabel = "MODE",
                description = "Progress display: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
        TrainingConfig.ProgressMode progress;

        TrainingConfig config(Path runDir) {
            TrainingConfig.Builder b = TrainingConfig.builder().epochs(epochs).maxIterations(maxIterations)
                    .batchSize(batchSize).seed(seed).validateEvery(validateEvery).checkpointEvery(checkpointEvery)
                    .runDirectory(runDir).progress(progress);
            if (earlyStopping != null) {
                b.earlyStopping(EarlyStopping.on(EarlyStopping.Metric.parse(earlyStopping), patience));
            }
            try {
                return b.build();
            } catch (IllegalArgumentException e) {
                // name the flag rather than the builder method
                throw new IllegalArgumentException(e.getMessage().replace("TrainingConfig: ", "")
                        .replace("batchSize", "--batch-size").replace("maxIterations", "--max-iterations")
                        .replace("validateEvery", "--validate-every").replace("checkpointEvery", "--checkpoint-every")
                        .replace("epochs", "--epochs"), e);
            }
        }
    }
}
