package org.gradsurgery.loss;

/**
 * Generalized Dice loss: {@code ℓ = 1 − gd} with
 * <pre>
 *   gd = (2·Σ_c w_c·I_c + s_nr) / (Σ_c w_c·(P_c + G_c) + s_dr),    w_c = 1 / G_c²
 * </pre>
 * where the weight uses G_c summed with k = 1 (the label volume of class c) whatever {@code squaredPred} says.
 *
 * <p>Sudre, Li, Vercauteren, Ourselin, Cardoso, "Generalised Dice overlap as a deep learning loss function for
 * highly unbalanced segmentations", DLMIA 2017; the handling of absent classes follows MONAI's
 * {@code GeneralizedDiceLoss}:
 * <ul>
 *   <li>an absent class (G_c = 0, infinite weight) takes the largest finite weight of the same example (SAMPLE)
 *       or of the batch (BATCH); if every weight is infinite, all weights become 1;</li>
 *   <li>the weights are treated as constants: no gradient flows through them;</li>
 *   <li>SAMPLE gives one gd per example and averages 1 − gd over the examples; BATCH (and rank-2 input) gives one
 *       gd for the batch;</li>
 *   <li>{@code includeBackground(false)} removes class 0 from every sum.</li>
 * </ul>
 * Sums, masks and DL4J's scale convention are described in {@link AbstractRegionLoss}.
 */
public class LossGeneralizedDice extends AbstractRegionLoss {

    private static final long serialVersionUID = 1L;

    /** SAMPLE reduction, background included, s_nr = s_dr = 1e-5, k = 1. */
    public LossGeneralizedDice() {
    }

    protected LossGeneralizedDice(Builder b) {
        super(b);
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    double setValue(Sums s, int set, int firstClass, Sums d) {
        int classes = s.i[set].length;
        double[] w = weights(s.g1[set], firstClass);
        double num = smoothNr;
        double den = smoothDr;
        for (int c = firstClass; c < classes; c++) {
            num += 2 * w[c] * s.i[set][c];
            den += w[c] * (s.p[set][c] + s.g[set][c]);
        }
        if (d != null) {
            for (int c = firstClass; c < classes; c++) {
                d.i[set][c] = -2 * w[c] / den;
                d.p[set][c] = num * w[c] / (den * den);
                d.fp[set][c] = 0;
                d.fn[set][c] = 0;
            }
        }
        return 1 - num / den;
    }

    /** w_c = 1/G_c² for the kept classes, absent classes replaced as documented above. */
    static double[] weights(double[] labelVolume, int firstClass) {
        int classes = labelVolume.length;
        double[] w = new double[classes];
        double maxFinite = -1;
        for (int c = firstClass; c < classes; c++) {
            w[c] = 1 / (labelVolume[c] * labelVolume[c]);
            if (!Double.isInfinite(w[c])) {
                maxFinite = Math.max(maxFinite, w[c]);
            }
        }
        for (int c = firstClass; c < classes; c++) {
            if (Double.isInfinite(w[c])) {
                w[c] = maxFinite < 0 ? 1 : maxFinite;
            }
        }
        return w;
    }

    /** Builder for {@link LossGeneralizedDice}. */
    public static final class Builder extends AbstractRegionLoss.Builder<LossGeneralizedDice.Builder> {
        Builder() {
        }

        public LossGeneralizedDice build() {
            return new LossGeneralizedDice(this);
        }
    }
}
