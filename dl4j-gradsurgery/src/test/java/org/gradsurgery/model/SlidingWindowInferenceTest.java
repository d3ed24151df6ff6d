package org.gradsurgery.model;

import org.gradsurgery.evaluation.EvaluationResult;
import org.gradsurgery.evaluation.SegmentationEvaluator;
import org.gradsurgery.data.ArrayBatches;
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
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.gradsurgery.layers.SegmentationLossLayer;
import org.gradsurgery.calibration.CalibrationMetrics;
import org.gradsurgery.loss.LossDice;
import org.gradsurgery.metrics.SegmentationMetrics;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/** Window placement, Gaussian weights, exact stitching for pointwise networks, batching bounds and errors. */
class SlidingWindowInferenceTest {

    /** A network whose output at a voxel depends only on that voxel: softmax(W·x + b), 1×1(×1) conv, seeded. */
    static ComputationGraph pointwise(int dims, CNN2DFormat format, int inChannels, int classes) {
        ComputationGraphConfiguration.GraphBuilder g = new NeuralNetConfiguration.Builder().seed(5)
                .weightInit(WeightInit.XAVIER).graphBuilder().addInputs("in");
        if (dims == 2) {
            g.setInputTypes(InputType.convolutional(4, 4, inChannels, format))
                    .addLayer("conv", new ConvolutionLayer.Builder(1, 1).nOut(classes).dataFormat(format)
                            .activation(Activation.IDENTITY).build(), "in");
        } else {
            g.setInputTypes(InputType.convolutional3D(Convolution3D.DataFormat.NCDHW, 4, 4, 4, inChannels))
                    .addLayer("conv", new Convolution3D.Builder(1, 1, 1).nOut(classes)
                            .dataFormat(Convolution3D.DataFormat.NCDHW).activation(Activation.IDENTITY).build(), "in");
        }
        g.addLayer("out", new SegmentationLossLayer.Builder().lossFunction(new LossDice())
                .activation(Activation.SOFTMAX).build(), "conv").setOutputs("out");
        ComputationGraph net = new ComputationGraph(g.build());
        net.init();
        net.params().assign(SyntheticShapes.uniform(new long[] {net.numParams()}, -2, 2, 9));
        return net;
    }

    @Test
    void axisOriginsFollowNnUNet() {
        assertArrayEquals(new int[] {0, 2, 4, 6}, SlidingWindowInference.axisOrigins(10, 4, 0.5));
        assertArrayEquals(new int[] {0, 2, 4, 5, 7}, SlidingWindowInference.axisOrigins(11, 4, 0.5)); // step 1.75
        assertArrayEquals(new int[] {0, 4}, SlidingWindowInference.axisOrigins(8, 4, 0.0));
        assertArrayEquals(new int[] {0, 3, 5}, SlidingWindowInference.axisOrigins(9, 4, 0.0));
        assertArrayEquals(new int[] {0}, SlidingWindowInference.axisOrigins(4, 4, 0.5));
        assertArrayEquals(new int[] {0}, SlidingWindowInference.axisOrigins(3, 4, 0.5));
        // properties on many sizes: start at 0, end at the border, increasing, overlap at least as asked
        for (int patch = 1; patch <= 9; patch++) {
            for (int size = patch; size <= 40; size++) {
                for (double overlap : new double[] {0, 0.25, 0.5, 0.75}) {
                    int[] o = SlidingWindowInference.axisOrigins(size, patch, overlap);
                    assertEquals(0, o[0]);
                    assertEquals(size - patch, o[o.length - 1], "last window ends at the border");
                    for (int i = 1; i < o.length; i++) {
                        int step = o[i] - o[i - 1];
                        assertTrue(step > 0 && step <= Math.max(1, Math.ceil(patch * (1 - overlap))),
                                "size " + size + " patch " + patch + " overlap " + overlap + ": step " + step);
                    }
                }
            }
        }
    }

    @Test
    void gaussianMapIsCentredPositiveAndHasTheConfiguredSigma() {
        SlidingWindowInference swi = SlidingWindowInference.builder().patchSize(9, 8, 33).build();
        INDArray w = swi.importanceMap(DataType.DOUBLE);
        assertArrayEquals(new long[] {9, 8, 33}, w.shape());
        assertEquals(1.0, w.maxNumber().doubleValue(), 1e-12);
        // the centre of the even axis 1 is 3.5: voxels 3 and 4 share the maximum
        assertEquals(1.0, w.getDouble(4, 3, 16), 1e-12);
        assertEquals(1.0, w.getDouble(4, 4, 16), 1e-12);
        assertTrue(w.minNumber().doubleValue() > 0, "no zero weights");
        double sigma = 9 / 8.0;
        assertEquals(Math.exp(-1 / (2 * sigma * sigma)), w.getDouble(5, 3, 16) / w.getDouble(4, 3, 16), 1e-12);
        assertEquals(w.getDouble(0, 0, 0), w.getDouble(8, 7, 32), 1e-15, "symmetric");
        // the corner of a 64³ patch is 4σ out on each axis: exp(-24) is tiny but positive
        INDArray wide = SlidingWindowInference.builder().patchSize(64, 64, 64).build().importanceMap(DataType.FLOAT);
        assertTrue(wide.minNumber().floatValue() >= Float.MIN_NORMAL);
        INDArray flat = SlidingWindowInference.builder().patchSize(3, 3)
                .weighting(SlidingWindowInference.Weighting.CONSTANT).build().importanceMap(DataType.FLOAT);
        assertEquals(9.0, flat.sumNumber().doubleValue(), 0);
    }

    @Test
    void weightsCoverEveryVoxel() {
        SlidingWindowInference swi = SlidingWindowInference.builder().patchSize(4, 5, 6).overlap(0.25).build();
        long[] shape = {7, 13, 6};
        INDArray w = swi.importanceMap(DataType.DOUBLE);
        INDArray sum = Nd4j.zeros(DataType.DOUBLE, shape);
        INDArray count = Nd4j.zeros(DataType.DOUBLE, shape);
        for (int[] o : swi.windowOrigins(shape)) {
            for (int a = 0; a < 3; a++) {
                assertTrue(o[a] >= 0 && o[a] + swi.patchSize()[a] <= shape[a], "window inside the volume");
            }
            sum.get(NDArrayIndex.interval(o[0], o[0] + 4), NDArrayIndex.interval(o[1], o[1] + 5),
                    NDArrayIndex.interval(o[2], o[2] + 6)).addi(w);
            count.get(NDArrayIndex.interval(o[0], o[0] + 4), NDArrayIndex.interval(o[1], o[1] + 5),
                    NDArrayIndex.interval(o[2], o[2] + 6)).addi(1);
        }
        assertTrue(sum.minNumber().doubleValue() > 0);
        assertTrue(count.minNumber().doubleValue() >= 1);
        assertEquals(2 * 4 * 1, swi.windowOrigins(shape).length);   // 7 → {0, 3}; 13 → 4 windows of 5
    }

    @ParameterizedTest
    @ValueSource(strings = {"NCHW", "NHWC", "NCDHW", "NCDHW_CONSTANT", "NCDHW_PADDED"})
    void stitchingAPointwiseNetworkReproducesTheWholeVolumeOutput(String variant) {
        boolean threeD = variant.startsWith("NCDHW");
        ComputationGraph net = pointwise(threeD ? 3 : 2, "NHWC".equals(variant) ? CNN2DFormat.NHWC : CNN2DFormat.NCHW,
                2, 3);
        SlidingWindowInference.Builder b = SlidingWindowInference.builder().maxPatchesInFlight(3);
        long[] shape;
        if (threeD) {
            b.patchSize(4, 6, 4);
            shape = "NCDHW_PADDED".equals(variant) ? new long[] {1, 2, 3, 11, 9} : new long[] {1, 2, 11, 13, 9};
        } else {
            b.patchSize(6, 5);
            shape = new long[] {2, 2, 17, 12};
        }
        if (variant.endsWith("CONSTANT")) {
            b.weighting(SlidingWindowInference.Weighting.CONSTANT);
        }
        INDArray x = SyntheticShapes.uniform(shape, -3, 3, 17);
        INDArray expected = net.outputSingle("NHWC".equals(variant) ? x.permute(0, 2, 3, 1).dup('c') : x);
        if ("NHWC".equals(variant)) {
            expected = expected.permute(0, 3, 1, 2);
        }
        INDArray stitched = b.build().predict(net, x);
        long[] outShape = shape.clone();
        outShape[1] = 3;
        assertArrayEquals(outShape, stitched.shape());
        assertEquals(0, stitched.sub(expected).amaxNumber().doubleValue(), 1e-5, variant);
    }

    @Test
    void aSingleWindowOfAUNetEqualsItsOutput() {
        UNet unet = UNet.builder().spatialDims(3).numClasses(2).levels(2).baseFilters(2).build();
        ComputationGraph net = unet.graph();
        INDArray x = SyntheticShapes.uniform(new long[] {1, 1, 4, 8, 6}, -1, 1, 3);
        INDArray stitched = SlidingWindowInference.builder().patchSize(4, 8, 6).build().predict(net, x);
        assertEquals(0, stitched.sub(net.outputSingle(x)).amaxNumber().doubleValue(), 1e-6);
        // several overlapping windows: a normalised probability field, close to the whole-volume output inside
        INDArray big = SyntheticShapes.uniform(new long[] {1, 1, 8, 12, 10}, -1, 1, 4);
        INDArray tiled = SlidingWindowInference.builder().patchSize(4, 8, 6).build().predict(net, big);
        assertEquals(0, tiled.sum(1).sub(1.0).amaxNumber().doubleValue(), 1e-5, "probabilities sum to 1");
    }

    /**
     * Issue 3: 3D sliding-window probabilities go to the metrics. Plugged into {@link SegmentationEvaluator} through
     * {@link Inference#fromProbabilities}, they give the same Dice and ECE as the metrics computed directly on
     * {@code predict}'s output, over every voxel of both volumes.
     */
    @Test
    void stitchedProbabilitiesFeedTheEvaluator() {
        ComputationGraph net = UNet.builder().spatialDims(3).numClasses(2).levels(2).baseFilters(2).seed(6).build()
                .graph();
        INDArray x = SyntheticShapes.uniform(new long[] {2, 1, 8, 12, 10}, -1, 1, 7);
        INDArray fg = x.gt(0.2).castTo(DataType.FLOAT);
        INDArray labels = Nd4j.concat(1, fg.rsub(1.0), fg);
        SlidingWindowInference swi = SlidingWindowInference.builder().patchSize(4, 8, 6).maxPatchesInFlight(2)
                .build();
        EvaluationResult r = SegmentationEvaluator.builder().numClasses(2).surfaceDistances(false).adaptive(false)
                .temperatureScaling(false).loss(false).inference(Inference.fromProbabilities(swi::predict)).build()
                .evaluate(net, new ArrayBatches(new DataSet(x, labels), 1));

        INDArray p = swi.predict(net, x);
        CalibrationMetrics cal = CalibrationMetrics.builder().numClasses(2).build();
        cal.update(p, labels, null);
        SegmentationMetrics seg = SegmentationMetrics.builder().numClasses(2).surfaceDistances(false).build();
        seg.update(p, labels);
        assertEquals(2L * 8 * 12 * 10, r.calibration().voxelCount());
        assertEquals(seg.result().meanDice(), r.meanDice(), 1e-9);
        assertEquals(cal.result().eceTopLabel(), r.ece(), 1e-5);
        assertEquals(cal.result().brier(), r.calibration().brier(), 1e-5);
    }

    /**
     * With a real U-Net, patches disagree at their borders, so the weights matter: the stitched result equals the
     * definition Σ w·f(patch) / Σ w computed one window at a time, and differs from plain averaging.
     */
    @Test
    void stitchingIsTheGaussianWeightedAverageOfThePatchOutputs() {
        ComputationGraph net = UNet.builder().numClasses(3).levels(2).baseFilters(2).seed(4).build().graph();
        INDArray x = SyntheticShapes.uniform(new long[] {1, 1, 10, 13}, -1, 1, 5);
        SlidingWindowInference swi = SlidingWindowInference.builder().patchSize(6, 8).maxPatchesInFlight(4).build();
        INDArray w = swi.importanceMap(DataType.FLOAT);
        INDArray num = Nd4j.zeros(DataType.FLOAT, 3, 10, 13);
        INDArray den = Nd4j.zeros(DataType.FLOAT, 10, 13);
        int[][] origins = swi.windowOrigins(10, 13);
        assertEquals(3 * 3, origins.length);
        for (int[] o : origins) {
            INDArrayIndex rows = NDArrayIndex.interval(o[0], o[0] + 6);
            INDArrayIndex cols = NDArrayIndex.interval(o[1], o[1] + 8);
            INDArray out = net.outputSingle(x.get(NDArrayIndex.all(), NDArrayIndex.all(), rows, cols).dup());
            for (int c = 0; c < 3; c++) {
                num.get(NDArrayIndex.point(c), rows, cols).addi(out.get(NDArrayIndex.point(0), NDArrayIndex.point(c))
                        .mul(w));
            }
            den.get(rows, cols).addi(w);
        }
        for (int c = 0; c < 3; c++) {
            num.get(NDArrayIndex.point(c)).divi(den);
        }
        INDArray stitched = swi.predict(net, x);
        assertEquals(0, stitched.get(NDArrayIndex.point(0)).sub(num).amaxNumber().doubleValue(), 1e-5);
        INDArray plain = SlidingWindowInference.builder().patchSize(6, 8)
                .weighting(SlidingWindowInference.Weighting.CONSTANT).build().predict(net, x);
        assertTrue(plain.sub(stitched).amaxNumber().doubleValue() > 1e-4, "the weighting changes the result");
    }

    /** Records the batch sizes the inference sends. */
    static final class CountingGraph extends ComputationGraph {
        final List<Long> batches = new ArrayList<>();

        CountingGraph(ComputationGraph net) {
            super(net.getConfiguration().clone());
            init(net.params().dup(), false);
        }

        @Override
        public INDArray[] output(INDArray... input) {
            batches.add(input[0].size(0));
            return super.output(input);
        }
    }

    @Test
    void patchesAreBatchedWithinTheBound() {
        CountingGraph net = new CountingGraph(pointwise(3, CNN2DFormat.NCHW, 1, 2));
        SlidingWindowInference swi = SlidingWindowInference.builder().patchSize(4, 4, 4).overlap(0.5)
                .maxPatchesInFlight(5).build();
        INDArray x = SyntheticShapes.uniform(new long[] {1, 1, 8, 6, 4}, -1, 1, 8);
        assertEquals(3 * 2 * 1, swi.windowOrigins(8, 6, 4).length);
        swi.predict(net, x);
        assertEquals(List.of(5L, 1L), net.batches);
        net.batches.clear();
        SlidingWindowInference.builder().patchSize(4, 4, 4).maxPatchesInFlight(1).build().predict(net, x);
        assertEquals(List.of(1L, 1L, 1L, 1L, 1L, 1L), net.batches);
    }

    @Test
    void predictEachStreamsOneVolumeAtATimeWithItsLabels() {
        ComputationGraph net = pointwise(2, CNN2DFormat.NCHW, 1, 2);
        List<DataSet> data = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            INDArray x = SyntheticShapes.uniform(new long[] {2, 1, 9, 7}, -1, 1, 20 + i);
            INDArray y = Nd4j.zeros(DataType.FLOAT, 2, 2, 9, 7);
            y.get(NDArrayIndex.all(), NDArrayIndex.point(0)).assign(x.get(NDArrayIndex.all(), NDArrayIndex.point(0))
                    .lt(0).castTo(DataType.FLOAT));
            y.get(NDArrayIndex.all(), NDArrayIndex.point(1)).assign(x.get(NDArrayIndex.all(), NDArrayIndex.point(0))
                    .gte(0).castTo(DataType.FLOAT));
            data.add(new DataSet(x, y));
        }
        SlidingWindowInference swi = SlidingWindowInference.builder().patchSize(4, 4).build();
        SegmentationMetrics metrics = SegmentationMetrics.builder().numClasses(2).surfaceDistances(false).build();
        List<Long> seen = new ArrayList<>();
        long n = swi.predictEach(net, data.iterator(), (index, probs, labels, mask) -> {
            DataSet ds = data.get((int) (index / 2));
            INDArray expectedLabels = ds.getLabels().get(NDArrayIndex.interval(index % 2, index % 2 + 1));
            assertEquals(expectedLabels, labels);
            assertArrayEquals(new long[] {1, 2, 9, 7}, probs.shape());
            INDArray direct = net.outputSingle(ds.getFeatures().get(NDArrayIndex.interval(index % 2, index % 2 + 1)));
            assertEquals(0, probs.sub(direct).amaxNumber().doubleValue(), 1e-5);
            assertEquals(null, mask);
            metrics.update(probs, labels);
            seen.add(index);
        });
        assertEquals(6, n);
        assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 5L), seen);
        assertEquals(6, metrics.caseCount());
    }

    /** The evaluator's 3D hook: {@code Inference.fromProbabilities(swi::predict)}. */
    @Test
    void plugsIntoTheEvaluatorsInferenceHook() {
        ComputationGraph net = pointwise(3, CNN2DFormat.NCHW, 1, 2);
        SlidingWindowInference swi = SlidingWindowInference.builder().patchSize(4, 4, 4).build();
        INDArray x = SyntheticShapes.uniform(new long[] {1, 1, 6, 5, 4}, -1, 1, 30);
        INDArray logits = Inference.fromProbabilities(swi::predict).logits(net, x);
        assertEquals(0, Transforms.exp(logits, false).sub(swi.predict(net, x)).amaxNumber().doubleValue(), 1e-5);
    }

    @Test
    void badInputGivesClearErrors() {
        ComputationGraph net3d = pointwise(3, CNN2DFormat.NCHW, 2, 3);
        SlidingWindowInference swi = SlidingWindowInference.builder().patchSize(4, 4, 4).build();
        assertMessage(() -> swi.predict(net3d, Nd4j.zeros(DataType.FLOAT, 2, 8, 8, 8)),
                "must be rank 5 [N, C, D, H, W] (channels first), got shape [2, 8, 8, 8]");
        assertMessage(() -> swi.predict(net3d, Nd4j.zeros(DataType.FLOAT, 1, 8, 8, 8, 2)),
                "takes 2 input channels, the input has 8 on axis 1");
        assertMessage(() -> SlidingWindowInference.builder().patchSize(4).build(), "patchSize needs 2");
        assertMessage(() -> SlidingWindowInference.builder().patchSize(4, 0).build(), ">= 1");
        assertMessage(() -> SlidingWindowInference.builder().overlap(1.0), "overlap must be in [0, 1), got 1.0");
        assertMessage(() -> SlidingWindowInference.builder().sigmaScale(0), "sigmaScale");
        assertMessage(() -> SlidingWindowInference.builder().maxPatchesInFlight(0), "maxPatchesInFlight");
        assertMessage(() -> SlidingWindowInference.builder().build(), "patchSize is required");
        assertMessage(() -> swi.windowOrigins(4, 4), "does not have the 3 axes");

        // a network that changes the spatial size cannot be stitched
        ComputationGraph pooled = new ComputationGraph(new NeuralNetConfiguration.Builder().graphBuilder()
                .addInputs("in").setInputTypes(InputType.convolutional(4, 4, 1))
                .addLayer("pool", new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2)
                        .convolutionMode(ConvolutionMode.Same).build(), "in")
                .addLayer("out", new SegmentationLossLayer.Builder().lossFunction(new LossDice())
                        .activation(Activation.SIGMOID).build(), "pool")
                .setOutputs("out").build());
        pooled.init();
        assertMessage(() -> SlidingWindowInference.builder().patchSize(4, 4).build()
                        .predict(pooled, Nd4j.zeros(DataType.FLOAT, 1, 1, 4, 4)),
                "need a patch-sized output [1, K, 4, 4]");
    }

    private static void assertMessage(Runnable r, String expected) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
        assertTrue(e.getMessage().startsWith("SlidingWindowInference: ") && e.getMessage().contains(expected),
                "expected '" + expected + "' in: " + e.getMessage());
    }

    @Test
    void describesItself() {
        SlidingWindowInference swi = SlidingWindowInference.builder().patchSize(8, 8).build();
        assertEquals("SlidingWindowInference(patchSize=[8, 8], overlap=0.5, weighting=GAUSSIAN, sigmaScale=0.125,"
                + " maxPatchesInFlight=4, padValue=0.0)", swi.toString());
        assertSame(SlidingWindowInference.Weighting.GAUSSIAN, swi.weighting());
    }
}
