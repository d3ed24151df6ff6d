package org.gradsurgery.calibration;

import java.util.Arrays;

/**
 * Calibration of a foreground probability p against the known true probability q (synthetic data, where the label at
 * each voxel was drawn from q): streams (p, q) pairs and reports
 * <pre>
 *   MAE      = (1/N) Σ |p_i − q_i|
 *   bins     B equal-width bins of p; per bin b: n_b, p̄_b = mean p, q̄_b = mean q   (the reliability curve against q)
 *   ECE_q    = Σ_b (n_b / N) |p̄_b − q̄_b|
 * </pre>
 * A perfectly calibrated model has q̄_b = p̄_b in every bin; unlike the usual ECE, no label noise enters: the
 * "accuracy" of a bin is the mean of q, not of sampled labels. A model that pushes p to 0/1 where q is 0.5 shows
 * q̄ ≈ 0.5 in its extreme bins.
 */
public final class KnownProbabilityCalibration {
    private final int bins;
    private final long[] counts;
    private final double[] sumP;
    private final double[] sumQ;
    private double sumAbs;
    private long n;

    /** An empty accumulator with {@code bins} bins of p. */
    public KnownProbabilityCalibration(int bins) {
        if (bins < 1) {
            throw new IllegalArgumentException("KnownProbabilityCalibration: bins must be >= 1, got " + bins);
        }
        this.bins = bins;
        this.counts = new long[bins];
        this.sumP = new double[bins];
        this.sumQ = new double[bins];
    }

    /**
     * Adds pairs (p[i], q[i]); a pair is skipped where {@code mask} (if not null) is false.
     *
     * @throws IllegalArgumentException on different lengths or a p or q outside [0, 1]
     */
    public void add(float[] p, float[] q, boolean[] mask) {
        if (p.length != q.length || (mask != null && mask.length != p.length)) {
            throw new IllegalArgumentException("KnownProbabilityCalibration: p has " + p.length + " values, q "
                    + q.length + (mask == null ? "" : ", mask " + mask.length));
        }
        for (int i = 0; i < p.length; i++) {
            if (mask != null && !mask[i]) {
                continue;
            }
            double pi = p[i];
            double qi = q[i];
            if (!(pi >= 0 && pi <= 1) || !(qi >= 0 && qi <= 1)) {
                throw new IllegalArgumentException("KnownProbabilityCalibration: value " + i + " has p = " + pi
                        + ", q = " + qi + "; both must be in [0, 1]");
            }
            int b = ReliabilityBins.binOf(pi, bins);
            counts[b]++;
            sumP[b] += pi;
            sumQ[b] += qi;
            sumAbs += Math.abs(pi - qi);
            n++;
        }
    }

    /** Adds everything another accumulator with the same bins holds. */
    public void add(KnownProbabilityCalibration other) {
        if (other.bins != bins) {
            throw new IllegalArgumentException("KnownProbabilityCalibration: " + other.bins + " bins added to "
                    + bins);
        }
        for (int b = 0; b < bins; b++) {
            counts[b] += other.counts[b];
            sumP[b] += other.sumP[b];
            sumQ[b] += other.sumQ[b];
        }
        sumAbs += other.sumAbs;
        n += other.n;
    }

    /** Mean |p − q|; NaN when empty. */
    public double meanAbsoluteError() {
        return n == 0 ? Double.NaN : sumAbs / n;
    }

    /** Σ_b (n_b / N) |p̄_b − q̄_b|; NaN when empty. */
    public double ece() {
        if (n == 0) {
            return Double.NaN;
        }
        double e = 0;
        for (int b = 0; b < bins; b++) {
            if (counts[b] > 0) {
                e += Math.abs(sumP[b] - sumQ[b]) / n;
            }
        }
        return e;
    }

    /** The curve as reliability bins: "confidence" = mean p, "outcome" = mean q (see {@link ReliabilityDiagram}). */
    public ReliabilityBins bins() {
        return new ReliabilityBins(counts.clone(), sumP.clone(), sumQ.clone());
    }

    /** Pairs added. */
    public long count() {
        return n;
    }

    @Override
    public String toString() {
        return "KnownProbabilityCalibration{n=" + n + ", mae=" + meanAbsoluteError() + ", ece=" + ece() + ", counts="
                + Arrays.toString(counts) + "}";
    }
}
