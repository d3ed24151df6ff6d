package org.gradsurgery.calibration;

import java.util.Locale;

/**
 * Snapshot of {@link CalibrationMetrics}: per-class and top-label ECE/MCE/ACE (and adaptive ECE when enabled),
 * Brier score, NLL, the voxel count and the bins behind them. Immutable. Definitions are in
 * {@link CalibrationMetrics} and {@link ReliabilityBins}; every value is NaN when no voxel was counted.
 */
public final class CalibrationResult {
    private final int numClasses;
    private final int bins;
    private final long voxelCount;
    private final ReliabilityBins[] perClass;
    private final ReliabilityBins topLabel;
    private final double brier;
    private final double nll;
    private final double[] adaptiveEce;
    private final boolean adaptiveExact;
    private final long adaptiveSampleSize;

    CalibrationResult(int numClasses, int bins, long voxelCount, ReliabilityBins[] perClass, ReliabilityBins topLabel,
                      double brier, double nll, double[] adaptiveEce, boolean adaptiveExact, long adaptiveSampleSize) {
        this.numClasses = numClasses;
        this.bins = bins;
        this.voxelCount = voxelCount;
        this.perClass = perClass.clone();
        this.topLabel = topLabel;
        this.brier = brier;
        this.nll = nll;
        this.adaptiveEce = adaptiveEce == null ? null : adaptiveEce.clone();
        this.adaptiveExact = adaptiveExact;
        this.adaptiveSampleSize = adaptiveSampleSize;
    }

    public int numClasses() {
        return numClasses;
    }

    /** Number of bins B. */
    public int bins() {
        return bins;
    }

    /** Number of voxels counted (inside the region masks). */
    public long voxelCount() {
        return voxelCount;
    }

    /** Marginal ECE of class c. */
    public double ece(int c) {
        return classBins(c).ece();
    }

    /** Marginal MCE of class c. */
    public double mce(int c) {
        return classBins(c).mce();
    }

    /** Marginal ACE (unweighted mean gap over non-empty bins) of class c. */
    public double ace(int c) {
        return classBins(c).ace();
    }

    /** Marginal ECE over B equal-mass bins of class c; requires {@code adaptive(true)}. */
    public double adaptiveEce(int c) {
        checkClass(c);
        return adaptive()[c];
    }

    /** Top-label ECE (Guo et al. 2017). */
    public double eceTopLabel() {
        return topLabel.ece();
    }

    /** Top-label MCE. */
    public double mceTopLabel() {
        return topLabel.mce();
    }

    /** Top-label ACE. */
    public double aceTopLabel() {
        return topLabel.ace();
    }

    /** Top-label ECE over B equal-mass bins; requires {@code adaptive(true)}. */
    public double adaptiveEceTopLabel() {
        return adaptive()[numClasses];
    }

    /**
     * Class-wise ECE: the mean of {@link #ece(int)} over all C classes (Kull et al., NeurIPS 2019; the "static
     * calibration error" of Nixon et al. 2019).
     */
    public double classwiseEce() {
        double s = 0;
        for (int c = 0; c < numClasses; c++) {
            s += ece(c);
        }
        return s / numClasses;
    }

    /** Mean over voxels of Σ_c (p_c − 1[y = c])². */
    public double brier() {
        return brier;
    }

    /** Mean over voxels of −ln max(p_y, 1e-12). */
    public double nll() {
        return nll;
    }

    /** The B equal-width bins of class c (counts, mean confidence, accuracy). */
    public ReliabilityBins classBins(int c) {
        checkClass(c);
        return perClass[c];
    }

    /** The B equal-width top-label bins. */
    public ReliabilityBins topLabelBins() {
        return topLabel;
    }

    /** Whether adaptive ECE was computed. */
    public boolean hasAdaptive() {
        return adaptiveEce != null;
    }

    /**
     * Whether adaptive ECE used every counted voxel (true) or a reservoir sample of
     * {@link #adaptiveSampleSize()} voxels (false).
     */
    public boolean adaptiveExact() {
        return adaptiveExact;
    }

    /** Voxels behind adaptive ECE (equal to {@link #voxelCount()} when exact, 0 when adaptive is off). */
    public long adaptiveSampleSize() {
        return adaptiveSampleSize;
    }

    private double[] adaptive() {
        if (adaptiveEce == null) {
            throw new IllegalStateException("CalibrationResult: adaptive ECE was not enabled; build CalibrationMetrics "
                    + "with adaptive(true) or adaptiveSampleSize(k)");
        }
        return adaptiveEce;
    }

    private void checkClass(int c) {
        if (c < 0 || c >= numClasses) {
            throw new IllegalArgumentException("CalibrationResult: class " + c + " out of range [0, " + numClasses
                    + ")");
        }
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
                "CalibrationResult{voxels=%d, bins=%d, ECE_top=%.5f, MCE_top=%.5f, ACE_top=%.5f", voxelCount, bins,
                eceTopLabel(), mceTopLabel(), aceTopLabel()));
        if (hasAdaptive()) {
            sb.append(String.format(Locale.ROOT, ", adaptiveECE_top=%.5f%s", adaptiveEceTopLabel(),
                    adaptiveExact ? "" : " (sample of " + adaptiveSampleSize + ")"));
        }
        sb.append(String.format(Locale.ROOT, ", brier=%.5f, nll=%.5f, ECE per class=[", brier, nll));
        for (int c = 0; c < numClasses; c++) {
            sb.append(c == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%.5f", ece(c)));
        }
        return sb.append("]}").toString();
    }
}
