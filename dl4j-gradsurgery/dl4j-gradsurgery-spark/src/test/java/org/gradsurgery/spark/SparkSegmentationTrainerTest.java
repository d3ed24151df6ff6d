package org.gradsurgery.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.model.UNet;
import org.gradsurgery.training.EpochMetrics;
import org.gradsurgery.training.RunDirectory;
import org.gradsurgery.training.TrainingConfig;
import org.gradsurgery.training.TrainingData;
import org.gradsurgery.training.TrainingResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.shade.jackson.databind.JsonNode;

/**
 * Issue 14 on {@code local[2]}: three epochs of parameter averaging (2 workers, 4 examples per minibatch, 6 files per
 * epoch = 3 averaging rounds) train a tiny U-Net of the project's layers under Dice + surgery, write the run
 * directory, and the saved model predicts what the driver's averaged network predicts.
 */
class SparkSegmentationTrainerTest {

    @Test
    void threeEpochsOnLocal2LowerTheScoreAndWriteTheRunDirectory(@TempDir Path tmp) throws Exception {
        DataSet train = TinySpark.cases(24, 11, DataType.FLOAT);
        DataSet val = TinySpark.cases(8, 12, DataType.FLOAT);
        ComputationGraph net = TinySpark.unet(new Adam(3e-2), DataType.FLOAT, UNet.Normalization.INSTANCE, 3);
        double start = net.score(train);
        Path run = tmp.resolve("run");
        TrainingConfig config = TrainingConfig.builder().epochs(3).batchSize(4).seed(5).runDirectory(run)
                .progress(TrainingConfig.ProgressMode.PLAIN).build();
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        TrainingResult r;
        try (JavaSparkContext sc = TinySpark.local(2, SparkSettings.Serializer.JAVA)) {
            SparkData data = TinySpark.export(TinySpark.data(train, val), 4, tmp.resolve("batches"));
            r = SparkSegmentationTrainer.builder(config, TinySpark.settings(2, SparkSettings.Serializer.JAVA))
                    .output(new PrintStream(log, true, StandardCharsets.UTF_8)).metadata("loss", "dice+surgery")
                    .build().fit(sc, net, data);
            data.close();
        }
        String out = log.toString(StandardCharsets.UTF_8);
        System.out.print(out);
        double end = r.network().score(train);
        System.out.printf("Spark local[2]: training score %.4f -> %.4f after %d rounds%n", start, end, r.iterations());
        assertTrue(end < 0.8 * start, "score " + start + " -> " + end);
        assertEquals(3, r.epochs());
        assertEquals(9, r.iterations(), "3 epochs x 6 minibatch files / (2 workers x 1 per round)");
        assertEquals(9, out.lines().filter(l -> l.contains("averaging round")).count(), out);

        // the run directory of the single-machine trainer, plus the Spark settings
        JsonNode cfg = RunDirectory.readConfig(run);
        assertEquals(4, cfg.path("training").path("batchSize").asInt());
        assertEquals("local[2]", cfg.path("spark").path("master").asText());
        assertEquals("dice+surgery", cfg.path("loss").asText());
        List<EpochMetrics> metrics = RunDirectory.readMetrics(run);
        assertEquals(3, metrics.size());
        assertTrue(metrics.get(2).valDice() > 0 && metrics.get(2).valEce() >= 0, metrics.toString());
        try (var files = Files.list(run.resolve(RunDirectory.CHECKPOINT_DIR))) {
            assertEquals(List.of("checkpoint-9.zip"), files.map(p -> p.getFileName().toString()).toList());
        }
        assertTrue(Files.notExists(tmp.resolve("batches")), "exported minibatches removed by close()");

        ComputationGraph saved = RunDirectory.loadModel(run.resolve(RunDirectory.MODEL), false);
        INDArray expected = r.network().outputSingle(val.getFeatures());
        assertEquals(expected, saved.outputSingle(val.getFeatures()));
        assertEquals(r.network().params(), saved.params());
    }
}
