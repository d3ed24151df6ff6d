package org.gradsurgery.data;

import java.util.Arrays;

/**
 * The voxel-axis orientation of a 3D image and the exact reorientation to RAS canonical axis order, as nibabel's
 * {@code as_closest_canonical}: afterwards array axis 0 runs towards +x (the subject's Right), axis 1 towards +y
 * (Anterior) and axis 2 towards +z (Superior) of the RAS+ world frame that NIfTI's qform/sform use.
 *
 * <p><b>Axis codes.</b> For the 3×3 part R of the voxel-to-world affine (from the sform, else the qform; see
 * {@code NiftiHeader}), voxel axis d is paired with the world axis w(d) of largest |R[w][d]| / ‖R[·][d]‖, greedily by
 * decreasing magnitude so that the pairing is a permutation (nibabel's {@code io_orientation} for oblique affines
 * picks the same axes unless two are within a few degrees of 45°). The code of axis d is R, A or S when
 * R[w(d)][d] &gt; 0 and L, P or I otherwise; {@code "LAS"} is a radiological (FSL) layout, {@code "RAS"} canonical.
 *
 * <p><b>Reorientation.</b> Canonical voxel o reads stored voxel {@code in[d] = o[w(d)]} when axis d points the
 * positive way and {@code n_d − 1 − o[w(d)]} otherwise: a signed permutation, so values are moved, never interpolated,
 * and the affine becomes {@code A·H} ({@link Grid}), so every voxel keeps its world position. {@link #toStored(int[])}
 * maps a canonical-grid label map back to the stored voxel order, so a prediction is written on the input's own grid
 * with the input's own affine.
 */
public final class Orientation {
    private static final String POSITIVE = "RAS";
    private static final String NEGATIVE = "LPI";

    private final int[] storedShape;
    private final int[] canonicalShape;
    private final int[] worldAxis;
    private final boolean[] flipped;

    private Orientation(int[] storedShape, int[] worldAxis, boolean[] flipped) {
        this.storedShape = storedShape;
        this.worldAxis = worldAxis;
        this.flipped = flipped;
        this.canonicalShape = new int[3];
        for (int d = 0; d < 3; d++) {
            canonicalShape[worldAxis[d]] = storedShape[d];
        }
    }

    /** The orientation of a 3D grid of {@code shape} with the given 4×4 voxel-to-world affine. */
    public static Orientation of(double[][] affine, int[] shape) {
        if (shape.length != 3) {
            throw new IllegalArgumentException("Orientation: a 3D shape is needed, got " + Arrays.toString(shape));
        }
        double[][] r = new double[3][3];
        for (int d = 0; d < 3; d++) {
            double norm = 0;
            for (int w = 0; w < 3; w++) {
                norm += affine[w][d] * affine[w][d];
            }
            norm = Math.sqrt(norm);
            if (!(norm > 0) || !Double.isFinite(norm)) {
                throw new IllegalArgumentException("Orientation: voxel axis " + d + " of the affine "
                        + Arrays.deepToString(affine) + " has no direction");
            }
            for (int w = 0; w < 3; w++) {
                r[w][d] = affine[w][d] / norm;
            }
        }
        int[] world = {-1, -1, -1};
        boolean[] flip = new boolean[3];
        boolean[] usedWorld = new boolean[3];
        for (int step = 0; step < 3; step++) {
            int bw = -1;
            int bd = -1;
            double best = -1;
            for (int d = 0; d < 3; d++) {
                if (world[d] >= 0) {
                    continue;
                }
                for (int w = 0; w < 3; w++) {
                    if (!usedWorld[w] && Math.abs(r[w][d]) > best) {
                        best = Math.abs(r[w][d]);
                        bw = w;
                        bd = d;
                    }
                }
            }
            world[bd] = bw;
            usedWorld[bw] = true;
            flip[bd] = r[bw][bd] < 0;
        }
        return new Orientation(shape.clone(), world, flip);
    }

    /** The orientation of a 3D sample (from its affine). */
    public static Orientation of(Sample s) {
        return of(s.rawAffine(), s.rawShape());
    }

    /** Axis codes of the stored grid, e.g. {@code "LAS"} (nibabel's {@code aff2axcodes}). */
    public String codes() {
        StringBuilder b = new StringBuilder(3);
        for (int d = 0; d < 3; d++) {
            b.append((flipped[d] ? NEGATIVE : POSITIVE).charAt(worldAxis[d]));
        }
        return b.toString();
    }

    /** Whether the stored grid is already RAS (reorientation is the identity). */
    public boolean isCanonical() {
        for (int d = 0; d < 3; d++) {
            if (worldAxis[d] != d || flipped[d]) {
                return false;
            }
        }
        return true;
    }

    /** Spatial shape as stored. */
    public int[] storedShape() {
        return storedShape.clone();
    }

    /** Spatial shape in RAS order. */
    public int[] canonicalShape() {
        return canonicalShape.clone();
    }

    /** {@code in = M·o + t} of the canonical-to-stored voxel map. */
    private int[][] matrix() {
        int[][] m = new int[3][3];
        for (int d = 0; d < 3; d++) {
            m[d][worldAxis[d]] = flipped[d] ? -1 : 1;
        }
        return m;
    }

    private int[] offset() {
        int[] t = new int[3];
        for (int d = 0; d < 3; d++) {
            t[d] = flipped[d] ? storedShape[d] - 1 : 0;
        }
        return t;
    }

    /** The sample (on this orientation's stored grid) in RAS order; image, label, mask, spacing and affine alike. */
    public Sample toCanonical(Sample s) {
        if (!Arrays.equals(s.rawShape(), storedShape)) {
            throw new IllegalArgumentException("Orientation: sample " + s.id() + " has shape "
                    + Arrays.toString(s.rawShape()) + ", this orientation is for " + Arrays.toString(storedShape));
        }
        return isCanonical() ? s : Grid.remap(s, s.id(), canonicalShape.clone(), matrix(), offset(), 0f);
    }

    /** Values over the canonical grid (C-order) back in the stored voxel order. */
    public int[] toStored(int[] canonical) {
        int[] src = sourceIndex();
        check(canonical.length, 1);
        int[] out = new int[canonical.length];
        for (int i = 0; i < src.length; i++) {
            out[i] = canonical[src[i]];
        }
        return out;
    }

    /** {@code channels} blocks of values over the canonical grid (C-order, channels first) in stored voxel order. */
    public float[] toStored(float[] canonical, int channels) {
        int[] src = sourceIndex();
        check(canonical.length, channels);
        int n = src.length;
        float[] out = new float[canonical.length];
        for (int c = 0; c < channels; c++) {
            for (int i = 0; i < n; i++) {
                out[c * n + i] = canonical[c * n + src[i]];
            }
        }
        return out;
    }

    private void check(int length, int channels) {
        if (length != (long) Grid.product(storedShape) * channels) {
            throw new IllegalArgumentException("Orientation: " + length + " values do not fill " + channels
                    + " channel(s) of " + Arrays.toString(canonicalShape));
        }
    }

    /** For each stored voxel (C-order), the flat index of the canonical voxel o with {@code in = M·o + t}. */
    private int[] sourceIndex() {
        int n = Grid.product(storedShape);
        int[] cs = Grid.strides(canonicalShape);
        int[] t = offset();
        int[] in = new int[3];
        int[] src = new int[n];
        for (int flat = 0; flat < n; flat++) {
            int rem = flat;
            for (int d = 2; d >= 0; d--) {
                in[d] = rem % storedShape[d];
                rem /= storedShape[d];
            }
            int o = 0;
            for (int d = 0; d < 3; d++) {
                o += (flipped[d] ? t[d] - in[d] : in[d]) * cs[worldAxis[d]];
            }
            src[flat] = o;
        }
        return src;
    }

    @Override
    public String toString() {
        return codes();
    }
}
