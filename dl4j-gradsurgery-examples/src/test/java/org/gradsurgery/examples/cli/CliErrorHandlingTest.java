package org.gradsurgery.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.NoSuchFileException;
import org.gradsurgery.InvalidSettingException;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** User mistakes give one line and exit 2; other failures exit 1; --verbose adds the stack trace. */
class CliErrorHandlingTest {

    @Command(name = "boom")
    static final class Boom implements Callable<Integer> {
        @Option(names = "--kind")
        String kind = "arg";

        @Override
        public Integer call() throws Exception {
            switch (kind) {
                case "arg": throw new InvalidSettingException(null, "batchSize", "must be >= 1, got 0");
                case "loss": throw InvalidSettingException.unreadable("loss", "unknown loss 'dcie' (known: dice)");
                case "bug": throw new IllegalArgumentException("index 3 out of bounds");
                case "file": throw new NoSuchFileException("/nowhere/image.nii.gz");
                default: throw new IllegalStateException("native backend exploded");
            }
        }
    }

    private static CliRun run(String... args) {
        CommandLine cl = GradSurgeryCli.commandLine();
        cl.addSubcommand("boom", new Boom());
        return CliRun.of(cl, args);
    }

    @Test
    void userErrorIsOneLineWithoutStackTrace() {
        CliRun r = run("boom", "--kind", "arg");
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        assertEquals("gradsurgery: error: --batch-size must be >= 1, got 0", r.err().strip());
        r = run("boom", "--kind", "loss");
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        assertEquals("gradsurgery: error: --loss: unknown loss 'dcie' (known: dice)", r.err().strip());
    }

    @Test
    void anIllegalArgumentThatIsNoSettingIsABugWithItsFirstFrames() {
        CliRun r = run("boom", "--kind", "bug");
        assertEquals(GradSurgeryCli.EXIT_FAILURE, r.exit());
        assertTrue(r.err().startsWith("gradsurgery: failed: index 3 out of bounds"), r.err());
        assertTrue(r.err().contains("(java.lang.IllegalArgumentException: not a problem with your input"), r.err());
        assertTrue(r.err().contains("\tat org.gradsurgery.examples.cli.CliErrorHandlingTest$Boom.call"), r.err());
        assertTrue(r.err().contains("--verbose"), r.err());
    }

    @Test
    void missingFileNamesTheFile() {
        CliRun r = run("boom", "--kind", "file");
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        assertEquals("gradsurgery: error: no such file: /nowhere/image.nii.gz", r.err().strip());
    }

    @Test
    void internalFailureSaysHowToGetTheTrace() {
        CliRun r = run("boom", "--kind", "other");
        assertEquals(GradSurgeryCli.EXIT_FAILURE, r.exit());
        assertTrue(r.err().startsWith("gradsurgery: failed: native backend exploded"), r.err());
        assertTrue(r.err().contains("--verbose"), r.err());
        assertTrue(r.err().lines().filter(l -> l.startsWith("\tat ")).count() <= GradSurgeryCli.STACK_LINES,
                "only the first frames without --verbose: " + r.err());
    }

    @Test
    void verbosePrintsTheStackTrace() {
        CliRun r = run("boom", "--kind", "arg", "--verbose");
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        assertTrue(r.err().contains("\tat "), r.err());
    }

    @Test
    void unknownFlagIsAUsageError() {
        CliRun r = run("boom", "--colour", "red");
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        assertTrue(r.err().startsWith("gradsurgery: error: Unknown option"), r.err());
        assertTrue(r.err().contains("'--colour'"), r.err());
        assertTrue(r.err().contains("gradsurgery boom --help"), r.err());
        assertEquals(2, r.err().strip().lines().count(), r.err());
    }

    @Test
    void noArgumentsPrintsUsageAndIsAUsageError() {
        CliRun r = run();
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        assertTrue(r.err().contains("Usage: gradsurgery"), r.err());
    }
}
