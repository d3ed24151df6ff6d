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
            description = "Continue the run in RUN_DIR from its last checkpoint with the settings recorded in its "
                    + "config.json. --epochs, --max-iterations (the budget) and --progress may change; other flags "
                    + "may be given only with the recorded value.")
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
            checkSettingsOnResume();
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
     * The run's recorded spec with the settings flags given next to {@code --resume} applied, checked by
     * {@link ResumeRules}: the same values are accepted, a changed setting other than the budget is an error naming
     * the flag and both values.
     */
    private void checkSettingsOnResume() throws java.io.IOException {
        if (out != null && !out.toAbsolutePath().normalize().equals(resume.toAbsolutePath().normalize())) {
            throw new CommandLine.ParameterException(spec.commandLine(), "--out " + out + " and --resume " + resume
                    + " name two folders: a resumed run writes into its own folder");
        }
        CommandLine.ParseResult parsed = spec.commandLine().getParseResult();
        if (parsed.matchedOptions().stream().allMatch(o -> ResumeRules.CHANGEABLE.contains(o.longestName())
                || ResumeRules.COMMAND.contains(o.longestName()))) {
            return;                                   // nothing to compare (and config.json is read by the resume)
        }
        ExperimentSpec recorded = ExperimentSpec.read(resume);
        // inputSize (3D: the patch) is derived from the data plan, not set by a flag
        ExperimentSpec given = new ExperimentSpec(model.spec(recorded.model().toBuilder().inputSize((int[]) null)),
                loss.spec(recorded.loss().toBuilder()), training.config(recorded.training()),
                data.plan(recorded.data()), training.seed != null ? training.seed : recorded.seed());
        ResumeRules.check(parsed, recorded, given, resume.resolve(org.gradsurgery.training.RunDirectory.CONFIG));
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
                if (training.progress != null) {
                    b.progress(training.progress);
                }
                return b.build();
            });
            Reports.conclude(printer, resume.toAbsolutePath(), "gradsurgery train: " + o.label(), List.of(o));
            return 0;
        }
    }
}
