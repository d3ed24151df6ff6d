package org.gradsurgery.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Collections;

import org.deeplearning4j.nn.api.layers.IOutputLayer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.Cnn3DLossLayer;
import org.deeplearning4j.nn.conf.layers.CnnLossLayer;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.gradsurgery.layers.SegmentationGraphs.Layout;
import org.gradsurgery.loss.GradientSurgery;
import org.gradsurgery.loss.LossDice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;

/**
 * {@link SegmentationLossLayer} against plain-Java reference computations, in NCHW, NHWC and NCDHW, and against
 * DL4J's stock loss layers (whose NHWC score and 3D per-example scores are wrong or fail).
 */
@ExtendWith(DoublePrecisionTinyArrays.class)
class SegmentationLossLayerTest {

    private static final long C = 3;

    /** The layer alone (it has no parameters), instantiated as a network would. */
    static IOutputLayer standalone(Layer layerConf) {
        NeuralNetConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).layer(layerConf)
                .build();
        return (IOutputLayer) conf.getLayer().instantiate(conf, Collections.emptyList(), 0, null, true,
                DataType.DOUBLE);
    }

    static SegmentationLossLayer ours(Layout layout, ILossFunction loss) {
        return new SegmentationLossLayer.Builder().lossFunction(loss).activation(Activation.SOFTMAX)
                .dataFormat(layout.format2d()).build();
    }

    /**
     * Plain-Java per-example softmax cross-entropy over channels-first arrays:
     * {@code s_n = Σ_voxels m · (−Σ_c y log softmax(z)_c)}; {@code mask} is {@code [N,1,sp…]} or null.
     */
    static double[] referenceMcxent(INDArray z, INDArray y, INDArray mask) {
        long n = z.size(0);
        long c = z.size(1);
        long voxels = z.length() / n / c;
        double[] zf = z.dup('c').data().asDouble();
        double[] yf = y.dup('c').data().asDouble();
        double[] mf = mask == null ? null : mask.dup('c').data().asDouble();
        double[] out = new double[(int) n];
        for (int e = 0; e < n; e++) {
            for (int v = 0; v < voxels; v++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int k = 0; k < c; k++) {
                    max = Math.max(max, zf[(int) ((e * c + k) * voxels + v)]);
                }
                double sum = 0;
                for (int k = 0; k < c; k++) {
                    sum += Math.exp(zf[(int) ((e * c + k) * voxels + v)] - max);
                }
                double ce = 0;
                for (int k = 0; k < c; k++) {
                    int i = (int) ((e * c + k) * voxels + v);
                    ce -= yf[i] * (zf[i] - max - Math.log(sum));
                }
                out[e] += (mf == null ? 1 : mf[(int) (e * voxels + v)]) * ce;
            }
        }
        return out;
    }

    private static double sum(double[] v) {
        double s = 0;
        for (double x : v) {
            s += x;
        }
        return s;
    }

    private static final LayerWorkspaceMgr NO_WS = LayerWorkspaceMgr.noWorkspaces();

    private static void set(IOutputLayer layer, INDArray z, INDArray y, INDArray mask) {
        layer.setInput(z, NO_WS);
        layer.setLabels(y);
        layer.setMaskArray(mask);
    }

    @ParameterizedTest
    @EnumSource(Layout.class)
    void scoreAndPerExampleScoresMatchReferenceInEveryLayout(Layout layout) {
        Layout cf = layout.channelsFirst();
        INDArray z = SegmentationGraphs.uniform(cf.shape(C), -2, 2, 1);
        INDArray y = SegmentationGraphs.oneHot(cf, C, 2);
        INDArray mask = SegmentationGraphs.binary(cf.shape(1), 0.6, 3);
        double[] expected = referenceMcxent(z, y, mask);

        IOutputLayer layer = standalone(ours(layout, new LossMCXENT()));
        set(layer, layout.fromChannelsFirst(z), layout.fromChannelsFirst(y), layout.fromChannelsFirst(mask));
        assertEquals(sum(expected) / z.size(0), layer.computeScore(0.0, true, NO_WS), 1e-10);
        assertEquals(sum(expected) / z.size(0) + 0.25, layer.computeScore(0.25, true, NO_WS), 1e-10,
                "regularisation term is added once");
        INDArray perExample = layer.computeScoreForExamples(0.0, NO_WS);
        assertArrayEquals(new long[] {z.size(0), 1}, perExample.shape());
        assertArrayEquals(expected, perExample.data().asDouble(), 1e-10);
        assertTrue(expected[0] != expected[1], "examples differ, so a mix-up would show");
    }

    /**
     * The score that {@code backpropGradient} computes with the gradient and hands to the {@code computeScore} that
     * follows (DL4J's fit order) is the score of a fresh {@code computeScore}, exactly, for a region loss (one
     * evaluation for both), the surgery and a row-wise loss, with and without a mask; and a new input or new labels
     * are scored anew, not from the stale value.
     */
    @ParameterizedTest
    @EnumSource(Layout.class)
    void scoreAfterBackpropEqualsAFreshScore(Layout layout) {
        Layout cf = layout.channelsFirst();
        INDArray z = layout.fromChannelsFirst(SegmentationGraphs.uniform(cf.shape(C), -2, 2, 1));
        INDArray y = layout.fromChannelsFirst(SegmentationGraphs.oneHot(cf, C, 2));
        INDArray mask = layout.fromChannelsFirst(SegmentationGraphs.binary(cf.shape(1), 0.6, 3));
        for (ILossFunction loss : new ILossFunction[] {new LossDice(), GradientSurgery.wrap(new LossDice()),
                new LossMCXENT()}) {
            for (INDArray m : new INDArray[] {null, mask}) {
                IOutputLayer fresh = standalone(ours(layout, loss));
                set(fresh, z, y, m);
                double expected = fresh.computeScore(0.1, true, NO_WS);

                IOutputLayer layer = standalone(ours(layout, loss));
                set(layer, z, y, m);
                layer.backpropGradient(null, NO_WS);
                layer.setMaskArray(m);                         // as ComputationGraph does before scoring
                assertEquals(expected, layer.computeScore(0.1, true, NO_WS), 0.0, loss + " mask " + (m != null));
                assertEquals(expected, layer.computeScore(0.1, true, NO_WS), 0.0, "again, without a backprop");

                layer.backpropGradient(null, NO_WS);
                INDArray y2 = layout.fromChannelsFirst(SegmentationGraphs.oneHot(cf, C, 7));
                layer.setLabels(y2);
                set(fresh, z, y2, m);
                assertEquals(fresh.computeScore(0.1, true, NO_WS), layer.computeScore(0.1, true, NO_WS), 0.0,
                        "new labels are scored");
                layer.backpropGradient(null, NO_WS);
                INDArray z2 = z.mul(0.5);
                layer.setInput(z2, NO_WS);
                set(fresh, z2, y2, m);
                double rescored = fresh.computeScore(0.1, true, NO_WS);
                assertEquals(rescored, layer.computeScore(0.1, true, NO_WS), 0.0, "a new input is scored");
                assertTrue(rescored != expected);
            }
        }
    }

    /** Per-example scores through a whole graph (with DL4J's workspaces) against the graph's own probabilities. */
    @ParameterizedTest
    @EnumSource(Layout.class)
    void graphScoreExamplesAgreeWithItsOutputs(Layout layout) {
        ComputationGraph net = SegmentationGraphs.graph(layout, SegmentationGraphs.Norm.BATCH,
                ours(layout, new LossMCXENT()), C);
        INDArray x = SegmentationGraphs.uniform(layout.shape(SegmentationGraphs.IN_CHANNELS), -1, 1, 25);
        INDArray y = SegmentationGraphs.oneHot(layout, C, 26);
        INDArray p = net.outputSingle(false, x);
        INDArray perExample = net.scoreExamples(new DataSet(x, y), false);
        int[] nonBatch = new int[layout.rank - 1];
        for (int i = 0; i < nonBatch.length; i++) {
            nonBatch[i] = i + 1;
        }
        INDArray expected = Nd4j.math().log(p).muli(y).negi().sum(nonBatch).reshape(x.size(0), 1);
        assertTrue(expected.equalsWithEps(perExample, 1e-10), expected + " vs " + perExample);
        assertEquals(expected.sumNumber().doubleValue() / x.size(0), net.score(new DataSet(x, y), false), 1e-10);
    }

    @Test
    void stockCnnLossLayerScoresNhwcWrongWhileOursIsRight() {
        INDArray z = SegmentationGraphs.uniform(Layout.NCHW.shape(C), -2, 2, 4);
        INDArray y = SegmentationGraphs.oneHot(Layout.NCHW, C, 5);
        double expected = sum(referenceMcxent(z, y, null)) / z.size(0);

        IOutputLayer stockNchw = standalone(new CnnLossLayer.Builder(new LossMCXENT()).activation(Activation.SOFTMAX)
                .format(CNN2DFormat.NCHW).build());
        set(stockNchw, z, y, null);
        IOutputLayer stockNhwc = standalone(new CnnLossLayer.Builder(new LossMCXENT()).activation(Activation.SOFTMAX)
                .format(CNN2DFormat.NHWC).build());
        set(stockNhwc, Layout.NHWC.fromChannelsFirst(z), Layout.NHWC.fromChannelsFirst(y), null);
        IOutputLayer oursNhwc = standalone(ours(Layout.NHWC, new LossMCXENT()));
        set(oursNhwc, Layout.NHWC.fromChannelsFirst(z), Layout.NHWC.fromChannelsFirst(y), null);

        assertEquals(expected, stockNchw.computeScore(0, true, NO_WS), 1e-10, "stock NCHW is right");
        double stockNhwcScore = stockNhwc.computeScore(0, true, NO_WS);
        assertTrue(Math.abs(stockNhwcScore - expected) > 1e-3,
                "DL4J M2.1 CnnLossLayer scores NHWC with an NCHW reshape: " + stockNhwcScore + " vs " + expected);
        assertEquals(expected, oursNhwc.computeScore(0, true, NO_WS), 1e-10);
    }

    @Test
    void stockCnn3DLossLayerCannotScoreExamplesWithSeveralClassesWhileOursCan() {
        INDArray z = SegmentationGraphs.uniform(Layout.NCDHW.shape(C), -2, 2, 6);
        INDArray y = SegmentationGraphs.oneHot(Layout.NCDHW, C, 7);
        IOutputLayer stock = standalone(new Cnn3DLossLayer.Builder(Convolution3D.DataFormat.NCDHW)
                .lossFunction(new LossMCXENT()).activation(Activation.SOFTMAX).build());
        set(stock, z, y, null);
        assertThrows(RuntimeException.class, () -> stock.computeScoreForExamples(0, NO_WS));

        IOutputLayer layer = standalone(ours(Layout.NCDHW, new LossMCXENT()));
        set(layer, z, y, null);
        assertArrayEquals(referenceMcxent(z, y, null), layer.computeScoreForExamples(0, NO_WS).data().asDouble(),
                1e-10);
    }

    /** Gradient and activations in NHWC are the NCHW ones permuted: the layer works in the data's own layout. */
    @Test
    void nhwcGradientAndActivationsArePermutedNchwOnes() {
        for (ILossFunction loss : new ILossFunction[] {new LossMCXENT(), new GroupErrorLoss()}) {
            INDArray z = SegmentationGraphs.uniform(Layout.NCHW.shape(C), -2, 2, 8);
            INDArray y = SegmentationGraphs.oneHot(Layout.NCHW, C, 9);
            IOutputLayer nchw = standalone(ours(Layout.NCHW, loss));
            set(nchw, z, y, null);
            IOutputLayer nhwc = standalone(ours(Layout.NHWC, loss));
            set(nhwc, Layout.NHWC.fromChannelsFirst(z), Layout.NHWC.fromChannelsFirst(y), null);

            INDArray gNchw = nchw.backpropGradient(null, NO_WS).getSecond();
            INDArray gNhwc = nhwc.backpropGradient(null, NO_WS).getSecond();
            assertArrayEquals(Layout.NHWC.shape(C), gNhwc.shape());
            assertTrue(gNchw.amaxNumber().doubleValue() > 1e-3, "non-trivial gradient");
            assertEquals(gNchw.permute(0, 2, 3, 1), gNhwc, loss.name());

            INDArray aNhwc = nhwc.activate(false, NO_WS);
            assertEquals(nchw.activate(false, NO_WS).permute(0, 2, 3, 1), aNhwc, loss.name());
            INDArray ones = Nd4j.ones(DataType.DOUBLE, Layout.NHWC.shape(1)).reshape(2, 4, 4);
            assertTrue(ones.equalsWithEps(aNhwc.sum(3), 1e-12), "softmax over the channel axis");
        }
    }

    /**
     * A spatial loss gets whole channels-first tensors: its per-example value (groups per example and class) equals
     * a plain-Java evaluation of its formula in every layout.
     */
    @ParameterizedTest
    @EnumSource(Layout.class)
    void spatialLossSeesWholeExamples(Layout layout) {
        Layout cf = layout.channelsFirst();
        INDArray z = SegmentationGraphs.uniform(cf.shape(C), -2, 2, 10);
        INDArray y = SegmentationGraphs.oneHot(cf, C, 11);
        INDArray mask = SegmentationGraphs.binary(cf.shape(1), 0.6, 12);
        IOutputLayer layer = standalone(ours(layout, new GroupErrorLoss()));
        set(layer, layout.fromChannelsFirst(z), layout.fromChannelsFirst(y), layout.fromChannelsFirst(mask));

        // L_n = (1/S) Σ_c (Σ_s m·(softmax(z)_c − y_c))²
        long n = z.size(0);
        long voxels = z.length() / n / C;
        double[] zf = z.dup('c').data().asDouble();
        double[] yf = y.dup('c').data().asDouble();
        double[] mf = mask.dup('c').data().asDouble();
        double[] expected = new double[(int) n];
        for (int e = 0; e < n; e++) {
            double[] err = new double[(int) C];
            for (int v = 0; v < voxels; v++) {
                double norm = 0;
                for (int k = 0; k < C; k++) {
                    norm += Math.exp(zf[(int) ((e * C + k) * voxels + v)]);
                }
                for (int k = 0; k < C; k++) {
                    int i = (int) ((e * C + k) * voxels + v);
                    err[k] += mf[(int) (e * voxels + v)] * (Math.exp(zf[i]) / norm - yf[i]);
                }
            }
            for (double d : err) {
                expected[e] += d * d / voxels;
            }
        }
        assertArrayEquals(expected, layer.computeScoreForExamples(0, NO_WS).data().asDouble(), 1e-10);
        assertEquals(sum(expected) / n, layer.computeScore(0, true, NO_WS), 1e-10);
    }

    /**
     * Per-sample Dice through the layer equals Dice of each example scored alone; DL4J's stock layer hides N from
     * the loss, so the same loss there forms batch groups and gives a different value.
     */
    @ParameterizedTest
    @EnumSource(value = Layout.class, names = {"NHWC", "NCDHW"})
    void regionLossGetsOneGroupPerExample(Layout layout) {
        Layout cf = layout.channelsFirst();
        INDArray z = SegmentationGraphs.uniform(cf.shape(C), -2, 2, 20);
        INDArray y = SegmentationGraphs.oneHot(cf, C, 21);
        IOutputLayer layer = standalone(ours(layout, new LossDice()));
        set(layer, layout.fromChannelsFirst(z), layout.fromChannelsFirst(y), null);

        double[] alone = new double[(int) z.size(0)];
        for (int n = 0; n < alone.length; n++) {
            INDArrayIndex[] example = new INDArrayIndex[z.rank()];
            Arrays.fill(example, NDArrayIndex.all());
            example[0] = NDArrayIndex.interval(n, n + 1);
            alone[n] = new LossDice().computeScore(y.get(example).dup(), z.get(example).dup(),
                    Activation.SOFTMAX.getActivationFunction(), null, true);
        }
        assertArrayEquals(alone, layer.computeScoreForExamples(0, NO_WS).data().asDouble(), 1e-12);
        double perSample = layer.computeScore(0, true, NO_WS);
        assertEquals(sum(alone) / alone.length, perSample, 1e-12);

        IOutputLayer stock = standalone(layout.stockLossLayer(new LossDice(), Activation.SOFTMAX));
        set(stock, layout.fromChannelsFirst(z), layout.fromChannelsFirst(y), null);
        if (layout.rank == 5) {
            assertTrue(Math.abs(stock.computeScore(0, true, NO_WS) - perSample) > 1e-4,
                    "the stock layer's rank-2 call gives batch groups, not per-sample Dice");
        }
    }

    /** The surgery's field (not a gradient) arrives as the layer's epsilon, permuted back to NHWC. */
    @Test
    void surgeryFieldPassesThroughInTheInputLayout() {
        INDArray z = SegmentationGraphs.uniform(Layout.NCHW.shape(C), -2, 2, 22);
        INDArray y = SegmentationGraphs.oneHot(Layout.NCHW, C, 23);
        INDArray mask = SegmentationGraphs.binary(Layout.NCHW.shape(1), 0.7, 24);
        GradientSurgery surgery = GradientSurgery.wrap(new LossDice());
        INDArray field = surgery.computeGradient(y, z.dup(), Activation.SOFTMAX.getActivationFunction(), mask);

        IOutputLayer layer = standalone(ours(Layout.NHWC, surgery));
        set(layer, Layout.NHWC.fromChannelsFirst(z), Layout.NHWC.fromChannelsFirst(y),
                Layout.NHWC.fromChannelsFirst(mask));
        INDArray eps = layer.backpropGradient(null, NO_WS).getSecond();
        assertEquals(Layout.NHWC.fromChannelsFirst(field), eps);
        assertTrue(field.amaxNumber().doubleValue() > 1e-4);
    }

    @Test
    void perExampleMaskEqualsItsSpatialBroadcastAndMasksMatter() {
        INDArray z = SegmentationGraphs.uniform(Layout.NCHW.shape(C), -2, 2, 13);
        INDArray y = SegmentationGraphs.oneHot(Layout.NCHW, C, 14);
        IOutputLayer layer = standalone(ours(Layout.NHWC, new LossMCXENT()));
        INDArray zl = Layout.NHWC.fromChannelsFirst(z);
        INDArray yl = Layout.NHWC.fromChannelsFirst(y);

        set(layer, zl, yl, Nd4j.createFromArray(new double[][] {{0}, {1}}));
        INDArray perExample = layer.computeScoreForExamples(0, NO_WS);
        double[] unmasked = referenceMcxent(z, y, null);
        assertEquals(0.0, perExample.getDouble(0), 0.0);
        assertEquals(unmasked[1], perExample.getDouble(1), 1e-10);

        INDArray spatialMask = SegmentationGraphs.binary(Layout.NCHW.shape(1), 0.5, 15);
        set(layer, zl, yl, Layout.NHWC.fromChannelsFirst(spatialMask));
        double masked = layer.computeScore(0, true, NO_WS);
        assertEquals(sum(referenceMcxent(z, y, spatialMask)) / 2, masked, 1e-10);
        assertTrue(Math.abs(masked - sum(unmasked) / 2) > 1e-3, "the mask changes the score");
    }

    @Test
    void multiLayerNetworkUsesTheLayerAsOutputLayer() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .dataType(DataType.DOUBLE).seed(3).updater(new Sgd(0.1))
                .list()
                .layer(new ConvolutionLayer.Builder(3, 3).nOut(C).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.IDENTITY).build())
                .layer(new SegmentationLossLayer.Builder().lossFunction(LossFunctions.LossFunction.MCXENT)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(4, 4, 2))
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        INDArray x = SegmentationGraphs.uniform(Layout.NCHW.shape(2), -1, 1, 16);
        INDArray y = SegmentationGraphs.oneHot(Layout.NCHW, C, 17);
        DataSet ds = new DataSet(x, y);
        double before = net.score(ds);
        INDArray p = net.output(x);
        // the score is the mean over examples of −Σ y log p, computed here from the network's own probabilities
        double expected = -Nd4j.math().log(p).muli(y).sumNumber().doubleValue() / x.size(0);
        assertEquals(expected, before, 1e-10);
        for (int i = 0; i < 5; i++) {
            net.fit(ds);
        }
        assertTrue(net.score(ds) < before, "training through the layer lowers the loss");
    }

    @Test
    void badInputGetsClearErrors() {
        IOutputLayer layer = standalone(ours(Layout.NCHW, new LossMCXENT()));
        INDArray z3 = Nd4j.rand(DataType.DOUBLE, 2, 3, 4);
        set(layer, z3, z3, null);
        IllegalArgumentException rank = assertThrows(IllegalArgumentException.class,
                () -> layer.computeScore(0, true, NO_WS));
        assertTrue(rank.getMessage().contains("rank 3") && rank.getMessage().contains("SegmentationLossLayer"),
                rank.getMessage());

        INDArray z = SegmentationGraphs.uniform(Layout.NCHW.shape(C), -2, 2, 18);
        set(layer, z, Nd4j.zeros(DataType.DOUBLE, 2, 2, 4, 4), null);
        IllegalArgumentException labels = assertThrows(IllegalArgumentException.class,
                () -> layer.backpropGradient(null, NO_WS));
        assertTrue(labels.getMessage().contains("[2, 2, 4, 4]") && labels.getMessage().contains("[2, 3, 4, 4]"),
                labels.getMessage());

        set(layer, z, SegmentationGraphs.oneHot(Layout.NCHW, C, 19), Nd4j.ones(DataType.DOUBLE, 2, 2, 4, 4));
        IllegalArgumentException mask = assertThrows(IllegalArgumentException.class,
                () -> layer.computeScore(0, true, NO_WS));
        assertTrue(mask.getMessage().contains("mask shape [2, 2, 4, 4]"), mask.getMessage());

        // rank 5 must be NCDHW: NDHWC data shows as the wrong channel count on axis 1 (DL4J's 3D format labels
        // cannot be trusted at configuration time, see SpatialLayout.channelsOf)
        ComputationGraph graph3d = new ComputationGraph(new NeuralNetConfiguration.Builder()
                .dataType(DataType.DOUBLE).graphBuilder().addInputs("in")
                .setInputTypes(InputType.convolutional3D(Convolution3D.DataFormat.NDHWC, 2, 3, 3, C))
                .addLayer("out", new SegmentationLossLayer.Builder(new LossMCXENT()).build(), "in")
                .setOutputs("out").build());
        graph3d.init();
        IllegalArgumentException ndhwc = assertThrows(IllegalArgumentException.class,
                () -> graph3d.outputSingle(Nd4j.rand(DataType.DOUBLE, 2, 2, 3, 3, C)));
        assertTrue(ndhwc.getMessage().contains("expected 3 channels on axis 1")
                && ndhwc.getMessage().contains("NCDHW") && ndhwc.getMessage().contains("NDHWC"), ndhwc.getMessage());

        assertThrows(UnsupportedOperationException.class, () -> new SegmentationLossLayer.Builder().nOut(3));
        IllegalArgumentException noLoss = assertThrows(IllegalArgumentException.class,
                () -> standalone(new SegmentationLossLayer.Builder().build()));
        assertTrue(noLoss.getMessage().contains("no loss function"), noLoss.getMessage());
    }
}
