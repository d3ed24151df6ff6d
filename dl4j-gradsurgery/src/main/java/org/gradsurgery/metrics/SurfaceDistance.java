package org.gradsurgery.metrics;

import java.util.Arrays;

/**
 * Surface distances between two binary segmentations, in physical units: the Hausdorff distance at a percentile
 * (HD95) and the average symmetric surface distance (ASSD). Immutable.
 *
 * <p><b>Surface.</b> The surface of a mask M is the set of its voxels that have a face neighbour (2·d-connectivity)
 * outside M, with everything outside the image counted as outside: {@code M XOR erode(M)} with scipy's default
 * cross-shaped structuring element and border value 0, as MONAI's {@code get_mask_edges}.
 *
 * <p><b>Directed distances.</b> For every surface voxel of the prediction, the Euclidean distance (with voxel
 * spacing, between voxel centres) to the nearest surface voxel of the ground truth, d(P→G); and d(G→P) the other way.
 * They come from an exact distance transform ({@link DistanceTransform}), computed on the bounding box of both
 * surfaces, which holds every candidate nearest voxel so the crop changes nothing.
 *
 * <ul>
 *   <li>{@code hausdorff(q) = max(P_q(d(P→G)), P_q(d(G→P)))}, with P_q the q-th percentile by linear interpolation
 *       (numpy's default), as MONAI's {@code compute_hausdorff_distance(percentile=q, directed=False)};
 *       HD95 is q = 95 and q = 100 is the classic Hausdorff distance.</li>
 *   <li>{@code assd = (Σ d(P→G) + Σ d(G→P)) / (|S_P| + |S_G|)}, the mean over both surfaces pooled, as MONAI's
 *       {@code compute_average_surface_distance(symmetric=True)}.</li>
 * </ul>
 *
 * <p><b>Empty masks</b> (Maier-Hein et al., "Metrics reloaded", Nat. Methods 2024, recommend reporting them
 * explicitly): both empty → every distance is 0 (perfect agreement that the structure is absent); exactly one
 * empty → NaN, because no distance to a missing surface exists. MONAI returns NaN/∞ with a warning in that case;
 * {@link SegmentationMetrics} can replace the NaN with a documented worst case.
 */
public final class SurfaceDistance {
    private final double[] predToGt;
    private final double[] gtToPred;
    private final boolean predEmpty;
    private final boolean gtEmpty;

    private SurfaceDistance(double[] predToGt, double[] gtToPred, boolean predEmpty, boolean gtEmpty) {
        this.predToGt = predToGt;
        this.gtToPred = gtToPred;
        this.predEmpty = predEmpty;
        this.gtEmpty = gtEmpty;
    }

    /**
     * Computes the directed surface distances between two masks on the same grid.
     *
     * @param pred flat C-order prediction mask
     * @param gt flat C-order ground-truth mask
     * @param shape spatial shape (any rank ≥ 1)
     * @param spacing voxel size per axis (null = 1)
     */
    public static SurfaceDistance compute(boolean[] pred, boolean[] gt, int[] shape, double[] spacing) {
        double[] s = DistanceTransform.checkGrid(pred.length, shape, spacing, "prediction");
        DistanceTransform.checkGrid(gt.length, shape, spacing, "ground truth");
        boolean[] sp = surface(pred, shape);
        boolean[] sg = surface(gt, shape);
        boolean pe = !any(sp);
        boolean ge = !any(sg);
        if (pe || ge) {
            return new SurfaceDistance(new double[0], new double[0], pe, ge);
        }
        // Crop to the bounding box of both surfaces: it contains every query voxel and every candidate nearest
        // voxel, so distances inside the crop equal distances on the full grid.
        int rank = shape.length;
        int[] lo = new int[rank];
        int[] hi = new int[rank];
        Arrays.fill(lo, Integer.MAX_VALUE);
        Arrays.fill(hi, -1);
        int[] idx = new int[rank];
        for (int i = 0; i < sp.length; i++) {
            if (sp[i] || sg[i]) {
                unravel(i, shape, idx);
                for (int a = 0; a < rank; a++) {
                    lo[a] = Math.min(lo[a], idx[a]);
                    hi[a] = Math.max(hi[a], idx[a]);
                }
            }
        }
        int[] cshape = new int[rank];
        int clen = 1;
        for (int a = 0; a < rank; a++) {
            cshape[a] = hi[a] - lo[a] + 1;
            clen *= cshape[a];
        }
        boolean[] cp = new boolean[clen];
        boolean[] cg = new boolean[clen];
        int[] cidx = new int[rank];
        for (int j = 0; j < clen; j++) {
            unravel(j, cshape, cidx);
            int flat = 0;
            for (int a = 0; a < rank; a++) {
                flat = flat * shape[a] + cidx[a] + lo[a];
            }
            cp[j] = sp[flat];
            cg[j] = sg[flat];
        }
        double[] toGt = DistanceTransform.distance(cg, cshape, s);
        double[] toPred = DistanceTransform.distance(cp, cshape, s);
        return new SurfaceDistance(gather(toGt, cp), gather(toPred, cg), false, false);
    }

    /**
     * Surface voxels of a mask: voxels of the mask with a face neighbour outside it or on the image border
     * ({@code M XOR erode(M)}, border value 0).
     */
    public static boolean[] surface(boolean[] mask, int[] shape) {
        DistanceTransform.checkGrid(mask.length, shape, null, "mask");
        int rank = shape.length;
        int[] strides = new int[rank];
        int st = 1;
        for (int a = rank - 1; a >= 0; a--) {
            strides[a] = st;
            st *= shape[a];
        }
        boolean[] out = new boolean[mask.length];
        int[] idx = new int[rank];
        for (int i = 0; i < mask.length; i++) {
            if (!mask[i]) {
                continue;
            }
            unravel(i, shape, idx);
            boolean edge = false;
            for (int a = 0; a < rank && !edge; a++) {
                edge = idx[a] == 0 || idx[a] == shape[a] - 1 || !mask[i - strides[a]] || !mask[i + strides[a]];
            }
            out[i] = edge;
        }
        return out;
    }

    /** Symmetric Hausdorff distance at percentile q in [0, 100]; see the class documentation for empty masks. */
    public double hausdorff(double q) {
        if (!(q >= 0 && q <= 100)) {
            throw new IllegalArgumentException("SurfaceDistance: percentile must be in [0, 100], got " + q);
        }
        if (predEmpty || gtEmpty) {
            return predEmpty && gtEmpty ? 0.0 : Double.NaN;
        }
        return Math.max(percentile(predToGt, q), percentile(gtToPred, q));
    }

    /** 95th-percentile symmetric Hausdorff distance. */
    public double hd95() {
        return hausdorff(95);
    }

    /** Average symmetric surface distance; see the class documentation for empty masks. */
    public double assd() {
        if (predEmpty || gtEmpty) {
            return predEmpty && gtEmpty ? 0.0 : Double.NaN;
        }
        double sum = 0;
        for (double d : predToGt) {
            sum += d;
        }
        for (double d : gtToPred) {
            sum += d;
        }
        return sum / (predToGt.length + gtToPred.length);
    }

    /** Sorted distances from each prediction surface voxel to the ground-truth surface (empty if either is empty). */
    public double[] predictionToReference() {
        return predToGt.clone();
    }

    /** Sorted distances from each ground-truth surface voxel to the prediction surface (empty if either is empty). */
    public double[] referenceToPrediction() {
        return gtToPred.clone();
    }

    /** Whether the prediction mask was empty. */
    public boolean predictionEmpty() {
        return predEmpty;
    }

    /** Whether the ground-truth mask was empty. */
    public boolean referenceEmpty() {
        return gtEmpty;
    }

    /** numpy-style linear-interpolation percentile of a sorted, non-empty array. */
    static double percentile(double[] sorted, double q) {
        double h = (sorted.length - 1) * q / 100.0;
        int lo = (int) Math.floor(h);
        int hi = Math.min(lo + 1, sorted.length - 1);
        return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    }

    private static double[] gather(double[] values, boolean[] where) {
        int n = 0;
        for (boolean b : where) {
            n += b ? 1 : 0;
        }
        double[] out = new double[n];
        int k = 0;
        for (int i = 0; i < where.length; i++) {
            if (where[i]) {
                out[k++] = values[i];
            }
        }
        Arrays.sort(out);
        return out;
    }

    static boolean any(boolean[] a) {
        for (boolean b : a) {
            if (b) {
                return true;
            }
        }
        return false;
    }

    static void unravel(int flat, int[] shape, int[] out) {
        for (int a = shape.length - 1; a >= 0; a--) {
            out[a] = flat % shape[a];
            flat /= shape[a];
        }
    }

    @Override
    public String toString() {
        return "SurfaceDistance{hd95=" + hd95() + ", assd=" + assd() + ", |S_pred|=" + predToGt.length
                + ", |S_gt|=" + gtToPred.length + "}";
    }
}
