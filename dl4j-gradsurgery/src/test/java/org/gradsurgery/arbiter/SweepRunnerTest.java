package org.gradsurgery.arbiter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.conf.serde.JsonMappers;
import org.gradsurgery.training.RunDirectory;
import org.gradsurgery.training.TrainingConfig;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.gradsurgery.layers.SegmentationLossLayer;
import org.gradsurgery.loss.GradientSurgery;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.model.UNet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real (tiny) sweeps: U-Nets with 2 levels and 4 base filters on 16 × 16 synthetic images, 1 epoch each. */
class SweepRunnerTest {
    private static final String TRAINING = "\"training\": {\"epochs\": 1, \"patience\": 1, \"batchSize\": 4},";
    private static final String NET = "\"levels\": 2, \"baseFilters\": 4, ";

    private static List<CandidateResult> run(String json, Path out, List<String> progress) throws Exception {
        return run(json, out, progress, SyntheticSweepData.data());
    }

    private static List<CandidateResult> run(String json, Path out, List<String> progress, SweepData data)
            throws Exception {
        SweepSpec spec = SweepSpec.parse(json, "test.json");
        return new SweepRunner(spec, data, new UNetModelFactory(), out, Map.of("dataset", "synthetic"),
                progress::add).run();
    }

    private static List<String[]> csvRows(Path out) throws Exception {
        List<String> lines = Files.readAllLines(out.resolve(SweepReport.CSV));
        List<String[]> rows = new ArrayList<>();
        for (String l : lines.subList(1, lines.size())) {
            rows.add(l.split(",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", -1));
        }
        return rows;
    }

    @Test
    void randomSearchOfThreeCandidatesRanksByTheConstrainedScore(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("sweep");
        List<String> progress = new ArrayList<>();
        List<CandidateResult> ranked = run("{\"search\": {\"strategy\": \"random\", \"candidates\": 3, \"seed\": 5},"
                + TRAINING + "\"score\": {\"objective\": \"constrained\", \"delta\": 0.05},"
                + "\"space\": {" + NET + "\"surgery\": [false, true], \"exponent\": {\"min\": 0.5, \"max\": 2},"
                + "\"learningRate\": {\"min\": 0.003, \"max\": 0.03, \"log\": true}}}", out, progress);
        assertEquals(3, ranked.size());
        assertTrue(ranked.stream().noneMatch(CandidateResult::failed), ranked::toString);
        assertEquals(SweepRunner.candidates(SweepSpec.parse(Files.readString(out.resolve("sweep-spec.json")), "x")),
                ranked.stream().sorted(Comparator.comparingInt(CandidateResult::index))
                        .map(CandidateResult::candidate).toList(), "the run trains the candidates drawn up front");

        // the constrained rule, recomputed from the CSV: eligible = dice >= best - 0.05, by ECE; then by Dice
        List<String[]> rows = csvRows(out);
        assertEquals(3, rows.size());
        double bestDice = rows.stream().mapToDouble(r -> Double.parseDouble(r[4])).max().orElseThrow();
        List<String[]> expected = new ArrayList<>(rows);
        expected.sort(Comparator.comparing((String[] r) -> Double.parseDouble(r[4]) >= bestDice - 0.05 ? 0 : 1)
                .thenComparing(r -> Double.parseDouble(r[4]) >= bestDice - 0.05 ? Double.parseDouble(r[5])
                        : -Double.parseDouble(r[4])));
        for (int i = 0; i < rows.size(); i++) {
            assertEquals(expected.get(i)[1], rows.get(i)[1], "rank " + (i + 1));
            assertEquals(String.valueOf(i + 1), rows.get(i)[0]);
            assertEquals(String.valueOf(Double.parseDouble(rows.get(i)[4]) >= bestDice - 0.05), rows.get(i)[3]);
        }

        // one run directory per candidate, with a loadable model trained with the candidate's loss
        for (CandidateResult r : ranked) {
            Path run = out.resolve(r.runDirectory());
            for (String f : new String[]{RunDirectory.CONFIG, RunDirectory.METRICS, RunDirectory.BEST,
                    RunDirectory.MODEL, SweepReport.CANDIDATE_METRICS}) {
                assertTrue(Files.isRegularFile(run.resolve(f)), run.resolve(f).toString());
            }
            assertEquals(r.epochs(), RunDirectory.readMetrics(run).size());
            ComputationGraph net = RunDirectory.loadModel(run.resolve(RunDirectory.BEST), false);
            SegmentationLossLayer loss = (SegmentationLossLayer) net.getLayer(UNet.OUTPUT).conf().getLayer();
            assertEquals(r.candidate().loss(), loss.getLossFn());
        }
        // the best configuration is the best run's config.json without its run directory
        JsonNode best = JsonMappers.getMapper().readTree(out.resolve(SweepReport.BEST_CONFIG).toFile());
        JsonNode bestRun = RunDirectory.readConfig(out.resolve(ranked.get(0).runDirectory()));
        assertTrue(best.get("training").get("runDirectory").isNull());
        assertEquals(bestRun.get("training").get("seed"), best.get("training").get("seed"));
        assertEquals(bestRun.get("lossFunction"), best.get("lossFunction"));
        assertEquals(bestRun.get("model"), best.get("model"));
        assertEquals(ranked.get(0).candidate().loss(),
                JsonMappers.getMapper().treeToValue(best.get("lossFunction"), ILossFunction.class));
        // default Dice with or without the surgery: gradsurgery train can retrain it; its loss name says which
        boolean surgery = ranked.get(0).candidate().loss() instanceof GradientSurgery;
        assertTrue(best.get("loss").asText().startsWith(surgery ? "dice+surgery:" : "dice"), best.toString());
        assertEquals(ranked.get(0).candidate().loss(), LossSpec.parse(best.get("loss").asText()).create());
        assertEquals("train", best.get("command").get(0).asText());
        assertEquals(surgery, best.get("command").toString().contains("\"--surgery\""));
        assertTrue(Files.readString(out.resolve(SweepReport.MARKDOWN)).contains("Train it again: `gradsurgery train"));
        TrainingConfig retrain = TrainingConfig.fromJson(best.get("training").toString());
        assertEquals(1, retrain.epochs());
        String md = Files.readString(out.resolve(SweepReport.MARKDOWN));
        assertTrue(md.contains("Best: candidate " + (ranked.get(0).index() + 1)), md);
        try (var files = Files.list(out)) {
            assertTrue(files.noneMatch(p -> p.getFileName().toString().startsWith(".")), "no temporary files left");
        }

        // progress: header plus one line per candidate with the best so far
        assertEquals(4, progress.size(), progress::toString);
        assertTrue(progress.get(0).contains("random search, 3 candidates"), progress.get(0));
        for (int i = 1; i <= 3; i++) {
            assertTrue(progress.get(i).startsWith("candidate " + i + " of 3: "), progress.get(i));
            assertTrue(progress.get(i).contains("| best so far: candidate "), progress.get(i));
        }
        // a second sweep into the same folder is refused before anything trains
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> run("{\"space\": {}}", out, new ArrayList<>()));
        assertTrue(e.getMessage().contains("already holds a sweep"), e.getMessage());
    }

    @Test
    void gridSearchTwoByTwoTriesEveryCombinationOnce(@TempDir Path dir) throws Exception {
        Path out = dir.resolve("grid");
        List<CandidateResult> ranked = run("{\"search\": {\"strategy\": \"grid\", \"candidates\": 10},"
                + TRAINING + "\"score\": {\"objective\": \"dice\"},"
                + "\"space\": {" + NET + "\"loss\": [\"dice\", \"jaccard\"], \"surgery\": [false, true]}}", out,
                new ArrayList<>());
        assertEquals(4, ranked.size());
        Set<String> combos = new HashSet<>();
        for (CandidateResult r : ranked) {
            assertFalse(r.failed(), r::toString);
            boolean surgery = r.candidate().loss() instanceof GradientSurgery;
            Object base = surgery ? ((GradientSurgery) r.candidate().loss()).getBase() : r.candidate().loss();
            combos.add(base.getClass().getSimpleName() + "/" + surgery);
        }
        assertEquals(Set.of("LossDice/false", "LossDice/true", "LossJaccard/false", "LossJaccard/true"), combos);
        for (int i = 1; i < ranked.size(); i++) {
            assertTrue(ranked.get(i - 1).metrics().dice() >= ranked.get(i).metrics().dice());
        }
        assertEquals(4, csvRows(out).size());
    }

    @Test
    void aFailingCandidateIsReportedAndRankedLast(@TempDir Path dir) throws Exception {
        SweepSpec spec = SweepSpec.parse("{\"search\": {\"strategy\": \"grid\"}," + TRAINING
                + "\"score\": {\"objective\": \"dice\"}, \"space\": {" + NET + "\"loss\": [\"jaccard\", \"dice\"]}}",
                "test.json");
        UNetModelFactory unets = new UNetModelFactory();
        CandidateModelFactory failsOnJaccard = (c, d, seed) -> {
            if (SweepReport.describe(c.loss()).equals("jaccard")) {
                throw new IllegalStateException("out of native memory (simulated)");
            }
            return unets.build(c, d, seed);
        };
        Path out = dir.resolve("fail");
        List<String> progress = new ArrayList<>();
        List<CandidateResult> ranked = new SweepRunner(spec, SyntheticSweepData.data(), failsOnJaccard, out,
                Map.of(), progress::add).run();
        assertEquals(2, ranked.size());
        assertFalse(ranked.get(0).failed());
        assertTrue(ranked.get(1).failed());
        assertEquals("IllegalStateException: out of native memory (simulated)", ranked.get(1).error());
        assertTrue(progress.get(1).contains("FAILED: IllegalStateException"), progress.get(1));
        List<String[]> rows = csvRows(out);
        assertEquals("completed", rows.get(0)[2]);
        assertEquals("failed", rows.get(1)[2]);
        assertTrue(Files.isRegularFile(out.resolve(SweepReport.BEST_CONFIG)));
    }

    @Test
    void earlyStoppingKeepsTheBestEpoch(@TempDir Path dir) throws Exception {
        // lr 1e-12: the weights do not move in FLOAT, Dice never improves after epoch 1, patience 1 stops at 2
        List<CandidateResult> ranked = run("{\"search\": {\"candidates\": 1},"
                + "\"training\": {\"epochs\": 6, \"patience\": 1, \"batchSize\": 4}, \"score\": {\"objective\": \"dice\"},"
                + "\"space\": {" + NET + "\"learningRate\": 1e-12}}", dir.resolve("es"), new ArrayList<>(),
                SyntheticSweepData.dataFromIterators());
        CandidateResult r = ranked.get(0);
        assertEquals("early stopping", r.stopReason());
        assertEquals(2, r.epochs());
        assertEquals(1, r.bestEpoch());
    }

    @Test
    void candidatesThatCannotBeBuiltAreRejectedBeforeTraining(@TempDir Path dir) {
        Path out = dir.resolve("never");
        // 6 levels need sizes divisible by 32; the synthetic images are 16 x 16
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> run(
                "{\"search\": {\"candidates\": 2}, \"space\": {\"levels\": [2, 6], \"baseFilters\": 4}}", out,
                new ArrayList<>()));
        assertTrue(e.getMessage().startsWith("test.json: candidate "), e.getMessage());
        assertTrue(e.getMessage().contains("levels=6"), e.getMessage());
        assertFalse(Files.exists(out), "nothing written");
    }

    @Test
    void anExhaustedTimeBudgetEndsWithAnEmptySummary(@TempDir Path dir) throws Exception {
        // Arbiter polls for a second before queueing the first candidate; 6 ms have passed by then
        Path out = dir.resolve("late");
        List<CandidateResult> ranked = run("{\"search\": {\"candidates\": 3, \"maxMinutes\": 0.0001},"
                + "\"space\": {" + NET + "\"surgery\": true}}", out, new ArrayList<>());
        assertTrue(ranked.isEmpty());
        assertTrue(Files.readString(out.resolve(SweepReport.MARKDOWN)).contains("No candidate completed"));
        assertFalse(Files.exists(out.resolve(SweepReport.BEST_CONFIG)));
        assertInstanceOf(List.class, csvRows(out));
        assertEquals(0, csvRows(out).size());
    }
}
