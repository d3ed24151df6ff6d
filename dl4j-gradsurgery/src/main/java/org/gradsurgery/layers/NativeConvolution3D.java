package org.gradsurgery.layers;

import java.util.Collection;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.conf.layers.LayerValidation;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A 3D convolution layer, configured exactly like DL4J's {@link Convolution3D} (kernel, stride, padding, dilation,
 * {@code ConvolutionMode}, {@code NCDHW}/{@code NDHWC}, bias, activation, dropout, weight noise) and with its
 * parameters ({@code W} as {@code [nOut, nIn, kD, kH, kW]}, {@code b} as {@code [1, nOut]}) and results:
 * <pre>
 *   z[n, o, d, y, x] = b[o] + Σ_{i, t, u, v} W[o, i, t, u, v] · in[n, i, d·s_d + t·δ_d − p_d, y·s_h + u·δ_h − p_h, x·s_w + v·δ_w − p_w],
 *   out = act(z)
 * </pre>
 * It runs one example at a time: in FLOAT on ND4J's CPU backend through oneDNN called directly, with its
 * primitives built once per shape (as {@link NativeConvolution2D}); otherwise (DOUBLE, CUDA) through libnd4j's
 * {@code conv3dnew}/{@code conv3dnew_bp} ops, as DL4J's layer does, and, for large volumes ({@code Same} mode, stride and dilation 1 along depth, {@code NCDHW}), one slab of depth planes
 * at a time with a halo, so that the scratch memory the ops allocate outside the workspaces stays bounded (about
 * 128 MiB per call) whatever the batch and patch size.
 *
 * <p>Why: on libnd4j's oneDNN natives each op call copies its input, output and gradients into oneDNN's blocked
 * layouts; for a whole 96³ batch of 2 that is 432 MiB at once, the largest term of a 3D U-Net step's peak RSS
 * ({@code docs/PERFORMANCE.md}). The backward pass also skips DL4J's forward recomputation for an identity
 * activation, and passes the input gradient back through input dropout, which DL4J M2.1's 3D layer omits.
 *
 * <p><b>Input gradient.</b> With {@link Builder#inputGradient(boolean) inputGradient(false)} backprop computes only
 * the parameter gradients and returns no ∂L/∂in (null), for a layer that reads the network's input (a U-Net's first
 * convolution; {@code UNet} sets it there). Default true (DL4J's behaviour).
 *
 * <pre>{@code
 * new NativeConvolution3D.Builder(3, 3, 3).nOut(16).convolutionMode(ConvolutionMode.Same)
 *         .dataFormat(Convolution3D.DataFormat.NCDHW).activation(Activation.IDENTITY).build()
 * }</pre>
 */
public class NativeConvolution3D extends Convolution3D {

    /** Whether backprop computes ∂L/∂input (see the class comment). */
    private boolean inputGradient = true;

    /** For JSON deserialisation; prefer the {@link Builder}. */
    public NativeConvolution3D() {
        this(new Builder());
    }

    private NativeConvolution3D(Builder builder) {
        super(builder);
        this.inputGradient = builder.inputGradient;
    }

    /** Whether backprop computes and returns ∂L/∂input; false only where the network's input needs none. */
    public boolean isInputGradient() {
        return inputGradient;
    }

    public void setInputGradient(boolean inputGradient) {
        this.inputGradient = inputGradient;
    }

    @Override
    public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> trainingListeners,
                             int layerIndex, INDArray layerParamsView, boolean initializeParams,
                             DataType networkDataType) {
        LayerValidation.assertNInNOutSet("NativeConvolution3D", getLayerName(), layerIndex, getNIn(), getNOut());
        return RuntimeLayers.wire(new org.gradsurgery.layers.impl.NativeConvolution3D(conf, networkDataType), conf,
                initializer(), trainingListeners, layerIndex, layerParamsView, initializeParams);
    }

    @Override
    public NativeConvolution3D clone() {
        return (NativeConvolution3D) super.clone();
    }

    // The same configuration as a DL4J Convolution3D is not the same layer: the class takes part.
    @Override
    public boolean equals(Object o) {
        return o != null && o.getClass() == getClass() && super.equals(o)
                && inputGradient == ((NativeConvolution3D) o).inputGradient;
    }

    @Override
    public int hashCode() {
        return 31 * (31 * super.hashCode() + NativeConvolution3D.class.getName().hashCode())
                + Boolean.hashCode(inputGradient);
    }

    /** DL4J's {@link Convolution3D.Builder}, building a {@link NativeConvolution3D}. */
    public static class Builder extends Convolution3D.Builder {

        private boolean inputGradient = true;

        public Builder(int... kernelSize) {
            super(kernelSize);
        }

        public Builder() {
            super();
        }

        /**
         * False: backprop computes only the parameter gradients and returns no ∂L/∂input (for a layer on the
         * network's input). Call it before DL4J's builder methods, which return their own builder type.
         */
        public Builder inputGradient(boolean inputGradient) {
            this.inputGradient = inputGradient;
            return this;
        }

        @Override
        public NativeConvolution3D build() {
            // DL4J's validation, on a throw-away configuration
            super.build();
            return new NativeConvolution3D(this);
        }
    }
}
