package org.gradsurgery.layers.impl;

import java.util.Arrays;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.convolution.Deconvolution3DLayer;
import org.deeplearning4j.nn.params.DeconvolutionParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Runtime part of {@link org.gradsurgery.layers.TransposedConvolution3D}: {@link BlockTransposedConvolution} for
 * kernel = stride in {@code NCDHW}, DL4J's {@link Deconvolution3DLayer} for everything else.
 */
public class TransposedConvolution3D extends Deconvolution3DLayer {

    public TransposedConvolution3D(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    /** Kernel = stride, no padding, no dilation, NCDHW, FLOAT/DOUBLE, with the configured channel count. */
    private boolean blockCase() {
        int[] k = layerConf().getKernelSize();
        int[] d = layerConf().getDilation();
        int[] p = layerConf().getPadding();
        boolean noPadding = layerConf().getConvolutionMode() == ConvolutionMode.Same
                || (p[0] == 0 && p[1] == 0 && p[2] == 0);
        return Arrays.equals(k, layerConf().getStride()) && d[0] == 1 && d[1] == 1 && d[2] == 1 && noPadding
                && layerConf().getDataFormat() == Convolution3D.DataFormat.NCDHW
                && (dataType == DataType.FLOAT || dataType == DataType.DOUBLE)
                && input != null && input.rank() == 5 && input.size(1) == layerConf().getNIn();
    }

    /** W_r of DL4J's {@code [kD, kH, kW, nOut, nIn]} weights (or their gradient): the {@code [k³·nOut, nIn]} matrix. */
    static INDArray rows(INDArray w) {
        return w.reshape('c', w.length() / w.size(4), w.size(4));
    }

    static BlockTransposedConvolution.Layout layout(INDArray w, INDArray x) {
        long kd = w.size(0);
        long kh = w.size(1);
        long kw = w.size(2);
        long outC = w.size(3);
        long d = x.size(2);
        long h = x.size(3);
        long wd = x.size(4);
        // block (a, u, v, o, z, y, x) → output (o, z, a, y, u, x, v)
        return new BlockTransposedConvolution.Layout(rows(w), new long[] {kd, kh, kw, outC, d, h, wd},
                new long[] {outC, d, kd, h, kh, wd, kw}, new int[] {3, 4, 0, 5, 1, 6, 2});
    }

    @Override
    protected INDArray preOutput(boolean training, LayerWorkspaceMgr workspaceMgr) {
        if (!blockCase()) {
            return super.preOutput(training, workspaceMgr);
        }
        INDArray w = getParamWithNoise(DeconvolutionParamInitializer.WEIGHT_KEY, training, workspaceMgr);
        INDArray x = input.castTo(dataType);
        INDArray out = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, dataType, new long[] {x.size(0),
                w.size(3), x.size(2) * w.size(0), x.size(3) * w.size(1), x.size(4) * w.size(2)}, 'c');
        INDArray bias = layerConf().hasBias()
                ? getParamWithNoise(DeconvolutionParamInitializer.BIAS_KEY, training, workspaceMgr) : null;
        BlockTransposedConvolution.forward(x, layout(w, x), bias, out, workspaceMgr);
        return out;
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        if (!blockCase()) {
            return super.backpropGradient(epsilon, workspaceMgr);
        }
        assertInputSet(true);
        INDArray w = getParamWithNoise(DeconvolutionParamInitializer.WEIGHT_KEY, true, workspaceMgr);
        INDArray x = input.castTo(dataType);
        INDArray delta = NativeConvolution2D.deltaThroughActivation(layerConf().getActivationFn(), epsilon.castTo(dataType),
                () -> preOutput(true, workspaceMgr));
        INDArray gradInput = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, dataType, x.shape(), 'c');
        INDArray weightGrad = gradientViews.get(DeconvolutionParamInitializer.WEIGHT_KEY);
        INDArray biasGrad = layerConf().hasBias() ? gradientViews.get(DeconvolutionParamInitializer.BIAS_KEY) : null;
        Gradient gradient = BlockTransposedConvolution.backward(x, layout(w, x), delta, gradInput, weightGrad,
                rows(weightGrad), biasGrad, workspaceMgr);
        weightNoiseParams.clear();
        return new Pair<>(gradient, backpropDropOutIfPresent(gradInput));
    }
}
