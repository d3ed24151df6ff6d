package org.gradsurgery.layers.impl;

import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.params.DeconvolutionParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Transposed convolution with kernel = stride (no padding, no dilation, channels first) as GEMMs, for 2D and 3D.
 * Each input voxel owns one k₁×…×k_d block of the output, so with the weights as a matrix W_r whose rows r enumerate
 * the (output channel, kernel offset) pairs:
 * <pre>
 *   block_e = W_r · x_e                     ([R, S]: R = nOut·Πk rows, S input voxels, x_e as [nIn, S])
 *   out_e   = scatter(block_e)              (row r, voxel s → output channel and position s·k + offset)
 *   ∂L/∂x_e = W_rᵀ · gather(δ_e),   ∂L/∂W_r = Σ_e gather(δ_e) · x_eᵀ,   ∂L/∂b_o = Σ δ[·, o, ·]
 * </pre>
 * where scatter/gather copy between the {@code [rows…, spatial…]} block and the output's interleaved
 * {@code [nOut, D, kd, H, kh, W, kw]} view, one copy per kernel offset (Πk copies of {@code [nOut, D, H, W]}
 * arrays: the offset's rows of the block and the output voxels at that offset, every k-th along each axis). One
 * 7-D permuted copy does the same, but libnd4j walks it element by element through rank-7 index arithmetic:
 * at 44 × 60 × 48 it took 11.4 ms per example where the eight rank-4 copies take 2.4 ms (thread CPU, issue 16).
 * FLOAT arrays take Java loops instead ({@link Interleave}), which also add the bias in the forward pass and sum
 * the bias gradient in the backward pass as they go. The layer says how its weights lie ({@link Layout}).
 *
 * <p>The block is scratch memory from the layer's working-memory workspace ({@code FF_WORKING_MEM} /
 * {@code BP_WORKING_MEM}) and every GEMM writes straight into its destination ({@code Nd4j.gemm}, β = 0 or 1):
 * a buffer allocated outside the workspaces would be freed only when the Java GC collects it, and with the small
 * heap of a training loop that is rarely, so the resident set would grow by the block size every iteration
 * (issue 16: 12.5 MiB per 3D iteration at 64³).
 */
final class BlockTransposedConvolution {

    /**
     * How a layer's weights and blocks lie: {@code weightRows} is W_r (a view of the weights), {@code blockShape}
     * the block's rows and spatial axes, {@code outShape} the output example's interleaved view, {@code toOut} the
     * permutation of the block's axes into the interleaved order.
     */
    record Layout(INDArray weightRows, long[] blockShape, long[] outShape, int[] toOut) {

        long rows() {
            return weightRows.size(0);
        }

        /** The kernel axes' positions in the interleaved output view: 2, 4 (, 6). */
        private int[] kernelAxesOfOut() {
            int spatial = (outShape.length - 1) / 2;
            int[] axes = new int[spatial];
            for (int i = 0; i < spatial; i++) {
                axes[i] = 2 + 2 * i;
            }
            return axes;
        }

        /**
         * Calls {@code copy} with each kernel offset's part of {@code block} (shaped {@link #blockShape}) and of
         * {@code out} (shaped {@link #outShape}): two views of the same {@code [nOut, spatial…]} shape.
         */
        void forEachOffset(INDArray block, INDArray out, java.util.function.BiConsumer<INDArray, INDArray> copy) {
            int[] kOut = kernelAxesOfOut();
            int[] kBlock = new int[kOut.length];
            for (int i = 0; i < kOut.length; i++) {
                kBlock[i] = toOut[kOut[i]];
            }
            // the block's remaining axes in the order of the output's remaining axes
            int[] rest = new int[toOut.length - kOut.length];
            int r = 0;
            for (int j = 0; j < toOut.length; j++) {
                final int jj = j;
                if (java.util.Arrays.stream(kOut).noneMatch(a -> a == jj)) {
                    int b = toOut[j];
                    rest[r++] = b - (int) java.util.Arrays.stream(kBlock).filter(a -> a < b).count();
                }
            }
            boolean identity = java.util.stream.IntStream.range(0, rest.length).allMatch(i -> rest[i] == i);
            int[] offset = new int[kOut.length];
            long total = 1;
            for (int a : kBlock) {
                total *= blockShape[a];
            }
            for (long t = 0; t < total; t++) {
                long left = t;
                for (int i = kOut.length - 1; i >= 0; i--) {
                    offset[i] = (int) (left % blockShape[kBlock[i]]);
                    left /= blockShape[kBlock[i]];
                }
                org.nd4j.linalg.indexing.INDArrayIndex[] bi = all(blockShape.length);
                org.nd4j.linalg.indexing.INDArrayIndex[] oi = all(outShape.length);
                for (int i = 0; i < kOut.length; i++) {
                    bi[kBlock[i]] = org.nd4j.linalg.indexing.NDArrayIndex.point(offset[i]);
                    oi[kOut[i]] = org.nd4j.linalg.indexing.NDArrayIndex.point(offset[i]);
                }
                INDArray b = block.get(bi);
                copy.accept(identity ? b : b.permute(rest), out.get(oi));
            }
        }

        private static org.nd4j.linalg.indexing.INDArrayIndex[] all(int rank) {
            org.nd4j.linalg.indexing.INDArrayIndex[] idx = new org.nd4j.linalg.indexing.INDArrayIndex[rank];
            java.util.Arrays.fill(idx, org.nd4j.linalg.indexing.NDArrayIndex.all());
            return idx;
        }
    }

    private BlockTransposedConvolution() {
    }

    private static long voxels(INDArray example) {
        return example.length() / example.size(0);
    }

    /** Writes the transposed convolution of {@code x} ([N, nIn, spatial…]) into {@code out}, plus the bias if any. */
    static void forward(INDArray x, Layout l, INDArray bias, INDArray out, LayerWorkspaceMgr workspaceMgr) {
        forward(x, l, bias, out, workspaceMgr, Interleave.of(l, out));
    }

    /** The same with the scatter by {@code interleave}, or (null) by ND4J copies of strided views. */
    static void forward(INDArray x, Layout l, INDArray bias, INDArray out, LayerWorkspaceMgr workspaceMgr,
                        Interleave interleave) {
        long n = x.size(0);
        INDArray block = workspaceMgr.createUninitialized(ArrayType.FF_WORKING_MEM, x.dataType(),
                new long[] {l.rows(), voxels(x.slice(0))}, 'c');
        for (long e = 0; e < n; e++) {
            INDArray xe = x.slice(e);
            Nd4j.gemm(l.weightRows(), xe.reshape('c', xe.size(0), voxels(xe)), block, false, false, 1.0, 0.0);
            if (interleave != null) {
                interleave.scatter(block, out, e, bias);
            } else {
                l.forEachOffset(block.reshape('c', l.blockShape()), out.slice(e).reshape('c', l.outShape()),
                        (b, o) -> o.assign(b));
            }
        }
        if (bias != null && interleave == null) {
            long[] shape = new long[out.rank()];
            java.util.Arrays.fill(shape, 1);
            shape[1] = out.size(1);
            out.addi(bias.reshape(shape));
        }
    }

    /**
     * ∂L/∂x into {@code gradInput}, ∂L/∂W_r into {@code weightGradRows} (W_r's view of the weight gradient
     * {@code weightGrad}) and, when not null, ∂L/∂b into {@code biasGrad}; {@code delta} is ∂L/∂z of the output.
     * Returns DL4J's gradient of the layer: bias (if any), then weights.
     */
    static Gradient backward(INDArray x, Layout l, INDArray delta, INDArray gradInput, INDArray weightGrad,
                             INDArray weightGradRows, INDArray biasGrad, LayerWorkspaceMgr workspaceMgr) {
        return backward(x, l, delta, gradInput, weightGrad, weightGradRows, biasGrad, workspaceMgr,
                Interleave.of(l, delta));
    }

    /** The same with the gather by {@code interleave}, or (null) by ND4J copies of strided views. */
    static Gradient backward(INDArray x, Layout l, INDArray delta, INDArray gradInput, INDArray weightGrad,
                             INDArray weightGradRows, INDArray biasGrad, LayerWorkspaceMgr workspaceMgr,
                             Interleave interleave) {
        long n = x.size(0);
        DataType t = x.dataType();
        INDArray block = workspaceMgr.createUninitialized(ArrayType.BP_WORKING_MEM, t, l.blockShape(), 'c');
        float[] biasSums = interleave != null && biasGrad != null ? new float[(int) biasGrad.length()] : null;
        for (long e = 0; e < n; e++) {
            if (interleave != null) {
                interleave.gather(delta, e, block, biasSums);
            } else {
                l.forEachOffset(block, delta.slice(e).reshape('c', l.outShape()), (b, o) -> b.assign(o));
            }
            INDArray d2 = block.reshape('c', l.rows(), block.length() / l.rows());
            INDArray xe = x.slice(e);
            INDArray x2 = xe.reshape('c', xe.size(0), voxels(xe));
            Nd4j.gemm(l.weightRows(), d2, gradInput.slice(e).reshape('c', x2.shape()), true, false, 1.0, 0.0);
            // ∂L/∂W_r accumulates over the batch in place: β = 0 for the first example, 1 after
            Nd4j.gemm(d2, x2, weightGradRows, false, true, 1.0, e == 0 ? 0.0 : 1.0);
        }
        if (biasSums != null) {
            for (int c = 0; c < biasSums.length; c++) {
                biasGrad.putScalar(c, biasSums[c]);
            }
        } else if (biasGrad != null) {
            BiasGradient.sumInto(delta, biasGrad);
        }
        Gradient gradient = new DefaultGradient();
        if (biasGrad != null) {
            gradient.setGradientFor(DeconvolutionParamInitializer.BIAS_KEY, biasGrad);
        }
        gradient.setGradientFor(DeconvolutionParamInitializer.WEIGHT_KEY, weightGrad, 'c');
        return gradient;
    }

    /**
     * The scatter and gather between the block ({@code [R, S]}, S = D·H·W input voxels; D = 1 in 2D) and one
     * example of the output ({@code [nOut, D·kd, H·kh, W·kw]}) as Java loops over FLOAT arrays: row r of the block,
     * holding output channel o(r) at kernel offset (a, u, v)(r), goes to
     * <pre>
     *   out[o, z·kd + a, y·kh + u, x·kw + v] = block[r, (z·H + y)·W + x]  (+ b_o in the forward pass)
     * </pre>
     * one input plane z at a time: the plane's columns of every row copied into a per-thread array, each output
     * plane (o, z·kd + a) filled there row by row and copied out whole (gather: the reverse). The gather also sums
     * ∂L/∂b_o = Σ δ[n, o, …] as it reads δ, one float sum per channel in δ's C order (examples, then each plane's
     * rows), the order in which libnd4j's {@code sum} over every other axis adds (at one thread; checked to the bit
     * in {@code BlockTransposedConvolutionTest}), so the bias gradient is the same without a second pass over δ.
     * The ND4J copies of strided views that do the same for DOUBLE walk each element through libnd4j's index
     * arithmetic; with them and the bias in separate passes the 2D U-Net's three up-sampling layers took 7.8 + 13.2
     * ms per step (thread CPU, `bench unet --dims 2 --profile`, loaded; the figures after this change are in its
     * commit message). The forward's sum with the bias is the float addition the separate pass did: the same bits.
     */
    static final class Interleave {
        private final int outC;
        private final int d;
        private final int h;
        private final int w;
        private final int kd;
        private final int kh;
        private final int kw;
        /** rowOf[o·kd + a][u·kw + v]: the block row holding channel o at kernel offset (a, u, v). */
        private final int[][] rowOf;

        private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[][] {
            new float[0], new float[0]});

        private Interleave(Layout l) {
            int spatial = (l.outShape().length - 1) / 2;
            int rowAxes = l.blockShape().length - spatial;
            long[] bs = l.blockShape();
            int[] t = l.toOut();
            // 2D: no depth axis; treated as D = kd = 1
            int first = 3 - spatial;
            int[] size = {1, 1, 1};
            int[] kernel = {1, 1, 1};
            for (int i = 0; i < spatial; i++) {
                size[first + i] = (int) bs[t[1 + 2 * i]];
                kernel[first + i] = (int) bs[t[2 + 2 * i]];
            }
            outC = (int) bs[t[0]];
            d = size[0];
            h = size[1];
            w = size[2];
            kd = kernel[0];
            kh = kernel[1];
            kw = kernel[2];
            int rows = (int) l.rows();
            rowOf = new int[outC * kd][kh * kw];
            int[] digit = new int[rowAxes];
            for (int r = 0; r < rows; r++) {
                int left = r;
                for (int a = rowAxes - 1; a >= 0; a--) {
                    digit[a] = (int) (left % bs[a]);
                    left /= (int) bs[a];
                }
                int[] k = {0, 0, 0};
                for (int i = 0; i < spatial; i++) {
                    k[first + i] = digit[t[2 + 2 * i]];
                }
                rowOf[digit[t[0]] * kd + k[0]][k[1] * kw + k[2]] = r;
            }
        }

        /**
         * The interleave for a layer's layout and one of its output-shaped FLOAT arrays (the output, or ∂L/∂z),
         * or null where the Java loops do not apply: not FLOAT, the array not dense in C order, sizes beyond int.
         */
        static Interleave of(Layout l, INDArray outShaped) {
            if (outShaped.dataType() != DataType.FLOAT || l.weightRows().dataType() != DataType.FLOAT
                    || !NormalizationKernels.whole(outShaped) || outShaped.length() > Integer.MAX_VALUE / 2) {
                return null;
            }
            return new Interleave(l);
        }

        private int plane() {
            return h * kh * w * kw;
        }

        private int rows() {
            return outC * kd * kh * kw;
        }

        /** The calling thread's slab array (every row's columns of one input plane), grown as needed. */
        private float[] slab() {
            float[][] s = SCRATCH.get();
            if (s[0].length < rows() * h * w) {
                s[0] = new float[rows() * h * w];
            }
            return s[0];
        }

        /** The calling thread's array for one output plane, grown as needed. */
        private float[] planeScratch() {
            float[][] s = SCRATCH.get();
            if (s[1].length < plane()) {
                s[1] = new float[plane()];
            }
            return s[1];
        }

        /** Offset of output plane (o, z·kd + a) of example e. */
        private int planeAt(long e, int o, int z, int a) {
            return (int) (((e * outC + o) * d * kd + (long) z * kd + a) * plane());
        }

        /** out[e] ← scatter(block) (+ bias, if not null); {@code block} is the [R, S] FLOAT block of example e. */
        void scatter(INDArray block, INDArray out, long e, INDArray bias) {
            java.nio.FloatBuffer in = BlockMaxPooling2D.floats(BlockMaxPooling2D.whole(block));
            java.nio.FloatBuffer o = BlockMaxPooling2D.floats(out);
            float[] biases = null;
            if (bias != null) {
                biases = new float[outC];
                for (int c = 0; c < outC; c++) {
                    biases[c] = bias.getFloat(c);
                }
            }
            float[] b = biases;
            int hw = h * w;
            for (int z = 0; z < d; z++) {
                float[] slab = slab();
                for (int r = 0; r < rows(); r++) {
                    in.get(r * d * hw + z * hw, slab, r * hw, hw);
                }
                int zz = z;
                ThreadRanges.run(outC, (long) rows() * hw, (from, to) -> {
                    float[] p = planeScratch();
                    for (int c = from; c < to; c++) {
                        for (int a = 0; a < kd; a++) {
                            fill(slab, rowOf[c * kd + a], p, b == null ? 0f : b[c], b != null);
                            o.put(planeAt(e, c, zz, a), p, 0, plane());
                        }
                    }
                });
            }
        }

        /** p ← one output plane from the slab rows {@code rows} (indexed u·kw + v), plus {@code bias} if added. */
        private void fill(float[] slab, int[] rows, float[] p, float bias, boolean add) {
            int hw = h * w;
            for (int y = 0; y < h; y++) {
                for (int u = 0; u < kh; u++) {
                    int dst = (y * kh + u) * w * kw;
                    if (kw == 2) {
                        int s0 = rows[2 * u] * hw + y * w;
                        int s1 = rows[2 * u + 1] * hw + y * w;
                        if (add) {
                            for (int x = 0; x < w; x++) {
                                p[dst + 2 * x] = slab[s0 + x] + bias;
                                p[dst + 2 * x + 1] = slab[s1 + x] + bias;
                            }
                        } else {
                            for (int x = 0; x < w; x++) {
                                p[dst + 2 * x] = slab[s0 + x];
                                p[dst + 2 * x + 1] = slab[s1 + x];
                            }
                        }
                        continue;
                    }
                    for (int v = 0; v < kw; v++) {
                        int src = rows[u * kw + v] * hw + y * w;
                        for (int x = 0; x < w; x++) {
                            p[dst + x * kw + v] = add ? slab[src + x] + bias : slab[src + x];
                        }
                    }
                }
            }
        }

        /**
         * block ← gather(δ[e]) for the [R, S] FLOAT block and output-shaped δ; when {@code biasSums} is not null,
         * adds each channel's values of δ[e] to its element, in C order.
         */
        void gather(INDArray delta, long e, INDArray block, float[] biasSums) {
            java.nio.FloatBuffer g = BlockMaxPooling2D.floats(delta);
            if (!NormalizationKernels.whole(block)) {
                throw new IllegalStateException("the block must be a dense C-order FLOAT array, got shape "
                        + java.util.Arrays.toString(block.shape()) + ", strides " + java.util.Arrays.toString(block.stride()));
            }
            java.nio.FloatBuffer out = BlockMaxPooling2D.floats(block);
            int hw = h * w;
            // channel by channel, and within a channel in C order, for the bias sums; ranges of channels write
            // disjoint rows of the slab
            for (int z = 0; z < d; z++) {
                float[] slab = slab();
                int zz = z;
                ThreadRanges.run(outC, (long) rows() * hw, (from, to) -> {
                    float[] p = planeScratch();
                    for (int c = from; c < to; c++) {
                        for (int a = 0; a < kd; a++) {
                            g.get(planeAt(e, c, zz, a), p, 0, plane());
                            float sum = spread(p, rowOf[c * kd + a], slab, biasSums == null ? 0f : biasSums[c]);
                            if (biasSums != null) {
                                biasSums[c] = sum;
                            }
                        }
                    }
                });
                for (int r = 0; r < rows(); r++) {
                    out.put(r * d * hw + z * hw, slab, r * hw, hw);
                }
            }
        }

        /** The slab rows {@code rows} ← one output plane p; returns {@code sum} plus p's values in order. */
        private float spread(float[] p, int[] rows, float[] slab, float sum) {
            int hw = h * w;
            for (int y = 0; y < h; y++) {
                for (int u = 0; u < kh; u++) {
                    int src = (y * kh + u) * w * kw;
                    if (kw == 2) {
                        int s0 = rows[2 * u] * hw + y * w;
                        int s1 = rows[2 * u + 1] * hw + y * w;
                        for (int x = 0; x < w; x++) {
                            float v0 = p[src + 2 * x];
                            float v1 = p[src + 2 * x + 1];
                            slab[s0 + x] = v0;
                            slab[s1 + x] = v1;
                            sum += v0;
                            sum += v1;
                        }
                        continue;
                    }
                    for (int x = 0; x < w; x++) {
                        for (int v = 0; v < kw; v++) {
                            float value = p[src + x * kw + v];
                            slab[rows[u * kw + v] * hw + y * w + x] = value;
                            sum += value;
                        }
                    }
                }
            }
            return sum;
        }
    }
}
