package org.gradsurgery.layers.impl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;

import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.params.DeconvolutionParamInitializer;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@link BlockTransposedConvolution}'s Java scatter and gather ({@link BlockTransposedConvolution.Interleave}, FLOAT)
 * against its ND4J copies of strided views (what DOUBLE runs, and FLOAT did before; {@code TransposedConvolution2DTest}
 * and {@code TransposedConvolution3DTest} check that path against DL4J): the 2D and 3D layers' layouts, square and
 * non-square kernels, with and without bias. Output, ∂L/∂x, ∂L/∂W and ∂L/∂b agree to the bit: both do the same GEMMs
 * and the same float additions, the Java loops only move the values.
 */
class BlockTransposedConvolutionTest {

    private static final LayerWorkspaceMgr NO_WS = LayerWorkspaceMgr.noWorkspaces();

    @ParameterizedTest(name = "2D, kernel {0}")
    @ValueSource(ints = {2, 3})
    void interleaveMatchesStridedViews2d(int kw) {
        Nd4j.getRandom().setSeed(3);
        INDArray x = Nd4j.randn(DataType.FLOAT, 3, 5, 4, 6);
        INDArray w = Nd4j.randn(DataType.FLOAT, 5, 3, 2, kw);
        INDArray out = Nd4j.create(DataType.FLOAT, 3, 3, 8, 6 * kw);
        for (boolean bias : new boolean[] {true, false}) {
            assertSame(x, TransposedConvolution2D.layout(w, x), TransposedConvolution2D.rows(
                    Nd4j.create(DataType.FLOAT, w.shape())), w.shape(), bias ? Nd4j.randn(DataType.FLOAT, 1, 3) : null,
                    out);
        }
    }

    @ParameterizedTest(name = "3D, kernel depth {0}")
    @ValueSource(ints = {2, 1})
    void interleaveMatchesStridedViews3d(int kd) {
        Nd4j.getRandom().setSeed(4);
        INDArray x = Nd4j.randn(DataType.FLOAT, 2, 3, 3, 4, 5);
        INDArray w = Nd4j.randn(DataType.FLOAT, kd, 2, 2, 4, 3);
        INDArray out = Nd4j.create(DataType.FLOAT, 2, 4, 3 * kd, 8, 10);
        for (boolean bias : new boolean[] {true, false}) {
            assertSame(x, TransposedConvolution3D.layout(w, x), TransposedConvolution3D.rows(
                    Nd4j.create(DataType.FLOAT, w.shape())), w.shape(), bias ? Nd4j.randn(DataType.FLOAT, 1, 4) : null,
                    out);
        }
    }

    /** Forward and backward both ways; {@code gradRows} is the layout's row view of a zero weight gradient. */
    private static void assertSame(INDArray x, BlockTransposedConvolution.Layout l, INDArray gradRows, long[] wShape,
                                   INDArray bias, INDArray outShaped) {
        BlockTransposedConvolution.Interleave interleave = BlockTransposedConvolution.Interleave.of(l, outShaped);
        assertNotNull(interleave, "FLOAT dense arrays take the Java loops");
        assertNull(BlockTransposedConvolution.Interleave.of(l, outShaped.castTo(DataType.DOUBLE)));
        INDArray java = outShaped.ulike().assign(Float.NaN);
        INDArray views = outShaped.ulike().assign(Float.NaN);
        BlockTransposedConvolution.forward(x, l, bias, java, NO_WS, interleave);
        BlockTransposedConvolution.forward(x, l, bias, views, NO_WS, null);
        assertArrayEquals(bits(views), bits(java), "output");

        INDArray delta = Nd4j.randn(DataType.FLOAT, outShaped.shape());
        INDArray[] a = backward(x, l, gradRows, wShape, bias, delta, interleave);
        INDArray[] b = backward(x, l, gradRows, wShape, bias, delta, null);
        for (int i = 0; i < a.length; i++) {
            assertArrayEquals(bits(b[i]), bits(a[i]), "gradient " + i);
        }
    }

    /** ∂L/∂x, ∂L/∂W (and ∂L/∂b); the weight gradient is written through {@code gradRows}, copied out after. */
    private static INDArray[] backward(INDArray x, BlockTransposedConvolution.Layout l, INDArray gradRows,
                                       long[] wShape, INDArray bias, INDArray delta,
                                       BlockTransposedConvolution.Interleave interleave) {
        INDArray gradInput = x.ulike().assign(Float.NaN);
        INDArray biasGrad = bias == null ? null : bias.ulike().assign(Float.NaN);
        gradRows.assign(Float.NaN);
        Gradient g = BlockTransposedConvolution.backward(x, l, delta, gradInput, Nd4j.create(DataType.FLOAT, wShape),
                gradRows, biasGrad, NO_WS, interleave);
        if (bias != null) {
            assertNotNull(g.getGradientFor(DeconvolutionParamInitializer.BIAS_KEY));
        }
        return bias == null ? new INDArray[] {gradInput, gradRows.dup()}
                : new INDArray[] {gradInput, gradRows.dup(), biasGrad};
    }

    /** The raw bits of a FLOAT array's values in C order. */
    static int[] bits(INDArray a) {
        float[] f = a.dup('c').data().asFloat();
        int[] b = new int[f.length];
        for (int i = 0; i < f.length; i++) {
            b[i] = Float.floatToRawIntBits(f[i]);
        }
        return b;
    }
}
