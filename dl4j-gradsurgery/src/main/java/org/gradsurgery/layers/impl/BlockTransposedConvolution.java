package org.gradsurgery.layers.impl;

import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.params.DeconvolutionParamInitializer;
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
 * where scatter/gather are one permuted copy between the {@code [rows…, spatial…]} block and the output's
 * interleaved {@code [nOut, D, kd, H, kh, W, kw]} view. The layer says how its weights lie ({@link Layout}).
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
    static void forward(INDArray x, Layout l, INDArray bias, INDArray out) {
        long n = x.size(0);
        try (var scope = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            INDArray block = Nd4j.createUninitialized(x.dataType(), l.rows(), voxels(x.slice(0)));
            for (long e = 0; e < n; e++) {
                INDArray xe = x.slice(e);
                l.weightRows().mmuli(xe.reshape('c', xe.size(0), voxels(xe)), block);
                out.slice(e).reshape('c', l.outShape()).assign(block.reshape('c', l.blockShape()).permute(l.toOut()));
            }
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
                             INDArray weightGradRows, INDArray biasGrad) {
        long n = x.size(0);
        DataType t = x.dataType();
        try (var scope = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            INDArray block = Nd4j.createUninitialized(t, l.blockShape());
            INDArray perExample = n > 1 ? Nd4j.createUninitialized(t, weightGradRows.shape()) : null;
            INDArray wT = l.weightRows().transpose();
            for (long e = 0; e < n; e++) {
                block.assign(delta.slice(e).reshape('c', l.outShape()).permute(l.fromOut()));
                INDArray d2 = block.reshape('c', l.rows(), block.length() / l.rows());
                INDArray xe = x.slice(e);
                INDArray x2 = xe.reshape('c', xe.size(0), voxels(xe));
                wT.mmuli(d2, gradInput.slice(e).reshape('c', x2.shape()));
                if (e == 0) {
                    d2.mmuli(x2.transpose(), weightGradRows);
                } else {
                    weightGradRows.addi(d2.mmuli(x2.transpose(), perExample));
                }
            }
        }
        if (biasGrad != null) {
            int[] axes = new int[delta.rank() - 1];
            axes[0] = 0;
            for (int a = 2; a < delta.rank(); a++) {
                axes[a - 1] = a;
            }
            biasGrad.assign(delta.sum(axes).reshape(biasGrad.shape()));
        }
        Gradient gradient = new DefaultGradient();
        if (biasGrad != null) {
            gradient.setGradientFor(DeconvolutionParamInitializer.BIAS_KEY, biasGrad);
        }
        gradient.setGradientFor(DeconvolutionParamInitializer.WEIGHT_KEY, weightGrad, 'c');
        return gradient;
    }
}
