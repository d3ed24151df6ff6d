package org.gradsurgery.examples.cli;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import org.gradsurgery.InvalidInputException;
import org.gradsurgery.experiment.DataPlan;
import org.gradsurgery.experiment.ExperimentSpec;
import org.gradsurgery.training.EarlyStopping;
import picocli.CommandLine;

/**
 * What {@code train --resume RUN_DIR} does with the settings flags given next to it. The flags are applied onto the
 * run's recorded spec (RUN_DIR/config.json) as a fresh {@code train} would apply them onto the defaults, and for every
 * flag given, the setting it decides ({@link #SETTINGS}) is compared between that spec and the recorded one:
 * <ul>
 *   <li>the same value (e.g. the whole original command line given again) is accepted;</li>
 *   <li>{@link #CHANGEABLE}, the budget and how progress is shown, may differ: {@code Trainer.resume} allows any
 *       {@code epochs}/{@code maxIterations} (it keeps seed, batch size and data order, so the run stays
 *       bit-identical to an uninterrupted one with the new budget);</li>
 *   <li>any other difference is one line naming the flag and both values, exit 2: the network, loss, learning rate,
 *       batch size, seed, validation and checkpoint cadence, early stopping and every data setting decide what the
 *       checkpoint's weights mean and which batches come next.</li>
 * </ul>
 * {@code ResumeRulesTest} checks that every option of {@code train} is in exactly one of {@link #SETTINGS},
 * {@link #CHANGEABLE} and {@link #COMMAND}, so a new flag cannot be silently ignored on resume.
 */
final class ResumeRules {
    private ResumeRules() {
    }

    /** Flags that may change on resume (the budget and the display). */
    static final Set<String> CHANGEABLE = Set.of("--epochs", "--max-iterations", "--progress");

    /**
     * Flags that are not settings of the run: where it is, the command's own switches, and Spark's (a Spark run is
     * not resumed; {@code train} refuses them with {@code --resume} before this check).
     */
    static final Set<String> COMMAND = Set.of("--resume", "--out", "--verbose", "--help", "--version",
            "--spark-master", "--spark-workers", "--spark-averaging-frequency", "--spark-training-master",
            "--spark-serializer", "--spark-export");

    private static final Function<ExperimentSpec, Object> SOURCE = s -> s.data().source();

    /** The setting each settings flag decides, read from a spec (resolved defaults where the spec holds none). */
    static final Map<String, Function<ExperimentSpec, Object>> SETTINGS = Map.ofEntries(
            Map.entry("--loss", s -> s.loss().kind().specName()),
            Map.entry("--include-background", s -> s.loss().includeBackground()),
            Map.entry("--reduction", s -> s.loss().reduction()),
            Map.entry("--tversky-alpha", s -> s.loss().tverskyAlpha()),
            Map.entry("--tversky-beta", s -> s.loss().tverskyBeta()),
            Map.entry("--surgery", s -> s.loss().surgery()),
            Map.entry("--exponent", s -> s.loss().exponent()),
            Map.entry("--surgery-space", s -> s.loss().surgerySpace()),
            Map.entry("--surgery-weighting", s -> s.loss().surgeryWeighting()),
            Map.entry("--ce-weight", s -> s.loss().ceWeight()),
            Map.entry("--region-weight", s -> s.loss().regionWeight()),
            Map.entry("--levels", s -> s.model().levels()),
            Map.entry("--filters", s -> s.model().baseFilters()),
            Map.entry("--convs-per-level", s -> s.model().convsPerLevel()),
            Map.entry("--norm", s -> s.model().normalization()),
            Map.entry("--upsampling", s -> s.model().upsampling()),
            Map.entry("--dropout", s -> s.model().dropout()),
            Map.entry("--lr", s -> s.model().learningRate()),
            Map.entry("--batch-size", s -> s.training().batchSize()),
            Map.entry("--seed", ExperimentSpec::seed),
            Map.entry("--validate-every", s -> s.training().validateEvery()),
            Map.entry("--checkpoint-every", s -> s.training().checkpointEvery()),
            Map.entry("--early-stopping", s -> earlyStopping(s, EarlyStopping::metric)),
            Map.entry("--patience", s -> earlyStopping(s, EarlyStopping::patience)),
            Map.entry("--msd", SOURCE), Map.entry("--images", SOURCE), Map.entry("--labels", SOURCE),
            Map.entry("--image-pattern", SOURCE), Map.entry("--label-pattern", SOURCE),
            Map.entry("--manifest", SOURCE), Map.entry("--datasets", SOURCE), Map.entry("--downsample", SOURCE),
            Map.entry("--dims", s -> s.data().dims()),
            Map.entry("--patch-size", s -> s.data().patchSize()),
            Map.entry("--slice-axis", s -> s.data().sliceAxis() != null ? s.data().sliceAxis()
                    : DataPlan.DEFAULT_SLICE_AXIS),
            Map.entry("--patches-per-case", s -> s.data().patchesPerCase() != null ? s.data().patchesPerCase()
                    : DataPlan.DEFAULT_PATCHES_PER_CASE),
            Map.entry("--label-map", s -> s.data().labelGrouping()),
            Map.entry("--classes", s -> s.data().numClasses()),
            Map.entry("--val-fraction", s -> s.data().splitOrDefault().validationFraction()),
            Map.entry("--split", s -> splitLists(s.data().splitOrDefault())),
            Map.entry("--intensity", s -> s.data().intensityOrDefault().specName()),
            Map.entry("--spacing", s -> s.data().spacing()),
            Map.entry("--augment", s -> s.data().augmentationOrDefault().specName()));

    private static Object earlyStopping(ExperimentSpec s, Function<EarlyStopping, Object> part) {
        EarlyStopping e = s.training().earlyStopping();
        return e == null ? null : part.apply(e);
    }

    private static Object splitLists(DataPlan.Split s) {
        return s.listed() ? Arrays.asList(s.training(), s.validation(), s.test()) : null;
    }

    /**
     * Refuses a flag of {@code parsed} whose setting differs between {@code given} (the flags applied onto the
     * recorded spec) and {@code recorded}, unless it is {@link #CHANGEABLE}.
     *
     * @throws InvalidInputException naming the flag, the recorded and the given value
     */
    static void check(CommandLine.ParseResult parsed, ExperimentSpec recorded, ExperimentSpec given, Path config) {
        for (CommandLine.Model.OptionSpec o : parsed.matchedOptions()) {
            String flag = o.longestName();
            Function<ExperimentSpec, Object> setting = SETTINGS.get(flag);
            if (setting == null) {
                if (CHANGEABLE.contains(flag) || COMMAND.contains(flag)) {
                    continue;
                }
                throw new IllegalStateException("train " + flag + ": no resume rule (add it to ResumeRules)");
            }
            Object was = setting.apply(recorded);
            Object now = setting.apply(given);
            if (!Objects.deepEquals(was, now)) {
                throw new InvalidInputException(flag + ": the run records " + show(was) + " in " + config
                        + ", given " + show(now) + "; a resumed run keeps its settings (only "
                        + String.join(", ", List.of("--epochs", "--max-iterations", "--progress"))
                        + " may change): leave " + flag + " out, or train a new run with --out");
            }
        }
    }

    /** A setting's value as the user would write it. */
    static String show(Object v) {
        if (v == null) {
            return "none";
        }
        if (v instanceof int[] a) {
            return joined(Arrays.stream(a).mapToObj(Integer::toString).toList());
        }
        if (v instanceof double[] a) {
            return joined(Arrays.stream(a).mapToObj(Double::toString).toList());
        }
        if (v instanceof DataPlan.Msd m) {
            return "--msd " + m.dir();
        }
        if (v instanceof DataPlan.Folders f) {
            return "--images " + f.images() + " --labels " + f.labels() + (f.imagePattern() == null ? ""
                    : " --image-pattern " + f.imagePattern() + " --label-pattern " + f.labelPattern());
        }
        if (v instanceof DataPlan.Manifest m) {
            return "--manifest " + m.csv();
        }
        if (v instanceof DataPlan.Colin27 c) {
            return "the demo data (--datasets " + c.datasets() + " --downsample " + c.downsample() + ")";
        }
        if (v instanceof List<?> lists && lists.size() == 3) {
            List<String> parts = new ArrayList<>();
            String[] names = {"training", "validation", "test"};
            for (int i = 0; i < 3; i++) {
                if (lists.get(i) instanceof List<?> ids) {
                    String s = ids.toString();
                    parts.add(names[i] + " " + (s.length() > 80 ? s.substring(0, 77) + "...]" : s));
                }
            }
            return "a split of " + String.join(", ", parts);
        }
        return v.toString();
    }

    private static String joined(List<String> values) {
        return String.join(",", values);
    }
}
