package org.gradsurgery.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.Deconvolution2D;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link TransposedConvolution2D} against DL4J's {@code Deconvolution2D} with the same parameters: the GEMM path
 * (kernel = stride, NCHW) and the configurations it hands back to DL4J (overlapping kernels, padding, NHWC), with
 * bias and activations; JSON and equality. Its gradient against finite differences is checked in
 * {@code UNetTest}'s gradient check of a whole U-Net, whose up-sampling layers are this class.
 */
@ExtendWith(DoublePrecisionTinyArrays.class)
class TransposedConvolution2DTest {

    record Case(CNN2DFormat format, ConvolutionMode mode, int kernel, int stride, boolean bias, Activation activation) {
        @Override
        public String toString() {
            return format + " " + mode + " k" + kernel + " s" + stride + (bias ? " bias " : " ") + activation;
        }

        Deconvolution2D.Builder configure(Deconvolution2D.Builder b) {
            b.kernelSize(kernel, kernel).stride(stride, stride).convolutionMode(mode).dataFormat(format);
            b.nIn(3).nOut(4).hasBias(bias).activation(activation);
            return b;
        }
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (CNN2DFormat format : CNN2DFormat.values()) {
            for (ConvolutionMode mode : new ConvolutionMode[] {ConvolutionMode.Same, ConvolutionMode.Truncate}) {
                out.add(Arguments.of(new Case(format, mode, 2, 2, true, Activation.IDENTITY)));
                out.add(Arguments.of(new Case(format, mode, 3, 3, false, Activation.TANH)));
                out.add(Arguments.of(new Case(format, mode, 3, 2, true, Activation.IDENTITY)));
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesDl4jDeconvolution2D(Case c) {
        Layer ours = NativeConvolution2DTest.instantiate(c.configure(new TransposedConvolution2D.Builder()).build(), null);
        Layer theirs = NativeConvolution2DTest.instantiate(c.configure(new Deconvolution2D.Builder()).build(), ours.params());
        assertTrue(ours instanceof org.gradsurgery.layers.impl.TransposedConvolution2D);

        long[] shape = c.format() == CNN2DFormat.NCHW ? new long[] {3, 3, 5, 4} : new long[] {3, 5, 4, 3};
        INDArray x = Nd4j.rand(DataType.DOUBLE, shape).subi(0.5);
        NativeConvolution2DTest.assertSameForwardAndBackward(ours, theirs, x);
    }

    @Test
    void floatNetworksAgreeToFloatPrecision() {
        NativeConvolution2DTest.assertFloatForwardMatchesDouble(new TransposedConvolution2D.Builder().kernelSize(2, 2).stride(2, 2).nIn(8).nOut(4)
                .convolutionMode(ConvolutionMode.Same).activation(Activation.IDENTITY).build(), 2, 8, 6, 6);
    }

    @Test
    void jsonAndEqualityKeepTheClass() {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().graphBuilder()
                .addInputs("in")
                .addLayer("up", new TransposedConvolution2D.Builder().kernelSize(2, 2).stride(2, 2).nIn(2).nOut(5)
                        .convolutionMode(ConvolutionMode.Same).hasBias(false).activation(Activation.TANH).build(), "in")
                .setOutputs("up").build();
        ComputationGraphConfiguration back = ComputationGraphConfiguration.fromJson(conf.toJson());
        assertEquals(conf, back);
        assertTrue(((LayerVertex) back.getVertices().get("up")).getLayerConf().getLayer()
                instanceof TransposedConvolution2D);
        ComputationGraph net = new ComputationGraph(back);
        net.init();
        assertTrue(net.getLayer("up") instanceof org.gradsurgery.layers.impl.TransposedConvolution2D);

        TransposedConvolution2D a = (TransposedConvolution2D) new TransposedConvolution2D.Builder().kernelSize(2, 2)
                .stride(2, 2).build();
        assertEquals(a, new TransposedConvolution2D.Builder().kernelSize(2, 2).stride(2, 2).build());
        assertNotEquals(a, new Deconvolution2D.Builder().kernelSize(2, 2).stride(2, 2).build());
        assertNotEquals(a, new TransposedConvolution2D.Builder().kernelSize(3, 3).stride(2, 2).build());
        assertEquals(a, a.clone());
    }
}
