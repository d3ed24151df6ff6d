package org.gradsurgery.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * Issue 15, point 14: every numeric flag of every command (found through picocli's model, so a new flag is covered
 * without touching this test) has a range in {@link Ranges}, and a value just outside it is one line, exit 2, naming
 * the flag, the value and the range, before the command does anything (required options get values that would fail
 * later: the range check must come first).
 */
class RangesTest {

    /** Every command and subcommand of {@code gradsurgery}, depth first. */
    private static List<CommandSpec> commands(CommandSpec root) {
        List<CommandSpec> all = new ArrayList<>();
        all.add(root);
        for (CommandLine sub : root.subcommands().values()) {
            if (sub.getCommandSpec().parent() == root) {
                all.addAll(commands(sub.getCommandSpec()));
            }
        }
        return all;
    }

    private static String format(OptionSpec o, double v) {
        Class<?> t = o.type().isArray() ? o.type().getComponentType()
                : java.util.Collection.class.isAssignableFrom(o.type()) ? o.auxiliaryTypes()[0] : o.type();
        boolean integral = t == int.class || t == long.class || t == Integer.class || t == Long.class
                || t == short.class || t == Short.class;
        return integral ? Long.toString((long) v) : Double.toString(v);
    }

    @Test
    void everyNumericFlagOfEveryCommandRejectsAValueOutsideItsRange() {
        CommandSpec root = GradSurgeryCli.commandLine().getCommandSpec();
        List<String> checked = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (CommandSpec c : commands(root)) {
            for (OptionSpec o : c.options()) {
                if (!Ranges.numeric(o)) {
                    continue;
                }
                String where = c.qualifiedName(" ") + " " + o.longestName();
                Ranges.Range r = Ranges.of(c, o);
                if (r == null) {
                    missing.add(where);
                    continue;
                }
                double bad = r.outside();
                if (Double.isNaN(bad)) {
                    assertEquals(Ranges.ANY, r, where + " has no value outside its range");
                    continue;
                }
                String value = format(o, bad);
                List<String> args = new ArrayList<>(List.of(c.qualifiedName(" ").split(" ")));
                args.remove(0);                                            // "gradsurgery"
                for (OptionSpec required : c.requiredArgs().stream().filter(a -> a instanceof OptionSpec)
                        .map(a -> (OptionSpec) a).toList()) {
                    args.add(required.longestName());
                    args.add("/nowhere/x");                              // fails later: the range comes first
                }
                args.add(o.longestName());
                args.add(value);
                CliRun run = CliRun.of(args.toArray(new String[0]));
                assertEquals(GradSurgeryCli.EXIT_USAGE, run.exit(), where + ": " + run.err() + run.out());
                List<String> lines = run.err().lines().toList();
                assertEquals(1, lines.size(), where + ": one line: " + run.err());
                String first = lines.get(0);
                assertTrue(first.equals("gradsurgery: error: " + o.longestName() + " " + value
                        + " is out of range: it must be " + r.text() + (o.isMultiValue() ? " (each value)" : "")),
                        where + ": " + run.err());
                assertFalse(run.err().contains("\tat "), where + ": no stack trace");
                checked.add(where);
            }
        }
        assertTrue(missing.isEmpty(), "numeric flags without a range in Ranges.RANGES: " + missing);
        // the walk really saw the commands (a broken walk would pass vacuously)
        for (String f : List.of("gradsurgery train --levels", "gradsurgery compare --lr", "gradsurgery evaluate --bins",
                "gradsurgery predict --batch-size", "gradsurgery predict --patch-size",
                "gradsurgery bench unet --iterations", "gradsurgery train --spark-workers")) {
            assertTrue(checked.contains(f), f + " not checked: " + checked);
        }
        assertTrue(checked.size() >= 40, String.format(Locale.ROOT, "%d flags checked: %s", checked.size(), checked));
    }

    @Test
    void eachValueOfAListIsCheckedAndNonFiniteNumbersAreRefused() {
        CliRun patch = CliRun.of("train", "--patch-size", "32,0,32");
        assertEquals(GradSurgeryCli.EXIT_USAGE, patch.exit(), patch.err());
        assertTrue(patch.err().startsWith("gradsurgery: error: --patch-size 32,0,32 is out of range: it must be an "
                + "integer >= 1 (each value)"), patch.err());
        CliRun lr = CliRun.of("train", "--lr", "NaN");
        assertEquals(GradSurgeryCli.EXIT_USAGE, lr.exit(), lr.err());
        assertTrue(lr.err().contains("--lr NaN is out of range: it must be a finite number > 0"), lr.err());
        CliRun inf = CliRun.of("train", "--ce-weight", "Infinity");
        assertEquals(GradSurgeryCli.EXIT_USAGE, inf.exit(), inf.err());
        assertTrue(inf.err().contains("--ce-weight Infinity is out of range"), inf.err());
        // the upper end of a closed range is allowed, one past it is not
        CliRun levels = CliRun.of("train", "--levels", "31");
        assertTrue(levels.err().contains("--levels 31 is out of range: it must be an integer from 1 to 30"),
                levels.err());
    }
}
