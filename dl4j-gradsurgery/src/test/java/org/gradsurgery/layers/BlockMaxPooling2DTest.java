package org.gradsurgery.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.stream.Stream;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * {@link BlockMaxPooling2D} against DL4J's {@code SubsamplingLayer}: the plane kernel (max, kernel = stride, NCHW, FLOAT)
 * on inputs with many ties (ReLU zeros and repeated values, where the tie rule decides the gradient) and on random
 * ones, with windows of 2×2, 3×3 and 2×3, in Same and Truncate mode; and every configuration it hands back to DL4J
 * (average pooling, overlapping windows, NHWC, DOUBLE, sizes the windows do not tile). Equality is exact: both take
 * the maximum and route the gradient to the first maximum of a window.
 */
class BlockMaxPooling2DTest {

    private static final LayerWorkspaceMgr NO_WS = LayerWorkspaceMgr.noWorkspaces();

    record Case(PoolingType type, int[] kernel, int[] stride, ConvolutionMode mode, CNN2DFormat format,
                DataType dataType, long[] nchw) {
        @Override
        public String toString() {
            return type + " k" + java.util.Arrays.toString(kernel) + " s" + java.util.Arrays.toString(stride) + " "
                    + mode + " " + format + " " + dataType + " " + java.util.Arrays.toString(nchw);
        }

        SubsamplingLayer.Builder configure(SubsamplingLayer.Builder b) {
            b.kernelSize(kernel).stride(stride).convolutionMode(mode).dataFormat(format);
            return b;
        }
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        CNN2DFormat nchw = CNN2DFormat.NCHW;
        for (ConvolutionMode mode : new ConvolutionMode[] {ConvolutionMode.Same, ConvolutionMode.Truncate}) {
            out.add(Arguments.of(new Case(PoolingType.MAX, new int[] {2, 2}, new int[] {2, 2}, mode, nchw,
                    DataType.FLOAT, new long[] {3, 4, 8, 6})));
            out.add(Arguments.of(new Case(PoolingType.MAX, new int[] {3, 3}, new int[] {3, 3}, mode, nchw,
                    DataType.FLOAT, new long[] {2, 3, 9, 6})));
            out.add(Arguments.of(new Case(PoolingType.MAX, new int[] {2, 3}, new int[] {2, 3}, mode, nchw,
                    DataType.FLOAT, new long[] {2, 2, 4, 9})));
            // handed back to DL4J
            out.add(Arguments.of(new Case(PoolingType.AVG, new int[] {2, 2}, new int[] {2, 2}, mode, nchw,
                    DataType.FLOAT, new long[] {2, 3, 8, 6})));
            out.add(Arguments.of(new Case(PoolingType.MAX, new int[] {3, 3}, new int[] {2, 2}, mode, nchw,
                    DataType.FLOAT, new long[] {2, 3, 8, 6})));
            out.add(Arguments.of(new Case(PoolingType.MAX, new int[] {2, 2}, new int[] {2, 2}, mode,
                    CNN2DFormat.NHWC, DataType.FLOAT, new long[] {2, 3, 8, 6})));
            out.add(Arguments.of(new Case(PoolingType.MAX, new int[] {2, 2}, new int[] {2, 2}, mode, nchw,
                    DataType.DOUBLE, new long[] {2, 3, 8, 6})));
        }
        out.add(Arguments.of(new Case(PoolingType.MAX, new int[] {2, 2}, new int[] {2, 2}, ConvolutionMode.Truncate,
                nchw, DataType.FLOAT, new long[] {2, 3, 7, 5})));
        return out.stream();
    }

    private static Layer instantiate(org.deeplearning4j.nn.conf.layers.Layer conf, DataType type) {
        NeuralNetConfiguration nnc = new NeuralNetConfiguration.Builder().dataType(type).layer(conf).build();
        return nnc.getLayer().instantiate(nnc, Collections.emptyList(), 0, null, true, type);
    }

    /** ReLU'd noise rounded to a coarse grid: many exact ties, zeros and repeats inside windows. */
    private static INDArray tiedInput(Case c) {
        Nd4j.getRandom().setSeed(11);
        INDArray x = Transforms.relu(Nd4j.randn(DataType.DOUBLE, c.nchw()), false);
        x = Transforms.round(x.muli(2), false).divi(2);
        return c.format() == CNN2DFormat.NHWC ? x.permute(0, 2, 3, 1).dup('c') : x;
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesDl4jSubsamplingLayer(Case c) {
        Layer ours = instantiate(c.configure(new BlockMaxPooling2D.Builder(c.type())).build(), c.dataType());
        Layer theirs = instantiate(c.configure(new SubsamplingLayer.Builder(c.type())).build(), c.dataType());
        assertTrue(ours instanceof org.gradsurgery.layers.impl.BlockMaxPooling2D);
        for (INDArray x : new INDArray[] {tiedInput(c), Nd4j.randn(DataType.DOUBLE, tiedInput(c).shape())}) {
            INDArray xt = x.castTo(c.dataType());
            INDArray yOurs = ours.activate(xt.dup(), true, NO_WS).dup();
            INDArray yTheirs = theirs.activate(xt.dup(), true, NO_WS).dup();
            assertArrayEquals(yTheirs.shape(), yOurs.shape());
            assertEquals(yTheirs, yOurs, "activations");
            INDArray eps = Nd4j.rand(c.dataType(), yOurs.shape());
            Pair<Gradient, INDArray> gOurs = ours.backpropGradient(eps.dup(), NO_WS);
            Pair<Gradient, INDArray> gTheirs = theirs.backpropGradient(eps.dup(), NO_WS);
            assertEquals(gTheirs.getSecond(), gOurs.getSecond(), "dL/dx");
            assertTrue(gOurs.getFirst().gradientForVariable().isEmpty());
        }
    }

    @Test
    void jsonAndEqualityKeepTheClass() {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().graphBuilder()
                .addInputs("in").setInputTypes(org.deeplearning4j.nn.conf.inputs.InputType.convolutional(8, 8, 2))
                .addLayer("pool", new BlockMaxPooling2D.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2)
                        .convolutionMode(ConvolutionMode.Same).build(), "in")
                .setOutputs("pool").build();
        ComputationGraphConfiguration back = ComputationGraphConfiguration.fromJson(conf.toJson());
        assertEquals(conf, back);
        assertTrue(((LayerVertex) back.getVertices().get("pool")).getLayerConf().getLayer() instanceof BlockMaxPooling2D);
        ComputationGraph net = new ComputationGraph(back);
        net.init();
        assertTrue(net.getLayer("pool") instanceof org.gradsurgery.layers.impl.BlockMaxPooling2D);
        assertArrayEquals(new long[] {1, 2, 4, 4}, net.outputSingle(Nd4j.rand(DataType.FLOAT, 1, 2, 8, 8)).shape());

        BlockMaxPooling2D a = (BlockMaxPooling2D) new BlockMaxPooling2D.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build();
        assertEquals(a, new BlockMaxPooling2D.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build());
        assertNotEquals(a, new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build());
        assertNotEquals(a, new BlockMaxPooling2D.Builder(PoolingType.AVG).kernelSize(2, 2).stride(2, 2).build());
        assertEquals(a, a.clone());
    }
}
