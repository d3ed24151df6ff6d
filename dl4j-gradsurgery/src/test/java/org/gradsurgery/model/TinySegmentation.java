package org.gradsurgery.model;

import org.gradsurgery.training.TrainingData;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.gradsurgery.data.Augmentation;
import org.gradsurgery.data.Sample;
import org.gradsurgery.data.SegmentationDataSetIterator;
import org.gradsurgery.data.SegmentationMultiDataSetIterator;
import org.gradsurgery.layers.SegmentationLossLayer;
import org.gradsurgery.loss.LossDice;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;
import org.nd4j.linalg.learning.config.Adam;

/**
 * A tiny 2D segmentation problem for trainer tests: 8 × 8 images with a bright square (class 1) and a dim square
 * (class 2) on noise, and a two-conv network with dropout (so ND4J's generator matters) ending in softmax Dice.
 */
public final class TinySegmentation {
    public static final int SIZE = 8;
    public static final int CLASSES = 3;

    private TinySegmentation() {
    }

    public static Sample sample(String id, SplittableRandom r) {
        float[] img = new float[SIZE * SIZE];
        int[] lab = new int[SIZE * SIZE];
        for (int i = 0; i < img.length; i++) {
            img[i] = (float) (r.nextDouble() * 0.4 - 0.2);
        }
        square(img, lab, r.nextInt(SIZE - 3), r.nextInt(SIZE - 3), 3, 1.0f, 1);
        square(img, lab, r.nextInt(SIZE - 2), r.nextInt(SIZE - 2), 2, 0.5f, 2);
        return Sample.of(id, img, 1, new int[] {SIZE, SIZE}, lab, null, new double[] {1, 1}, null);
    }

    private static void square(float[] img, int[] lab, int i0, int j0, int n, float v, int c) {
        for (int i = i0; i < i0 + n; i++) {
            for (int j = j0; j < j0 + n; j++) {
                img[i * SIZE + j] += v;
                lab[i * SIZE + j] = c;
            }
        }
    }

    public static List<Sample> samples(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Sample> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(sample("s" + i, r));
        }
        return out;
    }

    /** 12 shuffled, flip-augmented training examples and 4 validation examples. */
    public static TrainingData data() {
        List<Sample> train = samples(12, 1);
        DataSet val = SegmentationDataSetIterator.toDataSet(samples(4, 2), CLASSES);
        return new TrainingData() {
            @Override
            public MultiDataSetIterator training(int batchSize, long seed) {
                return new SegmentationMultiDataSetIterator(SegmentationDataSetIterator.builder().samples(train)
                        .numClasses(CLASSES).batchSize(batchSize).seed(seed)
                        .augment(Augmentation.randomFlip(0.5, 0, 1)).build());
            }

            @Override
            public MultiDataSetIterator validation(int batchSize) {
                return TrainingData.batches(val, batchSize);
            }

            @Override
            public int batchesPerEpoch(int batchSize) {
                return (train.size() + batchSize - 1) / batchSize;
            }
        };
    }

    public static ComputationGraph net() {
        ComputationGraphConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.FLOAT).seed(7)
                .updater(new Adam(1e-2)).weightInit(WeightInit.RELU).graphBuilder()
                .addInputs("input").setInputTypes(InputType.convolutional(SIZE, SIZE, 1))
                .addLayer("conv", new ConvolutionLayer.Builder(3, 3).nOut(6).convolutionMode(ConvolutionMode.Same)
                        .activation(Activation.RELU).build(), "input")
                .addLayer("logits", new ConvolutionLayer.Builder(1, 1).nOut(CLASSES).dropOut(0.8)
                        .activation(Activation.IDENTITY).build(), "conv")
                .addLayer("output", new SegmentationLossLayer.Builder().lossFunction(new LossDice())
                        .activation(Activation.SOFTMAX).build(), "logits")
                .setOutputs("output").build();
        ComputationGraph net = new ComputationGraph(conf);
        net.init();
        return net;
    }
}
