package org.gradsurgery.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.stream.Stream;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.CacheMode;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.memory.MemoryUseMode;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.gradsurgery.layers.SegmentationGraphs.Layout;
import org.gradsurgery.loss.GradientSurgery;
import org.gradsurgery.loss.LossDice;
import org.gradsurgery.loss.LossFocalTversky;
import org.gradsurgery.loss.LossGeneralizedDice;
import org.gradsurgery.loss.LossJaccard;
import org.gradsurgery.loss.LossTversky;
import org.gradsurgery.loss.LossWeightedSum;
import org.gradsurgery.loss.Reduction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossBinaryXENT;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;

/**
 * JSON and model-file round trips of graphs holding every layer and vertex of this package, with non-default
 * settings so that a field silently reset on load would show.
 */
@ExtendWith(DoublePrecisionTinyArrays.class)
class LayerSerializationTest {

    private static final long C = 3;

    /**
     * in → conv → InstanceNorm → tanh → conv → SpatialBatchNorm → tanh → concat(·, in) → 1×1 conv →
     * SegmentationLossLayer, with Adam so that the updater state matters too.
     */
    static ComputationGraphConfiguration everyLayer(Layout layout, ILossFunction loss, Activation activation) {
        return new NeuralNetConfiguration.Builder()
                .dataType(DataType.DOUBLE).seed(42).updater(new Adam(1e-2)).weightInit(WeightInit.XAVIER)
                .graphBuilder()
                .addInputs("in")
                .setInputTypes(layout.inputType(2))
                .addLayer("c1", layout.conv(2, 3, Activation.IDENTITY), "in")
                .addLayer("in1", new InstanceNormalization.Builder().eps(1e-4).affine(layout.rank == 5).build(), "c1")
                .addLayer("a1", new ActivationLayer.Builder().activation(Activation.TANH).build(), "in1")
                .addLayer("c2", layout.conv(2, 3, Activation.IDENTITY), "a1")
                .addLayer("bn2", new SpatialBatchNormalization.Builder().decay(0.7).eps(1e-3).build(), "c2")
                .addLayer("a2", new ActivationLayer.Builder().activation(Activation.TANH).build(), "bn2")
                .addVertex("cat", new ChannelConcatVertex(layout.format2d()), "a2", "in")
                .addLayer("logits", layout.conv(1, C, Activation.IDENTITY), "cat")
                .addLayer("out", new SegmentationLossLayer.Builder(loss).activation(activation).build(), "logits")
                .setOutputs("out")
                .build();
    }

    static Stream<Arguments> graphs() {
        return Stream.of(
                Arguments.of(Layout.NCDHW, new LossMCXENT(), Activation.SOFTMAX),
                Arguments.of(Layout.NHWC, new LossBinaryXENT(), Activation.SIGMOID),
                Arguments.of(Layout.NCHW, new GroupErrorLoss(), Activation.SOFTMAX),
                Arguments.of(Layout.NCDHW, GradientSurgery.builder()
                        .base(LossDice.builder().includeBackground(false).smoothNr(1e-4).build())
                        .exponent(2.0).build(), Activation.SOFTMAX),
                // every other project loss, with non-default options, so a field reset on load would show
                Arguments.of(Layout.NCHW, LossJaccard.builder().reduction(Reduction.BATCH).squaredPred(true)
                        .build(), Activation.SOFTMAX),
                Arguments.of(Layout.NHWC, LossTversky.builder().alpha(0.3).beta(0.7).smoothDr(1e-3).build(),
                        Activation.SIGMOID),
                Arguments.of(Layout.NCDHW, LossFocalTversky.builder().gamma(1.5).alpha(0.4).build(),
                        Activation.SOFTMAX),
                Arguments.of(Layout.NCHW, LossGeneralizedDice.builder().includeBackground(false).checkFinite(false)
                        .build(), Activation.SOFTMAX),
                Arguments.of(Layout.NHWC, LossWeightedSum.builder()
                        .add(1.0, GradientSurgery.wrap(new LossDice(), 0.5)).add(0.5, new LossMCXENT()).build(),
                        Activation.SOFTMAX));
    }

    private static org.deeplearning4j.nn.conf.layers.Layer layer(ComputationGraphConfiguration conf, String name) {
        return ((LayerVertex) conf.getVertices().get(name)).getLayerConf().getLayer();
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("graphs")
    void jsonRoundTripKeepsEveryField(Layout layout, ILossFunction loss, Activation activation) {
        ComputationGraphConfiguration conf = everyLayer(layout, loss, activation);
        String json = conf.toJson();
        ComputationGraphConfiguration back = ComputationGraphConfiguration.fromJson(json);
        assertEquals(conf, back);
        assertEquals(json, back.toJson());

        InstanceNormalization in = (InstanceNormalization) layer(back, "in1");
        assertEquals(1e-4, in.getEps());
        assertEquals(layout.rank == 5, in.isAffine());
        assertEquals(layout.format2d(), in.getDataFormat());
        assertEquals(3, in.getNOut());
        SpatialBatchNormalization bn = (SpatialBatchNormalization) layer(back, "bn2");
        assertEquals(0.7, bn.getDecay());
        assertEquals(1e-3, bn.getEps());
        assertEquals(new ChannelConcatVertex(layout.format2d()), back.getVertices().get("cat"));
        if (layout.rank == 4) {
            // M2.1's Convolution3D inherits ConvolutionLayer.getMemoryReport, which casts to the 2D input type,
            // so a whole-network report of a 3D graph fails in DL4J before reaching our layers.
            assertTrue(back.getMemoryReport(layout.inputType(2))
                    .getTotalMemoryBytes(2, MemoryUseMode.TRAINING, CacheMode.NONE, DataType.DOUBLE) > 0);
        }
        SegmentationLossLayer out = (SegmentationLossLayer) layer(back, "out");
        assertEquals(loss, out.getLossFn());
        assertEquals(layout.format2d(), out.getDataFormat());
        assertEquals(activation.getActivationFunction(), out.getActivationFn());
    }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("graphs")
    void savedModelGivesIdenticalOutputsAndTraining(Layout layout, ILossFunction loss, Activation activation,
                                                    @TempDir Path dir) throws IOException {
        ComputationGraph net = new ComputationGraph(everyLayer(layout, loss, activation));
        net.init();
        INDArray x = SegmentationGraphs.uniform(layout.shape(2), -1, 1, 1);
        INDArray y = activation == Activation.SOFTMAX ? SegmentationGraphs.oneHot(layout, C, 2)
                : SegmentationGraphs.binary(layout.shape(C), 0.4, 2);
        for (int i = 0; i < 3; i++) {
            net.fit(new INDArray[] {x}, new INDArray[] {y});
        }
        INDArray runningMean = net.getLayer("bn2").getParam(SpatialNormalizationParamInitializer.GLOBAL_MEAN);
        assertNotEquals(Nd4j.zeros(DataType.DOUBLE, 3), runningMean, "running estimates moved before saving");

        File file = dir.resolve("net.zip").toFile();
        net.save(file, true);
        ComputationGraph loaded = ComputationGraph.load(file, true);

        assertEquals(net.getConfiguration(), loaded.getConfiguration());
        assertEquals(net.params(), loaded.params());
        assertEquals(net.getUpdater().getStateViewArray(), loaded.getUpdater().getStateViewArray());
        assertEquals(net.outputSingle(false, x), loaded.outputSingle(false, x));
        assertEquals(net.outputSingle(true, x), loaded.outputSingle(true, x));

        INDArray before = net.params().dup();
        net.fit(new INDArray[] {x}, new INDArray[] {y});
        loaded.fit(new INDArray[] {x}, new INDArray[] {y});
        assertNotEquals(before, net.params(), "the step changed the parameters");
        assertEquals(net.params(), loaded.params());
        assertEquals(net.score(), loaded.score(), 0.0);
    }

    @Test
    void defaultsSurviveTheRoundTrip() {
        SegmentationLossLayer out = new SegmentationLossLayer.Builder(new LossMCXENT()).build();
        String json = new NeuralNetConfiguration.Builder().graphBuilder().addInputs("in")
                .addLayer("out", out, "in").setOutputs("out").build().toJson();
        SegmentationLossLayer back = (SegmentationLossLayer) layer(ComputationGraphConfiguration.fromJson(json),
                "out");
        assertEquals(CNN2DFormat.NCHW, back.getDataFormat());
        assertEquals(Activation.IDENTITY.getActivationFunction(), back.getActivationFn());
        assertTrue(json.contains("\"dataFormat\""), json);
    }
}
