package org.gradsurgery.data;

import java.util.Arrays;

/**
 * Resampling of a sample to a target voxel spacing.
 *
 * <p>Grid: along each spatial axis d with size n_d and spacing s_d, the output has
 * {@code n'_d = max(1, round(n_d·s_d/s'_d))} voxels, and output voxel o sits at input coordinate
 * {@code x = o·s'_d/s_d}: voxel 0 keeps its centre and world position (MONAI's {@code Spacing} and nibabel's
 * {@code resample_to_output} keep the origin the same way). The affine's spatial columns are scaled by
 * {@code s'_d/s_d}. Coordinates past the last voxel clamp to the edge.
 *
 * <p>Values: the image is interpolated (bi/tri)linearly, {@code Σ_corners Π_d w_d·x[corner]} with
 * {@code w = 1 − |x − corner|}; label and mask take the nearest voxel ({@code round(x)}, halves rounding up), so
 * class ids are never blended.
 */
public final class Resample {
    private Resample() {
    }

    /** Resamples {@code s} to {@code spacing} (one value per spatial axis, mm). */
    public static Sample toSpacing(Sample s, double[] spacing) {
        checkSpacing(s, spacing);
        int[] in = s.rawShape();
        double[] inSp = s.rawSpacing();
        int[] out = new int[in.length];
        for (int d = 0; d < in.length; d++) {
            out[d] = (int) Math.max(1, Math.round(in[d] * inSp[d] / spacing[d]));
        }
        return toGrid(s, spacing, out);
    }

    /**
     * Resamples {@code s} to {@code spacing} with exactly {@code shape} voxels (same origin and coordinates as
     * {@link #toSpacing}; indices past the input's last voxel take the edge). With the original spacing and shape
     * this takes a resampled sample back onto its source grid, e.g. predicted probabilities.
     */
    public static Sample toGrid(Sample s, double[] spacing, int[] shape) {
        checkSpacing(s, spacing);
        int r = s.spatialRank();
        if (shape.length != r || Arrays.stream(shape).anyMatch(v -> v < 1)) {
            throw new IllegalArgumentException("resample: target shape " + Arrays.toString(shape) + " must have "
                    + r + " positive sizes for sample " + s.id());
        }
        int[] in = s.rawShape();
        double[] inSp = s.rawSpacing();
        int[] out = shape.clone();
        double[] step = new double[r];
        for (int d = 0; d < r; d++) {
            step[d] = spacing[d] / inSp[d];
        }
        if (Arrays.equals(in, out) && Arrays.equals(inSp, spacing)) {
            return s;
        }
        // Per axis and output index: lower input index, upper input index, weight of the upper one, nearest.
        int[][] lo = new int[r][];
        int[][] hi = new int[r][];
        double[][] w = new double[r][];
        int[][] near = new int[r][];
        for (int d = 0; d < r; d++) {
            lo[d] = new int[out[d]];
            hi[d] = new int[out[d]];
            w[d] = new double[out[d]];
            near[d] = new int[out[d]];
            for (int o = 0; o < out[d]; o++) {
                double x = Math.min(o * step[d], in[d] - 1);
                int l = (int) Math.floor(x);
                lo[d][o] = l;
                hi[d][o] = Math.min(l + 1, in[d] - 1);
                w[d][o] = x - l;
                near[d][o] = Math.min((int) Math.floor(x + 0.5), in[d] - 1);
            }
        }
        int[] st = Grid.strides(in);
        int nIn = Grid.product(in);
        int nOut = Grid.product(out);
        int corners = 1 << r;
        int[] cornerIndex = new int[corners];
        double[] cornerWeight = new double[corners];
        int[] nearest = new int[nOut];
        float[] img = new float[s.channels() * nOut];
        float[] src = s.rawImage();
        int[] o = new int[r];
        for (int flat = 0; flat < nOut; flat++) {
            int nIdx = 0;
            for (int d = 0; d < r; d++) {
                nIdx += near[d][o[d]] * st[d];
            }
            nearest[flat] = nIdx;
            for (int k = 0; k < corners; k++) {
                int idx = 0;
                double wt = 1;
                for (int d = 0; d < r; d++) {
                    boolean upper = ((k >> d) & 1) == 1;
                    idx += (upper ? hi[d][o[d]] : lo[d][o[d]]) * st[d];
                    wt *= upper ? w[d][o[d]] : 1 - w[d][o[d]];
                }
                cornerIndex[k] = idx;
                cornerWeight[k] = wt;
            }
            for (int c = 0; c < s.channels(); c++) {
                double v = 0;
                for (int k = 0; k < corners; k++) {
                    if (cornerWeight[k] != 0) {
                        v += cornerWeight[k] * src[c * nIn + cornerIndex[k]];
                    }
                }
                img[c * nOut + flat] = (float) v;
            }
            for (int d = r - 1; d >= 0; d--) {
                if (++o[d] < out[d]) {
                    break;
                }
                o[d] = 0;
            }
        }
        int[] lab = null;
        if (s.hasLabel()) {
            lab = new int[nOut];
            for (int k = 0; k < nOut; k++) {
                lab[k] = s.rawLabel()[nearest[k]];
            }
        }
        boolean[] msk = null;
        if (s.hasMask()) {
            msk = new boolean[nOut];
            for (int k = 0; k < nOut; k++) {
                msk[k] = s.rawMask()[nearest[k]];
            }
        }
        double[][] aff = Sample.deepCopy(s.rawAffine());
        for (int d = 0; d < r; d++) {
            for (int i = 0; i < 3; i++) {
                aff[i][d] *= step[d];
            }
        }
        return s.withGrid(s.id(), img, out, lab, msk, spacing.clone(), aff);
    }

    private static void checkSpacing(Sample s, double[] spacing) {
        if (spacing.length != s.spatialRank()) {
            throw new IllegalArgumentException("resample: target spacing " + Arrays.toString(spacing) + " has "
                    + spacing.length + " values but sample " + s.id() + " is " + s.spatialRank() + "D");
        }
        for (double v : spacing) {
            if (!(v > 0) || Double.isInfinite(v)) {
                throw new IllegalArgumentException("resample: spacing must be positive and finite, got "
                        + Arrays.toString(spacing));
            }
        }
    }
}
