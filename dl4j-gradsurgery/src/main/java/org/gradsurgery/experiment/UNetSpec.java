package org.gradsurgery.experiment;

import java.util.Arrays;
import java.util.Objects;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.gradsurgery.InvalidSettingException;
import org.gradsurgery.model.UNet;
import org.gradsurgery.training.TrainingConfig;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * Every option of {@link UNet.Builder} but the loss (which {@link org.gradsurgery.loss.LossSpec} describes), validated,
 * immutable, with one JSON form (the {@code model} section of a run's {@code config.json}). The defaults of the
 * library, the CLI and the sweeps are the ones here ({@link #builder()}):
 * <pre>
 *   spatialDims 2, inputChannels 1, numClasses 2, levels 4, baseFilters 16, convsPerLevel 2,
 *   normalization INSTANCE, dropout 0, upsampling TRANSPOSED_CONV, activation SOFTMAX, dataFormat NCHW (2D only),
 *   inputSize none, seed 42, updater Adam(1e-3), dataType FLOAT
 * </pre>
 * Constraints (checked here, so a spec read from JSON is as valid as one built): 2 ≤ spatialDims ≤ 3; inputChannels,
 * baseFilters, convsPerLevel, levels ≥ 1 and f_L = baseFilters·2^(levels−1) fits an int; 0 ≤ dropout &lt; 1;
 * numClasses ≥ 2 for SOFTMAX, ≥ 1 for SIGMOID; every inputSize value a positive multiple of 2^(levels−1); dataFormat
 * only in 2D; a floating-point dataType. A bad value is an {@link InvalidSettingException} naming the setting.
 *
 * <p>{@code UNet.builder().from(spec).loss(lossSpec.create()).build()} builds the network and {@link UNet#spec()}
 * gives this back, so a saved spec rebuilds the same network, parameter for parameter (same seed).
 */
public record UNetSpec(@JsonProperty("spatialDims") int spatialDims,
                       @JsonProperty("inputChannels") int inputChannels,
                       @JsonProperty("numClasses") int numClasses,
                       @JsonProperty("levels") int levels,
                       @JsonProperty("baseFilters") int baseFilters,
                       @JsonProperty("convsPerLevel") int convsPerLevel,
                       @JsonProperty("normalization") UNet.Normalization normalization,
                       @JsonProperty("dropout") double dropout,
                       @JsonProperty("upsampling") UNet.Upsampling upsampling,
                       @JsonProperty("activation") UNet.OutputActivation activation,
                       @JsonProperty("dataFormat") CNN2DFormat dataFormat,
                       @JsonProperty("inputSize") int[] inputSize,
                       @JsonProperty("seed") long seed,
                       @JsonProperty("updater") IUpdater updater,
                       @JsonProperty("dataType") DataType dataType) implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    private static final String OWNER = "UNet";

    /** Default resolution levels. */
    public static final int DEFAULT_LEVELS = 4;
    /** Default filters at the first level. */
    public static final int DEFAULT_BASE_FILTERS = 16;
    /** Default convolutions per block. */
    public static final int DEFAULT_CONVS_PER_LEVEL = 2;
    /** Default Adam learning rate. */
    public static final double DEFAULT_LEARNING_RATE = 1e-3;
    /** Default seed: the training's ({@link TrainingConfig#DEFAULT_SEED}), so one seed governs a run. */
    public static final long DEFAULT_SEED = TrainingConfig.DEFAULT_SEED;

    /** The defaults (see the class documentation). */
    public static final UNetSpec DEFAULTS = new UNetSpec(2, 1, 2, DEFAULT_LEVELS, DEFAULT_BASE_FILTERS,
            DEFAULT_CONVS_PER_LEVEL, UNet.Normalization.INSTANCE, 0.0, UNet.Upsampling.TRANSPOSED_CONV,
            UNet.OutputActivation.SOFTMAX, null, null, DEFAULT_SEED, new Adam(DEFAULT_LEARNING_RATE), DataType.FLOAT);

    /** Validates (see the class documentation); null enums take their defaults, a 2D dataFormat defaults to NCHW. */
    @JsonCreator
    public UNetSpec {
        normalization = normalization == null ? UNet.Normalization.INSTANCE : normalization;
        upsampling = upsampling == null ? UNet.Upsampling.TRANSPOSED_CONV : upsampling;
        activation = activation == null ? UNet.OutputActivation.SOFTMAX : activation;
        updater = updater == null ? new Adam(DEFAULT_LEARNING_RATE) : updater.clone();
        dataType = dataType == null ? DataType.FLOAT : dataType;
        inputSize = inputSize == null ? null : inputSize.clone();
        if (spatialDims != 2 && spatialDims != 3) {
            throw invalid("spatialDims", "must be 2 or 3, got " + spatialDims);
        }
        if (spatialDims == 2 && dataFormat == null) {
            dataFormat = CNN2DFormat.NCHW;
        } else if (spatialDims == 3 && dataFormat != null) {
            throw invalid("dataFormat", "(" + dataFormat + ") applies to 2D only; 3D U-Nets are always NCDHW"
                    + " (channels first)");
        }
        positive("inputChannels", inputChannels);
        positive("baseFilters", baseFilters);
        positive("convsPerLevel", convsPerLevel);
        if (levels < 1) {
            throw invalid("levels", "must be >= 1 (1 = no pooling), got " + levels);
        }
        if (levels > 30 || (long) baseFilters << (levels - 1) > Integer.MAX_VALUE) {
            throw invalid("baseFilters", "* 2^(levels-1) overflows: baseFilters=" + baseFilters + ", levels="
                    + levels);
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw invalid("dropout", "is a drop probability in [0, 1), got " + dropout);
        }
        if (activation == UNet.OutputActivation.SOFTMAX && numClasses < 2) {
            throw invalid("numClasses", "must be >= 2 with SOFTMAX (background + classes; the softmax of a single"
                    + " channel is constant 1), got " + numClasses + "; for one foreground label use activation"
                    + " SIGMOID with numClasses 1");
        }
        if (activation == UNet.OutputActivation.SIGMOID && numClasses < 1) {
            throw invalid("numClasses", "must be >= 1 with SIGMOID (one channel per independent label, no"
                    + " background channel), got " + numClasses);
        }
        if (!dataType.isFPType()) {
            throw invalid("dataType", "must be a floating-point type, got " + dataType);
        }
        if (inputSize != null) {
            if (inputSize.length != spatialDims) {
                throw invalid("inputSize", "needs " + spatialDims + " values for a " + spatialDims + "D U-Net "
                        + (spatialDims == 2 ? "(H, W)" : "(D, H, W)") + ", got " + Arrays.toString(inputSize));
            }
            int divisor = 1 << (levels - 1);
            for (int s : inputSize) {
                if (s <= 0 || s % divisor != 0) {
                    throw invalid("inputSize", Arrays.toString(inputSize) + " is not divisible by 2^(levels-1) = "
                            + divisor + " (levels = " + levels + "): " + s + " cannot be pooled " + (levels - 1)
                            + " times and upsampled back to the skip connections; use multiples of " + divisor
                            + " (e.g. " + Math.max(divisor, s / divisor * divisor) + " or " + (s / divisor + 1)
                            * divisor + ") or fewer levels");
                }
            }
        }
    }

    private static void positive(String name, int value) {
        if (value < 1) {
            throw invalid(name, "must be >= 1, got " + value);
        }
    }

    private static InvalidSettingException invalid(String setting, String problem) {
        return new InvalidSettingException(OWNER, setting, problem);
    }

    /** A builder with the defaults. */
    public static Builder builder() {
        return DEFAULTS.toBuilder();
    }

    /** A builder holding these settings. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.spatialDims = spatialDims;
        b.inputChannels = inputChannels;
        b.numClasses = numClasses;
        b.levels = levels;
        b.baseFilters = baseFilters;
        b.convsPerLevel = convsPerLevel;
        b.normalization = normalization;
        b.dropout = dropout;
        b.upsampling = upsampling;
        b.activation = activation;
        b.dataFormat = spatialDims == 2 && dataFormat == CNN2DFormat.NCHW ? null : dataFormat;
        b.inputSize = inputSize == null ? null : inputSize.clone();
        b.seed = seed;
        b.updater = updater.clone();
        b.dataType = dataType;
        return b;
    }

    /** Spatial sizes fed to the network must be multiples of this: 2^(levels−1). */
    public int sizeDivisor() {
        return 1 << (levels - 1);
    }

    @Override
    public int[] inputSize() {
        return inputSize == null ? null : inputSize.clone();
    }

    @Override
    public IUpdater updater() {
        return updater.clone();
    }

    /** The learning rate of the updater (its initial one under a schedule). */
    public double learningRate() {
        return updater.getLearningRate(0, 0);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof UNetSpec s && spatialDims == s.spatialDims && inputChannels == s.inputChannels
                && numClasses == s.numClasses && levels == s.levels && baseFilters == s.baseFilters
                && convsPerLevel == s.convsPerLevel && normalization == s.normalization
                && Double.compare(dropout, s.dropout) == 0 && upsampling == s.upsampling && activation == s.activation
                && dataFormat == s.dataFormat && Arrays.equals(inputSize, s.inputSize) && seed == s.seed
                && updater.equals(s.updater) && dataType == s.dataType;
    }

    @Override
    public int hashCode() {
        return Objects.hash(spatialDims, inputChannels, numClasses, levels, baseFilters, convsPerLevel, normalization,
                dropout, upsampling, activation, dataFormat, Arrays.hashCode(inputSize), seed, updater, dataType);
    }

    @Override
    public String toString() {
        return "UNetSpec(" + spatialDims + "D, " + (spatialDims == 2 ? dataFormat : "NCDHW") + ", in=" + inputChannels
                + ", classes=" + numClasses + ", levels=" + levels + ", baseFilters=" + baseFilters
                + ", convsPerLevel=" + convsPerLevel + ", norm=" + normalization + ", dropout=" + dropout + ", up="
                + upsampling + ", activation=" + activation
                + (inputSize == null ? "" : ", inputSize=" + Arrays.toString(inputSize)) + ", seed=" + seed
                + ", updater=" + updater + ", dataType=" + dataType + ")";
    }

    /** Mutable settings; {@link #build()} validates them together. */
    public static final class Builder {
        private int spatialDims;
        private int inputChannels;
        private int numClasses;
        private int levels;
        private int baseFilters;
        private int convsPerLevel;
        private UNet.Normalization normalization;
        private double dropout;
        private UNet.Upsampling upsampling;
        private UNet.OutputActivation activation;
        private CNN2DFormat dataFormat;
        private int[] inputSize;
        private long seed;
        private IUpdater updater;
        private DataType dataType;

        private Builder() {
        }

        public Builder spatialDims(int spatialDims) {
            this.spatialDims = spatialDims;
            return this;
        }

        public Builder inputChannels(int inputChannels) {
            this.inputChannels = inputChannels;
            return this;
        }

        public Builder numClasses(int numClasses) {
            this.numClasses = numClasses;
            return this;
        }

        public Builder levels(int levels) {
            this.levels = levels;
            return this;
        }

        public Builder baseFilters(int baseFilters) {
            this.baseFilters = baseFilters;
            return this;
        }

        public Builder convsPerLevel(int convsPerLevel) {
            this.convsPerLevel = convsPerLevel;
            return this;
        }

        public Builder normalization(UNet.Normalization normalization) {
            this.normalization = Objects.requireNonNull(normalization, "normalization");
            return this;
        }

        public Builder dropout(double dropout) {
            this.dropout = dropout;
            return this;
        }

        public Builder upsampling(UNet.Upsampling upsampling) {
            this.upsampling = Objects.requireNonNull(upsampling, "upsampling");
            return this;
        }

        public Builder activation(UNet.OutputActivation activation) {
            this.activation = Objects.requireNonNull(activation, "activation");
            return this;
        }

        public Builder dataFormat(CNN2DFormat dataFormat) {
            this.dataFormat = Objects.requireNonNull(dataFormat, "dataFormat");
            return this;
        }

        public Builder inputSize(int... inputSize) {
            this.inputSize = inputSize == null ? null : inputSize.clone();
            return this;
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        public Builder updater(IUpdater updater) {
            this.updater = Objects.requireNonNull(updater, "updater").clone();
            return this;
        }

        /** {@code updater(new Adam(learningRate))}. */
        public Builder learningRate(double learningRate) {
            if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
                throw invalid("learningRate", "must be finite and > 0, got " + learningRate);
            }
            return updater(new Adam(learningRate));
        }

        public Builder dataType(DataType dataType) {
            this.dataType = Objects.requireNonNull(dataType, "dataType");
            if (!dataType.isFPType()) {
                throw invalid("dataType", "must be a floating-point type, got " + dataType);
            }
            return this;
        }

        /** @throws InvalidSettingException naming the first invalid setting */
        public UNetSpec build() {
            return new UNetSpec(spatialDims, inputChannels, numClasses, levels, baseFilters, convsPerLevel,
                    normalization, dropout, upsampling, activation, dataFormat, inputSize, seed, updater, dataType);
        }
    }
}
