package org.gradsurgery.loss;

import static org.gradsurgery.loss.LossFixtures.numericGradient;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;
import org.nd4j.linalg.ops.transforms.Transforms;

class LossCrossEntropyTest {

    @Test
    void scoreIsThePerVoxelMeanAndTheGradientMatchesIt() {
        for (int dims : new int[]{2, 3}) {
            long[] shape = LossFixtures.shape(dims);
            INDArray z = LossFixtures.logits(shape, 11);
            INDArray y = LossFixtures.labels(shape, true, 12);
            long n = shape[0];
            long v = LossFixtures.voxels(shape);
            LossCrossEntropy ce = new LossCrossEntropy();
            // hand: −Σ y ln softmax(z) over everything, / V per example
            double hand = -Transforms.log(softmaxAxis1(z), true).mul(y).sumNumber().doubleValue() / v;
            assertEquals(hand, ce.computeScore(y, z, new ActivationSoftmax(), null, false), 1e-9 * Math.abs(hand));
            assertEquals(hand / n, ce.computeScore(y, z, new ActivationSoftmax(), null, true), 1e-9 * Math.abs(hand));
            assertEquals(hand, ce.computeScoreArray(y, z, new ActivationSoftmax(), null).sumNumber().doubleValue(),
                    1e-9 * Math.abs(hand));
            double summed = new LossMCXENT().computeScore(LossFixtures.rows(y), LossFixtures.rows(z),
                    new ActivationSoftmax(), null, false);
            assertEquals(summed / v, hand, 1e-9 * Math.abs(hand), "DL4J's sum over voxels, divided by V");
            assertNotEquals(summed, hand, 1e-3);
            INDArray g = ce.computeGradient(y, z, new ActivationSoftmax(), null);
            INDArray num = numericGradient(z, x -> ce.computeScore(y, x, new ActivationSoftmax(), null, false));
            assertTrue(LossFixtures.maxRelativeError(g, num) < 1e-5, "rank " + (dims + 2));
        }
    }

    @Test
    void isTheLossKindMcxentAndRoundTripsThroughItsSpec() {
        assertTrue(LossKind.MCXENT.build(false, Reduction.BATCH, 0.5, 0.5) instanceof LossCrossEntropy);
        assertEquals("mcxent", LossSpec.describing(new LossCrossEntropy()).orElseThrow().toString());
        assertNotEquals(new LossMCXENT(), new LossCrossEntropy());
    }

    private static INDArray softmaxAxis1(INDArray z) {
        INDArray e = Transforms.exp(z.sub(z.max(true, 1)), false);
        return e.divi(e.sum(true, 1));
    }
}
