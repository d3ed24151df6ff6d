package org.gradsurgery.layers;

import java.util.Collection;
import java.util.Objects;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.ParamInitializer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.memory.LayerMemoryReport;
import org.deeplearning4j.nn.conf.memory.MemoryReport;
import org.deeplearning4j.nn.params.EmptyParamInitializer;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.gradsurgery.layers.impl.SpatialLayout;
import org.gradsurgery.loss.SpatialLossFunction;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * Output layer for dense (per-pixel / per-voxel) segmentation in 2D ({@code NCHW} or {@code NHWC}) and 3D
 * ({@code NCDHW}); a parameter-free replacement for DL4J's {@code CnnLossLayer} and {@code Cnn3DLossLayer} that
 * lets region losses form per-example groups.
 *
 * <p>With input (pre-activation) z and labels y of the same shape {@code [N, C, spatial...]} (or {@code [N, H, W, C]}):
 * <ul>
 *   <li><b>{@link SpatialLossFunction}</b> (Dice and relatives): the loss receives the whole channels-first tensors
 *       (NHWC is permuted to NCHW and the gradient permuted back), so it sees N and can form one group per
 *       (example, class);</li>
 *   <li><b>any other {@link ILossFunction}</b>: z, y and the mask are flattened to rows {@code [N·spatial, C]}
 *       exactly as the stock layers do, but with the channel axis taken from the actual layout (the stock
 *       {@code CnnLossLayer} scores NHWC input with an NCHW reshape, and {@code Cnn3DLossLayer.scoreExamples}
 *       fails for C &gt; 1).</li>
 * </ul>
 * Score (DL4J's convention): {@code score = loss.computeScore(y, z, σ, m, average=false) / N + regularisation}; the
 * gradient is {@code loss.computeGradient(y, z, σ, m)} (the updater divides it by N). Per-example scores
 * ({@code computeScoreForExamples}) are {@code [N, 1]}: the loss's own per-example values for a spatial loss, the sum
 * over the example's voxels for a row-wise loss, as the stock layers intend. {@code activate()} returns σ(z) with σ
 * applied over the channel axis, in the input layout.
 *
 * <p>Label masks: {@code [N, 1, spatial...]} (broadcast over channels), {@code [N, C, spatial...]}, the same in the
 * input layout for NHWC ({@code [N, H, W, 1|C]}), or per example {@code [N, 1]}.
 *
 * <pre>{@code
 * .addLayer("out", new SegmentationLossLayer.Builder()
 *         .lossFunction(new LossMCXENT()).activation(Activation.SOFTMAX).build(), "logits")
 * }</pre>
 * Rank-5 input must be NCDHW; set {@code Convolution3D.DataFormat.NCDHW} on the 3D layers before it. When the graph
 * has input types, the channel count is checked at run time (which is what rejects NDHWC data; DL4J M2.1 mislabels
 * many NCDHW activations as NDHWC, so the label is not checked, see {@link SpatialLayout#channelsOf}).
 */
public class SegmentationLossLayer extends FeedForwardLayer {

    @JsonProperty("lossFn")
    private ILossFunction lossFn;
    @JsonProperty("dataFormat")
    private CNN2DFormat dataFormat = CNN2DFormat.NCHW;

    /** For JSON deserialisation; prefer the {@link Builder}. */
    public SegmentationLossLayer() {
        this(new Builder());
    }

    private SegmentationLossLayer(Builder builder) {
        super(builder);
        this.lossFn = builder.lossFn;
        this.dataFormat = builder.dataFormat;
        initializeConstraints(builder);
    }

    @Override
    public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> trainingListeners,
                             int layerIndex, INDArray layerParamsView, boolean initializeParams,
                             DataType networkDataType) {
        if (lossFn == null) {
            throw new IllegalArgumentException(describe() + ": no loss function configured;"
                    + " use SegmentationLossLayer.Builder.lossFunction(...)");
        }
        return RuntimeLayers.wire(new org.gradsurgery.layers.impl.SegmentationLossLayer(conf, networkDataType), conf,
                initializer(), trainingListeners, layerIndex, layerParamsView, initializeParams);
    }

    @Override
    public ParamInitializer initializer() {
        return EmptyParamInitializer.getInstance();
    }

    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        return SpatialLayout.sameShapeOutputType(inputType, describe());
    }

    @Override
    public void setNIn(InputType inputType, boolean override) {
        long c = SpatialLayout.channelsOf(inputType, describe());
        if (inputType instanceof InputType.InputTypeConvolutional) {
            dataFormat = ((InputType.InputTypeConvolutional) inputType).getFormat();
        }
        if (nIn <= 0 || override) {
            nIn = c;
            nOut = c;
        }
    }

    @Override
    public InputPreProcessor getPreProcessorForInputType(InputType inputType) {
        SpatialLayout.channelsOf(inputType, describe());
        return null;
    }

    @Override
    public LayerMemoryReport getMemoryReport(InputType inputType) {
        long perExample = inputType.arrayElementsPerExample();
        // Rows copies of the pre-output and labels (and the rows gradient in training); no parameters, no cache.
        return new LayerMemoryReport.Builder(layerName, SegmentationLossLayer.class, inputType,
                getOutputType(-1, inputType))
                .standardMemory(0, 0)
                .workingMemory(0, perExample, 0, 3 * perExample)
                .cacheMemory(MemoryReport.CACHE_MODE_ALL_ZEROS, MemoryReport.CACHE_MODE_ALL_ZEROS)
                .build();
    }

    @Override
    public boolean isPretrainParam(String paramName) {
        return false;
    }

    public ILossFunction getLossFn() {
        return lossFn;
    }

    public void setLossFn(ILossFunction lossFn) {
        this.lossFn = lossFn;
    }

    /** Layout of rank-4 input; rank-5 input is always NCDHW. */
    public CNN2DFormat getDataFormat() {
        return dataFormat;
    }

    public void setDataFormat(CNN2DFormat dataFormat) {
        this.dataFormat = Objects.requireNonNull(dataFormat, "dataFormat");
    }

    private String describe() {
        return "SegmentationLossLayer(name=\"" + layerName + "\")";
    }

    @Override
    public SegmentationLossLayer clone() {
        return (SegmentationLossLayer) super.clone();
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof SegmentationLossLayer) || !super.equals(o)) {
            return false;
        }
        SegmentationLossLayer that = (SegmentationLossLayer) o;
        return Objects.equals(lossFn, that.lossFn) && dataFormat == that.dataFormat;
    }

    @Override
    protected boolean canEqual(Object other) {
        return other instanceof SegmentationLossLayer;
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), lossFn, dataFormat);
    }

    @Override
    public String toString() {
        return "SegmentationLossLayer(name=" + layerName + ", lossFn=" + lossFn + ", activation=" + activationFn
                + ", dataFormat=" + dataFormat + ", nIn=" + nIn + ")";
    }

    /**
     * Builder; defaults: identity activation (as DL4J's loss layers), NCHW for rank 4. The activation is applied by
     * the loss over the channel axis, so use {@code activation(Activation.SOFTMAX)} for mutually exclusive classes
     * and {@code SIGMOID} for independent (multi-label) channels.
     */
    public static class Builder extends FeedForwardLayer.Builder<Builder> {

        private ILossFunction lossFn;
        private CNN2DFormat dataFormat = CNN2DFormat.NCHW;

        public Builder() {
            this.activationFn = Activation.IDENTITY.getActivationFunction();
        }

        public Builder(ILossFunction lossFunction) {
            this();
            lossFunction(lossFunction);
        }

        /** The loss; a {@link SpatialLossFunction} receives whole channels-first tensors. */
        public Builder lossFunction(ILossFunction lossFunction) {
            this.lossFn = Objects.requireNonNull(lossFunction, "lossFunction");
            return this;
        }

        /** One of DL4J's stock losses, e.g. {@code LossFunctions.LossFunction.MCXENT}. */
        public Builder lossFunction(LossFunctions.LossFunction lossFunction) {
            return lossFunction(Objects.requireNonNull(lossFunction, "lossFunction").getILossFunction());
        }

        /** Layout of rank-4 input (default NCHW); taken from the input type when the graph sets input types. */
        public Builder dataFormat(CNN2DFormat dataFormat) {
            this.dataFormat = Objects.requireNonNull(dataFormat, "dataFormat");
            return this;
        }

        /** @throws UnsupportedOperationException always: the layer has no parameters, nIn = nOut = channels */
        @Override
        public Builder nIn(int nIn) {
            throw noSizes();
        }

        /** @throws UnsupportedOperationException always: the layer has no parameters, nIn = nOut = channels */
        @Override
        public Builder nIn(long nIn) {
            throw noSizes();
        }

        /** @throws UnsupportedOperationException always: the layer has no parameters, nIn = nOut = channels */
        @Override
        public Builder nOut(int nOut) {
            throw noSizes();
        }

        /** @throws UnsupportedOperationException always: the layer has no parameters, nIn = nOut = channels */
        @Override
        public Builder nOut(long nOut) {
            throw noSizes();
        }

        private static UnsupportedOperationException noSizes() {
            return new UnsupportedOperationException("SegmentationLossLayer has no parameters: nIn = nOut = the"
                    + " channel count of its input, set from the graph's input types");
        }

        @Override
        @SuppressWarnings("unchecked")
        public SegmentationLossLayer build() {
            return new SegmentationLossLayer(this);
        }
    }
}
