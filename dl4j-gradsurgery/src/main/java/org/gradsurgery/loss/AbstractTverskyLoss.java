package org.gradsurgery.loss;

import java.util.Objects;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * The Tversky family ({@link LossTversky}, {@link LossFocalTversky}): the per-class region losses built on the
 * Tversky index {@code t = (I + s_nr) / (I + α·FP + β·FN + s_dr)}.
 *
 * <p>Salehi, Erdogmus, Gholipour, "Tversky loss function for image segmentation using 3D fully convolutional deep
 * networks", MLMI 2017. α weighs false positives, β false negatives; α = β = 0.5 (the default) gives Dice's
 * ratio, α = β = 1 Jaccard's.
 */
public abstract class AbstractTverskyLoss extends PerClassRegionLoss {

    private static final long serialVersionUID = 1L;

    /** Default false-positive and false-negative weights. */
    public static final double DEFAULT_ALPHA = 0.5;
    public static final double DEFAULT_BETA = 0.5;

    @JsonProperty("alpha")
    protected double alpha = DEFAULT_ALPHA;
    @JsonProperty("beta")
    protected double beta = DEFAULT_BETA;

    protected AbstractTverskyLoss() {
    }

    protected AbstractTverskyLoss(Builder<?> b) {
        super(b);
        String name = getClass().getSimpleName();
        requireWeight(name, "alpha", b.alpha);
        requireWeight(name, "beta", b.beta);
        this.alpha = b.alpha;
        this.beta = b.beta;
    }

    private static void requireWeight(String name, String option, double v) {
        if (!(v >= 0.0) || Double.isInfinite(v)) {
            throw new IllegalArgumentException(name + ": " + option + " must be finite and >= 0, got " + v);
        }
    }

    /** The Tversky index t of a group; when {@code dt} is not null it receives ∂t/∂(I, P, FP, FN). */
    final double index(double i, double fp, double fn, double[] dt) {
        double num = i + smoothNr;
        double den = i + alpha * fp + beta * fn + smoothDr;
        if (dt != null) {
            double q = num / (den * den);
            dt[0] = 1 / den - q;
            dt[1] = 0;
            dt[2] = -alpha * q;
            dt[3] = -beta * q;
        }
        return num / den;
    }

    public double getAlpha() {
        return alpha;
    }

    public double getBeta() {
        return beta;
    }

    @Override
    public boolean equals(Object o) {
        return super.equals(o) && Double.compare(alpha, ((AbstractTverskyLoss) o).alpha) == 0
                && Double.compare(beta, ((AbstractTverskyLoss) o).beta) == 0;
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), alpha, beta);
    }

    @Override
    String extraOptions() {
        return ", alpha=" + alpha + ", beta=" + beta;
    }

    /**
     * Options of the Tversky family: the region-loss options plus α and β (both 0.5 by default).
     *
     * @param <B> the concrete builder
     */
    public abstract static class Builder<B extends Builder<B>> extends AbstractRegionLoss.Builder<B> {
        double alpha = DEFAULT_ALPHA;
        double beta = DEFAULT_BETA;

        Builder() {
        }

        /** Weight α of the false positives FP (>= 0). */
        public B alpha(double alpha) {
            this.alpha = alpha;
            return self();
        }

        /** Weight β of the false negatives FN (>= 0). */
        public B beta(double beta) {
            this.beta = beta;
            return self();
        }
    }
}
