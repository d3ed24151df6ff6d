package org.gradsurgery.spark;

import java.io.IOException;
import java.nio.file.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.loss.GradientSurgery;
import org.gradsurgery.loss.LossDice;
import org.gradsurgery.model.SyntheticShapes;
import org.gradsurgery.model.UNet;
import org.gradsurgery.training.TrainingData;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.learning.config.IUpdater;

/** What the Spark tests share: a tiny 2D U-Net of the project's layers under Dice + surgery, and its data. */
final class TinySpark {
    static final int SIZE = 16;

    private TinySpark() {
    }

    /**
     * 2 levels, 4 base filters, instance normalisation (per example, so averaging is exact), the project's
     * convolution, pooling, transposed convolution, concatenation vertex and loss layer; Dice under the surgery.
     */
    static ComputationGraph unet(IUpdater updater, DataType type, UNet.Normalization norm, long seed) {
        return UNet.builder().spatialDims(2).inputChannels(1).numClasses(SyntheticShapes.CLASSES).levels(2)
                .baseFilters(4).convsPerLevel(1).normalization(norm).loss(GradientSurgery.wrap(new LossDice()))
                .updater(updater).dataType(type).seed(seed).build().graph();
    }

    /** {@code n} synthetic 16×16 examples in {@code type}. */
    static DataSet shapes(int n, long seed, DataType type) {
        MultiDataSet m = SyntheticShapes.generate(2, n, SIZE, 0.4, seed);
        return new DataSet(m.getFeatures(0).castTo(type), m.getLabels(0).castTo(type));
    }

    /** The training set in its stored order (no shuffling), the validation set as given. */
    static TrainingData data(DataSet train, DataSet validation) {
        return TrainingData.of((batch, seed) -> TrainingData.batches(train, batch), validation);
    }

    static JavaSparkContext local(int threads, SparkSettings.Serializer serializer) {
        return settings(threads, serializer).createContext("gradsurgery-test");
    }

    static SparkSettings settings(int threads, SparkSettings.Serializer serializer) {
        return SparkSettings.builder().master("local[" + threads + "]").workers(threads).serializer(serializer)
                .build();
    }

    static SparkData export(TrainingData data, int batch, Path dir) throws IOException {
        return SparkData.export(data, batch, 1, dir);
    }
}
