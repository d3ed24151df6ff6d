package org.gradsurgery.layers.impl;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
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
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

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
    }

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
