package org.gradsurgery.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Backprop of one layer in FLOAT (the type oneDNN's kernels take) against its DOUBLE twin (libnd4j's own loops), for
 * the same upstream gradient ε: the input gradients agree to 1e-5 and every parameter gradient g to
 * 1e-5 · max(1, max|g|). Both layers must have seen the same input last (backprop uses it).
 */
final class FloatAgainstDouble {
    private FloatAgainstDouble() {
    }

    static void assertBackpropAgrees(Layer floatLayer, Layer doubleLayer, INDArray eps) {
        LayerWorkspaceMgr noWs = LayerWorkspaceMgr.noWorkspaces();
        Pair<Gradient, INDArray> gf = floatLayer.backpropGradient(eps.castTo(DataType.FLOAT), noWs);
        Pair<Gradient, INDArray> gd = doubleLayer.backpropGradient(eps, noWs);
        assertEquals(0, gf.getSecond().castTo(DataType.DOUBLE).sub(gd.getSecond()).amaxNumber().doubleValue(), 1e-5);
        for (String key : gd.getFirst().gradientForVariable().keySet()) {
            INDArray a = gf.getFirst().getGradientFor(key).castTo(DataType.DOUBLE);
            INDArray b = gd.getFirst().getGradientFor(key);
            assertEquals(0, a.sub(b).amaxNumber().doubleValue(), 1e-5 * Math.max(1, b.amaxNumber().doubleValue()), key);
        }
    }
}
