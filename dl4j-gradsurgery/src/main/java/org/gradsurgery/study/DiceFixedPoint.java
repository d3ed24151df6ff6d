package org.gradsurgery.study;

/**
 * Where the surgery's field vanishes for a soft-Dice base loss, measured on a model's predictions.
 *
 * <p>For class c of a case, with probabilities p_i, one-hot labels y_i, I = Σ p_i y_i and S = Σ p_i + Σ y_i, the
 * soft Dice loss 1 − 2I/S has ∂L/∂p_i = −a_c for a foreground voxel (y_i = 1) and +b_c for a background voxel, with
 * <pre>
 *   a_c = 2(S − I)/S²,    b_c = 2I/S²,    a_c / b_c = (S − I)/I
 * </pre>
 * (smoothing constants of the loss left out). The surgery multiplies these by the error |y − p|. At a voxel whose
 * label is 1 with true probability q, the expected surgery field is q·(−a)(1 − p) + (1 − q)·b·p, which vanishes at
 * <pre>
 *   p*(q) = q·a / (q·a + (1 − q)·b)
 * </pre>
 * rather than at p = q (cross-entropy's fixed point). p* = q exactly when a = b, i.e. S = 2I, which holds when the
 * prediction matches the label volume perfectly; a/b &gt; 1 pushes ambiguous voxels towards the foreground.
 * The per-class weights therefore say how far the surgery can be calibrated at all.
 */
public final class DiceFixedPoint {
    private DiceFixedPoint() {
    }

    /**
     * a_c / b_c = (S − I)/I for one class.
     *
     * @param p probabilities of class c over the voxels
     * @param y 0/1 labels of class c over the same voxels
     * @return the ratio; NaN when I = 0 (no overlap at all)
     */
    public static double weightRatio(float[] p, boolean[] y) {
        if (p.length != y.length) {
            throw new IllegalArgumentException("DiceFixedPoint: " + p.length + " probabilities, " + y.length
                    + " labels");
        }
        double inter = 0;
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            sum += p[i];
            if (y[i]) {
                inter += p[i];
                sum += 1;
            }
        }
        return inter > 0 ? (sum - inter) / inter : Double.NaN;
    }

    /** p*(q) = q·r / (q·r + 1 − q) with r = a/b. */
    public static double fixedPoint(double q, double ratio) {
        if (!(q >= 0 && q <= 1)) {
            throw new IllegalArgumentException("DiceFixedPoint: q must be in [0, 1], got " + q);
        }
        double num = q * ratio;
        return num / (num + 1 - q);
    }
}
