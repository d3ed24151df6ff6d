package org.gradsurgery.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.gradsurgery.experiment.UNetSpec;
import org.gradsurgery.training.TrainingConfig;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Issue 15, point 15: every command and subcommand answers {@code --help} (exit 0, its usage on stdout), the help
 * states the specs' defaults, every numeric flag of the user-facing commands says its default, and no help refers to
 * issue numbers.
 */
class HelpTextsTest {

    private static List<CommandSpec> commands(CommandSpec root) {
        List<CommandSpec> all = new ArrayList<>(List.of(root));
        for (CommandLine sub : root.subcommands().values()) {
            if (sub.getCommandSpec().parent() == root) {
                all.addAll(commands(sub.getCommandSpec()));
            }
        }
        return all;
    }

    @Test
    void everyCommandAnswersHelp() {
        for (CommandSpec c : commands(GradSurgeryCli.commandLine().getCommandSpec())) {
            List<String> args = new ArrayList<>(List.of(c.qualifiedName(" ").split(" ")));
            args.remove(0);
            args.add("--help");
            CliRun r = CliRun.of(args.toArray(new String[0]));
            assertEquals(0, r.exit(), c.qualifiedName() + ": " + r.err());
            assertTrue(r.out().contains("Usage: " + c.qualifiedName(" ")), r.out());
            assertTrue(!r.out().toLowerCase(Locale.ROOT).matches("(?s).*\\bissue \\d.*"), "no issue numbers: "
                    + r.out());
            // picocli's fallbacks: an option without paramLabel shows its Java field name, an unknown variable
            // stays as written
            assertTrue(!r.out().matches("(?s).*=<[a-z][A-Za-z0-9]*>.*"), c.qualifiedName() + ": a flag without a "
                    + "paramLabel shows its field name: " + r.out());
            assertTrue(!r.out().contains("${"), c.qualifiedName() + ": an unrendered variable: " + r.out());
        }
    }

    @Test
    void helpShowsTheSpecsDefaults() {
        String train = CliRun.of("train", "--help").out().replaceAll("\\s+", " ");
        for (String expected : List.of("--levels=L U-Net resolution levels, 1 to 30",
                "(default: " + UNetSpec.DEFAULT_LEVELS + ")", "(default: " + UNetSpec.DEFAULT_BASE_FILTERS + ")",
                "Adam learning rate, > 0 (default: " + UNetSpec.DEFAULT_LEARNING_RATE + ")",
                "1 or more (default: " + TrainingConfig.DEFAULT_EPOCHS + ")",
                "or 3D patches (default: " + TrainingConfig.DEFAULT_BATCH_SIZE + ")",
                "--patch-size=P[,P,P] ", "(default: 64 = 64^3)")) {
            assertTrue(train.contains(expected), expected + " in: " + train);
        }
        assertEquals(4, UNetSpec.DEFAULT_LEVELS, "README and docs state 4 levels");
        assertEquals(16, UNetSpec.DEFAULT_BASE_FILTERS);
        assertEquals(1e-3, UNetSpec.DEFAULT_LEARNING_RATE);
        assertEquals(10, TrainingConfig.DEFAULT_EPOCHS);
    }

    /** A numeric flag of a user-facing command that does not say its default would leave the user guessing. */
    @Test
    void everyNumericFlagSaysItsDefault() {
        List<String> silent = new ArrayList<>();
        for (CommandSpec c : commands(GradSurgeryCli.commandLine().getCommandSpec())) {
            if (c.qualifiedName(" ").startsWith("gradsurgery bench")) {
                continue;                                   // the benchmarks' own texts (docs/PERFORMANCE.md)
            }
            for (OptionSpec o : c.options()) {
                String d = String.join(" ", o.description()).toLowerCase(Locale.ROOT);
                // study --seeds ("only these seeds of the spec") is a filter whose absence means all of them
                if (Ranges.numeric(o) && !d.contains("default") && !o.required()
                        && !(c.qualifiedName(" ") + " " + o.longestName()).equals("gradsurgery study --seeds")) {
                    silent.add(c.qualifiedName(" ") + " " + o.longestName());
                }
            }
        }
        assertTrue(silent.isEmpty(), "numeric flags whose help states no default: " + silent);
    }
}
