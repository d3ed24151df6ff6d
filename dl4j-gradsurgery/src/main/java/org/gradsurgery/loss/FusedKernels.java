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

    /**
     * Block access to a whole c-contiguous FLOAT or DOUBLE array's memory, without copying the array: a block of
     * consecutive elements is copied to or from a {@code double[]} with one bulk NIO copy (plus the float/double
     * conversion, which the kernels would do per element anyway). Element-wise {@code FloatBuffer.get(i)} calls
     * in the kernels' loops cost 3-4× the arithmetic (at 2 × 2 × 44 × 60 × 48, 8 ms instead of 2 for the forward
     * pass).
     */
    private abstract static class Buf {
        /** dst[0..len) = elements [index, index + len); {@code tmp} is scratch of at least {@code len}. */
        abstract void load(int index, double[] dst, float[] tmp, int len);

        /** Elements [index, index + len) = src[0..len) (rounded to the array's type). */
        abstract void store(int index, double[] src, float[] tmp, int len);
    }

    private static final class F extends Buf {
        private final FloatBuffer b;

        F(FloatBuffer b) {
            this.b = b;
        }

        @Override
        void load(int index, double[] dst, float[] tmp, int len) {
            b.get(index, tmp, 0, len);
            for (int i = 0; i < len; i++) {
                dst[i] = tmp[i];
            }
        }

        @Override
        void store(int index, double[] src, float[] tmp, int len) {
            for (int i = 0; i < len; i++) {
                tmp[i] = (float) src[i];
            }
            b.put(index, tmp, 0, len);
        }
    }

    private static final class D extends Buf {
        private final DoubleBuffer b;

        D(DoubleBuffer b) {
            this.b = b;
        }

        @Override
        void load(int index, double[] dst, float[] tmp, int len) {
            b.get(index, dst, 0, len);
        }

        @Override
        void store(int index, double[] src, float[] tmp, int len) {
            b.put(index, src, 0, len);
        }
    }

    /** Voxels per block: the block's arrays (a few per class) stay in the L1/L2 cache. */
    static final int BLOCK = 512;

    /**
     * Whether exp(0) is exactly 1 here (it is in every JDK's {@code Math.exp}, checked rather than assumed): the
     * two-class softmax then takes one exponential per voxel, e^{z_min − z_max}, and uses 1 for the class at the
     * maximum, which is what the general path computes there (e^0), so the results are the same to the bit.
     */
    private static final boolean EXP_ZERO_IS_ONE = Math.exp(0.0) == 1.0;

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
        /** Whether every label seen lies in [0, 1] (NaN does not). */
        boolean labelsInRange = true;

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
            all.labelsInRange &= q.labelsInRange;
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
        if (!all.labelsInRange) {
            throw labelRangeError(in, y, (int) in.y.length());
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

    /**
     * The weights of a block per class: {@code ones} without a mask, the per-voxel mask block for every class, or
     * each class's own mask block.
     */
    private static double[][] weights(Geometry g, Buf m, int u, int base, int len, double[] ones, double[][] mb,
                                      float[] tmp) {
        double[][] w = new double[g.c][];
        if (m == null) {
            java.util.Arrays.fill(w, ones);
        } else if (g.maskPerClass) {
            for (int c = 0; c < g.c; c++) {
                m.load(base + c * g.v, mb[c], tmp, len);
                w[c] = mb[c];
            }
        } else {
            m.load(u, mb[0], tmp, len);
            java.util.Arrays.fill(w, mb[0]);
        }
        return w;
    }

    /** The labels' range error, with their minimum and maximum found by a second scan (the error path only). */
    private static IllegalArgumentException labelRangeError(LossInput in, Buf y, int length) {
        double min = Double.POSITIVE_INFINITY;
        double max = Double.NEGATIVE_INFINITY;
        double[] block = new double[BLOCK];
        float[] tmp = new float[BLOCK];
        for (int from = 0; from < length; from += BLOCK) {
            int len = Math.min(BLOCK, length - from);
            y.load(from, block, tmp, len);
            for (int i = 0; i < len; i++) {
                min = Math.min(min, block[i]);
                max = Math.max(max, block[i]);
            }
        }
        return LossInput.labelRangeError(in, min, max);
    }

    /**
     * One chunk of voxel positions u ∈ [from, to), in blocks of at most {@link #BLOCK} voxels of one example. Each
     * value is the same double arithmetic as a voxel-at-a-time loop (same operands, same order of every sum: per
     * (set, class) the voxels in increasing order, per voxel the classes in increasing order), so the results do
     * not depend on the block size.
     */
    private static Partial forwardChunk(Geometry g, Buf z, Buf y, Buf m, Buf p, boolean softmax, boolean squared,
                                        int sets, int from, int to) {
        int classes = g.c;
        int stride = g.v;
        Partial r = new Partial(sets, classes);
        int block = Math.min(BLOCK, to - from);
        double[][] e = new double[classes][block];
        double[][] yb = new double[classes][block];
        double[][] mb = m == null ? null : new double[g.maskPerClass ? classes : 1][block];
        double[] ones = new double[block];
        java.util.Arrays.fill(ones, 1.0);
        double[] max = new double[block];
        double[] sum = new double[block];
        float[] tmp = new float[block];
        for (int u = from; u < to; ) {
            int n = u / stride;
            int v0 = u - n * stride;
            int len = Math.min(block, Math.min(to - u, stride - v0));
            int set = g.set(n);
            int base = n * classes * stride + v0;
            long nonFinite = 0;
            for (int c = 0; c < classes; c++) {
                double[] ec = e[c];
                z.load(base + c * stride, ec, tmp, len);
                for (int i = 0; i < len; i++) {
                    if (!Double.isFinite(ec[i])) {
                        nonFinite++;
                    }
                }
            }
            r.nonFinite += nonFinite;
            if (softmax && classes == 2 && nonFinite == 0 && EXP_ZERO_IS_ONE) {
                double[] e0 = e[0];
                double[] e1 = e[1];
                for (int i = 0; i < len; i++) {
                    double mx = Math.max(e0[i], e1[i]);
                    double d0 = e0[i] - mx;
                    double d1 = e1[i] - mx;
                    double x = Math.exp(Math.min(d0, d1));
                    double x0 = d0 == 0 ? 1.0 : x;
                    double x1 = d1 == 0 ? 1.0 : x;
                    double s = x0 + x1;
                    e0[i] = x0 / s;
                    e1[i] = x1 / s;
                }
            } else if (softmax) {
                java.util.Arrays.fill(max, 0, len, Double.NEGATIVE_INFINITY);
                for (int c = 0; c < classes; c++) {
                    double[] ec = e[c];
                    for (int i = 0; i < len; i++) {
                        max[i] = Math.max(max[i], ec[i]);
                    }
                }
                java.util.Arrays.fill(sum, 0, len, 0.0);
                for (int c = 0; c < classes; c++) {
                    double[] ec = e[c];
                    for (int i = 0; i < len; i++) {
                        double x = Math.exp(ec[i] - max[i]);
                        ec[i] = x;
                        sum[i] += x;
                    }
                }
                for (int c = 0; c < classes; c++) {
                    double[] ec = e[c];
                    for (int i = 0; i < len; i++) {
                        ec[i] /= sum[i];
                    }
                }
            } else {
                for (int c = 0; c < classes; c++) {
                    double[] ec = e[c];
                    for (int i = 0; i < len; i++) {
                        ec[i] = 1 / (1 + Math.exp(-ec[i]));
                    }
                }
            }
            double[][] w = weights(g, m, u, base, len, ones, mb, tmp);
            for (int c = 0; c < classes; c++) {
                int idx = base + c * stride;
                double[] pc = e[c];
                double[] yc = yb[c];
                double[] wc = w[c];
                if (p != null) {
                    p.store(idx, pc, tmp, len);
                }
                y.load(idx, yc, tmp, len);
                boolean inRange = r.labelsInRange;
                double i1 = r.i1[set][c];
                double p1 = r.p1[set][c];
                double g1 = r.g1[set][c];
                double pk = r.pk[set][c];
                double gk = r.gk[set][c];
                for (int i = 0; i < len; i++) {
                    double pi = pc[i];
                    double yi = yc[i];
                    // not a running min/max: Math.min/max on doubles is a chain of several cycles per value
                    inRange &= yi >= 0.0 & yi <= 1.0;
                    double wi = wc[i];
                    if (wi == 0) {
                        continue;
                    }
                    double pm = wi * pi;
                    double ym = wi * yi;
                    i1 += pm * yi;
                    p1 += pm;
                    g1 += ym;
                    if (squared) {
                        pk += pm * pi;
                        gk += ym * yi;
                    }
                }
                r.labelsInRange = inRange;
                r.i1[set][c] = i1;
                r.p1[set][c] = p1;
                r.g1[set][c] = g1;
                r.pk[set][c] = pk;
                r.gk[set][c] = gk;
            }
            u += len;
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
     * coefficient row per example, or a single row for BATCH groups and rank 2). Written over {@code pArr} (the
     * probabilities {@link #forward} returned, which the callers need no longer), which is returned: one array
     * fewer to allocate and to stream through per step.
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
        // in place: each block of p is read before its gradient is written over it
        int[] bounds = chunks(g);
        run(bounds, t -> backwardChunk(g, p, y, m, p, softmax, squared, a, b, c0, mode, exponent, balanced,
                bounds[t], bounds[t + 1]));
        return pArr;
    }

    /** One chunk of voxel positions, in blocks as {@link #forwardChunk}; per element the same arithmetic. */
    private static void backwardChunk(Geometry g, Buf p, Buf y, Buf m, Buf o, boolean softmax, boolean squared,
                                      double[][] a, double[][] b, double[][] c0, Mode mode, double exponent,
                                      boolean balanced, int from, int to) {
        int classes = g.c;
        int stride = g.v;
        int block = Math.min(BLOCK, to - from);
        double[][] f = new double[classes][block];
        double[][] pb = new double[classes][block];
        double[][] yb = new double[classes][block];
        double[][] mb = m == null ? null : new double[g.maskPerClass ? classes : 1][block];
        double[] ones = new double[block];
        java.util.Arrays.fill(ones, 1.0);
        double[] acc = new double[block];
        float[] tmp = new float[block];
        boolean surgery = mode != Mode.GRADIENT;
        boolean jacobian = mode != Mode.SURGERY_LOGITS;
        for (int u = from; u < to; ) {
            int n = u / stride;
            int v0 = u - n * stride;
            int len = Math.min(block, Math.min(to - u, stride - v0));
            int set = a.length == 1 ? 0 : n;
            double[] an = a[set];
            double[] bn = b[set];
            double[] cn = c0[set];
            int base = n * classes * stride + v0;
            double[][] w = weights(g, m, u, base, len, ones, mb, tmp);
            for (int c = 0; c < classes; c++) {
                int idx = base + c * stride;
                double[] pc = pb[c];
                double[] yc = yb[c];
                double[] fc = f[c];
                double[] wc = w[c];
                p.load(idx, pc, tmp, len);
                y.load(idx, yc, tmp, len);
                double ac = an[c];
                double bc = bn[c];
                double cc = cn[c];
                for (int i = 0; i < len; i++) {
                    double wi = wc[i];
                    double pi = pc[i];
                    if (wi == 0) {
                        fc[i] = 0;
                        continue;
                    }
                    double yi = yc[i];
                    if (balanced) {
                        // w·sign(p − y)·|y − p|^γ: the region loss's per-group weights, equal on both label values
                        double e = pi - yi;
                        double err = Math.abs(e);
                        double mag = exponent == 1 ? err : exponent == 2 ? err * err : Math.pow(err, exponent);
                        fc[i] = wi * ac * (e < 0 ? -mag : e > 0 ? mag : 0);
                        continue;
                    }
                    double gp = wi * (ac * yi + (squared ? bc * pi : 0) + cc);
                    if (surgery) {
                        double err = Math.abs(yi - pi);
                        gp *= exponent == 1 ? err : exponent == 2 ? err * err : Math.pow(err, exponent);
                    }
                    fc[i] = gp;
                }
            }
            if (jacobian) {
                if (softmax) {
                    java.util.Arrays.fill(acc, 0, len, 0.0);
                    for (int c = 0; c < classes; c++) {
                        double[] pc = pb[c];
                        double[] fc = f[c];
                        for (int i = 0; i < len; i++) {
                            acc[i] += pc[i] * fc[i];
                        }
                    }
                    for (int c = 0; c < classes; c++) {
                        double[] pc = pb[c];
                        double[] fc = f[c];
                        for (int i = 0; i < len; i++) {
                            fc[i] = pc[i] * (fc[i] - acc[i]);
                        }
                    }
                } else {
                    for (int c = 0; c < classes; c++) {
                        double[] pc = pb[c];
                        double[] fc = f[c];
                        for (int i = 0; i < len; i++) {
                            fc[i] *= pc[i] * (1 - pc[i]);
                        }
                    }
                }
            } else if (softmax) {
                java.util.Arrays.fill(acc, 0, len, 0.0);
                for (int c = 0; c < classes; c++) {
                    double[] fc = f[c];
                    for (int i = 0; i < len; i++) {
                        acc[i] += fc[i];
                    }
                }
                for (int i = 0; i < len; i++) {
                    acc[i] /= classes;
                }
                for (int c = 0; c < classes; c++) {
                    double[] fc = f[c];
                    for (int i = 0; i < len; i++) {
                        fc[i] -= acc[i];
                    }
                }
            }
            for (int c = 0; c < classes; c++) {
                double[] fc = f[c];
                if (surgery) {
                    double[] wc = w[c];
                    for (int i = 0; i < len; i++) {
                        fc[i] *= wc[i];
                    }
                }
                o.store(base + c * stride, fc, tmp, len);
            }
            u += len;
        }
    }
}
