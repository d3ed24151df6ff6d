package org.gradsurgery.layers.impl;

import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Fused passes for {@link AbstractSpatialNormalizationLayer} in its common case: FLOAT, channels-first
 * ({@code NCHW}/{@code NCDHW}) arrays, identity or ReLU activation.
 *
 * <p>The input is seen as N·C contiguous blocks of S spatial values, block b = n·C + c at offset b·S. A statistics
 * group is one block (instance norm) or the N blocks of a channel (batch norm). With x̂ = (x − μ_g)/sqrt(σ²_g + ε),
 * z = γ_c·x̂ + β_c and y = act(z):
 * <ul>
 *   <li>{@link #moments}: μ_g and the biased σ²_g in one pass, sums in double;</li>
 *   <li>{@link #forward}: y, one pass;</li>
 *   <li>{@link #backward}: with δ = ∂L/∂z (∂L/∂y masked by z &gt; 0 for ReLU), one pass for the per-block sums
 *       Σδ and Σδ·x̂, one for ∂L/∂x = γ_c/sqrt(σ²_g + ε) · (δ − mean_g δ − x̂ · mean_g(δ·x̂)); ∂L/∂β_c = Σδ and
 *       ∂L/∂γ_c = Σδ·x̂ over the channel's blocks.</li>
 * </ul>
 * In training, a group of at most {@link #groupedLimit} values is read into a per-thread scratch array once and both
 * passes run on that copy ({@link #trainingForward}; {@link #backward}), which in a 2D U-Net step cut batch norm's
 * backward thread CPU by a quarter (24.5–26.1 → 18.3–19.3 ms per step); the sums keep the two-pass order, so the
 * results are the same bits ({@code NormalizationKernelsTest}).
 *
 * <p>Why: as ND4J ops the same layer is about fifteen full passes over memory with broadcast temporaries (each
 * reduction over the non-channel axes of an NCHW array is a strided reduction); once the convolutions run on
 * oneDNN, that made batch norm the largest cost of a 2D U-Net step ({@code docs/PERFORMANCE.md}). Blocks are
 * processed in parallel over as many threads as ND4J may use. Only FLOAT, the training type, is fused: DOUBLE (the
 * gradient checks' type) and everything else take the ND4J path, which computes the same values;
 * {@code NormalizationKernelsTest} compares the two in FLOAT, and the gradient checks cover the ND4J path.
 */
final class NormalizationKernels {

    /** Tests switch the kernels off to compare the ND4J path with them. */
    static volatile boolean enabled = true;

    /**
     * Largest statistics group, in values, that {@link #trainingForward} and {@link #backward} read once into a
     * scratch array (a 2D U-Net's largest batch-norm group is 4·128² = 2^16, the case this was measured for); larger
     * groups take two passes over memory (with 64³ instance-norm groups the grouped path ran at the same speed).
     * Tests lower it to compare the two paths.
     */
    static volatile int groupedLimit = 1 << 16;

    private NormalizationKernels() {
    }

    /** Whether {@code a} is a FLOAT array whose memory is exactly its c-order elements. */
    static boolean whole(INDArray a) {
        long bytes = a.length() * a.data().getElementSize();
        return a.dataType() == DataType.FLOAT && a.ordering() == 'c' && a.data().offset() == 0
                && a.data().length() == a.length() && bytes < Integer.MAX_VALUE
                && Arrays.equals(a.stride(), Nd4j.getStrides(a.shape(), 'c'))
                && a.data().asNio().capacity() >= bytes;
    }

    /** The block structure of one channels-first array. */
    record Blocks(int n, int c, int s, boolean perExample) {

        static Blocks of(INDArray x, boolean perExample) {
            long spatial = x.length() / (x.size(0) * x.size(1));
            return new Blocks((int) x.size(0), (int) x.size(1), (int) spatial, perExample);
        }

        int count() {
            return n * c;
        }

        int groups() {
            return perExample ? n * c : c;
        }

        int group(int block) {
            return perExample ? block : block % c;
        }

        /** Elements per statistics group. */
        long groupSize() {
            return perExample ? s : (long) n * s;
        }

        int blocksPerGroup() {
            return perExample ? 1 : n;
        }

        /** The j-th block of group g, blocks in increasing order. */
        int block(int g, int j) {
            return perExample ? g : j * c + g;
        }
    }

    /** Per-group mean and biased variance. */
    record Moments(double[] mean, double[] var) {
    }

    /**
     * One pass: per block, sums of (x − K) and (x − K)² with K the group's first value (the shifted-data form of
     * the two-pass formula: exact in exact arithmetic and free of E[x²] − μ² cancellation for data far from 0).
     */
    static Moments moments(INDArray x, Blocks b) {
        FloatBuffer in = floats(x);
        double[] shift = new double[b.groups()];
        for (int block = b.count() - 1; block >= 0; block--) {
            shift[b.group(block)] = in.get(block * b.s());
        }
        double[] s1 = new double[b.count()];
        double[] s2 = new double[b.count()];
        forBlocks(b, (block, xs, unused) -> {
            in.get(block * b.s(), xs, 0, b.s());
            float k = (float) shift[b.group(block)];
            for (int i = 0; i < b.s(); i++) {
                xs[i] -= k;
            }
            s1[block] = sum(xs, b.s());
            s2[block] = dot(xs, xs, b.s());
        });
        double[] mean = new double[b.groups()];
        double[] var = new double[b.groups()];
        double[] t1 = new double[b.groups()];
        double[] t2 = new double[b.groups()];
        for (int block = 0; block < b.count(); block++) {
            t1[b.group(block)] += s1[block];
            t2[b.group(block)] += s2[block];
        }
        for (int g = 0; g < mean.length; g++) {
            double d = t1[g] / b.groupSize();
            mean[g] = shift[g] + d;
            var[g] = Math.max(0, t2[g] / b.groupSize() - d * d);
        }
        return new Moments(mean, var);
    }

    /** y = act(γ_c·(x − μ_g)·inv_g + β_c) into {@code out} (same shape as x). */
    static void forward(INDArray x, Blocks b, double[] mean, double[] invStd, double[] gamma, double[] beta,
                        boolean relu, INDArray out) {
        FloatBuffer in = floats(x);
        FloatBuffer o = floats(out);
        forBlocks(b, (block, buf, unused) -> {
            in.get(block * b.s(), buf, 0, b.s());
            int g = b.group(block);
            int c = block % b.c();
            // y = scale·x + shift with scale = γ·inv, shift = β − μ·γ·inv
            float scale = (float) (gamma[c] * invStd[g]);
            float shift = (float) (beta[c] - mean[g] * gamma[c] * invStd[g]);
            if (relu) {
                for (int i = 0; i < b.s(); i++) {
                    buf[i] = Math.max(buf[i] * scale + shift, 0f);
                }
            } else {
                for (int i = 0; i < b.s(); i++) {
                    buf[i] = buf[i] * scale + shift;
                }
            }
            o.put(block * b.s(), buf, 0, b.s());
        });
    }

    /**
     * Training forward: the statistics of x ({@link #moments}) and y = act(γ_c·(x − μ_g)·inv_g + β_c) into
     * {@code out} with inv_g = 1/sqrt(σ²_g + eps). A group that fits {@link #groupedLimit} is read from memory once
     * and normalised from the scratch copy (one read and one write per value instead of two reads and one write);
     * the sums run in the same order as in {@link #moments}, so both ways give the same bits.
     */
    static Moments trainingForward(INDArray x, Blocks b, double eps, double[] gamma, double[] beta, boolean relu,
                                   INDArray out) {
        if (b.groupSize() > groupedLimit) {
            Moments m = moments(x, b);
            forward(x, b, m.mean(), invStd(m.var(), eps), gamma, beta, relu, out);
            return m;
        }
        FloatBuffer in = floats(x);
        FloatBuffer o = floats(out);
        double[] mean = new double[b.groups()];
        double[] var = new double[b.groups()];
        int s = b.s();
        forGroups(b, (g, xs, unused) -> {
            float k = in.get(b.block(g, 0) * s);
            double t1 = 0;
            double t2 = 0;
            for (int j = 0; j < b.blocksPerGroup(); j++) {
                in.get(b.block(g, j) * s, xs, j * s, s);
                t1 += shiftedSum(xs, j * s, s, k);
                t2 += shiftedSquares(xs, j * s, s, k);
            }
            double d = t1 / b.groupSize();
            mean[g] = k + d;
            var[g] = Math.max(0, t2 / b.groupSize() - d * d);
            double inv = 1.0 / Math.sqrt(var[g] + eps);
            for (int j = 0; j < b.blocksPerGroup(); j++) {
                int block = b.block(g, j);
                int c = block % b.c();
                float scale = (float) (gamma[c] * inv);
                float shift = (float) (beta[c] - mean[g] * gamma[c] * inv);
                int from = j * s;
                int to = from + s;
                if (relu) {
                    for (int i = from; i < to; i++) {
                        xs[i] = Math.max(xs[i] * scale + shift, 0f);
                    }
                } else {
                    for (int i = from; i < to; i++) {
                        xs[i] = xs[i] * scale + shift;
                    }
                }
                o.put(block * s, xs, from, s);
            }
        });
        return new Moments(mean, var);
    }

    /** 1/sqrt(σ² + eps) per group. */
    static double[] invStd(double[] var, double eps) {
        double[] inv = new double[var.length];
        for (int i = 0; i < var.length; i++) {
            inv[i] = 1.0 / Math.sqrt(var[i] + eps);
        }
        return inv;
    }

    /**
     * ∂L/∂x into {@code dx}, and, when {@code dGamma} is not null, ∂L/∂γ_c and ∂L/∂β_c into {@code dGamma}/{@code dBeta}
     * (length C).
     */
    static void backward(INDArray x, INDArray dy, Blocks b, double[] mean, double[] invStd, double[] gamma,
                         double[] beta, boolean relu, INDArray dx, double[] dGamma, double[] dBeta) {
        FloatBuffer in = floats(x);
        FloatBuffer grad = floats(dy);
        FloatBuffer out = floats(dx);
        double[] sumDelta = new double[b.count()];
        double[] sumDeltaXHat = new double[b.count()];
        if (b.groupSize() <= groupedLimit) {
            groupedBackward(in, grad, out, b, mean, invStd, gamma, beta, relu, sumDelta, sumDeltaXHat);
            parameterGradients(b, sumDelta, sumDeltaXHat, dGamma, dBeta);
            return;
        }
        forBlocks(b, (block, xs, ds) -> {
            deltaAndXHat(in, grad, b, block, xs, ds, mean, invStd, gamma, beta, relu);
            sumDelta[block] = sum(ds, b.s());
            sumDeltaXHat[block] = dot(ds, xs, b.s());
        });
        double[] groupDelta = new double[b.groups()];
        double[] groupDeltaXHat = new double[b.groups()];
        for (int block = 0; block < b.count(); block++) {
            groupDelta[b.group(block)] += sumDelta[block];
            groupDeltaXHat[b.group(block)] += sumDeltaXHat[block];
        }
        parameterGradients(b, sumDelta, sumDeltaXHat, dGamma, dBeta);
        double m = b.groupSize();
        forBlocks(b, (block, xs, ds) -> {
            deltaAndXHat(in, grad, b, block, xs, ds, mean, invStd, gamma, beta, relu);
            int g = b.group(block);
            int c = block % b.c();
            float meanDelta = (float) (groupDelta[g] / m);
            float meanDeltaXHat = (float) (groupDeltaXHat[g] / m);
            float scale = (float) (gamma[c] * invStd[g]);
            for (int i = 0; i < b.s(); i++) {
                ds[i] = scale * (ds[i] - meanDelta - xs[i] * meanDeltaXHat);
            }
            out.put(block * b.s(), ds, 0, b.s());
        });
    }

    /** ∂L/∂γ_c = Σ δ·x̂ and ∂L/∂β_c = Σ δ over the channel's blocks, in block order; nothing when dGamma is null. */
    private static void parameterGradients(Blocks b, double[] sumDelta, double[] sumDeltaXHat, double[] dGamma,
                                           double[] dBeta) {
        if (dGamma != null) {
            Arrays.fill(dGamma, 0);
            Arrays.fill(dBeta, 0);
            for (int block = 0; block < b.count(); block++) {
                dBeta[block % b.c()] += sumDelta[block];
                dGamma[block % b.c()] += sumDeltaXHat[block];
            }
        }
    }

    /**
     * {@link #backward}'s two passes over one group at a time, x̂ and δ kept in scratch arrays between them (two
     * reads and one write per value instead of four reads and one write); per-block sums as in the two-pass form,
     * group sums in block order, so both give the same bits.
     */
    private static void groupedBackward(FloatBuffer in, FloatBuffer grad, FloatBuffer out, Blocks b, double[] mean,
                                        double[] invStd, double[] gamma, double[] beta, boolean relu,
                                        double[] sumDelta, double[] sumDeltaXHat) {
        int s = b.s();
        double m = b.groupSize();
        forGroups(b, (g, xs, ds) -> {
            double groupDelta = 0;
            double groupDeltaXHat = 0;
            for (int j = 0; j < b.blocksPerGroup(); j++) {
                int block = b.block(g, j);
                deltaAndXHat(in, grad, b, block, xs, ds, j * s, mean, invStd, gamma, beta, relu);
                sumDelta[block] = sum(ds, j * s, s);
                sumDeltaXHat[block] = dot(ds, xs, j * s, s);
                groupDelta += sumDelta[block];
                groupDeltaXHat += sumDeltaXHat[block];
            }
            float meanDelta = (float) (groupDelta / m);
            float meanDeltaXHat = (float) (groupDeltaXHat / m);
            for (int j = 0; j < b.blocksPerGroup(); j++) {
                int block = b.block(g, j);
                float scale = (float) (gamma[block % b.c()] * invStd[g]);
                int from = j * s;
                int to = from + s;
                for (int i = from; i < to; i++) {
                    ds[i] = scale * (ds[i] - meanDelta - xs[i] * meanDeltaXHat);
                }
                out.put(block * s, ds, from, s);
            }
        });
    }

    /** One block: xs ← x̂ = (x − μ)·inv and ds ← δ, i.e. ∂L/∂y masked by γ·x̂ + β &gt; 0 for ReLU. */
    private static void deltaAndXHat(FloatBuffer in, FloatBuffer grad, Blocks b, int block, float[] xs, float[] ds,
                                     double[] mean, double[] invStd, double[] gammas, double[] betas, boolean relu) {
        deltaAndXHat(in, grad, b, block, xs, ds, 0, mean, invStd, gammas, betas, relu);
    }

    /** The same into xs and ds from index {@code off}. */
    private static void deltaAndXHat(FloatBuffer in, FloatBuffer grad, Blocks b, int block, float[] xs, float[] ds,
                                     int off, double[] mean, double[] invStd, double[] gammas, double[] betas,
                                     boolean relu) {
        int len = b.s();
        in.get(block * len, xs, off, len);
        grad.get(block * len, ds, off, len);
        int n = off + len;
        int g = b.group(block);
        float mu = (float) mean[g];
        float inv = (float) invStd[g];
        if (relu) {
            float gm = (float) gammas[block % b.c()];
            float bt = (float) betas[block % b.c()];
            for (int i = off; i < n; i++) {
                float xHat = (xs[i] - mu) * inv;
                xs[i] = xHat;
                ds[i] *= positive(gm * xHat + bt);
            }
        } else {
            for (int i = off; i < n; i++) {
                xs[i] = (xs[i] - mu) * inv;
            }
        }
    }

    /**
     * 1 for z &gt; 0, else 0, in min/max and multiplications only, which C2 turns into vector instructions (a
     * comparison, a branch or the sign bits of z keep the loop scalar; this was the costliest part of the backward
     * pass): max(z, 0) is +0 for z ≤ 0, and two scalings by 2^100 take even the smallest positive float, 2^−149, past
     * 1 before min(·, 1) caps it. NaN stays NaN.
     */
    private static float positive(float z) {
        return Math.min(Math.min(Math.max(z, 0f) * 0x1p100f, 1f) * 0x1p100f, 1f);
    }

    // Four partial sums in double: a single accumulator serialises the loop on the add latency.
    private static double sum(float[] a, int n) {
        return sum(a, 0, n);
    }

    private static double sum(float[] a, int from, int n) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        int i = from;
        n += from;
        for (; i + 3 < n; i += 4) {
            s0 += a[i];
            s1 += a[i + 1];
            s2 += a[i + 2];
            s3 += a[i + 3];
        }
        for (; i < n; i++) {
            s0 += a[i];
        }
        return (s0 + s1) + (s2 + s3);
    }

    private static double dot(float[] a, float[] b, int n) {
        return dot(a, b, 0, n);
    }

    private static double dot(float[] a, float[] b, int from, int n) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        int i = from;
        n += from;
        for (; i + 3 < n; i += 4) {
            s0 += a[i] * b[i];
            s1 += a[i + 1] * b[i + 1];
            s2 += a[i + 2] * b[i + 2];
            s3 += a[i + 3] * b[i + 3];
        }
        for (; i < n; i++) {
            s0 += a[i] * b[i];
        }
        return (s0 + s1) + (s2 + s3);
    }

    /** {@link #sum} of the floats a[i] − k, without storing them (the same float differences, so the same bits). */
    private static double shiftedSum(float[] a, int from, int n, float k) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        int i = from;
        n += from;
        for (; i + 3 < n; i += 4) {
            s0 += a[i] - k;
            s1 += a[i + 1] - k;
            s2 += a[i + 2] - k;
            s3 += a[i + 3] - k;
        }
        for (; i < n; i++) {
            s0 += a[i] - k;
        }
        return (s0 + s1) + (s2 + s3);
    }

    /** {@link #dot} of the floats a[i] − k with themselves, without storing them. */
    private static double shiftedSquares(float[] a, int from, int n, float k) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        int i = from;
        n += from;
        for (; i + 3 < n; i += 4) {
            float d0 = a[i] - k;
            float d1 = a[i + 1] - k;
            float d2 = a[i + 2] - k;
            float d3 = a[i + 3] - k;
            s0 += d0 * d0;
            s1 += d1 * d1;
            s2 += d2 * d2;
            s3 += d3 * d3;
        }
        for (; i < n; i++) {
            float d = a[i] - k;
            s0 += d * d;
        }
        return (s0 + s1) + (s2 + s3);
    }

    private static FloatBuffer floats(INDArray a) {
        return a.data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    private interface BlockTask {
        void run(int block, float[] a, float[] b);
    }

    /**
     * Two scratch arrays per thread, kept between calls and grown to the largest group ({@link #forGroups}, at most
     * {@link #groupedLimit} values) or block ({@link #forBlocks}: S values, 96³ = 3.4 MiB each) seen. New arrays
     * per call cost their zeroing, a pass over memory of their own, and blocks of 2^18 values and more are
     * humongous objects to G1 (at {@code -Xmx6g}), which grew the heap: a 96³ × 2 instance-norm training step peaked
     * about 95 MiB higher (1,882–1,915 against 1,789–1,814 MiB, loaded).
     *
     * <p>What such garbage also did: it kept the GC running, which freed native buffers other code had left to it.
     * Sliding-window inference peaked at 1,145 MiB instead of 674 (one thread, 128³, 64³ windows) when this scratch
     * first replaced per-call arrays, until {@code SlidingWindowInference} closed its own arrays (603–634 MiB with the
     * scratch); a scratch is safe only where nothing relies on garbage for memory.
     */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[][] {
        new float[0], new float[0]});

    private static float[][] scratch(int size) {
        float[][] s = SCRATCH.get();
        if (s[0].length < size) {
            s[0] = new float[size];
            s[1] = new float[size];
        }
        return s;
    }

    private interface GroupTask {
        void run(int group, float[] a, float[] b);
    }

    /**
     * Runs {@code task} on every statistics group, over contiguous ranges of groups, one per thread, each with two
     * scratch arrays of a group's size.
     */
    private static void forGroups(Blocks b, GroupTask task) {
        int size = (int) b.groupSize();
        ThreadRanges.run(b.groups(), (long) b.count() * b.s(), (from, to) -> {
            float[][] scratch = scratch(size);
            for (int g = from; g < to; g++) {
                task.run(g, scratch[0], scratch[1]);
            }
        });
    }

    /** Runs {@code task} on every block, over contiguous ranges of blocks, one per thread, each with its scratch. */
    private static void forBlocks(Blocks b, BlockTask task) {
        ThreadRanges.run(b.count(), (long) b.count() * b.s(), (from, to) -> {
            float[][] scratch = scratch(b.s());
            for (int block = from; block < to; block++) {
                task.run(block, scratch[0], scratch[1]);
            }
        });
    }
}
