package org.gradsurgery.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.gradsurgery.training.EpochMetrics;
import org.gradsurgery.training.RunDirectory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Issue 15, point 6: flags next to {@code train --resume} are compared with the run's config.json: the recorded
 * values are accepted, the budget may change, any other difference is one line naming the flag and both values.
 */
class ResumeRulesTest {
    @TempDir
    static Path tmp;

    @Test
    void everyTrainOptionHasAResumeRule() {
        CommandSpec train = GradSurgeryCli.commandLine().getSubcommands().get("train").getCommandSpec();
        List<String> wrong = new ArrayList<>();
        for (OptionSpec o : train.options()) {
            String f = o.longestName();
            int rules = (ResumeRules.SETTINGS.containsKey(f) ? 1 : 0) + (ResumeRules.CHANGEABLE.contains(f) ? 1 : 0)
                    + (ResumeRules.COMMAND.contains(f) ? 1 : 0);
            if (rules != 1) {
                wrong.add(f + " (" + rules + " rules)");
            }
        }
        assertTrue(wrong.isEmpty(), "train options without exactly one resume rule: " + wrong);
        assertTrue(train.options().size() > 40, "the walk saw train's options: " + train.options().size());
    }

    @Test
    void settingsFlagsOnResumeMustMatchTheRecordedRun() throws IOException {
        Path msd = UserDataCommandsTest.fakeMsd(Files.createDirectories(tmp.resolve("data")));
        Path run = tmp.resolve("run");
        List<String> original = new ArrayList<>(UserDataCommandsTest.TINY);
        original.addAll(List.of("--msd", msd.toString(), "--dims", "2", "--val-fraction", "0.25", "--lr", "0.002"));
        CliRun t = UserDataCommandsTest.run(original, "--out", run.toString());
        assertEquals(0, t.exit(), t.err() + t.out());
        Path config = run.resolve(RunDirectory.CONFIG);
        String recorded = Files.readString(config);

        // a changed setting: one line with the flag and both values, nothing trained
        assertRefused(resume(run, "--lr", "0.5"), "--lr: the run records 0.002 in " + config + ", given 0.5;");
        assertRefused(resume(run, "--surgery"), "--surgery: the run records false in " + config + ", given true;");
        assertRefused(resume(run, "--levels", "3"), "--levels: the run records 2 in " + config + ", given 3;");
        assertRefused(resume(run, "--batch-size", "4"), "--batch-size: the run records 2 in " + config + ", given 4;");
        assertRefused(resume(run, "--val-fraction", "0.5"), "--val-fraction: the run records 0.25 in " + config
                + ", given 0.5;");
        assertRefused(resume(run, "--intensity", "percentile"), "--intensity: the run records zscore in " + config
                + ", given percentile;");
        Path other = UserDataCommandsTest.fakeMsd(Files.createDirectories(tmp.resolve("other")));
        assertRefused(resume(run, "--msd", other.toString()), "--msd: the run records --msd " + msd.toAbsolutePath()
                + " in " + config + ", given --msd " + other.toAbsolutePath() + ";");
        // a flag that only means something with another one is named as such
        assertRefused(resume(run, "--patience", "3"), "--patience applies with --early-stopping METRIC only");
        CliRun elsewhere = resume(run, "--out", tmp.resolve("elsewhere").toString());
        assertEquals(GradSurgeryCli.EXIT_USAGE, elsewhere.exit(), elsewhere.err());
        assertTrue(elsewhere.err().contains("name two folders"), elsewhere.err());
        assertEquals(List.of(2L), iterations(run), "nothing trained by a refused resume");
        assertEquals(recorded, Files.readString(config));

        // the original command line again, with a larger budget: the same settings are accepted and it trains on
        List<String> again = new ArrayList<>(original);
        again.set(again.indexOf("--epochs") + 1, "2");
        again.set(again.indexOf("--max-iterations") + 1, "0");
        again.addAll(List.of("--resume", run.toString()));
        again.add(0, "train");
        CliRun ok = CliRun.of(again.toArray(new String[0]));
        assertEquals(0, ok.exit(), ok.err() + ok.out());
        List<Long> its = iterations(run);
        assertEquals(2, its.size(), "a second epoch was trained: " + its);
        assertTrue(its.get(1) > its.get(0), its.toString());
    }

    private static CliRun resume(Path run, String... flags) {
        List<String> args = new ArrayList<>(List.of("train", "--resume", run.toString(), "--progress", "off"));
        args.addAll(List.of(flags));
        return CliRun.of(args.toArray(new String[0]));
    }

    private static List<Long> iterations(Path run) throws IOException {
        return RunDirectory.readMetrics(run).stream().map(EpochMetrics::iteration).toList();
    }

    private static void assertRefused(CliRun r, String expected) {
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit(), r.err() + r.out());
        List<String> lines = r.err().lines().toList();
        assertEquals(1, lines.size(), "one line: " + r.err());
        assertTrue(lines.get(0).startsWith("gradsurgery: error: ") && lines.get(0).contains(expected), r.err());
        assertFalse(r.out().contains("report: "), r.out());
    }
}
