package org.gradsurgery.examples.cli;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Map;
import org.gradsurgery.experiment.UNetSpec;
import org.gradsurgery.loss.AbstractTverskyLoss;
import org.gradsurgery.loss.GradientSurgery;
import org.gradsurgery.loss.LossKind;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.loss.Reduction;
import org.gradsurgery.model.UNet;
import org.gradsurgery.training.EarlyStopping;
import org.gradsurgery.training.TrainingConfig;
import picocli.CommandLine.Option;

/**
 * Option groups shared by the subcommands (picocli mixins). Each maps its flags onto a spec builder and sets only the
 * flags given, so the defaults are the specs' own ({@link UNetSpec}, {@link LossSpec}, {@link TrainingConfig}); a bad
 * value fails in the spec with an {@link org.gradsurgery.InvalidSettingException}, which {@link #FLAGS} names by its
 * flag.
 */
final class Options {
    private Options() {
    }

    /** The flag that sets each spec setting, for error messages ({@link GradSurgeryCli}). */
    static final Map<String, String> FLAGS = Map.ofEntries(
            Map.entry("loss", "--loss"), Map.entry("includeBackground", "--include-background"),
            Map.entry("reduction", "--reduction"),
            Map.entry("tverskyAlpha", "--tversky-alpha"), Map.entry("tverskyBeta", "--tversky-beta"),
            Map.entry("exponent", "--exponent"), Map.entry("surgerySpace", "--surgery-space"),
            Map.entry("surgeryWeighting", "--surgery-weighting"),
            Map.entry("ceWeight", "--ce-weight"), Map.entry("regionWeight", "--region-weight"),
            Map.entry("levels", "--levels"), Map.entry("baseFilters", "--filters"),
            Map.entry("convsPerLevel", "--convs-per-level"), Map.entry("normalization", "--norm"),
            Map.entry("dropout", "--dropout"), Map.entry("upsampling", "--upsampling"),
            Map.entry("learningRate", "--lr"), Map.entry("epochs", "--epochs"),
            Map.entry("maxIterations", "--max-iterations"), Map.entry("batchSize", "--batch-size"),
            Map.entry("seed", "--seed"), Map.entry("validateEvery", "--validate-every"),
            Map.entry("checkpointEvery", "--checkpoint-every"), Map.entry("earlyStopping", "--early-stopping"),
            Map.entry("patience", "--patience"), Map.entry("dims", "--dims"), Map.entry("patchSize", "--patch-size"),
            Map.entry("patchesPerCase", "--patches-per-case"), Map.entry("sliceAxis", "--slice-axis"),
            Map.entry("intensity", "--intensity"), Map.entry("spacing", "--spacing"),
            Map.entry("augmentation", "--augment"), Map.entry("labelGrouping", "--label-map"),
            Map.entry("numClasses", "--classes"), Map.entry("validationFraction", "--val-fraction"),
            Map.entry("downsample", "--downsample"), Map.entry("mirrorAxes", "--mirror-axes"),
            Map.entry("bins", "--bins"), Map.entry("losses", "--losses"));

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
        @Option(names = "--loss", paramLabel = "NAME", completionCandidates = LossNames.class,
                description = "Loss: ${COMPLETION-CANDIDATES} (default: dice).")
        String loss;

        @Option(names = "--include-background", arity = "1", paramLabel = "true|false",
                description = "Whether the region loss also scores the background class (default: true).")
        Boolean includeBackground;

        @Option(names = "--reduction", paramLabel = "REDUCTION",
                description = "How the region loss groups voxels: ${COMPLETION-CANDIDATES} (default: SAMPLE, one group "
                        + "per example and class, MONAI's; BATCH, one group per class over the whole batch, is "
                        + "nnU-Net's batch Dice).")
        Reduction reduction;

        @Option(names = "--tversky-alpha", paramLabel = "A",
                description = "Tversky α >= 0, the weight of false positives (tversky, focal-tversky; default: "
                        + AbstractTverskyLoss.DEFAULT_ALPHA + ").")
        Double tverskyAlpha;

        @Option(names = "--tversky-beta", paramLabel = "B",
                description = "Tversky β >= 0, the weight of false negatives (tversky, focal-tversky; default: "
                        + AbstractTverskyLoss.DEFAULT_BETA + ").")
        Double tverskyBeta;

        @Option(names = "--surgery", description = "Apply gradient vector field surgery to the loss.")
        boolean surgery;

        @Option(names = "--exponent", paramLabel = "GAMMA",
                description = "With --surgery: the error exponent γ >= 0 (default: " + GradientSurgery.DEFAULT_EXPONENT
                        + ").")
        Double exponent;

        @Option(names = "--surgery-space", paramLabel = "SPACE",
                description = "With --surgery: where it acts, ${COMPLETION-CANDIDATES} (default: LOGITS, the paper's).")
        GradientSurgery.Space surgerySpace;

        @Option(names = "--surgery-weighting", paramLabel = "KIND",
                description = "With --surgery: the voxel weights of the field, ${COMPLETION-CANDIDATES} (default: BASE, "
                        + "the region loss's own, the paper's; BALANCED: one weight per class so the field settles at "
                        + "p = q, region losses only, beyond the paper).")
        GradientSurgery.Weighting surgeryWeighting;

        @Option(names = "--ce-weight", paramLabel = "W",
                description = "Add W x cross-entropy (W >= 0) to the (surgery-wrapped) loss; 0 = none (default: 0).")
        Double ceWeight;

        @Option(names = "--region-weight", paramLabel = "W",
                description = "With --ce-weight > 0: the weight (>= 0) of the region loss next to the cross-entropy "
                        + "(default: 1).")
        Double regionWeight;

        /** The loss these flags describe (the rest at the defaults). */
        LossSpec spec() {
            return spec(LossSpec.builder());
        }

        /** {@code b} with the settings of the flags given (the others as {@code b} holds them), built. */
        LossSpec spec(LossSpec.Builder b) {
            if (surgery) {
                b.surgery(true);
            }
            if (loss != null) {
                b.kind(LossKind.parse(loss));
            }
            if (includeBackground != null) {
                b.includeBackground(includeBackground);
            }
            if (reduction != null) {
                b.reduction(reduction);
            }
            if (tverskyAlpha != null) {
                b.tverskyAlpha(tverskyAlpha);
            }
            if (tverskyBeta != null) {
                b.tverskyBeta(tverskyBeta);
            }
            if (exponent != null) {
                b.exponent(exponent);
            }
            if (surgerySpace != null) {
                b.surgerySpace(surgerySpace);
            }
            if (surgeryWeighting != null) {
                b.surgeryWeighting(surgeryWeighting);
            }
            if (ceWeight != null) {
                b.ceWeight(ceWeight);
            }
            if (regionWeight != null) {
                b.regionWeight(regionWeight);
            }
            LossSpec l = b.build();
            // LossSpec resets the settings a loss ignores; a flag the user gave for one is named, not dropped
            if ((tverskyAlpha != null || tverskyBeta != null) && !l.kind().usesTverskyWeights()) {
                throw ignored(tverskyAlpha != null ? "tverskyAlpha" : "tverskyBeta", "applies to tversky and "
                        + "focal-tversky only, not to " + l.kind().specName());
            }
            if ((exponent != null || surgerySpace != null || surgeryWeighting != null) && !l.surgery()) {
                throw ignored(exponent != null ? "exponent" : surgerySpace != null ? "surgerySpace"
                        : "surgeryWeighting", "applies with --surgery only");
            }
            if (regionWeight != null && !(l.ceWeight() > 0)) {
                throw ignored("regionWeight", "applies with --ce-weight > 0 only");
            }
            if ((includeBackground != null || reduction != null) && !l.kind().isRegion()) {
                throw ignored(includeBackground != null ? "includeBackground" : "reduction", "applies to region "
                        + "losses only, not to " + l.kind().specName());
            }
            return l;
        }

        private static org.gradsurgery.InvalidSettingException ignored(String setting, String problem) {
            return new org.gradsurgery.InvalidSettingException(null, setting, problem);
        }
    }

    /** The U-Net; spatial dims, channels and classes come from the data. */
    static final class Model {
        @Option(names = "--levels", paramLabel = "L",
                description = "U-Net resolution levels, 1 to 30 (1 = no pooling; 2D inputs are padded and 3D patches "
                        + "must be divisible by 2^(levels-1)) (default: " + UNetSpec.DEFAULT_LEVELS + ").")
        Integer levels;

        @Option(names = "--filters", paramLabel = "F",
                description = "Filters at the first level (1 or more), doubling per level (default: "
                        + UNetSpec.DEFAULT_BASE_FILTERS + ").")
        Integer filters;

        @Option(names = "--convs-per-level", paramLabel = "K",
                description = "Convolution -> norm -> ReLU steps per block, 1 or more (default: "
                        + UNetSpec.DEFAULT_CONVS_PER_LEVEL + ").")
        Integer convsPerLevel;

        @Option(names = "--norm", paramLabel = "KIND",
                description = "Normalisation: ${COMPLETION-CANDIDATES} (default: INSTANCE).")
        UNet.Normalization norm;

        @Option(names = "--upsampling", paramLabel = "KIND",
                description = "Decoder upsampling: ${COMPLETION-CANDIDATES} (default: TRANSPOSED_CONV).")
        UNet.Upsampling upsampling;

        @Option(names = "--dropout", paramLabel = "P",
                description = "Drop probability on inner convolutions, in [0, 1) (default: 0).")
        Double dropout;

        @Option(names = "--lr", paramLabel = "RATE",
                description = "Adam learning rate, > 0 (default: " + UNetSpec.DEFAULT_LEARNING_RATE + ").")
        Double lr;

        /** The U-Net settings these flags give (the rest at the defaults; dims, channels, classes from the data). */
        UNetSpec spec() {
            return spec(UNetSpec.builder());
        }

        /** {@code b} with the settings of the flags given (the others as {@code b} holds them), built. */
        UNetSpec spec(UNetSpec.Builder b) {
            if (levels != null) {
                b.levels(levels);
            }
            if (filters != null) {
                b.baseFilters(filters);
            }
            if (convsPerLevel != null) {
                b.convsPerLevel(convsPerLevel);
            }
            if (norm != null) {
                b.normalization(norm);
            }
            if (upsampling != null) {
                b.upsampling(upsampling);
            }
            if (dropout != null) {
                b.dropout(dropout);
            }
            if (lr != null) {
                b.learningRate(lr);
            }
            return b.build();
        }
    }

    /** Training budget and bookkeeping. */
    static final class Training {
        @Option(names = "--epochs", paramLabel = "N",
                description = "Epochs, passes over the training cases, 1 or more (default: " + TrainingConfig.DEFAULT_EPOCHS
                        + ").")
        Integer epochs;

        @Option(names = "--max-iterations", paramLabel = "N",
                description = "Stop after N updates in total (0 = no limit; default: 0).")
        Long maxIterations;

        @Option(names = "--batch-size", paramLabel = "N",
                description = "Examples per batch, 1 or more: slices or 2D images, or 3D patches (default: "
                        + TrainingConfig.DEFAULT_BATCH_SIZE + ").")
        Integer batchSize;

        @Option(names = "--seed", paramLabel = "N",
                description = "Seed of weights, split, data order, augmentation and dropout (default: "
                        + TrainingConfig.DEFAULT_SEED + ").")
        Long seed;

        @Option(names = "--validate-every", paramLabel = "N",
                description = "Validate every N epochs, 0 = never (default: 1).")
        Integer validateEvery;

        @Option(names = "--checkpoint-every", paramLabel = "N",
                description = "Checkpoint every N epochs, 0 = only at the end (default: 1).")
        Integer checkpointEvery;

        @Option(names = "--early-stopping", paramLabel = "METRIC",
                description = "Stop when the validation METRIC (loss, dice or ece) has not improved for --patience "
                        + "validated epochs (default: off; needs --validate-every >= 1).")
        String earlyStopping;

        /** Validated epochs without improvement before {@code --early-stopping} stops (the CLI's default). */
        static final int DEFAULT_PATIENCE = 5;

        @Option(names = "--patience", paramLabel = "N",
                description = "With --early-stopping: validated epochs without improvement before it stops, 1 or more "
                        + "(default: " + DEFAULT_PATIENCE + ").")
        Integer patience;

        @Option(names = "--progress", paramLabel = "MODE",
                description = "Progress display: ${COMPLETION-CANDIDATES} (default: AUTO).")
        TrainingConfig.ProgressMode progress;

        /** The experiment's seed. */
        long seed() {
            return seed != null ? seed : TrainingConfig.DEFAULT_SEED;
        }

        /** The training these flags describe (the rest at the defaults), writing into {@code runDir}. */
        TrainingConfig config(Path runDir) {
            return config(TrainingConfig.builder().runDirectory(runDir).seed(seed()).build());
        }

        /** {@code base} with the settings of the flags given (the others as {@code base} holds them). */
        TrainingConfig config(TrainingConfig base) {
            TrainingConfig.Builder b = base.toBuilder();
            if (seed != null) {
                b.seed(seed);
            }
            if (epochs != null) {
                b.epochs(epochs);
            }
            if (maxIterations != null) {
                b.maxIterations(maxIterations);
            }
            if (batchSize != null) {
                b.batchSize(batchSize);
            }
            if (validateEvery != null) {
                b.validateEvery(validateEvery);
            }
            if (checkpointEvery != null) {
                b.checkpointEvery(checkpointEvery);
            }
            if (progress != null) {
                b.progress(progress);
            }
            if (earlyStopping != null) {
                b.earlyStopping(EarlyStopping.on(EarlyStopping.Metric.parse(earlyStopping),
                        patience != null ? patience : DEFAULT_PATIENCE));
            } else if (patience != null) {
                if (base.earlyStopping() == null) {
                    throw new org.gradsurgery.InvalidSettingException(null, "patience",
                            "applies with --early-stopping METRIC only");
                }
                b.earlyStopping(EarlyStopping.on(base.earlyStopping().metric(), patience));
            }
            return b.build();
        }
    }
}
