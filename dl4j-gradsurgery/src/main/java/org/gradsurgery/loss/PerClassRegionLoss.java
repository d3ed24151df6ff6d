package org.gradsurgery.loss;

/**
 * A region loss whose value for one set is the mean over the kept classes of a per-group value
 * ℓ(I, P, G, FP, FN): {@link LossDice}, {@link LossJaccard}, {@link LossTversky}, {@link LossFocalTversky}.
 * See {@link AbstractRegionLoss} for the sums, groups and scale.
 */
public abstract class PerClassRegionLoss extends AbstractRegionLoss {

    private static final long serialVersionUID = 1L;

    protected PerClassRegionLoss() {
    }

    protected PerClassRegionLoss(Builder<?> b) {
        super(b);
    }

    /**
     * The value of one group, and, when {@code d} is not null, its derivatives
     * {@code d = {∂ℓ/∂I, ∂ℓ/∂P, ∂ℓ/∂FP, ∂ℓ/∂FN}} (G does not depend on the prediction).
     */
    abstract double groupValue(double i, double p, double g, double fp, double fn, double[] d);

    @Override
    final double setValue(Sums s, int set, int firstClass, Sums d) {
        int classes = s.i[set].length;
        double kept = classes - firstClass;
        double[] gd = d == null ? null : new double[4];
        double sum = 0;
        for (int c = firstClass; c < classes; c++) {
            sum += groupValue(s.i[set][c], s.p[set][c], s.g[set][c], s.fp[set][c], s.fn[set][c], gd);
            if (d != null) {
                d.i[set][c] = gd[0] / kept;
                d.p[set][c] = gd[1] / kept;
                d.fp[set][c] = gd[2] / kept;
                d.fn[set][c] = gd[3] / kept;
            }
        }
        return sum / kept;
    }
}
