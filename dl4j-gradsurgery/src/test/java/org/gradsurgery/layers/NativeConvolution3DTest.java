package org.gradsurgery.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import org.deeplearning4j.exception.DL4JInvalidInputException;
import org.deeplearning4j.gradientcheck.GradientCheckUtil;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.params.Convolution3DParamInitializer;
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
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;

/**
 * {@link NativeConvolution3D} against DL4J's {@code Convolution3D} with the same parameters: outputs, parameter
 * gradients and input gradients, over formats, padding modes, strides, bias and activations, each as whole examples
 * and (where the configuration allows) split into depth slabs of one or two planes; FLOAT against DOUBLE on slabs;
 * a finite-difference gradient check of a small graph with slabs; JSON, equality and input errors.
 */
@ExtendWith(DoublePrecisionTinyArrays.class)
class NativeConvolution3DTest {

    private static final LayerWorkspaceMgr NO_WS = LayerWorkspaceMgr.noWorkspaces();

    record Case(Convolution3D.DataFormat format, ConvolutionMode mode, int[] kernel, int stride, boolean bias,
                Activation activation, long budget) {
        @Override
        public String toString() {
            return format + " " + mode + " k" + java.util.Arrays.toString(kernel) + " s" + stride
                    + (bias ? " bias " : " ") + activation + (budget == 0 ? " whole" : " budget " + budget);
        }

        Convolution3D.Builder configure(Convolution3D.Builder b) {
            b.kernelSize(kernel).stride(stride, stride, stride).convolutionMode(mode).dataFormat(format);
            b.nIn(3).nOut(4).hasBias(bias).activation(activation);
            if (mode != ConvolutionMode.Same) {
                b.padding(kernel[0] / 2, kernel[1] / 2, kernel[2] / 2);
            }
            return b;
        }
    }

    // one plane of the 2x3x6x4x3 input with 3 in and 4 out channels: 4 B · 12 · 2 · 16 · 2 = 3,072 B (FLOAT) or
    // 6,144 B (DOUBLE); with a 3-plane kernel the halo is 2 planes, so 6,144 · 3 gives 1-plane slabs and
    // 6,144 · 4 two-plane slabs.
    private static final long ONE_PLANE = 6144L * 3;
    private static final long TWO_PLANES = 6144L * 4;

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        Convolution3D.DataFormat cf = Convolution3D.DataFormat.NCDHW;
        for (long budget : new long[] {0, ONE_PLANE, TWO_PLANES}) {
            out.add(Arguments.of(new Case(cf, ConvolutionMode.Same, new int[] {3, 3, 3}, 1, true, Activation.IDENTITY, budget)));
            out.add(Arguments.of(new Case(cf, ConvolutionMode.Same, new int[] {3, 3, 3}, 1, false, Activation.RELU, budget)));
            out.add(Arguments.of(new Case(cf, ConvolutionMode.Same, new int[] {1, 1, 1}, 1, true, Activation.IDENTITY, budget)));
            out.add(Arguments.of(new Case(cf, ConvolutionMode.Same, new int[] {5, 3, 1}, 1, true, Activation.TANH, budget)));
        }
        // configurations that run per example only
        out.add(Arguments.of(new Case(cf, ConvolutionMode.Same, new int[] {3, 3, 3}, 2, true, Activation.IDENTITY, 1)));
        out.add(Arguments.of(new Case(cf, ConvolutionMode.Truncate, new int[] {3, 3, 3}, 1, true, Activation.SIGMOID, 1)));
        out.add(Arguments.of(new Case(Convolution3D.DataFormat.NDHWC, ConvolutionMode.Same, new int[] {3, 3, 3}, 1,
                true, Activation.IDENTITY, 1)));
        return out.stream();
    }

    private static long[] inputShape(Convolution3D.DataFormat format) {
        return format == Convolution3D.DataFormat.NCDHW ? new long[] {2, 3, 6, 4, 3} : new long[] {2, 6, 4, 3, 3};
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesDl4jConvolution3D(Case c) {
        Layer ours = NativeConvolution2DTest.instantiate(c.configure(new NativeConvolution3D.Builder()).build(), null);
        Layer theirs = NativeConvolution2DTest.instantiate(c.configure(new Convolution3D.Builder()).build(),
                ours.params());
        assertTrue(ours instanceof org.gradsurgery.layers.impl.NativeConvolution3D);
        org.gradsurgery.layers.impl.NativeConvolution3D impl = (org.gradsurgery.layers.impl.NativeConvolution3D) ours;
        INDArray x = Nd4j.rand(DataType.DOUBLE, inputShape(c.format())).subi(0.5);
        if (c.budget() > 0) {
            impl.setScratchBudget(c.budget());
        }
        int planes = impl.planesPerSlab(x, 3, 4);
        boolean slabbable = c.format() == Convolution3D.DataFormat.NCDHW && c.mode() == ConvolutionMode.Same
                && c.stride() == 1;
        // the slab cases really run in slabs: 1 plane (or 2) for the 3- and 5-plane kernels; the 1x1x1 kernel takes
        // the GEMM path, which needs no slabs
        boolean pointwise = c.kernel()[0] == 1 && c.kernel()[1] == 1 && c.kernel()[2] == 1;
        if (c.budget() > 0 && slabbable && !pointwise) {
            assertTrue(planes < 6, "planes per slab " + planes);
        } else {
            assertEquals(6, planes);
        }
        Gradient g = NativeConvolution2DTest.assertSameForwardAndBackward(ours, theirs, x);
        assertEquals(c.bias(), g.getGradientFor(Convolution3DParamInitializer.BIAS_KEY) != null);
    }

    @Test
    void slabsInFloatMatchWholeVolumesInDouble() {
        Layer[] twins = NativeConvolution2DTest.assertFloatForwardMatchesDouble(new NativeConvolution3D.Builder(3, 3, 3)
                .nIn(3).nOut(5).convolutionMode(ConvolutionMode.Same).activation(Activation.IDENTITY).build(),
                2, 3, 7, 6, 5);
        Layer f = twins[0];
        Layer d = twins[1];
        // FLOAT (oneDNN's kernels) in slabs of 2 planes against DOUBLE (libnd4j's loops) on whole examples
        ((org.gradsurgery.layers.impl.NativeConvolution3D) f).setScratchBudget(4L * 30 * 2 * 16 * 2 * 4);
        INDArray xd = Nd4j.rand(DataType.DOUBLE, 2, 3, 7, 6, 5).subi(0.5);
        assertEquals(2, ((org.gradsurgery.layers.impl.NativeConvolution3D) f).planesPerSlab(xd.castTo(DataType.FLOAT), 3, 5));
        INDArray yf = f.activate(xd.castTo(DataType.FLOAT), true, NO_WS);
        INDArray yd = d.activate(xd, true, NO_WS);
        assertEquals(0, yf.castTo(DataType.DOUBLE).sub(yd).amaxNumber().doubleValue(), 1e-5);
        INDArray eps = Nd4j.rand(DataType.DOUBLE, yd.shape()).subi(0.5);
        FloatAgainstDouble.assertBackpropAgrees(f, d, eps);
    }

    /**
     * The single-input-channel backward path (flipped-kernel convolution for ∂L/∂x, im2col GEMMs for ∂L/∂W) against
     * DL4J's Convolution3D, with odd cubic and non-cubic kernels, with and without bias, through an activation, on
     * whole volumes and on im2col slabs of 1 and 2 planes (the budget counts the column matrix kD·kH·kW × H·W per
     * plane: 8 B · 27 · 4 · 3 for a 3x3x3 kernel in DOUBLE).
     */
    @ParameterizedTest(name = "k{0} bias {1} {2} budget {3}")
    @MethodSource("singleChannelCases")
    void singleChannelPathMatchesDl4j(int[] kernel, boolean bias, Activation activation, long budget) {
        java.util.function.Function<Convolution3D.Builder, Convolution3D.Builder> configure = b -> {
            b.kernelSize(kernel).convolutionMode(ConvolutionMode.Same).nIn(1).nOut(4).hasBias(bias)
                    .activation(activation);
            return b;
        };
        Layer ours = NativeConvolution2DTest.instantiate(configure.apply(new NativeConvolution3D.Builder()).build(), null);
        Layer theirs = NativeConvolution2DTest.instantiate(configure.apply(new Convolution3D.Builder()).build(),
                ours.params());
        org.gradsurgery.layers.impl.NativeConvolution3D impl = (org.gradsurgery.layers.impl.NativeConvolution3D) ours;
        if (budget > 0) {
            impl.setScratchBudget(budget);
        }
        int taps = kernel[0] * kernel[1] * kernel[2];
        int planes = impl.columnPlanes(6, 4, 3, taps, 8);
        assertEquals(budget == 0 ? 6 : budget / (8L * taps * 12), planes);
        NativeConvolution2DTest.assertSameForwardAndBackward(ours, theirs,
                Nd4j.rand(DataType.DOUBLE, 2, 1, 6, 4, 3).subi(0.5));
    }

    static Stream<Arguments> singleChannelCases() {
        List<Arguments> out = new ArrayList<>();
        long plane = 8L * 27 * 12;
        for (long budget : new long[] {0, plane, 2 * plane}) {
            out.add(Arguments.of(new int[] {3, 3, 3}, true, Activation.IDENTITY, budget));
            out.add(Arguments.of(new int[] {3, 3, 3}, false, Activation.TANH, budget));
        }
        out.add(Arguments.of(new int[] {5, 3, 1}, true, Activation.IDENTITY, 0L));
        out.add(Arguments.of(new int[] {1, 3, 5}, true, Activation.RELU, 8L * 15 * 12));
        return out.stream();
    }

    /** The im2col columns stay within 16 MiB whatever the volume: 16 planes at 96³ (27 taps, FLOAT), all 44 at 44x60x48. */
    @Test
    void columnMatrixStaysWithinItsBudget() {
        org.gradsurgery.layers.impl.NativeConvolution3D impl = (org.gradsurgery.layers.impl.NativeConvolution3D)
                NativeConvolution2DTest.instantiate(new NativeConvolution3D.Builder(3, 3, 3).nIn(1).nOut(8)
                        .convolutionMode(ConvolutionMode.Same).build(), null);
        int planes = impl.columnPlanes(96, 96, 96, 27, 4);
        assertEquals(16, planes);
        assertTrue(27L * planes * 96 * 96 * 4 <= org.gradsurgery.layers.impl.NativeConvolution3D.COLUMN_BUDGET);
        assertEquals(44, impl.columnPlanes(44, 60, 48, 27, 4));
    }

    @Test
    void singleChannelPathInFloatMatchesDouble() {
        Layer[] twins = NativeConvolution2DTest.assertFloatForwardMatchesDouble(new NativeConvolution3D.Builder(3, 3, 3)
                .nIn(1).nOut(8).convolutionMode(ConvolutionMode.Same).activation(Activation.IDENTITY).build(),
                2, 1, 7, 6, 5);
        ((org.gradsurgery.layers.impl.NativeConvolution3D) twins[0]).setScratchBudget(4L * 27 * 30 * 3);
        INDArray xd = Nd4j.rand(DataType.DOUBLE, 2, 1, 7, 6, 5).subi(0.5);
        twins[0].activate(xd.castTo(DataType.FLOAT), true, NO_WS);
        twins[1].activate(xd, true, NO_WS);
        FloatAgainstDouble.assertBackpropAgrees(twins[0], twins[1], Nd4j.rand(DataType.DOUBLE, 2, 8, 7, 6, 5).subi(0.5));
    }

    /** The point-wise (1x1x1) GEMM path in FLOAT against DOUBLE, with a batch of 3 (β accumulation over examples). */
    @Test
    void pointwiseGemmPathInFloatMatchesDouble() {
        Layer[] twins = NativeConvolution2DTest.assertFloatForwardMatchesDouble(new NativeConvolution3D.Builder(1, 1, 1)
                .nIn(5).nOut(3).convolutionMode(ConvolutionMode.Same).activation(Activation.IDENTITY).build(),
                3, 5, 4, 3, 6);
        INDArray xd = Nd4j.rand(DataType.DOUBLE, 3, 5, 4, 3, 6).subi(0.5);
        twins[0].activate(xd.castTo(DataType.FLOAT), true, NO_WS);
        twins[1].activate(xd, true, NO_WS);
        FloatAgainstDouble.assertBackpropAgrees(twins[0], twins[1], Nd4j.rand(DataType.DOUBLE, 3, 3, 4, 3, 6).subi(0.5));
    }

    /**
     * Finite differences through two slabbed 3D convolutions (one-plane slabs), a 1x1x1 one (the GEMM path) and
     * softmax + MCXENT.
     */
    @Test
    void gradientCheckWithSlabs() {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE)
                .updater(new NoOp()).seed(3).graphBuilder().addInputs("in")
                .setInputTypes(InputType.convolutional3D(Convolution3D.DataFormat.NCDHW, 5, 4, 3, 2))
                .addLayer("c1", new NativeConvolution3D.Builder(3, 3, 3).nOut(3).activation(Activation.TANH)
                        .convolutionMode(ConvolutionMode.Same).build(), "in")
                .addLayer("c2", new NativeConvolution3D.Builder(3, 3, 3).nOut(3).activation(Activation.IDENTITY)
                        .convolutionMode(ConvolutionMode.Same).build(), "c1")
                .addLayer("logits", new NativeConvolution3D.Builder(1, 1, 1).nOut(2).activation(Activation.IDENTITY)
                        .convolutionMode(ConvolutionMode.Same).build(), "c2")
                .addLayer("out", new SegmentationLossLayer.Builder().lossFunction(new LossMCXENT())
                        .activation(Activation.SOFTMAX).build(), "logits")
                .setOutputs("out").build();
        ComputationGraph net = new ComputationGraph(conf);
        net.init();
        INDArray x = Nd4j.rand(DataType.DOUBLE, 2, 2, 5, 4, 3).subi(0.5);
        for (String name : new String[] {"c1", "c2", "logits"}) {
            org.gradsurgery.layers.impl.NativeConvolution3D l = (org.gradsurgery.layers.impl.NativeConvolution3D) net.getLayer(name);
            l.setScratchBudget(1);
            assertEquals(name.equals("logits") ? 5 : 1, l.planesPerSlab(x, 3, 3), name);
        }
        INDArray fg = SegmentationGraphs.binary(new long[] {2, 1, 5, 4, 3}, 0.5, 5);
        INDArray y = Nd4j.concat(1, fg.rsub(1.0), fg);
        assertTrue(GradientCheckUtil.checkGradients(new GradientCheckUtil.GraphConfig().net(net)
                .inputs(new INDArray[] {x}).labels(new INDArray[] {y}).epsilon(1e-6).maxRelError(1e-5)
                .minAbsoluteError(5e-8).print(GradientCheckUtil.PrintMode.FAILURES_ONLY)));
    }

    /**
     * Without the input gradient the parameter gradients are DL4J's (1e-12, DOUBLE, libnd4j's ops; for one input
     * channel the im2col path, for three conv3dnew_bp into scratch) and backprop returns none.
     */
    @Test
    void withoutInputGradientTheParameterGradientsAreDl4js() {
        for (int channels : new int[] {1, 3}) {
            Layer ours = NativeConvolution2DTest.instantiate(new NativeConvolution3D.Builder(3, 3, 3)
                    .inputGradient(false).nIn(channels).nOut(4).convolutionMode(ConvolutionMode.Same)
                    .activation(Activation.TANH).build(), null);
            Layer theirs = NativeConvolution2DTest.instantiate(new Convolution3D.Builder(3, 3, 3).nIn(channels)
                    .nOut(4).convolutionMode(ConvolutionMode.Same).activation(Activation.TANH).build(), ours.params());
            NativeConvolution2DTest.assertParameterGradientsWithoutInputGradient(ours, theirs,
                    Nd4j.rand(DataType.DOUBLE, 2, channels, 5, 4, 3).subi(0.5), channels + " channels");
        }
    }

    /**
     * FLOAT, which on the CPU backend runs oneDNN per example (layers.impl.DnnlConvolution), against the DOUBLE
     * layer (libnd4j's ops), with a batch of 3 (the weight gradient summed over examples), NCDHW and NDHWC, with and
     * without the input gradient.
     */
    @Test
    void floatMatchesDoubleWithAndWithoutInputGradient() {
        for (Convolution3D.DataFormat format : Convolution3D.DataFormat.values()) {
            for (boolean inputGradient : new boolean[] {true, false}) {
                org.deeplearning4j.nn.conf.layers.Layer conf = new NativeConvolution3D.Builder(3, 3, 3)
                        .inputGradient(inputGradient).nIn(4).nOut(5).convolutionMode(ConvolutionMode.Same)
                        .dataFormat(format).activation(Activation.IDENTITY).build();
                long[] shape = format == Convolution3D.DataFormat.NCDHW ? new long[] {3, 4, 5, 6, 4}
                        : new long[] {3, 5, 6, 4, 4};
                Layer[] twins = NativeConvolution2DTest.assertFloatForwardMatchesDouble(conf, shape);
                INDArray xd = Nd4j.rand(DataType.DOUBLE, shape).subi(0.5);
                twins[0].activate(xd.castTo(DataType.FLOAT), true, NO_WS);
                INDArray yd = twins[1].activate(xd, true, NO_WS);
                INDArray eps = Nd4j.rand(DataType.DOUBLE, yd.shape()).subi(0.5);
                String what = format + (inputGradient ? "" : " without input gradient");
                if (inputGradient) {
                    FloatAgainstDouble.assertBackpropAgrees(twins[0], twins[1], eps);
                } else {
                    Pair<Gradient, INDArray> gf = twins[0].backpropGradient(eps.castTo(DataType.FLOAT), NO_WS);
                    Pair<Gradient, INDArray> gd = twins[1].backpropGradient(eps, NO_WS);
                    assertNull(gf.getSecond(), what);
                    for (String key : gd.getFirst().gradientForVariable().keySet()) {
                        INDArray a = gf.getFirst().getGradientFor(key).castTo(DataType.DOUBLE);
                        INDArray b = gd.getFirst().getGradientFor(key);
                        assertEquals(0, a.sub(b).amaxNumber().doubleValue(),
                                1e-5 * Math.max(1, b.amaxNumber().doubleValue()), what + ", " + key);
                    }
                }
            }
        }
    }

    @Test
    void jsonKeepsTheClassAndEveryField() {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().graphBuilder()
                .addInputs("in")
                .addLayer("conv", new NativeConvolution3D.Builder(3, 3, 3).inputGradient(false).nIn(2).nOut(5)
                        .stride(2, 1, 1)
                        .convolutionMode(ConvolutionMode.Same).dataFormat(Convolution3D.DataFormat.NDHWC)
                        .hasBias(false).activation(Activation.TANH).build(), "in")
                .setOutputs("conv").build();
        ComputationGraphConfiguration back = ComputationGraphConfiguration.fromJson(conf.toJson());
        assertEquals(conf, back);
        org.deeplearning4j.nn.conf.layers.Layer layer = ((LayerVertex) back.getVertices().get("conv")).getLayerConf()
                .getLayer();
        assertTrue(layer instanceof NativeConvolution3D);
        NativeConvolution3D c = (NativeConvolution3D) layer;
        assertEquals(Convolution3D.DataFormat.NDHWC, c.getDataFormat());
        assertEquals(2, c.getStride()[0]);
        assertEquals(false, c.hasBias());
        assertEquals(false, c.isInputGradient());
        ComputationGraph net = new ComputationGraph(back);
        net.init();
        assertTrue(net.getLayer("conv") instanceof org.gradsurgery.layers.impl.NativeConvolution3D);
    }

    @Test
    void equalityTakesTheClassIntoAccount() {
        NativeConvolution3D ours = (NativeConvolution3D) new NativeConvolution3D.Builder(3, 3, 3).nIn(2).nOut(4).build();
        assertEquals(ours, new NativeConvolution3D.Builder(3, 3, 3).nIn(2).nOut(4).build());
        assertEquals(ours.hashCode(), new NativeConvolution3D.Builder(3, 3, 3).nIn(2).nOut(4).build().hashCode());
        assertNotEquals(ours, new Convolution3D.Builder(3, 3, 3).nIn(2).nOut(4).build());
        assertNotEquals(ours, new NativeConvolution3D.Builder(3, 3, 3).nIn(2).nOut(5).build());
        assertNotEquals(ours, new NativeConvolution3D.Builder(3, 3, 3).inputGradient(false).nIn(2).nOut(4).build());
        assertEquals(ours, ours.clone());
    }

    @Test
    void wrongInputNamesTheLayerAndTheShape() {
        Layer layer = NativeConvolution2DTest.instantiate(new NativeConvolution3D.Builder(3, 3, 3).nIn(3).nOut(2)
                .convolutionMode(ConvolutionMode.Same).build(), null);
        DL4JInvalidInputException channels = assertThrows(DL4JInvalidInputException.class,
                () -> layer.activate(Nd4j.rand(DataType.DOUBLE, 1, 2, 5, 5, 5), false, NO_WS));
        assertTrue(channels.getMessage().contains("channels"), channels.getMessage());
        DL4JInvalidInputException rank = assertThrows(DL4JInvalidInputException.class,
                () -> layer.activate(Nd4j.rand(DataType.DOUBLE, 3, 5, 5, 5), false, NO_WS));
        assertTrue(rank.getMessage().contains("rank 4"), rank.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> ((org.gradsurgery.layers.impl.NativeConvolution3D) layer).setScratchBudget(0));
    }
}
