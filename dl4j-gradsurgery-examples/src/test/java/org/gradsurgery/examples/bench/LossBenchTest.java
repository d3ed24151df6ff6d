package org.gradsurgery.examples.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.gradsurgery.examples.cli.CliRun;
import org.gradsurgery.examples.cli.GradSurgeryCli;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code gradsurgery bench loss} on tiny shapes with one repetition: every row is printed, bad flags are one line. */
class LossBenchTest {

    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void timesEveryLossOnBothRanksAndWritesCsv(@TempDir Path dir) throws Exception {
        Path csv = dir.resolve("loss.csv");
        CliRun r = run("bench", "loss", "--shapes", "2x3x8x8,1x2x4x4x4", "--repetitions", "1", "--warmup", "0",
                "--csv", csv.toString());
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("shape [2, 3, 8, 8]") && r.out().contains("shape [1, 2, 4, 4, 4]"), r.out());
        for (String loss : List.of("LossMCXENT (rows)", "LossDice", "LossJaccard", "LossTversky", "LossFocalTversky",
                "LossGeneralizedDice", "GradientSurgery(LossDice)", "GradientSurgery(LossGeneralizedDice)")) {
            Matcher m = Pattern.compile(Pattern.quote(loss) + "\\s+([0-9.]+)\\s+([0-9.]+)\\s+([0-9.]+)")
                    .matcher(r.out());
            assertTrue(m.find(), loss + " row missing in:\n" + r.out());
            assertTrue(Double.parseDouble(m.group(1)) > 0, r.out());
        }
        assertTrue(r.out().contains("load average"), r.out());
        List<String> lines = Files.readAllLines(csv);
        assertEquals("shape,loss,median_ms,min_ms,ratio_to_baseline", lines.get(0));
        assertEquals(1 + 2 * 11, lines.size(), String.join("\n", lines));
        assertTrue(lines.get(1).endsWith(",1.000"), lines.get(1));
    }

    @Test
    void sigmoidUsesBinaryCrossEntropyAsBaseline() {
        CliRun r = run("bench", "loss", "--shapes", "1x1x4x4", "--repetitions", "1", "--warmup", "0", "--activation",
                "sigmoid");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("LossBinaryXENT (rows)"), r.out());
    }

    @Test
    void badFlagsAreOneLineErrors() {
        CliRun r = run("bench", "loss", "--shapes", "2x3x8");
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        assertEquals("gradsurgery: error: --shapes: '2x3x8' has rank 3; expected NxCxHxW (rank 4) or NxCxDxHxW "
                + "(rank 5)", r.err().strip());
        r = run("bench", "loss", "--shapes", "2x1x8x8");
        assertTrue(r.err().contains("softmax needs at least 2 classes"), r.err());
        r = run("bench", "loss", "--repetitions", "0");
        assertEquals("gradsurgery: error: --repetitions 0 is out of range: it must be an integer >= 1", r.err().strip());
        r = run("bench", "loss", "--activation", "relu");
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        assertTrue(r.err().contains("--activation"), r.err());
    }
}
