package org.gradsurgery.loss;

import static org.gradsurgery.loss.LossFixtures.labels;
import static org.gradsurgery.loss.LossFixtures.logits;
import static org.gradsurgery.loss.LossFixtures.mask;
import static org.gradsurgery.loss.LossFixtures.maxRelativeError;
import static org.gradsurgery.loss.LossFixtures.rows;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.gradsurgery.layers.DoublePrecisionTinyArrays;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The single-pass kernels ({@link FusedKernels}, taken for softmax/sigmoid on whole FLOAT/DOUBLE arrays) against
 * the ND4J op path (taken otherwise), in FLOAT and DOUBLE: scores, per-example scores, gradients and both surgery
 * fields, at rank 2, 4 and 5, with both mask shapes; and the same errors from both paths. The finite-difference
 * tests of this package run through the kernels, so this is what ties the ND4J path to them.
 */
@ExtendWith(DoublePrecisionTinyArrays.class)
class FusedKernelsTest {

    @AfterEach
    void restore() {
        FusedKernels.enabled = true;
    }

    private static <T> T unfused(Supplier<T> s) {
        FusedKernels.enabled = false;
        try {
            return s.get();
        } finally {
            FusedKernels.enabled = true;
        }
    }

    static Stream<Arguments> cases() {
        List<Arguments> c = new ArrayList<>();
        AbstractRegionLoss[] losses = {LossDice.builder().squaredPred(true).build(),
            LossJaccard.builder().reduction(Reduction.BATCH).build(), LossTversky.builder().alpha(0.2).build(),
            LossFocalTversky.builder().includeBackground(false).build(),
            LossGeneralizedDice.builder().reduction(Reduction.BATCH).includeBackground(false).build(),
            new LossGeneralizedDice(), new LossDice()};
        int i = 0;
        for (AbstractRegionLoss loss : losses) {
            for (DataType type : new DataType[]{DataType.FLOAT, DataType.DOUBLE}) {
                for (boolean softmax : new boolean[]{true, false}) {
                    int rank = new int[]{4, 5, 2}[i % 3];
                    String masking = new String[]{"none", "perVoxel", "perClass"}[(i / 3) % 3];
                    c.add(Arguments.of(loss, type, softmax, rank, masking));
                    i++;
                }
            }
        }
        return c.stream();
    }

    @ParameterizedTest(name = "{0} {1} softmax={2} rank {3} mask {4}")
    @MethodSource("cases")
    void kernelsAgreeWithTheNd4jPath(AbstractRegionLoss loss, DataType type, boolean softmax, int rank,
                                     String masking) {
        long[] shape = LossFixtures.shape(rank == 5 ? 3 : 2);
        INDArray z = logits(shape, 1);
        INDArray y = labels(shape, softmax, 2);
        INDArray m = masking.equals("none") ? null : mask(shape, masking.equals("perClass"), 3);
        if (rank == 2) {
            z = rows(z);
            y = rows(y);
            m = m == null ? null : rows(m);
        }
        INDArray zt = z.castTo(type);
        INDArray yt = y.castTo(type);
        INDArray mt = m == null ? null : m.castTo(type);
        IActivation act = softmax ? new ActivationSoftmax() : new ActivationSigmoid();
        LossInput in = LossInput.of("t", yt, zt, mt, act, false, false);
        assertTrue(FusedKernels.applies(in, act), "the kernels must take this call");
        double tol = type == DataType.FLOAT ? 1e-5 : 1e-12;

        double score = loss.computeScore(yt, zt, act, mt, false);
        assertEquals(unfused(() -> loss.computeScore(yt, zt, act, mt, false)), score, tol * Math.max(1, score));
        assertTrue(maxRelativeError(unfused(() -> loss.computeScoreArray(yt, zt, act, mt)),
                loss.computeScoreArray(yt, zt, act, mt)) < tol);
        INDArray g = loss.computeGradient(yt, zt, act, mt);
        assertEquals(type, g.dataType());
        assertTrue(maxRelativeError(unfused(() -> loss.computeGradient(yt, zt, act, mt)), g) < tol);
        for (GradientSurgery.Space space : GradientSurgery.Space.values()) {
            for (double exponent : new double[]{1, 2, 0.5}) {
                for (GradientSurgery.Weighting weighting : GradientSurgery.Weighting.values()) {
                    GradientSurgery s = GradientSurgery.builder().base(loss).space(space).exponent(exponent)
                            .weighting(weighting).build();
                    INDArray field = s.computeGradient(yt, zt, act, mt);
                    INDArray reference = unfused(() -> s.computeGradient(yt, zt, act, mt));
                    assertEquals(type, field.dataType());
                    // the balanced field is small (w ~ 1/(P + G)): compare it to its own size
                    double size = Math.max(1e-300, reference.amaxNumber().doubleValue());
                    double err = weighting == GradientSurgery.Weighting.BASE ? maxRelativeError(reference, field)
                            : field.sub(reference).amaxNumber().doubleValue() / size;
                    assertTrue(err < tol, space + " " + exponent + " " + weighting + ": " + err);
                }
            }
        }
    }

    @Test
    void chunksOnSeveralThreadsGiveTheSingleThreadResult() {
        long[] shape = {2, 4, 128, 128};   // 2^17 values: the smallest size the kernels split over threads
        INDArray z = logits(shape, 11).castTo(DataType.FLOAT);
        INDArray y = labels(shape, true, 12).castTo(DataType.FLOAT);
        INDArray m = mask(shape, false, 13).castTo(DataType.FLOAT);
        IActivation act = new ActivationSoftmax();
        org.nd4j.linalg.factory.Environment env = org.nd4j.linalg.factory.Nd4j.getEnvironment();
        int threads = env.maxThreads();
        for (AbstractRegionLoss loss : new AbstractRegionLoss[]{new LossDice(),
            LossGeneralizedDice.builder().reduction(Reduction.BATCH).squaredPred(true).build()}) {
            GradientSurgery surgery = GradientSurgery.wrap(loss);
            double score1 = loss.computeScore(y, z, act, m, false);
            INDArray field1 = surgery.computeGradient(y, z, act, m);
            INDArray grad1 = loss.computeGradient(y, z, act, m);
            try {
                env.setMaxThreads(3);
                assertEquals(score1, loss.computeScore(y, z, act, m, false), 1e-5 * Math.abs(score1));
                assertTrue(maxRelativeError(field1, surgery.computeGradient(y, z, act, m)) < 1e-5);
                assertTrue(maxRelativeError(grad1, loss.computeGradient(y, z, act, m)) < 1e-5);
                assertTrue(maxRelativeError(unfused(() -> loss.computeGradient(y, z, act, m)),
                        loss.computeGradient(y, z, act, m)) < 1e-5);
            } finally {
                env.setMaxThreads(threads);
            }
        }
    }

    /**
     * The blocked kernels against the voxel-at-a-time arithmetic written out here, to the bit: softmax over 2 classes
     * (one exponential per voxel, exp(0) = 1 for the class at the maximum, ties included), over 3 classes, and
     * sigmoid; every sum in voxel order; gradient written over p. The shape has 1,001 voxels per example (blocks of
     * {@link FusedKernels#BLOCK} end inside an example and at its end) and a per-voxel mask with zeros.
     */
    @Test
    void blockedKernelsAreTheVoxelArithmeticToTheBit() {
        for (DataType type : new DataType[]{DataType.FLOAT, DataType.DOUBLE}) {
            for (int classes : new int[]{2, 3}) {
                for (boolean softmax : new boolean[]{true, false}) {
                    long[] shape = {3, classes, 7, 11, 13};
                    int v = 7 * 11 * 13;
                    INDArray z = logits(shape, 21).muli(4);
                    for (int i = 0; i < 40; i++) {
                        z.putScalar(new long[]{1, 0, 0, 0, i % 13}, 0.0);   // ties: equal logits, and zeros
                        z.putScalar(new long[]{1, classes - 1, 0, 0, i % 13}, 0.0);
                        z.putScalar(new long[]{2, 0, 3, i % 11, 5}, z.getDouble(2, 1, 3, i % 11, 5));
                    }
                    z = z.castTo(type);
                    INDArray y = labels(shape, softmax, 22).castTo(type);
                    INDArray m = mask(shape, false, 23).castTo(type);
                    IActivation act = softmax ? new ActivationSoftmax() : new ActivationSigmoid();
                    LossInput in = LossInput.of("t", y, z, m, act, false, false);
                    AbstractRegionLoss.Sums s = new AbstractRegionLoss.Sums(3, classes);
                    INDArray p = FusedKernels.forward(in, softmax, true, true, s, true);
                    double[] zd = in.z.castTo(DataType.DOUBLE).data().asDouble();
                    double[] yd = in.y.castTo(DataType.DOUBLE).data().asDouble();
                    double[] md = in.m.castTo(DataType.DOUBLE).data().asDouble();
                    double[] pd = p.castTo(DataType.DOUBLE).data().asDouble();
                    double[] expected = new double[pd.length];
                    double[][] i1 = new double[3][classes];
                    double[][] pk = new double[3][classes];
                    for (int n = 0; n < 3; n++) {
                        for (int u = 0; u < v; u++) {
                            double[] e = new double[classes];
                            double max = Double.NEGATIVE_INFINITY;
                            for (int c = 0; c < classes; c++) {
                                e[c] = zd[(n * classes + c) * v + u];
                                max = Math.max(max, e[c]);
                            }
                            double sum = 0;
                            for (int c = 0; c < classes; c++) {
                                e[c] = softmax ? Math.exp(e[c] - max) : 1 / (1 + Math.exp(-e[c]));
                                sum += e[c];
                            }
                            for (int c = 0; c < classes; c++) {
                                int idx = (n * classes + c) * v + u;
                                double pi = softmax ? e[c] / sum : e[c];
                                expected[idx] = type == DataType.FLOAT ? (float) pi : pi;
                                double w = md[n * v + u];
                                if (w != 0) {
                                    i1[n][c] += w * pi * yd[idx];
                                    pk[n][c] += w * pi * pi;
                                }
                            }
                        }
                    }
                    String what = type + " " + classes + " classes softmax=" + softmax;
                    org.junit.jupiter.api.Assertions.assertArrayEquals(expected, pd, 0.0, what + ": p");
                    for (int n = 0; n < 3; n++) {
                        org.junit.jupiter.api.Assertions.assertArrayEquals(i1[n], s.i[n], 0.0, what + ": I");
                        org.junit.jupiter.api.Assertions.assertArrayEquals(pk[n], s.p[n], 0.0, what + ": P");
                    }
                    double[][] ones = new double[3][classes];
                    for (double[] row : ones) {
                        java.util.Arrays.fill(row, 1.0);
                    }
                    INDArray g = FusedKernels.backward(in, p, softmax, true, ones, ones, ones,
                            FusedKernels.Mode.GRADIENT, 1);
                    assertTrue(g == p, "the gradient is written over p");
                    double[] gd = g.castTo(DataType.DOUBLE).data().asDouble();
                    for (int n = 0; n < 3; n++) {
                        for (int u = 0; u < v; u++) {
                            double w = md[n * v + u];
                            double[] f = new double[classes];
                            double inner = 0;
                            for (int c = 0; c < classes; c++) {
                                int idx = (n * classes + c) * v + u;
                                double pi = pd[idx];
                                f[c] = w == 0 ? 0 : w * (yd[idx] + pi + 1);
                                inner += pi * f[c];
                            }
                            for (int c = 0; c < classes; c++) {
                                int idx = (n * classes + c) * v + u;
                                double pi = pd[idx];
                                double r = softmax ? pi * (f[c] - inner) : f[c] * (pi * (1 - pi));
                                double want = type == DataType.FLOAT ? (float) r : r;
                                assertEquals(want, gd[idx], 0.0, what + ": gradient at " + idx);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void viewsAndOtherActivationsTakeTheNd4jPath() {
        INDArray big = logits(new long[]{3, 3, 2, 2}, 4);
        INDArray z = big.get(NDArrayIndex.interval(1, 3));   // a view with an offset
        INDArray y = labels(new long[]{2, 3, 2, 2}, true, 5);
        IActivation act = new ActivationSoftmax();
        assertTrue(!FusedKernels.applies(LossInput.of("t", y, z, null, act, false, false), act));
        assertTrue(!FusedKernels.applies(LossInput.of("t", y, z.dup(), null,
                new org.nd4j.linalg.activations.impl.ActivationTanH(), false, false),
                new org.nd4j.linalg.activations.impl.ActivationTanH()));
        LossDice dice = new LossDice();
        assertTrue(maxRelativeError(dice.computeGradient(y, z.dup(), act, null), dice.computeGradient(y, z, act, null))
                < 1e-12);
    }

    @Test
    void bothPathsGiveTheSameErrors() {
        long[] shape = {2, 3, 2, 2};
        INDArray z = logits(shape, 6).castTo(DataType.FLOAT);
        INDArray y = labels(shape, true, 7).castTo(DataType.FLOAT);
        INDArray badY = y.dup();
        badY.putScalar(3, -0.5);
        INDArray badZ = z.dup();
        badZ.putScalar(1, Float.NaN);
        badZ.putScalar(2, Float.NEGATIVE_INFINITY);
        badZ.putScalar(9, Float.POSITIVE_INFINITY);
        IActivation act = new ActivationSigmoid();
        for (ILossFunctionCall call : new ILossFunctionCall[]{
            (l, yy, zz) -> l.computeScore(yy, zz, act, null, true),
            (l, yy, zz) -> l.computeGradient(yy, zz, act, null),
            (l, yy, zz) -> GradientSurgery.wrap(l).computeGradient(yy, zz, act, null)}) {
            LossDice dice = new LossDice();
            String fused = assertThrows(IllegalArgumentException.class, () -> call.run(dice, badY, z)).getMessage();
            String nd4j = unfused(() -> assertThrows(IllegalArgumentException.class, () -> call.run(dice, badY, z)))
                    .getMessage();
            assertEquals(nd4j, fused);
            assertTrue(fused.contains("[-0.5, 1.0]"), fused);
            fused = assertThrows(IllegalArgumentException.class, () -> call.run(dice, y, badZ)).getMessage();
            nd4j = unfused(() -> assertThrows(IllegalArgumentException.class, () -> call.run(dice, y, badZ)))
                    .getMessage();
            assertEquals(nd4j, fused);
            assertTrue(fused.contains(" 3 of 24 pre-output values are not finite"), fused);
            // with the check off, neither path scans; the NaN reaches the result
            LossDice unchecked = LossDice.builder().checkFinite(false).build();
            call.run(unchecked, y, badZ);
            unfused(() -> call.run(unchecked, y, badZ));
        }
    }

    @FunctionalInterface
    private interface ILossFunctionCall {
        Object run(AbstractRegionLoss loss, INDArray y, INDArray z);
    }
}
