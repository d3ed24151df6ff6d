package org.gradsurgery.layers.impl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.stream.Stream;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.WorkspaceMode;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.CnnLossLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.gradsurgery.layers.AbstractSpatialNormalization;
import org.gradsurgery.layers.InstanceNormalization;
import org.gradsurgery.layers.SpatialBatchNormalization;
import org.gradsurgery.layers.SpatialNormalizationParamInitializer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.impl.LossMSE;

/**
 * {@link NormalizationKernels} against the ND4J op path of {@link AbstractSpatialNormalizationLayer} (which the
 * gradient checks and the reference-loop tests of {@code NormalizationLayersTest} cover): the same layer, same
 * parameters and input, kernels on and off, must give the same activations, input gradient, parameter gradients and
 * running-estimate updates, for batch and instance norm, 2D and 3D, identity and ReLU, with and without affine
 * parameters, in training and inference (FLOAT: the only type the kernels take).
 */
class NormalizationKernelsTest {

    private static final LayerWorkspaceMgr NO_WS = LayerWorkspaceMgr.noWorkspaces();

    @AfterEach
    void kernelsBackOn() {
        NormalizationKernels.enabled = true;
        NormalizationKernels.groupedLimit = DEFAULT_GROUPED_LIMIT;
    }

    private static final int DEFAULT_GROUPED_LIMIT = NormalizationKernels.groupedLimit;

    record Case(boolean batch, int rank, Activation activation, boolean affine, DataType type) {
        @Override
        public String toString() {
            return (batch ? "batch" : "instance") + " rank" + rank + " " + activation + (affine ? " affine " : " ")
                    + type;
        }

        AbstractSpatialNormalization conf(long channels) {
            return batch
                    ? new SpatialBatchNormalization.Builder().decay(0.8).affine(affine).activation(activation)
                    .nIn(channels).build()
                    : new InstanceNormalization.Builder().affine(affine).activation(activation).nIn(channels).build();
        }

        long[] shape() {
            return rank == 4 ? new long[] {3, 4, 9, 7} : new long[] {2, 4, 5, 4, 3};
        }
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (boolean batch : new boolean[] {true, false}) {
            for (int rank : new int[] {4, 5}) {
                for (Activation a : new Activation[] {Activation.IDENTITY, Activation.RELU}) {
                    for (boolean affine : new boolean[] {true, false}) {
                        out.add(Arguments.of(new Case(batch, rank, a, affine, DataType.FLOAT)));
                    }
                }
            }
        }
        return out.stream();
    }

    static Layer instantiate(AbstractSpatialNormalization conf, DataType type, long seed) {
        NeuralNetConfiguration nnc = new NeuralNetConfiguration.Builder().dataType(type).layer(conf).build();
        long n = nnc.getLayer().initializer().numParams(nnc);
        INDArray params = n == 0 ? null : Nd4j.create(type, 1, n);
        Layer layer = nnc.getLayer().instantiate(nnc, Collections.emptyList(), 0, params, true, type);
        if (n > 0) {
            layer.setBackpropGradientsViewArray(Nd4j.create(type, 1, n));
            // Non-trivial affine parameters and running estimates, so that every term of the formulas counts.
            Nd4j.getRandom().setSeed(seed);
            layer.setParams(Nd4j.rand(type, 1, n).muli(1.5).addi(0.25));
        }
        return layer;
    }

    /** Activations, dL/dx and the gradient map of one layer on one path. */
    record Result(INDArray out, INDArray dx, Gradient gradient) {
    }

    private static Result run(Case c, boolean fused, boolean training, INDArray x, INDArray eps) {
        NormalizationKernels.enabled = fused;
        Layer layer = instantiate(c.conf(x.size(1)), c.type(), 17);
        INDArray out = layer.activate(x.dup(), training, NO_WS).dup();
        if (!training) {
            return new Result(out, null, null);
        }
        Pair<Gradient, INDArray> g = layer.backpropGradient(eps, NO_WS);
        return new Result(out, g.getSecond().dup(), g.getFirst());
    }

    private static void assertClose(INDArray expected, INDArray actual, double tol, String what) {
        assertEquals(expected.dataType(), actual.dataType(), what);
        double scale = Math.max(1, expected.castTo(DataType.DOUBLE).amaxNumber().doubleValue());
        double diff = expected.castTo(DataType.DOUBLE).sub(actual.castTo(DataType.DOUBLE)).amaxNumber().doubleValue();
        assertTrue(diff <= tol * scale, what + ": max |difference| " + diff + " > " + tol * scale);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void fusedPathMatchesTheNd4jPath(Case c) {
        Nd4j.getRandom().setSeed(3);
        INDArray x = Nd4j.randn(c.type(), c.shape()).muli(2).addi(0.7);
        INDArray eps = Nd4j.randn(c.type(), c.shape());
        double tol = c.type() == DataType.FLOAT ? 2e-5 : 1e-11;
        for (boolean training : new boolean[] {true, false}) {
            Result nd4j = run(c, false, training, x, eps.dup());
            Result fused = run(c, true, training, x, eps.dup());
            assertClose(nd4j.out(), fused.out(), tol, "activations, training=" + training);
            if (training) {
                assertClose(nd4j.dx(), fused.dx(), tol, "dL/dx");
                assertEquals(nd4j.gradient().gradientForVariable().keySet(),
                        fused.gradient().gradientForVariable().keySet());
                for (String key : nd4j.gradient().gradientForVariable().keySet()) {
                    assertClose(nd4j.gradient().getGradientFor(key), fused.gradient().getGradientFor(key), tol, key);
                }
            }
        }
    }

    /** Backprop of a fresh layer right after a training forward pass on {@code x} (never a stale carry). */
    private static Result fresh(Case c, INDArray x, INDArray eps) {
        return run(c, true, true, x, eps.dup());
    }

    private static void assertSameResult(Result expected, Pair<Gradient, INDArray> actual, String what) {
        assertClose(expected.dx(), actual.getSecond(), 1e-6, what + ": dL/dx");
        for (String key : expected.gradient().gradientForVariable().keySet()) {
            assertClose(expected.gradient().getGradientFor(key), actual.getFirst().getGradientFor(key), 1e-6,
                    what + ": " + key);
        }
    }

    private static final Case CARRY = new Case(true, 4, Activation.RELU, true, DataType.FLOAT);

    /** Inputs whose batch statistics differ a lot, so that statistics of the wrong one change every gradient. */
    private static INDArray[] twoInputs() {
        Nd4j.getRandom().setSeed(5);
        INDArray first = Nd4j.randn(DataType.FLOAT, CARRY.shape()).muli(2).addi(0.7);
        INDArray second = Nd4j.randn(DataType.FLOAT, CARRY.shape()).muli(0.5).subi(3);
        return new INDArray[] {first, second};
    }

    @Test
    void theStatisticsCarriedFromTheForwardPassAreUsedAndGiveTheRecomputedResult() {
        INDArray x = twoInputs()[0];
        INDArray eps = Nd4j.randn(DataType.FLOAT, CARRY.shape());
        Layer layer = instantiate(CARRY.conf(x.size(1)), DataType.FLOAT, 17);
        layer.activate(x.dup(), true, NO_WS);
        Pair<Gradient, INDArray> carried = layer.backpropGradient(eps.dup(), NO_WS);
        assertEquals(1, ((AbstractSpatialNormalizationLayer<?>) layer).carriedUses);
        assertSameResult(run(CARRY, false, true, x, eps.dup()), carried, "against the ND4J path");
    }

    @Test
    void aStaleStatisticsCacheIsNeverUsed() {
        INDArray[] x = twoInputs();
        INDArray eps = Nd4j.randn(DataType.FLOAT, CARRY.shape());
        Result second = fresh(CARRY, x[1], eps);
        // The check can fail: the first input's statistics give other gradients.
        Result onFirst = fresh(CARRY, x[0], eps);
        assertTrue(onFirst.dx().castTo(DataType.DOUBLE).sub(second.dx().castTo(DataType.DOUBLE)).amaxNumber()
                .doubleValue() > 1e-2);

        // Two training passes, then backprop: the second pass's statistics, carried.
        assertBackpropOnSecondInput("after two training passes", x, eps, second, 1,
                (layer, first) -> layer.activate(x[1].dup(), true, NO_WS));
        // An inference pass on another input: that input's batch statistics, recomputed.
        assertBackpropOnSecondInput("after an inference pass", x, eps, second, 0,
                (layer, first) -> layer.activate(x[1].dup(), false, NO_WS));
        // Another input set directly.
        assertBackpropOnSecondInput("after setInput", x, eps, second, 0,
                (layer, first) -> layer.setInput(x[1].dup(), NO_WS));
        // The same array overwritten in place in a later iteration.
        assertBackpropOnSecondInput("after the iteration count moved", x, eps, second, 0, (layer, first) -> {
            first.assign(x[1]);
            layer.setIterationCount(layer.getIterationCount() + 1);
        });
    }

    /**
     * A training pass on {@code x[0]}, then {@code between}, then backprop, which must give {@code expected} (the
     * fresh result on x[1]) and use carried statistics {@code carriedUses} times.
     */
    private static void assertBackpropOnSecondInput(String what, INDArray[] x, INDArray eps, Result expected,
                                                    int carriedUses, BiConsumer<Layer, INDArray> between) {
        Layer layer = instantiate(CARRY.conf(x[0].size(1)), DataType.FLOAT, 17);
        INDArray first = x[0].dup();
        layer.activate(first, true, NO_WS);
        between.accept(layer, first);
        assertSameResult(expected, layer.backpropGradient(eps.dup(), NO_WS), what);
        assertEquals(carriedUses, ((AbstractSpatialNormalizationLayer<?>) layer).carriedUses, what);
    }

    @Test
    void aNetworkTrainingStepWithWorkspacesUsesTheCarriedStatistics() {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(3).dataType(DataType.FLOAT)
                .updater(new Adam(1e-3))
                .trainingWorkspaceMode(WorkspaceMode.ENABLED).inferenceWorkspaceMode(WorkspaceMode.ENABLED)
                .graphBuilder().addInputs("in")
                .setInputTypes(InputType.convolutional(8, 8, 2))
                .addLayer("conv", new ConvolutionLayer.Builder(3, 3).nOut(4)
                        .convolutionMode(ConvolutionMode.Same).activation(Activation.IDENTITY).build(), "in")
                .addLayer("norm", new SpatialBatchNormalization.Builder().activation(Activation.RELU).build(), "conv")
                .addLayer("out", new CnnLossLayer.Builder(new LossMSE()).activation(Activation.IDENTITY).build(),
                        "norm")
                .setOutputs("out").build();
        ComputationGraph graph = new ComputationGraph(conf);
        graph.init();
        Nd4j.getRandom().setSeed(11);
        DataSet data = new DataSet(Nd4j.randn(DataType.FLOAT, 3, 2, 8, 8), Nd4j.randn(DataType.FLOAT, 3, 4, 8, 8));
        for (int i = 0; i < 3; i++) {
            graph.fit(data);
        }
        assertEquals(3, ((AbstractSpatialNormalizationLayer<?>) graph.getLayer("norm")).carriedUses);
    }

    @Test
    void viewsAndLargeArraysOverSeveralThreadsAgree() {
        int threads = Nd4j.getEnvironment().maxThreads();
        Nd4j.getEnvironment().setMaxThreads(2);
        try {
            Case c = new Case(true, 4, Activation.RELU, true, DataType.FLOAT);
            // 2·8·64·80 = 81,920 values: above the threshold for splitting the blocks over threads.
            INDArray big = Nd4j.randn(DataType.FLOAT, 2, 8, 64, 160);
            // Every other column: a strided view, which the layer must copy before the kernels read its memory.
            INDArray x = big.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.all(),
                    NDArrayIndex.interval(0, 2, 160));
            INDArray eps = Nd4j.randn(DataType.FLOAT, 2, 8, 64, 160).get(NDArrayIndex.all(), NDArrayIndex.all(),
                    NDArrayIndex.all(), NDArrayIndex.interval(1, 2, 160));
            assertTrue(!NormalizationKernels.whole(x) && !NormalizationKernels.whole(eps));
            Result nd4j = run(c, false, true, x, eps);
            Result fused = run(c, true, true, x, eps);
            assertClose(nd4j.out(), fused.out(), 2e-5, "activations");
            assertClose(nd4j.dx(), fused.dx(), 2e-5, "dL/dx");
            for (String key : nd4j.gradient().gradientForVariable().keySet()) {
                assertClose(nd4j.gradient().getGradientFor(key), fused.gradient().getGradientFor(key), 2e-5, key);
            }
        } finally {
            Nd4j.getEnvironment().setMaxThreads(threads);
        }
    }

    private static void assertBits(INDArray expected, INDArray actual, String what) {
        assertArrayEquals(expected.shape(), actual.shape(), what);
        // (JUnit compares float arrays by their bits)
        assertArrayEquals(expected.dup('c').data().asFloat(), actual.dup('c').data().asFloat(), what);
    }

    /**
     * A group read once into scratch memory ({@link NormalizationKernels#groupedLimit}) gives the same bits as the
     * two passes over memory that larger groups take: activations, dL/dx, parameter gradients and running
     * estimates, for batch and instance norm, ReLU and identity, on one thread and split over two.
     */
    @Test
    void groupsInScratchMemoryGiveTheBitsOfTwoPasses() {
        int threads = Nd4j.getEnvironment().maxThreads();
        try {
            for (int t : new int[] {1, 2}) {
                Nd4j.getEnvironment().setMaxThreads(t);
                for (boolean batch : new boolean[] {true, false}) {
                    for (Activation a : new Activation[] {Activation.IDENTITY, Activation.RELU}) {
                        Case c = new Case(batch, 4, a, true, DataType.FLOAT);
                        Nd4j.getRandom().setSeed(9);
                        // 3·8·48·60 = 69,120 values per array, over the threshold for two threads at t = 2
                        INDArray x = Nd4j.randn(DataType.FLOAT, 3, 8, 48, 60).muli(2).addi(0.7);
                        INDArray eps = Nd4j.randn(DataType.FLOAT, x.shape());
                        NormalizationKernels.groupedLimit = 0;
                        Result twoPasses = run(c, true, true, x, eps.dup());
                        NormalizationKernels.groupedLimit = DEFAULT_GROUPED_LIMIT;
                        Result grouped = run(c, true, true, x, eps.dup());
                        String what = c + ", " + t + " thread(s)";
                        assertBits(twoPasses.out(), grouped.out(), what + ": activations");
                        assertBits(twoPasses.dx(), grouped.dx(), what + ": dL/dx");
                        for (String key : twoPasses.gradient().gradientForVariable().keySet()) {
                            assertBits(twoPasses.gradient().getGradientFor(key),
                                    grouped.gradient().getGradientFor(key), what + ": " + key);
                        }
                    }
                }
            }
        } finally {
            Nd4j.getEnvironment().setMaxThreads(threads);
        }
    }

    /**
     * The two-pass path keeps its per-thread scratch between calls: what a larger call left in it (here NaN) never
     * shows in a later, smaller call, which gives the same bits as before it (so the same as fresh zeroed arrays).
     */
    @Test
    void scratchLeftoversOfALargerCallNeverShow() {
        int threads = Nd4j.getEnvironment().maxThreads();
        try {
            for (int t : new int[] {1, 2}) {
                Nd4j.getEnvironment().setMaxThreads(t);
                NormalizationKernels.groupedLimit = 0;   // every group through forBlocks
                for (boolean batch : new boolean[] {true, false}) {
                    Case c = new Case(batch, 5, Activation.RELU, true, DataType.FLOAT);
                    Nd4j.getRandom().setSeed(5);
                    INDArray x = Nd4j.randn(DataType.FLOAT, 2, 4, 24, 20, 18).muli(3).addi(-0.4);
                    INDArray eps = Nd4j.randn(DataType.FLOAT, x.shape());
                    Result first = run(c, true, true, x, eps.dup());
                    INDArray nan = Nd4j.valueArrayOf(new long[] {2, 4, 32, 32, 32}, Float.NaN, DataType.FLOAT);
                    run(c, true, true, nan, nan.dup());
                    Result again = run(c, true, true, x, eps.dup());
                    String what = c + ", " + t + " thread(s)";
                    assertBits(first.out(), again.out(), what + ": activations");
                    assertBits(first.dx(), again.dx(), what + ": dL/dx");
                    for (String key : first.gradient().gradientForVariable().keySet()) {
                        assertBits(first.gradient().getGradientFor(key), again.gradient().getGradientFor(key),
                                what + ": " + key);
                    }
                }
            }
        } finally {
            Nd4j.getEnvironment().setMaxThreads(threads);
            NormalizationKernels.groupedLimit = DEFAULT_GROUPED_LIMIT;
        }
    }

    /**
     * The kernels sum in float lanes of at most {@link NormalizationKernels#ROWS} terms with double totals
     * ({@link NormalizationKernels#ROW}), not in double throughout. On a group of the 2D U-Net's largest size
     * (4·128² = 65,536 values: 256 rows, 16 flushes of the lanes) with data far from 0 (x = 50 + 0.5·N(0, 1), where
     * E[x²] − μ² in float would lose everything), the FLOAT results, on the grouped and the two-pass path, stay within
     * 1e-5 of a DOUBLE computation (the ND4J path) on the same float inputs and parameters, relative to each result's
     * largest magnitude: the float rounding of x − μ (μ ≈ 50 has an ulp of 3.8e-6, so x̂ carries about 1e-5 of
     * it) dominates, not the sums. The running-estimate updates carry the batch mean and variance themselves.
     */
    @Test
    void laneSumsStayWithinFloatRoundingOfADoubleComputationOnALargeGroup() {
        Case c = new Case(true, 4, Activation.RELU, true, DataType.FLOAT);
        Nd4j.getRandom().setSeed(21);
        INDArray x = Nd4j.randn(DataType.FLOAT, 4, 2, 128, 128).muli(0.5).addi(50);
        INDArray eps = Nd4j.randn(DataType.FLOAT, x.shape());
        Layer reference = instantiate(c.conf(2), DataType.DOUBLE, 17);
        Layer probe = instantiate(c.conf(2), DataType.FLOAT, 17);
        reference.setParams(probe.params().castTo(DataType.DOUBLE));
        INDArray expectedOut = reference.activate(x.castTo(DataType.DOUBLE), true, NO_WS).dup();
        Pair<Gradient, INDArray> expected = reference.backpropGradient(eps.castTo(DataType.DOUBLE), NO_WS);
        try {
            for (int limit : new int[] {DEFAULT_GROUPED_LIMIT, 0}) {
                NormalizationKernels.groupedLimit = limit;
                Result fused = run(c, true, true, x, eps);
                String path = limit == 0 ? "two passes: " : "grouped: ";
                assertClose(expectedOut, fused.out().castTo(DataType.DOUBLE), 1e-5, path + "activations");
                assertClose(expected.getSecond(), fused.dx().castTo(DataType.DOUBLE), 1e-5, path + "dL/dx");
                for (String key : expected.getFirst().gradientForVariable().keySet()) {
                    assertClose(expected.getFirst().getGradientFor(key),
                            fused.gradient().getGradientFor(key).castTo(DataType.DOUBLE), 1e-5, path + key);
                }
            }
        } finally {
            NormalizationKernels.groupedLimit = DEFAULT_GROUPED_LIMIT;
        }
    }

    /** ReLU's derivative without comparisons: exactly 0 or 1 at the edges of the float range, NaN kept. */
    @Test
    void theReluStepIsExactFromTheSmallestToTheLargestFloat() {
        for (float z : new float[] {Float.NEGATIVE_INFINITY, -Float.MAX_VALUE, -1, -Float.MIN_VALUE, -0f, 0f}) {
            assertEquals(0f, NormalizationKernels.positive(z), 0, "step(" + z + ")");
        }
        for (float z : new float[] {Float.MIN_VALUE, Float.MIN_NORMAL, 1e-30f, 1, 3e38f, Float.MAX_VALUE,
            Float.POSITIVE_INFINITY}) {
            assertEquals(1f, NormalizationKernels.positive(z), 0, "step(" + z + ")");
        }
        assertTrue(Float.isNaN(NormalizationKernels.positive(Float.NaN)));
    }

    @Test
    void theReluMaskDropsExactlyTheNonPositivePreActivations() {
        // γ = 1, β = 0 on a two-valued channel: x̂ = ±1, so half the pre-activations are exactly −1 and their
        // gradient must vanish.
        Layer layer = instantiate(new InstanceNormalization.Builder().activation(Activation.RELU).nIn(1).build(),
                DataType.FLOAT, 1);
        layer.setParam(SpatialNormalizationParamInitializer.GAMMA, Nd4j.ones(DataType.FLOAT, 1, 1));
        layer.setParam(SpatialNormalizationParamInitializer.BETA, Nd4j.zeros(DataType.FLOAT, 1, 1));
        INDArray x = Nd4j.createFromArray(new float[] {1, 3, 1, 3}).reshape(1, 1, 2, 2);
        INDArray y = layer.activate(x, true, NO_WS);
        assertEquals(0, y.getDouble(0, 0, 0, 0), 0);
        assertEquals(1, y.getDouble(0, 0, 0, 1), 1e-4);
        INDArray dx = layer.backpropGradient(Nd4j.ones(DataType.FLOAT, 1, 1, 2, 2), NO_WS).getSecond();
        // σ² = 1, so inv = x̂₊ = 1/sqrt(1 + ε); δ = (0, 1, 0, 1), mean δ = 1/2, mean δ·x̂ = x̂₊/2, and
        // dx = inv·(δ − 1/2 − x̂·x̂₊/2) = ±inv·(1 − x̂₊²)/2: tiny, of opposite signs, and exactly computable.
        double inv = 1 / Math.sqrt(1 + 1e-5);
        double expected = inv * (1 - inv * inv) / 2;
        // (float arithmetic: 1 − x̂₊² carries an error of a few 1e-8)
        assertEquals(-expected, dx.getDouble(0, 0, 0, 0), 5e-8);
        assertEquals(expected, dx.getDouble(0, 0, 0, 1), 5e-8);
        assertTrue(expected > 1e-6, "the expected value is not lost in the tolerance");
    }
}
