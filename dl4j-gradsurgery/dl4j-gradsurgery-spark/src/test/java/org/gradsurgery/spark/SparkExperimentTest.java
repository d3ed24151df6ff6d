package org.gradsurgery.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.gradsurgery.experiment.DataPlan;
import org.gradsurgery.experiment.DataSources;
import org.gradsurgery.experiment.ExperimentRunner;
import org.gradsurgery.experiment.ExperimentSpec;
import org.gradsurgery.experiment.UNetSpec;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.training.RunDirectory;
import org.gradsurgery.training.TrainingConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The experiment description of a single-machine run ({@link ExperimentSpec} on a {@code DataSource}) trains on
 * Spark unchanged: its run folder reads back as the same spec, and the evaluation is the project's.
 */
class SparkExperimentTest {

    @Test
    void anExperimentSpecTrainsOnLocal2AndItsRunFolderReadsBack(@TempDir Path tmp) throws Exception {
        Path run = tmp.resolve("run");
        DataPlan plan = DataPlan.builder(new DataPlan.Generated(10, new int[] {16, 16}, 3, 9)).build();
        ExperimentSpec spec = new ExperimentSpec(UNetSpec.builder().levels(2).baseFilters(4).build(),
                LossSpec.parse("dice+surgery"), TrainingConfig.builder().epochs(2).batchSize(2).runDirectory(run)
                .progress(TrainingConfig.ProgressMode.PLAIN).build(), plan, 3);
        SparkSettings settings = TinySpark.settings(2, SparkSettings.Serializer.JAVA);
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        ExperimentRunner.Outcome o;
        try (JavaSparkContext sc = settings.createContext("gradsurgery-test")) {
            o = SparkSegmentationTrainer.run(sc, spec, DataSources.open(plan.source()), settings,
                    tmp.resolve("export"), new PrintStream(log, true, StandardCharsets.UTF_8),
                    Map.of("command", List.of("test")));
        }
        String out = log.toString(StandardCharsets.UTF_8);
        System.out.print(out);
        assertEquals(o.spec(), ExperimentSpec.read(run));
        assertEquals("local[2]", RunDirectory.readConfig(run).path("spark").path("master").asText());
        // 8 training cases in minibatches of 2 = 4 files an epoch = 2 rounds of 2 workers
        assertEquals(4, o.training().iterations());
        assertEquals(4, out.lines().filter(l -> l.contains("averaging round")).count(), out);
        assertTrue(o.evaluation().meanDice() >= 0 && o.evaluation().meanDice() <= 1, o.evaluation().toString());
        assertEquals(o.training().network().params(),
                RunDirectory.loadModel(run.resolve(RunDirectory.MODEL), false).params());
        assertTrue(Files.notExists(tmp.resolve("export")), "the exported minibatches are removed");
    }
}
