package org.gradsurgery.layers;

import java.util.Objects;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.conf.memory.LayerMemoryReport;
import org.deeplearning4j.nn.conf.memory.MemoryReport;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * Concatenates its inputs along the channel axis: the skip connection of a U-Net (Ronneberger et al., MICCAI 2015;
 * Çiçek et al., MICCAI 2016 for 3D).
 *
 * <p>For inputs x₁ … x_k with channels C₁ … C_k and equal batch and spatial sizes, the output has ΣC_i channels and
 * {@code y[..., c, ...] = x_i[..., c − (C₁+…+C_{i−1}), ...]}; backprop hands each input its own slice of the
 * incoming gradient, {@code ∂L/∂x_i = (∂L/∂y)[..., C₁+…+C_{i−1} : C₁+…+C_i, ...]}.
 *
 * <p>The channel axis is axis 1 for rank 2 ({@code [N, C]}) and for channels-first rank 4/5 ({@code NCHW}, {@code
 * NCDHW}; the default), and the last axis for channels-last rank 4/5 ({@code NHWC}, {@code NDHWC}; set
 * {@code new ChannelConcatVertex(CNN2DFormat.NHWC)}). When the graph has input types, all spatial sizes must agree
 * and each 2D input's format must match this setting; otherwise {@code getOutputType} throws an
 * {@link IllegalArgumentException} naming the offending input. 3D format labels are not compared (DL4J M2.1
 * mislabels many NCDHW activations as NDHWC); the output type carries this vertex's format.
 *
 * <p>Unlike DL4J 1.0.0-M2.1's {@code MergeVertex}, backprop works for rank 5 (there it throws), and the output type
 * of a 3D merge keeps the input format.
 */
public class ChannelConcatVertex extends GraphVertex {

    @JsonProperty("dataFormat")
    private CNN2DFormat dataFormat = CNN2DFormat.NCHW;

    /** Channels-first (NCHW/NCDHW) concatenation. */
    public ChannelConcatVertex() {
    }

    /**
     * @param dataFormat {@code NCHW}: channels first (axis 1) at rank 4 and 5; {@code NHWC}: channels last (the last
     *                   axis) at rank 4 and 5. Rank-2 input is always concatenated along axis 1.
     */
    public ChannelConcatVertex(CNN2DFormat dataFormat) {
        setDataFormat(dataFormat);
    }

    /** {@code NCHW} for channels-first concatenation (also NCDHW), {@code NHWC} for channels-last (also NDHWC). */
    public CNN2DFormat getDataFormat() {
        return dataFormat;
    }

    public void setDataFormat(CNN2DFormat dataFormat) {
        this.dataFormat = Objects.requireNonNull(dataFormat, "dataFormat");
    }

    @Override
    public ChannelConcatVertex clone() {
        return new ChannelConcatVertex(dataFormat);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ChannelConcatVertex && ((ChannelConcatVertex) o).dataFormat == dataFormat;
    }

    @Override
    public int hashCode() {
        return Objects.hash(ChannelConcatVertex.class.getSimpleName(), dataFormat);
    }

    @Override
    public String toString() {
        return "ChannelConcatVertex(dataFormat=" + dataFormat + ")";
    }

    @Override
    public long numParams(boolean backprop) {
        return 0;
    }

    @Override
    public int minVertexInputs() {
        return 2;
    }

    @Override
    public int maxVertexInputs() {
        return Integer.MAX_VALUE;
    }

    @Override
    public org.deeplearning4j.nn.graph.vertex.GraphVertex instantiate(ComputationGraph graph, String name, int idx,
                                                                      INDArray paramsView, boolean initializeParams,
                                                                      DataType networkDatatype) {
        return new org.gradsurgery.layers.impl.ChannelConcatVertex(graph, name, idx, networkDatatype,
                dataFormat == CNN2DFormat.NHWC);
    }

    /**
     * Sum of the input channels, same spatial size and format.
     *
     * @throws IllegalArgumentException for mixed input kinds, a format that differs from {@link #getDataFormat()},
     *                                  unequal spatial sizes, or unsupported (flattened CNN, recurrent) inputs
     */
    @Override
    public InputType getOutputType(int layerIndex, InputType... vertexInputs) {
        if (vertexInputs == null || vertexInputs.length == 0) {
            throw new IllegalArgumentException(this + ": no inputs");
        }
        InputType first = vertexInputs[0];
        for (int i = 0; i < vertexInputs.length; i++) {
            if (vertexInputs[i] == null || vertexInputs[i].getType() != first.getType()) {
                throw new IllegalArgumentException(this + ": all inputs must be of the same kind; input 0 is "
                        + first + ", input " + i + " is " + vertexInputs[i]);
            }
        }
        switch (first.getType()) {
            case FF:
                return concatFeedForward(vertexInputs);
            case CNN:
                return concat2d(vertexInputs);
            case CNN3D:
                return concat3d(vertexInputs);
            default:
                throw new IllegalArgumentException(this + ": supports feed-forward (rank 2), CNN (rank 4) and CNN3D"
                        + " (rank 5) inputs, got " + first + "; use DL4J's MergeVertex for recurrent input");
        }
    }

    private InputType concatFeedForward(InputType[] in) {
        long size = 0;
        for (InputType t : in) {
            long s = ((InputType.InputTypeFeedForward) t).getSize();
            if (s <= 0) {
                return InputType.feedForward(-1);
            }
            size += s;
        }
        return InputType.feedForward(size);
    }

    private InputType concat2d(InputType[] in) {
        InputType.InputTypeConvolutional first = (InputType.InputTypeConvolutional) in[0];
        long channels = 0;
        for (int i = 0; i < in.length; i++) {
            InputType.InputTypeConvolutional t = (InputType.InputTypeConvolutional) in[i];
            if (t.getFormat() != dataFormat) {
                throw new IllegalArgumentException(this + ": input " + i + " is " + t.getFormat() + " (" + t
                        + ") but the vertex concatenates " + dataFormat + "; construct it as new ChannelConcatVertex("
                        + "CNN2DFormat." + t.getFormat() + ")");
            }
            if (t.getHeight() != first.getHeight() || t.getWidth() != first.getWidth()) {
                throw new IllegalArgumentException(this + ": spatial sizes differ: input 0 is [h=" + first.getHeight()
                        + ", w=" + first.getWidth() + "], input " + i + " is [h=" + t.getHeight() + ", w="
                        + t.getWidth() + "]; crop or pad the skip connection so they match");
            }
            channels += t.getChannels();
        }
        return InputType.convolutional(first.getHeight(), first.getWidth(), channels, dataFormat);
    }

    private InputType concat3d(InputType[] in) {
        InputType.InputTypeConvolutional3D first = (InputType.InputTypeConvolutional3D) in[0];
        Convolution3D.DataFormat expected = dataFormat == CNN2DFormat.NHWC
                ? Convolution3D.DataFormat.NDHWC : Convolution3D.DataFormat.NCDHW;
        long channels = 0;
        // The 3D format labels are not compared: DL4J M2.1 labels the output of Upsampling3D, ZeroPadding3DLayer,
        // Cropping3D and Truncate-mode Convolution3D/Subsampling3DLayer NDHWC whatever the layout (see
        // SpatialLayout.channelsOf). Sizes are semantic in every label, so they are checked.
        for (int i = 0; i < in.length; i++) {
            InputType.InputTypeConvolutional3D t = (InputType.InputTypeConvolutional3D) in[i];
            if (t.getDepth() != first.getDepth() || t.getHeight() != first.getHeight()
                    || t.getWidth() != first.getWidth()) {
                throw new IllegalArgumentException(this + ": spatial sizes differ: input 0 is [d=" + first.getDepth()
                        + ", h=" + first.getHeight() + ", w=" + first.getWidth() + "], input " + i + " is [d="
                        + t.getDepth() + ", h=" + t.getHeight() + ", w=" + t.getWidth()
                        + "]; crop or pad the skip connection so they match");
            }
            channels += t.getChannels();
        }
        return InputType.convolutional3D(expected, first.getDepth(), first.getHeight(), first.getWidth(), channels);
    }

    @Override
    public MemoryReport getMemoryReport(InputType... inputTypes) {
        InputType outputType = getOutputType(-1, inputTypes);
        // The output is a fresh array (counted as activations); backprop copies the slices (activation gradients).
        return new LayerMemoryReport.Builder(null, ChannelConcatVertex.class, inputTypes[0], outputType)
                .standardMemory(0, 0)
                .workingMemory(0, 0, 0, 0)
                .cacheMemory(0, 0)
                .build();
    }
}
