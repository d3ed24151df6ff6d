package org.gradsurgery.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import java.util.stream.Stream;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.dropout.Dropout;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.layers.SegmentationLossLayer;
import org.gradsurgery.loss.GradientSurgery;
import org.gradsurgery.loss.LossDice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;

/** Shapes, options, validation, parameter count and serialisation of {@link UNet}, on tiny configurations. */
class UNetTest {

    /** 2D NCHW, 2D NHWC and 3D. */
    enum Layout {
        NCHW, NHWC, NCDHW;

        UNet.Builder apply(UNet.Builder b) {
            return this == NCDHW ? b.spatialDims(3)
                    : b.spatialDims(2).dataFormat(this == NHWC ? CNN2DFormat.NHWC : CNN2DFormat.NCHW);
        }

        /** Shape of an array of {@code channels} channels over {@code size} per spatial axis. */
        long[] shape(long n, long channels, long size) {
            switch (this) {
                case NHWC:
                    return new long[] {n, size, size, channels};
                case NCHW:
                    return new long[] {n, channels, size, size};
                default:
                    return new long[] {n, channels, size, size, size};
            }
        }

        int channelAxis() {
            return this == NHWC ? 3 : 1;
        }
    }

    /** Every pair of (layout, normalisation, upsampling) options occurs at least once (9 of the 18 combinations). */
    static Stream<Arguments> variants() {
        List<Arguments> a = new ArrayList<>();
        UNet.Upsampling[] up = UNet.Upsampling.values();
        for (Layout l : Layout.values()) {
            for (UNet.Normalization n : UNet.Normalization.values()) {
                a.add(Arguments.of(l, n, up[(l.ordinal() + n.ordinal()) % up.length]));
            }
        }
        return a.stream();
    }

    private static UNet.Builder tiny(Layout layout) {
        return layout.apply(UNet.builder()).inputChannels(2).numClasses(3).levels(2).baseFilters(2)
                .updater(new Sgd(0.1)).seed(3);
    }

    private static INDArray random(long[] shape, long seed) {
        return SyntheticShapes.uniform(shape, -0.5, 0.5, seed);
    }

    /** One-hot labels in the layout, class chosen at random per voxel. */
    private static INDArray oneHot(Layout layout, long n, int classes, long size, long seed) {
        INDArray firstAxis = Nd4j.zeros(DataType.FLOAT, Layout.NCDHW == layout ? layout.shape(n, classes, size)
                : Layout.NCHW.shape(n, classes, size));
        Random r = new Random(seed);
        long voxels = firstAxis.length() / n / classes;
        for (long e = 0; e < n; e++) {
            for (long v = 0; v < voxels; v++) {
                firstAxis.reshape(n, classes, voxels).putScalar(new long[] {e, r.nextInt(classes), v}, 1.0);
            }
        }
        return layout == Layout.NHWC ? firstAxis.permute(0, 2, 3, 1).dup('c') : firstAxis;
    }

    @ParameterizedTest(name = "{0} {1} {2}")
    @MethodSource("variants")
    void outputShapeAndOneTrainingStep(Layout layout, UNet.Normalization norm, UNet.Upsampling up) {
        UNet unet = tiny(layout).normalization(norm).upsampling(up).build();
        ComputationGraph net = unet.graph();
        long size = layout == Layout.NCDHW ? 4 : 8;
        INDArray x = random(layout.shape(2, 2, size), 1);
        INDArray out = net.outputSingle(x);
        assertArrayEquals(layout.shape(2, 3, size), out.shape());
        // softmax over the layout's channel axis
        INDArray sums = out.sum(layout.channelAxis());
        assertEquals(0, sums.sub(1.0).amaxNumber().doubleValue(), 1e-5, "softmax sums " + sums);

        INDArray y = oneHot(layout, 2, 3, size, 2);
        MultiDataSet data = new MultiDataSet(x, y);
        INDArray before = net.params().dup();
        double score = net.score(data);
        assertTrue(Double.isFinite(score) && score > 0 && score < 1, "Dice loss " + score);
        net.fit(data);
        assertTrue(net.params().sub(before).amaxNumber().doubleValue() > 0, "parameters changed by one step");
        assertTrue(Double.isFinite(net.score()));
    }

    @Test
    void acceptsAnyMultipleOfTheSizeDivisorAtRunTime() {
        UNet unet = UNet.builder().numClasses(2).levels(3).baseFilters(2).inputSize(8, 8).build();
        assertEquals(4, unet.sizeDivisor());
        INDArray out = unet.graph().outputSingle(random(new long[] {1, 1, 12, 20}, 3));
        assertArrayEquals(new long[] {1, 2, 12, 20}, out.shape());
    }

    @Test
    void sigmoidOutputIsPerChannelAndOneChannelIsAllowed() {
        UNet unet = UNet.builder().spatialDims(3).numClasses(1).levels(2).baseFilters(2)
                .activation(UNet.OutputActivation.SIGMOID).build();
        INDArray out = unet.graph().outputSingle(random(new long[] {1, 1, 4, 4, 4}, 4));
        assertArrayEquals(new long[] {1, 1, 4, 4, 4}, out.shape());
        assertTrue(out.minNumber().doubleValue() > 0 && out.maxNumber().doubleValue() < 1);
        assertTrue(out.maxNumber().doubleValue() - out.minNumber().doubleValue() > 1e-6, "not constant");
    }

    @Test
    void levelsOneIsConvolutionsOnly() {
        UNet unet = UNet.builder().levels(1).baseFilters(2).inputSize(5, 7).build();
        assertEquals(1, unet.sizeDivisor());
        assertArrayEquals(new long[] {1, 2, 5, 7}, unet.graph().outputSingle(random(new long[] {1, 1, 5, 7}, 5))
                .shape());
        assertTrue(unet.configuration().getVertices().keySet().stream().noneMatch(n -> n.startsWith("down")));
    }

    @Test
    void outputLayerCarriesLossAndActivation() {
        GradientSurgery loss = GradientSurgery.wrap(new LossDice());
        UNet unet = UNet.builder().loss(loss).activation(UNet.OutputActivation.SIGMOID).numClasses(4).build();
        Layer out = ((LayerVertex) unet.configuration().getVertices().get(UNet.OUTPUT)).getLayerConf().getLayer();
        SegmentationLossLayer seg = (SegmentationLossLayer) out;
        assertEquals(loss, seg.getLossFn());
        assertEquals("sigmoid", seg.getActivationFn().toString().toLowerCase());
        assertEquals(List.of(UNet.INPUT), unet.configuration().getNetworkInputs());
        assertEquals(List.of(UNet.OUTPUT), unet.configuration().getNetworkOutputs());
    }

    @Test
    void dropoutOnInnerConvolutionsOnlyAsADropProbability() {
        ComputationGraphConfiguration conf = UNet.builder().levels(2).dropout(0.25).build().configuration();
        assertNull(layer(conf, "enc1_conv1").getIDropout(), "no dropout on the image");
        assertEquals(new Dropout(0.75), layer(conf, "enc1_conv2").getIDropout());
        assertEquals(new Dropout(0.75), layer(conf, "dec1_conv1").getIDropout());
        assertNull(layer(conf, UNet.LOGITS).getIDropout());
        assertNull(layer(UNet.builder().levels(2).build().configuration(), "enc1_conv2").getIDropout());
    }

    private static Layer layer(ComputationGraphConfiguration conf, String name) {
        return ((LayerVertex) conf.getVertices().get(name)).getLayerConf().getLayer();
    }

    /**
     * 2D, 1 input channel, 2 classes, 2 levels, 2 base filters, 2 convs per level, instance norm (affine: γ, β per
     * channel), transposed conv; counted by hand from the wiring in the class documentation.
     */
    @Test
    void parameterCountMatchesAHandCount() {
        long conv3 = 0;
        conv3 += 3 * 3 * 1 * 2 + 2;       // enc1_conv1: 1 → 2
        conv3 += 3 * 3 * 2 * 2 + 2;       // enc1_conv2: 2 → 2
        conv3 += 3 * 3 * 2 * 4 + 4;       // enc2_conv1: 2 → 4
        conv3 += 3 * 3 * 4 * 4 + 4;       // enc2_conv2: 4 → 4
        conv3 += 3 * 3 * 4 * 2 + 2;       // dec1_conv1: skip has 2 + 2 = 4 → 2
        conv3 += 3 * 3 * 2 * 2 + 2;       // dec1_conv2: 2 → 2
        long norms = 2 * (2 + 2 + 4 + 4 + 2 + 2);   // γ and β per channel of each norm
        long up = 2 * 2 * 4 * 2 + 2;      // up1: transposed 2×2, 4 → 2
        long head = 1 * 1 * 2 * 2 + 2;    // logits: 1×1, 2 → 2
        long expected = conv3 + norms + up + head;
        assertEquals(466, expected);

        UNet unet = UNet.builder().spatialDims(2).inputChannels(1).numClasses(2).levels(2).baseFilters(2)
                .convsPerLevel(2).normalization(UNet.Normalization.INSTANCE).inputSize(8, 8).build();
        assertEquals(expected, unet.numParams());
        assertEquals(expected, unet.graph().numParams());
        String summary = unet.summary();
        System.out.print(summary);   // the table shown in docs/MODEL.md
        assertTrue(summary.contains("Total parameters: 466"), summary);
        for (String v : List.of("enc1_conv1", "enc1_norm2", "down1", "enc2_conv2", "up1", "skip1", "dec1_norm2",
                UNet.LOGITS, UNet.OUTPUT)) {
            assertTrue(summary.contains(v), v + " in\n" + summary);
        }
        assertTrue(summary.contains("[4, 8, 8] CHW"), "skip1 shape in\n" + summary);
        assertTrue(summary.contains("[4, 4, 4] CHW"), "bottleneck shape in\n" + summary);

        // without normalisation the convolutions alone; upsample+conv replaces the 2×2 transposed conv by a 3×3
        UNet plain = UNet.builder().levels(2).baseFilters(2).normalization(UNet.Normalization.NONE)
                .upsampling(UNet.Upsampling.UPSAMPLE_CONV).build();
        assertEquals(conv3 + (3 * 3 * 4 * 2 + 2) + head, plain.numParams());
        assertEquals(plain.numParams(), plain.graph().numParams());
    }

    @Test
    void batchNormalisationCountsItsRunningStatistics() {
        UNet inst = UNet.builder().levels(2).baseFilters(2).build();
        UNet batch = UNet.builder().levels(2).baseFilters(2).normalization(UNet.Normalization.BATCH).build();
        long normChannels = 2 + 2 + 4 + 4 + 2 + 2;
        assertEquals(inst.numParams() + 2 * normChannels, batch.numParams());
        assertEquals(batch.numParams(), batch.graph().numParams());
    }

    @Test
    void threeDimensionalSummaryShowsVolumeShapes() {
        String s = UNet.builder().spatialDims(3).levels(3).baseFilters(2).inputSize(8, 16, 8).build().summary();
        assertTrue(s.contains("[8, 2, 4, 2] CDHW"), s);    // bottleneck of level 3: 8 filters at 1/4 size
        assertTrue(s.contains("[2, 8, 16, 8] CDHW"), s);  // output
    }

    @Test
    void validationMessagesNameTheOption() {
        assertMessage(b -> b.levels(0), "levels must be >= 1");
        assertMessage(b -> b.baseFilters(0), "baseFilters must be >= 1, got 0");
        assertMessage(b -> b.inputChannels(-1), "inputChannels must be >= 1, got -1");
        assertMessage(b -> b.convsPerLevel(0), "convsPerLevel must be >= 1");
        assertMessage(b -> b.spatialDims(1), "spatialDims must be 2 or 3, got 1");
        assertMessage(b -> b.spatialDims(3).dataFormat(CNN2DFormat.NHWC), "applies to 2D only");
        assertMessage(b -> b.dropout(1.0), "dropout is a drop probability in [0, 1), got 1.0");
        assertMessage(b -> b.dropout(-0.1), "got -0.1");
        assertMessage(b -> b.numClasses(1), "numClasses must be >= 2 with SOFTMAX");
        assertMessage(b -> b.numClasses(0).activation(UNet.OutputActivation.SIGMOID), "numClasses must be >= 1 with SIGMOID");
        assertMessage(b -> b.levels(4).inputSize(96, 100),
                "inputSize [96, 100] is not divisible by 2^(levels-1) = 8 (levels = 4)");
        assertMessage(b -> b.spatialDims(3).inputSize(8, 8), "inputSize needs 3 values");
        assertMessage(b -> b.levels(3).inputSize(0, 8), "inputSize [0, 8]");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> UNet.builder().dataType(DataType.INT));
        assertTrue(e.getMessage().contains("floating-point"), e.getMessage());
    }

    private static void assertMessage(Consumer<UNet.Builder> options, String expected) {
        UNet.Builder b = UNet.builder();
        options.accept(b);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, b::build);
        assertTrue(e.getMessage().startsWith("UNet: ") && e.getMessage().contains(expected),
                "expected '" + expected + "' in: " + e.getMessage());
    }

    @Test
    void builderIsSnapshotAtBuild() {
        UNet.Builder b = UNet.builder().levels(2).baseFilters(2);
        UNet first = b.build();
        b.levels(3).inputSize(4, 4);
        assertEquals(2, first.levels());
        assertNull(first.inputSize());
        assertEquals(3, b.build().levels());
    }

    @Test
    void graphsAreIdenticalForTheSameSeed() {
        UNet unet = UNet.builder().levels(2).baseFilters(2).seed(11).build();
        assertEquals(unet.graph().params(), unet.graph().params());
        UNet other = UNet.builder().levels(2).baseFilters(2).seed(12).build();
        assertTrue(!unet.graph().params().equals(other.graph().params()));
    }

    @Test
    void configurationJsonRoundTrip() {
        for (Layout layout : Layout.values()) {
            ComputationGraphConfiguration conf = tiny(layout).normalization(UNet.Normalization.BATCH)
                    .upsampling(UNet.Upsampling.UPSAMPLE_CONV).dropout(0.1)
                    .loss(GradientSurgery.wrap(new LossDice(), 2.0)).build().configuration();
            ComputationGraphConfiguration back = ComputationGraphConfiguration.fromJson(conf.toJson());
            assertEquals(conf, back, layout.toString());
        }
    }

    @Test
    void saveLoadRoundTripKeepsOutputsAndTraining(@TempDir Path dir) throws Exception {
        for (Layout layout : new Layout[] {Layout.NHWC, Layout.NCDHW}) {
            UNet unet = tiny(layout).normalization(UNet.Normalization.BATCH).loss(new LossMCXENT())
                    .updater(new Adam(1e-2)).build();
            ComputationGraph net = unet.graph();
            long size = layout == Layout.NCDHW ? 4 : 8;
            MultiDataSet data = new MultiDataSet(random(layout.shape(2, 2, size), 6), oneHot(layout, 2, 3, size, 7));
            net.fit(data);   // non-trivial updater state and running statistics
            File f = dir.resolve(layout + ".zip").toFile();
            net.save(f, true);
            ComputationGraph loaded = ComputationGraph.load(f, true);
            assertEquals(net.getConfiguration(), loaded.getConfiguration());
            INDArray x = data.getFeatures(0);
            assertEquals(net.outputSingle(x), loaded.outputSingle(x));
            net.fit(data);
            loaded.fit(data);
            assertEquals(net.params(), loaded.params(), layout + ": a further fit step is identical");
            assertEquals(net.getUpdater().getStateViewArray(), loaded.getUpdater().getStateViewArray());
        }
    }
}
