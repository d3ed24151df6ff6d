package org.gradsurgery.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.conf.layers.Deconvolution3D;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link TransposedConvolution3D} against DL4J's {@code Deconvolution3D} with the same parameters: the GEMM path
 * (kernel = stride, NCDHW, also with unequal kernel sides) and the configurations handed back to DL4J (overlapping
 * kernels, NDHWC), with bias and activations; FLOAT against DOUBLE; JSON and equality.
 */
@ExtendWith(DoublePrecisionTinyArrays.class)
class TransposedConvolution3DTest {

    record Case(Convolution3D.DataFormat format, ConvolutionMode mode, int[] kernel, int[] stride, boolean bias,
                Activation activation) {
        @Override
        public String toString() {
            return format + " " + mode + " k" + java.util.Arrays.toString(kernel) + " s"
                    + java.util.Arrays.toString(stride) + (bias ? " bias " : " ") + activation;
        }

        Deconvolution3D.Builder configure(Deconvolution3D.Builder b) {
            b.kernelSize(kernel).stride(stride).convolutionMode(mode).dataFormat(format);
            b.nIn(3).nOut(2).hasBias(bias).activation(activation);
            return b;
        }
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (ConvolutionMode mode : new ConvolutionMode[] {ConvolutionMode.Same, ConvolutionMode.Truncate}) {
            Convolution3D.DataFormat f = Convolution3D.DataFormat.NCDHW;
            out.add(Arguments.of(new Case(f, mode, new int[] {2, 2, 2}, new int[] {2, 2, 2}, true, Activation.IDENTITY)));
            out.add(Arguments.of(new Case(f, mode, new int[] {1, 2, 3}, new int[] {1, 2, 3}, false, Activation.TANH)));
            out.add(Arguments.of(new Case(f, mode, new int[] {3, 3, 3}, new int[] {2, 2, 2}, true, Activation.IDENTITY)));
            out.add(Arguments.of(new Case(Convolution3D.DataFormat.NDHWC, mode, new int[] {2, 2, 2},
                    new int[] {2, 2, 2}, true, Activation.IDENTITY)));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesDl4jDeconvolution3D(Case c) {
        Layer ours = NativeConvolution2DTest.instantiate(c.configure(new TransposedConvolution3D.Builder()).build(), null);
        Layer theirs = NativeConvolution2DTest.instantiate(c.configure(new Deconvolution3D.Builder()).build(), ours.params());
        assertTrue(ours instanceof org.gradsurgery.layers.impl.TransposedConvolution3D);
        long[] shape = c.format() == Convolution3D.DataFormat.NCDHW ? new long[] {2, 3, 3, 4, 2}
                : new long[] {2, 3, 4, 2, 3};
        NativeConvolution2DTest.assertSameForwardAndBackward(ours, theirs, Nd4j.rand(DataType.DOUBLE, shape).subi(0.5));
    }

    @Test
    void floatNetworksAgreeToFloatPrecision() {
        NativeConvolution2DTest.assertFloatForwardMatchesDouble(new TransposedConvolution3D.Builder().kernelSize(2, 2, 2).stride(2, 2, 2).nIn(4).nOut(3)
                .convolutionMode(ConvolutionMode.Same).dataFormat(Convolution3D.DataFormat.NCDHW)
                .activation(Activation.IDENTITY).build(), 2, 4, 3, 3, 3);
    }

    @Test
    void jsonAndEqualityKeepTheClass() {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().graphBuilder()
                .addInputs("in")
                .addLayer("up", new TransposedConvolution3D.Builder().kernelSize(2, 2, 2).stride(2, 2, 2).nIn(2)
                        .nOut(5).convolutionMode(ConvolutionMode.Same).dataFormat(Convolution3D.DataFormat.NCDHW)
                        .hasBias(false).activation(Activation.TANH).build(), "in")
                .setOutputs("up").build();
        ComputationGraphConfiguration back = ComputationGraphConfiguration.fromJson(conf.toJson());
        assertEquals(conf, back);
        assertTrue(((LayerVertex) back.getVertices().get("up")).getLayerConf().getLayer()
                instanceof TransposedConvolution3D);
        ComputationGraph net = new ComputationGraph(back);
        net.init();
        assertTrue(net.getLayer("up") instanceof org.gradsurgery.layers.impl.TransposedConvolution3D);

        TransposedConvolution3D a = (TransposedConvolution3D) new TransposedConvolution3D.Builder()
                .kernelSize(2, 2, 2).stride(2, 2, 2).build();
        assertEquals(a, new TransposedConvolution3D.Builder().kernelSize(2, 2, 2).stride(2, 2, 2).build());
        assertNotEquals(a, new Deconvolution3D.Builder().kernelSize(2, 2, 2).stride(2, 2, 2).build());
        assertNotEquals(a, new TransposedConvolution3D.Builder().kernelSize(3, 3, 3).stride(2, 2, 2).build());
        assertEquals(a, a.clone());
    }
}
