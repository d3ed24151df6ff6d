package org.gradsurgery.layers.impl;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.function.IntConsumer;
import java.util.stream.IntStream;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Fused passes for {@link AbstractSpatialNormalizationLayer} in its common case: FLOAT or DOUBLE, channels-first
 * ({@code NCHW}/{@code NCDHW}) whole c-contiguous arrays, identity or ReLU activation.
 *
 * <p>The input is seen as N·C contiguous blocks of S spatial values, block b = n·C + c at offset b·S. A statistics
 * group is one block (instance norm) or the N blocks of a channel (batch norm). With x̂ = (x − μ_g)/sqrt(σ²_g + ε),
 * z = γ_c·x̂ + β_c and y = act(z):
 * <ul>
 *   <li>{@link #moments}: μ_g, then the biased σ²_g = mean (x − μ_g)², two passes, accumulated in double;</li>
 *   <li>{@link #forward}: y, one pass;</li>
 *   <li>{@link #backward}: with δ = ∂L/∂z (∂L/∂y masked by z &gt; 0 for ReLU), one pass for the per-block sums
 *       Σδ and Σδ·x̂, one for ∂L/∂x = γ_c/sqrt(σ²_g + ε) · (δ − mean_g δ − x̂ · mean_g(δ·x̂)); ∂L/∂β_c = Σδ and
 *       ∂L/∂γ_c = Σδ·x̂ over the channel's blocks.</li>
 * </ul>
 *
 * <p>Why: as ND4J ops the same layer is about fifteen full passes over memory with broadcast temporaries (each
 * reduction over the non-channel axes of an NCHW array is a strided reduction); once the convolutions run on
 * oneDNN, that made batch norm the largest cost of a 2D U-Net step ({@code docs/PERFORMANCE.md}). Blocks are
 * processed in parallel over as many threads as ND4J may use. Everything else takes the ND4J path, which computes
 * the same values; {@code NormalizationKernelsTest} compares the two.
 */
final class NormalizationKernels {

    /** Tests switch the kernels off to compare the ND4J path with them. */
    static volatile boolean enabled = true;

    /** Below this many values one thread is faster than two. */
    private static final long PARALLEL_THRESHOLD = 1 << 16;

    private NormalizationKernels() {
    }

    /** Whether {@code a} is a FLOAT/DOUBLE array whose memory is exactly its c-order elements. */
    static boolean whole(INDArray a) {
        DataType t = a.dataType();
        long bytes = a.length() * a.data().getElementSize();
        return (t == DataType.FLOAT || t == DataType.DOUBLE) && a.ordering() == 'c' && a.data().offset() == 0
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
    }

    /** Per-group mean and biased variance. */
    record Moments(double[] mean, double[] var) {
    }

    static Moments moments(INDArray x, Blocks b) {
        Data in = Data.of(x);
        double[] blockSum = new double[b.count()];
        forBlocks(b, (block, buf) -> {
            in.load(block, b.s(), buf);
            blockSum[block] = sum(buf, b.s());
        });
        double[] mean = new double[b.groups()];
        for (int block = 0; block < b.count(); block++) {
            mean[b.group(block)] += blockSum[block];
        }
        for (int g = 0; g < mean.length; g++) {
            mean[g] /= b.groupSize();
        }
        double[] blockSq = new double[b.count()];
        forBlocks(b, (block, buf) -> {
            in.load(block, b.s(), buf);
            double mu = mean[b.group(block)];
            for (int i = 0; i < b.s(); i++) {
                buf[i] -= mu;
            }
            blockSq[block] = dot(buf, buf, b.s());
        });
        double[] var = new double[b.groups()];
        for (int block = 0; block < b.count(); block++) {
            var[b.group(block)] += blockSq[block];
        }
        for (int g = 0; g < var.length; g++) {
            var[g] /= b.groupSize();
        }
        return new Moments(mean, var);
    }

    /** y = act(γ_c·(x − μ_g)·inv_g + β_c) into {@code out} (same shape and type as x; may be x itself). */
    static void forward(INDArray x, Blocks b, double[] mean, double[] invStd, double[] gamma, double[] beta,
                        boolean relu, INDArray out) {
        Data in = Data.of(x);
        Data o = Data.of(out);
        forBlocks(b, (block, buf) -> {
            in.load(block, b.s(), buf);
            int g = b.group(block);
            int c = block % b.c();
            // y = scale·x + shift with scale = γ·inv, shift = β − μ·γ·inv
            double scale = gamma[c] * invStd[g];
            double shift = beta[c] - mean[g] * scale;
            if (relu) {
                for (int i = 0; i < b.s(); i++) {
                    buf[i] = Math.max(buf[i] * scale + shift, 0.0);
                }
            } else {
                for (int i = 0; i < b.s(); i++) {
                    buf[i] = buf[i] * scale + shift;
                }
            }
            o.store(block, b.s(), buf);
        });
    }

    /**
     * ∂L/∂x into {@code dx} (may be dy itself), and, when {@code dGamma} is not null, ∂L/∂γ_c and ∂L/∂β_c into
     * {@code dGamma}/{@code dBeta} (length C).
     */
    static void backward(INDArray x, INDArray dy, Blocks b, double[] mean, double[] invStd, double[] gamma,
                         double[] beta, boolean relu, INDArray dx, double[] dGamma, double[] dBeta) {
        Data in = Data.of(x);
        Data grad = Data.of(dy);
        Data out = Data.of(dx);
        double[] sumDelta = new double[b.count()];
        double[] sumDeltaXHat = new double[b.count()];
        forBlockPairs(b, (block, xs, ds) -> {
            in.load(block, b.s(), xs);
            grad.load(block, b.s(), ds);
            int g = b.group(block);
            int c = block % b.c();
            deltaAndXHat(xs, ds, b.s(), mean[g], invStd[g], gamma[c], beta[c], relu);
            sumDelta[block] = sum(ds, b.s());
            sumDeltaXHat[block] = dot(ds, xs, b.s());
        });
        double[] groupDelta = new double[b.groups()];
        double[] groupDeltaXHat = new double[b.groups()];
        for (int block = 0; block < b.count(); block++) {
            groupDelta[b.group(block)] += sumDelta[block];
            groupDeltaXHat[b.group(block)] += sumDeltaXHat[block];
        }
        if (dGamma != null) {
            Arrays.fill(dGamma, 0);
            Arrays.fill(dBeta, 0);
            for (int block = 0; block < b.count(); block++) {
                dBeta[block % b.c()] += sumDelta[block];
                dGamma[block % b.c()] += sumDeltaXHat[block];
            }
        }
        double m = b.groupSize();
        forBlockPairs(b, (block, xs, ds) -> {
            in.load(block, b.s(), xs);
            grad.load(block, b.s(), ds);
            int g = b.group(block);
            int c = block % b.c();
            deltaAndXHat(xs, ds, b.s(), mean[g], invStd[g], gamma[c], beta[c], relu);
            double meanDelta = groupDelta[g] / m;
            double meanDeltaXHat = groupDeltaXHat[g] / m;
            double scale = gamma[c] * invStd[g];
            for (int i = 0; i < b.s(); i++) {
                ds[i] = scale * (ds[i] - meanDelta - xs[i] * meanDeltaXHat);
            }
            out.store(block, b.s(), ds);
        });
    }

    /** In place: xs ← x̂ = (x − μ)·inv and, for ReLU, ds ← ds·[γ·x̂ + β &gt; 0]. */
    private static void deltaAndXHat(double[] xs, double[] ds, int n, double mu, double inv, double gamma,
                                     double beta, boolean relu) {
        for (int i = 0; i < n; i++) {
            xs[i] = (xs[i] - mu) * inv;
        }
        if (relu) {
            for (int i = 0; i < n; i++) {
                ds[i] = keepIfPositive(gamma * xs[i] + beta, ds[i]);
            }
        }
    }

    /**
     * {@code z > 0 ? v : 0} without a branch: the sign of z is random from voxel to voxel, and a mispredicted branch
     * per element made this loop ten times slower than the arithmetic.
     */
    private static double keepIfPositive(double z, double v) {
        long zBits = Double.doubleToRawLongBits(z);
        long keep = ~(zBits >> 63) & ((zBits | -zBits) >> 63); // all ones iff sign clear and z ≠ +0
        return Double.longBitsToDouble(Double.doubleToRawLongBits(v) & keep);
    }

    // Four partial sums: a single accumulator serialises the loop on the floating-point add latency.
    private static double sum(double[] a, int n) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        int i = 0;
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

    private static double dot(double[] a, double[] b, int n) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        int i = 0;
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

    /** Bulk access to a whole FLOAT or DOUBLE array's memory, block by block, through double scratch arrays. */
    private abstract static class Data {
        static Data of(INDArray a) {
            ByteBuffer bb = a.data().asNio().order(ByteOrder.nativeOrder());
            return a.dataType() == DataType.FLOAT ? new Floats(bb.asFloatBuffer()) : new Doubles(bb.asDoubleBuffer());
        }

        abstract void load(int block, int s, double[] dst);

        abstract void store(int block, int s, double[] src);
    }

    private static final class Floats extends Data {
        private final FloatBuffer b;
        // One float scratch per thread: blocks run in parallel.
        private final ThreadLocal<float[]> scratch = new ThreadLocal<>();

        Floats(FloatBuffer b) {
            this.b = b;
        }

        private float[] scratch(int s) {
            float[] f = scratch.get();
            if (f == null || f.length < s) {
                f = new float[s];
                scratch.set(f);
            }
            return f;
        }

        @Override
        void load(int block, int s, double[] dst) {
            float[] f = scratch(s);
            b.get(block * s, f, 0, s);
            for (int i = 0; i < s; i++) {
                dst[i] = f[i];
            }
        }

        @Override
        void store(int block, int s, double[] src) {
            float[] f = scratch(s);
            for (int i = 0; i < s; i++) {
                f[i] = (float) src[i];
            }
            b.put(block * s, f, 0, s);
        }
    }

    private static final class Doubles extends Data {
        private final DoubleBuffer b;

        Doubles(DoubleBuffer b) {
            this.b = b;
        }

        @Override
        void load(int block, int s, double[] dst) {
            b.get(block * s, dst, 0, s);
        }

        @Override
        void store(int block, int s, double[] src) {
            b.put(block * s, src, 0, s);
        }
    }

    private interface BlockTask {
        void run(int block, double[] buf);
    }

    private static void forBlocks(Blocks b, BlockTask task) {
        parallel(b, () -> new double[b.s()], null, (block, buf, unused) -> task.run(block, buf));
    }

    private static void forBlockPairs(Blocks b, BlockPairTask task) {
        parallel(b, () -> new double[b.s()], () -> new double[b.s()], task::run);
    }

    private interface BlockPairTask {
        void run(int block, double[] a, double[] b);
    }

    /** Runs {@code task} on every block, over contiguous ranges of blocks, one per thread, each with its scratch. */
    private static void parallel(Blocks b, java.util.function.Supplier<double[]> first,
                                 java.util.function.Supplier<double[]> second, BlockPairTask task) {
        long work = (long) b.count() * b.s();
        int threads = work < PARALLEL_THRESHOLD ? 1 : Math.max(1, Math.min(b.count(),
                Math.min(Nd4j.getEnvironment().maxThreads(), Runtime.getRuntime().availableProcessors())));
        IntConsumer range = t -> {
            double[] a = first.get();
            double[] c = second == null ? null : second.get();
            int from = (int) ((long) b.count() * t / threads);
            int to = (int) ((long) b.count() * (t + 1) / threads);
            for (int block = from; block < to; block++) {
                task.run(block, a, c);
            }
        };
        if (threads == 1) {
            range.accept(0);
        } else {
            IntStream.range(0, threads).parallel().forEach(range);
        }
    }
}
