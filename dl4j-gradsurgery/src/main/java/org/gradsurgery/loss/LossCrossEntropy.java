package org.gradsurgery.loss;

import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;

/**
 * Multi-class cross-entropy whose score is a per-voxel mean, the {@code mcxent} of {@link LossKind}. For whole tensors
 * {@code [N, C, spatial…]} with V voxels per example,
 * <pre>
 *   L_n = (1/V) Σ_v −Σ_c w_c·y_{n,c,v}·ln p_{n,c,v},     computeScore(average) = Σ_n L_n (/ N when average)
 * </pre>
 * and the gradient is that of the same expression, so the training loss it reports is on the scale of the region
 * losses (0 … ln C at the start rather than V times that) and curves of different losses can be compared. This is
 * the scale the cross-entropy term of {@link LossWeightedSum} already has (MONAI's {@code DiceCELoss}); the gradient
 * direction is DL4J's {@link LossMCXENT}'s, divided by V. At rank 2 (DL4J's flattened rows, each row an example) it
 * is {@link LossMCXENT} unchanged. Softmax clipping and class weights are {@link LossMCXENT}'s.
 */
public class LossCrossEntropy extends LossMCXENT implements SpatialLossFunction {

    /** Unweighted, DL4J's default softmax clipping. */
    public LossCrossEntropy() {
        super();
    }

    /** The plain DL4J loss NonSpatialAdapter calls on rows (it would call a spatial loss unchanged). */
    private LossMCXENT rowLoss() {
        return new LossMCXENT(softmaxClipEps, weights);
    }

    @Override
    public double computeScore(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask,
                               boolean average) {
        return preOutput.rank() < 4 ? super.computeScore(labels, preOutput, activationFn, mask, average)
                : NonSpatialAdapter.score(rowLoss(), labels, preOutput, activationFn, mask, average);
    }

    @Override
    public INDArray computeScoreArray(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        return preOutput.rank() < 4 ? super.computeScoreArray(labels, preOutput, activationFn, mask)
                : NonSpatialAdapter.scoreArray(rowLoss(), labels, preOutput, activationFn, mask);
    }

    @Override
    public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        return preOutput.rank() < 4 ? super.computeGradient(labels, preOutput, activationFn, mask)
                : NonSpatialAdapter.gradient(rowLoss(), labels, preOutput, activationFn, mask);
    }

    @Override
    public Pair<Double, INDArray> computeGradientAndScore(INDArray labels, INDArray preOutput, IActivation activationFn,
                                                          INDArray mask, boolean average) {
        return new Pair<>(computeScore(labels, preOutput, activationFn, mask, average),
                computeGradient(labels, preOutput, activationFn, mask));
    }

    @Override
    public String name() {
        return "LossCrossEntropy";
    }

    @Override
    public String toString() {
        return "LossCrossEntropy(per-voxel mean" + (weights != null ? ", weights=" + weights : "") + ")";
    }

    @Override
    public boolean equals(Object o) {
        return o != null && o.getClass() == getClass() && super.equals(o);
    }

    /** Lombok's {@link LossMCXENT#equals} asks the other side: a plain LossMCXENT is not this loss. */
    @Override
    protected boolean canEqual(Object other) {
        return other instanceof LossCrossEntropy;
    }

    @Override
    public int hashCode() {
        return 31 * super.hashCode() + 1;
    }
}
