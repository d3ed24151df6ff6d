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
 * visiting a voxel's classes together. Large arrays are split into contiguous chunks over as many threads as ND4J
 * may use; each chunk keeps its own partial sums.
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
     * Splits the voxel positions u = n·V + v, u ∈ [0, N·V), into contiguous chunks, one per thread: as many as ND4J
     * may use ({@code Environment.maxThreads}), and only for arrays large enough to pay for the hand-off.
     */
    private static int[] chunks(Geometry g) {
        long work = (long) g.n * g.v * g.c;
        int threads = work < PARALLEL_THRESHOLD ? 1 : Math.max(1, Math.min(
                Nd4j.getEnvironment().maxThreads(), Runtime.getRuntime().availableProcessors()));
        int total = g.n * g.v;
        threads = Math.min(threads, total);
        int[] bounds = new int[threads + 1];
        for (int t = 0; t <= threads; t++) {
            bounds[t] = (int) ((long) total * t / threads);
        }
        return bounds;
    }

    /** Below this many values one thread is faster than two. */
    private static final long PARALLEL_THRESHOLD = 1 << 17;

    private static void run(int[] bounds, java.util.function.IntConsumer chunk) {
        int threads = bounds.length - 1;
        if (threads == 1) {
            chunk.accept(0);
        } else {
            java.util.stream.IntStream.range(0, threads).parallel().forEach(chunk);
        }
    }

    /** Partial sums of one chunk of the forward pass. */
    private static final class Partial {
        final double[][] i1;
        final double[][] p1;
        final double[][] pk;
        final double[][] g1;
        final double[][] gk;
        long nonFinite;
        double yMin = Double.POSITIVE_INFINITY;
        double yMax = Double.NEGATIVE_INFINITY;

        Partial(int sets, int classes) {
            i1 = new double[sets][classes];
            p1 = new double[sets][classes];
            pk = new double[sets][classes];
            g1 = new double[sets][classes];
            gk = new double[sets][classes];
        }
    }

    /**
     * p = activation(z) and the sums of every group into {@code s}, validating labels ([0, 1]) and, if asked,
     * pre-outputs (finite) on the way.
     *
     * @param writeP whether to return p (the score alone does not need it)
     * @return p, or null when {@code writeP} is false
     */
    static INDArray forward(LossInput in, boolean softmax, boolean squared, boolean checkFinite,
                            AbstractRegionLoss.Sums s, boolean writeP) {
        Geometry g = new Geometry(in);
        Buf z = buf(in.z);
        Buf y = buf(in.y);
        Buf m = in.m == null ? null : buf(in.m);
        INDArray pArr = writeP ? Nd4j.createUninitialized(in.z.dataType(), in.z.shape(), 'c') : null;
        Buf p = writeP ? buf(pArr) : null;
        int[] bounds = chunks(g);
        Partial[] parts = new Partial[bounds.length - 1];
        run(bounds, t -> parts[t] = forwardChunk(g, z, y, m, p, softmax, squared, s.sets, bounds[t],
                bounds[t + 1]));
        Partial all = parts[0];
        for (int t = 1; t < parts.length; t++) {
            Partial q = parts[t];
            all.nonFinite += q.nonFinite;
            all.yMin = Math.min(all.yMin, q.yMin);
            all.yMax = Math.max(all.yMax, q.yMax);
            for (int set = 0; set < s.sets; set++) {
                for (int c = 0; c < g.c; c++) {
                    all.i1[set][c] += q.i1[set][c];
                    all.p1[set][c] += q.p1[set][c];
                    all.pk[set][c] += q.pk[set][c];
                    all.g1[set][c] += q.g1[set][c];
                    all.gk[set][c] += q.gk[set][c];
                }
            }
        }
        if (!(all.yMin >= 0.0 && all.yMax <= 1.0)) {
            throw LossInput.labelRangeError(in, all.yMin, all.yMax);
        }
        if (checkFinite && all.nonFinite > 0) {
            throw LossInput.nonFiniteError(in, all.nonFinite);
        }
        for (int set = 0; set < s.sets; set++) {
            for (int c = 0; c < g.c; c++) {
                s.i[set][c] = all.i1[set][c];
                s.g1[set][c] = all.g1[set][c];
                s.p[set][c] = squared ? all.pk[set][c] : all.p1[set][c];
                s.g[set][c] = squared ? all.gk[set][c] : all.g1[set][c];
                s.fp[set][c] = Math.max(0.0, all.p1[set][c] - all.i1[set][c]);
                s.fn[set][c] = Math.max(0.0, all.g1[set][c] - all.i1[set][c]);
            }
        }
        return pArr;
    }

    private static Partial forwardChunk(Geometry g, Buf z, Buf y, Buf m, Buf p, boolean softmax, boolean squared,
                                        int sets, int from, int to) {
        int classes = g.c;
        int stride = g.v;
        Partial r = new Partial(sets, classes);
        double[] e = new double[classes];
        for (int u = from; u < to; u++) {
            int n = u / stride;
            int v = u - n * stride;
            int set = g.set(n);
            int base = n * classes * stride + v;
            if (softmax) {
                double max = Double.NEGATIVE_INFINITY;
                for (int c = 0; c < classes; c++) {
                    double zi = z.get(base + c * stride);
                    e[c] = zi;
                    if (!Double.isFinite(zi)) {
                        r.nonFinite++;
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
                    double zi = z.get(base + c * stride);
                    if (!Double.isFinite(zi)) {
                        r.nonFinite++;
                    }
                    e[c] = 1 / (1 + Math.exp(-zi));
                }
            }
            double mv = m == null || g.maskPerClass ? 1 : m.get(u);
            for (int c = 0; c < classes; c++) {
                int idx = base + c * stride;
                double pi = e[c];
                if (p != null) {
                    p.set(idx, pi);
                }
                double yi = y.get(idx);
                r.yMin = Math.min(r.yMin, yi);
                r.yMax = Math.max(r.yMax, yi);
                double w = g.maskPerClass ? m.get(idx) : mv;
                if (w == 0) {
                    continue;
                }
                double pm = w * pi;
                double ym = w * yi;
                r.i1[set][c] += pm * yi;
                r.p1[set][c] += pm;
                r.g1[set][c] += ym;
                if (squared) {
                    r.pk[set][c] += pm * pi;
                    r.gk[set][c] += ym * yi;
                }
            }
        }
        return r;
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
     * {@code m·(a·y + b·p^(k−1) + c0)} (k = 2 when {@code squared}; the coefficients carry DL4J's scale; one
     * coefficient row per example, or a single row for BATCH groups and rank 2).
     */
    static INDArray backward(LossInput in, INDArray pArr, boolean softmax, boolean squared, double[][] a,
                             double[][] b, double[][] c0, Mode mode, double exponent) {
        return backward(in, pArr, softmax, squared, a, b, c0, mode, exponent, false);
    }

    /**
     * As {@link #backward(LossInput, INDArray, boolean, boolean, double[][], double[][], double[][], Mode, double)};
     * with {@code balanced} (surgery modes only) the per-element field before the class-mean removal or the
     * Jacobian is {@code m·a·sign(p − y)·|y − p|^γ}: {@code a} then holds the balanced weight w = (a + b)/2 of each
     * group ({@link GradientSurgery.Weighting#BALANCED}), and the values of {@code b}, {@code c0} are not used.
     */
    static INDArray backward(LossInput in, INDArray pArr, boolean softmax, boolean squared, double[][] a,
                             double[][] b, double[][] c0, Mode mode, double exponent, boolean balanced) {
        if (balanced && mode == Mode.GRADIENT) {
            throw new IllegalStateException("FusedKernels: the balanced weighting is a surgery field, not a gradient");
        }
        Geometry g = new Geometry(in);
        Buf p = buf(pArr);
        Buf y = buf(in.y);
        Buf m = in.m == null ? null : buf(in.m);
        INDArray out = Nd4j.createUninitialized(in.z.dataType(), in.z.shape(), 'c');
        Buf o = buf(out);
        int[] bounds = chunks(g);
        run(bounds, t -> backwardChunk(g, p, y, m, o, softmax, squared, a, b, c0, mode, exponent, balanced,
                bounds[t], bounds[t + 1]));
        return out;
    }

    private static void backwardChunk(Geometry g, Buf p, Buf y, Buf m, Buf o, boolean softmax, boolean squared,
                                      double[][] a, double[][] b, double[][] c0, Mode mode, double exponent,
                                      boolean balanced, int from, int to) {
        int classes = g.c;
        int stride = g.v;
        double[] f = new double[classes];
        double[] pv = new double[classes];
        double[] wv = new double[classes];
        boolean surgery = mode != Mode.GRADIENT;
        boolean jacobian = mode != Mode.SURGERY_LOGITS;
        for (int u = from; u < to; u++) {
            int n = u / stride;
            int v = u - n * stride;
            int set = a.length == 1 ? 0 : n;
            double[] an = a[set];
            double[] bn = b[set];
            double[] cn = c0[set];
            int base = n * classes * stride + v;
            double mv = m == null || g.maskPerClass ? 1 : m.get(u);
            for (int c = 0; c < classes; c++) {
                int idx = base + c * stride;
                double w = g.maskPerClass ? m.get(idx) : mv;
                double pi = p.get(idx);
                pv[c] = pi;
                wv[c] = w;
                if (w == 0) {
                    f[c] = 0;
                    continue;
                }
                double yi = y.get(idx);
                if (balanced) {
                    // w·sign(p − y)·|y − p|^γ: the region loss's per-group weights, equal on both label values
                    double e = pi - yi;
                    double err = Math.abs(e);
                    double mag = exponent == 1 ? err : exponent == 2 ? err * err : Math.pow(err, exponent);
                    f[c] = w * an[c] * (e < 0 ? -mag : e > 0 ? mag : 0);
                    continue;
                }
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
                o.set(base + c * stride, surgery ? f[c] * wv[c] : f[c]);
            }
        }
    }
}
