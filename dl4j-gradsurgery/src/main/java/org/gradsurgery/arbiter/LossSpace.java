package org.gradsurgery.arbiter;

import java.util.Objects;
import org.deeplearning4j.arbiter.optimize.api.ParameterSpace;
import org.deeplearning4j.arbiter.optimize.parameter.FixedValue;
import org.gradsurgery.loss.AbstractTverskyLoss;
import org.gradsurgery.loss.GradientSurgery;
import org.gradsurgery.loss.LossKind;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.loss.Reduction;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * An Arbiter space of the project's losses: every child is one setting of a {@link LossSpec}, and a point of the
 * space is that spec's loss ({@link LossSpec#create()}: kind, background, reduction, Tversky α/β, surgery with γ
 * and space, and an optional cross-entropy term; regionWeight is unused without one, as a lone term's scale is the
 * LR's).
 * Every child is an Arbiter {@link ParameterSpace} (a {@code FixedValue}, {@code DiscreteParameterSpace},
 * {@code ContinuousParameterSpace}, ...); unset children are fixed at the defaults of the losses (Dice, no surgery,
 * γ = 1, LOGITS, background included, SAMPLE reduction, no cross-entropy, α = β = 0.5). The loss kind, the surgery
 * space and the reduction are held as names (strings), because a JSON round trip of a
 * {@code DiscreteParameterSpace} of enums gives back strings. A space saved before the reduction existed reads
 * back with SAMPLE.
 */
public final class LossSpace extends CompositeSpace<ILossFunction> {

    @JsonProperty("kind")
    private ParameterSpace<String> kind;
    @JsonProperty("surgery")
    private ParameterSpace<Boolean> surgery;
    @JsonProperty("exponent")
    private ParameterSpace<Double> exponent;
    @JsonProperty("surgerySpace")
    private ParameterSpace<String> surgerySpace;
    @JsonProperty("includeBackground")
    private ParameterSpace<Boolean> includeBackground;
    @JsonProperty("reduction")
    private ParameterSpace<String> reduction = new FixedValue<>(Reduction.SAMPLE.name());
    @JsonProperty("regionWeight")
    private ParameterSpace<Double> regionWeight;
    @JsonProperty("ceWeight")
    private ParameterSpace<Double> ceWeight;
    @JsonProperty("tverskyAlpha")
    private ParameterSpace<Double> tverskyAlpha;
    @JsonProperty("tverskyBeta")
    private ParameterSpace<Double> tverskyBeta;

    /** For Jackson. */
    private LossSpace() {
    }

    private LossSpace(Builder b) {
        kind = orFixed(b.kind, LossKind.DICE.specName());
        surgery = orFixed(b.surgery, false);
        exponent = orFixed(b.exponent, GradientSurgery.DEFAULT_EXPONENT);
        surgerySpace = orFixed(b.surgerySpace, GradientSurgery.Space.LOGITS.name());
        includeBackground = orFixed(b.includeBackground, true);
        reduction = orFixed(b.reduction, Reduction.SAMPLE.name());
        regionWeight = orFixed(b.regionWeight, 1.0);
        ceWeight = orFixed(b.ceWeight, 0.0);
        tverskyAlpha = orFixed(b.tverskyAlpha, AbstractTverskyLoss.DEFAULT_ALPHA);
        tverskyBeta = orFixed(b.tverskyBeta, AbstractTverskyLoss.DEFAULT_BETA);
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public ILossFunction getValue(double[] values) {
        return spec(values).create();
    }

    /** The loss settings at a point of the space ({@link #getValue} is their {@link LossSpec#create()}). */
    public LossSpec spec(double[] values) {
        return LossSpec.builder().kind(LossKind.parse(String.valueOf(kind.getValue(values))))
                .includeBackground(Boolean.TRUE.equals(includeBackground.getValue(values)))
                .reduction(Reduction.valueOf(String.valueOf(reduction.getValue(values))))
                .tverskyAlpha(number(tverskyAlpha, values, "tverskyAlpha"))
                .tverskyBeta(number(tverskyBeta, values, "tverskyBeta"))
                .surgery(Boolean.TRUE.equals(surgery.getValue(values)))
                .exponent(number(exponent, values, "exponent"))
                .surgerySpace(GradientSurgery.Space.valueOf(String.valueOf(surgerySpace.getValue(values))))
                .ceWeight(number(ceWeight, values, "ceWeight"))
                .regionWeight(number(regionWeight, values, "regionWeight")).build();
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof LossSpace)) {
            return false;
        }
        LossSpace s = (LossSpace) o;
        return kind.equals(s.kind) && surgery.equals(s.surgery) && exponent.equals(s.exponent)
                && surgerySpace.equals(s.surgerySpace) && includeBackground.equals(s.includeBackground)
                && reduction.equals(s.reduction)
                && regionWeight.equals(s.regionWeight) && ceWeight.equals(s.ceWeight)
                && tverskyAlpha.equals(s.tverskyAlpha) && tverskyBeta.equals(s.tverskyBeta);
    }

    @Override
    public int hashCode() {
        return Objects.hash(kind, surgery, exponent, surgerySpace, includeBackground, reduction, regionWeight,
                ceWeight, tverskyAlpha, tverskyBeta);
    }

    @Override
    public String toString() {
        return "LossSpace(kind=" + kind + ", surgery=" + surgery + ", exponent=" + exponent + ", surgerySpace="
                 + surgerySpace + ", includeBackground=" + includeBackground + ", reduction=" + reduction
                + ", regionWeight=" + regionWeight
                + ", ceWeight=" + ceWeight + ", tverskyAlpha=" + tverskyAlpha + ", tverskyBeta=" + tverskyBeta + ")";
    }

    /** Builder: every child optional (see the class documentation for the defaults). */
    public static final class Builder {
        private ParameterSpace<String> kind;
        private ParameterSpace<Boolean> surgery;
        private ParameterSpace<Double> exponent;
        private ParameterSpace<String> surgerySpace;
        private ParameterSpace<Boolean> includeBackground;
        private ParameterSpace<String> reduction;
        private ParameterSpace<Double> regionWeight;
        private ParameterSpace<Double> ceWeight;
        private ParameterSpace<Double> tverskyAlpha;
        private ParameterSpace<Double> tverskyBeta;

        private Builder() {
        }

        /** Loss kind names, see {@link LossKind}. */
        public Builder kind(ParameterSpace<String> kind) {
            this.kind = kind;
            return this;
        }

        public Builder surgery(ParameterSpace<Boolean> surgery) {
            this.surgery = surgery;
            return this;
        }

        /** The surgery's error exponent γ (used when surgery is on). */
        public Builder exponent(ParameterSpace<Double> exponent) {
            this.exponent = exponent;
            return this;
        }

        /** {@link GradientSurgery.Space} names (LOGITS, PROBABILITIES). */
        public Builder surgerySpace(ParameterSpace<String> surgerySpace) {
            this.surgerySpace = surgerySpace;
            return this;
        }

        public Builder includeBackground(ParameterSpace<Boolean> includeBackground) {
            this.includeBackground = includeBackground;
            return this;
        }

        /** {@link Reduction} names (SAMPLE, BATCH): the region loss's groups. */
        public Builder reduction(ParameterSpace<String> reduction) {
            this.reduction = reduction;
            return this;
        }

        /** λ of the region term in λ·R + λ_CE·MCXENT. */
        public Builder regionWeight(ParameterSpace<Double> regionWeight) {
            this.regionWeight = regionWeight;
            return this;
        }

        /** λ_CE of the cross-entropy term; 0 leaves the region loss alone. */
        public Builder ceWeight(ParameterSpace<Double> ceWeight) {
            this.ceWeight = ceWeight;
            return this;
        }

        public Builder tverskyAlpha(ParameterSpace<Double> tverskyAlpha) {
            this.tverskyAlpha = tverskyAlpha;
            return this;
        }

        public Builder tverskyBeta(ParameterSpace<Double> tverskyBeta) {
            this.tverskyBeta = tverskyBeta;
            return this;
        }

        public LossSpace build() {
            return new LossSpace(this);
        }
    }
}
