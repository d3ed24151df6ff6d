package org.gradsurgery.loss;

import java.util.Objects;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.reduce3.Dot;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * Common machinery of the region (overlap) losses: groups, soft sums, validation, layout and the chain rule.
 *
 * <p><b>Sums.</b> With p = activation(z) (softmax over the class axis, or sigmoid), labels y ∈ [0, 1] (one-hot or
 * soft), an optional mask m and k = 2 if {@link #isSquaredPred() squaredPred} else 1, every group has
 * <pre>
 *   I = Σ m·p·y     P = Σ m·p^k     G = Σ m·y^k     FP = Σ m·p·(1−y)     FN = Σ m·(1−p)·y
 * </pre>
 * <b>Groups.</b> {@link Reduction#SAMPLE} (default, as MONAI): one group per (example, class), summed over space.
 * {@link Reduction#BATCH} (nnU-Net's batch Dice): one group per class, summed over examples and space. Rank-2
 * input (DL4J's {@code CnnLossLayer} rows) is always one group per class. {@code includeBackground(false)} drops
 * class 0 from the groups; the activation still runs over all classes. The loss value L is the mean over the kept
 * groups (per example for SAMPLE, then averaged over examples).
 *
 * <p><b>Scale (DL4J's convention).</b> With E examples (N at rank 4/5, the row count at rank 2):
 * {@code computeScore(average=false)} = E·L, {@code average=true} = L, {@code computeGradient} = E·∂L/∂z,
 * {@code computeScoreArray} is {@code [E, 1]} and sums to E·L (SAMPLE: each example's own mean over its groups;
 * BATCH and rank 2: every example gets L).
 *
 * <p><b>Gradient.</b> A concrete loss supplies its value and its derivatives with respect to (I, P, FP, FN) of
 * each group. The per-voxel derivative is then
 * {@code ∂L/∂p = m·(dI·y + dP·k·p^(k−1) + dFP·(1−y) − dFN·y)}, broadcast per (example, class), followed by the
 * activation's Jacobian. Absent classes (G = 0) and all-masked examples give finite values and gradients thanks
 * to the smoothing terms.
 *
 * <p><b>Evaluation.</b> Softmax and sigmoid calls on whole FLOAT/DOUBLE arrays run in {@link FusedKernels} (one
 * pass for activation, value checks and sums, one for the gradient); every other call composes the same values from
 * ND4J ops here.
 *
 * <p>Subclasses live in this package; serialisation uses the {@link JsonProperty} fields.
 */
public abstract class AbstractRegionLoss implements SpatialLossFunction {

    private static final long serialVersionUID = 1L;

    /** Default numerator and denominator smoothing, as MONAI. */
    public static final double DEFAULT_SMOOTH = 1e-5;

    @JsonProperty("reduction")
    protected Reduction reduction = Reduction.SAMPLE;
    @JsonProperty("includeBackground")
    protected boolean includeBackground = true;
    @JsonProperty("smoothNr")
    protected double smoothNr = DEFAULT_SMOOTH;
    @JsonProperty("smoothDr")
    protected double smoothDr = DEFAULT_SMOOTH;
    @JsonProperty("squaredPred")
    protected boolean squaredPred = false;
    @JsonProperty("checkFinite")
    protected boolean checkFinite = true;

    /** All defaults (for Jackson and the public no-arg constructors). */
    protected AbstractRegionLoss() {
    }

    protected AbstractRegionLoss(Builder<?> b) {
        String name = getClass().getSimpleName();
        if (b.reduction == null) {
            throw new IllegalArgumentException(name + ": reduction must not be null (SAMPLE or BATCH)");
        }
        requireSmoothing(name, "smoothNr", b.smoothNr);
        requireSmoothing(name, "smoothDr", b.smoothDr);
        this.reduction = b.reduction;
        this.includeBackground = b.includeBackground;
        this.smoothNr = b.smoothNr;
        this.smoothDr = b.smoothDr;
        this.squaredPred = b.squaredPred;
        this.checkFinite = b.checkFinite;
    }

    private static void requireSmoothing(String name, String option, double v) {
        if (!(v >= 0.0) || Double.isInfinite(v)) {
            throw new IllegalArgumentException(name + ": " + option + " must be finite and >= 0, got " + v);
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // What a concrete loss supplies.

    /**
     * The loss value of one set of groups: one example under SAMPLE, the whole batch under BATCH or at rank 2.
     *
     * @param s          the per-class sums; use row {@code set}
     * @param set        the row of {@code s} (and of {@code d}) to evaluate
     * @param firstClass 0, or 1 when the background is excluded; classes below it must get zero derivatives
     * @param d          when not null, receives ∂value/∂(I, P, FP, FN) per class in row {@code set}
     */
    abstract double setValue(Sums s, int set, int firstClass, Sums d);

    // ------------------------------------------------------------------------------------------------------------
    // ILossFunction

    @Override
    public double computeScore(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask,
                               boolean average) {
        return score(input(labels, preOutput, mask, activationFn), activationFn, average);
    }

    @Override
    public INDArray computeScoreArray(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        return scoreArray(input(labels, preOutput, mask, activationFn), activationFn);
    }

    @Override
    public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        LossInput in = input(labels, preOutput, mask, activationFn);
        return in.restore(gradient(in, activationFn, evaluate(in, activationFn, true)));
    }

    @Override
    public Pair<Double, INDArray> computeGradientAndScore(INDArray labels, INDArray preOutput,
                                                          IActivation activationFn, INDArray mask, boolean average) {
        LossInput in = input(labels, preOutput, mask, activationFn);
        Evaluation e = evaluate(in, activationFn, true);
        INDArray gradZ = in.restore(gradient(in, activationFn, e));
        return new Pair<>(average ? e.loss : e.loss * in.examples, gradZ);
    }

    @Override
    public String name() {
        return toString();
    }

    // ------------------------------------------------------------------------------------------------------------
    // Shared with GradientSurgery (same package).

    /** Validates a call, including the options that need a minimum class count. */
    LossInput input(INDArray labels, INDArray preOutput, INDArray mask, IActivation activation) {
        return input(getClass().getSimpleName(), labels, preOutput, mask, activation);
    }

    LossInput input(String caller, INDArray labels, INDArray preOutput, INDArray mask, IActivation activation) {
        LossInput in = LossInput.of(caller, labels, preOutput, mask, activation, false, false);
        if (!includeBackground && in.classes < 2) {
            throw new IllegalArgumentException(caller + ": includeBackground(false) drops class 0, which leaves no "
                    + "class for pre-output shape " + java.util.Arrays.toString(in.shape)
                    + "; expected at least 2 classes on axis 1");
        }
        if (!FusedKernels.applies(in, activation)) {
            // the fused forward pass checks the values on its way; the ND4J path checks them here
            in.checkValues(true, checkFinite);
        }
        return in;
    }

    /** The score of a validated call (so a wrapper's validation, naming the wrapper, is not repeated). */
    double score(LossInput in, IActivation activation, boolean average) {
        Evaluation e = evaluate(in, activation, false);
        return average ? e.loss : e.loss * in.examples;
    }

    /** The per-example scores {@code [E, 1]} of a validated call. */
    INDArray scoreArray(LossInput in, IActivation activation) {
        return evaluate(in, activation, false).perExample(in, in.z.dataType());
    }

    /** E·∂L/∂p in the canonical layout, for probabilities p (already activated). */
    INDArray probabilityGradient(LossInput in, INDArray p) {
        return probabilityGradient(in, p, evaluate(in, sums(in, p), p, true));
    }

    /**
     * The surgery field of this loss in the canonical layout by the fused kernels, or null when they do not apply
     * to the call (the caller then composes it from {@link #probabilityGradient(LossInput, INDArray)}).
     */
    INDArray fusedSurgeryField(LossInput in, IActivation activation, double exponent, boolean logitSpace) {
        if (!FusedKernels.applies(in, activation)) {
            return null;
        }
        Evaluation e = evaluate(in, activation, true);
        double[][][] coef = coefficients(in, e);
        return FusedKernels.backward(in, e.p, ClassAxis.isSoftmax(activation), squaredPred, coef[0], coef[1],
                coef[2], logitSpace ? FusedKernels.Mode.SURGERY_LOGITS : FusedKernels.Mode.SURGERY_PROBABILITIES,
                exponent);
    }

    /**
     * The balanced surgery field ({@link GradientSurgery.Weighting#BALANCED}) by the fused kernels, or null when
     * they do not apply (the caller then uses {@link #balancedWeights(LossInput, INDArray)}).
     */
    INDArray fusedBalancedSurgeryField(LossInput in, IActivation activation, double exponent, boolean logitSpace) {
        if (!FusedKernels.applies(in, activation)) {
            return null;
        }
        Evaluation e = evaluate(in, activation, true);
        double[][] w = balancedWeights(coefficients(in, e)[0]);
        return FusedKernels.backward(in, e.p, ClassAxis.isSoftmax(activation), squaredPred, w, w, w,
                logitSpace ? FusedKernels.Mode.SURGERY_LOGITS : FusedKernels.Mode.SURGERY_PROBABILITIES, exponent,
                true);
    }

    /**
     * The balanced weight w = (a + b)/2 = −A/2 of every group, shaped to broadcast against p in the canonical
     * layout ({@code [N, C, 1]} per example, {@code [1, C]} or {@code [1, C, 1]} for one batch group), with DL4J's
     * scale; A = ∂L/∂I − ∂L/∂FP − ∂L/∂FN is the coefficient of y in ∂L/∂p (see {@link GradientSurgery}).
     */
    INDArray balancedWeights(LossInput in, INDArray p) {
        Evaluation e = evaluate(in, sums(in, p), p, true);
        double[][] w = balancedWeights(coefficients(in, e)[0]);
        long[] shape = in.spatial() ? new long[]{w.length, in.classes, 1} : new long[]{1, in.classes};
        return coefficients(w, shape, p.dataType());
    }

    private static double[][] balancedWeights(double[][] a) {
        double[][] w = new double[a.length][];
        for (int n = 0; n < a.length; n++) {
            w[n] = new double[a[n].length];
            for (int c = 0; c < a[n].length; c++) {
                w[n][c] = -0.5 * a[n][c];
            }
        }
        return w;
    }

    // ------------------------------------------------------------------------------------------------------------
    // Machinery.

    private int firstClass() {
        return includeBackground ? 0 : 1;
    }

    /** Per-example groups exist only for whole tensors under SAMPLE. */
    private boolean perExample(LossInput in) {
        return in.spatial() && reduction == Reduction.SAMPLE;
    }

    /** Activation, sums and loss value (and the derivatives and p when {@code withGradient}). */
    private Evaluation evaluate(LossInput in, IActivation activation, boolean withGradient) {
        if (FusedKernels.applies(in, activation)) {
            Sums s = new Sums(in.spatial() ? (int) in.examples : 1, in.classes);
            INDArray p = FusedKernels.forward(in, ClassAxis.isSoftmax(activation), squaredPred, checkFinite, s,
                    withGradient);
            return evaluate(in, s, p, withGradient);
        }
        INDArray p = ClassAxis.activate(in.z, activation);
        return evaluate(in, sums(in, p), p, withGradient);
    }

    /** E·∂L/∂z in the canonical layout. */
    private INDArray gradient(LossInput in, IActivation activation, Evaluation e) {
        if (FusedKernels.applies(in, activation)) {
            double[][][] coef = coefficients(in, e);
            return FusedKernels.backward(in, e.p, ClassAxis.isSoftmax(activation), squaredPred, coef[0], coef[1],
                    coef[2], FusedKernels.Mode.GRADIENT, 1);
        }
        return ClassAxis.backprop(in.z, e.p, activation, probabilityGradient(in, e.p, e));
    }

    private Evaluation evaluate(LossInput in, Sums s, INDArray p, boolean withGradient) {
        if (!perExample(in)) {
            s = s.total();
        }
        Sums d = withGradient ? new Sums(s.sets, in.classes) : null;
        double[] values = new double[s.sets];
        double sum = 0;
        for (int set = 0; set < s.sets; set++) {
            values[set] = setValue(s, set, firstClass(), d);
            sum += values[set];
        }
        return new Evaluation(values, sum / s.sets, d, p);
    }

    /** The five sums per (example, class) at rank 4/5, per class at rank 2; four reductions, no per-voxel loop. */
    private Sums sums(LossInput in, INDArray p) {
        int[] axes = in.sumAxes();
        INDArray pm = in.m == null ? p : p.mul(in.m);
        INDArray ym = in.m == null ? in.y : in.y.mul(in.m);
        INDArray i = Nd4j.getExecutioner().exec(new Dot(pm, in.y, axes));
        INDArray p1 = pm.sum(axes);
        INDArray g1 = ym.sum(axes);
        INDArray pk = squaredPred ? Nd4j.getExecutioner().exec(new Dot(pm, p, axes)) : p1;
        INDArray gk = squaredPred ? Nd4j.getExecutioner().exec(new Dot(ym, in.y, axes)) : g1;
        int sets = in.spatial() ? (int) in.examples : 1;
        Sums s = new Sums(sets, in.classes);
        s.i = matrix(i, sets, in.classes);
        s.p = matrix(pk, sets, in.classes);
        s.g = matrix(gk, sets, in.classes);
        s.g1 = matrix(g1, sets, in.classes);
        double[][] p1m = matrix(p1, sets, in.classes);
        for (int n = 0; n < sets; n++) {
            for (int c = 0; c < in.classes; c++) {
                // FP = Σm·p − I and FN = Σm·y − I; clamped because rounding can leave −ε.
                s.fp[n][c] = Math.max(0.0, p1m[n][c] - s.i[n][c]);
                s.fn[n][c] = Math.max(0.0, s.g1[n][c] - s.i[n][c]);
            }
        }
        return s;
    }

    private static double[][] matrix(INDArray a, int rows, int cols) {
        return a.castTo(DataType.DOUBLE).reshape(rows, cols).toDoubleMatrix();
    }

    /**
     * m·(A·y + B·p^(k−1) + D) with per-group A = dI − dFP − dFN, B = k·dP, D = dFP, scaled by E for a batch group.
     */
    private INDArray probabilityGradient(LossInput in, INDArray p, Evaluation e) {
        double[][][] coef = coefficients(in, e);
        double[][] a = coef[0];
        double[][] b = coef[1];
        double[][] c = coef[2];
        int sets = a.length;
        long[] coefShape = in.spatial() ? new long[]{sets, in.classes, 1} : new long[]{1, in.classes};
        INDArray gradP = in.y.mul(coefficients(a, coefShape, p.dataType()));
        if (squaredPred) {
            gradP.addi(p.mul(coefficients(b, coefShape, p.dataType())));
        }
        gradP.addi(coefficients(c, coefShape, p.dataType()));
        if (in.m != null) {
            gradP.muli(in.m);
        }
        return gradP;
    }

    /**
     * {A, B, D} per (set, class), scaled by E for a batch group; for k = 1 B is folded into D (p^0 = 1), so the
     * caller adds B·p only when {@code squaredPred}.
     */
    private double[][][] coefficients(LossInput in, Evaluation e) {
        Sums d = e.derivatives;
        int sets = d.sets;
        int classes = in.classes;
        double scale = perExample(in) ? 1.0 : in.examples;
        int k = squaredPred ? 2 : 1;
        double[][] a = new double[sets][classes];
        double[][] b = new double[sets][classes];
        double[][] c = new double[sets][classes];
        for (int n = 0; n < sets; n++) {
            for (int j = 0; j < classes; j++) {
                a[n][j] = scale * (d.i[n][j] - d.fp[n][j] - d.fn[n][j]);
                b[n][j] = scale * k * d.p[n][j];
                c[n][j] = scale * d.fp[n][j] + (k == 1 ? b[n][j] : 0);
            }
        }
        return new double[][][]{a, b, c};
    }

    private static INDArray coefficients(double[][] v, long[] shape, DataType type) {
        return Nd4j.createFromArray(v).castTo(type).reshape('c', shape);
    }

    /** Per-class sums (or their derivatives) for a number of sets; row = example or the single batch set. */
    static final class Sums {
        final int sets;
        double[][] i;
        double[][] p;
        double[][] g;
        double[][] g1;
        double[][] fp;
        double[][] fn;

        Sums(int sets, int classes) {
            this.sets = sets;
            i = new double[sets][classes];
            p = new double[sets][classes];
            g = new double[sets][classes];
            g1 = new double[sets][classes];
            fp = new double[sets][classes];
            fn = new double[sets][classes];
        }

        /** One set holding the sum over all sets: BATCH groups. */
        Sums total() {
            int classes = i[0].length;
            Sums t = new Sums(1, classes);
            for (int n = 0; n < sets; n++) {
                for (int c = 0; c < classes; c++) {
                    t.i[0][c] += i[n][c];
                    t.p[0][c] += p[n][c];
                    t.g[0][c] += g[n][c];
                    t.g1[0][c] += g1[n][c];
                    t.fp[0][c] += fp[n][c];
                    t.fn[0][c] += fn[n][c];
                }
            }
            return t;
        }
    }

    private static final class Evaluation {
        final double[] values;
        final double loss;
        final Sums derivatives;
        /** The probabilities, when the gradient was asked for. */
        final INDArray p;

        Evaluation(double[] values, double loss, Sums derivatives, INDArray p) {
            this.values = values;
            this.loss = loss;
            this.derivatives = derivatives;
            this.p = p;
        }

        INDArray perExample(LossInput in, DataType type) {
            if (values.length == in.examples) {
                return Nd4j.createFromArray(values).castTo(type).reshape(in.examples, 1);
            }
            return Nd4j.valueArrayOf(new long[]{in.examples, 1}, loss, type);
        }
    }

    // ------------------------------------------------------------------------------------------------------------
    // Configuration.

    public Reduction getReduction() {
        return reduction;
    }

    public boolean isIncludeBackground() {
        return includeBackground;
    }

    public double getSmoothNr() {
        return smoothNr;
    }

    public double getSmoothDr() {
        return smoothDr;
    }

    public boolean isSquaredPred() {
        return squaredPred;
    }

    public boolean isCheckFinite() {
        return checkFinite;
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (o == null || o.getClass() != getClass()) {
            return false;
        }
        AbstractRegionLoss that = (AbstractRegionLoss) o;
        return reduction == that.reduction && includeBackground == that.includeBackground
                && Double.compare(smoothNr, that.smoothNr) == 0 && Double.compare(smoothDr, that.smoothDr) == 0
                && squaredPred == that.squaredPred && checkFinite == that.checkFinite;
    }

    @Override
    public int hashCode() {
        return Objects.hash(getClass().getName(), reduction, includeBackground, smoothNr, smoothDr, squaredPred,
                checkFinite);
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "(reduction=" + reduction + ", includeBackground=" + includeBackground
                + ", smoothNr=" + smoothNr + ", smoothDr=" + smoothDr + ", squaredPred=" + squaredPred
                + extraOptions() + ", checkFinite=" + checkFinite + ")";
    }

    /** Loss-specific options for {@link #toString()}, each as {@code ", name=value"}. */
    String extraOptions() {
        return "";
    }

    /**
     * Options shared by every region loss. Defaults: SAMPLE, background included, s_nr = s_dr = 1e-5, k = 1,
     * finite check on.
     *
     * @param <B> the concrete builder
     */
    public abstract static class Builder<B extends Builder<B>> {
        Reduction reduction = Reduction.SAMPLE;
        boolean includeBackground = true;
        double smoothNr = DEFAULT_SMOOTH;
        double smoothDr = DEFAULT_SMOOTH;
        boolean squaredPred = false;
        boolean checkFinite = true;

        Builder() {
        }

        /** SAMPLE: one group per (example, class); BATCH: one group per class over the whole batch. */
        public B reduction(Reduction reduction) {
            this.reduction = reduction;
            return self();
        }

        /** false drops class 0 from the groups (the activation still covers every class). */
        public B includeBackground(boolean includeBackground) {
            this.includeBackground = includeBackground;
            return self();
        }

        /** Numerator smoothing s_nr (>= 0). */
        public B smoothNr(double smoothNr) {
            this.smoothNr = smoothNr;
            return self();
        }

        /** Denominator smoothing s_dr (>= 0). */
        public B smoothDr(double smoothDr) {
            this.smoothDr = smoothDr;
            return self();
        }

        /** true uses k = 2 in P = Σ m·p^k and G = Σ m·y^k (V-Net's squared denominator). */
        public B squaredPred(boolean squaredPred) {
            this.squaredPred = squaredPred;
            return self();
        }

        /** false skips the scan for NaN/infinite pre-outputs (one pass over the array) for speed. */
        public B checkFinite(boolean checkFinite) {
            this.checkFinite = checkFinite;
            return self();
        }

        @SuppressWarnings("unchecked")
        final B self() {
            return (B) this;
        }
    }
}
