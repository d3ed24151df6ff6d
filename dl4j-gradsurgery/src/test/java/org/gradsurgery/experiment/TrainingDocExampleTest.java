package org.gradsurgery.experiment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.evaluation.EvaluationResult;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.model.UNet;
import org.gradsurgery.training.RunDirectory;
import org.gradsurgery.training.Trainer;
import org.gradsurgery.training.TrainingConfig;
import org.gradsurgery.training.TrainingResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/TRAINING.md, "Reproduce a CLI run": the lines there are the lines here (checked), compiled and run on a run
 * folder written by the one training path the CLI uses; the reproduction trains to the same parameters.
 */
class TrainingDocExampleTest {
    private static final Path DOC = Path.of("..", "docs", "TRAINING.md");
    private static final String BEGIN = "    // --- TRAINING.md code begins";
    private static final String END = "    // --- TRAINING.md code ends";

    @TempDir
    Path tmp;

    // --- TRAINING.md code begins (keep in sync with docs/TRAINING.md, "Reproduce a CLI run") ---
    static EvaluationResult reproduce(Path cliRun, Path newRun, PrintStream out) throws IOException {
        ExperimentSpec spec = ExperimentSpec.read(cliRun);                       // its config.json
        DataSource source = DataSources.open(spec.data().source());              // the same cases
        ExperimentData data = ExperimentData.prepare(spec.data(), source, spec.seed(),
                spec.model().levels(), out);                                     // same split and preprocessing
        ComputationGraph net = UNet.builder().from(spec.model())
                .loss(spec.loss().create()).build().graph();                     // same initial network
        TrainingConfig config = spec.training().toBuilder().runDirectory(newRun).build();
        TrainingResult r = Trainer.builder(config).output(out).build().fit(net, data.trainingData());
        EvaluationResult e = data.evaluate(r.network(), 15, null);               // on the held-out cases
        out.printf("%s: Dice %.4f, ECE %.4f%n", spec.loss().label(), e.meanDice(), e.ece());
        return e;
    }
    // --- TRAINING.md code ends ---

    @Test
    void theDocumentedLinesReproduceARun() throws IOException {
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        Path cliRun = tmp.resolve("cli-run");
        DataPlan plan = DataPlan.builder(new DataPlan.Generated(5, new int[] {16, 16}, 3, 4))
                .augmentation(DataPlan.Augmentation.FLIPS).build();
        ExperimentSpec spec = new ExperimentSpec(UNetSpec.builder().levels(2).baseFilters(4).build(),
                LossSpec.parse("dice+surgery"), TrainingConfig.builder().epochs(2).batchSize(2).runDirectory(cliRun)
                .progress(TrainingConfig.ProgressMode.OFF).build(), plan, 7);
        ExperimentRunner.Outcome original = ExperimentRunner.run(spec, DataSources.open(plan.source()), quiet,
                Map.of());

        EvaluationResult again = reproduce(cliRun, tmp.resolve("again"), quiet);
        ComputationGraph a = RunDirectory.loadModel(cliRun.resolve(RunDirectory.MODEL), false);
        ComputationGraph b = RunDirectory.loadModel(tmp.resolve("again").resolve(RunDirectory.MODEL), false);
        assertEquals(a.params(), b.params());
        assertEquals(original.evaluation().meanDice(), again.meanDice(), 1e-9);
        assertEquals(original.evaluation().ece(), again.ece(), 1e-9);
    }

    @Test
    void theDocShowsExactlyTheseLines() throws IOException {
        String source = Files.readString(Path.of("src", "test", "java", "org", "gradsurgery", "experiment",
                "TrainingDocExampleTest.java"));
        List<String> lines = source.lines().toList();
        int from = -1;
        int to = -1;
        for (int i = 0; i < lines.size(); i++) {
            if (lines.get(i).startsWith(BEGIN)) {
                from = i + 1;
            } else if (lines.get(i).startsWith(END)) {
                to = i;
            }
        }
        StringBuilder code = new StringBuilder();
        for (String l : lines.subList(from, to)) {
            code.append(l.length() >= 4 ? l.substring(4) : l.strip()).append('\n');
        }
        String doc = Files.readString(DOC);
        assertTrue(doc.contains("```java\n" + code + "```"), "docs/TRAINING.md must show:\n" + code);
    }
}
