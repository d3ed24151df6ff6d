package org.gradsurgery.loss;

import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * Calls a term of a compound loss ({@link GradientSurgery}, {@link LossWeightedSum}) with whole tensors.
 *
 * <p>A {@link SpatialLossFunction}, and any loss at rank 2, is called unchanged. A plain DL4J loss (e.g.
 * {@code LossMCXENT}) given rank-4/5 input is called on the rows {@code [N·V, C]} that {@code CnnLossLayer} would
 * pass it, and its score, per-example scores and gradient are divided by the voxels per example V. Its score is
 * then Σ_n mean_v ℓ(n, v): the per-example voxel mean, as MONAI's {@code DiceCELoss} averages its cross-entropy,
 * so that in λ₁·Dice + λ₂·CE both terms are O(1) per example and the weights mean what they say.
 */
final class NonSpatialAdapter {

    private NonSpatialAdapter() {
    }

    /** Whether {@code loss} is called on flattened rows (and so receives fresh copies of its arguments). */
    static boolean flattens(ILossFunction loss, INDArray preOutput) {
        return !(loss instanceof SpatialLossFunction) && preOutput.rank() >= 4;
    }

    static double score(ILossFunction loss, INDArray labels, INDArray preOutput, IActivation activation,
                        INDArray mask, boolean average) {
        if (!flattens(loss, preOutput)) {
            return loss.computeScore(labels, preOutput, activation, mask, average);
        }
        double sum = loss.computeScore(rows(labels), rows(preOutput), activation, rows(mask), false)
                / voxels(preOutput);
        return average ? sum / preOutput.size(0) : sum;
    }

    static INDArray scoreArray(ILossFunction loss, INDArray labels, INDArray preOutput, IActivation activation,
                               INDArray mask) {
        if (!flattens(loss, preOutput)) {
            return loss.computeScoreArray(labels, preOutput, activation, mask);
        }
        long n = preOutput.size(0);
        long v = voxels(preOutput);
        INDArray perRow = loss.computeScoreArray(rows(labels), rows(preOutput), activation, rows(mask));
        return perRow.reshape('c', n, v).sum(true, 1).divi(v);
    }

    static INDArray gradient(ILossFunction loss, INDArray labels, INDArray preOutput, IActivation activation,
                             INDArray mask) {
        if (!flattens(loss, preOutput)) {
            return loss.computeGradient(labels, preOutput, activation, mask);
        }
        INDArray g = loss.computeGradient(rows(labels), rows(preOutput), activation, rows(mask));
        return unrows(g.divi(voxels(preOutput)), preOutput.shape());
    }

    private static long voxels(INDArray x) {
        return x.length() / (x.size(0) * x.size(1));
    }

    /** {@code [N, C, spatial...]} to a fresh {@code [N·V, C]}, rows grouped by example (CnnLossLayer's layout). */
    private static INDArray rows(INDArray x) {
        if (x == null) {
            return null;
        }
        int rank = x.rank();
        int[] perm = new int[rank];
        for (int a = 1; a < rank - 1; a++) {
            perm[a] = a + 1;
        }
        perm[rank - 1] = 1;
        return x.permute(perm).dup('c').reshape('c', x.length() / x.size(1), x.size(1));
    }

    private static INDArray unrows(INDArray rows, long[] shape) {
        int rank = shape.length;
        long[] channelsLast = new long[rank];
        channelsLast[0] = shape[0];
        for (int a = 2; a < rank; a++) {
            channelsLast[a - 1] = shape[a];
        }
        channelsLast[rank - 1] = shape[1];
        int[] perm = new int[rank];
        perm[1] = rank - 1;
        for (int a = 2; a < rank; a++) {
            perm[a] = a - 1;
        }
        return rows.reshape('c', channelsLast).permute(perm).dup('c');
    }
}
