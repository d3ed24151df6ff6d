package org.gradsurgery.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code gradsurgery study --smoke} on the committed synthetic spec, and its bad-input messages. */
class StudyCommandTest {
    private static final Path SPECS = Path.of("examples", "studies");

    @Test
    void smokeOfTheCommittedSyntheticSpecWritesTheReport(@TempDir Path dir) throws Exception {
        CliRun r = CliRun.of("study", "--spec", SPECS.resolve("synthetic.json").toString(), "--out",
                dir.toString(), "--smoke", "--progress", "off");
        assertEquals(0, r.exit(), r.err());
        String md = Files.readString(dir.resolve("study.md"));
        assertTrue(md.contains("Runs finished: 3 of 3."), md);
        assertEquals(1 + 3 * 8, Files.readAllLines(dir.resolve("study.csv")).size());
    }

    @Test
    void committedSpecsParseAndAMissingDataFolderIsNamed(@TempDir Path dir) {
        CliRun r = CliRun.of("study", "--spec", SPECS.resolve("msd-hippocampus-3d.json").toString(), "--out",
                dir.toString(), "--smoke");
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit(), r.out() + r.err());
        assertTrue(r.err().contains("give --data DIR"), r.err());
        CliRun arms = CliRun.of("study", "--spec", SPECS.resolve("miccai2012-deepgm-2d.json").toString(), "--out",
                dir.toString(), "--arms", "dice,dize");
        assertEquals(GradSurgeryCli.EXIT_USAGE, arms.exit(), arms.err());
        assertTrue(arms.err().contains("has no arm 'dize'"), arms.err());
        CliRun seeds = CliRun.of("study", "--spec", SPECS.resolve("synthetic.json").toString(), "--out",
                dir.toString(), "--seeds", "7");
        assertEquals(GradSurgeryCli.EXIT_USAGE, seeds.exit(), seeds.err());
        assertTrue(seeds.err().contains("has no seed 7"), seeds.err());
    }
}
