package org.gradsurgery.layers.impl;

import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.params.DeconvolutionParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.reduce.same.Sum;
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
 * where scatter/gather are one permuted copy between the {@code [rows…, spatial…]} block and the output's
 * interleaved {@code [nOut, D, kd, H, kh, W, kw]} view. The layer says how its weights lie ({@link Layout}).
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

        int[] fromOut() {
            int[] inverse = new int[toOut.length];
            for (int i = 0; i < toOut.length; i++) {
                inverse[toOut[i]] = i;
            }
            return inverse;
        }

        long rows() {
            return weightRows.size(0);
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
            out.slice(e).reshape('c', l.outShape()).assign(block.reshape('c', l.blockShape()).permute(l.toOut()));
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
            block.assign(delta.slice(e).reshape('c', l.outShape()).permute(l.fromOut()));
            INDArray d2 = block.reshape('c', l.rows(), block.length() / l.rows());
            INDArray xe = x.slice(e);
            INDArray x2 = xe.reshape('c', xe.size(0), voxels(xe));
            Nd4j.gemm(l.weightRows(), d2, gradInput.slice(e).reshape('c', x2.shape()), true, false, 1.0, 0.0);
            // ∂L/∂W_r accumulates over the batch in place: β = 0 for the first example, 1 after
            Nd4j.gemm(d2, x2, weightGradRows, false, true, 1.0, e == 0 ? 0.0 : 1.0);
        }
        if (biasGrad != null) {
            int[] axes = new int[delta.rank() - 1];
            axes[0] = 0;
            for (int a = 2; a < delta.rank(); a++) {
                axes[a - 1] = a;
            }
            // into the gradient view directly: a reduction's own result would be allocated outside the workspaces
            Nd4j.exec(new Sum(delta, biasGrad.reshape(delta.size(1)), false, axes));
        }
        Gradient gradient = new DefaultGradient();
        if (biasGrad != null) {
            gradient.setGradientFor(DeconvolutionParamInitializer.BIAS_KEY, biasGrad);
        }
        gradient.setGradientFor(DeconvolutionParamInitializer.WEIGHT_KEY, weightGrad, 'c');
        return gradient;
    }
}
