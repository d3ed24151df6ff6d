package org.gradsurgery.layers.impl;

import java.util.function.Supplier;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.convolution.ConvolutionLayer;
import org.deeplearning4j.nn.params.ConvolutionParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.util.ConvolutionUtils;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Runtime part of {@link org.gradsurgery.layers.NativeConvolution2D}: DL4J's {@code ConvolutionLayer} with its
 * pre-output and backprop replaced by native convolutions. Everything else (dropout, weight noise, the activation,
 * parameter views, input validation) is DL4J's.
 *
 * <p>Which native code runs is a split by backend and data type, not a choice: FLOAT on ND4J's CPU backend (on
 * linux-x86_64, whose natives the library ships) runs {@link DnnlConvolution}, oneDNN called directly with its
 * primitives built once per shape (a 2D U-Net's convolutions ~20 % cheaper than libnd4j's ops, which rebuild them
 * and reorder every operand on each call; in a training step the forward pass's reordered copy of the input is
 * kept for the weight gradient, {@code DnnlConvolution.forward} with {@code keepInput}); everything else (DOUBLE, which oneDNN has no kernels for and the gradient
 * checks use; the CUDA backend, whose arrays live in device memory) runs libnd4j's {@code conv2d}/{@code
 * conv2d_bp} ops, cuDNN's or libnd4j's own loops there. Both compute the same function (to float rounding, tested
 * in {@code NativeConvolution2DTest}).
 */
public class NativeConvolution2D extends ConvolutionLayer {

    /** This layer's oneDNN plans, created on first FLOAT use on the CPU backend. */
    private DnnlConvolution dnnl;

    /** libnd4j's weight layout code for {@code [oC, iC, kH, kW]}, DL4J's parameter layout. */
    private static final int WEIGHTS_OIHW = 1;

    public NativeConvolution2D(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
        // DL4J's helpers (cuDNN, oneDNN) would take over from the ops below; this layer is its own native path.
        helper = null;
    }

    /** Spatial size and padding for one input, as DL4J computes them (its validation included). */
    private record Geometry(int[] outSize, int[] pad) {
    }

    private Geometry geometry(INDArray x) {
        CNN2DFormat format = layerConf().getCnn2dDataFormat();
        int[] kernel = layerConf().getKernelSize();
        int[] strides = layerConf().getStride();
        int[] dilation = layerConf().getDilation();
        if (convolutionMode == ConvolutionMode.Same) {
            int[] outSize = ConvolutionUtils.getOutputSize(x, kernel, strides, null, convolutionMode, dilation, format);
            int h = format == CNN2DFormat.NCHW ? 2 : 1;
            int[] in = {(int) x.size(h), (int) x.size(h + 1)};
            return new Geometry(outSize, ConvolutionUtils.getSameModeTopLeftPadding(outSize, in, kernel, strides, dilation));
        }
        int[] pad = layerConf().getPadding();
        return new Geometry(ConvolutionUtils.getOutputSize(x, kernel, strides, pad, convolutionMode, dilation, format), pad);
    }

    /**
     * Whether FLOAT convolutions of this layer and {@code NativeConvolution3D} call oneDNN themselves here (ND4J's CPU
     * backend on linux-x86_64, through {@code org.bytedeco:dnnl}), whatever libnd4j's own native build is.
     */
    public static boolean callsOneDnnDirectly() {
        return DnnlConvolution.applies(DataType.FLOAT);
    }

    /** The oneDNN path's plans, or null where it does not apply (see the class comment). */
    private DnnlConvolution dnnl() {
        if (dnnl == null) {
            dnnl = DnnlConvolution.forLayer(this, dataType, layerConf().getCudnnAlgoMode());
        }
        return dnnl;
    }

    private DnnlConvolution.Geometry dnnlGeometry(INDArray x, INDArray weights, Geometry g) {
        boolean nchw = layerConf().getCnn2dDataFormat() == CNN2DFormat.NCHW;
        int[] k = layerConf().getKernelSize();
        int[] s = layerConf().getStride();
        int[] d = layerConf().getDilation();
        return DnnlConvolution.Geometry.of2d(x.size(0), weights.size(1), weights.size(0), x.size(nchw ? 2 : 1),
                x.size(nchw ? 3 : 2), g.outSize()[0], g.outSize()[1], k[0], k[1], s[0], s[1], d[0], d[1],
                g.pad()[0], g.pad()[1], hasBias(), layerConf().getCnn2dDataFormat());
    }

    private int[] intArgs(Geometry g) {
        int[] k = layerConf().getKernelSize();
        int[] s = layerConf().getStride();
        int[] d = layerConf().getDilation();
        return new int[] {k[0], k[1], s[0], s[1], g.pad()[0], g.pad()[1], d[0], d[1],
                convolutionMode == ConvolutionMode.Same ? 1 : 0,
                layerConf().getCnn2dDataFormat() == CNN2DFormat.NCHW ? 0 : 1, WEIGHTS_OIHW};
    }

    /**
     * ∂L/∂z from ε = ∂L/∂act(z). An identity activation passes ε through, so the pre-output is recomputed (the
     * forward pass again) only for other activations; DL4J's layers recompute it always.
     */
    static INDArray deltaThroughActivation(IActivation activation, INDArray epsilon, Supplier<INDArray> preOutput) {
        return activation instanceof ActivationIdentity ? epsilon
                : activation.backprop(preOutput.get(), epsilon).getFirst();
    }

    @Override
    protected Pair<INDArray, INDArray> preOutput(boolean training, boolean forBackprop, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        validateInputRank();
        INDArray weights = getParamWithNoise(ConvolutionParamInitializer.WEIGHT_KEY, training, workspaceMgr);
        validateInputDepth(weights.size(1));
        INDArray x = input.castTo(dataType);
        Geometry g = geometry(x);
        long n = x.size(0);
        long oc = weights.size(0);
        long[] shape = layerConf().getCnn2dDataFormat() == CNN2DFormat.NCHW
                ? new long[] {n, oc, g.outSize()[0], g.outSize()[1]}
                : new long[] {n, g.outSize()[0], g.outSize()[1], oc};
        INDArray z = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, dataType, shape, 'c');
        DnnlConvolution oneDnn = dnnl();
        if (oneDnn != null) {
            INDArray b = hasBias() ? getParamWithNoise(ConvolutionParamInitializer.BIAS_KEY, training, workspaceMgr) : null;
            // in a training step's forward pass, keep x's reordered copy for the weight gradient (DnnlConvolution),
            // in the activations workspace beside x; without workspaces it would wait for the GC, so not then
            boolean keep = training && !forBackprop && !workspaceMgr.isScopedOut(ArrayType.ACTIVATIONS);
            oneDnn.forward(dnnlGeometry(x, weights, g), x, weights, b, z, workspaceMgr, keep);
            return new Pair<>(z, null);
        }
        INDArray[] inputs = hasBias()
                ? new INDArray[] {x, weights, getParamWithNoise(ConvolutionParamInitializer.BIAS_KEY, training, workspaceMgr)}
                : new INDArray[] {x, weights};
        Nd4j.exec(DynamicCustomOp.builder("conv2d").addInputs(inputs).addOutputs(z).addIntegerArguments(intArgs(g)).build());
        return new Pair<>(z, null);
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(true);
        INDArray weights = getParamWithNoise(ConvolutionParamInitializer.WEIGHT_KEY, true, workspaceMgr);
        INDArray x = input.castTo(dataType);
        INDArray eps = epsilon.castTo(dataType);
        INDArray delta = deltaThroughActivation(layerConf().getActivationFn(), eps,
                () -> preOutput(true, true, workspaceMgr).getFirst());

        INDArray weightGrad = gradientViews.get(ConvolutionParamInitializer.WEIGHT_KEY);
        Geometry g = geometry(x);
        boolean inputGradient = !(layerConf() instanceof org.gradsurgery.layers.NativeConvolution2D c)
                || c.isInputGradient();
        DnnlConvolution oneDnn = dnnl();
        if (oneDnn != null) {
            INDArray gradInput = inputGradient
                    ? workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, dataType, x.shape(), 'c') : null;
            INDArray biasGrad = hasBias() ? gradientViews.get(ConvolutionParamInitializer.BIAS_KEY) : null;
            oneDnn.backward(dnnlGeometry(x, weights, g), x, weights, delta, gradInput, weightGrad, biasGrad,
                    workspaceMgr);
            Gradient gradient = new DefaultGradient();
            if (hasBias()) {
                gradient.setGradientFor(ConvolutionParamInitializer.BIAS_KEY, biasGrad);
            }
            gradient.setGradientFor(ConvolutionParamInitializer.WEIGHT_KEY, weightGrad, 'c');
            return new Pair<>(gradient, inputGradient ? backpropDropOutIfPresent(gradInput) : null);
        }
        if (!inputGradient && weightGradientAsConvolution(x, delta, g, weightGrad)) {
            Gradient gradient = new DefaultGradient();
            if (hasBias()) {
                INDArray biasGrad = gradientViews.get(ConvolutionParamInitializer.BIAS_KEY);
                BiasGradient.sumInto(delta, biasGrad);
                gradient.setGradientFor(ConvolutionParamInitializer.BIAS_KEY, biasGrad);
            }
            gradient.setGradientFor(ConvolutionParamInitializer.WEIGHT_KEY, weightGrad, 'c');
            return new Pair<>(gradient, null);
        }

        // conv2d_bp always computes the input gradient; when nobody wants it, it goes to scratch memory
        INDArray gradInput = workspaceMgr.createUninitialized(
                inputGradient ? ArrayType.ACTIVATION_GRAD : ArrayType.BP_WORKING_MEM, dataType, x.shape(), 'c');
        // (the builder's addInputs/addOutputs replace, so each gets the whole list at once)
        DynamicCustomOp.DynamicCustomOpsBuilder op = DynamicCustomOp.builder("conv2d_bp");
        Gradient gradient = new DefaultGradient();
        if (hasBias()) {
            INDArray biasGrad = gradientViews.get(ConvolutionParamInitializer.BIAS_KEY);
            op.addInputs(x, weights, getParamWithNoise(ConvolutionParamInitializer.BIAS_KEY, true, workspaceMgr), delta)
                    .addOutputs(gradInput, weightGrad, biasGrad);
            gradient.setGradientFor(ConvolutionParamInitializer.BIAS_KEY, biasGrad);
        } else {
            op.addInputs(x, weights, delta).addOutputs(gradInput, weightGrad);
        }
        Nd4j.exec(op.addIntegerArguments(intArgs(g)).build());
        gradient.setGradientFor(ConvolutionParamInitializer.WEIGHT_KEY, weightGrad, 'c');
        return new Pair<>(gradient, inputGradient ? backpropDropOutIfPresent(gradInput) : null);
    }

    /**
     * ∂L/∂W without ∂L/∂in, as one {@code conv2d}: the input with batch and channel axes swapped ({@code [iC, N, H,
     * W]}) convolved with ∂L/∂z as the kernel ({@code [oC, N, oH, oW]}), the original dilation as its stride and the
     * original padding, gives {@code [iC, oC, kH, kW]}, written into the transposed view of the weight gradient.
     * Only for {@code NCHW} and stride 1 (the original stride would become the dilation, and libnd4j's oneDNN path
     * ignores dilation in its right-hand padding); returns false, having done nothing, otherwise.
     */
    private boolean weightGradientAsConvolution(INDArray x, INDArray delta, Geometry g, INDArray weightGrad) {
        int[] s = layerConf().getStride();
        int[] d = layerConf().getDilation();
        if (layerConf().getCnn2dDataFormat() != CNN2DFormat.NCHW || s[0] != 1 || s[1] != 1) {
            return false;
        }
        // for one input channel the swap is a reshape; otherwise a strided view that the op reads as it lies
        INDArray xt = x.size(1) == 1 ? x.reshape('c', 1, x.size(0), x.size(2), x.size(3)) : x.permute(1, 0, 2, 3);
        INDArray kernel = delta.permute(1, 0, 2, 3);
        int[] args = {(int) delta.size(2), (int) delta.size(3), d[0], d[1], g.pad()[0], g.pad()[1], 1, 1, 0, 0,
                WEIGHTS_OIHW};
        Nd4j.exec(DynamicCustomOp.builder("conv2d").addInputs(xt, kernel).addOutputs(weightGrad.permute(1, 0, 2, 3))
                .addIntegerArguments(args).build());
        return true;
    }
}
