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
 *   <li>{@link #moments}: μ_g and the biased σ²_g in one pass;</li>
 *   <li>{@link #forward}: y, one pass;</li>
 *   <li>{@link #backward}: with δ = ∂L/∂z (∂L/∂y masked by z &gt; 0 for ReLU), one pass for the per-group sums
 *       Σδ and Σδ·x̂, one for ∂L/∂x = γ_c/sqrt(σ²_g + ε) · (δ − mean_g δ − x̂ · mean_g(δ·x̂)); ∂L/∂β_c = Σδ and
 *       ∂L/∂γ_c = Σδ·x̂ over the channel's groups.</li>
 * </ul>
 * Sums run in float lanes of at most 16 terms with double totals ({@link #ROW}), which C2 vectorises. In training, a
 * group of at most {@link #groupedLimit} values is read into per-thread scratch rows once and both passes run on
 * that copy ({@link #trainingForward}; {@link #backward}), which in a 2D U-Net step cut batch norm's backward thread
 * CPU by a quarter (24.5–26.1 → 18.3–19.3 ms per step); the sums run in the same order either way, so the results
 * are the same bits ({@code NormalizationKernelsTest}).
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
        double[] mean = new double[b.groups()];
        double[] var = new double[b.groups()];
        forGroups(b, false, (g, sc) -> {
            for (int j = 0; j < b.blocksPerGroup(); j++) {
                load(in, b.block(g, j) * b.s(), sc.x, 0, b.s());
                shiftedMoments(sc.x, 0, b.s(), (float) shift[g], sc);
            }
            double[] t = sc.sums();
            double d = t[0] / b.groupSize();
            mean[g] = shift[g] + d;
            var[g] = Math.max(0, t[1] / b.groupSize() - d * d);
        });
        return new Moments(mean, var);
    }

    /** y = act(γ_c·(x − μ_g)·inv_g + β_c) into {@code out} (same shape as x). */
    static void forward(INDArray x, Blocks b, double[] mean, double[] invStd, double[] gamma, double[] beta,
                        boolean relu, INDArray out) {
        FloatBuffer in = floats(x);
        FloatBuffer o = floats(out);
        forBlocks(b, (block, sc) -> {
            int g = b.group(block);
            int c = block % b.c();
            load(in, block * b.s(), sc.x, 0, b.s());
            normalise(sc.x, 0, b.s(), (float) (gamma[c] * invStd[g]),
                    (float) (beta[c] - mean[g] * gamma[c] * invStd[g]), relu);
            store(o, block * b.s(), sc.x, 0, b.s());
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
        int rows = rows(s);
        forGroups(b, true, (g, sc) -> {
            float k = in.get(b.block(g, 0) * s);
            for (int j = 0; j < b.blocksPerGroup(); j++) {
                load(in, b.block(g, j) * s, sc.x, j * rows, s);
                shiftedMoments(sc.x, j * rows, s, k, sc);
            }
            double[] t = sc.sums();
            double d = t[0] / b.groupSize();
            mean[g] = k + d;
            var[g] = Math.max(0, t[1] / b.groupSize() - d * d);
            double inv = 1.0 / Math.sqrt(var[g] + eps);
            for (int j = 0; j < b.blocksPerGroup(); j++) {
                int block = b.block(g, j);
                int c = block % b.c();
                normalise(sc.x, j * rows, s, (float) (gamma[c] * inv), (float) (beta[c] - mean[g] * gamma[c] * inv),
                        relu);
                store(o, block * s, sc.x, j * rows, s);
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
        double[] groupDelta = new double[b.groups()];
        double[] groupDeltaXHat = new double[b.groups()];
        if (b.groupSize() <= groupedLimit) {
            groupedBackward(in, grad, out, b, mean, invStd, gamma, beta, relu, groupDelta, groupDeltaXHat);
            parameterGradients(b, groupDelta, groupDeltaXHat, dGamma, dBeta);
            return;
        }
        forGroups(b, false, (g, sc) -> {
            for (int j = 0; j < b.blocksPerGroup(); j++) {
                deltaAndXHat(in, grad, b, b.block(g, j), sc, 0, mean, invStd, gamma, beta, relu);
            }
            double[] t = sc.sums();
            groupDelta[g] = t[0];
            groupDeltaXHat[g] = t[1];
        });
        parameterGradients(b, groupDelta, groupDeltaXHat, dGamma, dBeta);
        double m = b.groupSize();
        forBlocks(b, (block, sc) -> {
            deltaAndXHat(in, grad, b, block, sc, 0, mean, invStd, gamma, beta, relu);
            sc.sums();   // (the sums of the first pass; this one needs x̂ and δ only)
            int g = b.group(block);
            inputGradient(sc, 0, b.s(), (float) (gamma[block % b.c()] * invStd[g]), (float) (groupDelta[g] / m),
                    (float) (groupDeltaXHat[g] / m));
            store(out, block * b.s(), sc.d, 0, b.s());
        });
    }

    /**
     * ∂L/∂γ_c = Σ δ·x̂ and ∂L/∂β_c = Σ δ over the channel's groups (one for batch norm, N in example order for
     * instance norm); nothing when dGamma is null.
     */
    private static void parameterGradients(Blocks b, double[] groupDelta, double[] groupDeltaXHat, double[] dGamma,
                                           double[] dBeta) {
        if (dGamma != null) {
            Arrays.fill(dGamma, 0);
            Arrays.fill(dBeta, 0);
            for (int g = 0; g < b.groups(); g++) {
                dBeta[g % b.c()] += groupDelta[g];
                dGamma[g % b.c()] += groupDeltaXHat[g];
            }
        }
    }

    /**
     * {@link #backward}'s two passes over one group at a time, x̂ and δ kept in scratch rows between them (two
     * reads and one write per value instead of four reads and one write); the sums run as in the two-pass form, so
     * both give the same bits.
     */
    private static void groupedBackward(FloatBuffer in, FloatBuffer grad, FloatBuffer out, Blocks b, double[] mean,
                                        double[] invStd, double[] gamma, double[] beta, boolean relu,
                                        double[] groupDelta, double[] groupDeltaXHat) {
        int s = b.s();
        int rows = rows(s);
        double m = b.groupSize();
        forGroups(b, true, (g, sc) -> {
            for (int j = 0; j < b.blocksPerGroup(); j++) {
                deltaAndXHat(in, grad, b, b.block(g, j), sc, j * rows, mean, invStd, gamma, beta, relu);
            }
            double[] t = sc.sums();
            groupDelta[g] = t[0];
            groupDeltaXHat[g] = t[1];
            float meanDelta = (float) (t[0] / m);
            float meanDeltaXHat = (float) (t[1] / m);
            for (int j = 0; j < b.blocksPerGroup(); j++) {
                int block = b.block(g, j);
                inputGradient(sc, j * rows, s, (float) (gamma[block % b.c()] * invStd[g]), meanDelta, meanDeltaXHat);
                store(out, block * s, sc.d, j * rows, s);
            }
        });
    }

    /**
     * One block into the scratch rows from row {@code first}: x ← x̂ = (x − μ)·inv and d ← δ, i.e. ∂L/∂y masked by
     * γ·x̂ + β &gt; 0 for ReLU; adds δ and δ·x̂ to the scratch's lane sums (see {@link #ROW}).
     */
    private static void deltaAndXHat(FloatBuffer in, FloatBuffer grad, Blocks b, int block, Scratch sc,
                                         int first, double[] mean, double[] invStd, double[] gammas,
                                         double[] betas, boolean relu) {
        int s = b.s();
        load(in, block * s, sc.x, first, s);
        load(grad, block * s, sc.d, first, s);
        int g = b.group(block);
        float mu = (float) mean[g];
        float inv = (float) invStd[g];
        float gm = (float) gammas[block % b.c()];
        float bt = (float) betas[block % b.c()];
        float[] l1 = sc.lane1;
        float[] l2 = sc.lane2;
        for (int r = first, done = 0; done < s; r++) {
            float[] xs = sc.x[r];
            float[] ds = sc.d[r];
            int len = Math.min(ROW, s - done);
            done += len;
            if (relu) {
                for (int l = 0; l < len; l++) {
                    float xHat = (xs[l] - mu) * inv;
                    float d = ds[l] * positive(gm * xHat + bt);
                    xs[l] = xHat;
                    ds[l] = d;
                    l1[l] += d;
                    l2[l] += d * xHat;
                }
            } else {
                for (int l = 0; l < len; l++) {
                    float xHat = (xs[l] - mu) * inv;
                    float d = ds[l];
                    xs[l] = xHat;
                    l1[l] += d;
                    l2[l] += d * xHat;
                }
            }
            sc.rowDone();
        }
    }

    /** d ← scale·(d − meanDelta − x̂·meanDeltaXHat) over one block's scratch rows from row {@code first}. */
    private static void inputGradient(Scratch sc, int first, int s, float scale, float meanDelta,
                                      float meanDeltaXHat) {
        for (int r = first, done = 0; done < s; r++) {
            float[] xs = sc.x[r];
            float[] ds = sc.d[r];
            int len = Math.min(ROW, s - done);
            done += len;
            for (int l = 0; l < len; l++) {
                ds[l] = scale * (ds[l] - meanDelta - xs[l] * meanDeltaXHat);
            }
        }
    }

    /** rows ← act(scale·rows + shift) over one block's scratch rows from row {@code first}. */
    private static void normalise(float[][] rows, int first, int s, float scale, float shift, boolean relu) {
        for (int r = first, done = 0; done < s; r++) {
            float[] row = rows[r];
            int len = Math.min(ROW, s - done);
            done += len;
            if (relu) {
                for (int l = 0; l < len; l++) {
                    row[l] = Math.max(row[l] * scale + shift, 0f);
                }
            } else {
                for (int l = 0; l < len; l++) {
                    row[l] = row[l] * scale + shift;
                }
            }
        }
    }

    /**
     * 1 for z &gt; 0, else 0, in min/max and multiplications only, which C2 turns into vector instructions (a
     * comparison, a branch or the sign bits of z keep the loop scalar; this was the costliest part of the backward
     * pass): max(z, 0) is +0 for z ≤ 0, and the scalings by 2^126 and then 2^100 (in that order: Java does not fold
     * them into one, 2^226, which is no float) take even the smallest positive float, 2^−149, past 1 (to 2^77), and
     * large z to +∞, before min(·, 1) caps it. NaN stays NaN. One min/max fewer than two scalings by 2^100 with a
     * min after each, the same values, and ReLU's backward loop about a quarter faster (JDK 17's vector min/max
     * keep Java's NaN and −0 rules in several instructions each).
     */
    static float positive(float z) {
        return Math.min(Math.max(z, 0f) * 0x1p126f * 0x1p100f, 1f);
    }

    /**
     * Values per scratch row. The kernels keep a block in rows of this many floats, not one flat array, for the sums:
     * a sum over a block runs as ROW float partial sums ("lanes"; lane l takes the l-th value of every row), and
     * C2 (JDK 17) turns {@code lane[l] += row[l]} into vector instructions only when both arrays are indexed from the
     * same offset, which a flat array (value r·ROW + l) would not be; a sum into one accumulator is a chain of
     * dependent scalar additions, and into doubles needs conversions JDK 17 does not vectorize. After
     * {@link #ROWS} rows the lanes go into double totals and restart from 0, so a float partial sum never holds more
     * than 16 terms: its rounding error stays within a few float ulps of those terms, far below the float tolerance
     * of the results ({@code NormalizationKernelsTest} compares with the ND4J path in FLOAT and DOUBLE), while the
     * totals accumulate in double. The lanes run on across a group's blocks (a flush per 256-value block made the
     * 16² batch-norm layers of a U-Net a third slower per value than the large ones). Against the four scalar double
     * accumulators before, batch norm in a 2D U-Net step went from 13.3–14.0 to 9.0–9.7 ms forward and from
     * 18.9–19.6 to 16.5–16.9 ms backward (thread CPU, {@code bench unet --dims 2 --profile}, two alternating runs
     * each, loaded). Rows also keep the per-thread scratch out of G1's humongous objects.
     */
    static final int ROW = 256;

    /** Rows summed per lane in float before the lanes go into the double totals. */
    static final int ROWS = 16;

    /** Scratch rows a block of s values takes (the last one may be partly used). */
    private static int rows(int s) {
        return (s + ROW - 1) / ROW;
    }

    /** Adds x − k and (x − k)² over one block's s values in {@code rows} from row {@code first} to the lane sums. */
    private static void shiftedMoments(float[][] rows, int first, int s, float k, Scratch sc) {
        float[] l1 = sc.lane1;
        float[] l2 = sc.lane2;
        for (int r = first, done = 0; done < s; r++) {
            float[] row = rows[r];
            int len = Math.min(ROW, s - done);
            done += len;
            for (int l = 0; l < len; l++) {
                float d = row[l] - k;
                l1[l] += d;
                l2[l] += d * d;
            }
            sc.rowDone();
        }
    }

    /**
     * t[0] += Σ l1, t[1] += Σ l2 (four partial sums in double each: one accumulator would serialise on the add
     * latency), and the lanes back to 0.
     */
    private static void flush(float[] l1, float[] l2, double[] t) {
        double a0 = 0;
        double a1 = 0;
        double a2 = 0;
        double a3 = 0;
        double b0 = 0;
        double b1 = 0;
        double b2 = 0;
        double b3 = 0;
        for (int l = 0; l < ROW; l += 4) {
            a0 += l1[l];
            a1 += l1[l + 1];
            a2 += l1[l + 2];
            a3 += l1[l + 3];
            b0 += l2[l];
            b1 += l2[l + 1];
            b2 += l2[l + 2];
            b3 += l2[l + 3];
        }
        t[0] += (a0 + a1) + (a2 + a3);
        t[1] += (b0 + b1) + (b2 + b3);
        Arrays.fill(l1, 0f);
        Arrays.fill(l2, 0f);
    }

    /** s values of {@code buf} from {@code pos} into {@code rows} from row {@code first}. */
    private static void load(FloatBuffer buf, int pos, float[][] rows, int first, int s) {
        for (int r = first, done = 0; done < s; r++, done += ROW) {
            buf.get(pos + done, rows[r], 0, Math.min(ROW, s - done));
        }
    }

    /** The s values in {@code rows} from row {@code first} into {@code buf} from {@code pos}. */
    private static void store(FloatBuffer buf, int pos, float[][] rows, int first, int s) {
        for (int r = first, done = 0; done < s; r++, done += ROW) {
            buf.put(pos + done, rows[r], 0, Math.min(ROW, s - done));
        }
    }

    private static FloatBuffer floats(INDArray a) {
        return a.data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    /**
     * One thread's scratch: rows for x (or x̂) and for δ, and the two lane sums of one statistics group with their
     * double totals ({@link #ROW}; lanes and totals 0 between groups). Kept
     * between calls and grown to the largest group ({@link #forGroups}, at most {@link #groupedLimit} values) or
     * block ({@link #forBlocks}: S values, 96³ = 3.4 MiB) seen. New arrays per call cost their zeroing, a pass over
     * memory of their own, and a flat array of 2^18 values and more is a humongous object to G1 (at
     * {@code -Xmx6g}), which grew the heap: a 96³ × 2 instance-norm training step peaked about 95 MiB higher
     * (1,882–1,915 against 1,789–1,814 MiB, loaded) with per-call arrays.
     *
     * <p>What such garbage also did: it kept the GC running, which freed native buffers other code had left to it.
     * Sliding-window inference peaked at 1,145 MiB instead of 674 (one thread, 128³, 64³ windows) when a per-thread
     * scratch first replaced per-call arrays, until {@code SlidingWindowInference} closed its own arrays (603–634 MiB
     * with the scratch); a scratch is safe only where nothing relies on garbage for memory.
     */
    private static final class Scratch {
        float[][] x = new float[0][];
        float[][] d = new float[0][];
        final float[] lane1 = new float[ROW];
        final float[] lane2 = new float[ROW];
        private final double[] totals = new double[2];
        private int rowsSinceFlush;

        /** After a row was added to the lanes: into the totals once there are {@link #ROWS} rows. */
        void rowDone() {
            if (++rowsSinceFlush == ROWS) {
                flush(lane1, lane2, totals);
                rowsSinceFlush = 0;
            }
        }

        /** The two sums of everything added since the last call, which starts the next group at 0. */
        double[] sums() {
            flush(lane1, lane2, totals);
            rowsSinceFlush = 0;
            double[] t = totals.clone();
            Arrays.fill(totals, 0);
            return t;
        }

        Scratch ensure(int rows) {
            if (x.length < rows) {
                x = grow(x, rows);
                d = grow(d, rows);
            }
            return this;
        }

        private static float[][] grow(float[][] old, int rows) {
            float[][] a = Arrays.copyOf(old, rows);
            for (int r = old.length; r < rows; r++) {
                a[r] = new float[ROW];
            }
            return a;
        }
    }

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private interface Task {
        void run(int item, Scratch scratch);
    }

    /**
     * Runs {@code task} on every statistics group, over contiguous ranges of groups, one per thread, each with
     * scratch rows for a group ({@code wholeGroup}) or one block.
     */
    private static void forGroups(Blocks b, boolean wholeGroup, Task task) {
        int rows = (wholeGroup ? b.blocksPerGroup() : 1) * rows(b.s());
        ThreadRanges.run(b.groups(), (long) b.count() * b.s(), (from, to) -> {
            Scratch sc = SCRATCH.get().ensure(rows);
            for (int g = from; g < to; g++) {
                task.run(g, sc);
            }
        });
    }

    /** Runs {@code task} on every block, over contiguous ranges of blocks, one per thread, each with its scratch. */
    private static void forBlocks(Blocks b, Task task) {
        int rows = rows(b.s());
        ThreadRanges.run(b.count(), (long) b.count() * b.s(), (from, to) -> {
            Scratch sc = SCRATCH.get().ensure(rows);
            for (int block = from; block < to; block++) {
                task.run(block, sc);
            }
        });
    }
}
