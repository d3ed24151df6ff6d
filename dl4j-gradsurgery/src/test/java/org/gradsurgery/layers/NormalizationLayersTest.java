package org.gradsurgery.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.CacheMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.conf.memory.LayerMemoryReport;
import org.deeplearning4j.nn.conf.memory.MemoryUseMode;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.gradsurgery.layers.SegmentationGraphs.Layout;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.impl.LossMSE;

/**
 * {@link InstanceNormalization} and {@link SpatialBatchNormalization} against plain-Java reference loops and finite
 * differences, the running-estimate contract of batch norm, and their errors.
 */
@ExtendWith(DoublePrecisionTinyArrays.class)
class NormalizationLayersTest {

    private static final LayerWorkspaceMgr NO_WS = LayerWorkspaceMgr.noWorkspaces();
    private static final long C = 3;

    /** The layer alone with its own parameter and gradient views, as a network would instantiate it. */
    static Layer standalone(AbstractSpatialNormalization conf) {
        NeuralNetConfiguration nnc = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).layer(conf)
                .build();
        long n = nnc.getLayer().initializer().numParams(nnc);
        INDArray params = n == 0 ? null : Nd4j.create(DataType.DOUBLE, 1, n);
        Layer layer = nnc.getLayer().instantiate(nnc, Collections.emptyList(), 0, params, true, DataType.DOUBLE);
        if (n > 0) {
            layer.setBackpropGradientsViewArray(Nd4j.create(DataType.DOUBLE, 1, n));
        }
        return layer;
    }

    /**
     * Plain-Java normalisation of channels-first {@code x}: groups per (n, c) when {@code perExample}, else per c;
     * {@code fixedMean}/{@code fixedVar} (per channel) replace the group statistics when given.
     */
    static double[] reference(INDArray x, double[] gamma, double[] beta, double eps, boolean perExample,
                              double[] fixedMean, double[] fixedVar) {
        long n = x.size(0);
        long c = x.size(1);
        int voxels = (int) (x.length() / n / c);
        double[] xf = x.dup('c').data().asDouble();
        double[] out = new double[xf.length];
        for (int k = 0; k < c; k++) {
            for (int e = 0; e < n; e++) {
                double mean;
                double var;
                if (fixedMean != null) {
                    mean = fixedMean[k];
                    var = fixedVar[k];
                } else {
                    int e0 = perExample ? e : 0;
                    int e1 = perExample ? e + 1 : (int) n;
                    double s = 0;
                    int m = 0;
                    for (int ee = e0; ee < e1; ee++) {
                        for (int v = 0; v < voxels; v++) {
                            s += xf[(int) ((ee * c + k) * voxels + v)];
                            m++;
                        }
                    }
                    mean = s / m;
                    double ss = 0;
                    for (int ee = e0; ee < e1; ee++) {
                        for (int v = 0; v < voxels; v++) {
                            double d = xf[(int) ((ee * c + k) * voxels + v)] - mean;
                            ss += d * d;
                        }
                    }
                    var = ss / m;
                }
                for (int v = 0; v < voxels; v++) {
                    int i = (int) ((e * c + k) * voxels + v);
                    out[i] = gamma[k] * (xf[i] - mean) / Math.sqrt(var + eps) + beta[k];
                }
            }
        }
        return out;
    }

    /** Per-channel mean and unbiased variance over N and space of channels-first {@code x}. */
    static double[][] channelMoments(INDArray x) {
        long n = x.size(0);
        long c = x.size(1);
        int voxels = (int) (x.length() / n / c);
        double[] xf = x.dup('c').data().asDouble();
        double[][] out = new double[2][(int) c];
        int m = (int) n * voxels;
        for (int k = 0; k < c; k++) {
            double s = 0;
            for (int e = 0; e < n; e++) {
                for (int v = 0; v < voxels; v++) {
                    s += xf[(int) ((e * c + k) * voxels + v)];
                }
            }
            double mean = s / m;
            double ss = 0;
            for (int e = 0; e < n; e++) {
                for (int v = 0; v < voxels; v++) {
                    double d = xf[(int) ((e * c + k) * voxels + v)] - mean;
                    ss += d * d;
                }
            }
            out[0][k] = mean;
            out[1][k] = ss / (m - 1);
        }
        return out;
    }

    private static final double[] GAMMA = {0.5, 1.5, -0.7};
    private static final double[] BETA = {0.1, -0.3, 0.8};

    private static void setAffine(Layer layer) {
        layer.setParam(SpatialNormalizationParamInitializer.GAMMA, Nd4j.createFromArray(GAMMA));
        layer.setParam(SpatialNormalizationParamInitializer.BETA, Nd4j.createFromArray(BETA));
    }

    @ParameterizedTest
    @EnumSource(Layout.class)
    void instanceNormMatchesReferenceInTrainingAndInference(Layout layout) {
        INDArray xCf = SegmentationGraphs.uniform(layout.channelsFirst().shape(C), -2, 3, 1);
        Layer layer = standalone(new InstanceNormalization.Builder().nIn(C).eps(1e-3)
                .dataFormat(layout.format2d()).build());
        setAffine(layer);
        double[] expected = reference(xCf, GAMMA, BETA, 1e-3, true, null, null);
        for (boolean training : new boolean[] {true, false}) {
            INDArray y = layer.activate(layout.fromChannelsFirst(xCf), training, NO_WS);
            assertArrayEquals(layout.fromChannelsFirst(xCf).shape(), y.shape());
            assertArrayEquals(expected, layout.toChannelsFirst(y).data().asDouble(), 1e-12);
        }
    }

    @Test
    void instanceNormWithoutAffineHasNoParametersAndStandardisesEachInstance() {
        Layer layer = standalone(new InstanceNormalization.Builder().nIn(C).affine(false).build());
        assertEquals(0, layer.numParams());
        INDArray x = SegmentationGraphs.uniform(Layout.NCDHW.shape(C), 3, 9, 2);
        INDArray y = layer.activate(x, true, NO_WS);
        double[] ones = {1, 1, 1};
        double[] zeros = {0, 0, 0};
        assertArrayEquals(reference(x, ones, zeros, 1e-5, true, null, null), y.data().asDouble(), 1e-12);
        assertTrue(y.mean(2, 3, 4).amaxNumber().doubleValue() < 1e-12, "zero mean per (n, c)");
    }

    @Test
    void builderActivationIsAppliedAndTheNetworkDefaultIsNot() {
        INDArray x = SegmentationGraphs.uniform(Layout.NCHW.shape(C), -2, 3, 20);
        double[] ones = {1, 1, 1};
        double[] zeros = {0, 0, 0};
        double[] normalised = reference(x, ones, zeros, 1e-5, true, null, null);

        Layer tanh = standalone(new InstanceNormalization.Builder().nIn(C).activation(Activation.TANH).build());
        double[] expected = normalised.clone();
        for (int i = 0; i < expected.length; i++) {
            expected[i] = Math.tanh(expected[i]);
        }
        assertArrayEquals(expected, tanh.activate(x, true, NO_WS).data().asDouble(), 1e-12);

        NeuralNetConfiguration withGlobalRelu = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE)
                .activation(Activation.RELU).layer(new InstanceNormalization.Builder().nIn(C).build()).build();
        Layer plain = withGlobalRelu.getLayer().instantiate(withGlobalRelu, Collections.emptyList(), 0,
                Nd4j.create(DataType.DOUBLE, 1, 2 * C), true, DataType.DOUBLE);
        assertArrayEquals(normalised, plain.activate(x, true, NO_WS).data().asDouble(), 1e-12,
                "negative outputs survive: the network-wide ReLU is not applied to the norm");
    }

    @ParameterizedTest
    @EnumSource(Layout.class)
    void batchNormTrainsOnBatchStatisticsAndInfersWithRunningEstimates(Layout layout) {
        INDArray xCf = SegmentationGraphs.uniform(layout.channelsFirst().shape(C), -2, 3, 3);
        Layer layer = standalone(new SpatialBatchNormalization.Builder().nIn(C).dataFormat(layout.format2d()).build());
        setAffine(layer);
        INDArray train = layer.activate(layout.fromChannelsFirst(xCf), true, NO_WS);
        assertArrayEquals(reference(xCf, GAMMA, BETA, 1e-5, false, null, null),
                layout.toChannelsFirst(train).data().asDouble(), 1e-12);

        double[] runMean = {0.2, -1.0, 0.5};
        double[] runVar = {2.0, 0.5, 1.5};
        layer.setParam(SpatialNormalizationParamInitializer.GLOBAL_MEAN, Nd4j.createFromArray(runMean));
        layer.setParam(SpatialNormalizationParamInitializer.GLOBAL_VAR, Nd4j.createFromArray(runVar));
        INDArray test = layer.activate(layout.fromChannelsFirst(xCf), false, NO_WS);
        assertArrayEquals(reference(xCf, GAMMA, BETA, 1e-5, false, runMean, runVar),
                layout.toChannelsFirst(test).data().asDouble(), 1e-12);
    }

    static Stream<Arguments> gradientCases() {
        List<Arguments> args = new ArrayList<>();
        for (Layout layout : Layout.values()) {
            args.add(Arguments.of(layout, new InstanceNormalization.Builder().nIn(C)
                    .dataFormat(layout.format2d()).build()));
            args.add(Arguments.of(layout, new InstanceNormalization.Builder().nIn(C).affine(false)
                    .dataFormat(layout.format2d()).build()));
            args.add(Arguments.of(layout, new SpatialBatchNormalization.Builder().nIn(C)
                    .dataFormat(layout.format2d()).build()));
            args.add(Arguments.of(layout, new InstanceNormalization.Builder().nIn(C).activation(Activation.TANH)
                    .dataFormat(layout.format2d()).build()));
            args.add(Arguments.of(layout, new SpatialBatchNormalization.Builder().nIn(C)
                    .activation(Activation.SIGMOID).dataFormat(layout.format2d()).build()));
        }
        return args.stream();
    }

    /**
     * Backprop of L = Σ w ⊙ y against central differences for every input element and every γ, β: the analytic
     * formula, checked directly on the layer in each layout.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("gradientCases")
    void backpropMatchesFiniteDifferences(Layout layout, AbstractSpatialNormalization conf) {
        Layer layer = standalone(conf);
        if (conf.isAffine()) {
            setAffine(layer);
        }
        INDArray x = layout.fromChannelsFirst(SegmentationGraphs.uniform(layout.channelsFirst().shape(C), -2, 2, 4));
        INDArray w = SegmentationGraphs.uniform(x.shape(), -1, 1, 5);
        layer.setInput(x, NO_WS);
        Pair<Gradient, INDArray> bp = layer.backpropGradient(w, NO_WS);
        INDArray dx = bp.getSecond();

        double h = 1e-6;
        INDArray xp = x.dup();
        for (long i = 0; i < x.length(); i++) {
            double v = x.getDouble(i);
            xp.putScalar(i, v + h);
            double plus = layer.activate(xp, true, NO_WS).mul(w).sumNumber().doubleValue();
            xp.putScalar(i, v - h);
            double minus = layer.activate(xp, true, NO_WS).mul(w).sumNumber().doubleValue();
            xp.putScalar(i, v);
            assertEquals((plus - minus) / (2 * h), dx.getDouble(i), 1e-7, "dL/dx[" + i + "]");
        }
        if (conf.isAffine()) {
            for (String key : new String[] {SpatialNormalizationParamInitializer.GAMMA,
                    SpatialNormalizationParamInitializer.BETA}) {
                INDArray p = layer.getParam(key);
                INDArray g = bp.getFirst().getGradientFor(key);
                for (long k = 0; k < C; k++) {
                    double v = p.getDouble(k);
                    p.putScalar(k, v + h);
                    double plus = layer.activate(x, true, NO_WS).mul(w).sumNumber().doubleValue();
                    p.putScalar(k, v - h);
                    double minus = layer.activate(x, true, NO_WS).mul(w).sumNumber().doubleValue();
                    p.putScalar(k, v);
                    assertEquals((plus - minus) / (2 * h), g.getDouble(k), 1e-7, "dL/d" + key + "[" + k + "]");
                }
            }
        }
    }

    /** in → batch norm → loss; the batch norm's input is the network input, so its statistics are known. */
    private static ComputationGraph batchNormNet(Layout layout) {
        ComputationGraph net = new ComputationGraph(new NeuralNetConfiguration.Builder()
                .dataType(DataType.DOUBLE).seed(1).updater(new Adam(1e-2))
                .graphBuilder().addInputs("in").setInputTypes(layout.inputType(C))
                .addLayer("bn", new SpatialBatchNormalization.Builder().decay(0.8).build(), "in")
                .addLayer("out", new SegmentationLossLayer.Builder(new LossMSE()).activation(Activation.IDENTITY)
                        .build(), "bn")
                .setOutputs("out").build());
        net.init();
        return net;
    }

    @ParameterizedTest
    @EnumSource(value = Layout.class, names = {"NHWC", "NCDHW"})
    void runningEstimatesMoveOncePerFitAsDocumented(Layout layout) {
        ComputationGraph net = batchNormNet(layout);
        Layer bn = net.getLayer("bn");
        Layout cf = layout.channelsFirst();
        INDArray x1 = SegmentationGraphs.uniform(cf.shape(C), -1, 3, 6);
        INDArray x2 = SegmentationGraphs.uniform(cf.shape(C), -4, 1, 7);
        INDArray y = SegmentationGraphs.uniform(cf.shape(C), -1, 1, 8);

        net.output(true, layout.fromChannelsFirst(x1));
        assertEquals(Nd4j.zeros(DataType.DOUBLE, C), bn.getParam("mean"), "a training-mode forward changes nothing");
        assertEquals(Nd4j.ones(DataType.DOUBLE, C), bn.getParam("var"));

        double[][] m1 = channelMoments(x1);
        double[][] m2 = channelMoments(x2);
        net.fit(new INDArray[] {layout.fromChannelsFirst(x1)}, new INDArray[] {layout.fromChannelsFirst(y)});
        net.fit(new INDArray[] {layout.fromChannelsFirst(x2)}, new INDArray[] {layout.fromChannelsFirst(y)});
        double[] expMean = new double[(int) C];
        double[] expVar = new double[(int) C];
        for (int k = 0; k < C; k++) {
            double mean1 = 0.8 * 0 + 0.2 * m1[0][k];
            double var1 = 0.8 * 1 + 0.2 * m1[1][k];
            expMean[k] = 0.8 * mean1 + 0.2 * m2[0][k];
            expVar[k] = 0.8 * var1 + 0.2 * m2[1][k];
        }
        assertArrayEquals(expMean, bn.getParam("mean").data().asDouble(), 1e-12);
        assertArrayEquals(expVar, bn.getParam("var").data().asDouble(), 1e-12);

        INDArray out = net.outputSingle(false, layout.fromChannelsFirst(x1));
        double[] gamma = bn.getParam("gamma").data().asDouble();
        double[] beta = bn.getParam("beta").data().asDouble();
        assertArrayEquals(reference(x1, gamma, beta, 1e-5, false, expMean, expVar),
                layout.toChannelsFirst(out).data().asDouble(), 1e-12, "inference uses the running estimates");
        assertNotEquals(1.0, gamma[0], "gamma trained");
    }

    /** DL4J M2.1's BatchNormalization accepts a 3D input type but fails at run time (BatchNormalization.java:644). */
    @Test
    void stockBatchNormalizationFailsOnRank5() {
        ComputationGraph stock = new ComputationGraph(new NeuralNetConfiguration.Builder()
                .dataType(DataType.DOUBLE).graphBuilder().addInputs("in")
                .setInputTypes(Layout.NCDHW.inputType(C))
                .addLayer("bn", new BatchNormalization.Builder().build(), "in")
                .addLayer("out", new SegmentationLossLayer.Builder(new LossMSE()).build(), "bn")
                .setOutputs("out").build());
        stock.init();
        INDArray x = SegmentationGraphs.uniform(Layout.NCDHW.shape(C), -1, 1, 9);
        assertThrows(RuntimeException.class, () -> stock.output(true, x));
        ComputationGraph ours = batchNormNet(Layout.NCDHW);
        assertArrayEquals(x.shape(), ours.outputSingle(true, x).shape());
    }

    @Test
    void badInputAndConfigurationGetClearErrors() {
        Layer layer = standalone(new InstanceNormalization.Builder().nIn(C).build());
        IllegalArgumentException channels = assertThrows(IllegalArgumentException.class,
                () -> layer.activate(Nd4j.rand(DataType.DOUBLE, 2, 4, 3, 3), false, NO_WS));
        assertTrue(channels.getMessage().contains("expected 3 channels")
                && channels.getMessage().contains("[2, 4, 3, 3]"),
                channels.getMessage());
        IllegalArgumentException rank = assertThrows(IllegalArgumentException.class,
                () -> layer.activate(Nd4j.rand(DataType.DOUBLE, 2, 3, 5), false, NO_WS));
        assertTrue(rank.getMessage().contains("rank 3") && rank.getMessage().contains("InstanceNormalization"),
                rank.getMessage());

        Layer bn = standalone(new SpatialBatchNormalization.Builder().nIn(C).build());
        IllegalArgumentException ndhwc = assertThrows(IllegalArgumentException.class,
                () -> bn.activate(Nd4j.rand(DataType.DOUBLE, 2, 2, 3, 4, C), true, NO_WS));
        assertTrue(ndhwc.getMessage().contains("SpatialBatchNormalization") && ndhwc.getMessage().contains("NCDHW")
                && ndhwc.getMessage().contains("[2, 2, 3, 4, 3]"), ndhwc.getMessage());

        IllegalArgumentException ff = assertThrows(IllegalArgumentException.class,
                () -> new InstanceNormalization.Builder().build().getOutputType(0, InputType.feedForward(3)));
        assertTrue(ff.getMessage().contains("CNN3D"), ff.getMessage());

        assertThrows(IllegalArgumentException.class, () -> new InstanceNormalization.Builder().eps(0));
        assertThrows(IllegalArgumentException.class, () -> new SpatialBatchNormalization.Builder().decay(1.0));
        assertThrows(IllegalArgumentException.class,
                () -> new InstanceNormalization.Builder().nIn(3).nOut(4).build());
        IllegalArgumentException unknown = assertThrows(IllegalArgumentException.class,
                () -> standalone(new InstanceNormalization.Builder().build()));
        assertTrue(unknown.getMessage().contains("channel count unknown"), unknown.getMessage());
    }

    @Test
    void memoryReportCountsParametersAndUpdaterState() {
        SpatialBatchNormalization bn = new SpatialBatchNormalization.Builder().nIn(4).build();
        bn.setIUpdater(new Adam());
        InputType in = InputType.convolutional3D(Convolution3D.DataFormat.NCDHW, 2, 3, 3, 4);
        LayerMemoryReport report = bn.getMemoryReport(in);
        assertEquals(16, report.getParameterSize(), "gamma, beta, mean, var x 4 channels");
        assertEquals(16, report.getUpdaterStateSize(), "Adam keeps 2 values per gamma/beta; running stats use NoOp");
        assertEquals(in, report.getOutputType());
        assertTrue(report.getTotalMemoryBytes(2, MemoryUseMode.TRAINING, CacheMode.NONE, DataType.DOUBLE)
                > report.getTotalMemoryBytes(2, MemoryUseMode.INFERENCE, CacheMode.NONE, DataType.DOUBLE));

        InstanceNormalization plain = new InstanceNormalization.Builder().nIn(4).affine(false).build();
        plain.setIUpdater(new Adam());
        assertEquals(0, plain.getMemoryReport(in).getParameterSize());
        assertEquals(0, plain.getMemoryReport(in).getUpdaterStateSize());
    }

    @Test
    void equalityCoversEveryField() {
        SpatialBatchNormalization base = new SpatialBatchNormalization.Builder().nIn(4).build();
        assertEquals(base, new SpatialBatchNormalization.Builder().nIn(4).build());
        assertEquals(base.hashCode(), new SpatialBatchNormalization.Builder().nIn(4).build().hashCode());
        assertNotEquals(base, new SpatialBatchNormalization.Builder().nIn(4).decay(0.5).build());
        assertNotEquals(base, new SpatialBatchNormalization.Builder().nIn(4).eps(1e-3).build());
        assertNotEquals(base, new SpatialBatchNormalization.Builder().nIn(4).affine(false).build());
        assertNotEquals(base, new SpatialBatchNormalization.Builder().nIn(4).dataFormat(CNN2DFormat.NHWC).build());
        assertNotEquals(base, new SpatialBatchNormalization.Builder().nIn(5).build());
        assertNotEquals(new InstanceNormalization.Builder().nIn(4).build(), base);
        assertNotEquals(base, new InstanceNormalization.Builder().nIn(4).build());
        assertTrue(base.toString().contains("decay=0.9"), base.toString());
    }
}
