package org.gradsurgery.layers.impl;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.reduce.same.Sum;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The bias gradient of a channels-first layer, ∂L/∂b_c = Σ_{n, spatial…} δ[n, c, spatial…], summed by one ND4J
 * reduction straight into the layer's bias-gradient view: a reduction's own result array would be allocated outside
 * the workspaces and wait for the garbage collector (docs/PERFORMANCE.md, "Native memory over a training run").
 */
final class BiasGradient {

    private BiasGradient() {
    }

    /** Writes Σ over every axis of {@code delta} ({@code [N, C, spatial…]}) but axis 1 into {@code biasGrad} (C values). */
    static void sumInto(INDArray delta, INDArray biasGrad) {
        int[] axes = new int[delta.rank() - 1];   // axes[0] = 0, the batch axis
        for (int a = 2; a < delta.rank(); a++) {
            axes[a - 1] = a;
        }
        Nd4j.exec(new Sum(delta, biasGrad.reshape(delta.size(1)), false, axes));
    }
}
