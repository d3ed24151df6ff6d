package org.gradsurgery.study;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.gradsurgery.training.TrainingConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StudySmokeTest {

    static StudySpec tiny(int epochs, List<Long> seeds) {
        return StudySpec.parse("""
                {"name": "tiny", "data": {"source": {"type": "known-probability", "cases": 20, "size": 16,
                  "edgeMin": 0.5, "edgeMax": 3, "noise": 0.3, "seed": 5}, "augmentation": "flips",
                  "commonPadding": true, "split": {"trainingCases": 10, "validationCases": 4, "testCases": 6,
                  "seed": 1}},
                 "model": {"levels": 2, "baseFilters": 4, "learningRate": 0.01},
                 "training": {"epochs": %d, "batchSize": 4},
                 "arms": ["mcxent", "dice", "dice+surgery"], "seeds": %s, "temperatureScaling": true}
                """.formatted(epochs, seeds.toString()));
    }

    @Test
    void everyArmProducesFiniteMetricsAndTheReportHasItsParts(@TempDir Path dir) throws Exception {
        ByteArrayOutputStream log = new ByteArrayOutputStream();
        Path md = new Study(tiny(2, List.of(3L)), dir, null, new PrintStream(log, true, StandardCharsets.UTF_8),
                TrainingConfig.ProgressMode.OFF).run();
        String text = Files.readString(md);
        for (String part : new String[] {"## Test metrics per arm", "## Per class", "## With surgery − without",
                "### The paper's claim, checked", "mean abs(p − q)", "| dice |", "| dice + surgery |",
                "| dice + surgery − dice | "}) {
            assertTrue(text.contains(part), part + " missing in\n" + text);
        }
        assertTrue(text.contains("Runs finished: 3 of 3."), text);
        List<String> csv = Files.readAllLines(dir.resolve("study.csv"));
        assertEquals(1 + 3 * 6, csv.size(), String.join("\n", csv));
        String[] head = csv.get(0).split(",");
        for (String line : csv.subList(1, csv.size())) {
            String[] f = line.split(",");
            for (int i = 4; i < f.length; i++) {
                if (!head[i].startsWith("hd95") && !head[i].startsWith("dice_a_over_b")) {
                    assertFalse(f[i].equals("NaN"), head[i] + " is NaN in " + line);
                }
            }
        }
        for (String png : new String[] {"dice_vs_ece.png", "reliability.png", "reliability_ts.png",
                "validation_curves.png", "reliability_q.png"}) {
            assertTrue(Files.size(dir.resolve(png)) > 1000, png);
        }
        assertTrue(Files.isRegularFile(dir.resolve("split.json")));
        String out = log.toString(StandardCharsets.UTF_8);
        assertTrue(out.contains("== run 3/3: dice + surgery, seed 3"), out);
        // a second invocation skips everything
        ByteArrayOutputStream again = new ByteArrayOutputStream();
        new Study(tiny(2, List.of(3L)), dir, null, new PrintStream(again, true, StandardCharsets.UTF_8),
                TrainingConfig.ProgressMode.OFF).run();
        assertTrue(again.toString(StandardCharsets.UTF_8).contains("run 2/3: dice, seed 3: done"), again.toString());
        assertEquals(csv, Files.readAllLines(dir.resolve("study.csv")));
    }
}
