package org.gradsurgery.loss;

/**
 * Soft Dice loss: for each group, {@code ℓ = 1 − (2I + s_nr) / (P + G + s_dr)}.
 *
 * <p>Milletari, Navab, Ahmadi, "V-Net: Fully convolutional neural networks for volumetric medical image
 * segmentation", 3DV 2016 (with {@code squaredPred(true)}, k = 2); options and defaults follow MONAI's
 * {@code DiceLoss}. Sums, groups, masks and DL4J's scale convention are described in {@link AbstractRegionLoss}.
 *
 * <pre>
 * ILossFunction dice = LossDice.builder().reduction(Reduction.SAMPLE).includeBackground(false).build();
 * </pre>
 */
public class LossDice extends PerClassRegionLoss {

    private static final long serialVersionUID = 1L;

    /** SAMPLE reduction, background included, s_nr = s_dr = 1e-5, k = 1. */
    public LossDice() {
    }

    protected LossDice(Builder b) {
        super(b);
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    double groupValue(double i, double p, double g, double fp, double fn, double[] d) {
        double den = p + g + smoothDr;
        double num = 2 * i + smoothNr;
        if (d != null) {
            d[0] = -2 / den;
            d[1] = num / (den * den);
            d[2] = 0;
            d[3] = 0;
        }
        return 1 - num / den;
    }

    /** Builder for {@link LossDice}. */
    public static final class Builder extends AbstractRegionLoss.Builder<LossDice.Builder> {
        Builder() {
        }

        public LossDice build() {
            return new LossDice(this);
        }
    }
}
