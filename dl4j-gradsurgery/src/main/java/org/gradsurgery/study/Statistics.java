package org.gradsurgery.study;

import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The statistics of a study report.
 *
 * <p><b>Mean ± sd over seeds</b> ({@link #meanSd}): x̄ = Σx/n and the sample standard deviation
 * s = √(Σ(x − x̄)²/(n − 1)) (0 for n = 1). NaN values (e.g. HD95 of a case without prediction) are left out and
 * counted.
 *
 * <p><b>Paired difference</b> ({@link #paired}): for the test cases i = 1..n that both arms scored (all seeds pooled,
 * case i of seed s paired with case i of seed s), d_i = with_i − without_i; the estimate is d̄ = Σd/n and the 95 %
 * percentile bootstrap interval (Efron & Tibshirani 1993, ch. 13): B resamples of n differences drawn with
 * replacement, each giving a mean d̄*_b; the interval is [d̄*_(⌈0.025·B⌉), d̄*_(⌈0.975·B⌉)] of the sorted means.
 * Pairs with a NaN on either side are dropped. The resampling generator is seeded, so a report is reproducible.
 */
public final class Statistics {
    /** Bootstrap resamples of the paired difference. */
    public static final int DEFAULT_RESAMPLES = 10_000;

    private Statistics() {
    }

    /** Mean and sample standard deviation of the finite values; {@code n} counts them, {@code missing} the NaNs. */
    public record MeanSd(double mean, double sd, int n, int missing) {
        /** {@code 0.8123 ± 0.0100} with {@code digits} decimals; "n/a" when no value. */
        public String format(int digits) {
            if (n == 0) {
                return "n/a";
            }
            return String.format(java.util.Locale.ROOT, "%." + digits + "f ± %." + digits + "f", mean, sd);
        }
    }

    /** A paired difference "with − without": mean of n pairs and its percentile bootstrap interval [lo, hi]. */
    public record PairedDifference(double mean, double lo, double hi, int n) {
        /** Whether the interval excludes 0. */
        public boolean significant() {
            return n > 0 && (lo > 0 || hi < 0);
        }
    }

    /** Mean ± sample sd of the non-NaN values. */
    public static MeanSd meanSd(double... values) {
        double sum = 0;
        int n = 0;
        for (double v : values) {
            if (!Double.isNaN(v)) {
                sum += v;
                n++;
            }
        }
        if (n == 0) {
            return new MeanSd(Double.NaN, Double.NaN, 0, values.length);
        }
        double mean = sum / n;
        double ss = 0;
        for (double v : values) {
            if (!Double.isNaN(v)) {
                ss += (v - mean) * (v - mean);
            }
        }
        return new MeanSd(mean, n > 1 ? Math.sqrt(ss / (n - 1)) : 0, n, values.length - n);
    }

    /** {@link #paired(double[], double[], int, long)} with {@link #DEFAULT_RESAMPLES} and seed 0. */
    public static PairedDifference paired(double[] with, double[] without) {
        return paired(with, without, DEFAULT_RESAMPLES, 0);
    }

    /**
     * The paired difference with − without and its 95 % percentile bootstrap interval (see the class documentation).
     *
     * @throws IllegalArgumentException if the arrays differ in length or resamples &lt; 1
     */
    public static PairedDifference paired(double[] with, double[] without, int resamples, long seed) {
        if (with.length != without.length) {
            throw new IllegalArgumentException("Statistics.paired: " + with.length + " values with, " + without.length
                    + " without; pairs need the same cases");
        }
        if (resamples < 1) {
            throw new IllegalArgumentException("Statistics.paired: resamples must be >= 1, got " + resamples);
        }
        double[] d = new double[with.length];
        int n = 0;
        for (int i = 0; i < with.length; i++) {
            if (!Double.isNaN(with[i]) && !Double.isNaN(without[i])) {
                d[n++] = with[i] - without[i];
            }
        }
        if (n == 0) {
            return new PairedDifference(Double.NaN, Double.NaN, Double.NaN, 0);
        }
        double mean = 0;
        for (int i = 0; i < n; i++) {
            mean += d[i];
        }
        mean /= n;
        SplittableRandom rng = new SplittableRandom(seed);
        double[] means = new double[resamples];
        for (int b = 0; b < resamples; b++) {
            double s = 0;
            for (int i = 0; i < n; i++) {
                s += d[rng.nextInt(n)];
            }
            means[b] = s / n;
        }
        Arrays.sort(means);
        return new PairedDifference(mean, percentile(means, 0.025), percentile(means, 0.975), n);
    }

    /** The ⌈q·B⌉-th smallest of the sorted values (1-based), the percentile-bootstrap convention. */
    static double percentile(double[] sorted, double q) {
        int k = (int) Math.ceil(q * sorted.length);
        return sorted[Math.max(0, Math.min(sorted.length - 1, k - 1))];
    }
}
