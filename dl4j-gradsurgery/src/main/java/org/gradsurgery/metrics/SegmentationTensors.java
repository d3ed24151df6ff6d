package org.gradsurgery.metrics;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Validation and per-example extraction of the tensors the evaluation classes accept, so that calibration metrics,
 * segmentation metrics, region masks and temperature scaling read labels and masks the same way.
 *
 * <p>A <em>channel tensor</em> is {@code [N, C, spatial...]} (probabilities, logits or one-hot). Relative to it:
 * <ul>
 *   <li>labels are a class map {@code [N, spatial...]} or {@code [N, 1, spatial...]} holding integer class indices
 *       in {@code [0, C)} in any numeric data type, or one-hot {@code [N, C, spatial...]} (exactly one 1 per voxel);</li>
 *   <li>a region mask is {@code [N, spatial...]} or {@code [N, 1, spatial...]} of 0/1 values in any numeric or
 *       boolean data type.</li>
 * </ul>
 * Everything is read one example at a time into flat C-order Java arrays, so the transient memory is one example.
 */
public final class SegmentationTensors {
    private SegmentationTensors() {
    }

    /** How a label tensor encodes classes. */
    public enum LabelFormat {
        /** {@code [N, spatial...]} integer class indices. */
        CLASS_MAP,
        /** {@code [N, 1, spatial...]} integer class indices (MONAI's layout). */
        CLASS_MAP_CHANNEL,
        /** {@code [N, C, spatial...]} one-hot. */
        ONE_HOT
    }

    /**
     * Checks that {@code x} is a channel tensor {@code [N, C, spatial...]} with {@code numClasses} channels and at
     * least {@code minRank} axes.
     */
    public static void checkChannelTensor(INDArray x, int numClasses, int minRank, String owner, String name) {
        if (x == null) {
            throw new IllegalArgumentException(owner + ": " + name + " must not be null");
        }
        if (x.rank() < minRank) {
            throw new IllegalArgumentException(owner + ": " + name + " must be [N, C, spatial...] with rank >= "
                    + minRank + ", got shape " + Arrays.toString(x.shape()));
        }
        if (x.size(1) != numClasses) {
            throw new IllegalArgumentException(owner + ": " + name + " has " + x.size(1) + " channels (axis 1) but "
                    + numClasses + " classes were configured; shape " + Arrays.toString(x.shape()));
        }
        if (x.size(0) == 0 || x.length() == 0) {
            throw new IllegalArgumentException(owner + ": " + name + " is empty, shape " + Arrays.toString(x.shape()));
        }
        if (!x.dataType().isFPType() && !x.dataType().isIntType()) {
            throw new IllegalArgumentException(owner + ": " + name + " must be numeric, got " + x.dataType());
        }
    }

    /** Decides how {@code labels} encode classes relative to the channel tensor shape {@code ref}. */
    public static LabelFormat labelFormat(INDArray labels, long[] ref, String owner) {
        if (labels == null) {
            throw new IllegalArgumentException(owner + ": labels must not be null");
        }
        long[] s = labels.shape();
        if (s.length == ref.length && Arrays.equals(s, ref)) {
            return LabelFormat.ONE_HOT;
        }
        if (matchesSpatial(s, ref)) {
            return s.length == ref.length ? LabelFormat.CLASS_MAP_CHANNEL : LabelFormat.CLASS_MAP;
        }
        throw new IllegalArgumentException(owner + ": labels shape " + Arrays.toString(s) + " does not match "
                + Arrays.toString(ref) + "; expected a class map " + Arrays.toString(spatialWithN(ref)) + " or "
                + Arrays.toString(withChannel(ref, 1)) + ", or one-hot " + Arrays.toString(ref));
    }

    /** Checks a region mask against the channel tensor shape {@code ref}; null is allowed (no mask). */
    public static void checkMask(INDArray mask, long[] ref, String owner) {
        if (mask == null) {
            return;
        }
        if (!matchesSpatial(mask.shape(), ref)) {
            throw new IllegalArgumentException(owner + ": regionMask shape " + Arrays.toString(mask.shape())
                    + " does not match; expected " + Arrays.toString(spatialWithN(ref)) + " or "
                    + Arrays.toString(withChannel(ref, 1)));
        }
    }

    /**
     * Class index per voxel of example {@code n}, validated.
     *
     * @return flat C-order array over the spatial axes
     */
    public static int[] classIndices(INDArray labels, LabelFormat format, int n, int numClasses, String owner) {
        double[] v = toDoubleArray(example(labels, n));
        if (format == LabelFormat.ONE_HOT) {
            int voxels = v.length / numClasses;
            int[] out = new int[voxels];
            for (int i = 0; i < voxels; i++) {
                int hot = -1;
                for (int c = 0; c < numClasses; c++) {
                    double x = v[c * voxels + i];
                    if (x == 1.0 && hot < 0) {
                        hot = c;
                    } else if (x != 0.0) {
                        throw new IllegalArgumentException(owner + ": one-hot labels must hold exactly one 1 and "
                                + "zeros elsewhere per voxel; example " + n + ", voxel " + i + ", class " + c
                                + " has " + x + (x == 1.0 ? " (a second 1)" : "")
                                + ". Soft labels are not supported: pass a class map.");
                    }
                }
                if (hot < 0) {
                    throw new IllegalArgumentException(owner + ": one-hot labels have no 1 at example " + n
                            + ", voxel " + i + "; to leave voxels out use regionMask");
                }
                out[i] = hot;
            }
            return out;
        }
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            double x = v[i];
            if (!(x >= 0 && x < numClasses) || x != Math.rint(x)) {
                throw new IllegalArgumentException(owner + ": class map value " + x + " at example " + n + ", voxel "
                        + i + " is not an integer class index in [0, " + numClasses + ")"
                        + "; to leave voxels out use regionMask");
            }
            out[i] = (int) x;
        }
        return out;
    }

    /** Region mask of example {@code n} as booleans (validated 0/1); null mask gives null. */
    public static boolean[] maskValues(INDArray mask, int n, String owner) {
        if (mask == null) {
            return null;
        }
        double[] v = toDoubleArray(example(mask, n));
        boolean[] out = new boolean[v.length];
        for (int i = 0; i < v.length; i++) {
            if (v[i] == 1.0) {
                out[i] = true;
            } else if (v[i] != 0.0) {
                throw new IllegalArgumentException(owner + ": regionMask must be 0/1, found " + v[i]
                        + " at example " + n + ", voxel " + i);
            }
        }
        return out;
    }

    /** View of example {@code n} (axis 0) of {@code x}. */
    public static INDArray example(INDArray x, int n) {
        return x.get(NDArrayIndex.point(n));
    }

    /** A C-order copy of {@code x} as doubles, from any numeric or boolean data type. */
    public static double[] toDoubleArray(INDArray x) {
        INDArray d = x.dataType() == DataType.DOUBLE ? x : x.castTo(DataType.DOUBLE);
        if (d == x || d.isView() || d.ordering() != 'c' || d.data().length() != d.length()) {
            d = d.dup('c');
        }
        return d.data().asDouble();
    }

    /** Spatial shape {@code ref[2..]} of a channel tensor as ints. */
    public static int[] spatialShape(long[] ref, String owner) {
        int[] out = new int[ref.length - 2];
        for (int i = 0; i < out.length; i++) {
            if (ref[i + 2] > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(owner + ": spatial axis " + i + " of length " + ref[i + 2]
                        + " is too large");
            }
            out[i] = (int) ref[i + 2];
        }
        long prod = 1;
        for (int a : out) {
            prod *= a;
        }
        if (prod * ref[1] > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException(owner + ": one example of shape " + Arrays.toString(ref)
                    + " exceeds 2^31 values; split it into patches");
        }
        return out;
    }

    private static boolean matchesSpatial(long[] s, long[] ref) {
        if (s.length == ref.length - 1) {
            return Arrays.equals(s, spatialWithN(ref));
        }
        return s.length == ref.length && Arrays.equals(s, withChannel(ref, 1));
    }

    private static long[] spatialWithN(long[] ref) {
        long[] out = new long[ref.length - 1];
        out[0] = ref[0];
        System.arraycopy(ref, 2, out, 1, ref.length - 2);
        return out;
    }

    private static long[] withChannel(long[] ref, long c) {
        long[] out = ref.clone();
        out[1] = c;
        return out;
    }
}
