package org.gradsurgery.metrics;

import java.util.Arrays;

/**
 * Exact Euclidean distance transform (EDT) on an n-dimensional voxel grid with anisotropic spacing.
 *
 * <p>For every voxel x the transform gives {@code d(x) = min over feature voxels f of ||(x − f) ⊙ s||₂}, where s is
 * the voxel spacing (e.g. millimetres per voxel along each axis) and distances are between voxel centres. It is the
 * same quantity as {@code scipy.ndimage.distance_transform_edt(~features, sampling=s)}.
 *
 * <p>Algorithm: Felzenszwalb &amp; Huttenlocher, "Distance transforms of sampled functions", Theory of Computing 8
 * (2012). The squared distance is separable, {@code d²(x) = min_f Σ_a s_a²(x_a − f_a)²}, so it is computed by one
 * pass of the 1-D lower envelope of parabolas {@code s_a²(p − q)² + g(q)} per axis; each pass is linear in the
 * number of voxels, so the whole transform is O(n·voxels) and exact (no chamfer approximation).
 * Voxels with no feature anywhere in the grid get {@link Double#POSITIVE_INFINITY}.
 *
 * <p>Grids are flat arrays in C order (the last axis varies fastest), as ND4J stores a c-ordered array.
 */
public final class DistanceTransform {
    private DistanceTransform() {
    }

    /**
     * Distance from every voxel to the nearest feature voxel.
     *
     * @param features flat C-order grid, {@code true} at feature voxels
     * @param shape grid shape (any rank ≥ 1)
     * @param spacing physical size of a voxel along each axis (same length as shape), or null for 1 per axis
     * @return Euclidean distances in the units of {@code spacing}; +∞ everywhere if there is no feature
     */
    public static double[] distance(boolean[] features, int[] shape, double[] spacing) {
        double[] d = squaredDistance(features, shape, spacing);
        for (int i = 0; i < d.length; i++) {
            d[i] = Math.sqrt(d[i]);
        }
        return d;
    }

    /**
     * Squared distance from every voxel to the nearest feature voxel (see {@link #distance}). Squared distances are
     * exact sums of squares, which is what a threshold test {@code d ≤ k} should compare against {@code k²}.
     */
    public static double[] squaredDistance(boolean[] features, int[] shape, double[] spacing) {
        double[] s = checkGrid(features.length, shape, spacing, "features");
        double[] g = new double[features.length];
        for (int i = 0; i < g.length; i++) {
            g[i] = features[i] ? 0.0 : Double.POSITIVE_INFINITY;
        }
        int rank = shape.length;
        int maxLen = Arrays.stream(shape).max().orElse(1);
        double[] line = new double[maxLen];
        double[] out = new double[maxLen];
        int[] v = new int[maxLen];
        double[] z = new double[maxLen + 1];
        int stride = 1;
        for (int axis = rank - 1; axis >= 0; axis--) {
            int n = shape[axis];
            int outer = g.length / (n * stride);
            double w2 = s[axis] * s[axis];
            for (int o = 0; o < outer; o++) {
                int base = o * n * stride;
                for (int i = 0; i < stride; i++) {
                    int start = base + i;
                    for (int p = 0; p < n; p++) {
                        line[p] = g[start + p * stride];
                    }
                    envelope(line, n, w2, out, v, z);
                    for (int p = 0; p < n; p++) {
                        g[start + p * stride] = out[p];
                    }
                }
            }
            stride *= n;
        }
        return g;
    }

    /**
     * 1-D lower envelope: {@code out[p] = min_q w2·(p − q)² + f[q]} over the finite f[q]. Infinite samples are left
     * out of the envelope (including them would produce ∞ − ∞ in the intersection formula).
     */
    private static void envelope(double[] f, int n, double w2, double[] out, int[] v, double[] z) {
        int k = -1;
        for (int q = 0; q < n; q++) {
            if (f[q] == Double.POSITIVE_INFINITY) {
                continue;
            }
            if (k < 0) {
                k = 0;
                v[0] = q;
                z[0] = Double.NEGATIVE_INFINITY;
                z[1] = Double.POSITIVE_INFINITY;
                continue;
            }
            double s = intersection(f, w2, v[k], q);
            while (s <= z[k]) {
                k--;
                s = intersection(f, w2, v[k], q);
            }
            k++;
            v[k] = q;
            z[k] = s;
            z[k + 1] = Double.POSITIVE_INFINITY;
        }
        if (k < 0) {
            Arrays.fill(out, 0, n, Double.POSITIVE_INFINITY);
            return;
        }
        int j = 0;
        for (int p = 0; p < n; p++) {
            while (z[j + 1] < p) {
                j++;
            }
            double dp = p - v[j];
            out[p] = w2 * dp * dp + f[v[j]];
        }
    }

    /** Abscissa where the parabolas rooted at r &lt; q meet (in index units). */
    private static double intersection(double[] f, double w2, int r, int q) {
        return ((f[q] / w2 + (double) q * q) - (f[r] / w2 + (double) r * r)) / (2.0 * (q - r));
    }

    /** Validates a grid description and returns the spacing (ones if null). */
    static double[] checkGrid(int length, int[] shape, double[] spacing, String what) {
        if (shape == null || shape.length == 0) {
            throw new IllegalArgumentException("DistanceTransform: shape must have at least one axis");
        }
        long prod = 1;
        for (int a : shape) {
            if (a <= 0) {
                throw new IllegalArgumentException("DistanceTransform: shape " + Arrays.toString(shape)
                        + " has a non-positive axis");
            }
            prod *= a;
        }
        if (prod != length) {
            throw new IllegalArgumentException("DistanceTransform: " + what + " has " + length
                    + " voxels but shape " + Arrays.toString(shape) + " has " + prod);
        }
        return checkSpacing(spacing, shape.length, "DistanceTransform");
    }

    /**
     * Validates a physical voxel spacing: null means 1 per axis; otherwise one finite positive value per axis.
     *
     * @param owner class name used in the error message
     */
    public static double[] checkSpacing(double[] spacing, int rank, String owner) {
        if (spacing == null) {
            double[] ones = new double[rank];
            Arrays.fill(ones, 1.0);
            return ones;
        }
        if (spacing.length != rank) {
            throw new IllegalArgumentException(owner + ": spacing " + Arrays.toString(spacing) + " has "
                    + spacing.length + " values but the grid has " + rank + " spatial axes");
        }
        for (double s : spacing) {
            if (!(s > 0) || Double.isInfinite(s)) {
                throw new IllegalArgumentException(owner + ": spacing " + Arrays.toString(spacing)
                        + " must be finite and positive on every axis");
            }
        }
        return spacing.clone();
    }
}
