package org.gradsurgery.examples.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import org.gradsurgery.io.AtomicFiles;
import org.gradsurgery.training.RunLock;
import java.util.Map;
import java.util.concurrent.Callable;
import org.gradsurgery.InvalidSettingException;
import org.gradsurgery.experiment.DataPlan;
import org.gradsurgery.experiment.DataSources;
import org.gradsurgery.experiment.ExperimentRunner;
import org.gradsurgery.experiment.ExperimentSpec;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.training.TrainingConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code gradsurgery train}: flags → {@link ExperimentSpec} → {@link ExperimentRunner#run}; {@code --resume} →
 * {@link ExperimentRunner#resume} on the run folder's own spec.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Train a U-Net under one loss on your data (--msd, --images/--labels, --manifest) or the bundled "
                + "Colin27 deep-grey-matter slices, validate every epoch (Dice, ECE), checkpoint, and write a run "
                + "directory with config.json (the experiment's spec) and report.md.",
                "Resume a killed run with --resume RUN_DIR.",
                "With --spark-master, the same run trains on Apache Spark (parameter averaging; docs/DISTRIBUTED.md)."})
final class TrainCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = {"--out", "-o"}, paramLabel = "DIR",
            description = "Run directory to create (default: runs/train-<loss>-<time>).")
    Path out;

    @Option(names = "--resume", paramLabel = "RUN_DIR",
            description = "Continue the run in RUN_DIR from its last checkpoint (--epochs/--max-iterations may raise "
                    + "the budget).")
    Path resume;

    @Mixin
    Options.Loss loss = new Options.Loss();
    @Mixin
    Options.Model model = new Options.Model();
    @Mixin
    Options.Training training = new Options.Training();
    @Mixin
    UserData data = new UserData();
    @Mixin
    SparkOptions spark = new SparkOptions();

    @Override
    public Integer call() throws Exception {
        PrintStream printer = Console.stream(spec);
        boolean onSpark = spark.active(spec.commandLine().getParseResult());
        if (resume != null && onSpark) {
            throw new InvalidSettingException(null, "--resume", "continues on one machine only (a Spark run is not "
                    + "resumed; docs/DISTRIBUTED.md)");
        }
        if (resume != null) {
            refuseFixedSettingsOnResume();
            AtomicFiles.requireWritableDirectory(resume);
            try (RunLock lock = RunLock.acquire(resume, "gradsurgery train --resume")) {
                return resume(printer);
            }
        }
        LossSpec l = loss.spec();
        Path dir = out != null ? out.toAbsolutePath() : Reports.defaultRunDir("train-" + l.slug());
        // every flag is checked before the folder is touched
        DataPlan plan = data.plan();
        ExperimentSpec experiment = new ExperimentSpec(model.spec(), l, training.config(dir), plan, training.seed());
        boolean existed = java.nio.file.Files.exists(dir);
        AtomicFiles.requireWritableDirectory(dir);
        try {
            // held for the whole command, report included: a second train on the same --out stops at once
            try (RunLock lock = RunLock.acquire(dir, "gradsurgery train")) {
                Map<String, Object> command = Map.of("command", spec.commandLine().getParseResult().originalArgs());
                ExperimentRunner.Outcome o = onSpark
                        ? spark.run(experiment, DataSources.open(plan.source()), printer, command)
                        : ExperimentRunner.run(experiment, DataSources.open(plan.source()), printer, command);
                Reports.conclude(printer, dir, "gradsurgery train: " + l.label(), List.of(o));
            }
        } catch (Exception | Error e) {
            if (!existed) {
                removeIfOnlyLock(dir);
            }
            throw e;
        }
        return 0;
    }

    /** A folder this command created but wrote nothing into but its lock is removed: nothing half-made is left. */
    private static void removeIfOnlyLock(Path dir) {
        try (java.util.stream.Stream<Path> s = java.nio.file.Files.list(dir)) {
            List<Path> files = s.toList();
            if (files.stream().allMatch(f -> f.getFileName().toString().equals(RunLock.FILE))) {
                for (Path f : files) {
                    java.nio.file.Files.deleteIfExists(f);
                }
                java.nio.file.Files.deleteIfExists(dir);
            }
        } catch (java.io.IOException ignored) {
            // best effort: the original error is what the user needs to see
        }
    }

    /**
     * Flags that may be given with {@code --resume}: the budget (docs/TRAINING.md) and how progress is shown;
     * everything else is the run's.
     */
    static final java.util.Set<String> CHANGEABLE_ON_RESUME = java.util.Set.of("--resume", "--epochs",
            "--max-iterations", "--progress", "--verbose");

    /**
     * On {@code --resume} the run's recorded spec (seed, data order, network, loss, learning rate, batch size, data)
     * continues unchanged; any other flag is an error naming it, instead of being silently ignored.
     */
    private void refuseFixedSettingsOnResume() {
        for (CommandLine.Model.OptionSpec o : spec.commandLine().getParseResult().matchedOptions()) {
            if (!CHANGEABLE_ON_RESUME.contains(o.longestName())) {
                throw new CommandLine.ParameterException(spec.commandLine(), o.longestName() + " cannot change on "
                        + "--resume: the run continues with the settings recorded in " + resume.resolve("config.json")
                        + "; only --epochs, --max-iterations and --progress may be given");
            }
        }
    }

    private int resume(PrintStream printer) throws java.io.IOException {
        {
            ExperimentRunner.Outcome o = ExperimentRunner.resume(resume, printer, c -> {
                TrainingConfig.Builder b = c.toBuilder();
                if (training.epochs != null) {
                    b.epochs(training.epochs);
                }
                if (training.maxIterations != null) {
                    b.maxIterations(training.maxIterations);
                }
                return b.build();
            });
            Reports.conclude(printer, resume.toAbsolutePath(), "gradsurgery train: " + o.label(), List.of(o));
            return 0;
        }
    }
}
