package org.gradsurgery.examples.cli;

import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/**
 * The allowed range of every numeric flag of every command, checked in one place right after parsing and before any
 * command runs ({@link GradSurgeryCli#commandLine()}), so {@code --levels 0} or {@code --bins -1} is one line, exit 2,
 * naming the flag, the value and the range, before a file is read or a folder made.
 *
 * <p>A flag's range: v ∈ [min, max] (each end open or closed, ±∞ for none); doubles must also be finite unless the
 * range is {@link #ANY}. A flag with several values (e.g. {@code --patch-size 32,32,16}) checks each. Ranges are
 * looked up by {@code "COMMAND --flag"} (the command's qualified name without {@code gradsurgery}, e.g.
 * {@code "bench unet --dims"}) and then by the flag alone, for flags that mean the same in every command. The specs
 * ({@code UNetSpec}, {@code LossSpec}, {@code TrainingConfig}, {@code DataPlan}) check the same settings again for
 * library users and JSON; limits that depend on the data (a patch larger than the images, a mirror axis beyond a 2D
 * model's) are checked there, against the data. {@code RangesTest} fails for a numeric flag missing here.
 */
final class Ranges {
    private Ranges() {
    }

    /**
     * An interval of allowed values.
     *
     * @param min          lower end (−∞ for none)
     * @param minInclusive whether {@code min} itself is allowed
     * @param max          upper end (+∞ for none)
     * @param maxInclusive whether {@code max} itself is allowed
     * @param text         how help and errors state it, e.g. {@code "an integer >= 1"}
     */
    record Range(double min, boolean minInclusive, double max, boolean maxInclusive, String text) {
        boolean contains(double v) {
            if (this == ANY) {
                return true;
            }
            return !Double.isNaN(v) && !Double.isInfinite(v) && (minInclusive ? v >= min : v > min)
                    && (maxInclusive ? v <= max : v < max);
        }

        /** A value just outside the range (for tests), or NaN where there is none. */
        double outside() {
            if (this == ANY) {
                return Double.NaN;
            }
            if (min != Double.NEGATIVE_INFINITY) {
                return minInclusive ? min - 1 : min;
            }
            return max != Double.POSITIVE_INFINITY ? (maxInclusive ? max + 1 : max) : Double.NaN;
        }
    }

    static Range atLeast(long min) {
        return new Range(min, true, Double.POSITIVE_INFINITY, false, "an integer >= " + min);
    }

    static Range integers(long min, long max) {
        return new Range(min, true, max, true, "an integer from " + min + " to " + max);
    }

    /** Finite numbers ≥ 0. */
    static final Range NON_NEGATIVE = new Range(0, true, Double.POSITIVE_INFINITY, false, "a finite number >= 0");
    /** Finite numbers &gt; 0. */
    static final Range POSITIVE = new Range(0, false, Double.POSITIVE_INFINITY, false, "a finite number > 0");
    /** Every value (a seed). */
    static final Range ANY = new Range(Double.NEGATIVE_INFINITY, true, Double.POSITIVE_INFINITY, true, "any integer");

    /** Ranges by {@code "COMMAND --flag"} or {@code "--flag"} (see the class documentation). */
    static final Map<String, Range> RANGES = Map.ofEntries(
            // the U-Net (train, compare)
            Map.entry("--levels", integers(1, 30)),
            Map.entry("--filters", atLeast(1)),
            Map.entry("--convs-per-level", atLeast(1)),
            Map.entry("--dropout", new Range(0, true, 1, false, "a drop probability in [0, 1)")),
            Map.entry("--lr", POSITIVE),
            // the loss
            Map.entry("--tversky-alpha", NON_NEGATIVE),
            Map.entry("--tversky-beta", NON_NEGATIVE),
            Map.entry("--exponent", NON_NEGATIVE),
            Map.entry("--ce-weight", NON_NEGATIVE),
            Map.entry("--region-weight", NON_NEGATIVE),
            // training
            Map.entry("--epochs", atLeast(1)),
            Map.entry("--max-iterations", atLeast(0)),
            Map.entry("--batch-size", atLeast(1)),
            Map.entry("--seed", ANY),
            Map.entry("--validate-every", atLeast(0)),
            Map.entry("--checkpoint-every", atLeast(0)),
            Map.entry("--patience", atLeast(1)),
            Map.entry("--spark-workers", atLeast(0)),
            Map.entry("--spark-averaging-frequency", atLeast(1)),
            // data
            Map.entry("--downsample", integers(1, 2)),
            Map.entry("--dims", integers(2, 3)),
            Map.entry("--patch-size", atLeast(1)),
            Map.entry("--slice-axis", integers(0, 2)),
            Map.entry("--patches-per-case", atLeast(1)),
            Map.entry("--classes", atLeast(2)),
            Map.entry("--val-fraction", new Range(0, false, 1, false, "a fraction in (0, 1)")),
            Map.entry("--spacing", new Range(0, false, Double.POSITIVE_INFINITY, false, "a finite number of mm > 0")),
            // evaluation and inference
            Map.entry("--bins", atLeast(1)),
            Map.entry("--mirror-axes", integers(0, 2)),
            // study
            Map.entry("study --seeds", ANY),
            // benchmarks
            Map.entry("bench io --size", atLeast(1)),
            Map.entry("bench io --repetitions", atLeast(1)),
            Map.entry("bench loss --repetitions", atLeast(1)),
            Map.entry("bench loss --warmup", atLeast(0)),
            Map.entry("bench soak --checkpoints", atLeast(1)),
            Map.entry("bench soak --tolerance", NON_NEGATIVE),
            Map.entry("bench soak --size", atLeast(1)),
            Map.entry("bench unet --batch", atLeast(1)),
            Map.entry("bench unet --iterations", atLeast(1)),
            Map.entry("bench unet --warmup", atLeast(0)),
            Map.entry("bench unet --size", atLeast(1)),
            Map.entry("bench unet --shape", atLeast(1)),
            Map.entry("bench unet --soak", atLeast(1)),
            Map.entry("bench unet --edges", atLeast(1)),
            Map.entry("bench unet --soak-tolerance", NON_NEGATIVE),
            Map.entry("bench pipeline --train-cases", atLeast(1)),
            Map.entry("bench pipeline --validation-cases", atLeast(1)),
            Map.entry("bench pipeline --max-batches", atLeast(0)),
            Map.entry("bench pipeline --warmup", atLeast(0)),
            Map.entry("bench pipeline --prefetch", atLeast(0)),
            Map.entry("bench infer --size", atLeast(4)),
            Map.entry("bench infer --patch", atLeast(4)),
            Map.entry("bench infer --overlap", new Range(0, true, 1, false, "an overlap in [0, 1)")),
            Map.entry("bench infer --windows-per-pass", atLeast(1)),
            Map.entry("bench infer --volumes", atLeast(1)));

    /** Whether {@code o} takes numbers (int, long, double, boxed, arrays or collections of them). */
    static boolean numeric(OptionSpec o) {
        Class<?> t = o.type();
        if (t.isArray()) {
            t = t.getComponentType();
        } else if (Collection.class.isAssignableFrom(t)) {
            Class<?>[] aux = o.auxiliaryTypes();
            t = aux.length > 0 ? aux[0] : Object.class;
        }
        return t == int.class || t == long.class || t == double.class || t == float.class || t == short.class
                || Number.class.isAssignableFrom(t);
    }

    /** The range of {@code option} in command {@code command}, or null if it has none. */
    static Range of(CommandLine.Model.CommandSpec command, OptionSpec option) {
        String name = command.qualifiedName(" ").replaceFirst("^gradsurgery ?", "");
        Range r = RANGES.get(name + " " + option.longestName());
        return r != null ? r : RANGES.get(option.longestName());
    }

    /**
     * Checks every numeric option given on the command line of {@code parsed} and its subcommands.
     *
     * @throws CommandLine.ExecutionException with an {@link org.gradsurgery.InvalidInputException} naming the flag,
     *                                        the value and the allowed range (one line, exit 2, as a setting
     *                                        refused by a spec)
     * @throws IllegalStateException          for a numeric option with no range here (a bug: add it)
     */
    static void check(CommandLine.ParseResult parsed) {
        for (CommandLine.ParseResult p = parsed; p != null; p = p.subcommand()) {
            for (OptionSpec o : p.matchedOptions()) {
                if (!numeric(o)) {
                    continue;
                }
                Range r = of(p.commandSpec(), o);
                if (r == null) {
                    throw new IllegalStateException("no range for the numeric option " + o.longestName() + " of "
                            + p.commandSpec().qualifiedName() + " (add it to Ranges.RANGES)");
                }
                for (Number v : values(o.getValue())) {
                    if (!r.contains(v.doubleValue())) {
                        String message = String.format(Locale.ROOT, "%s %s is out of range: it must be %s%s",
                                o.longestName(), String.join(" ", o.originalStringValues()), r.text(),
                                o.isMultiValue() ? " (each value)" : "");
                        throw new CommandLine.ExecutionException(p.commandSpec().commandLine(), message,
                                new org.gradsurgery.InvalidInputException(message));
                    }
                }
            }
        }
    }

    private static List<Number> values(Object value) {
        List<Number> out = new ArrayList<>();
        if (value == null) {
            return out;
        }
        if (value.getClass().isArray()) {
            for (int i = 0; i < Array.getLength(value); i++) {
                out.add((Number) Array.get(value, i));
            }
        } else if (value instanceof Collection<?> c) {
            for (Object v : c) {
                out.add((Number) v);
            }
        } else {
            out.add((Number) value);
        }
        return out;
    }
}
