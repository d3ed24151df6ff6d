package org.gradsurgery.loss;

/**
 * Soft Jaccard (IoU) loss: for each group, {@code ℓ = 1 − (I + s_nr) / (P + G − I + s_dr)}.
 *
 * <p>Rahman, Wang, "Optimizing intersection-over-union in deep neural networks for image segmentation",
 * ISVC 2016. Sums, groups, masks and DL4J's scale convention are described in {@link AbstractRegionLoss}.
 */
public class LossJaccard extends PerClassRegionLoss {

    private static final long serialVersionUID = 1L;

    /** SAMPLE reduction, background included, s_nr = s_dr = 1e-5, k = 1. */
    public LossJaccard() {
    }

    protected LossJaccard(Builder b) {
        super(b);
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    double groupValue(double i, double p, double g, double fp, double fn, double[] d) {
        double den = p + g - i + smoothDr;
        double num = i + smoothNr;
        if (d != null) {
            d[0] = -(1 / den + num / (den * den));
            d[1] = num / (den * den);
            d[2] = 0;
            d[3] = 0;
        }
        return 1 - num / den;
    }

    /** Builder for {@link LossJaccard}. */
    public static final class Builder extends AbstractRegionLoss.Builder<LossJaccard.Builder> {
        Builder() {
        }

        public LossJaccard build() {
            return new LossJaccard(this);
        }
    }
}
