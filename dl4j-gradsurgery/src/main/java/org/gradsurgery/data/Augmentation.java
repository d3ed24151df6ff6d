package org.gradsurgery.data;

import java.util.Arrays;

/**
 * Seeded random augmentations, each a {@link Transform} drawing only from the generator it is given, so the same
 * seed gives the same result (see {@link SegmentationDataSetIterator} for how generators are seeded per example).
 * Geometric steps move image, label and mask with one index map and update the affine; intensity steps touch the
 * image only.
 *
 * <ul>
 *   <li>{@link #randomFlip}: each listed axis is reversed with probability p: {@code out[o] = in[n−1−o]}.</li>
 *   <li>{@link #randomRotate90}: with probability p, rotate by k·90°, k uniform in {1, 2, 3}, in the plane of two
 *       axes (a, b), numpy's {@code rot90(x, k, axes=(a, b))}: one step is {@code out[i, j] = in[j, n_b−1−i]}.</li>
 *   <li>{@link #randomScaleShift}: with probability p, {@code x' = a·x + b}, a ~ U[aMin, aMax], b ~ U[bMin, bMax],
 *       the same for every channel (nnU-Net's multiplicative brightness, MONAI's RandShiftIntensity).</li>
 *   <li>{@link #randomGamma}: with probability p, per channel with range [m, M]:
 *       {@code x' = m + (M−m)·((x−m)/(M−m))^γ}, γ ~ U[γMin, γMax]; the range is preserved (nnU-Net, MONAI's
 *       RandAdjustContrast).</li>
 * </ul>
 */
public final class Augmentation {
    private Augmentation() {
    }

    private static void checkProbability(double p) {
        if (!(p >= 0 && p <= 1)) {
            throw new IllegalArgumentException("probability must be in [0, 1], got " + p);
        }
    }

    private static void checkRange(String what, double lo, double hi) {
        if (!(lo <= hi) || Double.isInfinite(lo) || Double.isInfinite(hi)) {
            throw new IllegalArgumentException(what + ": need a finite range lo <= hi, got [" + lo + ", " + hi + "]");
        }
    }

    /** Flips each of {@code axes} (all spatial axes when none are given) independently with probability p. */
    public static Transform randomFlip(double p, int... axes) {
        checkProbability(p);
        int[] ax = axes.clone();
        return (s, rng) -> {
            int r = s.spatialRank();
            int[] list = ax.length == 0 ? range(r) : ax;
            int[][] m = Grid.identity(r);
            int[] t = new int[r];
            boolean any = false;
            for (int a : list) {
                if (a < 0 || a >= r) {
                    throw new IllegalArgumentException("randomFlip: axis " + a + " outside a " + r + "D sample ("
                            + s.id() + ")");
                }
                if (rng.nextDouble() < p) {
                    m[a][a] = -1;
                    t[a] = s.rawShape()[a] - 1;
                    any = true;
                }
            }
            return any ? Grid.remap(s, s.id(), s.rawShape(), m, t, 0f) : s;
        };
    }

    private static int[] range(int r) {
        int[] a = new int[r];
        for (int i = 0; i < r; i++) {
            a[i] = i;
        }
        return a;
    }

    /** Flip along one axis (deterministic; used by the random version and by test-time augmentation). */
    public static Sample flip(Sample s, int axis) {
        int r = s.spatialRank();
        if (axis < 0 || axis >= r) {
            throw new IllegalArgumentException("flip: axis " + axis + " outside a " + r + "D sample (" + s.id() + ")");
        }
        int[][] m = Grid.identity(r);
        int[] t = new int[r];
        m[axis][axis] = -1;
        t[axis] = s.rawShape()[axis] - 1;
        return Grid.remap(s, s.id(), s.rawShape(), m, t, 0f);
    }

    /** Rotation by {@code k}·90° in the plane of axes (a, b), numpy's {@code rot90(x, k, axes=(a, b))}. */
    public static Sample rotate90(Sample s, int k, int a, int b) {
        int r = s.spatialRank();
        if (a < 0 || a >= r || b < 0 || b >= r || a == b) {
            throw new IllegalArgumentException("rotate90: axes (" + a + ", " + b + ") invalid for a " + r
                    + "D sample (" + s.id() + ")");
        }
        Sample out = s;
        for (int step = 0; step < Math.floorMod(k, 4); step++) {
            int[] shape = out.rawShape();
            int[] outShape = shape.clone();
            outShape[a] = shape[b];
            outShape[b] = shape[a];
            int[][] m = Grid.identity(r);
            int[] t = new int[r];
            m[a][a] = 0;
            m[b][b] = 0;
            m[a][b] = 1;
            m[b][a] = -1;
            t[b] = shape[b] - 1;
            out = Grid.remap(out, out.id(), outShape, m, t, 0f);
        }
        return out;
    }

    /**
     * With probability p, rotates by k·90° (k uniform in {1, 2, 3}) in the plane of axes (a, b). Non-square planes
     * change shape; batch such samples only with square planes or {@link Preprocessing#cropOrPad} afterwards.
     */
    public static Transform randomRotate90(double p, int a, int b) {
        checkProbability(p);
        return (s, rng) -> {
            if (rng.nextDouble() >= p) {
                return s;
            }
            return rotate90(s, 1 + rng.nextInt(3), a, b);
        };
    }

    /** With probability p, {@code x' = a·x + b} with a ~ U[scaleMin, scaleMax], b ~ U[shiftMin, shiftMax]. */
    public static Transform randomScaleShift(double p, double scaleMin, double scaleMax, double shiftMin,
                                             double shiftMax) {
        checkProbability(p);
        checkRange("randomScaleShift scale", scaleMin, scaleMax);
        checkRange("randomScaleShift shift", shiftMin, shiftMax);
        return (s, rng) -> {
            if (rng.nextDouble() >= p) {
                return s;
            }
            double a = scaleMin + (scaleMax - scaleMin) * rng.nextDouble();
            double b = shiftMin + (shiftMax - shiftMin) * rng.nextDouble();
            float[] in = s.rawImage();
            float[] out = new float[in.length];
            for (int i = 0; i < in.length; i++) {
                out[i] = (float) (a * in[i] + b);
            }
            return s.withImage(out, s.channels());
        };
    }

    /** With probability p, gamma γ ~ U[gammaMin, gammaMax] on each channel's [min, max] range. */
    public static Transform randomGamma(double p, double gammaMin, double gammaMax) {
        checkProbability(p);
        checkRange("randomGamma", gammaMin, gammaMax);
        if (!(gammaMin > 0)) {
            throw new IllegalArgumentException("randomGamma: gamma must be > 0, got [" + gammaMin + ", " + gammaMax + "]");
        }
        return (s, rng) -> {
            if (rng.nextDouble() >= p) {
                return s;
            }
            double g = gammaMin + (gammaMax - gammaMin) * rng.nextDouble();
            return gamma(s, g);
        };
    }

    /** Gamma γ on each channel's [min, max] range (deterministic form of {@link #randomGamma}). */
    public static Sample gamma(Sample s, double g) {
        int n = s.voxels();
        float[] in = s.rawImage();
        float[] out = Arrays.copyOf(in, in.length);
        for (int c = 0; c < s.channels(); c++) {
            float min = Float.POSITIVE_INFINITY;
            float max = Float.NEGATIVE_INFINITY;
            for (int v = 0; v < n; v++) {
                min = Math.min(min, in[c * n + v]);
                max = Math.max(max, in[c * n + v]);
            }
            double range = (double) max - min;
            if (!(range > 0)) {
                continue;
            }
            for (int v = 0; v < n; v++) {
                double u = (in[c * n + v] - min) / range;
                out[c * n + v] = (float) (min + range * Math.pow(u, g));
            }
        }
        return s.withImage(out, s.channels());
    }
}
