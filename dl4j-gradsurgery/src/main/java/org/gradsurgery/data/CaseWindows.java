package org.gradsurgery.data;

import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import org.gradsurgery.InvalidInputException;

/**
 * Windows of a case in voxel space (a data plan's {@code cropToNonzero} and {@code commonPadding}): the bounding box of
 * the non-zero image voxels, and padding at the high end of each axis to one common size, with the case's minimum
 * intensity per channel and label 0. The affine follows the window's origin, so a window stays where it was in the
 * world. A network trained on cases padded this way is also run on them padded this way (and the padding cut off).
 */
public final class CaseWindows {
    private CaseWindows() {
    }

    /** Crops each case to the box of the voxels where any channel is non-zero (the whole case when there are none). */
    public static Transform cropToNonzero() {
        return (s, rng) -> cropToNonzero(s);
    }

    /** {@link #cropToNonzero()} of one sample. */
    public static Sample cropToNonzero(Sample s) {
        int[] shape = s.shape();
        int r = shape.length;
        float[] img = s.imageData();
        int n = s.voxels();
        int[] lo = new int[r];
        int[] hi = new int[r];
        Arrays.fill(lo, Integer.MAX_VALUE);
        Arrays.fill(hi, -1);
        int[] idx = new int[r];
        for (int v = 0; v < n; v++) {
            boolean nz = false;
            for (int c = 0; c < s.channels() && !nz; c++) {
                nz = img[c * n + v] != 0;
            }
            if (nz) {
                for (int a = 0; a < r; a++) {
                    lo[a] = Math.min(lo[a], idx[a]);
                    hi[a] = Math.max(hi[a], idx[a]);
                }
            }
            for (int a = r - 1; a >= 0; a--) {
                if (++idx[a] < shape[a]) {
                    break;
                }
                idx[a] = 0;
            }
        }
        if (hi[0] < 0) {
            return s;
        }
        int[] size = new int[r];
        for (int a = 0; a < r; a++) {
            size[a] = hi[a] - lo[a] + 1;
        }
        return window(s, lo, size, 0f, false);
    }

    /**
     * The common size of {@code cases}: per axis the largest case's size rounded up to a multiple of
     * {@code multiple}.
     */
    public static int[] commonSize(Collection<Sample> cases, int multiple) {
        Sample first = cases.iterator().next();
        int r = first.spatialRank();
        int[] target = new int[r];
        for (Sample c : cases) {
            if (c.spatialRank() != r) {
                throw new InvalidInputException("case " + c.id() + " has spatial rank " + c.spatialRank() + ", case "
                        + first.id() + " has " + r);
            }
            for (int a = 0; a < r; a++) {
                target[a] = Math.max(target[a], c.shape()[a]);
            }
        }
        for (int a = 0; a < r; a++) {
            target[a] = (target[a] + multiple - 1) / multiple * multiple;
        }
        return target;
    }

    /**
     * {@code s} padded at the high end to {@code size}, or further to the next multiple of {@code multiple} along an
     * axis where the case is larger; {@code keepAxis} (≥ 0: the slice axis of a volume sliced for a 2D network)
     * keeps the case's own size. The padding has the case's minimum intensity per channel and label 0; the case
     * itself stays at the origin, so {@code [0, shape)} of the result is the case.
     */
    public static Sample padHighEnd(Sample s, int[] size, int multiple, int keepAxis) {
        int[] shape = s.shape();
        if (size.length != shape.length) {
            throw new InvalidInputException("case " + s.id() + " is " + shape.length + "D, the padded size "
                    + java.util.Arrays.toString(size) + " is " + size.length + "D");
        }
        int[] t = new int[shape.length];
        for (int a = 0; a < shape.length; a++) {
            t[a] = a == keepAxis ? shape[a] : Math.max(size[a], (shape[a] + multiple - 1) / multiple * multiple);
        }
        return window(s, new int[shape.length], t, Float.NaN, true);
    }

    /** Every case padded to their {@link #commonSize} ({@link #padHighEnd}), by id. */
    public static Map<String, Sample> padToCommonSize(Collection<Sample> cases, int keepAxis, int multiple) {
        Map<String, Sample> out = new LinkedHashMap<>();
        if (cases.isEmpty()) {
            return out;
        }
        int[] target = commonSize(cases, multiple);
        java.util.List<Sample> sorted = new java.util.ArrayList<>(cases);
        sorted.sort(java.util.Comparator.comparing(Sample::id));
        for (Sample c : sorted) {
            if (out.put(c.id(), padHighEnd(c, target, multiple, c.spatialRank() == 3 ? keepAxis : -1)) != null) {
                throw new InvalidInputException("two cases with id " + c.id());
            }
        }
        return out;
    }

    /**
     * The window of {@code size} starting at {@code offset} (inside the sample or beyond its high end); voxels beyond
     * it get the label 0 and the image value {@code fill} (with {@code minimumFill}, each channel's minimum).
     */
    private static Sample window(Sample s, int[] offset, int[] size, float fill, boolean minimumFill) {
        int[] shape = s.shape();
        int r = shape.length;
        int ch = s.channels();
        float[] img = s.imageData();
        int[] lab = s.labelData();
        int n = s.voxels();
        int m = Arrays.stream(size).reduce(1, (a, b) -> a * b);
        float[] outImg = new float[ch * m];
        int[] outLab = new int[m];
        float[] fills = new float[ch];
        for (int c = 0; c < ch; c++) {
            float min = Float.POSITIVE_INFINITY;
            for (int v = 0; v < n; v++) {
                min = Math.min(min, img[c * n + v]);
            }
            fills[c] = minimumFill ? min : fill;
        }
        int[] idx = new int[r];
        for (int v = 0; v < m; v++) {
            int src = 0;
            boolean inside = true;
            for (int a = 0; a < r; a++) {
                int x = idx[a] + offset[a];
                if (x >= shape[a]) {
                    inside = false;
                    break;
                }
                src = src * shape[a] + x;
            }
            for (int c = 0; c < ch; c++) {
                outImg[c * m + v] = inside ? img[c * n + src] : fills[c];
            }
            outLab[v] = inside ? lab[src] : 0;
            for (int a = r - 1; a >= 0; a--) {
                if (++idx[a] < size[a]) {
                    break;
                }
                idx[a] = 0;
            }
        }
        double[][] affine = s.affine();
        double[] sp = s.spacing();
        for (int row = 0; row < 3; row++) {
            for (int a = 0; a < Math.min(r, 3); a++) {
                affine[row][3] += affine[row][a] * offset[a];
            }
        }
        return Sample.of(s.id(), outImg, ch, size, outLab, null, sp, affine);
    }
}
