package org.gradsurgery.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.gradsurgery.training.RunDirectory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code gradsurgery train --spark-master local[2]}: the same run folder and report, trained on Spark. */
class SparkTrainCommandTest {

    @TempDir
    Path tmp;

    @Test
    void trainOnLocal2WritesTheRunFolderAndReport() throws IOException {
        Path dir = tmp.resolve("run");
        CliRun r = CliRun.of("train", "--spark-master", "local[2]", "--spark-workers", "2", "--downsample", "2",
                "--levels", "2", "--filters", "4", "--epochs", "1", "--max-iterations", "2", "--batch-size", "4",
                "--progress", "plain", "--out", dir.toString());
        assertEquals(0, r.exit(), r.err() + r.out());
        assertEquals(2, r.out().lines().filter(l -> l.contains("averaging round")).count(), r.out());
        assertTrue(r.out().contains("report: "), r.out());
        assertEquals("local[2]", RunDirectory.readConfig(dir).path("spark").path("master").asText());
        assertTrue(Files.isRegularFile(dir.resolve(RunDirectory.MODEL)));
        assertTrue(Files.isRegularFile(dir.resolve(RunDirectory.REPORT)));
        assertFalse(Files.exists(dir.resolve("spark-batches")), "exported minibatches removed");
    }

    @Test
    void sparkFlagsFailOnOneLine() {
        assertOneLineError(CliRun.of("train", "--spark-master", "local[2]", "--spark-training-master",
                "gradient_sharing", "--out", tmp.resolve("a").toString()), "--spark-training-master GRADIENT_SHARING "
                + "is not supported");
        assertOneLineError(CliRun.of("train", "--spark-workers", "2", "--out", tmp.resolve("b").toString()),
                "--spark-workers needs --spark-master");
        assertOneLineError(CliRun.of("train", "--spark-master", "local[2]", "--spark-workers", "-1", "--out",
                tmp.resolve("c").toString()), "--spark-workers -1 is out of range: it must be an integer >= 0");
        assertFalse(Files.exists(tmp.resolve("a").resolve(RunDirectory.MODEL)));
    }

    private static void assertOneLineError(CliRun r, String expected) {
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit(), r.err());
        String first = r.err().lines().findFirst().orElse("");
        assertTrue(first.startsWith("gradsurgery: error: ") && first.contains(expected), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
    }
}
