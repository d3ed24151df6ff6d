package org.gradsurgery.layers;

import java.util.Collection;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.Deconvolution2D;
import org.deeplearning4j.nn.conf.layers.LayerValidation;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A 2D transposed convolution, configured exactly like DL4J's {@link Deconvolution2D} and with its parameters
 * ({@code W} as {@code [nIn, nOut, kH, kW]}, {@code b} as {@code [1, nOut]}) and results. In the U-Net's case, kernel
 * = stride (k×k, stride k, no padding, no dilation, {@code NCHW}), the output is a GEMM per example followed by
 * one rearrangement:
 * <pre>
 *   z[n, o, k·y + u, k·x + v] = b[o] + Σ_i W[i, o, u, v] · in[n, i, y, x]
 * </pre>
 * and backprop is two GEMMs per example ({@code ∂L/∂in = W·δ'}, {@code ∂L/∂W += in·δ'ᵀ} with δ' the gradient
 * rearranged to {@code [nOut·k², H·W]}). Every other configuration runs DL4J's own implementation (libnd4j's
 * {@code deconv2d} ops).
 *
 * <p>Why: DL4J 1.0.0-M2.1's layer permutes the weights to libnd4j's layout on every call, which keeps the op off
 * oneDNN's fast path, and recomputes the forward pass in backprop even for an identity activation; with the
 * convolutions on oneDNN the three up-sampling layers cost about a quarter of a 2D U-Net step
 * ({@code docs/PERFORMANCE.md}).
 *
 * <pre>{@code
 * new TransposedConvolution2D.Builder().kernelSize(2, 2).stride(2, 2).nOut(32).convolutionMode(ConvolutionMode.Same).build()
 * }</pre>
 */
public class TransposedConvolution2D extends Deconvolution2D {

    /** For JSON deserialisation; prefer the {@link Builder}. */
    public TransposedConvolution2D() {
        this(new Builder());
    }

    private TransposedConvolution2D(Builder builder) {
        super(builder);
    }

    @Override
    public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> trainingListeners,
                             int layerIndex, INDArray layerParamsView, boolean initializeParams,
                             DataType networkDataType) {
        LayerValidation.assertNInNOutSet("TransposedConvolution2D", getLayerName(), layerIndex, getNIn(), getNOut());
        return RuntimeLayers.wire(new org.gradsurgery.layers.impl.TransposedConvolution2D(conf, networkDataType), conf,
                initializer(), trainingListeners, layerIndex, layerParamsView, initializeParams);
    }

    @Override
    public TransposedConvolution2D clone() {
        return (TransposedConvolution2D) super.clone();
    }

    // The same configuration as a DL4J Deconvolution2D is not the same layer: the class takes part.
    @Override
    public boolean equals(Object o) {
        return o != null && o.getClass() == getClass() && super.equals(o);
    }

    @Override
    public int hashCode() {
        return 31 * super.hashCode() + TransposedConvolution2D.class.getName().hashCode();
    }

    /** DL4J's {@link Deconvolution2D.Builder}, building a {@link TransposedConvolution2D}. */
    public static class Builder extends Deconvolution2D.Builder {

        public Builder(int... kernelSize) {
            super(kernelSize);
        }

        public Builder() {
            super();
        }

        @Override
        public TransposedConvolution2D build() {
            return new TransposedConvolution2D(this);
        }
    }
}
