package org.gradsurgery.loss;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * A weighted sum of losses, {@code L = Σ_i λ_i·L_i}: score, per-example scores and gradient are the λ-weighted
 * sums of the terms'.
 *
 * <p>Each term keeps its own gradient, so the surgery can be applied to the region term only, e.g. the paper's
 * compound setting
 * <pre>
 * ILossFunction loss = LossWeightedSum.builder()
 *         .add(1.0, GradientSurgery.wrap(new LossDice()))
 *         .add(1.0, new LossMCXENT())
 *         .build();
 * </pre>
 * <b>Whole tensors.</b> A {@link SpatialLossFunction} term receives rank-4/5 input unchanged. Any other term
 * (e.g. {@code LossMCXENT}) receives the rows {@code [N·V, C]} that DL4J's {@code CnnLossLayer} would pass, and
 * its score, per-example scores and gradient are divided by the voxels per example V: its value is the
 * per-example voxel mean, as in MONAI's {@code DiceCELoss}, so that λ₁·Dice + λ₂·CE compares two O(1) terms.
 * At rank 2 (DL4J's own loss layers) every term is called unchanged, i.e. with DL4J's per-row sum.
 */
public final class LossWeightedSum implements SpatialLossFunction {

    private static final long serialVersionUID = 1L;

    @JsonProperty("terms")
    private List<Term> terms;

    /** 1·{@link LossDice} + 1·{@link LossMCXENT}: MONAI's {@code DiceCELoss} defaults. */
    public LossWeightedSum() {
        this(List.of(new Term(1.0, new LossDice()), new Term(1.0, new LossMCXENT())));
    }

    private LossWeightedSum(List<Term> terms) {
        if (terms.isEmpty()) {
            throw new IllegalArgumentException("LossWeightedSum: needs at least one term; use builder().add(weight, "
                    + "loss)");
        }
        this.terms = Collections.unmodifiableList(new ArrayList<>(terms));
    }

    public static Builder builder() {
        return new Builder();
    }

    @Override
    public double computeScore(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask,
                               boolean average) {
        validate(labels, preOutput, mask, activationFn);
        double score = 0;
        for (Term t : terms) {
            score += t.weight * NonSpatialAdapter.score(t.loss, labels, preOutput, activationFn, mask, average);
        }
        return score;
    }

    @Override
    public INDArray computeScoreArray(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        validate(labels, preOutput, mask, activationFn);
        return weightedSum(l -> NonSpatialAdapter.scoreArray(l, labels, preOutput, activationFn, mask));
    }

    @Override
    public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        validate(labels, preOutput, mask, activationFn);
        return weightedSum(l -> NonSpatialAdapter.gradient(l, labels, preOutput, activationFn, mask));
    }

    /** Σ_t w_t·f(loss_t), accumulated in place into the first term's (fresh) array. */
    private INDArray weightedSum(Function<ILossFunction, INDArray> f) {
        INDArray sum = null;
        for (Term t : terms) {
            INDArray a = f.apply(t.loss).muli(t.weight);
            sum = sum == null ? a : sum.addi(a);
        }
        return sum;
    }

    @Override
    public Pair<Double, INDArray> computeGradientAndScore(INDArray labels, INDArray preOutput,
                                                          IActivation activationFn, INDArray mask, boolean average) {
        return new Pair<>(computeScore(labels, preOutput, activationFn, mask, average),
                computeGradient(labels, preOutput, activationFn, mask));
    }

    /** Shapes, rank and mask only: each term checks its own label range and finiteness. */
    private void validate(INDArray labels, INDArray preOutput, INDArray mask, IActivation activation) {
        LossInput.of(name(), labels, preOutput, mask, activation, false, false);
    }

    @Override
    public String name() {
        return "LossWeightedSum";
    }

    /** The terms, in the order they were added (unmodifiable). */
    public List<Term> getTerms() {
        return terms;
    }

    @Override
    public boolean equals(Object o) {
        return this == o || (o instanceof LossWeightedSum && terms.equals(((LossWeightedSum) o).terms));
    }

    @Override
    public int hashCode() {
        return terms.hashCode();
    }

    @Override
    public String toString() {
        StringBuilder s = new StringBuilder("LossWeightedSum(");
        for (int i = 0; i < terms.size(); i++) {
            s.append(i == 0 ? "" : " + ").append(terms.get(i));
        }
        return s.append(")").toString();
    }

    /** One weighted term λ·L. */
    public static final class Term implements Serializable {
        private static final long serialVersionUID = 1L;

        @JsonProperty("weight")
        private double weight;
        @JsonProperty("loss")
        private ILossFunction loss;

        /** For Jackson. */
        private Term() {
        }

        public Term(double weight, ILossFunction loss) {
            if (loss == null) {
                throw new IllegalArgumentException("LossWeightedSum: a term's loss must not be null");
            }
            if (Double.isNaN(weight) || Double.isInfinite(weight)) {
                throw new IllegalArgumentException("LossWeightedSum: the weight of " + loss + " must be finite, got "
                        + weight);
            }
            this.weight = weight;
            this.loss = loss;
        }

        public double getWeight() {
            return weight;
        }

        public ILossFunction getLoss() {
            return loss;
        }

        @Override
        public boolean equals(Object o) {
            return this == o || (o instanceof Term && Double.compare(weight, ((Term) o).weight) == 0
                    && loss.equals(((Term) o).loss));
        }

        @Override
        public int hashCode() {
            return Objects.hash(weight, loss);
        }

        @Override
        public String toString() {
            return weight + "·" + loss;
        }
    }

    /** Builder: add terms in order; at least one is required. */
    public static final class Builder {
        private final List<Term> terms = new ArrayList<>();

        private Builder() {
        }

        /** Adds the term {@code weight·loss} (weight finite; negative weights are allowed). */
        public Builder add(double weight, ILossFunction loss) {
            terms.add(new Term(weight, loss));
            return this;
        }

        public LossWeightedSum build() {
            return new LossWeightedSum(terms);
        }
    }
}
