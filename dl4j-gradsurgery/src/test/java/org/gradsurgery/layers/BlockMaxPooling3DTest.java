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
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.Subsampling3DLayer;
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
 * {@link BlockMaxPooling3D} against DL4J's {@code Subsampling3DLayer}: the volume kernel (max, kernel = stride, NCDHW,
 * FLOAT) on inputs with many ties (ReLU zeros and repeated values, where the tie rule decides the gradient) and on
 * random ones, with 2×2×2, 3×3×3 and 1×2×3 windows, in Same and Truncate mode, on non-cubic volumes; and the
 * configurations it hands back to DL4J (average pooling, overlapping windows, NDHWC, DOUBLE, sizes the windows do not
 * tile). Equality is exact: both take the maximum and route the gradient to the first maximum of a window.
 */
class BlockMaxPooling3DTest {

    private static final LayerWorkspaceMgr NO_WS = LayerWorkspaceMgr.noWorkspaces();

    record Case(PoolingType type, int[] kernel, int[] stride, ConvolutionMode mode, Convolution3D.DataFormat format,
                DataType dataType, long[] shape) {
        @Override
        public String toString() {
            return type + " k" + java.util.Arrays.toString(kernel) + " s" + java.util.Arrays.toString(stride) + " "
                    + mode + " " + format + " " + dataType + " " + java.util.Arrays.toString(shape);
        }

        Subsampling3DLayer.Builder configure(Subsampling3DLayer.Builder b) {
            b.kernelSize(kernel).stride(stride).convolutionMode(mode);
            b.dataFormat(format);
            return b;
        }
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        Convolution3D.DataFormat cf = Convolution3D.DataFormat.NCDHW;
        for (ConvolutionMode mode : new ConvolutionMode[] {ConvolutionMode.Same, ConvolutionMode.Truncate}) {
            out.add(Arguments.of(new Case(PoolingType.MAX, new int[] {2, 2, 2}, new int[] {2, 2, 2}, mode, cf,
                    DataType.FLOAT, new long[] {2, 3, 4, 6, 8})));
            out.add(Arguments.of(new Case(PoolingType.MAX, new int[] {3, 3, 3}, new int[] {3, 3, 3}, mode, cf,
                    DataType.FLOAT, new long[] {2, 2, 6, 3, 9})));
            out.add(Arguments.of(new Case(PoolingType.MAX, new int[] {1, 2, 3}, new int[] {1, 2, 3}, mode, cf,
                    DataType.FLOAT, new long[] {1, 2, 3, 4, 6})));
            // handed back to DL4J
            out.add(Arguments.of(new Case(PoolingType.AVG, new int[] {2, 2, 2}, new int[] {2, 2, 2}, mode, cf,
                    DataType.FLOAT, new long[] {2, 3, 4, 6, 8})));
            out.add(Arguments.of(new Case(PoolingType.MAX, new int[] {3, 3, 3}, new int[] {2, 2, 2}, mode, cf,
                    DataType.FLOAT, new long[] {1, 2, 6, 6, 8})));
            out.add(Arguments.of(new Case(PoolingType.MAX, new int[] {2, 2, 2}, new int[] {2, 2, 2}, mode,
                    Convolution3D.DataFormat.NDHWC, DataType.FLOAT, new long[] {2, 3, 4, 6, 8})));
            out.add(Arguments.of(new Case(PoolingType.MAX, new int[] {2, 2, 2}, new int[] {2, 2, 2}, mode, cf,
                    DataType.DOUBLE, new long[] {2, 3, 4, 6, 8})));
        }
        out.add(Arguments.of(new Case(PoolingType.MAX, new int[] {2, 2, 2}, new int[] {2, 2, 2},
                ConvolutionMode.Truncate, cf, DataType.FLOAT, new long[] {2, 3, 5, 6, 7})));
        return out.stream();
    }

    private static Layer instantiate(org.deeplearning4j.nn.conf.layers.Layer conf, DataType type) {
        NeuralNetConfiguration nnc = new NeuralNetConfiguration.Builder().dataType(type).layer(conf).build();
        return nnc.getLayer().instantiate(nnc, Collections.emptyList(), 0, null, true, type);
    }

    /** ReLU'd noise rounded to a coarse grid: many exact ties, zeros and repeats inside windows. */
    private static INDArray tiedInput(Case c) {
        Nd4j.getRandom().setSeed(11);
        INDArray x = Transforms.relu(Nd4j.randn(DataType.DOUBLE, c.shape()), false);
        return Transforms.round(x.muli(2), false).divi(2);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void matchesDl4jSubsampling3DLayer(Case c) {
        Layer ours = instantiate(c.configure(new BlockMaxPooling3D.Builder(c.type(), c.kernel())).build(),
                c.dataType());
        Layer theirs = instantiate(c.configure(new Subsampling3DLayer.Builder(c.type())).build(), c.dataType());
        assertTrue(ours instanceof org.gradsurgery.layers.impl.BlockMaxPooling3D);
        for (INDArray x : new INDArray[] {tiedInput(c), Nd4j.randn(DataType.DOUBLE, c.shape())}) {
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

    /**
     * The per-thread scratch is kept between calls and only grows: a smaller volume after a larger one (whose
     * scratch is full of other values) pools and routes exactly as DL4J's layer, including the voxels no window
     * covers (Truncate, edges not multiples of the kernel), whose gradient must be 0, not a leftover.
     */
    @Test
    void scratchLeftByALargerCallLeavesNoTrace() {
        for (ConvolutionMode mode : new ConvolutionMode[] {ConvolutionMode.Truncate, ConvolutionMode.Same}) {
            Layer ours = instantiate(new BlockMaxPooling3D.Builder(PoolingType.MAX, new int[] {2, 2, 2})
                    .convolutionMode(mode).build(), DataType.FLOAT);
            Layer theirs = instantiate(new Subsampling3DLayer.Builder(PoolingType.MAX, new int[] {2, 2, 2})
                    .convolutionMode(mode).build(), DataType.FLOAT);
            Nd4j.getRandom().setSeed(5);
            // below forPlanes' threading threshold, so both calls use the test thread's scratch
            INDArray large = Nd4j.rand(DataType.FLOAT, 2, 3, 8, 10, 12).addi(100);
            ours.activate(large, true, NO_WS);
            ours.backpropGradient(Nd4j.rand(DataType.FLOAT, 2, 3, 4, 5, 6).addi(100), NO_WS);
            long[] shape = mode == ConvolutionMode.Truncate ? new long[] {1, 2, 5, 5, 3} : new long[] {1, 2, 4, 6, 2};
            INDArray small = Nd4j.randn(DataType.FLOAT, shape).subi(10);
            INDArray yOurs = ours.activate(small.dup(), true, NO_WS).dup();
            INDArray yTheirs = theirs.activate(small.dup(), true, NO_WS).dup();
            assertEquals(yTheirs, yOurs, mode + " activations");
            INDArray eps = Nd4j.rand(DataType.FLOAT, yOurs.shape());
            assertEquals(theirs.backpropGradient(eps.dup(), NO_WS).getSecond(),
                    ours.backpropGradient(eps.dup(), NO_WS).getSecond(), mode + " dL/dx");
        }
    }

    /** A view (one example of a batch) takes the copy path and gives the same results. */
    @Test
    void viewsOfLargerArraysPoolLikeWholeOnes() {
        Layer ours = instantiate(new BlockMaxPooling3D.Builder(PoolingType.MAX, new int[] {2, 2, 2}).build(),
                DataType.FLOAT);
        Layer theirs = instantiate(new Subsampling3DLayer.Builder(PoolingType.MAX, new int[] {2, 2, 2}).build(),
                DataType.FLOAT);
        INDArray batch = Nd4j.randn(DataType.FLOAT, 3, 2, 4, 4, 6);
        INDArray x = batch.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(1, 2));
        assertEquals(theirs.activate(x.dup(), true, NO_WS), ours.activate(x, true, NO_WS));
    }

    @Test
    void jsonAndEqualityKeepTheClass() {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().graphBuilder()
                .addInputs("in").setInputTypes(InputType.convolutional3D(Convolution3D.DataFormat.NCDHW, 4, 8, 6, 2))
                .addLayer("pool", new BlockMaxPooling3D.Builder(PoolingType.MAX, new int[] {2, 2, 2},
                        new int[] {2, 2, 2}).convolutionMode(ConvolutionMode.Same)
                        .dataFormat(Convolution3D.DataFormat.NCDHW).build(), "in")
                .setOutputs("pool").build();
        ComputationGraphConfiguration back = ComputationGraphConfiguration.fromJson(conf.toJson());
        assertEquals(conf, back);
        assertTrue(((LayerVertex) back.getVertices().get("pool")).getLayerConf().getLayer() instanceof BlockMaxPooling3D);
        ComputationGraph net = new ComputationGraph(back);
        net.init();
        assertTrue(net.getLayer("pool") instanceof org.gradsurgery.layers.impl.BlockMaxPooling3D);
        assertArrayEquals(new long[] {1, 2, 2, 4, 3}, net.outputSingle(Nd4j.rand(DataType.FLOAT, 1, 2, 4, 8, 6)).shape());

        BlockMaxPooling3D a = new BlockMaxPooling3D.Builder(PoolingType.MAX, new int[] {2, 2, 2}).build();
        assertEquals(a, new BlockMaxPooling3D.Builder(PoolingType.MAX, new int[] {2, 2, 2}).build());
        assertNotEquals(a, new Subsampling3DLayer.Builder(PoolingType.MAX, new int[] {2, 2, 2}).build());
        assertNotEquals(a, new BlockMaxPooling3D.Builder(PoolingType.AVG, new int[] {2, 2, 2}).build());
        assertEquals(a, a.clone());
    }
}
