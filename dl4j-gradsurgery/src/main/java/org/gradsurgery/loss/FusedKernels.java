package org.gradsurgery.loss;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.util.Arrays;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Single-pass kernels for the common case: softmax or sigmoid, FLOAT or DOUBLE, whole c-contiguous arrays.
 *
 * <p>Why: a region loss is a handful of element-wise steps (activation, five masked sums, a per-group affine
 * gradient, the error factor, the class-mean removal, the activation's Jacobian). As separate ND4J ops each step
 * is a full pass over memory plus a temporary, and on a busy 2-core machine the op hand-offs dominate: measured
 * by {@code gradsurgery bench loss}, Dice + surgery took about 2.3× DL4J's {@code LossMCXENT}. Here the forward
 * work (activation, validation of labels and pre-outputs, all sums) is one pass and the gradient another, each
 * visiting a voxel's classes together.
 *
 * <p>Layout: the canonical {@code [N, C, V]} of {@link LossInput}, element (n, c, v) at (n·C + c)·V + v. Rank-2
 * input {@code [R, C]} is the same with N = R, V = 1, its sums pooled into one set. Anything else (other
 * activations or data types, views with an offset, arrays over 2 GB) takes the ND4J path in
 * {@link AbstractRegionLoss}, which computes the same values; tests compare the two.
 */
final class FusedKernels {

    /** Tests switch the kernels off to check the ND4J path against them. */
    static volatile boolean enabled = true;

    private FusedKernels() {
    }

    /** Element access to a whole c-contiguous FLOAT or DOUBLE array's memory, without copying. */
    private abstract static class Buf {
        abstract double get(int i);

        abstract void set(int i, double v);
    }

    private static final class F extends Buf {
        private final FloatBuffer b;

        F(FloatBuffer b) {
            this.b = b;
        }

        @Override
        double get(int i) {
            return b.get(i);
        }

        @Override
        void set(int i, double v) {
            b.put(i, (float) v);
        }
    }

    private static final class D extends Buf {
        private final DoubleBuffer b;

        D(DoubleBuffer b) {
            this.b = b;
        }

        @Override
        double get(int i) {
            return b.get(i);
        }

        @Override
        void set(int i, double v) {
            b.put(i, v);
        }
    }

    /** Whether the kernels apply to this call (see the class documentation). */
    static boolean applies(LossInput in, IActivation activation) {
        Class<?> a = activation.getClass();
        if (!enabled || (a != ActivationSoftmax.class && a != ActivationSigmoid.class)) {
            return false;
        }
        DataType t = in.z.dataType();
        return (t == DataType.FLOAT || t == DataType.DOUBLE) && whole(in.z) && whole(in.y)
                && in.y.dataType() == t && (in.m == null || (whole(in.m) && in.m.dataType() == t));
    }

    private static boolean whole(INDArray a) {
        long bytes = a.length() * a.data().getElementSize();
        return a.ordering() == 'c' && a.data().offset() == 0 && a.data().length() == a.length()
                && bytes < Integer.MAX_VALUE && Arrays.equals(a.stride(), Nd4j.getStrides(a.shape(), 'c'))
                && a.data().asNio().capacity() >= bytes;
    }

    private static Buf buf(INDArray a) {
        ByteBuffer bb = a.data().asNio().order(ByteOrder.nativeOrder());
        return a.dataType() == DataType.FLOAT ? new F(bb.asFloatBuffer()) : new D(bb.asDoubleBuffer());
    }

    /** Geometry of the canonical layout. */
    private static final class Geometry {
        final int n;
        final int c;
        final int v;
        final boolean pooled;
        final boolean maskPerClass;

        Geometry(LossInput in) {
            n = (int) in.shape[0];
            c = in.classes;
            v = (int) in.voxels;
            pooled = !in.spatial();
            maskPerClass = in.m != null && in.m.size(1) == c && c > 1;
        }

        int set(int example) {
            return pooled ? 0 : example;
        }
    }

    /**
     * p = activation(z) and the sums of every group, validating labels ([0, 1]) and, if asked, pre-outputs
     * (finite) on the way.
     *
     * @param writeP whether to return p (the score alone does not need it)
     * @return p, or null when {@code writeP} is false
     */
    static INDArray forward(LossInput in, boolean softmax, boolean squared, boolean checkFinite,
                            AbstractRegionLoss.Sums s) {
        return forward(in, softmax, squared, checkFinite, s, true);
    }

    static INDArray forward(LossInput in, boolean softmax, boolean squared, boolean checkFinite,
                            AbstractRegionLoss.Sums s, boolean writeP) {
        Geometry g = new Geometry(in);
        Buf z = buf(in.z);
        Buf y = buf(in.y);
        Buf m = in.m == null ? null : buf(in.m);
        INDArray pArr = writeP ? Nd4j.createUninitialized(in.z.dataType(), in.z.shape(), 'c') : null;
        Buf p = writeP ? buf(pArr) : null;
        int classes = g.c;
        double[] e = new double[classes];
        double[][] i1 = s.i;
        double[][] pk = s.p;
        double[][] gk = s.g;
        double[][] g1 = s.g1;
        double[][] p1 = new double[s.sets][classes];
        long nonFinite = 0;
        double yMin = Double.POSITIVE_INFINITY;
        double yMax = Double.NEGATIVE_INFINITY;
        for (int n = 0; n < g.n; n++) {
            int set = g.set(n);
            int base = n * classes * g.v;
            for (int v = 0; v < g.v; v++) {
                if (softmax) {
                    double max = Double.NEGATIVE_INFINITY;
                    for (int c = 0; c < classes; c++) {
                        double zi = z.get(base + c * g.v + v);
                        e[c] = zi;
                        if (!Double.isFinite(zi)) {
                            nonFinite++;
                        }
                        max = Math.max(max, zi);
                    }
                    double sum = 0;
                    for (int c = 0; c < classes; c++) {
                        e[c] = Math.exp(e[c] - max);
                        sum += e[c];
                    }
                    for (int c = 0; c < classes; c++) {
                        e[c] /= sum;
                    }
                } else {
                    for (int c = 0; c < classes; c++) {
                        double zi = z.get(base + c * g.v + v);
                        if (!Double.isFinite(zi)) {
                            nonFinite++;
                        }
                        e[c] = 1 / (1 + Math.exp(-zi));
                    }
                }
                double mv = m == null || g.maskPerClass ? 1 : m.get(n * g.v + v);
                for (int c = 0; c < classes; c++) {
                    int idx = base + c * g.v + v;
                    double pi = e[c];
                    if (writeP) {
                        p.set(idx, pi);
                    }
                    double yi = y.get(idx);
                    yMin = Math.min(yMin, yi);
                    yMax = Math.max(yMax, yi);
                    double w = g.maskPerClass ? m.get(idx) : mv;
                    if (w == 0) {
                        continue;
                    }
                    double pm = w * pi;
                    double ym = w * yi;
                    i1[set][c] += pm * yi;
                    p1[set][c] += pm;
                    g1[set][c] += ym;
                    if (squared) {
                        pk[set][c] += pm * pi;
                        gk[set][c] += ym * yi;
                    }
                }
            }
        }
        if (!(yMin >= 0.0 && yMax <= 1.0)) {
            throw LossInput.labelRangeError(in, yMin, yMax);
        }
        if (checkFinite && nonFinite > 0) {
            throw LossInput.nonFiniteError(in, nonFinite);
        }
        for (int set = 0; set < s.sets; set++) {
            for (int c = 0; c < classes; c++) {
                if (!squared) {
                    pk[set][c] = p1[set][c];
                    gk[set][c] = g1[set][c];
                }
                s.fp[set][c] = Math.max(0.0, p1[set][c] - i1[set][c]);
                s.fn[set][c] = Math.max(0.0, g1[set][c] - i1[set][c]);
            }
        }
        return pArr;
    }

    /** What {@link #backward} returns per element. */
    enum Mode {
        /** The loss's own gradient: the activation's Jacobian applied to ∂L/∂p. */
        GRADIENT,
        /** The surgery in logit space: ∂L/∂p ⊙ |y − p|^γ, class-mean removed for softmax, masked. */
        SURGERY_LOGITS,
        /** The surgery in probability space: the Jacobian applied to ∂L/∂p ⊙ |y − p|^γ, masked. */
        SURGERY_PROBABILITIES
    }

    /**
     * The gradient with respect to z of a region loss whose ∂L/∂p is, per group,
     * {@code m·(a·y + b·p^(k−1) + c0)} (k = 2 when {@code squared}; the coefficients carry DL4J's scale).
     */
    static INDArray backward(LossInput in, INDArray pArr, boolean softmax, boolean squared, double[][] a,
                             double[][] b, double[][] c0, Mode mode, double exponent) {
        Geometry g = new Geometry(in);
        Buf p = buf(pArr);
        Buf y = buf(in.y);
        Buf m = in.m == null ? null : buf(in.m);
        INDArray out = Nd4j.createUninitialized(in.z.dataType(), in.z.shape(), 'c');
        Buf o = buf(out);
        int classes = g.c;
        double[] f = new double[classes];
        double[] pv = new double[classes];
        double[] wv = new double[classes];
        boolean surgery = mode != Mode.GRADIENT;
        boolean jacobian = mode != Mode.SURGERY_LOGITS;
        for (int n = 0; n < g.n; n++) {
            int set = a.length == 1 ? 0 : n;  // one coefficient set for BATCH groups and rank 2
            double[] an = a[set];
            double[] bn = b[set];
            double[] cn = c0[set];
            int base = n * classes * g.v;
            for (int v = 0; v < g.v; v++) {
                double mv = m == null || g.maskPerClass ? 1 : m.get(n * g.v + v);
                for (int c = 0; c < classes; c++) {
                    int idx = base + c * g.v + v;
                    double w = g.maskPerClass ? m.get(idx) : mv;
                    double pi = p.get(idx);
                    pv[c] = pi;
                    wv[c] = w;
                    if (w == 0) {
                        f[c] = 0;
                        continue;
                    }
                    double yi = y.get(idx);
                    double gp = w * (an[c] * yi + (squared ? bn[c] * pi : 0) + cn[c]);
                    if (surgery) {
                        double err = Math.abs(yi - pi);
                        gp *= exponent == 1 ? err : exponent == 2 ? err * err : Math.pow(err, exponent);
                    }
                    f[c] = gp;
                }
                if (jacobian) {
                    if (softmax) {
                        double inner = 0;
                        for (int c = 0; c < classes; c++) {
                            inner += pv[c] * f[c];
                        }
                        for (int c = 0; c < classes; c++) {
                            f[c] = pv[c] * (f[c] - inner);
                        }
                    } else {
                        for (int c = 0; c < classes; c++) {
                            f[c] *= pv[c] * (1 - pv[c]);
                        }
                    }
                } else if (softmax) {
                    double mean = 0;
                    for (int c = 0; c < classes; c++) {
                        mean += f[c];
                    }
                    mean /= classes;
                    for (int c = 0; c < classes; c++) {
                        f[c] -= mean;
                    }
                }
                for (int c = 0; c < classes; c++) {
                    o.set(base + c * g.v + v, surgery ? f[c] * wv[c] : f[c]);
                }
            }
        }
        return out;
    }
}
