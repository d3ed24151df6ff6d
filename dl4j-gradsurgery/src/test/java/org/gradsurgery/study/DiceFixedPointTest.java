package org.gradsurgery.study;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.gradsurgery.loss.LossDice;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class DiceFixedPointTest {

    @Test
    void ratioByHand() {
        // p = .9,.6 on the two foreground voxels, .2,.3 on background: I = 1.5, S = 2.0 + 2 = 4, (S-I)/I = 2.5/1.5
        float[] p = {0.9f, 0.6f, 0.2f, 0.3f};
        boolean[] y = {true, true, false, false};
        assertEquals(2.5 / 1.5, DiceFixedPoint.weightRatio(p, y), 1e-6);
        assertTrue(Double.isNaN(DiceFixedPoint.weightRatio(new float[] {0, 1}, new boolean[] {true, false})));
    }

    @Test
    void fixedPointIsQWhenTheWeightsAreEqualAndMovesWithTheRatio() {
        assertEquals(0.3, DiceFixedPoint.fixedPoint(0.3, 1.0), 1e-12);
        // r = 3, q = 0.5: 1.5 / (1.5 + 0.5)
        assertEquals(0.75, DiceFixedPoint.fixedPoint(0.5, 3.0), 1e-12);
        assertEquals(0.0, DiceFixedPoint.fixedPoint(0.0, 3.0), 1e-12);
        assertEquals(1.0, DiceFixedPoint.fixedPoint(1.0, 3.0), 1e-12);
    }

    @Test
    void ratioMatchesTheProjectsDiceGradient() {
        // one class-1 channel of a 2-class softmax problem: the loss's own dL/dp at a foreground and a background
        // voxel of class 1 must be in the ratio -a : b
        float[] p1 = {0.9f, 0.6f, 0.2f, 0.3f};
        boolean[] y1 = {true, true, false, false};
        INDArray probs = Nd4j.create(DataType.DOUBLE, 1, 2, 1, 4);
        INDArray labels = Nd4j.create(DataType.DOUBLE, 1, 2, 1, 4);
        for (int i = 0; i < 4; i++) {
            probs.putScalar(new long[] {0, 1, 0, i}, p1[i]);
            probs.putScalar(new long[] {0, 0, 0, i}, 1 - p1[i]);
            labels.putScalar(new long[] {0, 1, 0, i}, y1[i] ? 1 : 0);
            labels.putScalar(new long[] {0, 0, 0, i}, y1[i] ? 0 : 1);
        }
        INDArray g = LossDice.builder().includeBackground(true).build()
                .computeGradient(labels, probs, new ActivationIdentity(), null);
        double fg = g.getDouble(0, 1, 0, 0);
        double bg = g.getDouble(0, 1, 0, 2);
        assertTrue(fg < 0 && bg > 0, "fg " + fg + ", bg " + bg);
        assertEquals(DiceFixedPoint.weightRatio(p1, y1), -fg / bg, 1e-3);
    }
}
