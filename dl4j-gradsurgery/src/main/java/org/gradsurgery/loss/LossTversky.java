package org.gradsurgery.loss;

/**
 * Tversky loss: for each group, {@code ℓ = 1 − t} with {@code t = (I + s_nr) / (I + α·FP + β·FN + s_dr)};
 * α = β = 0.5 by default.
 *
 * <p>Salehi, Erdogmus, Gholipour, "Tversky loss function for image segmentation using 3D fully convolutional deep
 * networks", MLMI 2017. Raising β above α penalises false negatives more (better recall of small structures).
 * Sums, groups, masks and DL4J's scale convention are described in {@link AbstractRegionLoss}.
 */
public class LossTversky extends AbstractTverskyLoss {

    private static final long serialVersionUID = 1L;

    /** α = β = 0.5, SAMPLE reduction, background included, s_nr = s_dr = 1e-5, k = 1. */
    public LossTversky() {
    }

    protected LossTversky(Builder b) {
        super(b);
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    double groupValue(double i, double p, double g, double fp, double fn, double[] d) {
        double t = index(i, fp, fn, d);
        if (d != null) {
            for (int k = 0; k < 4; k++) {
                d[k] = -d[k];
            }
        }
        return 1 - t;
    }

    /** Builder for {@link LossTversky}. */
    public static final class Builder extends AbstractTverskyLoss.Builder<LossTversky.Builder> {
        Builder() {
        }

        public LossTversky build() {
            return new LossTversky(this);
        }
    }
}
