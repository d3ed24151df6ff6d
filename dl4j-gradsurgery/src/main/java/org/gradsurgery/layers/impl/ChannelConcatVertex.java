package org.gradsurgery.layers.impl;

import java.util.Arrays;

import org.bytedeco.javacpp.Pointer;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.MaskState;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.BaseGraphVertex;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.bool.Or;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Runtime implementation of {@link org.gradsurgery.layers.ChannelConcatVertex}: concatenation along the channel
 * axis for rank 2, 4 and 5, and the matching split of the gradient.
 */
public class ChannelConcatVertex extends BaseGraphVertex {

    private final boolean channelsLast;
    private long[][] forwardShapes;
    private int forwardAxis;

    public ChannelConcatVertex(ComputationGraph graph, String name, int vertexIndex, DataType dataType,
                               boolean channelsLast) {
        super(graph, name, vertexIndex, null, null, dataType);
        this.channelsLast = channelsLast;
    }

    @Override
    public boolean hasLayer() {
        return false;
    }

    @Override
    public Layer getLayer() {
        return null;
    }

    private String id() {
        return "ChannelConcatVertex(name=\"" + vertexName + "\", " + (channelsLast ? "channels-last" : "channels-first")
                + ")";
    }

    @Override
    public INDArray doForward(boolean training, LayerWorkspaceMgr workspaceMgr) {
        if (!canDoForward()) {
            throw new IllegalStateException(id() + ": cannot do forward pass, inputs not set");
        }
        INDArray[] in = new INDArray[inputs.length];
        for (int i = 0; i < in.length; i++) {
            in[i] = inputs[i].castTo(dataType);
        }
        int rank = in[0].rank();
        if (rank != 2 && rank != 4 && rank != 5) {
            throw new IllegalArgumentException(id() + ": inputs must have rank 2, 4 or 5, input 0 has shape "
                    + Arrays.toString(in[0].shape()));
        }
        int axis = SpatialLayout.of(rank, channelsLast).channelAxis();
        long[] reference = in[0].shape();
        forwardShapes = new long[in.length][];
        for (int i = 0; i < in.length; i++) {
            long[] s = in[i].shape();
            boolean matches = s.length == rank;
            for (int d = 0; d < rank && matches; d++) {
                matches = d == axis || s[d] == reference[d];
            }
            if (!matches) {
                throw new IllegalArgumentException(id() + ": input " + i + " has shape " + Arrays.toString(s)
                        + ", incompatible with input 0 of shape " + Arrays.toString(reference) + ": all axes except"
                        + " the channel axis " + axis + " of " + SpatialLayout.of(rank, channelsLast).dimensionNames()
                        + " must agree");
            }
            forwardShapes[i] = s;
        }
        forwardAxis = axis;
        if (in.length == 1) {
            return workspaceMgr.leverageTo(ArrayType.ACTIVATIONS, in[0]);
        }
        if (axis == 1 && Arrays.stream(in).allMatch(ChannelConcatVertex::dense)) {
            long[] shape = reference.clone();
            shape[1] = Arrays.stream(forwardShapes).mapToLong(s -> s[1]).sum();
            INDArray out = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, dataType, shape, 'c');
            copyChunks(in, out, false);
            return out;
        }
        try (MemoryWorkspace ws = workspaceMgr.notifyScopeBorrowed(ArrayType.ACTIVATIONS)) {
            return Nd4j.concat(axis, in);
        }
    }

    /** A dense C-order array on the host (its buffer addressed directly by {@link #copyChunks}). */
    private static boolean dense(INDArray a) {
        return Nd4j.getEnvironment().isCPU() && a.ordering() == 'c'
                && Arrays.equals(a.stride(), Nd4j.getStrides(a.shape(), 'c'));
    }

    /**
     * Channels first, all arrays dense: example n of part i is one contiguous chunk of C_i·S values (S spatial
     * values, 1 at rank 2), at n·C·S + (C_0 + … + C_{i−1})·S of the concatenation. {@code split} false copies the
     * parts into {@code whole}'s chunks, true the reverse: one memcpy per (example, part), where {@code Nd4j.concat}
     * and {@code assign} of an interval view cost about as much again in libnd4j's set-up for the U-Net's shapes
     * (forward 1.7, backward 2.9 ms per 2D step for the three skip connections, `bench unet --dims 2 --profile`).
     */
    private static void copyChunks(INDArray[] parts, INDArray whole, boolean split) {
        long n = whole.size(0);
        long spatial = whole.length() / (n * whole.size(1));
        long elementSize = whole.data().getElementSize();
        long wholeStart = HostAddress.start(whole);
        long exampleBytes = whole.size(1) * spatial * elementSize;
        long offset = 0;
        for (INDArray part : parts) {
            long chunk = part.size(1) * spatial * elementSize;
            long partStart = HostAddress.start(part);
            for (long e = 0; e < n; e++) {
                HostAddress w = new HostAddress(wholeStart + e * exampleBytes + offset);
                HostAddress p = new HostAddress(partStart + e * chunk);
                if (split) {
                    Pointer.memcpy(p, w, chunk);
                } else {
                    Pointer.memcpy(w, p, chunk);
                }
            }
            offset += chunk;
        }
    }

    @Override
    public Pair<Gradient, INDArray[]> doBackward(boolean tbptt, LayerWorkspaceMgr workspaceMgr) {
        if (!canDoBackward()) {
            throw new IllegalStateException(id() + ": cannot do backward pass, epsilon not set");
        }
        if (forwardShapes == null) {
            throw new IllegalStateException(id() + ": backward pass without a preceding forward pass");
        }
        INDArray[] out = new INDArray[forwardShapes.length];
        if (forwardAxis == 1 && dense(epsilon)) {
            for (int i = 0; i < out.length; i++) {
                out[i] = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, epsilon.dataType(),
                        forwardShapes[i], 'c');
            }
            copyChunks(out, epsilon, true);
            return new Pair<>(null, out);
        }
        long from = 0;
        int rank = epsilon.rank();
        for (int i = 0; i < out.length; i++) {
            long to = from + forwardShapes[i][forwardAxis];
            INDArrayIndex[] idx = new INDArrayIndex[rank];
            for (int d = 0; d < rank; d++) {
                idx[d] = d == forwardAxis ? NDArrayIndex.interval(from, to) : NDArrayIndex.all();
            }
            out[i] = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, epsilon.dataType(), forwardShapes[i],
                    'c');
            out[i].assign(epsilon.get(idx));
            from = to;
        }
        return new Pair<>(null, out);
    }

    @Override
    public void setBackpropGradientsViewArray(INDArray backpropGradientsViewArray) {
        if (backpropGradientsViewArray != null) {
            throw new IllegalStateException(id() + ": has no parameters, so no gradient view");
        }
    }

    /** Masks: absent if any input is unmasked, else the element-wise OR (as DL4J's MergeVertex). */
    @Override
    public Pair<INDArray, MaskState> feedForwardMaskArrays(INDArray[] maskArrays, MaskState currentMaskState,
                                                           int minibatchSize) {
        if (maskArrays == null) {
            return new Pair<>(null, currentMaskState);
        }
        for (INDArray m : maskArrays) {
            if (m == null) {
                return new Pair<>(null, currentMaskState);
            }
        }
        if (maskArrays.length == 1) {
            return new Pair<>(maskArrays[0], currentMaskState);
        }
        INDArray ret = maskArrays[0].castTo(DataType.BOOL).dup();
        for (int i = 1; i < maskArrays.length; i++) {
            Nd4j.getExecutioner().exec(new Or(ret, maskArrays[i].castTo(DataType.BOOL), ret));
        }
        return new Pair<>(ret, currentMaskState);
    }

    @Override
    public String toString() {
        return id();
    }
}
