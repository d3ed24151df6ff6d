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
 * The layer says how its weights lie ({@link Layout}).
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
        long n = x.size(0);
        INDArray block = workspaceMgr.createUninitialized(ArrayType.FF_WORKING_MEM, x.dataType(),
                new long[] {l.rows(), voxels(x.slice(0))}, 'c');
        for (long e = 0; e < n; e++) {
            INDArray xe = x.slice(e);
            Nd4j.gemm(l.weightRows(), xe.reshape('c', xe.size(0), voxels(xe)), block, false, false, 1.0, 0.0);
            l.forEachOffset(block.reshape('c', l.blockShape()), out.slice(e).reshape('c', l.outShape()),
                    (b, o) -> o.assign(b));
        }
        if (bias != null) {
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
        long n = x.size(0);
        DataType t = x.dataType();
        INDArray block = workspaceMgr.createUninitialized(ArrayType.BP_WORKING_MEM, t, l.blockShape(), 'c');
        for (long e = 0; e < n; e++) {
            l.forEachOffset(block, delta.slice(e).reshape('c', l.outShape()), (b, o) -> b.assign(o));
            INDArray d2 = block.reshape('c', l.rows(), block.length() / l.rows());
            INDArray xe = x.slice(e);
            INDArray x2 = xe.reshape('c', xe.size(0), voxels(xe));
            Nd4j.gemm(l.weightRows(), d2, gradInput.slice(e).reshape('c', x2.shape()), true, false, 1.0, 0.0);
            // ∂L/∂W_r accumulates over the batch in place: β = 0 for the first example, 1 after
            Nd4j.gemm(d2, x2, weightGradRows, false, true, 1.0, e == 0 ? 0.0 : 1.0);
        }
        if (biasGrad != null) {
            BiasGradient.sumInto(delta, biasGrad);
        }
        Gradient gradient = new DefaultGradient();
        if (biasGrad != null) {
            gradient.setGradientFor(DeconvolutionParamInitializer.BIAS_KEY, biasGrad);
        }
        gradient.setGradientFor(DeconvolutionParamInitializer.WEIGHT_KEY, weightGrad, 'c');
        return gradient;
    }
}
