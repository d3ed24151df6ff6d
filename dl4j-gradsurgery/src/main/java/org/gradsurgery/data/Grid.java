package org.gradsurgery.data;

import java.util.Arrays;

/**
 * Exact voxel-grid remapping shared by the geometric transforms (flip, 90° rotation, crop, pad, patch).
 *
 * <p>Each output voxel {@code o} reads the input voxel {@code in = M·o + t} for a signed permutation matrix M and an
 * integer offset t; outside the input it takes the pad value (image), 0 (label) or false (mask). The world affine
 * becomes {@code A·H}, with H the homogeneous form of (M, t), so the moved voxels keep their world positions.
 */
final class Grid {
    private Grid() {
    }

    static int[] strides(int[] shape) {
        int[] s = new int[shape.length];
        int acc = 1;
        for (int d = shape.length - 1; d >= 0; d--) {
            s[d] = acc;
            acc = Math.multiplyExact(acc, shape[d]);
        }
        return s;
    }

    static int product(int[] shape) {
        int p = 1;
        for (int s : shape) {
            p = Math.multiplyExact(p, s);
        }
        return p;
    }

    static int[][] identity(int r) {
        int[][] m = new int[r][r];
        for (int i = 0; i < r; i++) {
            m[i][i] = 1;
        }
        return m;
    }

    /** {@code a·h} for 4×4 matrices. */
    static double[][] multiply(double[][] a, double[][] h) {
        double[][] c = new double[4][4];
        for (int i = 0; i < 4; i++) {
            for (int j = 0; j < 4; j++) {
                double s = 0;
                for (int k = 0; k < 4; k++) {
                    s += a[i][k] * h[k][j];
                }
                c[i][j] = s;
            }
        }
        return c;
    }

    /** The 4×4 homogeneous matrix of {@code in = M·o + t} (axes beyond M's rank are left unchanged). */
    static double[][] homogeneous(int[][] m, int[] t) {
        double[][] h = new double[4][4];
        for (int i = 0; i < 4; i++) {
            h[i][i] = 1;
        }
        for (int i = 0; i < m.length; i++) {
            for (int j = 0; j < m.length; j++) {
                h[i][j] = m[i][j];
            }
            h[i][3] = t[i];
        }
        return h;
    }

    /** Remaps a sample; see the class doc. */
    static Sample remap(Sample s, String id, int[] outShape, int[][] m, int[] t, float imagePad) {
        return remap(s, id, outShape, m, t, imagePad, false);
    }

    /**
     * Remaps a sample; with {@code clamp}, an output voxel outside the input reads the nearest input voxel instead
     * (edge replication of image, label and mask: the padded border continues the edge, so a network sees no
     * artificial value there).
     */
    static Sample remap(Sample s, String id, int[] outShape, int[][] m, int[] t, float imagePad, boolean clamp) {
        int r = s.spatialRank();
        int[] inShape = s.rawShape();
        int[] inStrides = strides(inShape);
        int nOut = product(outShape);
        int nIn = product(inShape);
        // For each output voxel, the flat input index (or -1 outside the input).
        int[] src = new int[nOut];
        int[] o = new int[r];
        for (int flat = 0; flat < nOut; flat++) {
            int in = 0;
            boolean inside = true;
            for (int i = 0; i < r && inside; i++) {
                int v = t[i];
                for (int j = 0; j < r; j++) {
                    v += m[i][j] * o[j];
                }
                if (v < 0 || v >= inShape[i]) {
                    if (clamp) {
                        v = Math.min(Math.max(v, 0), inShape[i] - 1);
                    } else {
                        inside = false;
                    }
                }
                in += v * inStrides[i];
            }
            src[flat] = inside ? in : -1;
            for (int d = r - 1; d >= 0; d--) {
                if (++o[d] < outShape[d]) {
                    break;
                }
                o[d] = 0;
            }
        }
        int c = s.channels();
        float[] img = new float[c * nOut];
        float[] inImg = s.rawImage();
        for (int ch = 0; ch < c; ch++) {
            int ob = ch * nOut;
            int ib = ch * nIn;
            for (int k = 0; k < nOut; k++) {
                img[ob + k] = src[k] < 0 ? imagePad : inImg[ib + src[k]];
            }
        }
        int[] lab = null;
        if (s.hasLabel()) {
            int[] inLab = s.rawLabel();
            lab = new int[nOut];
            for (int k = 0; k < nOut; k++) {
                lab[k] = src[k] < 0 ? 0 : inLab[src[k]];
            }
        }
        boolean[] msk = null;
        if (s.hasMask()) {
            boolean[] inMask = s.rawMask();
            msk = new boolean[nOut];
            for (int k = 0; k < nOut; k++) {
                msk[k] = src[k] >= 0 && inMask[src[k]];
            }
        }
        double[] sp = new double[r];
        double[] inSp = s.rawSpacing();
        for (int j = 0; j < r; j++) {
            for (int i = 0; i < r; i++) {
                if (m[i][j] != 0) {
                    sp[j] = inSp[i];
                }
            }
        }
        return s.withGrid(id, img, outShape.clone(), lab, msk, sp, multiply(s.rawAffine(), homogeneous(m, t)));
    }

    /** Crop (offset ≥ 0) or pad (offset < 0) to {@code outShape}, reading input voxel {@code o + offset}. */
    static Sample window(Sample s, String id, int[] offset, int[] outShape, float imagePad) {
        if (offset.length != s.spatialRank() || outShape.length != s.spatialRank()) {
            throw new IllegalArgumentException("Sample " + s.id() + ": window offset " + Arrays.toString(offset)
                    + " / shape " + Arrays.toString(outShape) + " do not match spatial rank " + s.spatialRank());
        }
        return remap(s, id, outShape, identity(s.spatialRank()), offset, imagePad, false);
    }

    /** {@link #window} with edge replication instead of a pad value. */
    static Sample windowEdge(Sample s, String id, int[] offset, int[] outShape) {
        if (offset.length != s.spatialRank() || outShape.length != s.spatialRank()) {
            throw new IllegalArgumentException("Sample " + s.id() + ": window offset " + Arrays.toString(offset)
                    + " / shape " + Arrays.toString(outShape) + " do not match spatial rank " + s.spatialRank());
        }
        return remap(s, id, outShape, identity(s.spatialRank()), offset, 0f, true);
    }
}
