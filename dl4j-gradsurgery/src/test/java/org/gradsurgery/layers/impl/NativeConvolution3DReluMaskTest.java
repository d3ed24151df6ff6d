package org.gradsurgery.layers.impl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Collections;
import java.util.function.BiConsumer;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.WorkspaceMode;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.gradsurgery.layers.NativeConvolution3D;
import org.gradsurgery.layers.SegmentationLossLayer;
import org.gradsurgery.loss.LossDice;
import org.junit.jupiter.api.Test;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

/**
 * {@link org.gradsurgery.layers.impl.NativeConvolution3D} with a ReLU takes the backward mask from its forward
 * output instead of computing the convolution again: the same gradients to the bit as the recomputing path, used in
 * a training step with workspaces, and never when the output may belong to another input.
 */
class NativeConvolution3DReluMaskTest {

    private static final LayerWorkspaceMgr NO_WS = LayerWorkspaceMgr.noWorkspaces();

    private static Layer layer(Activation activation) {
        NeuralNetConfiguration nnc = new NeuralNetConfiguration.Builder().dataType(DataType.FLOAT).layer(
                new NativeConvolution3D.Builder(3, 3, 3).nIn(2).nOut(3).convolutionMode(ConvolutionMode.Same)
                        .activation(activation).build()).build();
        long n = nnc.getLayer().initializer().numParams(nnc);
        Nd4j.getRandom().setSeed(7);
        Layer l = nnc.getLayer().instantiate(nnc, Collections.emptyList(), 0,
                Nd4j.rand(DataType.FLOAT, 1, n).subi(0.5), true, DataType.FLOAT);
        l.setBackpropGradientsViewArray(Nd4j.create(DataType.FLOAT, 1, n));
        return l;
    }

    private static INDArray[] inputs() {
        Nd4j.getRandom().setSeed(5);
        return new INDArray[] {Nd4j.randn(DataType.FLOAT, 2, 2, 5, 4, 6),
            Nd4j.randn(DataType.FLOAT, 2, 2, 5, 4, 6).muli(3).subi(1)};
    }

    /** Backprop of {@code x} with z recomputed: the input set without a training forward pass. */
    private static Pair<Gradient, INDArray> recomputed(INDArray x, INDArray eps) {
        Layer l = layer(Activation.RELU);
        l.setInput(x.dup(), NO_WS);
        Pair<Gradient, INDArray> r = l.backpropGradient(eps.dup(), NO_WS);
        assertEquals(0, ((org.gradsurgery.layers.impl.NativeConvolution3D) l).forwardOutputUses);
        return r;
    }

    private static void assertSame(Pair<Gradient, INDArray> expected, Pair<Gradient, INDArray> actual, String what) {
        assertArrayEquals(expected.getSecond().data().asFloat(), actual.getSecond().data().asFloat(), 0f,
                what + ": dL/dx");
        for (String key : expected.getFirst().gradientForVariable().keySet()) {
            assertArrayEquals(expected.getFirst().getGradientFor(key).data().asFloat(),
                    actual.getFirst().getGradientFor(key).data().asFloat(), 0f, what + ": " + key);
        }
    }

    @Test
    void theMaskFromTheForwardOutputGivesTheRecomputedGradientsToTheBit() {
        INDArray x = inputs()[0];
        INDArray eps = Nd4j.randn(DataType.FLOAT, 2, 3, 5, 4, 6);
        Layer l = layer(Activation.RELU);
        INDArray out = l.activate(x.dup(), true, NO_WS);
        INDArray outBefore = out.dup();
        Pair<Gradient, INDArray> fromOutput = l.backpropGradient(eps.dup(), NO_WS);
        assertEquals(1, ((org.gradsurgery.layers.impl.NativeConvolution3D) l).forwardOutputUses);
        assertSame(recomputed(x, eps), fromOutput, "from the forward output");
        assertTrue(out.equals(outBefore), "the forward output is not changed");
    }

    @Test
    void otherActivationsAndInferenceRecompute() {
        INDArray x = inputs()[0];
        INDArray eps = Nd4j.randn(DataType.FLOAT, 2, 3, 5, 4, 6);
        for (Activation a : new Activation[] {Activation.RELU6, Activation.LEAKYRELU, Activation.TANH}) {
            Layer l = layer(a);
            l.activate(x.dup(), true, NO_WS);
            l.backpropGradient(eps.dup(), NO_WS);
            assertEquals(0, ((org.gradsurgery.layers.impl.NativeConvolution3D) l).forwardOutputUses, a.toString());
        }
        Layer l = layer(Activation.RELU);
        l.activate(x.dup(), false, NO_WS);
        l.backpropGradient(eps.dup(), NO_WS);
        assertEquals(0, ((org.gradsurgery.layers.impl.NativeConvolution3D) l).forwardOutputUses, "inference");
    }

    @Test
    void aStaleForwardOutputIsNeverUsed() {
        INDArray[] x = inputs();
        INDArray eps = Nd4j.randn(DataType.FLOAT, 2, 3, 5, 4, 6);
        Pair<Gradient, INDArray> second = recomputed(x[1], eps);
        // The check can fail: the first input's mask gives other gradients.
        Pair<Gradient, INDArray> first = recomputed(x[0], eps);
        assertTrue(first.getSecond().sub(second.getSecond()).amaxNumber().doubleValue() > 1e-2);

        assertBackpropOnSecondInput("after a second training pass", x, eps, second, 1,
                (l, in) -> l.activate(x[1].dup(), true, NO_WS));
        assertBackpropOnSecondInput("after an inference pass", x, eps, second, 0,
                (l, in) -> l.activate(x[1].dup(), false, NO_WS));
        assertBackpropOnSecondInput("after setInput", x, eps, second, 0, (l, in) -> l.setInput(x[1].dup(), NO_WS));
        assertBackpropOnSecondInput("after the iteration count moved", x, eps, second, 0, (l, in) -> {
            in.assign(x[1]);
            l.setIterationCount(l.getIterationCount() + 1);
        });
        assertBackpropOnSecondInput("after clear", x, eps, second, 0, (l, in) -> {
            l.clear();
            l.setInput(in.assign(x[1]), NO_WS);
        });
    }

    private static void assertBackpropOnSecondInput(String what, INDArray[] x, INDArray eps,
                                                    Pair<Gradient, INDArray> expected, int uses,
                                                    BiConsumer<Layer, INDArray> between) {
        Layer l = layer(Activation.RELU);
        INDArray in = x[0].dup();
        l.activate(in, true, NO_WS);
        between.accept(l, in);
        assertSame(expected, l.backpropGradient(eps.dup(), NO_WS), what);
        assertEquals(uses, ((org.gradsurgery.layers.impl.NativeConvolution3D) l).forwardOutputUses, what);
    }

    @Test
    void aNetworkTrainingStepWithWorkspacesUsesTheForwardOutput() {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().seed(3).dataType(DataType.FLOAT)
                .updater(new Adam(1e-3))
                .trainingWorkspaceMode(WorkspaceMode.ENABLED).inferenceWorkspaceMode(WorkspaceMode.ENABLED)
                .graphBuilder().addInputs("in")
                .setInputTypes(InputType.convolutional3D(4, 6, 5, 1))
                .addLayer("conv", new NativeConvolution3D.Builder(3, 3, 3).nOut(4)
                        .convolutionMode(ConvolutionMode.Same).activation(Activation.RELU).build(), "in")
                .addLayer("head", new NativeConvolution3D.Builder(1, 1, 1).nOut(2)
                        .convolutionMode(ConvolutionMode.Same).activation(Activation.IDENTITY).build(), "conv")
                .addLayer("out", new SegmentationLossLayer.Builder(new LossDice()).activation(Activation.SOFTMAX)
                        .build(), "head")
                .setOutputs("out").build();
        ComputationGraph graph = new ComputationGraph(conf);
        graph.init();
        Nd4j.getRandom().setSeed(11);
        INDArray y = Nd4j.zeros(DataType.FLOAT, 3, 2, 4, 6, 5);
        y.get(org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.point(0))
                .assign(1);
        DataSet data = new DataSet(Nd4j.randn(DataType.FLOAT, 3, 1, 4, 6, 5), y);
        for (int i = 0; i < 3; i++) {
            graph.fit(data);
        }
        assertEquals(3, ((org.gradsurgery.layers.impl.NativeConvolution3D) graph.getLayer("conv")).forwardOutputUses);
    }
}
