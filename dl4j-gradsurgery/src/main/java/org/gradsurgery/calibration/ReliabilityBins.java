package org.gradsurgery.calibration;

import java.util.Arrays;

/**
 * B equal-width confidence bins with their voxel count, mean confidence and accuracy: the data of a reliability
 * diagram and of ECE/MCE/ACE. Immutable.
 *
 * <p>Bin b (0-based) covers confidences in {@code (b/B, (b+1)/B]}; a confidence of exactly 0 goes to bin 0. With n_b
 * voxels in bin b, n = Σ n_b, conf_b = mean confidence and acc_b = mean outcome (fraction correct) in the bin:
 * <ul>
 *   <li>ECE = Σ_b (n_b / n)·|acc_b − conf_b| (Naeini et al., AAAI 2015; Guo et al., ICML 2017);</li>
 *   <li>MCE = max over non-empty bins of |acc_b − conf_b| (Naeini et al. 2015);</li>
 *   <li>ACE = mean over the non-empty bins of |acc_b − conf_b|, unweighted ("average calibration error",
 *       Neumann et al., NeurIPS 2018 workshop MLITS; Barfoot et al., MICCAI 2024).</li>
 * </ul>
 * With no voxel at all every error is NaN.
 */
public final class ReliabilityBins {
    private final long[] counts;
    private final double[] sumConfidence;
    private final double[] sumOutcome;

    /**
     * @param counts n_b per bin
     * @param sumConfidence Σ confidence per bin
     * @param sumOutcome Σ outcome (0/1) per bin
     */
    public ReliabilityBins(long[] counts, double[] sumConfidence, double[] sumOutcome) {
        if (counts.length == 0 || counts.length != sumConfidence.length || counts.length != sumOutcome.length) {
            throw new IllegalArgumentException("ReliabilityBins: counts, sumConfidence and sumOutcome must have the "
                    + "same non-zero length, got " + counts.length + ", " + sumConfidence.length + ", "
                    + sumOutcome.length);
        }
        this.counts = counts.clone();
        this.sumConfidence = sumConfidence.clone();
        this.sumOutcome = sumOutcome.clone();
    }

    /**
     * Bin of confidence p among B equal-width bins: the b with b/B &lt; p ≤ (b+1)/B, and 0 for p = 0. The edge test
     * is exact for every double p (a fused multiply-add decides which side of b/B the product p·B lies on, so
     * rounding of p·B never moves a value across an edge).
     */
    public static int binOf(double p, int bins) {
        int b = (int) Math.ceil(p * bins) - 1;
        if (b >= 0 && Math.fma(p, bins, -b) <= 0) {
            b--;
        } else if (Math.fma(p, bins, -(b + 1)) > 0) {
            b++;
        }
        return Math.max(0, Math.min(bins - 1, b));
    }

    /** Number of bins B. */
    public int bins() {
        return counts.length;
    }

    /** Total voxel count n. */
    public long totalCount() {
        long n = 0;
        for (long c : counts) {
            n += c;
        }
        return n;
    }

    /** n_b. */
    public long count(int b) {
        return counts[b];
    }

    /** conf_b, the mean confidence in bin b; NaN for an empty bin. */
    public double meanConfidence(int b) {
        return counts[b] == 0 ? Double.NaN : sumConfidence[b] / counts[b];
    }

    /** acc_b, the fraction of correct outcomes in bin b; NaN for an empty bin. */
    public double accuracy(int b) {
        return counts[b] == 0 ? Double.NaN : sumOutcome[b] / counts[b];
    }

    /** Copy of n_b for all bins. */
    public long[] counts() {
        return counts.clone();
    }

    /** conf_b for all bins (NaN where empty). */
    public double[] meanConfidences() {
        double[] out = new double[counts.length];
        Arrays.setAll(out, this::meanConfidence);
        return out;
    }

    /** acc_b for all bins (NaN where empty). */
    public double[] accuracies() {
        double[] out = new double[counts.length];
        Arrays.setAll(out, this::accuracy);
        return out;
    }

    /** Expected calibration error Σ_b (n_b/n)|acc_b − conf_b|. */
    public double ece() {
        long n = totalCount();
        if (n == 0) {
            return Double.NaN;
        }
        double sum = 0;
        for (int b = 0; b < counts.length; b++) {
            // n_b/n · |Σo/n_b − Σp/n_b| = |Σo − Σp| / n
            sum += Math.abs(sumOutcome[b] - sumConfidence[b]);
        }
        return sum / n;
    }

    /** Maximum calibration error over non-empty bins. */
    public double mce() {
        double max = Double.NaN;
        for (int b = 0; b < counts.length; b++) {
            if (counts[b] > 0) {
                double gap = Math.abs(accuracy(b) - meanConfidence(b));
                max = Double.isNaN(max) ? gap : Math.max(max, gap);
            }
        }
        return max;
    }

    /** Average calibration error: unweighted mean of |acc_b − conf_b| over non-empty bins. */
    public double ace() {
        double sum = 0;
        int k = 0;
        for (int b = 0; b < counts.length; b++) {
            if (counts[b] > 0) {
                sum += Math.abs(accuracy(b) - meanConfidence(b));
                k++;
            }
        }
        return k == 0 ? Double.NaN : sum / k;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ReliabilityBins r && Arrays.equals(counts, r.counts)
                && Arrays.equals(sumConfidence, r.sumConfidence) && Arrays.equals(sumOutcome, r.sumOutcome);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * Arrays.hashCode(counts) + Arrays.hashCode(sumConfidence)) + Arrays.hashCode(sumOutcome);
    }

    @Override
    public String toString() {
        return "ReliabilityBins{bins=" + counts.length + ", n=" + totalCount() + ", ece=" + ece() + ", counts="
                + Arrays.toString(counts) + "}";
    }
}
