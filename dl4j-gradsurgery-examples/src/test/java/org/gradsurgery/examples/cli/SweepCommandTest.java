package org.gradsurgery.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.gradsurgery.arbiter.SweepSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The sweep subcommand's user errors (no training: they are caught before anything trains). */
class SweepCommandTest {

    @Test
    void badSpecIsOneLineNamingFileAndParameter(@TempDir Path dir) throws Exception {
        Path spec = dir.resolve("bad.json");
        Files.writeString(spec, "{\"space\": {\"exponent\": {\"min\": 2, \"max\": 1}}}");
        Path out = dir.resolve("out");
        CliRun r = CliRun.of("sweep", "--spec", spec.toString(), "--out", out.toString());
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        assertEquals("gradsurgery: error: bad.json: space.exponent: empty range: min 2.0 > max 1.0", r.err().strip());
        assertFalse(Files.exists(out));
    }

    @Test
    void missingSpecNamesTheFile(@TempDir Path dir) {
        CliRun r = CliRun.of("sweep", "--spec", dir.resolve("nope.json").toString());
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        assertEquals("gradsurgery: error: no such file: " + dir.resolve("nope.json"), r.err().strip());
    }

    @Test
    void specIsRequiredAndHelpListsSweep() {
        CliRun r = CliRun.of("sweep");
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        assertTrue(r.err().contains("Missing required option: '--spec=FILE'"), r.err());
        assertTrue(CliRun.of("--help").out().contains("sweep"));
    }

    /** The bundled example spec parses (the README's command uses it). */
    @Test
    void exampleSpecIsValid() throws Exception {
        Path example = Path.of("examples", "sweeps", "surgery-exponent.json");
        SweepSpec s = SweepSpec.read(example);
        assertEquals(SweepSpec.Strategy.GRID, s.strategy());
        assertTrue(s.objective().isConstrained());
    }
}
