package org.gradsurgery.data;

import java.util.Arrays;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Label-map helpers: integer checks and one-hot encoding.
 *
 * <p>One-hot: for a class map y over voxels v and C classes, {@code onehot[n, c, v] = 1[y[n, v] = c]}, float32,
 * the layout DL4J's {@code CnnLossLayer}/{@code Cnn3DLossLayer} and the project's {@code SegmentationLossLayer}
 * expect with a softmax over axis 1 (NCHW / NCDHW).
 */
public final class Labels {
    private Labels() {
    }

    /**
     * The values of an integer-valued array as int class ids (C-order).
     *
     * @throws IllegalArgumentException naming {@code what} and the first offending position if a value is not an
     *                                  integer or does not fit an int
     */
    public static int[] toClassIds(INDArray labels, String what) {
        double[] v;
        // the cast and its C-order copy are only steps to v: made outside any workspace and freed at once
        try (org.nd4j.linalg.api.memory.MemoryWorkspace ws = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            INDArray cast = labels.castTo(DataType.DOUBLE);
            try (INDArray cOrder = cast.dup('c')) {
                v = cOrder.data().asDouble();
            } finally {
                if (cast != labels) {
                    cast.close();
                }
            }
        }
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            double x = v[i];
            if (x != Math.rint(x) || x < Integer.MIN_VALUE || x > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(what + ": label value " + x + " at flat index " + i
                        + " is not an integer class id");
            }
            out[i] = (int) x;
        }
        return out;
    }

    /**
     * Checks that every class id of one case lies in {@code [0, numClasses)}.
     *
     * @param shape spatial shape of {@code labels} (C-order), to name the voxel as (i, j, k)
     * @param what  the label file (or case) to name
     * @throws IllegalArgumentException naming the file, the first offending value and voxel, how many voxels are out
     *                                  of range, and the label map that would fix it
     */
    public static void checkClassRange(int[] labels, int[] shape, int numClasses, String what) {
        int first = -1;
        long bad = 0;
        java.util.TreeSet<Integer> values = new java.util.TreeSet<>();
        for (int v = 0; v < labels.length; v++) {
            int c = labels[v];
            if (c < 0 || c >= numClasses) {
                if (first < 0) {
                    first = v;
                }
                bad++;
                if (values.size() < 10) {
                    values.add(c);
                }
            }
        }
        if (first >= 0) {
            throw new org.gradsurgery.InvalidInputException(what + ": label value " + labels[first] + " at voxel "
                    + voxel(first, shape) + " is not a class in 0.." + (numClasses - 1) + " (" + bad
                    + " voxel(s) out of range, values " + values + "); map raw codes to classes with a label map "
                    + "(gradsurgery: --label-map FILE)");
        }
    }

    /** {@code (i, j, k)} of flat C-order index {@code flat} over {@code shape}. */
    public static String voxel(long flat, int[] shape) {
        long[] idx = new long[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            idx[d] = flat % shape[d];
            flat /= shape[d];
        }
        StringBuilder b = new StringBuilder("(");
        for (int d = 0; d < idx.length; d++) {
            b.append(d == 0 ? "" : ", ").append(idx[d]);
        }
        return b.append(')').toString();
    }

    /**
     * Writes the one-hot encoding of {@code labels} (one example, {@code voxels} values) into {@code out} starting
     * at {@code offset}, laid out {@code [numClasses, voxels]}.
     *
     * @throws IllegalArgumentException naming {@code what} if a label is outside {@code [0, numClasses)}
     */
    static void oneHotInto(int[] labels, int numClasses, float[] out, int offset, String what) {
        int n = labels.length;
        for (int v = 0; v < n; v++) {
            int c = labels[v];
            if (c < 0 || c >= numClasses) {
                throw new IllegalArgumentException(what + ": label " + c + " at voxel " + v + " is outside [0, "
                        + numClasses + "); remap atlas codes to classes with a LabelMap first");
            }
            out[offset + c * n + v] = 1f;
        }
    }

    /**
     * One-hot encodes class ids {@code [N, spatial...]} (integer-valued, any data type) into float32
     * {@code [N, numClasses, spatial...]}.
     */
    public static INDArray oneHot(INDArray labels, int numClasses) {
        if (numClasses < 1) {
            throw new IllegalArgumentException("Labels.oneHot: numClasses must be >= 1, got " + numClasses);
        }
        if (labels.rank() < 2) {
            throw new IllegalArgumentException("Labels.oneHot: labels must be [N, spatial...], got shape "
                    + Arrays.toString(labels.shape()));
        }
        int[] ids = toClassIds(labels, "Labels.oneHot");
        long n = labels.size(0);
        int per = Math.toIntExact(labels.length() / n);
        float[] out = new float[Math.multiplyExact(Math.toIntExact(labels.length()), numClasses)];
        for (int e = 0; e < n; e++) {
            int[] one = Arrays.copyOfRange(ids, e * per, (e + 1) * per);
            oneHotInto(one, numClasses, out, e * per * numClasses, "Labels.oneHot example " + e);
        }
        long[] shape = new long[labels.rank() + 1];
        shape[0] = n;
        shape[1] = numClasses;
        for (int d = 1; d < labels.rank(); d++) {
            shape[d + 1] = labels.size(d);
        }
        return Nd4j.create(out, shape, 'c');
    }

    /** Voxel count per class {@code 0..numClasses-1}; values outside the range are an error. */
    public static long[] classCounts(int[] labels, int numClasses, String what) {
        long[] counts = new long[numClasses];
        for (int i = 0; i < labels.length; i++) {
            int c = labels[i];
            if (c < 0 || c >= numClasses) {
                throw new IllegalArgumentException(what + ": label " + c + " at voxel " + i + " is outside [0, "
                        + numClasses + ")");
            }
            counts[c]++;
        }
        return counts;
    }
}
