package org.gradsurgery.loss;

import static org.gradsurgery.loss.LossFixtures.labels;
import static org.gradsurgery.loss.LossFixtures.logits;
import static org.gradsurgery.loss.LossFixtures.mask;
import static org.gradsurgery.loss.LossFixtures.rows;
import static org.gradsurgery.loss.LossFixtures.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import org.gradsurgery.layers.DoublePrecisionTinyArrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Forward values: hand-computed closed forms on a tiny example, an independent plain-Java implementation of MONAI's
 * documented {@code DiceLoss} / {@code GeneralizedDiceLoss} definitions (smooth_nr, smooth_dr, squared_pred,
 * batch, include_background), the Generalized Dice weight rules, DL4J's scale convention, rank-2 calls as BATCH,
 * and finite values for absent classes and all-masked examples.
 */
@ExtendWith(DoublePrecisionTinyArrays.class)
class RegionLossValueTest {

    private static final IActivation IDENTITY = new ActivationIdentity();
    private static final double TOL = 1e-12;

    /** One example, one class, two voxels: p = (0.8, 0.4), y = (1, 0), so I = 0.8, P = 1.2, G = 1, FP = 0.4, FN = 0.2. */
    private static final INDArray P = Nd4j.createFromArray(0.8, 0.4).reshape(1, 1, 1, 2);
    private static final INDArray Y = Nd4j.createFromArray(1.0, 0.0).reshape(1, 1, 1, 2);

    private static double value(AbstractRegionLoss loss) {
        return loss.computeScore(Y, P.dup(), IDENTITY, null, true);
    }

    @Test
    void closedFormsOnAHandExample() {
        assertEquals(1 - 1.6 / 2.2, value(LossDice.builder().smoothNr(0).smoothDr(0).build()), TOL);
        // MONAI's defaults 1e-5 enter numerator and denominator
        assertEquals(1 - (1.6 + 1e-5) / (2.2 + 1e-5), value(new LossDice()), TOL);
        assertEquals(1 - (1.6 + 1) / (2.2 + 2), value(LossDice.builder().smoothNr(1).smoothDr(2).build()), TOL);
        // squaredPred: P = 0.64 + 0.16, G = 1
        assertEquals(1 - 1.6 / 1.8, value(LossDice.builder().squaredPred(true).smoothNr(0).smoothDr(0).build()),
                TOL);
        assertEquals(1 - 0.8 / 1.4, value(LossJaccard.builder().smoothNr(0).smoothDr(0).build()), TOL);
        // Tversky with α = β = 0.5 is Dice; α = 0.3, β = 0.7: t = 0.8 / (0.8 + 0.12 + 0.14)
        assertEquals(1 - 1.6 / 2.2, value(LossTversky.builder().smoothNr(0).smoothDr(0).build()), TOL);
        double t = 0.8 / 1.06;
        assertEquals(1 - t, value(LossTversky.builder().alpha(0.3).beta(0.7).smoothNr(0).smoothDr(0).build()), TOL);
        assertEquals(Math.pow(1 - t, 0.75), value(LossFocalTversky.builder().alpha(0.3).beta(0.7).smoothNr(0)
                .smoothDr(0).build()), TOL);
        assertEquals(Math.pow(1 - t, 2), value(LossFocalTversky.builder().alpha(0.3).beta(0.7).gamma(2)
                .smoothNr(0).smoothDr(0).build()), TOL);
        // α = β = 1 is Jaccard
        assertEquals(1 - 0.8 / 1.4, value(LossTversky.builder().alpha(1).beta(1).smoothNr(0).smoothDr(0).build()),
                TOL);
        // Generalized Dice with one class: the weight cancels, Dice's ratio
        assertEquals(1 - 1.6 / 2.2, value(LossGeneralizedDice.builder().smoothNr(0).smoothDr(0).build()), TOL);
    }

    @Test
    void defaultsAreTheIssuesAndMonais() {
        for (AbstractRegionLoss l : new AbstractRegionLoss[]{new LossDice(), new LossJaccard(), new LossTversky(),
                new LossFocalTversky(), new LossGeneralizedDice()}) {
            assertEquals(Reduction.SAMPLE, l.getReduction());
            assertTrue(l.isIncludeBackground());
            assertEquals(1e-5, l.getSmoothNr());
            assertEquals(1e-5, l.getSmoothDr());
            assertEquals(false, l.isSquaredPred());
            assertTrue(l.isCheckFinite());
        }
        assertEquals(0.5, new LossTversky().getAlpha());
        assertEquals(0.5, new LossTversky().getBeta());
        assertEquals(0.75, new LossFocalTversky().getGamma());
        assertEquals(new LossDice(), LossDice.builder().reduction(Reduction.SAMPLE).includeBackground(true)
                .smoothNr(1e-5).smoothDr(1e-5).squaredPred(false).build());
        assertEquals(1.0, GradientSurgery.wrap(new LossDice()).getExponent());
        assertEquals(GradientSurgery.Space.LOGITS, GradientSurgery.wrap(new LossDice()).getSpace());
    }

    /** Plain-Java MONAI DiceLoss (sigmoid/softmax applied beforehand, reduction="mean"). */
    static double monaiDice(double[][][] p, double[][][] y, double nr, double dr, boolean squared, boolean batch,
                            boolean background) {
        int n = p.length;
        int c = p[0].length;
        int first = background ? 0 : 1;
        double total = 0;
        int groups = 0;
        for (int k = first; k < c; k++) {
            double[] i = new double[n];
            double[] den = new double[n];
            for (int e = 0; e < n; e++) {
                for (int v = 0; v < p[e][k].length; v++) {
                    i[e] += p[e][k][v] * y[e][k][v];
                    den[e] += squared ? p[e][k][v] * p[e][k][v] + y[e][k][v] * y[e][k][v] : p[e][k][v] + y[e][k][v];
                }
            }
            if (batch) {
                double bi = 0;
                double bd = 0;
                for (int e = 0; e < n; e++) {
                    bi += i[e];
                    bd += den[e];
                }
                total += 1 - (2 * bi + nr) / (bd + dr);
                groups++;
            } else {
                for (int e = 0; e < n; e++) {
                    total += 1 - (2 * i[e] + nr) / (den[e] + dr);
                    groups++;
                }
            }
        }
        return total / groups;
    }

    /**
     * Plain-Java Generalized Dice per the issue (weights from the k = 1 label volume; absent → largest finite of the
     * example or batch; all absent → 1), mean of 1 − gd over examples (SAMPLE) or one gd (BATCH).
     */
    static double referenceGdl(double[][][] p, double[][][] y, double nr, double dr, boolean squared, boolean batch,
                               boolean background) {
        int n = p.length;
        int c = p[0].length;
        int first = background ? 0 : 1;
        double[][] i = new double[n][c];
        double[][] den = new double[n][c];
        double[][] vol = new double[n][c];
        for (int e = 0; e < n; e++) {
            for (int k = 0; k < c; k++) {
                for (int v = 0; v < p[e][k].length; v++) {
                    i[e][k] += p[e][k][v] * y[e][k][v];
                    den[e][k] += squared ? p[e][k][v] * p[e][k][v] + y[e][k][v] * y[e][k][v]
                            : p[e][k][v] + y[e][k][v];
                    vol[e][k] += y[e][k][v];
                }
            }
        }
        if (batch) {
            for (int e = 1; e < n; e++) {
                for (int k = 0; k < c; k++) {
                    i[0][k] += i[e][k];
                    den[0][k] += den[e][k];
                    vol[0][k] += vol[e][k];
                }
            }
            n = 1;
        }
        double total = 0;
        for (int e = 0; e < n; e++) {
            double maxFinite = 0;
            boolean anyFinite = false;
            for (int k = first; k < c; k++) {
                if (vol[e][k] > 0) {
                    maxFinite = Math.max(maxFinite, 1 / (vol[e][k] * vol[e][k]));
                    anyFinite = true;
                }
            }
            double num = nr;
            double d = dr;
            for (int k = first; k < c; k++) {
                double w = vol[e][k] > 0 ? 1 / (vol[e][k] * vol[e][k]) : anyFinite ? maxFinite : 1;
                num += 2 * w * i[e][k];
                d += w * den[e][k];
            }
            total += 1 - num / d;
        }
        return total / n;
    }

    static double[][][] canonical(INDArray x) {
        int n = (int) x.size(0);
        int c = (int) x.size(1);
        int v = (int) (x.length() / n / c);
        double[] flat = x.dup('c').data().asDouble();
        double[][][] r = new double[n][c][v];
        for (int e = 0; e < n; e++) {
            for (int k = 0; k < c; k++) {
                System.arraycopy(flat, (e * c + k) * v, r[e][k], 0, v);
            }
        }
        return r;
    }

    static Stream<Arguments> monaiSettings() {
        Stream.Builder<Arguments> s = Stream.builder();
        for (boolean squared : new boolean[]{false, true}) {
            for (boolean batch : new boolean[]{false, true}) {
                for (boolean background : new boolean[]{false, true}) {
                    for (boolean softmax : new boolean[]{false, true}) {
                        s.add(Arguments.of(squared, batch, background, softmax));
                    }
                }
            }
        }
        return s.build();
    }

    @ParameterizedTest(name = "squared={0} batch={1} background={2} softmax={3}")
    @MethodSource("monaiSettings")
    void diceAndGeneralizedDiceMatchMonaisDefinitions(boolean squared, boolean batch, boolean background,
                                                      boolean softmax) {
        long[] shape = {3, 3, 2, 1, 3};
        INDArray z = logits(shape, 7);
        INDArray y = labels(shape, softmax, 8);
        IActivation act = softmax ? new ActivationSoftmax() : new ActivationSigmoid();
        double[][][] p = canonical(softmax ? Nd4j.nn().softmax(z.dup(), 1) : Nd4j.nn().sigmoid(z.dup()));
        double[][][] labels = canonical(y);
        Reduction red = batch ? Reduction.BATCH : Reduction.SAMPLE;

        LossDice dice = LossDice.builder().smoothNr(0.1).smoothDr(0.3).squaredPred(squared).reduction(red)
                .includeBackground(background).build();
        assertEquals(monaiDice(p, labels, 0.1, 0.3, squared, batch, background),
                dice.computeScore(y, z, act, null, true), TOL);
        LossGeneralizedDice gdl = LossGeneralizedDice.builder().smoothNr(0.1).smoothDr(0.3).squaredPred(squared)
                .reduction(red).includeBackground(background).build();
        assertEquals(referenceGdl(p, labels, 0.1, 0.3, squared, batch, background),
                gdl.computeScore(y, z, act, null, true), TOL);
    }

    @Test
    void generalizedDiceWeightRules() {
        // Volumes 2, 0 (absent) and 4: weights 1/4, the largest finite 1/4 for the absent class, 1/16.
        double[] w = LossGeneralizedDice.weights(new double[]{2, 0, 4}, 0);
        assertArrayEquals(new double[]{0.25, 0.25, 1.0 / 16}, w, 0);
        // Background excluded: the absent class takes the largest finite weight of the kept classes only.
        w = LossGeneralizedDice.weights(new double[]{0.5, 0, 4}, 1);
        assertEquals(1.0 / 16, w[1], 0);
        assertEquals(1.0 / 16, w[2], 0);
        // All absent: all 1.
        assertArrayEquals(new double[]{1, 1}, LossGeneralizedDice.weights(new double[]{0, 0}, 0), 0);
    }

    @Test
    void generalizedDiceAbsentClassTakesTheLargestFiniteWeightOfItsExampleOrTheBatch() {
        // Example 0: class 0 on both voxels, class 1 absent. Example 1: class 1 on one voxel, class 0 on the other.
        INDArray y = Nd4j.createFromArray(new double[][][]{{{1, 1}, {0, 0}}, {{1, 0}, {0, 1}}}).reshape(2, 2, 1, 2);
        INDArray p = Nd4j.createFromArray(new double[][][]{{{0.7, 0.6}, {0.3, 0.4}}, {{0.9, 0.2}, {0.1, 0.8}}})
                .reshape(2, 2, 1, 2);
        LossGeneralizedDice sample = LossGeneralizedDice.builder().smoothNr(0).smoothDr(0).build();
        // example 0: w = (1/4, 1/4); I = (1.3, 0), P+G = (3.3, 0.7). example 1: w = (1, 1); I = (0.9, 0.8),
        // P+G = (2.1, 1.9)
        double gd0 = 2 * (0.25 * 1.3) / (0.25 * 3.3 + 0.25 * 0.7);
        double gd1 = 2 * (0.9 + 0.8) / (2.1 + 1.9);
        assertEquals(((1 - gd0) + (1 - gd1)) / 2, sample.computeScore(y, p.dup(), IDENTITY, null, true), TOL);
        assertEquals(2 - gd0 - gd1, sample.computeScore(y, p.dup(), IDENTITY, null, false), TOL);
        INDArray perExample = sample.computeScoreArray(y, p.dup(), IDENTITY, null);
        assertEquals(1 - gd0, perExample.getDouble(0), TOL);
        assertEquals(1 - gd1, perExample.getDouble(1), TOL);
        // BATCH: volumes (3, 1), w = (1/9, 1); I = (2.2, 0.8), P+G = (5.4, 2.6)
        LossGeneralizedDice batch = LossGeneralizedDice.builder().smoothNr(0).smoothDr(0).reduction(Reduction.BATCH)
                .build();
        double gd = 2 * (2.2 / 9 + 0.8) / (5.4 / 9 + 2.6);
        assertEquals(1 - gd, batch.computeScore(y, p.dup(), IDENTITY, null, true), TOL);
        // Everything masked in example 0 except voxel 0: its class 1 is absent; all-absent example → weights 1.
        INDArray allAbsent = Nd4j.zeros(2, 2, 1, 2);
        double v = sample.computeScore(allAbsent, p.dup(), IDENTITY, null, true);
        // w = 1 everywhere, I = 0: gd = 0 for each example
        assertEquals(1.0, v, TOL);
    }

    @Test
    void generalizedDiceWeightsCarryNoGradient() {
        // With weights held constant, ∂L/∂p_c,v = −2·w_c·y/den + num·w_c/den² (k = 1). Labels do not depend on p, so
        // this is only a check that the gradient is not differentiated through a weight computed from P.
        INDArray y = Nd4j.createFromArray(new double[][][]{{{1, 0, 0}, {0, 1, 1}}}).reshape(1, 2, 1, 3);
        INDArray p = Nd4j.createFromArray(new double[][][]{{{0.6, 0.3, 0.2}, {0.4, 0.7, 0.8}}}).reshape(1, 2, 1, 3);
        LossGeneralizedDice gdl = LossGeneralizedDice.builder().smoothNr(0).smoothDr(0).build();
        double[] w = {1, 0.25};
        double[][] pp = p.reshape(2, 3).toDoubleMatrix();
        double[][] yy = y.reshape(2, 3).toDoubleMatrix();
        double num = 0;
        double den = 0;
        for (int c = 0; c < 2; c++) {
            for (int v = 0; v < 3; v++) {
                num += 2 * w[c] * pp[c][v] * yy[c][v];
                den += w[c] * (pp[c][v] + yy[c][v]);
            }
        }
        INDArray g = gdl.computeGradient(y, p.dup(), IDENTITY, null).reshape(2, 3);
        for (int c = 0; c < 2; c++) {
            for (int v = 0; v < 3; v++) {
                double expected = -2 * w[c] * yy[c][v] / den + num * w[c] / (den * den);
                assertEquals(expected, g.getDouble(c, v), TOL);
            }
        }
    }

    @Test
    void dl4jScaleConventionAtRank4And5() {
        for (int dims : new int[]{2, 3}) {
            long[] shape = shape(dims);
            INDArray z = logits(shape, 11);
            INDArray y = labels(shape, true, 12);
            LossDice dice = new LossDice();
            IActivation act = new ActivationSoftmax();
            double mean = dice.computeScore(y, z, act, null, true);
            double[][][] p = canonical(Nd4j.nn().softmax(z.dup(), 1));
            assertEquals(monaiDice(p, canonical(y), 1e-5, 1e-5, false, false, true), mean, TOL);
            assertEquals(shape[0] * mean, dice.computeScore(y, z, act, null, false), TOL);
            // one value per example, each the example alone
            INDArray perExample = dice.computeScoreArray(y, z, act, null);
            for (int e = 0; e < shape[0]; e++) {
                INDArray ye = y.slice(e).reshape(prepend1(y.slice(e).shape())).dup();
                INDArray ze = z.slice(e).reshape(prepend1(z.slice(e).shape())).dup();
                assertEquals(dice.computeScore(ye, ze, act, null, true), perExample.getDouble(e, 0), TOL);
            }
        }
    }

    private static long[] prepend1(long[] s) {
        long[] r = new long[s.length + 1];
        r[0] = 1;
        System.arraycopy(s, 0, r, 1, s.length);
        return r;
    }

    @Test
    void rank2CallsBehaveAsBatchGroups() {
        long[] shape = shape(2);
        INDArray z = logits(shape, 21);
        INDArray y = labels(shape, true, 22);
        INDArray m = mask(shape, false, 23);
        long rowsCount = z.length() / shape[1];
        long v = rowsCount / shape[0];
        IActivation act = new ActivationSoftmax();
        for (AbstractRegionLoss sampleLoss : new AbstractRegionLoss[]{new LossDice(), new LossGeneralizedDice(),
                LossFocalTversky.builder().beta(0.7).build()}) {
            AbstractRegionLoss batchLoss = sampleLoss instanceof LossDice
                    ? LossDice.builder().reduction(Reduction.BATCH).build()
                    : sampleLoss instanceof LossGeneralizedDice
                    ? LossGeneralizedDice.builder().reduction(Reduction.BATCH).build()
                    : LossFocalTversky.builder().beta(0.7).reduction(Reduction.BATCH).build();
            double batchValue = batchLoss.computeScore(y, z, act, m, true);
            // A SAMPLE loss on the rows CnnLossLayer passes ([N·V, C]) gives the BATCH value, with E = rows
            double rowsValue = sampleLoss.computeScore(rows(y), rows(z), act, rows(m), true);
            assertEquals(batchValue, rowsValue, TOL, sampleLoss.toString());
            assertEquals(rowsCount * batchValue, sampleLoss.computeScore(rows(y), rows(z), act, rows(m), false),
                    1e-10);
            assertTrue(Math.abs(batchValue - sampleLoss.computeScore(y, z, act, m, true)) > 1e-6,
                    "SAMPLE and BATCH differ on these tensors, so the comparison above means something");
            // gradient: rows·∂L/∂z at rank 2, N·∂L/∂z at rank 4, so V times the rank-4 BATCH gradient
            INDArray g2 = sampleLoss.computeGradient(rows(y), rows(z), act, rows(m));
            INDArray g4 = batchLoss.computeGradient(y, z, act, m);
            assertTrue(LossFixtures.maxRelativeError(g2, rows(g4).muli(v)) < 1e-12);
            INDArray perRow = sampleLoss.computeScoreArray(rows(y), rows(z), act, rows(m));
            assertArrayEquals(new long[]{rowsCount, 1}, perRow.shape());
            assertEquals(batchValue, perRow.getDouble(3, 0), TOL);
        }
    }

    @Test
    void absentClassesAndAllMaskedExamplesGiveFiniteValues() {
        long[] shape = shape(3);
        INDArray z = logits(shape, 31);
        INDArray y = Nd4j.zeros(shape);
        INDArray m = Nd4j.zeros(shape[0], 1, shape[2], shape[3], shape[4]);
        for (AbstractRegionLoss loss : new AbstractRegionLoss[]{new LossDice(), new LossJaccard(), new LossTversky(),
                new LossFocalTversky(), new LossGeneralizedDice(),
                LossDice.builder().reduction(Reduction.BATCH).includeBackground(false).build()}) {
            for (IActivation act : new IActivation[]{new ActivationSigmoid(), new ActivationSoftmax()}) {
                for (INDArray mask : new INDArray[]{null, m}) {
                    double s = loss.computeScore(y, z, act, mask, false);
                    assertTrue(Double.isFinite(s), loss + " " + act + " score " + s);
                    for (double g : loss.computeGradient(y, z, act, mask).data().asDouble()) {
                        assertTrue(Double.isFinite(g), loss + " " + act + " gradient " + g);
                    }
                    if (mask != null) {
                        // nothing visible: I = P = G = FP = FN = 0, so the value is 1 − s_nr/s_dr = 0 (1 − 1 for GDL)
                        assertEquals(0.0, s, TOL, loss.toString());
                        assertEquals(0.0, loss.computeGradient(y, z, act, mask).amaxNumber().doubleValue(), 0);
                    }
                }
            }
        }
    }
}
