package org.gradsurgery.loss;

import java.util.Arrays;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.reduce.longer.MatchCondition;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.conditions.Conditions;

/**
 * Validated arguments of one loss call, in the canonical layout every loss of this package computes on.
 *
 * <p>The class axis is axis 1 in both layouts, so activations, masks and per-group coefficients broadcast the same
 * way at every rank:
 * <ul>
 *   <li>rank 2 {@code [R, C]} stays as it is (rows are examples, DL4J's convention); the mask is {@code [R, 1]} or
 *       {@code [R, C]};</li>
 *   <li>rank 4/5 {@code [N, C, spatial...]} becomes {@code [N, C, V]} with V the voxels per example; a reshape of
 *       a c-contiguous array is a view, so no data is copied. The mask becomes {@code [N, 1, V]} or
 *       {@code [N, C, V]}.</li>
 * </ul>
 * The canonical arrays may share memory with the caller's arrays: they are read, never written.
 */
final class LossInput {

    /** Name used in error messages, e.g. {@code LossDice} or {@code GradientSurgery(LossDice)}. */
    final String loss;
    /** The caller's pre-output shape; results are reshaped back to it. */
    final long[] shape;
    /** Canonical pre-output, labels (cast to the pre-output's data type) and mask (null when absent). */
    final INDArray z;
    final INDArray y;
    final INDArray m;
    /** E: N at rank 4/5, the row count at rank 2. */
    final long examples;
    /** Voxels per example: the product of the spatial sizes at rank 4/5, 1 at rank 2. */
    final long voxels;
    final int classes;

    private LossInput(String loss, long[] shape, INDArray z, INDArray y, INDArray m) {
        this.loss = loss;
        this.shape = shape;
        this.z = z;
        this.y = y;
        this.m = m;
        this.examples = shape[0];
        this.classes = (int) shape[1];
        this.voxels = z.rank() == 3 ? z.size(2) : 1;
    }

    /** Whether the input was a whole rank-4/5 segmentation tensor (per-example groups are possible). */
    boolean spatial() {
        return shape.length >= 4;
    }

    /** Axes summed to form one group per (example, class) at rank 4/5, or one group per class at rank 2. */
    int[] sumAxes() {
        return spatial() ? new int[]{2} : new int[]{0};
    }

    /** A canonical-layout result in the caller's shape (a view when the result is c-contiguous). */
    INDArray restore(INDArray canonical) {
        return canonical.reshape('c', shape);
    }

    /**
     * Validates a loss call and builds its canonical layout.
     *
     * @param checkLabels require labels in [0, 1] (one-hot or soft), which every region loss and the surgery need
     * @param checkFinite count non-finite pre-outputs and refuse them
     */
    static LossInput of(String loss, INDArray labels, INDArray preOutput, INDArray mask, IActivation activation,
                        boolean checkLabels, boolean checkFinite) {
        if (labels == null || preOutput == null) {
            throw new IllegalArgumentException(loss + ": labels and pre-output must not be null (labels "
                    + describe(labels) + ", pre-output " + describe(preOutput) + ")");
        }
        if (activation == null) {
            throw new IllegalArgumentException(loss + ": the activation function must not be null");
        }
        long[] shape = preOutput.shape();
        int rank = shape.length;
        if (rank != 2 && rank != 4 && rank != 5) {
            throw new IllegalArgumentException(loss + ": unsupported pre-output rank " + rank + " (shape "
                    + Arrays.toString(shape) + "); expected rank 2 [rows, C], rank 4 [N, C, H, W] or rank 5 "
                    + "[N, C, D, H, W]");
        }
        if (!Arrays.equals(labels.shape(), shape)) {
            throw new IllegalArgumentException(loss + ": labels shape " + Arrays.toString(labels.shape())
                    + " does not match pre-output shape " + Arrays.toString(shape) + "; expected labels of shape "
                    + Arrays.toString(shape));
        }
        if (shape[1] == 1 && activation instanceof ActivationSoftmax) {
            throw new IllegalArgumentException(loss + ": softmax over a single class is constantly 1 (pre-output "
                    + "shape " + Arrays.toString(shape) + "); use sigmoid for one foreground channel, or give "
                    + "background and foreground as two classes");
        }
        INDArray canonicalMask = mask == null ? null : canonicalMask(loss, mask.castTo(preOutput.dataType()), shape);
        INDArray y = labels.castTo(preOutput.dataType());
        LossInput in;
        if (rank == 2) {
            in = new LossInput(loss, shape, preOutput, y, canonicalMask);
        } else {
            long voxels = 1;
            for (int a = 2; a < rank; a++) {
                voxels *= shape[a];
            }
            in = new LossInput(loss, shape, preOutput.reshape('c', shape[0], shape[1], voxels),
                    y.reshape('c', shape[0], shape[1], voxels), canonicalMask);
        }
        in.checkValues(checkLabels, checkFinite);
        return in;
    }

    /**
     * Value checks by ND4J reductions (the fused kernels make the same checks inside their forward pass).
     *
     * @param labels require labels in [0, 1]
     * @param finite count non-finite pre-outputs and refuse them
     */
    void checkValues(boolean labels, boolean finite) {
        if (labels) {
            double min = y.minNumber().doubleValue();
            double max = y.maxNumber().doubleValue();
            if (!(min >= 0.0 && max <= 1.0)) {
                throw labelRangeError(this, min, max);
            }
        }
        if (finite) {
            long bad = Nd4j.getExecutioner().exec(new MatchCondition(z, Conditions.notFinite())).getLong(0);
            if (bad > 0) {
                throw nonFiniteError(this, bad);
            }
        }
    }

    static IllegalArgumentException labelRangeError(LossInput in, double min, double max) {
        return new IllegalArgumentException(in.loss + ": labels must lie in [0, 1] (one-hot or soft labels), but "
                + "labels of shape " + Arrays.toString(in.shape) + " (pre-output " + Arrays.toString(in.shape)
                + ") range over [" + min + ", " + max + "]");
    }

    static IllegalArgumentException nonFiniteError(LossInput in, long count) {
        return new IllegalArgumentException(in.loss + ": " + count + " of " + in.z.length()
                + " pre-output values are not finite (NaN or infinite) in pre-output of shape "
                + Arrays.toString(in.shape) + " (labels " + Arrays.toString(in.shape) + ")");
    }

    private static INDArray canonicalMask(String loss, INDArray mask, long[] shape) {
        long[] ms = mask.shape();
        long rows = shape[0];
        long classes = shape[1];
        if (shape.length == 2) {
            boolean ok = (ms.length == 1 && ms[0] == rows)
                    || (ms.length == 2 && ms[0] == rows && (ms[1] == 1 || ms[1] == classes));
            if (!ok) {
                throw new IllegalArgumentException(loss + ": mask shape " + Arrays.toString(ms)
                        + " does not broadcast to pre-output/labels shape " + Arrays.toString(shape) + "; expected ["
                        + rows + ", 1], [" + rows + ", " + classes + "] or [" + rows + "]");
            }
            return ms.length == 1 ? mask.reshape(rows, 1) : mask;
        }
        long[] perVoxel = shape.clone();
        perVoxel[1] = 1;
        if (!Arrays.equals(ms, perVoxel) && !Arrays.equals(ms, shape)) {
            throw new IllegalArgumentException(loss + ": mask shape " + Arrays.toString(ms)
                    + " does not broadcast to pre-output/labels shape " + Arrays.toString(shape) + "; expected "
                    + Arrays.toString(perVoxel) + " or " + Arrays.toString(shape));
        }
        return mask.reshape('c', rows, ms[1], mask.length() / rows / ms[1]);
    }

    private static String describe(INDArray a) {
        return a == null ? "null" : Arrays.toString(a.shape());
    }
}
