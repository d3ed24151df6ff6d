package org.gradsurgery.layers;

import org.gradsurgery.layers.impl.SpatialLayout;
import org.gradsurgery.loss.SpatialLossFunction;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Test-only {@link SpatialLossFunction} whose value depends on how voxels are grouped by example and channel:
 * {@code L_n = (1/S) Σ_c (Σ_s m·(p − y))²} with S the spatial size, p = σ(z) over axis 1. A layer that permuted or
 * flattened the tensor wrongly would change the groups and therefore the value.
 */
final class GroupErrorLoss implements SpatialLossFunction {

    private static SpatialLayout layout(INDArray preOutput) {
        if (preOutput.rank() != 4 && preOutput.rank() != 5) {
            throw new IllegalArgumentException("GroupErrorLoss: rank 4/5 only, got " + preOutput.rank());
        }
        return SpatialLayout.of(preOutput.rank(), false);
    }

    private static INDArray fullMask(INDArray mask, INDArray like) {
        INDArray ones = Nd4j.ones(like.dataType(), like.shape());
        return mask == null ? ones : ones.muli(mask.castTo(like.dataType()));
    }

    /** Per (example, class) masked error sums {@code [N, C]}, and the spatial size. */
    private static INDArray groupErrors(INDArray labels, INDArray preOutput, IActivation act, INDArray m) {
        SpatialLayout cf = layout(preOutput);
        INDArray p = cf.fromRows(act.getActivation(cf.toRows(preOutput), true), preOutput.shape());
        return p.sub(labels).muli(m).sum(cf.spatialAxes());
    }

    @Override
    public INDArray computeScoreArray(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        SpatialLayout cf = layout(preOutput);
        INDArray e = groupErrors(labels, preOutput, activationFn, fullMask(mask, preOutput));
        return e.mul(e).sum(true, 1).divi(cf.spatialSize(preOutput));
    }

    @Override
    public double computeScore(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask,
                               boolean average) {
        double sum = computeScoreArray(labels, preOutput, activationFn, mask).sumNumber().doubleValue();
        return average ? sum / preOutput.size(0) : sum;
    }

    @Override
    public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        SpatialLayout cf = layout(preOutput);
        INDArray m = fullMask(mask, preOutput);
        INDArray e = groupErrors(labels, preOutput, activationFn, m);
        long[] bShape = preOutput.shape().clone();
        for (int i = 2; i < bShape.length; i++) {
            bShape[i] = 1;
        }
        INDArray dLdp = m.mul(e.reshape(bShape)).muli(2.0 / cf.spatialSize(preOutput));
        INDArray dLdz = activationFn.backprop(cf.toRows(preOutput), cf.toRows(dLdp)).getFirst();
        return cf.fromRows(dLdz, preOutput.shape()).dup('c');
    }

    @Override
    public Pair<Double, INDArray> computeGradientAndScore(INDArray labels, INDArray preOutput, IActivation activationFn,
                                                          INDArray mask, boolean average) {
        return new Pair<>(computeScore(labels, preOutput, activationFn, mask, average),
                computeGradient(labels, preOutput, activationFn, mask));
    }

    @Override
    public String name() {
        return "GroupErrorLoss";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof GroupErrorLoss;
    }

    @Override
    public int hashCode() {
        return GroupErrorLoss.class.hashCode();
    }

    @Override
    public String toString() {
        return name();
    }
}
