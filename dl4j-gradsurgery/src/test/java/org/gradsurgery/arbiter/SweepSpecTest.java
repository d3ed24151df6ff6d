package org.gradsurgery.arbiter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SweepSpecTest {

    private static String message(String json) {
        return assertThrows(IllegalArgumentException.class, () -> SweepSpec.parse(json, "s.json")).getMessage();
    }

    @Test
    void defaultsAndParsedValues() {
        SweepSpec s = SweepSpec.parse("{\"search\": {\"strategy\": \"grid\", \"candidates\": 5, \"gridPoints\": 2},"
                + " \"score\": {\"objective\": \"ece_top_label\"},"
                + " \"space\": {\"loss\": [\"dice\", \"Focal-Tversky\"], \"exponent\": {\"min\": 0.5, \"max\": 2}}}",
                "s.json");
        assertEquals(SweepSpec.Strategy.GRID, s.strategy());
        assertEquals(5, s.candidates());
        assertEquals(2, s.gridPoints());
        assertEquals(10, s.epochs());
        assertEquals(3, s.patience());
        assertEquals(ValidationMetrics.Metric.ECE_TOP_LABEL, s.objective().metric());
        assertEquals(false, s.objective().isConstrained());
        assertEquals("colin27-deepgm", s.dataset());
        // 2 losses x 2 exponent grid points, but the surgery is off by default, so the exponent is inert: 2
        assertEquals(2, SweepRunner.plannedCandidates(s));
        // the exponent is inert without the surgery: off once, on x 3 exponents = 4 distinct of the grid's 6
        SweepSpec inert = SweepSpec.parse("{\"search\": {\"strategy\": \"grid\", \"candidates\": 10},"
                + " \"space\": {\"surgery\": [false, true], \"exponent\": {\"min\": 0.5, \"max\": 2}}}", "s.json");
        assertEquals(4, SweepRunner.plannedCandidates(inert));
        // a random search over 2 choices cannot find 4 distinct candidates
        assertEquals(2, SweepRunner.plannedCandidates(SweepSpec.parse(
                "{\"search\": {\"candidates\": 4}, \"space\": {\"loss\": [\"dice\", \"jaccard\"]}}", "s.json")));
        SweepSpec c = SweepSpec.parse("{\"space\": {}}", "s.json");
        assertTrue(c.objective().isConstrained());
        assertEquals(0.02, c.objective().delta());
        assertEquals(ValidationMetrics.Metric.ECE_CLASSWISE, c.objective().metric());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
        {"space": {"exponnt": 1}}                                   | s.json: space.exponnt: unknown parameter (known: loss, surgery,
        {"space": {"exponent": {"min": 2, "max": 0.5}}}             | s.json: space.exponent: empty range: min 2.0 > max 0.5
        {"space": {"loss": []}}                                     | s.json: space.loss: empty list
        {"space": {"loss": ["dice", "dcie"]}}                       | s.json: space.loss[1]: unknown loss 'dcie' (known: dice, jaccard, tversky, focal-tversky, generalized-dice, mcxent)
        {"space": {"loss": "dice"}, "search": {"candidates": 0}}    | s.json: search.candidates: expected an integer >= 1, got 0
        {"space": {}, "search": {"maxMinutes": -1}}                 | s.json: search.maxMinutes: expected a number > 0, got -1
        {"space": {}, "search": {"strategy": "bayes"}}              | s.json: search.strategy: expected one of random, grid, got "bayes"
        {"space": {}, "training": {"epochs": 1.5}}                  | s.json: training.epochs: expected an integer >= 1, got 1.5
        {"space": {}, "trainig": {}}                                | s.json: trainig: unknown key (known: search, training, score, data, space)
        {"space": {}, "score": {"objective": "dice", "detla": 1}}   | s.json: score.detla: unknown key
        {"space": {}, "score": {"objective": "constrained", "ece": "dice"}} | s.json: score.ece: expected one of ece_classwise
        {"space": {"loss": {"min": 0, "max": 1}}}                   | s.json: space.loss.min: expected a loss name
        {"space": {"surgery": {"min": 0, "max": 1}}}                | s.json: space.surgery.min: expected true or false
        {"space": {"learningRate": {"min": 0, "max": 0.1, "log": true}}} | s.json: space.learningRate: a log range needs min > 0
        {"space": {"levels": {"min": 2, "max": 3.5}}}               | s.json: space.levels.max: expected an integer, got 3.5
        {"space": {"dropout": [0.0, 1.0]}}                          | s.json: space.dropout[1]: must be in [0.0, 1.0), got 1.0
        {"space": {"normalization": "layer"}}                       | s.json: space.normalization: expected one of
        {"space": {"reduction": "example"}}                         | s.json: space.reduction: expected sample or batch, got "example"
        {"space": {"surgerySpace": ["logits", "grads"]}}            | s.json: space.surgerySpace[1]: expected logits or probabilities, got "grads"
        {"space": {"surgery": [true, true]}}                        | s.json: space.surgery[1]: duplicate value true
        {"space": {"exponent": -1}}                                 | s.json: space.exponent: must be in [0.0, Infinity], got -1.0
        {"space": {"exponent": {"min": 1}}}                         | s.json: space.exponent: a range needs numeric "min" and "max"
        {"space": {}, "data": {"dataset": "brats"}}                 | s.json: data.dataset: expected one of colin27-deepgm
        {"search": {}}                                              | s.json: space: missing
        [1, 2]                                                      | s.json: the spec must be a JSON object
        {"space": {                                                 | s.json: not valid JSON
        """)
    void badSpecsAreRejectedNamingTheKey(String json, String expectedStart) {
        String m = message(json);
        assertTrue(m.startsWith(expectedStart.strip()), () -> "message was: " + m);
    }

    @Test
    void readsFilesAndReportsMissingOnes(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("x.json");
        Files.writeString(f, "{\"space\": {\"surgery\": [false, true]}}");
        SweepSpec s = SweepSpec.read(f);
        assertEquals("x.json", s.source());
        assertEquals(4, s.candidates());
        assertThrows(NoSuchFileException.class, () -> SweepSpec.read(dir.resolve("missing.json")));
    }

    @Test
    void anyDataSourceAsAPlan() {
        SweepSpec s = SweepSpec.parse("{\"data\": {\"plan\": {\"source\": {\"type\": \"msd\", \"dir\": \"/data/T4\"},"
                + " \"numClasses\": 3}}, \"space\": {\"levels\": [2, 3]}}", "s.json");
        assertEquals(new org.gradsurgery.experiment.DataPlan.Msd("/data/T4"), s.plan().source());
        assertEquals(3, s.plan().numClasses());
        assertEquals(3, s.maxLevels());
        assertEquals("plan", s.dataset());
        assertEquals(null, SweepSpec.parse("{\"space\": {}}", "s.json").plan());
        assertTrue(message("{\"data\": {\"plan\": {\"source\": {\"type\": \"msd\", \"dir\": \"x\"}}, \"downsample\": 1},"
                + " \"space\": {}}").contains("data.plan: names the data itself"));
        assertTrue(message("{\"data\": {\"plan\": {\"source\": {\"type\": \"msd\", \"dir\": \"x\"}, \"dims\": 4}},"
                + " \"space\": {}}").contains("s.json: data.plan:"));
        java.util.Map<String, Object> msd = java.util.Map.of("source", java.util.Map.of("type", "msd", "dir", "/d"),
                "dims", 3);
        assertEquals(java.util.List.of("--msd", "/d", "--dims", "3"), SweepReport.dataFlags(msd));
    }
}
