package org.gradsurgery.layers.impl;

import java.util.Arrays;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.DefaultGradient;
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

    /** The weights as the {@code [nIn, nOut·kH·kW]} matrix they are in memory. */
    private static INDArray asMatrix(INDArray w) {
        return w.reshape('c', w.size(0), w.size(1) * w.size(2) * w.size(3));
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
        long h = x.size(2);
        long wd = x.size(3);
        INDArray out = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, dataType,
                new long[] {n, outC, h * kh, wd * kw}, 'c');
        INDArray wT = asMatrix(w).transpose();
        try (var scope = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            INDArray block = Nd4j.createUninitialized(dataType, outC * kh * kw, h * wd);
            for (long e = 0; e < n; e++) {
                // [nOut·k², H·W] = Wᵀ · x_e, then (o, u, v, y, x) → (o, y, u, x, v)
                wT.mmuli(x.slice(e).reshape('c', inC, h * wd), block);
                out.slice(e).reshape('c', outC, h, kh, wd, kw)
                        .assign(block.reshape('c', outC, kh, kw, h, wd).permute(0, 3, 1, 4, 2));
            }
        }
        if (layerConf().hasBias()) {
            INDArray b = getParamWithNoise(DeconvolutionParamInitializer.BIAS_KEY, training, workspaceMgr);
            out.addi(b.reshape(1, outC, 1, 1));
        }
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
        INDArray delta = Convolution2D.deltaThroughActivation(layerConf().getActivationFn(), eps,
                () -> preOutput(true, true, workspaceMgr).getFirst());

        long n = x.size(0);
        long inC = w.size(0);
        long outC = w.size(1);
        int kh = (int) w.size(2);
        int kw = (int) w.size(3);
        long h = x.size(2);
        long wd = x.size(3);
        INDArray gradInput = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, dataType, x.shape(), 'c');
        INDArray weightGrad = gradientViews.get(DeconvolutionParamInitializer.WEIGHT_KEY);
        INDArray dW = asMatrix(weightGrad);
        INDArray wm = asMatrix(w);
        try (var scope = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            INDArray block = Nd4j.createUninitialized(dataType, outC, kh, kw, h, wd);
            INDArray dWe = n > 1 ? Nd4j.createUninitialized(dataType, dW.shape()) : null;
            for (long e = 0; e < n; e++) {
                // δ'_e: (o, y, u, x, v) → (o, u, v, y, x) as [nOut·k², H·W]
                block.assign(delta.slice(e).reshape('c', outC, h, kh, wd, kw).permute(0, 2, 4, 1, 3));
                INDArray d2 = block.reshape('c', outC * kh * kw, h * wd);
                INDArray xe = x.slice(e).reshape('c', inC, h * wd);
                wm.mmuli(d2, gradInput.slice(e).reshape('c', inC, h * wd));
                if (e == 0) {
                    xe.mmuli(d2.transpose(), dW);
                } else {
                    dW.addi(xe.mmuli(d2.transpose(), dWe));
                }
            }
        }
        Gradient gradient = new DefaultGradient();
        if (layerConf().hasBias()) {
            INDArray biasGrad = gradientViews.get(DeconvolutionParamInitializer.BIAS_KEY);
            biasGrad.assign(delta.sum(0, 2, 3).reshape(biasGrad.shape()));
            gradient.setGradientFor(DeconvolutionParamInitializer.BIAS_KEY, biasGrad);
        }
        gradient.setGradientFor(DeconvolutionParamInitializer.WEIGHT_KEY, weightGrad, 'c');
        weightNoiseParams.clear();
        return new Pair<>(gradient, backpropDropOutIfPresent(gradInput));
    }
}
