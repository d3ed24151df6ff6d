package org.gradsurgery.layers.impl;

import java.util.Arrays;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.convolution.Deconvolution2DLayer;
import org.deeplearning4j.nn.params.DeconvolutionParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Runtime part of {@link org.gradsurgery.layers.TransposedConvolution2D}: the GEMM formulation for kernel = stride
 * in {@code NCHW}, DL4J's {@link Deconvolution2DLayer} for everything else.
 */
public class TransposedConvolution2D extends Deconvolution2DLayer {

    public TransposedConvolution2D(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    /** Kernel = stride, no padding, no dilation, NCHW, FLOAT/DOUBLE: each input pixel owns a k×k output block. */
    private boolean blockCase() {
        int[] k = layerConf().getKernelSize();
        int[] s = layerConf().getStride();
        int[] d = layerConf().getDilation();
        int[] p = layerConf().getPadding();
        boolean noPadding = convolutionMode == ConvolutionMode.Same || (p[0] == 0 && p[1] == 0);
        return Arrays.equals(k, s) && d[0] == 1 && d[1] == 1 && noPadding
                && layerConf().getCnn2dDataFormat() == CNN2DFormat.NCHW
                && (dataType == DataType.FLOAT || dataType == DataType.DOUBLE)
                && input != null && input.rank() == 4;
    }

    /** W_r of DL4J's {@code [nIn, nOut, kH, kW]} weights (or their gradient): the transposed {@code [nIn, nOut·k²]}. */
    static INDArray rows(INDArray w) {
        return w.reshape('c', w.size(0), w.size(1) * w.size(2) * w.size(3)).transpose();
    }

    static BlockTransposedConvolution.Layout layout(INDArray w, INDArray x) {
        long outC = w.size(1);
        long kh = w.size(2);
        long kw = w.size(3);
        long h = x.size(2);
        long wd = x.size(3);
        // block (o, u, v, y, x) → output (o, y, u, x, v)
        return new BlockTransposedConvolution.Layout(rows(w), new long[] {outC, kh, kw, h, wd},
                new long[] {outC, h, kh, wd, kw}, new int[] {0, 3, 1, 4, 2});
    }

    @Override
    protected Pair<INDArray, INDArray> preOutput(boolean training, boolean forBackprop, LayerWorkspaceMgr workspaceMgr) {
        if (!blockCase()) {
            return super.preOutput(training, forBackprop, workspaceMgr);
        }
        INDArray w = getParamWithNoise(DeconvolutionParamInitializer.WEIGHT_KEY, training, workspaceMgr);
        INDArray x = input.castTo(dataType);
        long n = x.size(0);
        long inC = w.size(0);
        long outC = w.size(1);
        int kh = (int) w.size(2);
        int kw = (int) w.size(3);
        if (x.size(1) != inC) {
            // DL4J's validation and message (channels, format hint, layer name)
            return super.preOutput(training, forBackprop, workspaceMgr);
        }
        INDArray out = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, dataType,
                new long[] {n, outC, x.size(2) * kh, x.size(3) * kw}, 'c');
        INDArray bias = layerConf().hasBias()
                ? getParamWithNoise(DeconvolutionParamInitializer.BIAS_KEY, training, workspaceMgr) : null;
        BlockTransposedConvolution.forward(x, layout(w, x), bias, out, workspaceMgr);
        return new Pair<>(out, null);
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        if (!blockCase()) {
            return super.backpropGradient(epsilon, workspaceMgr);
        }
        assertInputSet(true);
        INDArray w = getParamWithNoise(DeconvolutionParamInitializer.WEIGHT_KEY, true, workspaceMgr);
        INDArray x = input.castTo(dataType);
        INDArray eps = epsilon.castTo(dataType);
        INDArray delta = NativeConvolution2D.deltaThroughActivation(layerConf().getActivationFn(), eps,
                () -> preOutput(true, true, workspaceMgr).getFirst());
        INDArray gradInput = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, dataType, x.shape(), 'c');
        INDArray weightGrad = gradientViews.get(DeconvolutionParamInitializer.WEIGHT_KEY);
        INDArray biasGrad = layerConf().hasBias() ? gradientViews.get(DeconvolutionParamInitializer.BIAS_KEY) : null;
        Gradient gradient = BlockTransposedConvolution.backward(x, layout(w, x), delta, gradInput, weightGrad,
                rows(weightGrad), biasGrad, workspaceMgr);
        weightNoiseParams.clear();
        return new Pair<>(gradient, backpropDropOutIfPresent(gradInput));
    }
}
