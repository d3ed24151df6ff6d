package org.gradsurgery.loss;

import java.util.Objects;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * Gradient vector field surgery: keeps a region loss's weighting of the voxels but makes the logit gradient scale
 * with the prediction error.
 *
 * <p>Lux, Berger, Knolle, Rückert, Paetzold, "Beyond scalar losses: calibrating segmentation models via gradient
 * vector field surgery", MIDL 2026, PMLR 315:3397-3423. The paper's full text and code were not available when this
 * was written: the formula below is a reading of its abstract ("adds a factor to the loss's partial derivative,
 * scaling the gradient's magnitude linearly with the prediction error"), TL;DR and published figures, and
 * {@link Space} offers the two readings ({@code docs/LOSSES.md}, "Where the formula comes from").
 *
 * <p><b>Why.</b> For a soft Dice, ∂L/∂p_i hardly depends on p_i, and the sigmoid/softmax Jacobian p(1−p) makes the
 * logit gradient vanish at p = 0 and p = 1 only, so training pushes every voxel to the extremes and the model
 * becomes over-confident. Cross-entropy's logit gradient is instead p − y, linear in the error. The surgery
 * replaces the activation's Jacobian by the error factor |y − p|^γ:
 * <pre>
 *   p   = activation(z)                   (softmax over the class axis, or sigmoid)
 *   g_p = ∂L_base/∂p                      (the base loss's gradient with respect to the probabilities)
 *   f   = g_p ⊙ |y − p|^γ                 (γ = {@link #getExponent() exponent}, default 1: linear in the error)
 *   LOGITS (default):  g_z = f,  and for softmax  g_z = f − mean_c(f)  at every voxel
 *   PROBABILITIES:     g_z = J_activation(z)ᵀ · f   (the other reading: the error factor on top of the Jacobian)
 * </pre>
 * The mean removal for softmax projects out the direction of a common logit shift, which does not change p and
 * would only make all logits drift. Masked voxels get exactly zero. The resulting field is the gradient of no
 * scalar loss, which is why it lives in {@link #computeGradient}: {@link #computeScore} returns the base loss
 * unchanged (so reported scores stay comparable), and a network gradient check cannot apply to it.
 *
 * <p><b>Scale.</b> g_p follows DL4J's convention (E·∂L/∂p for E examples), so the field is E times the field
 * above, matching the base loss's gradient scale.
 *
 * <p><b>Where the field vanishes (beyond the paper).</b> Every region loss of this package has, per group (one
 * (example, class), or one class for a batch group), ∂L/∂p = A·y + C(p) with A = ∂L/∂I − ∂L/∂FP − ∂L/∂FN constant
 * within the group ({@link AbstractRegionLoss}). So a foreground voxel (y = 1) gets ∂L/∂p = −a and a background
 * voxel (y = 0) gets +b, with a = −(A + C), b = C, and a + b = −A. At γ = 1, in logit space, the field of one
 * channel is −a·(1 − p) on foreground and b·p on background voxels. When the label is drawn from a true probability
 * q (y ~ Bernoulli(q)) and the sums, hence a and b, hardly move with one voxel's draw, its expectation
 * <pre>
 *   E f = −q·a·(1 − p) + (1 − q)·b·p     vanishes at     p* = q·a / (q·a + (1 − q)·b),
 *   i.e.  logit p* = logit q + ln(a/b)       (for γ ≠ 1:  γ·logit p* = logit q + ln(a/b))
 * </pre>
 * not at q unless a = b. With smoothing left out (S = P + G, per kept class; divide by the number of kept classes):
 * <pre>
 *   Dice          a = 2(S − I)/S²            b = 2I/S²             a/b = 2/D − 1           (D = 2I/S)
 *   Tversky       a = (α·FP + β·G)/T²        b = α·I/T²            a/b = FP/I + (β/α)·G/I  (T = I + α·FP + β·FN)
 *   Gen. Dice     a_c = v_c(2D − N)/D²       b_c = v_c·N/D²        a/b = 2/gd − 1          (v_c = 1/G_c²,
 *                                                                            N = 2Σ_c v_c·I_c, D = Σ_c v_c·S_c)
 * </pre>
 * so every overlap short of perfect gives a &gt; b (Tversky with β &gt; α even at a perfect overlap: a/b → β/α), and
 * the paper's field over-predicts the foreground of ambiguous voxels. For softmax the class-mean removal mixes the
 * classes: with two classes the foreground logit gets a = (a_1 + b_0)/2 and b = (b_1 + a_0)/2.
 *
 * <p><b>{@link Weighting#BALANCED} (beyond the paper).</b> Replaces both weights of each group by their mean
 * w = (a + b)/2 = −A/2 &gt;= 0 (Dice: w = 1/S; Tversky: w = (α·P + β·G)/(2T²); generalized Dice: w_c = v_c/D):
 * <pre>
 *   f = w ⊙ sign(p − y) ⊙ |y − p|^γ        (γ = 1:  f = w·(p − y))
 * </pre>
 * then the class-mean removal (LOGITS, softmax) or the Jacobian (PROBABILITIES) and the mask, as above. Its expectation
 * w·(p − q) vanishes at p = q (softmax: w_c(p_c − q_c) equal for all c with Σ_c(p_c − q_c) = 0 forces p = q; needs
 * γ = 1). What it is: at γ = 1, p − y is cross-entropy's logit gradient, so the balanced field is a cross-entropy
 * gradient with a weight w per (example, class) taken from the region loss and held constant: for sigmoid outputs
 * exactly the gradient of Σ_c w_c·BCE_c; for a two-class softmax exactly the softmax cross-entropy gradient with
 * one weight (w_0 + w_1)/2 per example; for more classes the centred field of w_c(p_c − y_c), which is not the
 * gradient of class-weighted cross-entropy (that one settles at p_c ∝ w_c·q_c). Only region bases
 * ({@link AbstractRegionLoss}) define a and b; other bases are refused. {@code docs/LOSSES.md} and
 * {@code docs/RESULTS.md} say how it behaves.
 *
 * <p><b>Any base loss.</b> g_p is obtained by calling {@code base.computeGradient(y, p, identity, mask)}, so any
 * {@link ILossFunction} works, including {@code LossMCXENT}. A base that is not a {@link SpatialLossFunction}
 * receives rank-4/5 input as rows with per-example voxel-mean scores (see {@link LossWeightedSum}). To apply the
 * surgery to the region term of a compound loss only, wrap that term:
 * {@code LossWeightedSum.builder().add(1, GradientSurgery.wrap(new LossDice())).add(1, new LossMCXENT()).build()}.
 */
public final class GradientSurgery implements SpatialLossFunction {

    private static final long serialVersionUID = 1L;

    /** Where the error factor is applied: two readings of the paper's abstract and figures. */
    public enum Space {
        /**
         * g_z = g_p ⊙ |y − p|^γ (mean-free over classes for softmax): the factor replaces the activation's Jacobian,
         * so at γ = 1 the logit gradient is linear in the error, as cross-entropy's p − y. The default.
         */
        LOGITS,
        /**
         * g_z = J_activation(z)ᵀ (g_p ⊙ |y − p|^γ): the factor multiplies the probability gradient and the Jacobian
         * stays, so the logit gradient still vanishes at p = 0 and 1.
         */
        PROBABILITIES
    }

    /**
     * How the field weighs a voxel. BASE (the paper's reading, the default) keeps the base loss's ∂L/∂p, so a
     * foreground and a background voxel of a group have different weights a and b; BALANCED gives both the weight
     * (a + b)/2, which puts the field's fixed point at the true probability (class documentation; beyond the paper).
     */
    public enum Weighting {
        /** f = ∂L/∂p ⊙ |y − p|^γ: the base loss's weights, as the paper. The default. */
        BASE,
        /** f = w ⊙ sign(p − y) ⊙ |y − p|^γ with w = (a + b)/2 per group: region losses only; beyond the paper. */
        BALANCED
    }

    /** Default error exponent γ: the logit gradient is linear in the error, as cross-entropy's. */
    public static final double DEFAULT_EXPONENT = 1.0;

    @JsonProperty("base")
    private ILossFunction base;
    @JsonProperty("exponent")
    private double exponent = DEFAULT_EXPONENT;
    @JsonProperty("space")
    private Space space = Space.LOGITS;
    /** Absent in JSON written before this option existed: BASE. */
    @JsonProperty("weighting")
    private Weighting weighting = Weighting.BASE;

    /** Surgery on a default {@link LossDice} in logit space with γ = 1 (the default reading). */
    public GradientSurgery() {
        this(new LossDice(), DEFAULT_EXPONENT, Space.LOGITS, Weighting.BASE);
    }

    private GradientSurgery(ILossFunction base, double exponent, Space space, Weighting weighting) {
        if (base == null) {
            throw new IllegalArgumentException("GradientSurgery: the base loss must not be null");
        }
        if (base instanceof GradientSurgery) {
            throw new IllegalArgumentException("GradientSurgery: the base " + base + " is already a GradientSurgery;"
                    + " set its exponent instead of wrapping it twice");
        }
        if (!(exponent >= 0.0) || Double.isInfinite(exponent)) {
            throw new IllegalArgumentException("GradientSurgery: exponent must be finite and >= 0, got " + exponent);
        }
        if (space == null) {
            throw new IllegalArgumentException("GradientSurgery: space must not be null (LOGITS or PROBABILITIES)");
        }
        if (weighting == null) {
            throw new IllegalArgumentException("GradientSurgery: weighting must not be null (BASE or BALANCED)");
        }
        if (weighting == Weighting.BALANCED && !(base instanceof AbstractRegionLoss)) {
            throw new IllegalArgumentException("GradientSurgery: weighting BALANCED needs a region loss base (Dice, "
                    + "Jaccard, Tversky, focal Tversky, generalized Dice), whose per-group voxel weights it equalises;"
                    + " got " + base.getClass().getSimpleName());
        }
        this.base = base;
        this.exponent = exponent;
        this.space = space;
        this.weighting = weighting;
    }

    /** The surgery on {@code base} with γ = 1 in logit space. */
    public static GradientSurgery wrap(ILossFunction base) {
        return new GradientSurgery(base, DEFAULT_EXPONENT, Space.LOGITS, Weighting.BASE);
    }

    /** The surgery on {@code base} with error exponent γ = {@code exponent} (>= 0) in logit space. */
    public static GradientSurgery wrap(ILossFunction base, double exponent) {
        return new GradientSurgery(base, exponent, Space.LOGITS, Weighting.BASE);
    }

    public static Builder builder() {
        return new Builder();
    }

    // ------------------------------------------------------------------------------------------------------------

    /** The base loss's score, unchanged. */
    @Override
    public double computeScore(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask,
                               boolean average) {
        LossInput in = input(labels, preOutput, mask, activationFn);
        return base instanceof AbstractRegionLoss ? ((AbstractRegionLoss) base).score(in, activationFn, average)
                : NonSpatialAdapter.score(base, labels, preOutput, activationFn, mask, average);
    }

    /** The base loss's per-example scores, unchanged. */
    @Override
    public INDArray computeScoreArray(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        LossInput in = input(labels, preOutput, mask, activationFn);
        return base instanceof AbstractRegionLoss ? ((AbstractRegionLoss) base).scoreArray(in, activationFn)
                : NonSpatialAdapter.scoreArray(base, labels, preOutput, activationFn, mask);
    }

    /** The error-weighted field described in the class documentation (not the gradient of the score). */
    @Override
    public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        LossInput in = input(labels, preOutput, mask, activationFn);
        if (weighting == Weighting.BALANCED) {
            return in.restore(balancedField(in, activationFn));
        }
        if (base instanceof AbstractRegionLoss) {
            INDArray fused = ((AbstractRegionLoss) base).fusedSurgeryField(in, activationFn, exponent,
                    space == Space.LOGITS);
            if (fused != null) {
                return in.restore(fused);
            }
        }
        INDArray p = ClassAxis.activate(in.z, activationFn);
        INDArray field = in.y.sub(p);
        Transforms.abs(field, false);
        if (exponent != 1.0) {
            Transforms.pow(field, exponent, false);
        }
        field.muli(probabilityGradient(in, p, labels, mask));
        return in.restore(finish(in, p, activationFn, field));
    }

    /** The {@link Weighting#BALANCED} field in the canonical layout (the base is a region loss). */
    private INDArray balancedField(LossInput in, IActivation activationFn) {
        AbstractRegionLoss region = (AbstractRegionLoss) base;
        INDArray fused = region.fusedBalancedSurgeryField(in, activationFn, exponent, space == Space.LOGITS);
        if (fused != null) {
            return fused;
        }
        INDArray p = ClassAxis.activate(in.z, activationFn);
        INDArray error = p.sub(in.y);
        INDArray field = Transforms.abs(error, true);
        if (exponent != 1.0) {
            Transforms.pow(field, exponent, false);
        }
        field.muli(Transforms.sign(error, false));
        field.muli(region.balancedWeights(in, p));
        if (in.m != null) {
            field.muli(in.m);
        }
        return finish(in, p, activationFn, field);
    }

    /** The class-mean removal (LOGITS, softmax) or the activation's Jacobian (PROBABILITIES), then the mask. */
    private INDArray finish(LossInput in, INDArray p, IActivation activationFn, INDArray field) {
        if (space == Space.LOGITS) {
            if (ClassAxis.isSoftmax(activationFn)) {
                field.subi(field.mean(true, 1));
            }
        } else {
            field = ClassAxis.backprop(in.z, p, activationFn, field);
        }
        if (in.m != null) {
            field.muli(in.m);
        }
        return field;
    }

    /** Validates a call under this wrapper's name, with the base's options (e.g. its finite check). */
    private LossInput input(INDArray labels, INDArray preOutput, INDArray mask, IActivation activation) {
        return base instanceof AbstractRegionLoss
                ? ((AbstractRegionLoss) base).input(name(), labels, preOutput, mask, activation)
                : LossInput.of(name(), labels, preOutput, mask, activation, true, true);
    }

    @Override
    public Pair<Double, INDArray> computeGradientAndScore(INDArray labels, INDArray preOutput,
                                                          IActivation activationFn, INDArray mask, boolean average) {
        return new Pair<>(computeScore(labels, preOutput, activationFn, mask, average),
                computeGradient(labels, preOutput, activationFn, mask));
    }

    /** g_p = E·∂L_base/∂p in the canonical layout. */
    private INDArray probabilityGradient(LossInput in, INDArray p, INDArray labels, INDArray mask) {
        if (base instanceof AbstractRegionLoss) {
            // Same value as the generic call below, without re-validating and re-copying p.
            return ((AbstractRegionLoss) base).probabilityGradient(in, p);
        }
        INDArray probabilities = in.restore(p);
        if (!NonSpatialAdapter.flattens(base, probabilities)) {
            // DL4J activations, the identity included, may overwrite their input.
            probabilities = probabilities.dup();
        }
        INDArray g = NonSpatialAdapter.gradient(base, labels, probabilities, new ActivationIdentity(), mask);
        return g.reshape('c', p.shape());
    }

    @Override
    public String name() {
        return "GradientSurgery(" + base.getClass().getSimpleName() + ")";
    }

    public ILossFunction getBase() {
        return base;
    }

    public double getExponent() {
        return exponent;
    }

    public Space getSpace() {
        return space;
    }

    public Weighting getWeighting() {
        return weighting;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof GradientSurgery)) {
            return false;
        }
        GradientSurgery that = (GradientSurgery) o;
        return Double.compare(exponent, that.exponent) == 0 && space == that.space && weighting == that.weighting
                && base.equals(that.base);
    }

    @Override
    public int hashCode() {
        return Objects.hash(base, exponent, space, weighting);
    }

    @Override
    public String toString() {
        return "GradientSurgery(base=" + base + ", exponent=" + exponent + ", space=" + space
                + (weighting == Weighting.BASE ? "" : ", weighting=" + weighting) + ")";
    }

    /**
     * Builder: {@code base} is required; exponent defaults to 1, space to {@link Space#LOGITS} and weighting to
     * {@link Weighting#BASE}.
     */
    public static final class Builder {
        private ILossFunction base;
        private double exponent = DEFAULT_EXPONENT;
        private Space space = Space.LOGITS;
        private Weighting weighting = Weighting.BASE;

        private Builder() {
        }

        public Builder base(ILossFunction base) {
            this.base = base;
            return this;
        }

        /** The error exponent γ of |y − p|^γ (>= 0). */
        public Builder exponent(double exponent) {
            this.exponent = exponent;
            return this;
        }

        public Builder space(Space space) {
            this.space = space;
            return this;
        }

        /** {@link Weighting#BALANCED} equalises a region loss's voxel weights (beyond the paper). */
        public Builder weighting(Weighting weighting) {
            this.weighting = weighting;
            return this;
        }

        public GradientSurgery build() {
            return new GradientSurgery(base, exponent, space, weighting);
        }
    }
}
