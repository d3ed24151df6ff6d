package org.gradsurgery.arbiter;

import java.util.Objects;
import org.deeplearning4j.arbiter.optimize.api.ParameterSpace;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * An Arbiter space over the U-Net builder's options, yielding {@link UNetSettings}.
 *
 * <p>Why not Arbiter's {@code ComputationGraphSpace}: it describes a graph as a fixed list of layer spaces, so the
 * depth (levels) cannot vary, and the project's U-Net needs its own vertices (channel concatenation, instance
 * normalisation, the segmentation loss layer); holding those as fixed layers also hits Arbiter beta7's known
 * defect that {@code ComputationGraphSpace.fromJson} fails on a space with a fixed layer. This space instead
 * yields the builder options, and the sweep's task creator builds each candidate from the project's U-Net builder.
 *
 * <p>Defaults of unset children: 3 levels, 16 base filters, INSTANCE normalisation, no dropout, learning rate 1e-3.
 */
public final class UNetSpace extends CompositeSpace<UNetSettings> {

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
        levels = orFixed(b.levels, 3);
        baseFilters = orFixed(b.baseFilters, 16);
        normalization = orFixed(b.normalization, "INSTANCE");
        dropout = orFixed(b.dropout, 0.0);
        learningRate = orFixed(b.learningRate, 1e-3);
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public UNetSettings getValue(double[] values) {
        return new UNetSettings((int) Math.round(number(levels, values, "levels")),
                (int) Math.round(number(baseFilters, values, "baseFilters")),
                String.valueOf(normalization.getValue(values)), number(dropout, values, "dropout"),
                number(learningRate, values, "learningRate"));
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
