package org.gradsurgery.study;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.gradsurgery.training.EpochMetrics;
import org.gradsurgery.training.RunDirectory;
import org.gradsurgery.training.TrainingConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StudyResumeTest {

    /** Throws at the n-th update of the process, like a kill in the middle of an epoch. */
    static final class Kill extends BaseTrainingListener {
        private final int at;
        private int count;

        Kill(int at) {
            this.at = at;
        }

        @Override
        public void iterationDone(Model model, int iteration, int epoch) {
            if (++count == at) {
                throw new IllegalStateException("simulated kill");
            }
        }
    }

    @Test
    void aKilledAndRestartedStudyWritesTheSameCsvAsAnUninterruptedOne(@TempDir Path tmp) throws Exception {
        StudySpec spec = StudySmokeTest.tiny(2, List.of(4L));
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        Path whole = tmp.resolve("whole");
        new Study(spec, whole, null, quiet, TrainingConfig.ProgressMode.OFF).run();
        Path killed = tmp.resolve("killed");
        // 10 training images in batches of 4: 3 updates per epoch, 6 per run; update 11 is in epoch 2 of run 2
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> new Study(spec, killed, null, quiet, TrainingConfig.ProgressMode.OFF).listener(new Kill(11))
                        .run());
        assertEquals("simulated kill", e.getMessage());
        assertTrue(Files.isRegularFile(killed.resolve("runs/dice/seed-4/checkpoint/state.json")));
        assertTrue(Files.notExists(killed.resolve("runs/dice/seed-4/result.json")));
        new Study(spec, killed, null, quiet, TrainingConfig.ProgressMode.OFF).run();
        assertEquals(Files.readAllLines(whole.resolve("study.csv")), Files.readAllLines(killed.resolve("study.csv")));
        // the resumed run's training time counts the epoch before the kill too (metrics.csv rounds to ms)
        Path resumed = killed.resolve("runs/dice/seed-4");
        List<EpochMetrics> history = RunDirectory.readMetrics(resumed);
        assertEquals(2, history.size());
        assertEquals(history.stream().mapToDouble(EpochMetrics::seconds).sum(),
                RunResult.read(resumed.resolve(Study.RESULT)).trainSeconds(), 1e-3 * history.size());
        // another spec into the same folder is refused, more seeds are not
        StudySpec other = StudySpec.parse(spec.toJson().replace("\"learningRate\" : 0.01", "\"learningRate\" : 0.02"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new Study(other, killed, null, quiet,
                TrainingConfig.ProgressMode.OFF).run()).getMessage().contains("holds a study with other settings"));
    }
}
