package org.gradsurgery.calibration;

import java.util.Arrays;
import org.gradsurgery.metrics.SegmentationTensors;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Streaming calibration metrics of voxel-wise class probabilities: per-class ("marginal") and top-label ECE, MCE
 * and ACE over B equal-width bins, adaptive (equal-mass) ECE, Brier score and NLL.
 *
 * <p><b>Definitions.</b> For a voxel with probabilities p_1..p_C and label y:
 * <ul>
 *   <li>per class c (marginal): confidence p_c, outcome 1[y = c];</li>
 *   <li>top label (Guo et al., "On calibration of modern neural networks", ICML 2017): confidence max_c p_c,
 *       outcome 1[argmax_c p_c = y], ties to the lowest class index;</li>
 *   <li>B equal-width bins, bin b covering (b/B, (b+1)/B] and 0 in bin 0; ECE, MCE and ACE as in
 *       {@link ReliabilityBins};</li>
 *   <li>adaptive ECE: the ECE formula over B equal-mass bins, the sorted confidences split into B chunks of
 *       ⌊(b+1)M/B⌋ − ⌊bM/B⌋ voxels (Nixon et al., "Measuring calibration in deep learning", CVPR-W 2019);</li>
 *   <li>Brier = mean over voxels of Σ_c (p_c − 1[y = c])² (Brier 1950; range [0, 2]);</li>
 *   <li>NLL = mean over voxels of −ln max(p_y, 1e-12).</li>
 * </ul>
 * Only voxels where the region mask is 1 count (all voxels with a null mask).
 *
 * <p><b>Memory.</b> The equal-width metrics, Brier and NLL keep (C+1)·B counts and sums plus three scalars, in
 * double/long, whatever the number of updates. Adaptive ECE needs the confidences themselves:
 * {@link Builder#adaptive(boolean)} keeps every voxel exactly, 4·(C+1) bytes per counted voxel
 * (e.g. 24 B for C = 5, so 96³ voxels cost 21 MB), up to 2^31 voxels;
 * {@link Builder#adaptiveSampleSize(int)} instead keeps a uniform random sample of k voxels (reservoir sampling,
 * Vitter's Algorithm R, seeded), 4·(C+1)·k bytes at most, and computes adaptive ECE on that sample: an
 * approximation once more than k voxels were seen ({@link CalibrationResult#adaptiveExact()}), with each equal-mass
 * bin's accuracy estimated from ≈ k/B voxels (standard error ≤ 0.5/√(k/B), e.g. ≤ 0.0019 for k = 10^6, B = 15).
 * An update also holds one example's probabilities as doubles (8·C bytes per voxel) while it runs.
 *
 * <p>Inputs: {@code probs} is {@code [N, C, spatial...]} (rank ≥ 2; rank 2 is plain classification) of values in
 * [0, 1] (within 1e-5, then clamped); they are not required to sum to 1, but top-label, Brier and NLL only mean
 * what they say for softmax outputs. Labels and masks are read as in {@link SegmentationTensors}. Not thread-safe.
 */
public final class CalibrationMetrics {
    static final String OWNER = "CalibrationMetrics";
    /** Probabilities may exceed [0, 1] by this much (float rounding in softmax) before they are rejected. */
    static final double RANGE_TOLERANCE = 1e-5;
    /** Floor of p_y inside the logarithm of the NLL. */
    public static final double NLL_FLOOR = 1e-12;

    private final int numClasses;
    private final int bins;
    private final boolean adaptive;
    private final int adaptiveSampleSize;
    private final long seed;

    private final long[] classCount;
    private final double[] classConf;
    private final double[] classOutcome;
    private final long[] topCount;
    private final double[] topConf;
    private final double[] topOutcome;
    private double brierSum;
    private double nllSum;
    private long voxels;
    private final ConfidenceSample sample;

    private CalibrationMetrics(Builder b) {
        numClasses = b.numClasses;
        bins = b.bins;
        adaptive = b.adaptive;
        adaptiveSampleSize = b.adaptiveSampleSize;
        seed = b.seed;
        classCount = new long[numClasses * bins];
        classConf = new double[numClasses * bins];
        classOutcome = new double[numClasses * bins];
        topCount = new long[bins];
        topConf = new double[bins];
        topOutcome = new double[bins];
        sample = adaptive ? new ConfidenceSample(numClasses + 1, adaptiveSampleSize, seed) : null;
    }

    /** A builder; {@code numClasses} is required, 15 bins by default (as Guo et al.). */
    public static Builder builder() {
        return new Builder();
    }

    /** {@link #update(INDArray, INDArray, INDArray)} without a region mask. */
    public void update(INDArray probs, INDArray labels) {
        update(probs, labels, null);
    }

    /**
     * Adds a batch.
     *
     * @param probs {@code [N, C, spatial...]} class probabilities
     * @param labels class map {@code [N, spatial...]} / {@code [N, 1, spatial...]} (integer values, any numeric type)
     *     or one-hot {@code [N, C, spatial...]}
     * @param regionMask 0/1 {@code [N, spatial...]} or {@code [N, 1, spatial...]}, any numeric or boolean type;
     *     null counts every voxel
     */
    public void update(INDArray probs, INDArray labels, INDArray regionMask) {
        SegmentationTensors.checkChannelTensor(probs, numClasses, 2, OWNER, "probs");
        long[] ref = probs.shape();
        SegmentationTensors.LabelFormat format = SegmentationTensors.labelFormat(labels, ref, OWNER);
        SegmentationTensors.checkMask(regionMask, ref, OWNER);
        SegmentationTensors.spatialShape(ref, OWNER);
        int[] packed = new int[numClasses + 1];
        for (int n = 0; n < ref[0]; n++) {
            int[] y = SegmentationTensors.classIndices(labels, format, n, numClasses, OWNER);
            boolean[] mask = SegmentationTensors.maskValues(regionMask, n, OWNER);
            double[] p = SegmentationTensors.toDoubleArray(SegmentationTensors.example(probs, n));
            int s = y.length;
            for (int i = 0; i < s; i++) {
                if (mask != null && !mask[i]) {
                    continue;
                }
                int label = y[i];
                int top = 0;
                double topP = -1;
                double brier = 0;
                for (int c = 0; c < numClasses; c++) {
                    double pc = probability(p[c * s + i], n, c, i);
                    boolean hit = c == label;
                    int k = c * bins + ReliabilityBins.binOf(pc, bins);
                    classCount[k]++;
                    classConf[k] += pc;
                    double diff = hit ? pc - 1.0 : pc;
                    brier += diff * diff;
                    if (hit) {
                        classOutcome[k] += 1.0;
                        nllSum -= Math.log(Math.max(pc, NLL_FLOOR));
                    }
                    if (pc > topP) {
                        topP = pc;
                        top = c;
                    }
                    if (sample != null) {
                        packed[c] = ConfidenceSample.pack(pc, hit);
                    }
                }
                int kb = ReliabilityBins.binOf(topP, bins);
                topCount[kb]++;
                topConf[kb] += topP;
                if (top == label) {
                    topOutcome[kb] += 1.0;
                }
                brierSum += brier;
                voxels++;
                if (sample != null) {
                    packed[numClasses] = ConfidenceSample.pack(topP, top == label);
                    sample.offer(packed);
                }
            }
        }
    }

    private static double probability(double v, int n, int c, int i) {
        if (!(v >= -RANGE_TOLERANCE && v <= 1 + RANGE_TOLERANCE)) {
            throw new IllegalArgumentException(OWNER + ": probs must lie in [0, 1], found " + v + " at example " + n
                    + ", class " + c + ", voxel " + i + " (logits? apply softmax first)");
        }
        return Math.min(1.0, Math.max(0.0, v));
    }

    /** An immutable snapshot of every metric so far (sorting the adaptive sample costs O(M log M)). */
    public CalibrationResult result() {
        ReliabilityBins[] perClass = new ReliabilityBins[numClasses];
        for (int c = 0; c < numClasses; c++) {
            int from = c * bins;
            perClass[c] = new ReliabilityBins(Arrays.copyOfRange(classCount, from, from + bins),
                    Arrays.copyOfRange(classConf, from, from + bins),
                    Arrays.copyOfRange(classOutcome, from, from + bins));
        }
        ReliabilityBins topBins = new ReliabilityBins(topCount, topConf, topOutcome);
        double[] adaptiveEce = null;
        boolean exact = true;
        long sampleSize = 0;
        if (sample != null) {
            adaptiveEce = new double[numClasses + 1];
            for (int r = 0; r <= numClasses; r++) {
                adaptiveEce[r] = sample.adaptiveEce(r, bins);
            }
            exact = sample.exact();
            sampleSize = sample.size();
        }
        return new CalibrationResult(numClasses, bins, voxels, perClass, topBins,
                voxels == 0 ? Double.NaN : brierSum / voxels, voxels == 0 ? Double.NaN : nllSum / voxels,
                adaptiveEce, exact, sampleSize);
    }

    /** Forgets every update. */
    public void reset() {
        Arrays.fill(classCount, 0);
        Arrays.fill(classConf, 0);
        Arrays.fill(classOutcome, 0);
        Arrays.fill(topCount, 0);
        Arrays.fill(topConf, 0);
        Arrays.fill(topOutcome, 0);
        brierSum = 0;
        nllSum = 0;
        voxels = 0;
        if (sample != null) {
            sample.reset();
        }
    }

    /** Voxels counted so far. */
    public long voxelCount() {
        return voxels;
    }

    public int numClasses() {
        return numClasses;
    }

    public int bins() {
        return bins;
    }

    @Override
    public String toString() {
        return OWNER + "{numClasses=" + numClasses + ", bins=" + bins + ", adaptive=" + adaptive
                + (adaptive && adaptiveSampleSize > 0 ? ", adaptiveSampleSize=" + adaptiveSampleSize + ", seed=" + seed
                : "") + ", voxels=" + voxels + "}";
    }

    /** Builder for {@link CalibrationMetrics}. */
    public static final class Builder {
        private int numClasses = -1;
        private int bins = 15;
        private boolean adaptive;
        private int adaptiveSampleSize;
        private long seed = 12345L;

        private Builder() {
        }

        /** Number of classes C ≥ 2 (axis 1 of probs). Required. */
        public Builder numClasses(int numClasses) {
            this.numClasses = numClasses;
            return this;
        }

        /** Number of equal-width (and equal-mass) bins B ≥ 1; default 15. */
        public Builder bins(int bins) {
            this.bins = bins;
            return this;
        }

        /** Keep every voxel's confidences for exact adaptive ECE (4·(C+1) bytes per voxel); default false. */
        public Builder adaptive(boolean adaptive) {
            this.adaptive = adaptive;
            if (!adaptive) {
                adaptiveSampleSize = 0;
            }
            return this;
        }

        /**
         * Adaptive ECE from a uniform reservoir sample of at most k voxels (bounded memory 4·(C+1)·k bytes; exact
         * while no more than k voxels were seen). Implies {@code adaptive(true)}.
         */
        public Builder adaptiveSampleSize(int k) {
            if (k <= 0) {
                throw new IllegalArgumentException(OWNER + ": adaptiveSampleSize must be positive, got " + k);
            }
            this.adaptive = true;
            this.adaptiveSampleSize = k;
            return this;
        }

        /** Seed of the reservoir sample; default 12345. */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Validates and builds. */
        public CalibrationMetrics build() {
            if (numClasses < 2) {
                throw new IllegalArgumentException(OWNER + ": numClasses must be >= 2, got " + numClasses
                        + " (for a single sigmoid output pass [1 − p, p] as two classes)");
            }
            if (bins < 1) {
                throw new IllegalArgumentException(OWNER + ": bins must be >= 1, got " + bins);
            }
            if ((long) numClasses * bins > 100_000_000L) {
                throw new IllegalArgumentException(OWNER + ": numClasses·bins = " + (long) numClasses * bins
                        + " is unreasonably large");
            }
            return new CalibrationMetrics(this);
        }
    }
}
