package org.gradsurgery.layers;

import java.util.Collection;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.Deconvolution3D;
import org.deeplearning4j.nn.conf.layers.LayerValidation;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A 3D transposed convolution, configured exactly like DL4J's {@link Deconvolution3D} and with its parameters
 * ({@code W} as {@code [kD, kH, kW, nOut, nIn]}, {@code b} as {@code [1, nOut]}) and results. For kernel = stride
 * (k×k×k, stride k, no padding, no dilation, {@code NCDHW}: the U-Net's up-sampling) it is a GEMM per example and one
 * rearrangement, as {@link TransposedConvolution2D} in 2D:
 * <pre>
 *   z[n, o, k·d + a, k·y + u, k·x + v] = b[o] + Σ_i W[a, u, v, o, i] · in[n, i, d, y, x]
 * </pre>
 * Every other configuration runs DL4J's implementation (libnd4j's {@code deconv3d} ops).
 *
 * <p>Why: DL4J 1.0.0-M2.1's layer recomputes the forward pass in backprop even for an identity activation, and
 * libnd4j's {@code deconv3d} ops were 17 % of a 3D U-Net step on the oneDNN natives ({@code docs/PERFORMANCE.md}).
 *
 * <pre>{@code
 * new TransposedConvolution3D.Builder().kernelSize(2, 2, 2).stride(2, 2, 2).nOut(16)
 *         .convolutionMode(ConvolutionMode.Same).dataFormat(Convolution3D.DataFormat.NCDHW).build()
 * }</pre>
 */
public class TransposedConvolution3D extends Deconvolution3D {

    /** For JSON deserialisation; prefer the {@link Builder}. */
    public TransposedConvolution3D() {
        this(new Builder());
    }

    private TransposedConvolution3D(Builder builder) {
        super(builder);
    }

    @Override
    public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> trainingListeners,
                             int layerIndex, INDArray layerParamsView, boolean initializeParams,
                             DataType networkDataType) {
        LayerValidation.assertNInNOutSet("TransposedConvolution3D", getLayerName(), layerIndex, getNIn(), getNOut());
        return RuntimeLayers.wire(new org.gradsurgery.layers.impl.TransposedConvolution3D(conf, networkDataType), conf,
                initializer(), trainingListeners, layerIndex, layerParamsView, initializeParams);
    }

    @Override
    public TransposedConvolution3D clone() {
        return (TransposedConvolution3D) super.clone();
    }

    // The same configuration as a DL4J Deconvolution3D is not the same layer: the class takes part.
    @Override
    public boolean equals(Object o) {
        return o != null && o.getClass() == getClass() && super.equals(o);
    }

    @Override
    public int hashCode() {
        return 31 * super.hashCode() + TransposedConvolution3D.class.getName().hashCode();
    }

    /** DL4J's {@link Deconvolution3D.Builder}, building a {@link TransposedConvolution3D}. */
    public static class Builder extends Deconvolution3D.Builder {

        public Builder() {
            super();
        }

        @Override
        public TransposedConvolution3D build() {
            return new TransposedConvolution3D(this);
        }
    }
}
