package org.gradsurgery.loss;

import static org.gradsurgery.loss.LossFixtures.labels;
import static org.gradsurgery.loss.LossFixtures.logits;
import static org.gradsurgery.loss.LossFixtures.mask;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.gradsurgery.layers.DoublePrecisionTinyArrays;
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
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;

/**
 * {@link GradientSurgery.Weighting#BALANCED} against its definition and its purpose.
 *
 * <p>Definition: f = m·w·sign(p − y)·|y − p|^γ with w = (a + b)/2 per group written out by hand for Dice
 * (w = 1/(K·(P + G + s_dr))), Tversky (w = (1/T − (1 − α − β)·(I + s_nr)/T²)/(2K)) and generalized Dice
 * (w_c = v_c/D), then the class-mean removal or the Jacobian and the mask, as the paper's field.
 *
 * <p>Purpose: on one large group whose labels are drawn from a known q (in each region of constant q exactly q·n of
 * the n voxels are foreground, at shuffled places, so a region's mean field is the field's expectation over the
 * draw), the balanced field's mean vanishes where p = q, while the paper's field does not; the paper's vanishes at
 * p* = q·a/(q·a + (1 − q)·b), with a and b of Dice computed here from the sums, where the balanced one does not.
 */
@ExtendWith(DoublePrecisionTinyArrays.class)
class BalancedSurgeryTest {

    static Stream<Arguments> cases() {
        List<Arguments> c = new ArrayList<>();
        AbstractRegionLoss[] bases = {new LossDice(), LossTversky.builder().alpha(0.3).beta(0.7).build(),
            LossGeneralizedDice.builder().includeBackground(false).build(),
            LossDice.builder().reduction(Reduction.BATCH).includeBackground(false).smoothDr(0.5).build()};
        int i = 0;
        for (AbstractRegionLoss base : bases) {
            for (boolean softmax : new boolean[]{true, false}) {
                for (GradientSurgery.Space space : GradientSurgery.Space.values()) {
                    double exponent = new double[]{1, 2, 0.5}[i % 3];
                    String masking = new String[]{"none", "perVoxel", "perClass"}[(i / 2) % 3];
                    c.add(Arguments.of(base, softmax, space, exponent, masking));
                    i++;
                }
            }
        }
        return c.stream();
    }

    @ParameterizedTest(name = "{0} softmax={1} {2} gamma={3} mask {4}")
    @MethodSource("cases")
    void fieldEqualsTheBalancedWeightTimesTheSignedError(AbstractRegionLoss base, boolean softmax,
                                                         GradientSurgery.Space space, double exponent,
                                                         String masking) {
        long[] shape = LossFixtures.shape(2);
        int n = (int) shape[0];
        int classes = (int) shape[1];
        int v = (int) LossFixtures.voxels(shape);
        INDArray z = logits(shape, 7);
        INDArray y = labels(shape, softmax, 8);
        INDArray m = masking.equals("none") ? null : mask(shape, masking.equals("perClass"), 9);
        IActivation act = softmax ? new ActivationSoftmax() : new ActivationSigmoid();
        GradientSurgery surgery = GradientSurgery.builder().base(base).exponent(exponent).space(space)
                .weighting(GradientSurgery.Weighting.BALANCED).build();
        INDArray field = surgery.computeGradient(y, z, act, m);
        assertArrayEquals(shape, field.shape());

        double[][][] p = cube(softmax ? Nd4j.nn().softmax(z.dup(), 1) : Nd4j.nn().sigmoid(z.dup()), n, classes, v);
        double[][][] yy = cube(y, n, classes, v);
        double[][][] mm = m == null ? null : cube(m.size(1) == 1 ? m.broadcast(shape) : m, n, classes, v);
        double[][] w = weights(base, p, yy, mm);
        double[][][] expected = new double[n][classes][v];
        double scale = 0;
        for (int e = 0; e < n; e++) {
            for (int i = 0; i < v; i++) {
                double[] f = new double[classes];
                for (int k = 0; k < classes; k++) {
                    double err = p[e][k][i] - yy[e][k][i];
                    double mk = mm == null ? 1 : mm[e][k][i];
                    f[k] = mk * w[e][k] * Math.signum(err) * Math.pow(Math.abs(err), exponent);
                }
                if (space == GradientSurgery.Space.LOGITS) {
                    if (softmax) {
                        double mean = 0;
                        for (double x : f) {
                            mean += x / classes;
                        }
                        for (int k = 0; k < classes; k++) {
                            f[k] -= mean;
                        }
                    }
                } else if (softmax) {
                    double inner = 0;
                    for (int k = 0; k < classes; k++) {
                        inner += p[e][k][i] * f[k];
                    }
                    for (int k = 0; k < classes; k++) {
                        f[k] = p[e][k][i] * (f[k] - inner);
                    }
                } else {
                    for (int k = 0; k < classes; k++) {
                        f[k] *= p[e][k][i] * (1 - p[e][k][i]);
                    }
                }
                for (int k = 0; k < classes; k++) {
                    expected[e][k][i] = f[k] * (mm == null ? 1 : mm[e][k][i]);
                    scale = Math.max(scale, Math.abs(expected[e][k][i]));
                }
            }
        }
        assertTrue(scale > 0, "a field of zeros checks nothing");
        double[][][] actual = cube(field, n, classes, v);
        for (int e = 0; e < n; e++) {
            for (int k = 0; k < classes; k++) {
                for (int i = 0; i < v; i++) {
                    assertEquals(expected[e][k][i], actual[e][k][i], 1e-12 * scale,
                            "example " + e + " class " + k + " voxel " + i);
                    if (mm != null && mm[e][k][i] == 0) {
                        assertEquals(0.0, actual[e][k][i], 0.0, "masked entries are exactly zero");
                    }
                }
            }
        }
        // the score is still the base loss's
        assertEquals(base.computeScore(y, z, act, m, false), surgery.computeScore(y, z, act, m, false), 0);
    }

    /** w = (a + b)/2 per (example, class) written out for each base, with DL4J's scale (E for a batch group). */
    private static double[][] weights(AbstractRegionLoss base, double[][][] p, double[][][] y, double[][][] m) {
        int n = p.length;
        int classes = p[0].length;
        boolean batch = base.getReduction() == Reduction.BATCH;
        double[][] inter = new double[n][classes];
        double[][] pSum = new double[n][classes];
        double[][] gSum = new double[n][classes];
        for (int e = 0; e < n; e++) {
            for (int k = 0; k < classes; k++) {
                for (int i = 0; i < p[e][k].length; i++) {
                    double mk = m == null ? 1 : m[e][k][i];
                    int row = batch ? 0 : e;
                    inter[row][k] += mk * p[e][k][i] * y[e][k][i];
                    pSum[row][k] += mk * p[e][k][i];
                    gSum[row][k] += mk * y[e][k][i];
                }
            }
        }
        int first = base.isIncludeBackground() ? 0 : 1;
        int kept = classes - first;
        double[][] w = new double[n][classes];
        for (int e = 0; e < n; e++) {
            int row = batch ? 0 : e;
            double scale = batch ? n : 1;
            if (base instanceof LossGeneralizedDice) {
                double[] v = new double[classes];
                double maxFinite = -1;
                for (int k = first; k < classes; k++) {
                    v[k] = 1 / (gSum[row][k] * gSum[row][k]);
                    if (Double.isFinite(v[k])) {
                        maxFinite = Math.max(maxFinite, v[k]);
                    }
                }
                double d = base.getSmoothDr();
                for (int k = first; k < classes; k++) {
                    v[k] = Double.isFinite(v[k]) ? v[k] : maxFinite < 0 ? 1 : maxFinite;
                    d += v[k] * (pSum[row][k] + gSum[row][k]);
                }
                for (int k = first; k < classes; k++) {
                    w[e][k] = scale * v[k] / d;
                }
                continue;
            }
            for (int k = first; k < classes; k++) {
                double i = inter[row][k];
                if (base instanceof LossTversky) {
                    LossTversky t = (LossTversky) base;
                    double fp = pSum[row][k] - i;
                    double fn = gSum[row][k] - i;
                    double den = i + t.getAlpha() * fp + t.getBeta() * fn + t.getSmoothDr();
                    double num = i + t.getSmoothNr();
                    w[e][k] = scale * (1 / den - (1 - t.getAlpha() - t.getBeta()) * num / (den * den)) / (2 * kept);
                } else {
                    w[e][k] = scale / (kept * (pSum[row][k] + gSum[row][k] + base.getSmoothDr()));
                }
            }
        }
        return w;
    }

    /** [N, C, spatial...] as [N][C][V]. */
    private static double[][][] cube(INDArray x, int n, int classes, int v) {
        INDArray r = x.dup('c').reshape('c', n, classes, v);
        double[][][] out = new double[n][classes][v];
        for (int e = 0; e < n; e++) {
            for (int k = 0; k < classes; k++) {
                for (int i = 0; i < v; i++) {
                    out[e][k][i] = r.getDouble(e, k, i);
                }
            }
        }
        return out;
    }

    // ---------------------------------------------------------------------------------------------------------
    // The fixed point.

    /** Regions of constant q: their true probabilities and sizes (q·size is a whole number). */
    private static final double[] Q = {0.04, 0.3, 0.5, 0.8, 0.96};
    private static final int[] SIZE = {6000, 1000, 1000, 1000, 1000};

    /** One example, one region after another along the voxels, labels with exactly q·size ones per region. */
    private static final class Testbed {
        final int voxels = java.util.Arrays.stream(SIZE).sum();
        final double[] fg = new double[voxels];
        final int[] region = new int[voxels];

        Testbed(long seed) {
            Random r = new Random(seed);
            int at = 0;
            for (int k = 0; k < Q.length; k++) {
                int ones = (int) Math.round(Q[k] * SIZE[k]);
                assertEquals(Q[k] * SIZE[k], ones, 1e-9);
                double[] part = new double[SIZE[k]];
                for (int i = 0; i < ones; i++) {
                    part[i] = 1;
                }
                for (int i = part.length - 1; i > 0; i--) {     // Fisher-Yates: a random draw with exact count
                    int j = r.nextInt(i + 1);
                    double t = part[i];
                    part[i] = part[j];
                    part[j] = t;
                }
                for (int i = 0; i < SIZE[k]; i++) {
                    fg[at] = part[i];
                    region[at++] = k;
                }
            }
        }

        /** Labels and logits [1, C, 1, V] with p = prob[region] for the foreground (C = 2: softmax, C = 1: sigmoid). */
        INDArray labels(boolean softmax) {
            INDArray y = Nd4j.create(DataType.DOUBLE, 1, softmax ? 2 : 1, 1, voxels);
            for (int i = 0; i < voxels; i++) {
                y.putScalar(new long[]{0, softmax ? 1 : 0, 0, i}, fg[i]);
                if (softmax) {
                    y.putScalar(new long[]{0, 0, 0, i}, 1 - fg[i]);
                }
            }
            return y;
        }

        INDArray logits(boolean softmax, double[] prob) {
            INDArray z = Nd4j.create(DataType.DOUBLE, 1, softmax ? 2 : 1, 1, voxels);
            for (int i = 0; i < voxels; i++) {
                double pi = prob[region[i]];
                z.putScalar(new long[]{0, softmax ? 1 : 0, 0, i}, Math.log(pi / (1 - pi)));
            }
            return z;
        }

        /** The mean field of the foreground logit per region, over the mean of its absolute value in the region. */
        double[] relativeMeans(INDArray field, boolean softmax) {
            double[] sum = new double[Q.length];
            double[] abs = new double[Q.length];
            for (int i = 0; i < voxels; i++) {
                double f = field.getDouble(0, softmax ? 1 : 0, 0, i);
                sum[region[i]] += f;
                abs[region[i]] += Math.abs(f);
            }
            double[] out = new double[Q.length];
            for (int k = 0; k < Q.length; k++) {
                out[k] = sum[k] / abs[k];
            }
            return out;
        }

        /**
         * Dice's a/b for the foreground logit at probabilities {@code prob}, by hand (smoothing included): per class
         * a = (2·den − num)/den², b = num/den² with num = 2I + s_nr, den = P + G + s_dr; for a two-class softmax the
         * class-mean removal gives the foreground logit a_1 + b_0 on foreground and b_1 + a_0 on background voxels.
         */
        double diceRatio(boolean softmax, double[] prob, LossDice dice) {
            double[] ab1 = diceWeights(prob, false, dice);
            if (!softmax) {
                return ab1[0] / ab1[1];
            }
            double[] ab0 = diceWeights(prob, true, dice);
            return (ab1[0] + ab0[1]) / (ab1[1] + ab0[0]);
        }

        private double[] diceWeights(double[] prob, boolean background, LossDice dice) {
            double i = 0;
            double p = 0;
            double g = 0;
            for (int v = 0; v < voxels; v++) {
                double pv = background ? 1 - prob[region[v]] : prob[region[v]];
                double yv = background ? 1 - fg[v] : fg[v];
                i += pv * yv;
                p += pv;
                g += yv;
            }
            double num = 2 * i + dice.getSmoothNr();
            double den = p + g + dice.getSmoothDr();
            return new double[]{(2 * den - num) / (den * den), num / (den * den)};
        }
    }

    static Stream<Arguments> fixedPointCases() {
        List<Arguments> c = new ArrayList<>();
        for (AbstractRegionLoss base : new AbstractRegionLoss[]{new LossDice(),
            LossTversky.builder().alpha(0.3).beta(0.7).build(), new LossGeneralizedDice()}) {
            for (boolean softmax : new boolean[]{true, false}) {
                if (base instanceof LossGeneralizedDice && !softmax) {
                    continue;   // one sigmoid channel: generalized Dice is Dice
                }
                c.add(Arguments.of(base, softmax));
            }
        }
        return c.stream();
    }

    @ParameterizedTest(name = "{0} softmax={1}")
    @MethodSource("fixedPointCases")
    void balancedFieldVanishesAtTheTrueProbabilityAndThePapersDoesNot(AbstractRegionLoss base, boolean softmax) {
        Testbed t = new Testbed(17);
        IActivation act = softmax ? new ActivationSoftmax() : new ActivationSigmoid();
        INDArray y = t.labels(softmax);
        INDArray z = t.logits(softmax, Q);
        GradientSurgery paper = GradientSurgery.wrap(base);
        GradientSurgery balanced = GradientSurgery.builder().base(base)
                .weighting(GradientSurgery.Weighting.BALANCED).build();
        double[] atQBalanced = t.relativeMeans(balanced.computeGradient(y, z, act, null), softmax);
        double[] atQPaper = t.relativeMeans(paper.computeGradient(y, z, act, null), softmax);
        for (int k = 0; k < Q.length; k++) {
            assertEquals(0.0, atQBalanced[k], 1e-9, "balanced, q = " + Q[k]);
            // a > b: at p = q the paper's field still pushes the foreground logit up (a negative gradient)
            assertTrue(atQPaper[k] < -0.05, "paper's field at p = q = " + Q[k] + ": " + atQPaper[k]);
        }
    }

    @ParameterizedTest(name = "softmax={0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {true, false})
    void papersDiceFieldVanishesAtTheBiasedFixedPointAndTheBalancedDoesNot(boolean softmax) {
        Testbed t = new Testbed(23);
        LossDice dice = new LossDice();
        IActivation act = softmax ? new ActivationSoftmax() : new ActivationSigmoid();
        INDArray y = t.labels(softmax);
        // p* = q·r/(q·r + 1 − q) with r = a/b measured at p* itself: iterate to the fixed point
        double[] star = Q.clone();
        double ratio = 1;
        for (int it = 0; it < 200; it++) {
            ratio = t.diceRatio(softmax, star, dice);
            double change = 0;
            for (int k = 0; k < Q.length; k++) {
                double next = Q[k] * ratio / (Q[k] * ratio + 1 - Q[k]);
                change = Math.max(change, Math.abs(next - star[k]));
                star[k] = next;
            }
            if (change < 1e-15) {
                break;
            }
        }
        assertTrue(ratio > 1.2, "the test needs a/b well above 1, got " + ratio);
        INDArray z = t.logits(softmax, star);
        double[] paper = t.relativeMeans(GradientSurgery.wrap(dice).computeGradient(y, z, act, null), softmax);
        double[] balanced = t.relativeMeans(GradientSurgery.builder().base(dice)
                .weighting(GradientSurgery.Weighting.BALANCED).build().computeGradient(y, z, act, null), softmax);
        for (int k = 0; k < Q.length; k++) {
            assertEquals(0.0, paper[k], 1e-9, "paper's field at p* = " + star[k] + " (q = " + Q[k] + ")");
            // p* > q: the balanced field w·(p − q) pulls the foreground logit back down
            assertTrue(balanced[k] > 0.05, "balanced field at p* = " + star[k] + ": " + balanced[k]);
        }
    }

    @Test
    void twoClassSoftmaxBalancedFieldIsAPerExampleWeightedCrossEntropyGradient() {
        long[] shape = {2, 2, 3, 3};
        INDArray z = logits(shape, 31);
        INDArray y = labels(shape, true, 32);
        IActivation act = new ActivationSoftmax();
        INDArray field = GradientSurgery.builder().base(new LossDice())
                .weighting(GradientSurgery.Weighting.BALANCED).build().computeGradient(y, z, act, null);
        INDArray ce = Nd4j.nn().softmax(z.dup(), 1).subi(y);    // softmax cross-entropy's logit gradient p − y
        for (int e = 0; e < shape[0]; e++) {
            INDArray ratio = field.slice(e).div(ce.slice(e));
            double first = ratio.getDouble(0);
            assertTrue(first > 0);
            assertEquals(0.0, ratio.sub(first).amaxNumber().doubleValue(), 1e-12 * first,
                    "one positive weight per example");
        }
    }

    @Test
    void onlyRegionBasesAndAWeightingAreAccepted() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> GradientSurgery.builder()
                .base(new LossMCXENT()).weighting(GradientSurgery.Weighting.BALANCED).build());
        assertTrue(e.getMessage().contains("BALANCED") && e.getMessage().contains("LossMCXENT"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> GradientSurgery.builder().base(new LossDice())
                .weighting(null).build());
        assertEquals(GradientSurgery.Weighting.BASE, GradientSurgery.wrap(new LossDice()).getWeighting());
    }
}
