package org.gradsurgery.layers;

import java.util.Collection;
import java.util.List;
import java.util.Objects;

import org.deeplearning4j.nn.api.ParamInitializer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.memory.LayerMemoryReport;
import org.deeplearning4j.nn.conf.memory.MemoryReport;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.gradsurgery.layers.impl.SpatialLayout;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.learning.regularization.Regularization;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * Shared configuration of the per-channel normalisation layers for rank-4 ({@code NCHW}/{@code NHWC}) and rank-5
 * ({@code NCDHW}) activations: {@link InstanceNormalization} and {@link SpatialBatchNormalization}.
 *
 * <p>Both compute {@code y = γ_c · x̂ + β_c} with {@code x̂ = (x − μ) / sqrt(σ² + ε)}, where μ and σ² (biased) are
 * taken over a group G of elements that depends on the subclass; with {@code affine(false)} γ ≡ 1, β ≡ 0 and the layer
 * has no trainable parameters. The backprop (analytic, for the training-mode statistics) for a group of m elements:
 * <pre>
 *   ∂L/∂γ_c = Σ_{n,spatial} ∂L/∂y · x̂,      ∂L/∂β_c = Σ_{n,spatial} ∂L/∂y,      g = γ_c · ∂L/∂y
 *   ∂L/∂x   = (g − mean_G(g) − x̂ · mean_G(g · x̂)) / sqrt(σ² + ε)
 * </pre>
 * The channel count C (= nIn = nOut) comes from the graph's input types, or from {@code nIn(C)}. Rank-4 layout comes
 * from the input type as well (or {@code dataFormat(...)}); rank 5 must be NCDHW. An activation set on the builder
 * (default identity, never inherited from the network's global activation) is applied after the affine map, so
 * {@code .activation(Activation.LEAKYRELU)} fuses nnU-Net's norm → nonlinearity step; backprop goes through it.
 * Masks are passed through and do not affect the statistics. Parameters are not regularised (as DL4J's
 * {@code BatchNormalization}).
 */
public abstract class AbstractSpatialNormalization extends FeedForwardLayer {

    @JsonProperty("eps")
    protected double eps = 1e-5;
    @JsonProperty("affine")
    protected boolean affine = true;
    @JsonProperty("dataFormat")
    protected CNN2DFormat dataFormat = CNN2DFormat.NCHW;

    protected AbstractSpatialNormalization(Builder<?> builder) {
        super(builder);
        this.eps = builder.eps;
        this.affine = builder.affine;
        this.dataFormat = builder.dataFormat;
        if (nIn > 0 && nOut > 0 && nIn != nOut) {
            throw new IllegalArgumentException(getClass().getSimpleName() + ": nIn (" + nIn + ") and nOut (" + nOut
                    + ") must both be the channel count");
        }
        if (nOut <= 0) {
            nOut = nIn;
        } else if (nIn <= 0) {
            nIn = nOut;
        }
    }

    /** Whether the layer keeps running mean/variance parameters (batch norm) or not (instance norm). */
    public abstract boolean hasRunningStatistics();

    /** Creates the runtime layer. */
    protected abstract org.deeplearning4j.nn.api.Layer createLayer(NeuralNetConfiguration conf, DataType dataType);

    @Override
    public org.deeplearning4j.nn.api.Layer instantiate(NeuralNetConfiguration conf,
                                                      Collection<TrainingListener> trainingListeners, int layerIndex,
                                                      INDArray layerParamsView, boolean initializeParams,
                                                      DataType networkDataType) {
        if (nOut <= 0) {
            throw new IllegalArgumentException(describe() + ": channel count unknown; set nIn(channels) or give the"
                    + " graph its input types (setInputTypes)");
        }
        return RuntimeLayers.wire(createLayer(conf, networkDataType), conf, initializer(), trainingListeners,
                layerIndex, layerParamsView, initializeParams);
    }

    @Override
    public ParamInitializer initializer() {
        return SpatialNormalizationParamInitializer.getInstance();
    }

    @Override
    public InputType getOutputType(int layerIndex, InputType inputType) {
        long c = SpatialLayout.channelsOf(inputType, describe());
        if (nOut > 0 && c != nOut) {
            throw new IllegalArgumentException(describe() + ": configured for " + nOut + " channels, input type has "
                    + c + " (" + inputType + ")");
        }
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

    /** None: γ, β and running statistics are neither weights nor biases. */
    @Override
    public List<Regularization> getRegularizationByParam(String paramName) {
        return null;
    }

    /** The configured updater for γ and β; {@link NoOp} for the running statistics (their update is the gradient). */
    @Override
    public IUpdater getUpdaterByParam(String paramName) {
        switch (paramName) {
            case SpatialNormalizationParamInitializer.GAMMA:
            case SpatialNormalizationParamInitializer.BETA:
                return iUpdater;
            case SpatialNormalizationParamInitializer.GLOBAL_MEAN:
            case SpatialNormalizationParamInitializer.GLOBAL_VAR:
                return new NoOp();
            default:
                throw new IllegalArgumentException(describe() + ": unknown parameter \"" + paramName + "\"");
        }
    }

    @Override
    public boolean isPretrainParam(String paramName) {
        return false;
    }

    @Override
    public LayerMemoryReport getMemoryReport(InputType inputType) {
        InputType outputType = getOutputType(-1, inputType);
        long numParams = initializer().numParams(this);
        long updaterState = 0;
        for (String key : initializer().paramKeys(this)) {
            updaterState += getUpdaterByParam(key).stateSize(nOut);
        }
        long perExample = inputType.arrayElementsPerExample();
        // Inference: x − μ and x̂ as temporaries. Training: the backprop recomputes x̂ and needs g, g·x̂ and ∂L/∂x.
        return new LayerMemoryReport.Builder(layerName, getClass(), inputType, outputType)
                .standardMemory(numParams, updaterState)
                .workingMemory(2 * nOut, 2 * perExample, 6 * nOut, 5 * perExample)
                .cacheMemory(MemoryReport.CACHE_MODE_ALL_ZEROS, MemoryReport.CACHE_MODE_ALL_ZEROS)
                .build();
    }

    /** ε added to the variance (default 1e-5). */
    public double getEps() {
        return eps;
    }

    public void setEps(double eps) {
        this.eps = eps;
    }

    /** Whether the layer learns per-channel γ and β (default true). */
    public boolean isAffine() {
        return affine;
    }

    public void setAffine(boolean affine) {
        this.affine = affine;
    }

    /** Layout of rank-4 input; rank-5 input is always NCDHW. */
    public CNN2DFormat getDataFormat() {
        return dataFormat;
    }

    public void setDataFormat(CNN2DFormat dataFormat) {
        this.dataFormat = Objects.requireNonNull(dataFormat, "dataFormat");
    }

    protected String describe() {
        return getClass().getSimpleName() + "(name=\"" + layerName + "\")";
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (o == null || o.getClass() != getClass() || !super.equals(o)) {
            return false;
        }
        AbstractSpatialNormalization that = (AbstractSpatialNormalization) o;
        return Double.compare(eps, that.eps) == 0 && affine == that.affine && dataFormat == that.dataFormat;
    }

    @Override
    protected boolean canEqual(Object other) {
        return other != null && other.getClass() == getClass();
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), eps, affine, dataFormat);
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "(" + fieldsToString() + ")";
    }

    /** The fields for {@link #toString()}; subclasses append theirs. */
    protected String fieldsToString() {
        return "name=" + layerName + ", channels=" + nOut + ", eps=" + eps + ", affine=" + affine + ", dataFormat="
                + dataFormat + ", activation=" + activationFn;
    }

    /** Common builder options. */
    public abstract static class Builder<T extends Builder<T>> extends FeedForwardLayer.Builder<T> {

        protected double eps = 1e-5;
        protected boolean affine = true;
        protected CNN2DFormat dataFormat = CNN2DFormat.NCHW;

        protected Builder() {
            // explicit, so that a network-wide default activation (DL4J's is sigmoid) is not applied to the norm
            this.activationFn = Activation.IDENTITY.getActivationFunction();
        }

        /** ε &gt; 0 added to the variance; default 1e-5 (PyTorch, MONAI, nnU-Net). */
        @SuppressWarnings("unchecked")
        public T eps(double eps) {
            if (!(eps > 0) || Double.isInfinite(eps)) {
                throw new IllegalArgumentException("eps must be a finite value > 0, got " + eps);
            }
            this.eps = eps;
            return (T) this;
        }

        /** Learn per-channel γ (init 1) and β (init 0); default true. */
        @SuppressWarnings("unchecked")
        public T affine(boolean affine) {
            this.affine = affine;
            return (T) this;
        }

        /** Layout of rank-4 input (default NCHW); taken from the input type when the graph sets input types. */
        @SuppressWarnings("unchecked")
        public T dataFormat(CNN2DFormat dataFormat) {
            this.dataFormat = Objects.requireNonNull(dataFormat, "dataFormat");
            return (T) this;
        }
    }
}
