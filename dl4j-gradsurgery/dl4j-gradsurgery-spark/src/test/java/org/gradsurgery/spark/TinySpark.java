package org.gradsurgery.spark;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import org.apache.spark.api.java.JavaSparkContext;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.experiment.DataPlan;
import org.gradsurgery.experiment.DataSources;
import org.gradsurgery.experiment.ExperimentData;
import org.gradsurgery.loss.GradientSurgery;
import org.gradsurgery.loss.LossDice;
import org.gradsurgery.model.UNet;
import org.gradsurgery.training.TrainingData;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.learning.config.IUpdater;

/**
 * What the Spark tests share: a tiny 2D U-Net of the project's layers under Dice + surgery, and generated 16×16
 * cases with 3 classes (the library's {@code GeneratedSource}) in a fixed order.
 */
final class TinySpark {
    static final int SIZE = 16;
    static final int CLASSES = 3;
    static final int LEVELS = 2;

    private TinySpark() {
    }

    /**
     * 2 levels, 4 base filters, one convolution per level, the project's convolution, pooling, transposed
     * convolution, concatenation vertex, normalisation and loss layer; Dice under the surgery.
     */
    static ComputationGraph unet(IUpdater updater, DataType type, UNet.Normalization norm, long seed) {
        return UNet.builder().spatialDims(2).inputChannels(1).numClasses(CLASSES).levels(LEVELS).baseFilters(4)
                .convsPerLevel(1).normalization(norm).loss(GradientSurgery.wrap(new LossDice())).updater(updater)
                .dataType(type).seed(seed).build().graph();
    }

    /** {@code n} generated cases as one array pair in {@code type}, in their case order. */
    static DataSet cases(int n, long seed, DataType type) throws IOException {
        DataPlan plan = DataPlan.builder(new DataPlan.Generated(n + 1, new int[] {SIZE, SIZE}, CLASSES, seed))
                .split(DataPlan.Split.byFraction(1.0 / (n + 1), seed)).build();
        ExperimentData d = ExperimentData.prepare(plan, DataSources.open(plan.source()), seed, LEVELS,
                new PrintStream(OutputStream.nullOutputStream()));
        MultiDataSet m = d.trainingData().training(n, seed).next();
        if (m.getFeatures(0).size(0) != n) {
            throw new IllegalStateException("expected one batch of " + n + " cases, got " + m.getFeatures(0).size(0));
        }
        return new DataSet(m.getFeatures(0).castTo(type), m.getLabels(0).castTo(type));
    }

    /** The training set in its stored order (no shuffling), the validation set as given (null for none). */
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

    static SparkData export(TrainingData data, int batch, Path dir) {
        return SparkData.export(data, batch, 1, dir);
    }
}
