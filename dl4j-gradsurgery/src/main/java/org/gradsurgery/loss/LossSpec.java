package org.gradsurgery.loss;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;
import org.gradsurgery.InvalidSettingException;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonValue;

/**
 * A loss described by the settings the project varies, the one description behind the CLI's loss flags, the sweep's
 * {@code LossSpace} and the {@code loss} entry of a run's {@code config.json}:
 * <pre>
 *   R  = kind(includeBackground, α, β)                         ({@link LossKind}; α, β: Tversky kinds only)
 *   R' = surgery ? GradientSurgery(R, exponent γ, space, weighting) : R
 *   L  = ceWeight &gt; 0 ? regionWeight·R' + ceWeight·MCXENT     ({@link LossWeightedSum}; surgery on R only)
 *      : R'
 * </pre>
 * Defaults: Dice, background included, α = β = 0.5, no surgery (γ = 1, logit space and the base loss's weighting
 * when on), no cross-entropy term, region weight 1. Settings the loss would ignore are reset to their defaults when
 * the spec is built (α/β of a non-Tversky kind, the background of {@code mcxent}, γ, space and weighting without the
 * surgery, the region weight without a cross-entropy term), so two specs are equal exactly when {@link #create()}
 * gives equal losses. The balanced weighting ({@link GradientSurgery.Weighting#BALANCED}, beyond the paper) needs a
 * region loss.
 *
 * <p>Text form ({@link #parse}, {@link #toString}): {@code NAME[:no-background][:alpha=A][:beta=B][:weight=W]
 * [+surgery[:GAMMA][:probabilities][:balanced]][+ce:WEIGHT]}, defaults left out, e.g. {@code dice},
 * {@code dice+surgery}, {@code dice+surgery:2.0}, {@code dice+surgery:balanced},
 * {@code dice:no-background+surgery:0.5}, {@code tversky:alpha=0.3:beta=0.7+ce:0.5}.
 * The short forms {@code NAME}, {@code NAME+surgery} and {@code NAME+surgery:GAMMA} are what run directories of
 * earlier versions hold.
 */
public record LossSpec(LossKind kind, boolean includeBackground, double tverskyAlpha, double tverskyBeta,
                       boolean surgery, double exponent, GradientSurgery.Space surgerySpace, double ceWeight,
                       double regionWeight, GradientSurgery.Weighting surgeryWeighting) {
    private static final String FORMS = "NAME, NAME+surgery or NAME+surgery:GAMMA (NAME one of "
            + LossKind.knownNames() + "; in full NAME[:no-background][:alpha=A][:beta=B][:weight=W]"
            + "[+surgery[:GAMMA][:probabilities][:balanced]][+ce:WEIGHT])";

    /**
     * Checks the settings the loss uses and resets the ones it ignores (see the class documentation).
     *
     * @throws IllegalArgumentException naming the setting (e.g. {@code exponent}) that is out of range
     */
    public LossSpec {
        Objects.requireNonNull(kind, "kind");
        Objects.requireNonNull(surgerySpace, "surgerySpace");
        Objects.requireNonNull(surgeryWeighting, "surgeryWeighting");
        if (kind.usesTverskyWeights()) {
            requireWeight("tverskyAlpha", tverskyAlpha);
            requireWeight("tverskyBeta", tverskyBeta);
        } else {
            tverskyAlpha = AbstractTverskyLoss.DEFAULT_ALPHA;
            tverskyBeta = AbstractTverskyLoss.DEFAULT_BETA;
        }
        if (surgery) {
            requireWeight("exponent", exponent);
            if (surgeryWeighting == GradientSurgery.Weighting.BALANCED && !kind.isRegion()) {
                throw new InvalidSettingException(null, "surgeryWeighting", "balanced needs a region loss (its "
                        + "per-class voxel weights are what it equalises), got " + kind.specName());
            }
        } else {
            exponent = GradientSurgery.DEFAULT_EXPONENT;
            surgerySpace = GradientSurgery.Space.LOGITS;
            surgeryWeighting = GradientSurgery.Weighting.BASE;
        }
        requireWeight("ceWeight", ceWeight);
        if (ceWeight > 0) {
            requireWeight("regionWeight", regionWeight);
        } else {
            regionWeight = 1.0;
        }
        includeBackground = includeBackground || !kind.isRegion();
    }

    private static void requireWeight(String setting, double v) {
        if (!(v >= 0) || Double.isInfinite(v)) {
            throw new InvalidSettingException(null, setting, "must be a finite number >= 0, got " + v);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The spec of {@code kind} with the defaults. */
    public static LossSpec of(LossKind kind) {
        return builder().kind(kind).build();
    }

    /** A builder holding these settings. */
    public Builder toBuilder() {
        return builder().kind(kind).includeBackground(includeBackground).tverskyAlpha(tverskyAlpha)
                .tverskyBeta(tverskyBeta).surgery(surgery).exponent(exponent).surgerySpace(surgerySpace)
                .ceWeight(ceWeight).regionWeight(regionWeight).surgeryWeighting(surgeryWeighting);
    }

    /** A fresh loss function (see the class documentation). */
    public ILossFunction create() {
        ILossFunction region = kind.build(includeBackground, tverskyAlpha, tverskyBeta);
        if (surgery) {
            region = GradientSurgery.builder().base(region).exponent(exponent).space(surgerySpace)
                    .weighting(surgeryWeighting).build();
        }
        if (ceWeight <= 0) {
            return region;
        }
        return LossWeightedSum.builder().add(regionWeight, region).add(ceWeight, new LossMCXENT()).build();
    }

    /**
     * The spec whose {@link #create()} equals {@code loss}, if there is one: empty for losses with settings a spec
     * does not hold (another reduction or smoothing, focal γ, other compound losses, ...).
     */
    public static Optional<LossSpec> describing(ILossFunction loss) {
        Builder b = builder();
        ILossFunction region = loss;
        if (loss instanceof LossWeightedSum) {
            List<LossWeightedSum.Term> terms = ((LossWeightedSum) loss).getTerms();
            if (terms.size() != 2 || !(terms.get(1).getLoss() instanceof LossMCXENT)) {
                return Optional.empty();
            }
            b.regionWeight(terms.get(0).getWeight()).ceWeight(terms.get(1).getWeight());
            region = terms.get(0).getLoss();
        }
        if (region instanceof GradientSurgery) {
            GradientSurgery g = (GradientSurgery) region;
            b.surgery(true).exponent(g.getExponent()).surgerySpace(g.getSpace()).surgeryWeighting(g.getWeighting());
            region = g.getBase();
        }
        LossKind kind = null;
        for (LossKind k : LossKind.values()) {
            if (k.build(true, AbstractTverskyLoss.DEFAULT_ALPHA, AbstractTverskyLoss.DEFAULT_BETA).getClass()
                    == region.getClass()) {
                kind = k;
            }
        }
        if (kind == null) {
            return Optional.empty();
        }
        b.kind(kind);
        if (region instanceof AbstractRegionLoss) {
            b.includeBackground(((AbstractRegionLoss) region).isIncludeBackground());
        }
        if (region instanceof AbstractTverskyLoss) {
            b.tverskyAlpha(((AbstractTverskyLoss) region).getAlpha()).tverskyBeta(((AbstractTverskyLoss) region)
                    .getBeta());
        }
        try {
            LossSpec s = b.build();
            return s.create().equals(loss) ? Optional.of(s) : Optional.empty();
        } catch (IllegalArgumentException e) {
            return Optional.empty(); // e.g. a negative weight: no spec builds it
        }
    }

    /**
     * Parses the text form (see the class documentation); case, '-' and '_' in names do not matter. This and
     * {@link #toString()} are the JSON form (a string, the {@code loss} section of a run's {@code config.json}).
     *
     * @throws InvalidSettingException naming {@code loss} for text that is no loss, or the setting out of range
     */
    @JsonCreator
    public static LossSpec parse(String text) {
        String s = text == null ? "" : text.trim().toLowerCase(Locale.ROOT);
        String[] terms = s.split("\\+", -1);
        String[] region = terms[0].split(":", -1);
        Builder b = builder().kind(LossKind.parse(region[0]));
        for (int i = 1; i < region.length; i++) {
            String o = region[i].replace('_', '-');
            if (o.equals("no-background")) {
                b.includeBackground(false);
            } else if (o.startsWith("alpha=")) {
                b.tverskyAlpha(number(text, o.substring(6)));
            } else if (o.startsWith("beta=")) {
                b.tverskyBeta(number(text, o.substring(5)));
            } else if (o.startsWith("weight=")) {
                b.regionWeight(number(text, o.substring(7)));
            } else {
                throw InvalidSettingException.unreadable("loss", "'" + text + "': unknown option '" + region[i] + "'; write "
                        + FORMS);
            }
        }
        for (int t = 1; t < terms.length; t++) {
            String[] parts = terms[t].split(":", -1);
            if (parts[0].equals("surgery") && parts.length <= 4) {
                b.surgery(true);
                for (int i = 1; i < parts.length; i++) {
                    if (parts[i].equals("logits") || parts[i].equals("probabilities")) {
                        b.surgerySpace(GradientSurgery.Space.valueOf(parts[i].toUpperCase(Locale.ROOT)));
                    } else if (parts[i].equals("balanced") || parts[i].equals("base")) {
                        b.surgeryWeighting(GradientSurgery.Weighting.valueOf(parts[i].toUpperCase(Locale.ROOT)));
                    } else {
                        b.exponent(number(text, parts[i]));
                    }
                }
            } else if (parts[0].equals("ce") && parts.length == 2) {
                b.ceWeight(number(text, parts[1]));
            } else {
                throw InvalidSettingException.unreadable("loss", "'" + text + "' must be " + FORMS);
            }
        }
        return b.build();
    }

    private static double number(String text, String value) {
        try {
            return Double.parseDouble(value);
        } catch (NumberFormatException e) {
            throw InvalidSettingException.unreadable("loss", "'" + text + "': '" + value + "' is not a number (write e.g. "
                    + "dice+surgery:2 or tversky:alpha=0.3)");
        }
    }

    /** The text form, defaults left out: {@code dice}, {@code dice+surgery:2.0}, {@code dice:no-background}, ... */
    @JsonValue
    @Override
    public String toString() {
        StringBuilder s = new StringBuilder(kind.specName());
        if (!includeBackground) {
            s.append(":no-background");
        }
        if (tverskyAlpha != AbstractTverskyLoss.DEFAULT_ALPHA) {
            s.append(":alpha=").append(tverskyAlpha);
        }
        if (tverskyBeta != AbstractTverskyLoss.DEFAULT_BETA) {
            s.append(":beta=").append(tverskyBeta);
        }
        if (regionWeight != 1.0) {
            s.append(":weight=").append(regionWeight);
        }
        if (surgery) {
            s.append("+surgery");
            if (exponent != GradientSurgery.DEFAULT_EXPONENT) {
                s.append(':').append(exponent);
            }
            if (surgerySpace != GradientSurgery.Space.LOGITS) {
                s.append(":probabilities");
            }
            if (surgeryWeighting != GradientSurgery.Weighting.BASE) {
                s.append(":balanced");
            }
        }
        if (ceWeight > 0) {
            s.append("+ce:").append(ceWeight);
        }
        return s.toString();
    }

    /**
     * Display name: {@code dice}, {@code dice + surgery}, {@code dice + surgery γ=2.0},
     * {@code tversky (α=0.3, β=0.7, no background) + 0.5·ce}.
     */
    public String label() {
        List<String> opts = new ArrayList<>();
        if (tverskyAlpha != AbstractTverskyLoss.DEFAULT_ALPHA || tverskyBeta != AbstractTverskyLoss.DEFAULT_BETA) {
            opts.add("α=" + tverskyAlpha);
            opts.add("β=" + tverskyBeta);
        }
        if (!includeBackground) {
            opts.add("no background");
        }
        StringBuilder s = new StringBuilder();
        if (regionWeight != 1.0) {
            s.append(regionWeight).append('·');
        }
        s.append(kind.specName());
        if (!opts.isEmpty()) {
            s.append(" (").append(String.join(", ", opts)).append(')');
        }
        if (surgery) {
            s.append(" + surgery");
            if (exponent != GradientSurgery.DEFAULT_EXPONENT) {
                s.append(" γ=").append(exponent);
            }
            if (surgerySpace != GradientSurgery.Space.LOGITS) {
                s.append(" (probabilities)");
            }
            if (surgeryWeighting != GradientSurgery.Weighting.BASE) {
                s.append(" (balanced)");
            }
        }
        if (ceWeight > 0) {
            s.append(" + ").append(ceWeight).append("·ce");
        }
        return s.toString();
    }

    /** File-name form of {@link #toString()}: {@code dice}, {@code dice-surgery-2.0}, {@code dice-no-background}. */
    public String slug() {
        return toString().replace('+', '-').replace(':', '-').replace("=", "");
    }

    /** Builder; every setting optional (see the class documentation for the defaults). */
    public static final class Builder {
        private LossKind kind = LossKind.DICE;
        private boolean includeBackground = true;
        private double tverskyAlpha = AbstractTverskyLoss.DEFAULT_ALPHA;
        private double tverskyBeta = AbstractTverskyLoss.DEFAULT_BETA;
        private boolean surgery;
        private double exponent = GradientSurgery.DEFAULT_EXPONENT;
        private GradientSurgery.Space surgerySpace = GradientSurgery.Space.LOGITS;
        private double ceWeight;
        private double regionWeight = 1.0;
        private GradientSurgery.Weighting surgeryWeighting = GradientSurgery.Weighting.BASE;

        private Builder() {
        }

        public Builder kind(LossKind kind) {
            this.kind = kind;
            return this;
        }

        /** Whether the region loss also scores class 0 (ignored by {@code mcxent}). */
        public Builder includeBackground(boolean includeBackground) {
            this.includeBackground = includeBackground;
            return this;
        }

        /** Tversky α (weight of false positives; Tversky kinds only). */
        public Builder tverskyAlpha(double tverskyAlpha) {
            this.tverskyAlpha = tverskyAlpha;
            return this;
        }

        /** Tversky β (weight of false negatives; Tversky kinds only). */
        public Builder tverskyBeta(double tverskyBeta) {
            this.tverskyBeta = tverskyBeta;
            return this;
        }

        /** Wrap the region loss in {@link GradientSurgery}. */
        public Builder surgery(boolean surgery) {
            this.surgery = surgery;
            return this;
        }

        /** The surgery's error exponent γ in |y − p|^γ. */
        public Builder exponent(double exponent) {
            this.exponent = exponent;
            return this;
        }

        /** Where the surgery acts: {@link GradientSurgery.Space#LOGITS} (the paper's) or PROBABILITIES. */
        public Builder surgerySpace(GradientSurgery.Space surgerySpace) {
            this.surgerySpace = surgerySpace;
            return this;
        }

        /** The surgery's voxel weighting: BASE (the paper's) or BALANCED (region losses; beyond the paper). */
        public Builder surgeryWeighting(GradientSurgery.Weighting surgeryWeighting) {
            this.surgeryWeighting = surgeryWeighting;
            return this;
        }

        /** λ_CE &gt; 0 adds λ_CE·MCXENT to the (surgery-wrapped) region loss. */
        public Builder ceWeight(double ceWeight) {
            this.ceWeight = ceWeight;
            return this;
        }

        /** λ of the region term when there is a cross-entropy term. */
        public Builder regionWeight(double regionWeight) {
            this.regionWeight = regionWeight;
            return this;
        }

        /** @throws IllegalArgumentException naming the setting (e.g. {@code exponent}) that is out of range */
        public LossSpec build() {
            return new LossSpec(kind, includeBackground, tverskyAlpha, tverskyBeta, surgery, exponent, surgerySpace,
                    ceWeight, regionWeight, surgeryWeighting);
        }
    }
}
