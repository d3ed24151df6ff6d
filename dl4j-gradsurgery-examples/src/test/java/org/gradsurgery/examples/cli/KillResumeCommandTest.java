package org.gradsurgery.examples.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.training.EpochMetrics;
import org.gradsurgery.training.RunDirectory;
import org.gradsurgery.training.RunLock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.shade.jackson.databind.JsonNode;

/**
 * Issue 15 at the command line: {@code gradsurgery train} in a child JVM is killed with SIGKILL after its first
 * checkpoint, {@code train --resume} continues it (taking over the dead process's lock), and the result equals an
 * uninterrupted run of the same command to the last bit (the Trainer's resume contract, docs/TRAINING.md:
 * single-threaded, same backend): the final parameters and every epoch's metrics.
 */
class KillResumeCommandTest {
    private static final int EPOCHS = 4;

    @Test
    void aRunKilledAfterItsFirstCheckpointResumesToTheUninterruptedResult(@TempDir Path tmp) throws Exception {
        Path msd = UserDataCommandsTest.fakeMsd(Files.createDirectories(tmp.resolve("data")));
        List<String> flags = List.of("--msd", msd.toString(), "--dims", "2", "--val-fraction", "0.25", "--levels", "2",
                "--filters", "2", "--batch-size", "2", "--progress", "plain");
        Path killed = tmp.resolve("killed");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g", "-cp", System.getProperty("java.class.path"), GradSurgeryCli.class.getName(), "train"));
        cmd.addAll(flags);
        // a budget it cannot finish before the kill; the resume lowers it to EPOCHS (the budget may change)
        cmd.addAll(List.of("--epochs", "1000", "--out", killed.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(tmp.resolve("child.log").toFile());
        pb.environment().put("OMP_NUM_THREADS", "1");
        Process child = pb.start();
        Path state = killed.resolve(RunDirectory.CHECKPOINT_DIR).resolve(RunDirectory.STATE);
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (!Files.exists(state) && child.isAlive() && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
        } finally {
            child.destroyForcibly();                     // SIGKILL: no shutdown hook, no cleanup
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
        }
        String log = Files.readString(tmp.resolve("child.log"));
        assertTrue(Files.exists(state), "no checkpoint before the deadline: " + log);
        JsonNode checkpoint = new org.nd4j.shade.jackson.databind.ObjectMapper().readTree(state.toFile());
        int epochAtKill = checkpoint.get("epoch").asInt();
        assertTrue(epochAtKill >= 1 && epochAtKill < EPOCHS, "killed at epoch " + epochAtKill);
        assertFalse(Files.exists(killed.resolve(RunDirectory.MODEL)), "the killed run did not finish");
        assertFalse(Files.readString(killed.resolve(RunLock.FILE)).isBlank(), "the dead process's lock note remains");

        CliRun resumed = CliRun.of("train", "--resume", killed.toString(), "--epochs", String.valueOf(EPOCHS),
                "--progress", "off");
        assertEquals(0, resumed.exit(), resumed.err() + resumed.out());

        Path reference = tmp.resolve("reference");
        List<String> ref = new ArrayList<>(List.of("train"));
        ref.addAll(flags);
        ref.addAll(List.of("--epochs", String.valueOf(EPOCHS), "--out", reference.toString()));
        CliRun uninterrupted = CliRun.of(ref.toArray(new String[0]));
        assertEquals(0, uninterrupted.exit(), uninterrupted.err() + uninterrupted.out());

        float[] a = ComputationGraph.load(reference.resolve(RunDirectory.MODEL).toFile(), false).params()
                .data().asFloat();
        float[] b = ComputationGraph.load(killed.resolve(RunDirectory.MODEL).toFile(), false).params()
                .data().asFloat();
        assertArrayEquals(a, b, "final parameters of the killed-and-resumed run equal the uninterrupted run's");
        List<EpochMetrics> ma = RunDirectory.readMetrics(reference);
        List<EpochMetrics> mb = RunDirectory.readMetrics(killed);
        assertEquals(EPOCHS, ma.size());
        assertEquals(ma.stream().map(m -> List.of(m.iteration(), m.trainLoss(), m.valLoss(), m.valDice())).toList(),
                mb.stream().map(m -> List.of(m.iteration(), m.trainLoss(), m.valLoss(), m.valDice())).toList());
        assertTrue(Files.readString(killed.resolve(RunLock.FILE)).isBlank(), "lock released after the resume");
        assertTrue(Files.isRegularFile(killed.resolve(RunDirectory.REPORT)), "report written");
    }
}
