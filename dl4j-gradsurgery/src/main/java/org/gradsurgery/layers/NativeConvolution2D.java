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
 * forward and backward passes run libnd4j's {@code conv2d} and {@code conv2d_bp} ops:
 * <pre>
 *   z[n, o, y, x] = b[o] + Σ_{i, u, v} W[o, i, u, v] · in[n, i, y·s_h + u·d_h − p_h, x·s_w + v·d_w − p_w],   out = act(z)
 * </pre>
 * with the same parameters ({@code W} as {@code [nOut, nIn, kH, kW]}, {@code b} as {@code [1, nOut]}) and the same
 * results as DL4J's layer, so a model can switch between the two without retraining.
 *
 * <p>Why: DL4J 1.0.0-M2.1's {@code ConvolutionLayer} computes in Java (im2col, a GEMM, and col2im in backprop,
 * with permute copies in between) unless a helper takes over, and its oneDNN helper never switches on in M2.1
 * (helpers are disabled by default and {@code BaseMKLDNNHelper} looks up a class that moved). The libnd4j ops
 * are the path DL4J's own 3D convolution takes; on libnd4j's oneDNN build ({@code nd4j-native:linux-x86_64-onednn},
 * the examples module's default) they run on oneDNN's kernels. The backward pass also skips the forward recomputation DL4J performs for an identity
 * activation. See {@code docs/PERFORMANCE.md} for the measurements.
 *
 * <pre>{@code
 * new NativeConvolution2D.Builder(3, 3).nOut(16).convolutionMode(ConvolutionMode.Same).activation(Activation.IDENTITY).build()
 * }</pre>
 */
public class NativeConvolution2D extends ConvolutionLayer {

    /** For JSON deserialisation; prefer the {@link Builder}. */
    public NativeConvolution2D() {
        this(new Builder());
    }

    private NativeConvolution2D(Builder builder) {
        super(builder);
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
        return o != null && o.getClass() == getClass() && super.equals(o);
    }

    @Override
    public int hashCode() {
        return 31 * super.hashCode() + NativeConvolution2D.class.getName().hashCode();
    }

    /** DL4J's {@link ConvolutionLayer.Builder}, building a {@link NativeConvolution2D}. */
    public static class Builder extends ConvolutionLayer.Builder {

        public Builder(int... kernelSize) {
            super(kernelSize);
        }

        public Builder() {
            super();
        }

        @Override
        public NativeConvolution2D build() {
            ConvolutionUtils.validateConvolutionModePadding(convolutionMode, padding);
            ConvolutionUtils.validateCnnKernelStridePadding(kernelSize, stride, padding);
            return new NativeConvolution2D(this);
        }
    }
}
