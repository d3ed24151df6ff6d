package org.gradsurgery.layers;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.conf.layers.Deconvolution3D;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.gradsurgery.loss.GradientSurgery;
import org.gradsurgery.loss.LossDice;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.impl.ActivationLReLU;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;

/**
 * The 3D wiring shown in the package documentation ({@code package-info.java}), built and trained for a few steps:
 * conv → instance norm + LeakyReLU blocks, a strided-conv down path, a transposed-conv up path joined to the skip
 * by {@link ChannelConcatVertex}, and {@link SegmentationLossLayer} with per-sample Dice under the surgery.
 */
@ExtendWith(DoublePrecisionTinyArrays.class)
class UNetBlockWiringTest {

    /** conv 3×3×3 → InstanceNormalization with LeakyReLU(0.01), nnU-Net's block. */
    static ComputationGraphConfiguration.GraphBuilder block(ComputationGraphConfiguration.GraphBuilder g, String name,
                                                            int nOut, int stride, String input) {
        g.addLayer(name + "_conv", new Convolution3D.Builder(3, 3, 3).stride(stride, stride, stride).nOut(nOut)
                .convolutionMode(ConvolutionMode.Same).dataFormat(Convolution3D.DataFormat.NCDHW)
                .activation(Activation.IDENTITY).build(), input);
        g.addLayer(name + "_norm", new InstanceNormalization.Builder().activation(new ActivationLReLU(0.01))
                .build(), name + "_conv");
        return g;
    }

    static ComputationGraphConfiguration tinyUNet3d(int classes, DataType dataType) {
        ComputationGraphConfiguration.GraphBuilder g = new NeuralNetConfiguration.Builder()
                .dataType(dataType).seed(7).updater(new Adam(1e-2)).weightInit(WeightInit.RELU)
                .graphBuilder()
                .addInputs("image")
                .setInputTypes(InputType.convolutional3D(Convolution3D.DataFormat.NCDHW, 8, 8, 8, 1));
        block(g, "enc1", 4, 1, "image");                        // [N, 4, 8, 8, 8]
        block(g, "enc2", 8, 2, "enc1_norm");                    // [N, 8, 4, 4, 4]
        g.addLayer("up1", new Deconvolution3D.Builder().kernelSize(2, 2, 2).stride(2, 2, 2).nOut(4)
                .convolutionMode(ConvolutionMode.Same).dataFormat(Convolution3D.DataFormat.NCDHW)
                .activation(Activation.IDENTITY).build(), "enc2_norm");  // [N, 4, 8, 8, 8]
        g.addVertex("skip1", new ChannelConcatVertex(), "up1", "enc1_norm");  // [N, 8, 8, 8, 8]
        block(g, "dec1", 4, 1, "skip1");
        g.addLayer("logits", new Convolution3D.Builder(1, 1, 1).nOut(classes)
                .dataFormat(Convolution3D.DataFormat.NCDHW).activation(Activation.IDENTITY).build(), "dec1_norm");
        g.addLayer("seg", new SegmentationLossLayer.Builder()
                .lossFunction(GradientSurgery.wrap(new LossDice()))
                .activation(Activation.SOFTMAX).build(), "logits");
        return g.setOutputs("seg").build();
    }

    /** In FLOAT, the data type real training uses (every other test of the package runs DOUBLE). */
    @Test
    void tinyThreeDimensionalUNetTrains() {
        DataType dataType = DataType.FLOAT;
        ComputationGraph net = new ComputationGraph(tinyUNet3d(2, dataType));
        net.init();
        // a bright cube (class 1) in a noisy background (class 0)
        INDArray x = SegmentationGraphs.uniform(new long[] {2, 1, 8, 8, 8}, -0.3, 0.3, 1);
        INDArray y = Nd4j.zeros(DataType.DOUBLE, 2, 2, 8, 8, 8);
        y.get(NDArrayIndex.all(), NDArrayIndex.point(0)).assign(1);
        for (int n = 0; n < 2; n++) {
            int o = 1 + 2 * n;
            INDArrayIndex cube = NDArrayIndex.interval(o, o + 4);
            x.get(NDArrayIndex.point(n), NDArrayIndex.point(0), cube, cube, cube).addi(1.0);
            y.get(NDArrayIndex.point(n), NDArrayIndex.point(0), cube, cube, cube).assign(0);
            y.get(NDArrayIndex.point(n), NDArrayIndex.point(1), cube, cube, cube).assign(1);
        }
        MultiDataSet data = new MultiDataSet(new INDArray[] {x.castTo(dataType)},
                new INDArray[] {y.castTo(dataType)});
        double first = net.score(data, false);
        for (int i = 0; i < 15; i++) {
            net.fit(data);
        }
        double last = net.score(data, false);
        assertTrue(last < 0.7 * first, "Dice loss " + first + " -> " + last);
        INDArray out = net.outputSingle(x.castTo(dataType));
        assertArrayEquals(new long[] {2, 2, 8, 8, 8}, out.shape());
        assertEquals(dataType, out.dataType());
    }
}
