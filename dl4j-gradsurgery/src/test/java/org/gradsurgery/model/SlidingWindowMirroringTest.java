package org.gradsurgery.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.layers.SegmentationLossLayer;
import org.gradsurgery.loss.LossDice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.iter.NdIndexIterator;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Test-time mirroring in {@link SlidingWindowInference}: p̂ = (1/|S|) Σ_s F_s⁻¹ f(F_s x) per window, then Gaussian
 * stitching. The expected values are computed here window by window with an index-loop flip, independent of the
 * implementation's ND4J reverse.
 */
class SlidingWindowMirroringTest {

    /**
     * softmax(conv(x)) with one 3×3(×3) convolution, zero "same" padding and fixed weights: {@code symmetric} kernels
     * depend only on |offset| per axis, so the network commutes with every flip; otherwise the weights are seeded
     * uniform values and it does not.
     */
    static ComputationGraph conv(int dims, CNN2DFormat format, int in, int classes, boolean symmetric) {
        ComputationGraphConfiguration.GraphBuilder g = new NeuralNetConfiguration.Builder().seed(1).graphBuilder()
                .addInputs("in");
        if (dims == 2) {
            g.setInputTypes(InputType.convolutional(8, 8, in, format))
                    .addLayer("conv", new ConvolutionLayer.Builder(3, 3).nOut(classes).dataFormat(format)
                            .convolutionMode(ConvolutionMode.Same).activation(Activation.IDENTITY).build(), "in");
        } else {
            g.setInputTypes(InputType.convolutional3D(Convolution3D.DataFormat.NCDHW, 8, 8, 8, in))
                    .addLayer("conv", new Convolution3D.Builder(3, 3, 3).nOut(classes)
                            .dataFormat(Convolution3D.DataFormat.NCDHW).convolutionMode(ConvolutionMode.Same)
                            .activation(Activation.IDENTITY).build(), "in");
        }
        g.addLayer("out", new SegmentationLossLayer.Builder().lossFunction(new LossDice())
                .activation(Activation.SOFTMAX).build(), "conv").setOutputs("out");
        ComputationGraph net = new ComputationGraph(g.build());
        net.init();
        INDArray w = net.getParam("conv_W");
        INDArray random = SyntheticShapes.uniform(w.shape(), -1.5, 1.5, 11);
        if (symmetric) {
            // w[o, i, k...] := random[o, i, |k − 1|...]: mirror-symmetric along every spatial axis
            for (NdIndexIterator it = new NdIndexIterator(w.shape()); it.hasNext(); ) {
                long[] idx = it.next();
                long[] src = idx.clone();
                for (int a = 2; a < src.length; a++) {
                    src[a] = Math.abs(src[a] - 1);
                }
                w.putScalar(idx, random.getDouble(src));
            }
        } else {
            w.assign(random);
        }
        net.getParam("conv_b").assign(SyntheticShapes.uniform(new long[] {1, classes}, -0.5, 0.5, 12));
        return net;
    }

    /** {@code a} ([N, C, spatial...]) reversed along the given spatial axes (0-based), by explicit index arithmetic. */
    static INDArray flipByHand(INDArray a, int... spatialAxes) {
        INDArray out = Nd4j.create(a.dataType(), a.shape());
        for (NdIndexIterator it = new NdIndexIterator(a.shape()); it.hasNext(); ) {
            long[] idx = it.next();
            long[] src = idx.clone();
            for (int s : spatialAxes) {
                src[s + 2] = a.size(s + 2) - 1 - idx[s + 2];
            }
            out.putScalar(idx, a.getDouble(src));
        }
        return out;
    }

    /** The network's probabilities of a channels-first batch, permuting for NHWC. */
    static INDArray f(ComputationGraph net, INDArray x, CNN2DFormat format) {
        if (format == CNN2DFormat.NHWC) {
            return net.outputSingle(x.permute(0, 2, 3, 1).dup('c')).permute(0, 3, 1, 2).dup('c');
        }
        return net.outputSingle(x);
    }

    /** Every subset of {@code axes}, the empty one first. */
    static List<int[]> subsets(int... axes) {
        List<int[]> out = new ArrayList<>();
        for (int m = 0; m < 1 << axes.length; m++) {
            int[] s = new int[Integer.bitCount(m)];
            for (int i = 0, j = 0; i < axes.length; i++) {
                if ((m & (1 << i)) != 0) {
                    s[j++] = axes[i];
                }
            }
            out.add(s);
        }
        return out;
    }

    /**
     * The definition, by hand: pad (centred, zeros) to the patch, per window p̂ = mean_s flip_s(f(flip_s(x_w))),
     * P = Σ w·p̂ / Σ w, crop.
     */
    static INDArray expected(ComputationGraph net, CNN2DFormat format, SlidingWindowInference swi, INDArray x,
                             int classes, int... axes) {
        int dims = x.rank() - 2;
        int[] patch = swi.patchSize();
        long[] spatial = new long[dims];
        long[] padded = new long[dims];
        INDArrayIndex[] inner = new INDArrayIndex[dims + 2];
        inner[0] = NDArrayIndex.all();
        inner[1] = NDArrayIndex.all();
        for (int a = 0; a < dims; a++) {
            spatial[a] = x.size(a + 2);
            padded[a] = Math.max(spatial[a], patch[a]);
            long before = (padded[a] - spatial[a]) / 2;
            inner[a + 2] = NDArrayIndex.interval(before, before + spatial[a]);
        }
        long[] paddedShape = new long[dims + 2];
        paddedShape[0] = 1;
        paddedShape[1] = x.size(1);
        System.arraycopy(padded, 0, paddedShape, 2, dims);
        INDArray source = Nd4j.zeros(DataType.FLOAT, paddedShape);
        source.get(inner).assign(x);
        paddedShape[1] = classes;
        INDArray num = Nd4j.zeros(DataType.FLOAT, paddedShape);
        INDArray den = Nd4j.zeros(DataType.FLOAT, padded);
        INDArray w = swi.importanceMap(DataType.FLOAT);
        List<int[]> flips = subsets(axes);
        for (int[] o : swi.windowOrigins(padded)) {
            INDArrayIndex[] win = new INDArrayIndex[dims + 2];
            INDArrayIndex[] spatialWin = new INDArrayIndex[dims];
            win[0] = NDArrayIndex.all();
            win[1] = NDArrayIndex.all();
            for (int a = 0; a < dims; a++) {
                spatialWin[a] = NDArrayIndex.interval(o[a], o[a] + patch[a]);
                win[a + 2] = spatialWin[a];
            }
            INDArray xw = source.get(win).dup();
            INDArray mean = Nd4j.zeros(DataType.FLOAT, f(net, xw, format).shape());
            for (int[] s : flips) {
                mean.addi(flipByHand(f(net, flipByHand(xw, s), format), s));
            }
            mean.divi(flips.size());
            for (int c = 0; c < classes; c++) {
                INDArrayIndex[] channel = win.clone();
                channel[0] = NDArrayIndex.point(0);
                channel[1] = NDArrayIndex.point(c);
                num.get(channel).addi(mean.get(NDArrayIndex.point(0), NDArrayIndex.point(c)).mul(w));
            }
            den.get(spatialWin).addi(w);
        }
        for (int c = 0; c < classes; c++) {
            num.get(NDArrayIndex.point(0), NDArrayIndex.point(c)).divi(den);
        }
        return num.get(inner).dup();
    }

    /** A flip-equivariant network: mirroring changes nothing, over several windows and a padded axis. */
    @ParameterizedTest
    @ValueSource(ints = {2, 3})
    void aMirrorEquivariantNetworkGivesThePlainResult(int dims) {
        ComputationGraph net = conv(dims, CNN2DFormat.NCHW, 2, 3, true);
        INDArray x = SyntheticShapes.uniform(dims == 2 ? new long[] {2, 2, 13, 5} : new long[] {1, 2, 9, 3, 7},
                -2, 2, 21);
        SlidingWindowInference.Builder b = SlidingWindowInference.builder().maxPatchesInFlight(6);
        b.patchSize(dims == 2 ? new int[] {6, 6} : new int[] {4, 4, 4});
        INDArray plain = b.build().predict(net, x);
        SlidingWindowInference mirrored = b.mirroring(true).build();
        assertEquals(1 << dims, mirrored.passesPerWindow());
        INDArray tta = mirrored.predict(net, x);
        assertArrayEquals(plain.shape(), tta.shape());
        assertEquals(0, tta.sub(plain).amaxNumber().doubleValue(), 1e-5);
        // the same network with its kernel left asymmetric is not equivariant: the comparison has teeth
        ComputationGraph skewed = conv(dims, CNN2DFormat.NCHW, 2, 3, false);
        assertTrue(mirrored.predict(skewed, x).sub(b.mirroring(false).build().predict(skewed, x))
                .amaxNumber().doubleValue() > 1e-3);
    }

    /**
     * An asymmetric network: the result is the hand-computed mean of the flipped-back predictions, stitched; in 2D
     * (NCHW and NHWC, windows at both borders) and 3D (all axes; a padded axis; one axis only).
     */
    @ParameterizedTest
    @ValueSource(strings = {"2D", "2D_NHWC", "3D", "3D_PADDED", "3D_AXIS_2"})
    void anAsymmetricNetworkGivesTheMeanOfTheFlippedPredictions(String variant) {
        boolean threeD = variant.startsWith("3D");
        CNN2DFormat format = variant.endsWith("NHWC") ? CNN2DFormat.NHWC : CNN2DFormat.NCHW;
        int classes = 3;
        ComputationGraph net = conv(threeD ? 3 : 2, format, 2, classes, false);
        INDArray x;
        SlidingWindowInference.Builder b = SlidingWindowInference.builder().maxPatchesInFlight(5);
        int[] axes;
        if (threeD) {
            b.patchSize(4, 4, 4);
            x = SyntheticShapes.uniform("3D_PADDED".equals(variant) ? new long[] {1, 2, 3, 7, 5}
                    : new long[] {1, 2, 6, 7, 5}, -2, 2, 31);
            axes = "3D_AXIS_2".equals(variant) ? new int[] {2} : new int[] {0, 1, 2};
        } else {
            b.patchSize(6, 5);
            x = SyntheticShapes.uniform(new long[] {1, 2, 11, 9}, -2, 2, 32);
            axes = new int[] {0, 1};
        }
        SlidingWindowInference swi = (axes.length == 1 ? b.mirrorAxes(axes) : b.mirroring(true)).build();
        assertArrayEquals(axes, swi.mirrorAxes());
        assertTrue(swi.windowOrigins(threeD ? new long[] {4, 7, 5} : new long[] {11, 9}).length > 1,
                "several windows");
        INDArray got = swi.predict(net, x);
        INDArray want = expected(net, format, swi, x, classes, axes);
        assertArrayEquals(want.shape(), got.shape());
        assertEquals(0, got.sub(want).amaxNumber().doubleValue(), 2e-5, variant);
        assertEquals(0, got.sum(1).sub(1.0).amaxNumber().doubleValue(), 1e-5, "probabilities sum to 1");
        INDArray plain = b.mirroring(false).build().predict(net, x);
        assertTrue(got.sub(plain).amaxNumber().doubleValue() > 1e-3, "mirroring changes an asymmetric network");
    }

    /** Flipped copies share batches with the other windows, never more than maxPatchesInFlight at once. */
    @Test
    void flippedCopiesAreBatchedWithinTheBound() {
        SlidingWindowInferenceTest.CountingGraph net = new SlidingWindowInferenceTest.CountingGraph(
                SlidingWindowInferenceTest.pointwise(3, CNN2DFormat.NCHW, 1, 2));
        INDArray x = SyntheticShapes.uniform(new long[] {1, 1, 8, 6, 4}, -1, 1, 8);
        SlidingWindowInference swi = SlidingWindowInference.builder().patchSize(4, 4, 4).maxPatchesInFlight(5)
                .mirrorAxes(1, 0).build();
        assertArrayEquals(new int[] {0, 1}, swi.mirrorAxes(), "sorted");
        swi.predict(net, x);
        assertEquals(List.of(5L, 5L, 5L, 5L, 4L), net.batches, "6 windows x 4 flips");
        net.batches.clear();
        SlidingWindowInference.builder().patchSize(4, 4, 4).maxPatchesInFlight(16).mirroring(true).build()
                .predict(net, x);
        assertEquals(List.of(16L, 16L, 16L), net.batches, "6 windows x 8 flips");
    }

    /** predictEach mirrors too, and hands over each volume's labels and label mask untouched. */
    @Test
    void predictEachMirrorsAndKeepsTheMasks() {
        ComputationGraph net = conv(2, CNN2DFormat.NCHW, 1, 2, false);
        INDArray x = SyntheticShapes.uniform(new long[] {2, 1, 9, 7}, -1, 1, 40);
        INDArray y = Nd4j.zeros(DataType.FLOAT, 2, 2, 9, 7);
        y.get(NDArrayIndex.all(), NDArrayIndex.point(1)).assign(x.get(NDArrayIndex.all(), NDArrayIndex.point(0))
                .gt(0).castTo(DataType.FLOAT));
        y.get(NDArrayIndex.all(), NDArrayIndex.point(0)).assign(y.get(NDArrayIndex.all(), NDArrayIndex.point(1))
                .rsub(1.0));
        INDArray mask = SyntheticShapes.uniform(new long[] {2, 1, 9, 7}, 0, 1, 41).gt(0.3).castTo(DataType.FLOAT);
        SlidingWindowInference swi = SlidingWindowInference.builder().patchSize(4, 4).mirroring(true).build();
        INDArray all = swi.predict(net, x);
        DataSet ds = new DataSet(x, y, null, mask);
        long n = swi.predictEach(net, List.of(ds).iterator(), (i, probs, labels, labelsMask) -> {
            INDArrayIndex one = NDArrayIndex.interval(i, i + 1);
            assertEquals(0, probs.sub(all.get(one)).amaxNumber().doubleValue(), 1e-6);
            assertEquals(y.get(one), labels);
            assertEquals(mask.get(one), labelsMask);
        });
        assertEquals(2, n);
    }

    @Test
    void invalidMirrorAxesAreRejectedWithTheAxisAndTheInputRank() {
        assertMessage(() -> SlidingWindowInference.builder().patchSize(4, 4, 4).mirrorAxes(3).build(),
                "mirror axis 3 is not a spatial axis: patch size [4, 4, 4] is 3D, so inputs are rank 5 "
                        + "[N, C, D, H, W] and mirror axes are 0..2");
        assertMessage(() -> SlidingWindowInference.builder().patchSize(4, 4).mirrorAxes(0, 2).build(),
                "mirror axis 2 is not a spatial axis: patch size [4, 4] is 2D, so inputs are rank 4 [N, C, H, W]"
                        + " and mirror axes are 0..1");
        assertMessage(() -> SlidingWindowInference.builder().patchSize(4, 4).mirrorAxes(-1).build(),
                "mirror axis -1 is not a spatial axis");
        assertMessage(() -> SlidingWindowInference.builder().patchSize(4, 4).mirrorAxes(1, 1).build(),
                "mirror axis 1 is listed twice in [1, 1]");
        // the axes are checked against the patch whatever the order of the builder calls
        assertMessage(() -> SlidingWindowInference.builder().mirrorAxes(2).patchSize(4, 4).build(), "rank 4");
    }

    @Test
    void defaultsOffAndDescribesItself() {
        SlidingWindowInference plain = SlidingWindowInference.builder().patchSize(8, 8).build();
        assertEquals(0, plain.mirrorAxes().length);
        assertEquals(1, plain.passesPerWindow());
        SlidingWindowInference all = SlidingWindowInference.builder().patchSize(8, 8, 8).mirroring(true).build();
        assertArrayEquals(new int[] {0, 1, 2}, all.mirrorAxes());
        assertEquals(8, all.passesPerWindow());
        assertTrue(all.toString().endsWith(", mirrorAxes=[0, 1, 2])"), all.toString());
        SlidingWindowInference none = SlidingWindowInference.builder().patchSize(8, 8).mirrorAxes().build();
        assertEquals(plain.toString(), none.toString());
        assertSame(SlidingWindowInference.Weighting.GAUSSIAN, all.weighting());
    }

    private static void assertMessage(Runnable r, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
        assertTrue(e.getMessage().startsWith("SlidingWindowInference: ") && e.getMessage().contains(expected),
                "expected '" + expected + "' in: " + e.getMessage());
    }
}
