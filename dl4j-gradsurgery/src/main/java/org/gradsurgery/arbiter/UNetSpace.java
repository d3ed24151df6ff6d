package org.gradsurgery.arbiter;

import java.util.Objects;
import org.deeplearning4j.arbiter.optimize.api.ParameterSpace;
import org.gradsurgery.experiment.UNetSpec;
import org.gradsurgery.model.UNet;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * An Arbiter space over the U-Net builder's options, yielding {@link UNetSpec}s (the other settings at their
 * defaults; dims, channels, classes and size are the data's).
 *
 * <p>Why not Arbiter's {@code ComputationGraphSpace}: it describes a graph as a fixed list of layer spaces, so the
 * depth (levels) cannot vary, and the project's U-Net needs its own vertices (channel concatenation, instance
 * normalisation, the segmentation loss layer); holding those as fixed layers also hits Arbiter beta7's known
 * defect that {@code ComputationGraphSpace.fromJson} fails on a space with a fixed layer. This space instead
 * yields the builder options, and the sweep's task creator builds each candidate from the project's U-Net builder.
 *
 * <p>Unset children are fixed at {@link UNetSpec#DEFAULTS}: levels, base filters, normalisation, dropout, learning
 * rate.
 */
public final class UNetSpace extends CompositeSpace<UNetSpec> {

    @JsonProperty("levels")
    private ParameterSpace<Integer> levels;
    @JsonProperty("baseFilters")
    private ParameterSpace<Integer> baseFilters;
    @JsonProperty("normalization")
    private ParameterSpace<String> normalization;
    @JsonProperty("dropout")
    private ParameterSpace<Double> dropout;
    @JsonProperty("learningRate")
    private ParameterSpace<Double> learningRate;

    /** For Jackson. */
    private UNetSpace() {
    }

    private UNetSpace(Builder b) {
        UNetSpec d = UNetSpec.DEFAULTS;
        levels = orFixed(b.levels, d.levels());
        baseFilters = orFixed(b.baseFilters, d.baseFilters());
        normalization = orFixed(b.normalization, d.normalization().name());
        dropout = orFixed(b.dropout, d.dropout());
        learningRate = orFixed(b.learningRate, d.learningRate());
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public UNetSpec getValue(double[] values) {
        return UNetSpec.builder().levels((int) Math.round(number(levels, values, "levels")))
                .baseFilters((int) Math.round(number(baseFilters, values, "baseFilters")))
                .normalization(UNet.Normalization.valueOf(String.valueOf(normalization.getValue(values))
                        .trim().toUpperCase(java.util.Locale.ROOT)))
                .dropout(number(dropout, values, "dropout"))
                .learningRate(number(learningRate, values, "learningRate")).build();
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof UNetSpace)) {
            return false;
        }
        UNetSpace s = (UNetSpace) o;
        return levels.equals(s.levels) && baseFilters.equals(s.baseFilters) && normalization.equals(s.normalization)
                && dropout.equals(s.dropout) && learningRate.equals(s.learningRate);
    }

    @Override
    public int hashCode() {
        return Objects.hash(levels, baseFilters, normalization, dropout, learningRate);
    }

    @Override
    public String toString() {
        return "UNetSpace(levels=" + levels + ", baseFilters=" + baseFilters + ", normalization=" + normalization
                + ", dropout=" + dropout + ", learningRate=" + learningRate + ")";
    }

    /** Builder: every child optional (defaults in the class documentation). */
    public static final class Builder {
        private ParameterSpace<Integer> levels;
        private ParameterSpace<Integer> baseFilters;
        private ParameterSpace<String> normalization;
        private ParameterSpace<Double> dropout;
        private ParameterSpace<Double> learningRate;

        private Builder() {
        }

        public Builder levels(ParameterSpace<Integer> levels) {
            this.levels = levels;
            return this;
        }

        public Builder baseFilters(ParameterSpace<Integer> baseFilters) {
            this.baseFilters = baseFilters;
            return this;
        }

        /** Names INSTANCE, BATCH, NONE (any case). */
        public Builder normalization(ParameterSpace<String> normalization) {
            this.normalization = normalization;
            return this;
        }

        public Builder dropout(ParameterSpace<Double> dropout) {
            this.dropout = dropout;
            return this;
        }

        public Builder learningRate(ParameterSpace<Double> learningRate) {
            this.learningRate = learningRate;
            return this;
        }

        public UNetSpace build() {
            return new UNetSpace(this);
        }
    }
}
