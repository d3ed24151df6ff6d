package org.gradsurgery.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;

import org.deeplearning4j.exception.DL4JInvalidInputException;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.dropout.Dropout;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.params.ConvolutionParamInitializer;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link NativeConvolution2D} (libnd4j's conv2d ops) against DL4J's {@code ConvolutionLayer} (its Java im2col path) with
 * the same parameters: outputs, parameter gradients and input gradients, over formats, padding modes, strides,
 * dilations, even kernels, bias and activation; plus JSON, equality and input errors. Its gradients against finite
 * differences are checked in {@link LayerGradientCheckTest}, whose 2D graphs use it.
 */
@ExtendWith(DoublePrecisionTinyArrays.class)
class NativeConvolution2DTest {

    private static final LayerWorkspaceMgr NO_WS = LayerWorkspaceMgr.noWorkspaces();

    record Case(CNN2DFormat format, ConvolutionMode mode, int kernel, int stride, int dilation, boolean bias,
                Activation activation) {
        @Override
        public String toString() {
            return format + " " + mode + " k" + kernel + " s" + stride + " d" + dilation + (bias ? " bias " : " ")
                    + activation;
        }

        ConvolutionLayer.Builder configure(ConvolutionLayer.Builder b) {
            b.nIn(3).nOut(4).stride(stride, stride).dilation(dilation, dilation).convolutionMode(mode)
                    .dataFormat(format).hasBias(bias).activation(activation);
            if (mode != ConvolutionMode.Same) {
                b.padding(kernel / 2, kernel / 2);
            }
            return b;
        }
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (CNN2DFormat format : CNN2DFormat.values()) {
            for (ConvolutionMode mode : new ConvolutionMode[] {ConvolutionMode.Same, ConvolutionMode.Truncate}) {
                out.add(Arguments.of(new Case(format, mode, 3, 1, 1, true, Activation.IDENTITY)));
                out.add(Arguments.of(new Case(format, mode, 3, 2, 1, false, Activation.TANH)));
                out.add(Arguments.of(new Case(format, mode, 2, 2, 1, true, Activation.RELU)));
                out.add(Arguments.of(new Case(format, mode, 3, 1, 2, true, Activation.SIGMOID)));
            }
        }
        return out.stream();
    }

    static Layer instantiate(org.deeplearning4j.nn.conf.layers.Layer conf, INDArray params) {
        NeuralNetConfiguration nnc = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).layer(conf)
                .build();
        long n = nnc.getLayer().initializer().numParams(nnc);
        INDArray view = params == null ? Nd4j.create(DataType.DOUBLE, 1, n) : params.dup();
        Layer layer = nnc.getLayer().instantiate(nnc, Collections.emptyList(), 0, view, params == null,
                DataType.DOUBLE);
        layer.setBackpropGradientsViewArray(Nd4j.create(DataType.DOUBLE, 1, n));
        return layer;
    }

    private static long[] inputShape(CNN2DFormat format) {
        return format == CNN2DFormat.NCHW ? new long[] {2, 3, 7, 6} : new long[] {2, 7, 6, 3};
    }

    /**
     * Training-mode activations, dL/dx and every parameter gradient of two layers with the same parameters agree to
     * 1e-12 (DOUBLE); returns our layer's gradients.
     */
    static Gradient assertSameForwardAndBackward(Layer ours, Layer theirs, INDArray x) {
        INDArray yOurs = ours.activate(x, true, NO_WS);
        INDArray yTheirs = theirs.activate(x, true, NO_WS);
        assertArrayEquals(yTheirs.shape(), yOurs.shape());
        assertEquals(0, yOurs.sub(yTheirs).amaxNumber().doubleValue(), 1e-12, "activations");

        INDArray eps = Nd4j.rand(DataType.DOUBLE, yOurs.shape()).subi(0.5);
        Pair<Gradient, INDArray> gOurs = ours.backpropGradient(eps.dup(), NO_WS);
        Pair<Gradient, INDArray> gTheirs = theirs.backpropGradient(eps.dup(), NO_WS);
        assertEquals(0, gOurs.getSecond().sub(gTheirs.getSecond()).amaxNumber().doubleValue(), 1e-12, "dL/dx");
        assertEquals(gTheirs.getFirst().gradientForVariable().keySet(), gOurs.getFirst().gradientForVariable().keySet());
        for (String key : gTheirs.getFirst().gradientForVariable().keySet()) {
            INDArray a = gOurs.getFirst().getGradientFor(key);
            INDArray b = gTheirs.getFirst().getGradientFor(key);
            assertArrayEquals(b.shape(), a.shape(), key);
            assertEquals(0, a.sub(b).amaxNumber().doubleValue(), 1e-12, key);
        }
        return gOurs.getFirst();
    }

    /**
     * A FLOAT layer of {@code conf} (random initial parameters) and a DOUBLE one with the same parameters; asserts
     * that their inference outputs on one random input of {@code inputShape} agree to 1e-5. Returns {float, double}.
     */
    static Layer[] assertFloatForwardMatchesDouble(org.deeplearning4j.nn.conf.layers.Layer conf, long... inputShape) {
        NeuralNetConfiguration nnc = new NeuralNetConfiguration.Builder().dataType(DataType.FLOAT).layer(conf)
                .build();
        long n = nnc.getLayer().initializer().numParams(nnc);
        Layer f = nnc.getLayer().instantiate(nnc, Collections.emptyList(), 0, Nd4j.create(DataType.FLOAT, 1, n), true,
                DataType.FLOAT);
        f.setBackpropGradientsViewArray(Nd4j.create(DataType.FLOAT, 1, n));
        Layer d = instantiate(nnc.getLayer().clone(), f.params().castTo(DataType.DOUBLE));
        INDArray x = Nd4j.rand(DataType.DOUBLE, inputShape);
        INDArray yf = f.activate(x.castTo(DataType.FLOAT), false, NO_WS);
        assertEquals(DataType.FLOAT, yf.dataType());
        assertEquals(0, yf.castTo(DataType.DOUBLE).sub(d.activate(x, false, NO_WS)).amaxNumber().doubleValue(), 1e-5);
        return new Layer[] {f, d};
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesDl4jConvolutionLayer(Case c) {
        Layer ours = instantiate(c.configure(new NativeConvolution2D.Builder(c.kernel(), c.kernel())).build(), null);
        Layer theirs = instantiate(c.configure(new ConvolutionLayer.Builder(c.kernel(), c.kernel())).build(),
                ours.params());
        assertTrue(ours instanceof org.gradsurgery.layers.impl.NativeConvolution2D);

        INDArray x = Nd4j.rand(DataType.DOUBLE, inputShape(c.format())).subi(0.5);
        Gradient g = assertSameForwardAndBackward(ours, theirs, x);
        if (!c.bias()) {
            assertNull(g.getGradientFor(ConvolutionParamInitializer.BIAS_KEY));
        }
    }

    /**
     * Without the input gradient, the parameter gradients are still DL4J's (1e-12, DOUBLE: the weight gradient as one
     * convolution where it applies, conv2d_bp into scratch otherwise) and backprop returns no input gradient.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void withoutInputGradientTheParameterGradientsAreDl4js(Case c) {
        for (int channels : new int[] {1, 3}) {
            Layer ours = instantiate(c.configure(new NativeConvolution2D.Builder(c.kernel(), c.kernel())
                    .inputGradient(false)).nIn(channels).build(), null);
            Layer theirs = instantiate(c.configure(new ConvolutionLayer.Builder(c.kernel(), c.kernel()))
                    .nIn(channels).build(), ours.params());
            long[] shape = inputShape(c.format());
            shape[c.format() == CNN2DFormat.NCHW ? 1 : 3] = channels;
            assertParameterGradientsWithoutInputGradient(ours, theirs, Nd4j.rand(DataType.DOUBLE, shape).subi(0.5),
                    channels + " channels");
        }
    }

    /**
     * One training forward and backward pass of both layers on {@code x}: {@code ours} (configured without the input
     * gradient) returns none, and the same parameter gradients as {@code theirs} (same keys and shapes, 1e-12).
     */
    static void assertParameterGradientsWithoutInputGradient(Layer ours, Layer theirs, INDArray x, String what) {
        INDArray y = ours.activate(x, true, NO_WS);
        theirs.activate(x, true, NO_WS);
        INDArray eps = Nd4j.rand(DataType.DOUBLE, y.shape()).subi(0.5);
        Pair<Gradient, INDArray> gOurs = ours.backpropGradient(eps.dup(), NO_WS);
        Pair<Gradient, INDArray> gTheirs = theirs.backpropGradient(eps.dup(), NO_WS);
        assertNull(gOurs.getSecond(), "no input gradient");
        assertEquals(gTheirs.getFirst().gradientForVariable().keySet(), gOurs.getFirst().gradientForVariable().keySet());
        for (String key : gTheirs.getFirst().gradientForVariable().keySet()) {
            INDArray a = gOurs.getFirst().getGradientFor(key);
            INDArray b = gTheirs.getFirst().getGradientFor(key);
            assertArrayEquals(b.shape(), a.shape(), key);
            assertEquals(0, a.sub(b).amaxNumber().doubleValue(), 1e-12, what + ", " + key);
        }
    }

    /**
     * The same in FLOAT, where oneDNN runs the weight gradient as a forward convolution with a kernel the size of
     * the image (summation order differs from conv2d_bp's, hence float tolerance): against the DOUBLE layer, for one
     * input channel (the U-Net's first layer, a reshape) and three (a strided view), with a U-Net-sized image.
     */
    @Test
    void withoutInputGradientFloatMatchesDouble() {
        for (int channels : new int[] {1, 3}) {
            org.deeplearning4j.nn.conf.layers.Layer conf = new NativeConvolution2D.Builder(3, 3).inputGradient(false)
                    .nIn(channels).nOut(16).convolutionMode(ConvolutionMode.Same).activation(Activation.IDENTITY)
                    .build();
            Layer[] twins = assertFloatForwardMatchesDouble(conf, 2, channels, 32, 24);
            INDArray xd = Nd4j.rand(DataType.DOUBLE, 2, channels, 32, 24);
            twins[0].activate(xd.castTo(DataType.FLOAT), true, NO_WS);
            INDArray yd = twins[1].activate(xd, true, NO_WS);
            INDArray eps = Nd4j.rand(DataType.DOUBLE, yd.shape()).subi(0.5);
            Pair<Gradient, INDArray> gf = twins[0].backpropGradient(eps.castTo(DataType.FLOAT), NO_WS);
            Pair<Gradient, INDArray> gd = twins[1].backpropGradient(eps, NO_WS);
            assertNull(gf.getSecond());
            for (String key : new String[] {ConvolutionParamInitializer.WEIGHT_KEY, ConvolutionParamInitializer.BIAS_KEY}) {
                INDArray a = gf.getFirst().getGradientFor(key).castTo(DataType.DOUBLE);
                INDArray b = gd.getFirst().getGradientFor(key);
                assertEquals(0, a.sub(b).amaxNumber().doubleValue(), 1e-5 * Math.max(1, b.amaxNumber().doubleValue()),
                        channels + " channels, " + key);
            }
        }
    }

    /**
     * FLOAT, which on the CPU backend runs oneDNN directly (layers.impl.DnnlConvolution), against the DOUBLE layer
     * (libnd4j's loops, equal to DL4J's above and gradient-checked in {@link LayerGradientCheckTest}): training
     * activations to 1e-5 and backprop by {@link FloatAgainstDouble}, in every case, with and without the input
     * gradient, on an image large enough for oneDNN's blocked kernels (16 channels in, 32 out).
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void floatMatchesDouble(Case c) {
        for (boolean inputGradient : new boolean[] {true, false}) {
            org.deeplearning4j.nn.conf.layers.Layer conf = c.configure(new NativeConvolution2D.Builder(c.kernel(),
                    c.kernel()).inputGradient(inputGradient)).nIn(16).nOut(32).build();
            long[] shape = c.format() == CNN2DFormat.NCHW ? new long[] {3, 16, 13, 11} : new long[] {3, 13, 11, 16};
            Layer[] twins = assertFloatForwardMatchesDouble(conf, shape);
            INDArray x = Nd4j.rand(DataType.DOUBLE, shape).subi(0.5);
            INDArray yf = twins[0].activate(x.castTo(DataType.FLOAT), true, NO_WS);
            INDArray yd = twins[1].activate(x, true, NO_WS);
            assertEquals(0, yf.castTo(DataType.DOUBLE).sub(yd).amaxNumber().doubleValue(), 1e-5, "activations");
            INDArray eps = Nd4j.rand(DataType.DOUBLE, yd.shape()).subi(0.5);
            if (inputGradient) {
                FloatAgainstDouble.assertBackpropAgrees(twins[0], twins[1], eps);
            } else {
                Pair<Gradient, INDArray> gf = twins[0].backpropGradient(eps.castTo(DataType.FLOAT), NO_WS);
                Pair<Gradient, INDArray> gd = twins[1].backpropGradient(eps, NO_WS);
                assertNull(gf.getSecond());
                for (String key : gd.getFirst().gradientForVariable().keySet()) {
                    INDArray b = gd.getFirst().getGradientFor(key);
                    assertEquals(0, gf.getFirst().getGradientFor(key).castTo(DataType.DOUBLE).sub(b).amaxNumber()
                            .doubleValue(), 1e-5 * Math.max(1, b.amaxNumber().doubleValue()), key);
                }
            }
        }
    }

    @Test
    void dropoutAndFloatPrecisionFollowDl4j() {
        // Training-mode dropout is DL4J's (applied to the input in activate, undone in backprop).
        org.deeplearning4j.nn.conf.layers.Layer conf = new NativeConvolution2D.Builder(3, 3).nIn(3).nOut(2)
                .convolutionMode(ConvolutionMode.Same).activation(Activation.IDENTITY).build();
        conf.setIDropout(new Dropout(0.5));
        Layer layer = instantiate(conf, null);
        INDArray x = Nd4j.ones(DataType.DOUBLE, 2, 3, 5, 5);
        INDArray inference = layer.activate(x, false, NO_WS);
        INDArray training = layer.activate(x, true, NO_WS);
        assertNotEquals(0, inference.sub(training).amaxNumber().doubleValue(), 1e-9);

        // FLOAT networks (oneDNN's type) give the DOUBLE result to float precision.
        Layer[] twins = assertFloatForwardMatchesDouble(new NativeConvolution2D.Builder(3, 3).nIn(3).nOut(4)
                .convolutionMode(ConvolutionMode.Same).activation(Activation.IDENTITY).build(), 2, 3, 8, 8);
        Layer f = twins[0];
        Layer d = twins[1];
        // both layers see one input again, as backprop uses the last one
        INDArray xd = Nd4j.rand(DataType.DOUBLE, 2, 3, 8, 8);
        f.activate(xd.castTo(DataType.FLOAT), false, NO_WS);
        INDArray yd = d.activate(xd, false, NO_WS);
        // FLOAT is the type the oneDNN kernels take (DOUBLE runs libnd4j's own loops): check their backprop too.
        INDArray eps = Nd4j.rand(DataType.DOUBLE, yd.shape()).subi(0.5);
        FloatAgainstDouble.assertBackpropAgrees(f, d, eps);
    }

    @Test
    void jsonKeepsTheClassAndEveryField() {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().graphBuilder()
                .addInputs("in")
                .addLayer("conv", new NativeConvolution2D.Builder(3, 3).inputGradient(false).nIn(2).nOut(5)
                        .stride(2, 2).dilation(1, 1)
                        .convolutionMode(ConvolutionMode.Same).dataFormat(CNN2DFormat.NHWC).hasBias(false)
                        .activation(Activation.TANH).build(), "in")
                .setOutputs("conv").build();
        ComputationGraphConfiguration back = ComputationGraphConfiguration.fromJson(conf.toJson());
        assertEquals(conf, back);
        org.deeplearning4j.nn.conf.layers.Layer layer =
                ((org.deeplearning4j.nn.conf.graph.LayerVertex) back.getVertices().get("conv")).getLayerConf().getLayer();
        assertTrue(layer instanceof NativeConvolution2D);
        NativeConvolution2D c = (NativeConvolution2D) layer;
        assertEquals(CNN2DFormat.NHWC, c.getCnn2dDataFormat());
        assertArrayEquals(new int[] {2, 2}, c.getStride());
        assertEquals(false, c.hasBias());
        assertEquals(false, c.isInputGradient());

        ComputationGraph net = new ComputationGraph(back);
        net.init();
        assertTrue(net.getLayer("conv") instanceof org.gradsurgery.layers.impl.NativeConvolution2D);
    }

    @Test
    void equalityTakesTheClassIntoAccount() {
        // DL4J's builder methods return its own Builder type, so the chain's static type is ConvolutionLayer.
        NativeConvolution2D ours = (NativeConvolution2D) new NativeConvolution2D.Builder(3, 3).nIn(2).nOut(4).build();
        ConvolutionLayer theirs = new ConvolutionLayer.Builder(3, 3).nIn(2).nOut(4).build();
        assertEquals(ours, new NativeConvolution2D.Builder(3, 3).nIn(2).nOut(4).build());
        assertEquals(ours.hashCode(), new NativeConvolution2D.Builder(3, 3).nIn(2).nOut(4).build().hashCode());
        assertNotEquals(ours, theirs);
        // (DL4J's Lombok equals is instanceof-based, so theirs.equals(ours) is true: that side is DL4J's.)
        assertNotEquals(ours, new NativeConvolution2D.Builder(3, 3).nIn(2).nOut(5).build());
        assertNotEquals(ours, new NativeConvolution2D.Builder(3, 3).inputGradient(false).nIn(2).nOut(4).build());
        assertEquals(ours, ours.clone());
    }

    @Test
    void wrongInputNamesTheLayerAndTheShape() {
        Layer layer = instantiate(new NativeConvolution2D.Builder(3, 3).nIn(3).nOut(2)
                .convolutionMode(ConvolutionMode.Same).build(), null);
        DL4JInvalidInputException channels = assertThrows(DL4JInvalidInputException.class,
                () -> layer.activate(Nd4j.rand(DataType.DOUBLE, 1, 2, 5, 5), false, NO_WS));
        assertTrue(channels.getMessage().contains("channels"), channels.getMessage());
        DL4JInvalidInputException rank = assertThrows(DL4JInvalidInputException.class,
                () -> layer.activate(Nd4j.rand(DataType.DOUBLE, 3, 5, 5), false, NO_WS));
        assertTrue(rank.getMessage().contains("rank 3"), rank.getMessage());
    }
}
