package org.gradsurgery.loss;

import java.util.Objects;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * Focal Tversky loss: for each group, {@code ℓ = (1 − t)^γ} with the Tversky index
 * {@code t = (I + s_nr) / (I + α·FP + β·FN + s_dr)} (see {@link AbstractTverskyLoss}); γ = 0.75, α = β = 0.5 by default.
 *
 * <p>Abraham, Khan, "A novel focal Tversky loss function with improved attention U-Net for lesion segmentation",
 * ISBI 2019. Their exponent is written 1/γ with γ ∈ [1, 3] (they train with γ = 4/3); this class takes the
 * exponent itself, so the default 0.75 is their 1/(4/3). γ &lt; 1 raises the loss of groups that are already
 * well segmented less than that of hard ones.
 *
 * <p><b>At 1 − t = 0</b> (e.g. a group whose voxels are all masked, where I = FP = FN = 0 and t = s_nr/s_dr = 1)
 * the derivative γ·(1 − t)^(γ−1) is infinite for γ &lt; 1; it is defined as 0 there, the value at the loss
 * minimum, so scores and gradients stay finite. This needs s_nr ≤ s_dr (otherwise t could exceed 1 and
 * (1 − t)^γ would be undefined), which the builder enforces.
 */
public class LossFocalTversky extends AbstractTverskyLoss {

    private static final long serialVersionUID = 1L;

    /** Default focal exponent. */
    public static final double DEFAULT_GAMMA = 0.75;

    @JsonProperty("gamma")
    protected double gamma = DEFAULT_GAMMA;

    /** γ = 0.75, α = β = 0.5, SAMPLE reduction, background included, s_nr = s_dr = 1e-5, k = 1. */
    public LossFocalTversky() {
    }

    protected LossFocalTversky(Builder b) {
        super(b);
        String name = getClass().getSimpleName();
        if (!(b.gamma > 0.0) || Double.isInfinite(b.gamma)) {
            throw new IllegalArgumentException(name + ": gamma must be finite and > 0, got " + b.gamma);
        }
        if (smoothNr > smoothDr) {
            throw new IllegalArgumentException(name + ": smoothNr (" + smoothNr + ") must not exceed smoothDr ("
                    + smoothDr + "), otherwise the Tversky index can exceed 1 and (1 - t)^gamma is undefined");
        }
        this.gamma = b.gamma;
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    double groupValue(double i, double p, double g, double fp, double fn, double[] d) {
        // Rounding can push t a hair above 1 when FP = FN = 0; the loss is 0 there.
        double oneMinusT = Math.max(0.0, 1 - index(i, fp, fn, d));
        if (d != null) {
            double factor = oneMinusT > 0 ? gamma * Math.pow(oneMinusT, gamma - 1) : (gamma == 1 ? 1 : 0);
            for (int k = 0; k < 4; k++) {
                d[k] = -factor * d[k];
            }
        }
        return Math.pow(oneMinusT, gamma);
    }

    public double getGamma() {
        return gamma;
    }

    @Override
    public boolean equals(Object o) {
        return super.equals(o) && Double.compare(gamma, ((LossFocalTversky) o).gamma) == 0;
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), gamma);
    }

    @Override
    String extraOptions() {
        return super.extraOptions() + ", gamma=" + gamma;
    }

    /** Builder for {@link LossFocalTversky}. */
    public static final class Builder extends AbstractTverskyLoss.Builder<LossFocalTversky.Builder> {
        double gamma = DEFAULT_GAMMA;

        Builder() {
        }

        /** The exponent γ of (1 − t)^γ (> 0); Abraham and Khan's 1/γ. */
        public Builder gamma(double gamma) {
            this.gamma = gamma;
            return self();
        }

        public LossFocalTversky build() {
            return new LossFocalTversky(this);
        }
    }
}
