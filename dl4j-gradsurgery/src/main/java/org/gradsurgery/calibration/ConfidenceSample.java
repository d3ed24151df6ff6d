package org.gradsurgery.calibration;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The (confidence, outcome) pairs adaptive ECE needs, one row per class plus one for the top label, kept either
 * completely (exact) or as a uniform reservoir sample of voxels (Vitter's Algorithm R, a fixed number of voxels).
 *
 * <p>Each pair is packed in one int: {@code (floatBits(p) << 1) | outcome}. For p in [0, 1] the IEEE-754 bits of
 * a float are ordered like the values and stay below 2^30, so sorting the packed ints sorts by confidence (ties by
 * outcome) and costs 4 bytes per pair: 4·(C+1) bytes per kept voxel. The float rounding changes a confidence by
 * at most 6e-8 relative, which moves adaptive ECE by at most that much.
 */
final class ConfidenceSample {
    private final int rows;
    private final int capacity;
    private final boolean reservoir;
    private final long seed;
    private SplittableRandom random;
    private int[][] data;
    private int size;
    private long seen;

    /** @param capacity maximum voxels kept; {@code <= 0} keeps every voxel (exact) */
    ConfidenceSample(int rows, int capacity, long seed) {
        this.rows = rows;
        this.reservoir = capacity > 0;
        this.capacity = reservoir ? capacity : Integer.MAX_VALUE - 8;
        this.seed = seed;
        this.random = new SplittableRandom(seed);
        this.data = new int[rows][reservoir ? Math.min(capacity, 1 << 16) : 1 << 16];
    }

    static int pack(double p, boolean outcome) {
        float f = (float) p + 0.0f; // + 0.0f turns −0.0 into +0.0
        return (Float.floatToRawIntBits(f) << 1) | (outcome ? 1 : 0);
    }

    static double confidence(int packed) {
        return Float.intBitsToFloat(packed >>> 1);
    }

    static int outcome(int packed) {
        return packed & 1;
    }

    /** Offers one voxel: {@code packed[r]} for every row. */
    void offer(int[] packed) {
        int slot;
        if (size < capacity) {
            if (size == data[0].length) {
                grow();
            }
            slot = size++;
        } else if (reservoir) {
            long j = random.nextLong(seen + 1);
            if (j >= capacity) {
                seen++;
                return;
            }
            slot = (int) j;
        } else {
            throw new IllegalStateException("CalibrationMetrics: exact adaptive ECE keeps every voxel and cannot hold "
                    + "more than " + capacity + "; use adaptiveSampleSize(k) for a bounded reservoir sample");
        }
        seen++;
        for (int r = 0; r < rows; r++) {
            data[r][slot] = packed[r];
        }
    }

    private void grow() {
        int n = (int) Math.min((long) capacity, Math.max(16L, 2L * data[0].length));
        for (int r = 0; r < rows; r++) {
            data[r] = Arrays.copyOf(data[r], n);
        }
    }

    /** Voxels offered so far. */
    long seen() {
        return seen;
    }

    /** Voxels kept. */
    int size() {
        return size;
    }

    /** Whether every offered voxel is kept. */
    boolean exact() {
        return seen == size;
    }

    void reset() {
        size = 0;
        seen = 0;
        random = new SplittableRandom(seed);
        data = new int[rows][1 << 4];
    }

    /**
     * ECE over B equal-mass bins of row r: sort the kept pairs by confidence, split them into B chunks of
     * ⌊(b+1)M/B⌋ − ⌊bM/B⌋ pairs, and sum |Σ outcome − Σ confidence| / M over the chunks (= Σ (n_b/M)|acc_b − conf_b|).
     * NaN with no pair.
     */
    double adaptiveEce(int r, int bins) {
        if (size == 0) {
            return Double.NaN;
        }
        int[] sorted = Arrays.copyOf(data[r], size);
        Arrays.sort(sorted);
        double total = 0;
        for (int b = 0; b < bins; b++) {
            int lo = (int) ((long) b * size / bins);
            int hi = (int) ((long) (b + 1) * size / bins);
            double conf = 0;
            double out = 0;
            for (int i = lo; i < hi; i++) {
                conf += confidence(sorted[i]);
                out += outcome(sorted[i]);
            }
            total += Math.abs(out - conf);
        }
        return total / size;
    }
}
