package org.gradsurgery.loss;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.CnnLossLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.layers.DoublePrecisionTinyArrays;
import org.gradsurgery.layers.SegmentationLossLayer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * The README's "Use it in your own graph" code, compiled and run: a region loss with the surgery in DL4J's stock
 * {@code CnnLossLayer} (rows, so BATCH groups) and in the project's {@code SegmentationLossLayer} (whole tensors,
 * so per-sample groups), with the scores each layer reports.
 */
@ExtendWith(DoublePrecisionTinyArrays.class)
class ReadmeExampleTest {

    // --- README code begins (keep in sync with README.md, "Use it in your own graph") ---
    static ComputationGraph segmenter(boolean perSampleDice) {
        ILossFunction loss = GradientSurgery.wrap(new LossDice());   // was: new LossMCXENT()
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(42).updater(new Adam(1e-3)).graphBuilder()
                .addInputs("image").setInputTypes(InputType.convolutional(32, 32, 1))
                .addLayer("conv", new ConvolutionLayer.Builder(3, 3).nOut(8).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.RELU).build(), "image")
                .addLayer("logits", new ConvolutionLayer.Builder(1, 1).nOut(3).activation(Activation.IDENTITY)
                        .build(), "conv")
                .addLayer("out", perSampleDice
                        ? new SegmentationLossLayer.Builder(loss).activation(Activation.SOFTMAX).build()  // [N,C,H,W]
                        : new CnnLossLayer.Builder().lossFunction(loss).activation(Activation.SOFTMAX).build(), // rows
                        "logits")
                .setOutputs("out").build();
        ComputationGraph net = new ComputationGraph(conf);
        net.init();
        return net;
    }
    // --- README code ends ---

    @Test
    void bothLayersTrainAndReportTheDocumentedScores() {
        INDArray x = Nd4j.rand(DataType.DOUBLE, 2, 1, 32, 32);
        INDArray y = LossFixtures.labels(new long[]{2, 3, 32, 32}, true, 9);
        MultiDataSet data = new MultiDataSet(new INDArray[]{x}, new INDArray[]{y});
        ActivationSoftmax softmax = new ActivationSoftmax();
        long voxels = 32 * 32;
        for (boolean perSample : new boolean[]{false, true}) {
            ComputationGraph net = segmenter(perSample);
            net.setInputs(x);
            net.setLabels(y);
            net.computeGradientAndScore();
            INDArray logits = net.feedForward(x, false).get("logits");
            double score = net.score();
            if (perSample) {
                // per-example groups: the mean over examples of each example's Dice loss
                assertEquals(new LossDice().computeScore(y, logits, softmax, null, true), score, 1e-6);
            } else {
                // the stock layer passes [N·H·W, C] rows: one group per class over the whole batch (BATCH), and
                // DL4J's per-row convention makes the reported score H·W times the loss value
                double batchDice = LossDice.builder().reduction(Reduction.BATCH).build()
                        .computeScore(y, logits, softmax, null, true);
                assertEquals(voxels * batchDice, score, 1e-6 * voxels);   // FLOAT network
            }
            double before = score;
            for (int i = 0; i < 5; i++) {
                net.fit(data);
            }
            net.setInputs(x);
            net.setLabels(y);
            net.computeGradientAndScore();
            assertTrue(Double.isFinite(net.score()) && net.score() < before, perSample + ": " + before + " -> "
                    + net.score());
        }
    }
}
