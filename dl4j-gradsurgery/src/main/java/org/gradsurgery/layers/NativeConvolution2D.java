package org.gradsurgery.layers;

import java.util.Collection;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.LayerValidation;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.deeplearning4j.util.ConvolutionUtils;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A 2D convolution layer, configured exactly like DL4J's {@link ConvolutionLayer} (kernel, stride, padding,
 * dilation, {@code ConvolutionMode}, {@code NCHW}/{@code NHWC}, bias, activation, dropout, weight noise), whose
 * forward and backward passes run native convolutions: oneDNN called directly for FLOAT on ND4J's CPU backend,
 * libnd4j's {@code conv2d} and {@code conv2d_bp} ops otherwise (DOUBLE, CUDA; see {@code layers.impl.NativeConvolution2D}):
 * <pre>
 *   z[n, o, y, x] = b[o] + Σ_{i, u, v} W[o, i, u, v] · in[n, i, y·s_h + u·d_h − p_h, x·s_w + v·d_w − p_w],   out = act(z)
 * </pre>
 * with the same parameters ({@code W} as {@code [nOut, nIn, kH, kW]}, {@code b} as {@code [1, nOut]}) and the same
 * results as DL4J's layer, so a model can switch between the two without retraining.
 *
 * <p>Why: DL4J 1.0.0-M2.1's {@code ConvolutionLayer} computes in Java (im2col, a GEMM, and col2im in backprop,
 * with permute copies in between) unless a helper takes over, and its oneDNN helper never switches on in M2.1
 * (helpers are disabled by default and {@code BaseMKLDNNHelper} looks up a class that moved). In FLOAT on the CPU
 * the layer calls oneDNN's C API (the {@code org.bytedeco:dnnl} preset) with its primitives built once per shape;
 * libnd4j's ops, on its oneDNN build, rebuild them and reorder every operand on each call, which cost a 2D U-Net
 * step about 20 % of its convolution time. The backward pass also skips the forward recomputation DL4J performs for
 * an identity activation. See {@code docs/PERFORMANCE.md} for the measurements.
 *
 * <p><b>Input gradient.</b> With {@link Builder#inputGradient(boolean) inputGradient(false)} backprop computes only
 * the parameter gradients and returns no ∂L/∂in (null, as DL4J's embedding layers do): for a layer that reads the
 * network's input, whose gradient nobody uses (a U-Net's first convolution; {@code UNet} sets it there). On
 * oneDNN only its backward-weights primitive runs; on libnd4j's ops, for {@code NCHW} and stride 1 the weight
 * gradient is then itself one {@code conv2d}, of the input with ∂L/∂z as the kernel (batch and channel axes swapped),
 * <pre>
 *   ∂L/∂W[o, i, u, v] = Σ_{n, y, x} ∂L/∂z[n, o, y, x] · in[n, i, y + u·d_h − p_h, x + v·d_w − p_w]
 * </pre>
 * which skips libnd4j's data-gradient kernel (oneDNN pads one input channel to 16 there: for 1 → 16 channels, 128²,
 * batch 4, {@code conv2d_bp} took 11–15 ms of thread CPU and this path 2.9 ms with the bias sum); other cases run
 * {@code conv2d_bp} into scratch memory. Default true (DL4J's behaviour).
 *
 * <p><b>Algorithm.</b> On oneDNN, 3×3 stride-1 convolutions with at least 16 input channels run Winograd's
 * F(4×4, 3×3) where the CPU has it (AVX-512): fewer multiplications, more working memory (43 MiB for the benchmark
 * 2D U-Net), results equal to the direct algorithm's to float rounding (not to the bit). DL4J's
 * {@link ConvolutionLayer.AlgoMode cudnnAlgoMode} chooses, as it does for cuDNN: {@code PREFER_FASTEST} (DL4J's
 * default) allows Winograd, {@code NO_WORKSPACE} keeps the direct algorithm.
 *
 * <pre>{@code
 * new NativeConvolution2D.Builder(3, 3).nOut(16).convolutionMode(ConvolutionMode.Same).activation(Activation.IDENTITY).build()
 * }</pre>
 */
public class NativeConvolution2D extends ConvolutionLayer {

    /** Whether backprop computes ∂L/∂input (see the class comment). */
    private boolean inputGradient = true;

    /** For JSON deserialisation; prefer the {@link Builder}. */
    public NativeConvolution2D() {
        this(new Builder());
    }

    private NativeConvolution2D(Builder builder) {
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
        LayerValidation.assertNInNOutSet("NativeConvolution2D", getLayerName(), layerIndex, getNIn(), getNOut());
        return RuntimeLayers.wire(new org.gradsurgery.layers.impl.NativeConvolution2D(conf, networkDataType), conf,
                initializer(), trainingListeners, layerIndex, layerParamsView, initializeParams);
    }

    @Override
    public NativeConvolution2D clone() {
        return (NativeConvolution2D) super.clone();
    }

    // The same configuration as a DL4J ConvolutionLayer is not the same layer: the class takes part.
    @Override
    public boolean equals(Object o) {
        return o != null && o.getClass() == getClass() && super.equals(o)
                && inputGradient == ((NativeConvolution2D) o).inputGradient;
    }

    @Override
    public int hashCode() {
        return 31 * (31 * super.hashCode() + NativeConvolution2D.class.getName().hashCode())
                + Boolean.hashCode(inputGradient);
    }

    /** DL4J's {@link ConvolutionLayer.Builder}, building a {@link NativeConvolution2D}. */
    public static class Builder extends ConvolutionLayer.Builder {

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
        public NativeConvolution2D build() {
            ConvolutionUtils.validateConvolutionModePadding(convolutionMode, padding);
            ConvolutionUtils.validateCnnKernelStridePadding(kernelSize, stride, padding);
            return new NativeConvolution2D(this);
        }
    }
}
