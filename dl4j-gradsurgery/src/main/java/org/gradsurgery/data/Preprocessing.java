package org.gradsurgery.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Deterministic preprocessing steps, each a {@link Transform}. Compose them with {@link Transform#compose}.
 *
 * <ul>
 *   <li>{@link #zScore(NormalizationRegion)}: per channel, {@code x' = (x − μ) / σ} with μ, σ (population standard
 *       deviation) over a region: every voxel, the nonzero voxels, or the sample's mask. As nnU-Net does for masked
 *       normalisation, voxels outside a NONZERO/MASK region are set to 0 afterwards. σ = 0 leaves the values
 *       centred (divides by 1).</li>
 *   <li>{@link #percentileClip(double, double, double, double)}: per channel, clip to the [p_lo, p_hi]
 *       percentiles (linear interpolation between order statistics, numpy's default) and rescale linearly to
 *       [outMin, outMax]: {@code x' = outMin + (clip(x) − q_lo)·(outMax − outMin)/(q_hi − q_lo)}.</li>
 *   <li>{@link #padToMultiple(int)}, {@link #cropToMultiple(int)}, {@link #cropOrPad(int...)}: centred crop/pad
 *       (the extra voxel of an odd difference goes to the high end; zero padding);
 *       {@link #divisibleForLevels(int)} pads every axis, {@link #divisibleForSlices(int, int)} only the in-plane
 *       axes of a volume cut into 2D slices, to a multiple of {@code m = 2^(levels−1)}, what a U-Net with that many
 *       resolution levels needs: {@code n' = ⌈n/m⌉·m}. These two replicate the edge voxel ({@link Padding#EDGE}),
 *       so that after z-scoring the border does not read as mean-intensity tissue, and never add slices: a 2D
 *       network sees exactly the case's own slices. {@code evaluation.CaseEvaluator} pads the same way for
 *       inference and crops the padding off before anything is scored or written.</li>
 *   <li>{@link #resample(double...)}: to a target spacing, (bi/tri)linear for the image, nearest neighbour for
 *       label and mask; see {@link Resample}.</li>
 * </ul>
 */
public final class Preprocessing {
    private Preprocessing() {
    }

    /** Region over which z-score statistics are computed. */
    public enum NormalizationRegion {
        /** Every voxel. */
        ALL,
        /** Voxels where any channel is nonzero (e.g. skull-stripped MRI); the rest is set to 0. */
        NONZERO,
        /** Voxels inside the sample's mask (an error if it has none); the rest is set to 0. */
        MASK
    }

    /** z-score normalisation per channel within {@code region}. */
    public static Transform zScore(NormalizationRegion region) {
        return (s, rng) -> {
            boolean[] inside = region(s, region);
            int n = s.voxels();
            float[] in = s.rawImage();
            float[] out = new float[in.length];
            for (int c = 0; c < s.channels(); c++) {
                int base = c * n;
                double sum = 0;
                long count = 0;
                for (int v = 0; v < n; v++) {
                    if (inside == null || inside[v]) {
                        sum += in[base + v];
                        count++;
                    }
                }
                if (count == 0) {
                    throw new IllegalArgumentException("zScore: sample " + s.id() + " has no voxel in region " + region);
                }
                double mean = sum / count;
                double ss = 0;
                for (int v = 0; v < n; v++) {
                    if (inside == null || inside[v]) {
                        double d = in[base + v] - mean;
                        ss += d * d;
                    }
                }
                double sd = Math.sqrt(ss / count);
                double scale = sd > 0 ? 1.0 / sd : 1.0;
                for (int v = 0; v < n; v++) {
                    out[base + v] = inside == null || inside[v] ? (float) ((in[base + v] - mean) * scale) : 0f;
                }
            }
            return s.withImage(out, s.channels());
        };
    }

    private static boolean[] region(Sample s, NormalizationRegion region) {
        switch (region) {
            case ALL:
                return null;
            case MASK:
                if (!s.hasMask()) {
                    throw new IllegalArgumentException("zScore(MASK): sample " + s.id() + " has no mask");
                }
                return s.rawMask();
            case NONZERO:
                int n = s.voxels();
                boolean[] m = new boolean[n];
                float[] img = s.rawImage();
                for (int c = 0; c < s.channels(); c++) {
                    for (int v = 0; v < n; v++) {
                        m[v] |= img[c * n + v] != 0f;
                    }
                }
                return m;
            default:
                throw new IllegalArgumentException("zScore: unknown region " + region);
        }
    }

    /**
     * The p-th percentile (0 ≤ p ≤ 100) of {@code sorted}, interpolating linearly between order statistics at
     * position {@code p/100·(n−1)} (numpy's {@code method='linear'}).
     */
    static double percentile(float[] sorted, double p) {
        double pos = p / 100.0 * (sorted.length - 1);
        int lo = (int) Math.floor(pos);
        int hi = Math.min(lo + 1, sorted.length - 1);
        double f = pos - lo;
        return sorted[lo] + f * (sorted[hi] - sorted[lo]);
    }

    /** Percentile clipping with linear rescale to [outMin, outMax], per channel, over all voxels. */
    public static Transform percentileClip(double lowPercent, double highPercent, double outMin, double outMax) {
        if (!(0 <= lowPercent && lowPercent < highPercent && highPercent <= 100)) {
            throw new IllegalArgumentException("percentileClip: need 0 <= low < high <= 100, got " + lowPercent + ", "
                    + highPercent);
        }
        if (!(outMin < outMax)) {
            throw new IllegalArgumentException("percentileClip: need outMin < outMax, got " + outMin + ", " + outMax);
        }
        return (s, rng) -> {
            int n = s.voxels();
            float[] in = s.rawImage();
            float[] out = new float[in.length];
            for (int c = 0; c < s.channels(); c++) {
                float[] sorted = Arrays.copyOfRange(in, c * n, (c + 1) * n);
                Arrays.sort(sorted);
                double lo = percentile(sorted, lowPercent);
                double hi = percentile(sorted, highPercent);
                double scale = hi > lo ? (outMax - outMin) / (hi - lo) : 0;
                for (int v = 0; v < n; v++) {
                    double x = Math.min(Math.max(in[c * n + v], lo), hi);
                    out[c * n + v] = (float) (hi > lo ? outMin + (x - lo) * scale : outMin);
                }
            }
            return s.withImage(out, s.channels());
        };
    }

    /** Centred crop or pad (image pad value 0) to exactly {@code shape}. */
    public static Transform cropOrPad(int... shape) {
        int[] target = shape.clone();
        for (int v : target) {
            if (v <= 0) {
                throw new IllegalArgumentException("cropOrPad: sizes must be positive, got " + Arrays.toString(target));
            }
        }
        return (s, rng) -> {
            if (target.length != s.spatialRank()) {
                throw new IllegalArgumentException("cropOrPad: target " + Arrays.toString(target) + " has rank "
                        + target.length + " but sample " + s.id() + " has shape " + Arrays.toString(s.rawShape()));
            }
            return centred(s, target);
        };
    }

    static Sample centred(Sample s, int[] target) {
        int[] shape = s.rawShape();
        int[] offset = new int[shape.length];
        for (int d = 0; d < shape.length; d++) {
            // floor((in - out) / 2): for a pad, offset is negative and the extra voxel lands at the high end.
            offset[d] = Math.floorDiv(shape[d] - target[d], 2);
        }
        if (Arrays.equals(shape, target)) {
            return s;
        }
        return Grid.window(s, s.id(), offset, target, 0f);
    }

    /** How padding fills the new voxels. */
    public enum Padding {
        /** Image 0, label 0 (background), mask false. */
        ZERO,
        /** Each new voxel copies the nearest voxel of the input (image, label and mask alike). */
        EDGE
    }

    /** Centred zero-padding of every spatial axis up to the next multiple of {@code multiple}. */
    public static Transform padToMultiple(int multiple) {
        return toMultiple(multiple, true);
    }

    /**
     * Centred padding of the listed spatial {@code axes} (all when none are given) up to the next multiple of
     * {@code multiple}; the other axes keep their size.
     */
    public static Transform padToMultiple(int multiple, Padding padding, int... axes) {
        if (multiple < 1) {
            throw new IllegalArgumentException("padToMultiple: multiple must be >= 1, got " + multiple);
        }
        java.util.Objects.requireNonNull(padding, "padding");
        int[] only = axes.clone();
        return (s, rng) -> {
            int[] shape = s.rawShape();
            int[] target = shape.clone();
            for (int d = 0; d < shape.length; d++) {
                if (only.length == 0 || contains(only, d)) {
                    target[d] = Math.multiplyExact((shape[d] + multiple - 1) / multiple, multiple);
                }
            }
            for (int a : only) {
                if (a < 0 || a >= shape.length) {
                    throw new IllegalArgumentException("padToMultiple: axis " + a + " outside sample " + s.id()
                            + " of shape " + Arrays.toString(shape));
                }
            }
            return padTo(s, target, padding);
        };
    }

    /** Centred padding (never cropping) of {@code s} to {@code target}; see {@link Padding}. */
    static Sample padTo(Sample s, int[] target, Padding padding) {
        int[] shape = s.rawShape();
        if (Arrays.equals(shape, target)) {
            return s;
        }
        int[] offset = new int[shape.length];
        for (int d = 0; d < shape.length; d++) {
            if (target[d] < shape[d]) {
                throw new IllegalArgumentException("padTo: target " + Arrays.toString(target) + " is smaller than "
                        + "sample " + s.id() + " of shape " + Arrays.toString(shape));
            }
            offset[d] = Math.floorDiv(shape[d] - target[d], 2);
        }
        return padding == Padding.EDGE ? Grid.windowEdge(s, s.id(), offset, target)
                : Grid.window(s, s.id(), offset, target, 0f);
    }

    private static boolean contains(int[] a, int v) {
        for (int x : a) {
            if (x == v) {
                return true;
            }
        }
        return false;
    }

    /** Centred cropping of every spatial axis down to a multiple of {@code multiple} (an error if that is 0). */
    public static Transform cropToMultiple(int multiple) {
        return toMultiple(multiple, false);
    }

    /**
     * Edge-replicating {@link #padToMultiple(int, Padding, int...)} of every spatial axis to a multiple of
     * {@code 2^(levels−1)}: the input size a U-Net with {@code levels} levels accepts.
     */
    public static Transform divisibleForLevels(int levels) {
        return padToMultiple(levelMultiple(levels), Padding.EDGE);
    }

    /**
     * The padding a 2D U-Net with {@code levels} levels needs for the slices along {@code sliceAxis} of a volume:
     * edge replication of the two in-plane axes to a multiple of {@code 2^(levels−1)}; the slice axis is never
     * padded (no made-up slices are trained on or scored). A 2D sample has no slice axis: both its axes are padded.
     */
    public static Transform divisibleForSlices(int levels, int sliceAxis) {
        int m = levelMultiple(levels);
        if (sliceAxis < 0 || sliceAxis > 2) {
            throw new IllegalArgumentException("divisibleForSlices: slice axis must be 0, 1 or 2, got " + sliceAxis);
        }
        Transform volume = padToMultiple(m, Padding.EDGE, inPlaneAxes(sliceAxis));
        Transform image = padToMultiple(m, Padding.EDGE);
        return (s, rng) -> (s.spatialRank() == 3 ? volume : image).apply(s, rng);
    }

    /** The two axes of a volume other than {@code sliceAxis}, in order. */
    public static int[] inPlaneAxes(int sliceAxis) {
        return sliceAxis == 0 ? new int[]{1, 2} : sliceAxis == 1 ? new int[]{0, 2} : new int[]{0, 1};
    }

    /** {@code 2^(levels−1)}, the size divisor of a U-Net with {@code levels} resolution levels (1..30). */
    public static int levelMultiple(int levels) {
        if (levels < 1 || levels > 30) {
            throw new IllegalArgumentException("levels must be in 1..30, got " + levels);
        }
        return 1 << (levels - 1);
    }

    private static Transform toMultiple(int multiple, boolean pad) {
        if (multiple < 1) {
            throw new IllegalArgumentException("multiple must be >= 1, got " + multiple);
        }
        return (s, rng) -> {
            int[] shape = s.rawShape();
            int[] target = new int[shape.length];
            for (int d = 0; d < shape.length; d++) {
                target[d] = pad ? Math.multiplyExact((shape[d] + multiple - 1) / multiple, multiple)
                        : shape[d] / multiple * multiple;
                if (target[d] == 0) {
                    throw new IllegalArgumentException("cropToMultiple(" + multiple + "): axis " + d + " of sample "
                            + s.id() + " has size " + shape[d] + ", smaller than the multiple");
                }
            }
            return centred(s, target);
        };
    }

    /** Resampling to {@code spacing} (mm per spatial axis); see {@link Resample}. */
    public static Transform resample(double... spacing) {
        double[] target = spacing.clone();
        return (s, rng) -> Resample.toSpacing(s, target);
    }

    /**
     * 2D slices of a 3D sample along {@code axis} (0, 1 or 2), in index order. Slice {@code z} has spatial axes the
     * two remaining ones in order, spacing theirs, id {@code "<id>#<axis>:<z>"} and an affine that maps its
     * {@code (a, b, 0)} to the world position of the source voxel.
     */
    public static List<Sample> slices(Sample s, int axis) {
        checkSliceable(s, axis);
        return slices(s, axis, 0, s.rawShape()[axis]);
    }

    private static void checkSliceable(Sample s, int axis) {
        if (s.spatialRank() != 3) {
            throw new IllegalArgumentException("slices: sample " + s.id() + " is not 3D, shape "
                    + Arrays.toString(s.rawShape()));
        }
        if (axis < 0 || axis > 2) {
            throw new IllegalArgumentException("slices: axis must be 0, 1 or 2, got " + axis);
        }
    }

    /** Slices {@code from} (inclusive) to {@code to} (exclusive) along {@code axis}; see {@link #slices(Sample, int)}. */
    public static List<Sample> slices(Sample s, int axis, int from, int to) {
        checkSliceable(s, axis);
        int[] shape = s.rawShape();
        if (from < 0 || to > shape[axis] || from > to) {
            throw new IllegalArgumentException("slices: range [" + from + ", " + to + ") outside axis " + axis
                    + " of size " + shape[axis] + " (sample " + s.id() + ")");
        }
        int a = axis == 0 ? 1 : 0;
        int b = axis == 2 ? 1 : 2;
        int na = shape[a];
        int nb = shape[b];
        int[] st = Grid.strides(shape);
        int n3 = s.voxels();
        int n2 = na * nb;
        double[] sp3 = s.rawSpacing();
        double[][] aff = s.rawAffine();
        List<Sample> out = new ArrayList<>(to - from);
        for (int z = from; z < to; z++) {
            float[] img = new float[s.channels() * n2];
            int[] lab = s.hasLabel() ? new int[n2] : null;
            boolean[] msk = s.hasMask() ? new boolean[n2] : null;
            for (int i = 0; i < na; i++) {
                for (int j = 0; j < nb; j++) {
                    int src = z * st[axis] + i * st[a] + j * st[b];
                    int dst = i * nb + j;
                    for (int c = 0; c < s.channels(); c++) {
                        img[c * n2 + dst] = s.rawImage()[c * n3 + src];
                    }
                    if (lab != null) {
                        lab[dst] = s.rawLabel()[src];
                    }
                    if (msk != null) {
                        msk[dst] = s.rawMask()[src];
                    }
                }
            }
            double[][] h = new double[4][4];
            h[a][0] = 1;
            h[b][1] = 1;
            h[axis][2] = 1;
            h[axis][3] = z;
            h[3][3] = 1;
            out.add(s.withGrid(s.id() + "#" + axis + ":" + z, img, new int[]{na, nb}, lab, msk,
                    new double[]{sp3[a], sp3[b]}, Grid.multiply(aff, h)));
        }
        return out;
    }
}
