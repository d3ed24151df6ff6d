package org.gradsurgery.loss;

import static org.gradsurgery.loss.LossFixtures.labels;
import static org.gradsurgery.loss.LossFixtures.logits;
import static org.gradsurgery.loss.LossFixtures.mask;
import static org.gradsurgery.loss.LossFixtures.maxRelativeError;
import static org.gradsurgery.loss.LossFixtures.numericGradient;
import static org.gradsurgery.loss.LossFixtures.rows;
import static org.gradsurgery.loss.LossFixtures.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
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
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;

/**
 * The surgery field against its definition, with g_p = ∂(score)/∂p obtained independently: central differences of
 * the base loss's unaveraged score called with an identity activation on p. Then
 * <pre>
 *   LOGITS:         f = g_p ⊙ |y − p|^γ, minus its class mean at each voxel for softmax
 *   PROBABILITIES:  J_activationᵀ (g_p ⊙ |y − p|^γ)
 * </pre>
 * and everything masked is exactly zero. The reference below is plain Java on double arrays, sharing no code with
 * the implementation.
 */
@ExtendWith(DoublePrecisionTinyArrays.class)
class GradientSurgeryTest {

    private static final IActivation IDENTITY = new ActivationIdentity();

    static Stream<Arguments> cases() {
        List<Arguments> c = new ArrayList<>();
        ILossFunction[] bases = {new LossDice(), LossGeneralizedDice.builder().includeBackground(false).build(),
                LossFocalTversky.builder().reduction(Reduction.BATCH).beta(0.7).build(),
                LossJaccard.builder().squaredPred(true).build(), new LossTversky(), new LossMCXENT()};
        int i = 0;
        for (ILossFunction base : bases) {
            for (boolean softmax : new boolean[]{true, false}) {
                if (base instanceof LossMCXENT && !softmax) {
                    continue;
                }
                for (GradientSurgery.Space space : GradientSurgery.Space.values()) {
                    // rotate exponent, rank and mask through the cases so each appears with every base
                    double exponent = new double[]{1, 2, 0.5}[i % 3];
                    int rank = new int[]{4, 5, 2}[(i / 3 + i) % 3];
                    String masking = new String[]{"none", "perVoxel", "perClass"}[(i + 1) % 3];
                    c.add(Arguments.of(base, softmax, space, exponent, rank, masking));
                    i++;
                }
            }
        }
        return c.stream();
    }

    @ParameterizedTest(name = "{0} softmax={1} {2} gamma={3} rank {4} mask {5}")
    @MethodSource("cases")
    void fieldEqualsErrorWeightedProbabilityGradient(ILossFunction base, boolean softmax,
                                                     GradientSurgery.Space space, double exponent, int rank,
                                                     String masking) {
        long[] shape = shape(rank == 5 ? 3 : 2);
        INDArray z = logits(shape, 100 + rank);
        INDArray y = labels(shape, softmax, 200 + rank);
        INDArray m = masking.equals("none") ? null : mask(shape, masking.equals("perClass"), 300 + rank);
        if (rank == 2) {
            z = rows(z);
            y = rows(y);
            m = m == null ? null : rows(m);
            shape = z.shape();
        }
        IActivation act = softmax ? new ActivationSoftmax() : new ActivationSigmoid();
        GradientSurgery surgery = GradientSurgery.builder().base(base).exponent(exponent).space(space).build();
        INDArray field = surgery.computeGradient(y, z, act, m);
        assertArrayEquals(shape, field.shape());

        // Independent reference. p as a [R, C] matrix with the classes in the columns.
        INDArray p = softmax ? Nd4j.nn().softmax(z.dup(), 1) : Nd4j.nn().sigmoid(z.dup());
        INDArray yy = y;
        INDArray mm = m;
        // The surgery's score is the base's (for a plain DL4J base at rank 4/5: its per-example voxel mean)
        INDArray gp = numericGradient(p.dup(), x -> surgery.computeScore(yy, x.dup(), IDENTITY, mm, false));
        double[][] pr = asRows(p);
        double[][] yr = asRows(y);
        double[][] gr = asRows(gp);
        double[][] mr = m == null ? null : asRows(m.size(1) == 1 ? m.broadcast(shape) : m);
        int classes = (int) shape[1];
        double[][] expected = new double[pr.length][classes];
        for (int r = 0; r < pr.length; r++) {
            double[] f = new double[classes];
            for (int k = 0; k < classes; k++) {
                f[k] = gr[r][k] * Math.pow(Math.abs(yr[r][k] - pr[r][k]), exponent);
            }
            if (space == GradientSurgery.Space.LOGITS) {
                if (softmax) {
                    double mean = 0;
                    for (double v : f) {
                        mean += v / classes;
                    }
                    for (int k = 0; k < classes; k++) {
                        f[k] -= mean;
                    }
                }
            } else if (softmax) {
                double inner = 0;
                for (int k = 0; k < classes; k++) {
                    inner += pr[r][k] * f[k];
                }
                for (int k = 0; k < classes; k++) {
                    f[k] = pr[r][k] * (f[k] - inner);
                }
            } else {
                for (int k = 0; k < classes; k++) {
                    f[k] *= pr[r][k] * (1 - pr[r][k]);
                }
            }
            for (int k = 0; k < classes; k++) {
                expected[r][k] = mr == null ? f[k] : f[k] * mr[r][k];
            }
        }
        double[][] actual = asRows(field);
        for (int r = 0; r < pr.length; r++) {
            for (int k = 0; k < classes; k++) {
                double e = expected[r][k];
                double a = actual[r][k];
                assertEquals(e, a, 1e-7 * Math.max(1, Math.abs(e)), "row " + r + " class " + k);
                if (mr != null && mr[r][k] == 0) {
                    assertTrue(a == 0.0, "masked entry row " + r + " class " + k + " must be exactly zero: " + a);
                }
            }
        }
        if (space == GradientSurgery.Space.LOGITS && softmax && m == null) {
            // free of a common logit drift
            assertEquals(0.0, field.sum(1).amaxNumber().doubleValue(), 1e-12);
        }
        // the score is the base loss's, unchanged
        if (base instanceof SpatialLossFunction || rank == 2) {
            assertEquals(base.computeScore(y, z, act, m, false), surgery.computeScore(y, z, act, m, false), 0);
            assertEquals(base.computeScore(y, z, act, m, true), surgery.computeScore(y, z, act, m, true), 0);
            assertEquals(base.computeScoreArray(y, z, act, m), surgery.computeScoreArray(y, z, act, m));
        } else {
            double perRowSum = base.computeScore(rows(y), rows(z), act, m == null ? null : rows(m), false);
            assertEquals(perRowSum / LossFixtures.voxels(shape), surgery.computeScore(y, z, act, m, false), 1e-12);
        }
        assertEquals(surgery.computeScore(y, z, act, m, false),
                surgery.computeGradientAndScore(y, z, act, m, false).getFirst(), 0);
        assertEquals(field, surgery.computeGradientAndScore(y, z, act, m, false).getSecond());
    }

    /** Any layout to rows [R, C] with the classes in the columns (rank 2 stays as it is). */
    private static double[][] asRows(INDArray x) {
        return (x.rank() == 2 ? x : rows(x)).toDoubleMatrix();
    }

    @Test
    void theFieldIsNotTheBaseGradientAndScalesWithTheError() {
        long[] shape = shape(2);
        INDArray z = logits(shape, 5);
        INDArray y = labels(shape, false, 6);
        IActivation act = new ActivationSigmoid();
        LossDice dice = new LossDice();
        INDArray field = GradientSurgery.wrap(dice).computeGradient(y, z, act, null);
        assertNotEquals(dice.computeGradient(y, z, act, null), field);
        // sigmoid: the base gradient is g_p·p(1−p) and the field g_p·|y−p|, so their ratio is |y−p| / (p(1−p))
        INDArray p = Nd4j.nn().sigmoid(z.dup());
        INDArray ratio = field.div(dice.computeGradient(y, z, act, null));
        INDArray expected = Nd4j.math().abs(y.sub(p)).divi(p.mul(p.rsub(1)));
        assertTrue(maxRelativeError(expected, ratio) < 1e-10);
        // γ = 2 is the γ = 1 field times |y − p| once more
        INDArray squared = GradientSurgery.wrap(dice, 2).computeGradient(y, z, act, null);
        assertTrue(maxRelativeError(field.mul(Nd4j.math().abs(y.sub(p))), squared) < 1e-12);
    }

    @Test
    void compoundLossAppliesTheSurgeryToTheRegionTermOnly() {
        long[] shape = shape(3);
        INDArray z = logits(shape, 41);
        INDArray y = labels(shape, true, 42);
        INDArray m = mask(shape, false, 43);
        IActivation act = new ActivationSoftmax();
        GradientSurgery surgery = GradientSurgery.wrap(new LossDice());
        LossWeightedSum sum = LossWeightedSum.builder().add(1.0, surgery).add(0.5, new LossMCXENT()).build();

        // score: Dice score + 0.5·Σ_n mean_v CE(n, v), cross-entropy by hand over the masked voxels
        double[][] p = rows(Nd4j.nn().softmax(z.dup(), 1)).toDoubleMatrix();
        double[][] yr = rows(y).toDoubleMatrix();
        double[][] mr = rows(m).toDoubleMatrix();
        long v = LossFixtures.voxels(shape);
        double ce = 0;
        for (int r = 0; r < p.length; r++) {
            for (int k = 0; k < shape[1]; k++) {
                ce -= mr[r][0] * yr[r][k] * Math.log(p[r][k]);
            }
        }
        ce /= v;
        double dice = new LossDice().computeScore(y, z, act, m, false);
        assertEquals(dice + 0.5 * ce, sum.computeScore(y, z, act, m, false), 1e-12);
        assertEquals((dice + 0.5 * ce) / shape[0], sum.computeScore(y, z, act, m, true), 1e-12);
        assertEquals(dice + 0.5 * ce, sum.computeScoreArray(y, z, act, m).sumNumber().doubleValue(), 1e-12);

        // gradient: the surgery field of the Dice term plus 0.5·(p − y)·m/V, cross-entropy's own softmax gradient
        INDArray expected = surgery.computeGradient(y, z, act, m);
        INDArray ceGrad = Nd4j.nn().softmax(z.dup(), 1).subi(y).muli(m).divi(v).muli(0.5);
        assertTrue(maxRelativeError(expected.add(ceGrad), sum.computeGradient(y, z, act, m)) < 1e-12);
        // and the cross-entropy term keeps the Jacobian: wrapping the sum is a different field
        assertNotEquals(GradientSurgery.wrap(LossWeightedSum.builder().add(1.0, new LossDice())
                .add(0.5, new LossMCXENT()).build()).computeGradient(y, z, act, m), sum.computeGradient(y, z, act, m));
    }

    @Test
    void wrappingTwiceIsRefusedAndOptionsAreValidated() {
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> GradientSurgery.wrap(GradientSurgery.wrap(new LossDice())));
        assertTrue(e.getMessage().contains("GradientSurgery"));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> GradientSurgery.wrap(new LossDice(), -1));
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> GradientSurgery.builder().build());
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> GradientSurgery.builder().base(new LossDice()).space(null).build());
    }
}
