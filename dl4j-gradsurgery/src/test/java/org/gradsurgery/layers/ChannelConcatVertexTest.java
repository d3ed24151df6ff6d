package org.gradsurgery.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.graph.vertex.impl.MergeVertex;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.iter.NdIndexIterator;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;

/** {@link ChannelConcatVertex}: values, gradient split, output types and errors, at rank 2, 4 and 5. */
@ExtendWith(DoublePrecisionTinyArrays.class)
class ChannelConcatVertexTest {

    private static final LayerWorkspaceMgr NO_WS = LayerWorkspaceMgr.noWorkspaces();

    /** Shapes of two inputs with 2 and 3 channels on {@code axis}. */
    static Stream<Arguments> layouts() {
        return Stream.of(
                Arguments.of("[N,C]", new long[] {2, 2}, new long[] {2, 3}, 1, false),
                Arguments.of("NCHW", new long[] {2, 2, 3, 4}, new long[] {2, 3, 3, 4}, 1, false),
                Arguments.of("NHWC", new long[] {2, 3, 4, 2}, new long[] {2, 3, 4, 3}, 3, true),
                Arguments.of("NCDHW", new long[] {2, 2, 2, 3, 2}, new long[] {2, 3, 2, 3, 2}, 1, false),
                Arguments.of("NDHWC", new long[] {2, 2, 3, 2, 2}, new long[] {2, 2, 3, 2, 3}, 4, true));
    }

    private static org.gradsurgery.layers.impl.ChannelConcatVertex vertex(boolean channelsLast) {
        return new org.gradsurgery.layers.impl.ChannelConcatVertex(null, "cat", 0, DataType.DOUBLE, channelsLast);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("layouts")
    void concatenatesAlongTheChannelAxisAndSplitsTheGradient(String name, long[] shapeA, long[] shapeB, int axis,
                                                             boolean channelsLast) {
        INDArray a = SegmentationGraphs.uniform(shapeA, -1, 1, 1);
        INDArray b = SegmentationGraphs.uniform(shapeB, -1, 1, 2);
        org.gradsurgery.layers.impl.ChannelConcatVertex v = vertex(channelsLast);
        v.setInputs(new INDArray[] {a, b});
        INDArray out = v.doForward(true, NO_WS);

        long[] expectedShape = shapeA.clone();
        expectedShape[axis] = shapeA[axis] + shapeB[axis];
        assertArrayEquals(expectedShape, out.shape());
        // element-wise: out[.., c, ..] = a[.., c, ..] for c < Ca, b[.., c − Ca, ..] otherwise
        NdIndexIterator it = new NdIndexIterator('c', expectedShape);
        while (it.hasNext()) {
            long[] idx = it.next();
            long[] src = idx.clone();
            INDArray from = a;
            if (idx[axis] >= shapeA[axis]) {
                src[axis] -= shapeA[axis];
                from = b;
            }
            assertEquals(from.getDouble(src), out.getDouble(idx), 0.0, name + " at " + java.util.Arrays.toString(idx));
        }

        INDArray eps = SegmentationGraphs.uniform(expectedShape, -1, 1, 3);
        v.setEpsilon(eps);
        INDArray[] grads = v.doBackward(false, NO_WS).getSecond();
        assertEquals(2, grads.length);
        assertArrayEquals(shapeA, grads[0].shape());
        assertArrayEquals(shapeB, grads[1].shape());
        it = new NdIndexIterator('c', expectedShape);
        while (it.hasNext()) {
            long[] idx = it.next();
            long[] dst = idx.clone();
            INDArray to = grads[0];
            if (idx[axis] >= shapeA[axis]) {
                dst[axis] -= shapeA[axis];
                to = grads[1];
            }
            assertEquals(eps.getDouble(idx), to.getDouble(dst), 0.0);
        }
    }

    /**
     * FLOAT channels-first arrays, dense (copied chunk by chunk) or not (ND4J's concat and interval views), inputs
     * that are views with an offset into a larger buffer: the forward pass equals ND4J's concatenation and the
     * backward pass its interval views, to the bit.
     */
    @Test
    void chunkCopiesMatchNd4jConcatForDenseAndStridedArrays() {
        INDArray big = Nd4j.rand(DataType.FLOAT, 5, 3, 4, 6);
        INDArray offsetView = big.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(2, 5));   // dense, offset
        INDArray strided = Nd4j.rand(DataType.FLOAT, 3, 6, 4, 6).get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
                org.nd4j.linalg.indexing.NDArrayIndex.interval(1, 3));                          // not dense
        INDArray other = Nd4j.rand(DataType.FLOAT, 3, 2, 4, 6);
        for (INDArray first : new INDArray[] {offsetView, strided}) {
            org.gradsurgery.layers.impl.ChannelConcatVertex v =
                    new org.gradsurgery.layers.impl.ChannelConcatVertex(null, "cat", 0, DataType.FLOAT, false);
            v.setInputs(new INDArray[] {first, other});
            INDArray out = v.doForward(true, NO_WS);
            assertArrayEquals(Nd4j.concat(1, first.dup(), other).data().asFloat(), out.dup().data().asFloat());
            INDArray eps = Nd4j.rand(DataType.FLOAT, out.shape());
            for (INDArray e : new INDArray[] {eps, Nd4j.concat(1, eps, eps).get(
                    org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.interval(0,
                            out.size(1)))}) {
                v.setEpsilon(e);
                INDArray[] g = v.doBackward(false, NO_WS).getSecond();
                long c = first.size(1);
                assertArrayEquals(eps.get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
                        org.nd4j.linalg.indexing.NDArrayIndex.interval(0, c)).dup().data().asFloat(),
                        g[0].dup().data().asFloat());
                assertArrayEquals(eps.get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
                        org.nd4j.linalg.indexing.NDArrayIndex.interval(c, out.size(1))).dup().data().asFloat(),
                        g[1].dup().data().asFloat());
            }
        }
    }

    /** DL4J M2.1's MergeVertex cannot backprop rank-5 input (impl/MergeVertex.java:157); ours can (above). */
    @Test
    void stockMergeVertexFailsOnRank5Backprop() {
        MergeVertex merge = new MergeVertex(null, "merge", 0, DataType.DOUBLE, 1);
        merge.setInputs(new INDArray[] {Nd4j.rand(DataType.DOUBLE, 1, 2, 2, 2, 2),
                Nd4j.rand(DataType.DOUBLE, 1, 3, 2, 2, 2)});
        merge.doForward(false, NO_WS);
        merge.setEpsilon(Nd4j.rand(DataType.DOUBLE, 1, 5, 2, 2, 2));
        assertThrows(RuntimeException.class, () -> merge.doBackward(false, NO_WS));
    }

    @Test
    void outputTypesSumChannelsAndKeepFormatAndSize() {
        ChannelConcatVertex first = new ChannelConcatVertex();
        assertEquals(InputType.convolutional(8, 6, 5, CNN2DFormat.NCHW), first.getOutputType(0,
                InputType.convolutional(8, 6, 2, CNN2DFormat.NCHW),
                InputType.convolutional(8, 6, 3, CNN2DFormat.NCHW)));
        assertEquals(InputType.convolutional3D(Convolution3D.DataFormat.NCDHW, 4, 8, 6, 7), first.getOutputType(0,
                InputType.convolutional3D(Convolution3D.DataFormat.NCDHW, 4, 8, 6, 3),
                InputType.convolutional3D(Convolution3D.DataFormat.NCDHW, 4, 8, 6, 4)));
        assertEquals(InputType.feedForward(9), first.getOutputType(0, InputType.feedForward(4),
                InputType.feedForward(5)));
        // DL4J M2.1 labels e.g. Upsampling3D output NDHWC even for NCDHW data; the vertex's own format decides
        assertEquals(InputType.convolutional3D(Convolution3D.DataFormat.NCDHW, 4, 8, 6, 7), first.getOutputType(0,
                InputType.convolutional3D(4, 8, 6, 3),
                InputType.convolutional3D(Convolution3D.DataFormat.NCDHW, 4, 8, 6, 4)));
        ChannelConcatVertex last = new ChannelConcatVertex(CNN2DFormat.NHWC);
        assertEquals(InputType.convolutional3D(Convolution3D.DataFormat.NDHWC, 4, 8, 6, 7), last.getOutputType(0,
                InputType.convolutional3D(Convolution3D.DataFormat.NDHWC, 4, 8, 6, 3),
                InputType.convolutional3D(Convolution3D.DataFormat.NDHWC, 4, 8, 6, 4)));
    }

    @Test
    void mismatchesGetClearErrors() {
        ChannelConcatVertex v = new ChannelConcatVertex();
        IllegalArgumentException spatial = assertThrows(IllegalArgumentException.class, () -> v.getOutputType(0,
                InputType.convolutional3D(Convolution3D.DataFormat.NCDHW, 4, 8, 6, 3),
                InputType.convolutional3D(Convolution3D.DataFormat.NCDHW, 4, 8, 5, 3)));
        assertTrue(spatial.getMessage().contains("spatial sizes differ")
                && spatial.getMessage().contains("[d=4, h=8, w=6]") && spatial.getMessage().contains("[d=4, h=8, w=5]"),
                spatial.getMessage());

        IllegalArgumentException format = assertThrows(IllegalArgumentException.class, () -> v.getOutputType(0,
                InputType.convolutional(8, 6, 2, CNN2DFormat.NHWC),
                InputType.convolutional(8, 6, 2, CNN2DFormat.NHWC)));
        assertTrue(format.getMessage().contains("NHWC") && format.getMessage().contains("new ChannelConcatVertex"),
                format.getMessage());

        IllegalArgumentException kinds = assertThrows(IllegalArgumentException.class, () -> v.getOutputType(0,
                InputType.convolutional(8, 6, 2), InputType.feedForward(3)));
        assertTrue(kinds.getMessage().contains("same kind"), kinds.getMessage());

        assertThrows(IllegalArgumentException.class, () -> v.getOutputType(0, InputType.recurrent(3),
                InputType.recurrent(3)));

        // the same check at configuration time, where the U-Net builder will meet it
        IllegalArgumentException config = assertThrows(IllegalArgumentException.class, () ->
                new NeuralNetConfiguration.Builder().graphBuilder().addInputs("a", "b")
                        .setInputTypes(InputType.convolutional(8, 8, 2), InputType.convolutional(4, 4, 2))
                        .addVertex("cat", new ChannelConcatVertex(), "a", "b")
                        .addLayer("out", new SegmentationLossLayer.Builder(new LossMCXENT()).build(), "cat")
                        .setOutputs("out").build());
        assertTrue(config.getMessage().contains("spatial sizes differ"), config.getMessage());

        org.gradsurgery.layers.impl.ChannelConcatVertex impl = vertex(false);
        impl.setInputs(new INDArray[] {Nd4j.rand(DataType.DOUBLE, 2, 2, 4, 4), Nd4j.rand(DataType.DOUBLE, 2, 2, 4, 5)});
        IllegalArgumentException runtime = assertThrows(IllegalArgumentException.class,
                () -> impl.doForward(false, NO_WS));
        assertTrue(runtime.getMessage().contains("[2, 2, 4, 5]") && runtime.getMessage().contains("[2, 2, 4, 4]"),
                runtime.getMessage());
        impl.setInputs(new INDArray[] {Nd4j.rand(DataType.DOUBLE, 2, 2, 4), Nd4j.rand(DataType.DOUBLE, 2, 2, 4)});
        assertThrows(IllegalArgumentException.class, () -> impl.doForward(false, NO_WS));
    }

    @Test
    void equalityFollowsTheFormat() {
        assertEquals(new ChannelConcatVertex(), new ChannelConcatVertex(CNN2DFormat.NCHW));
        assertEquals(new ChannelConcatVertex().hashCode(), new ChannelConcatVertex(CNN2DFormat.NCHW).hashCode());
        assertNotEquals(new ChannelConcatVertex(), new ChannelConcatVertex(CNN2DFormat.NHWC));
        assertEquals(new ChannelConcatVertex(CNN2DFormat.NHWC), new ChannelConcatVertex(CNN2DFormat.NHWC).clone());
        assertTrue(new ChannelConcatVertex(CNN2DFormat.NHWC).toString().contains("NHWC"));
    }
}
