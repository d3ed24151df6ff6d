package org.gradsurgery.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.gradsurgery.training.RunDirectory;
import org.gradsurgery.training.RunLock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 15 at the command line: external test sets are scored case by case without a split and into a new folder,
 * a run folder has one writer, settings cannot silently change on --resume, unwritable outputs and missing commands
 * are one-line usage errors.
 */
class CorrectnessCommandsTest {
    @TempDir
    static Path tmp;

    @Test
    void evaluateScoresEveryCaseOfAnExternalFolderIntoANewFolder() throws IOException {
        Path msd = UserDataCommandsTest.fakeMsd(Files.createDirectories(tmp.resolve("train")));
        Path run = tmp.resolve("run2d");
        CliRun t = UserDataCommandsTest.run(UserDataCommandsTest.TINY, "--msd", msd.toString(), "--dims", "2",
                "--val-fraction", "0.25", "--out", run.toString());
        assertEquals(0, t.exit(), t.err() + t.out());
        // an external "test set": a folder with one case only (a split would need two)
        Path ext = UserDataCommandsTest.fakeMsd(Files.createDirectories(tmp.resolve("external")));
        Path one = Files.createDirectories(tmp.resolve("one/images"));
        Path oneLabels = Files.createDirectories(tmp.resolve("one/labels"));
        Files.copy(ext.resolve("imagesTr/fake_002.nii.gz"), one.resolve("x.nii.gz"));
        Files.copy(ext.resolve("labelsTr/fake_002.nii.gz"), oneLabels.resolve("x.nii.gz"));
        String model = run.resolve(RunDirectory.MODEL).toString();
        String before = Files.readString(run.resolve(RunDirectory.REPORT));
        CliRun e = CliRun.of("evaluate", "--model", model, "--images", one.toString(), "--labels",
                oneLabels.toString(), "--all-cases");
        assertEquals(0, e.exit(), e.err());
        assertTrue(e.out().contains("scored 1 case(s)"), e.out());
        assertEquals(before, Files.readString(run.resolve(RunDirectory.REPORT)), "training report untouched");
        Path evalDir;
        try (Stream<Path> s = Files.list(run)) {
            evalDir = s.filter(p -> p.getFileName().toString().startsWith("evaluate-")).findFirst().orElseThrow();
        }
        List<String> rows = Files.readAllLines(evalDir.resolve("cases.csv"));
        assertEquals(1 + 2, rows.size(), "one case, two foreground classes");
        assertTrue(rows.get(1).startsWith("x,1,") && rows.get(1).endsWith(",12 x 10 x 8,1.5 x 1.5 x 2.0"), rows.get(1));

        // --split names a subset; an unknown case is one line
        Files.writeString(tmp.resolve("split.json"), "{\"test\": [\"fake_001\", \"fake_003\"]}");
        CliRun s = CliRun.of("evaluate", "--model", model, "--msd", ext.toString(), "--split",
                tmp.resolve("split.json").toString(), "--out", tmp.resolve("eval-split").toString());
        assertEquals(0, s.exit(), s.err());
        assertTrue(s.out().contains("scored 2 case(s)"), s.out());
        Files.writeString(tmp.resolve("bad-split.json"), "{\"test\": [\"nope\"]}");
        CliRun bad = CliRun.of("evaluate", "--model", model, "--msd", ext.toString(), "--split",
                tmp.resolve("bad-split.json").toString(), "--out", tmp.resolve("eval-bad").toString());
        assertEquals(GradSurgeryCli.EXIT_USAGE, bad.exit(), bad.err());
        assertTrue(bad.err().contains("[nope] are not in"), bad.err());
        CliRun neither = CliRun.of("evaluate", "--model", model, "--msd", ext.toString());
        assertEquals(GradSurgeryCli.EXIT_USAGE, neither.exit());
        assertTrue(neither.err().contains("--all-cases"), neither.err());

        // unwritable output: refused before any work
        Path file = Files.writeString(tmp.resolve("a-file"), "x");
        CliRun unwritable = CliRun.of("evaluate", "--model", model, "--out", file.resolve("sub").toString());
        assertEquals(GradSurgeryCli.EXIT_USAGE, unwritable.exit(), unwritable.err());
        assertTrue(unwritable.err().contains("cannot write output folder"), unwritable.err());

        // a training that fails on its data leaves no folder behind
        Path failed = tmp.resolve("failed-run");
        CliRun f = UserDataCommandsTest.run(UserDataCommandsTest.TINY, "--images", one.toString(), "--labels",
                oneLabels.toString(), "--out", failed.toString());
        assertEquals(GradSurgeryCli.EXIT_USAGE, f.exit(), f.err());
        assertFalse(Files.exists(failed), "nothing left of a refused run");

        // --resume keeps the recorded settings: another learning rate is an error naming the flag
        CliRun lr = CliRun.of("train", "--resume", run.toString(), "--lr", "0.5");
        assertEquals(GradSurgeryCli.EXIT_USAGE, lr.exit(), lr.err());
        assertTrue(lr.err().contains("--lr: the run records 0.001 in ") && lr.err().contains(", given 0.5;"), lr.err());
    }

    @Test
    void aSecondWriterOfARunFolderStopsNamingTheLock() throws Exception {
        Path run = tmp.resolve("locked");
        try (RunLock held = RunLock.acquire(run, "first training")) {
            CompletableFuture<CliRun> second = CompletableFuture.supplyAsync(() -> UserDataCommandsTest.run(
                    UserDataCommandsTest.TINY, "--out", run.toString()));
            CliRun r = second.get(120, TimeUnit.SECONDS);
            assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit(), r.err());
            assertTrue(r.err().contains("is in use by") && r.err().contains(".lock"), r.err());
            assertFalse(Files.exists(run.resolve(RunDirectory.CONFIG)), "nothing written by the refused writer");
        }
    }

    @Test
    void noCommandIsAUsageErrorAndNotebookHasHelp() {
        CliRun none = CliRun.of();
        assertEquals(GradSurgeryCli.EXIT_USAGE, none.exit());
        assertTrue(none.err().contains("Usage: gradsurgery"), none.err());
        CliRun help = CliRun.of("notebook", "--help");
        assertEquals(0, help.exit(), help.err());
        assertTrue(help.out().contains("Usage: gradsurgery notebook"), help.out());
    }
}
