package org.gradsurgery.examples.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.data.Datasets;
import org.gradsurgery.training.RunDirectory;
import org.gradsurgery.training.Trainer;
import org.gradsurgery.training.TrainingConfig;
import org.gradsurgery.training.TrainingData;
import org.gradsurgery.training.TrainingResult;
import org.nd4j.shade.jackson.databind.JsonNode;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code gradsurgery train}: one 2D U-Net under one loss, with checkpoints, resume and a report. */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Train a 2D U-Net on the bundled Colin27 deep-grey-matter slices under one loss, validate every "
                + "epoch (Dice, ECE), checkpoint, and write a run directory with report.md.",
                "Resume a killed run with --resume RUN_DIR."})
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
    Options.Data data = new Options.Data();
    @Mixin
    Options.Model model = new Options.Model();
    @Mixin
    Options.Training training = new Options.Training();
    @Mixin
    UserData userData = new UserData();

    @Override
    public Integer call() throws Exception {
        PrintStream printer = Console.stream(spec);
        if (resume != null) {
            return resume(printer);
        }
        LossSpec l = loss.spec();
        userData.checkUnusedWithDemoData();
        int downsample = data.downsampleOr(1);
        Path dir = out != null ? out.toAbsolutePath() : Experiment.defaultRunDir("train-" + l.slug());
        TrainingConfig config = training.config(dir);
        List<String> command = List.of(spec.commandLine().getParseResult().originalArgs().toArray(new String[0]));
        if (userData.active()) {
            userData.progress = printer;
            UserData.Loaded u = userData.load(config.seed(), model.levels);
            Experiment.Outcome o = u.run(model, config, l, command, printer);
            u.conclude(printer, dir, "gradsurgery train: " + l.label(), List.of(o));
            return 0;
        }
        Datasets.Colin27DeepGm d = data.load(1);
        Experiment.Outcome o = Experiment.run(d, downsample, model, config, l, command, printer);
        Experiment.conclude(printer, dir, "gradsurgery train: " + l.label(), d, List.of(o));
        return 0;
    }

    private int resume(PrintStream printer) throws Exception {
        JsonNode cfg = RunDirectory.readConfig(resume);
        if (UserData.recorded(cfg.path("data"))) {
            return resumeUserData(printer, cfg);
        }
        int downsample = data.downsampleOr(cfg.path("data").path("downsample").asInt(1));
        Datasets.Colin27DeepGm d = data.load(downsample);
        TrainingResult r = resumeTraining(Options.Data.trainingData(d), printer);
        String l = Experiment.lossLabel(cfg);
        Experiment.Outcome o = new Experiment.Outcome(l, r, Experiment.evaluate(r.network(), d, 15),
                resume.toAbsolutePath());
        Experiment.conclude(printer, resume.toAbsolutePath(), "gradsurgery train: " + l, d, List.of(o));
        return 0;
    }

    /** Continues the run in --resume from its checkpoint; --epochs and --max-iterations given now raise the budget. */
    private TrainingResult resumeTraining(TrainingData data, PrintStream printer) throws IOException {
        CommandLine.ParseResult pr = spec.commandLine().getParseResult();
        return Trainer.resume(resume.toAbsolutePath(), data, printer, c -> {
            TrainingConfig.Builder b = c.toBuilder();
            if (pr.hasMatchedOption("--epochs")) {
                b.epochs(training.epochs);
            }
            if (pr.hasMatchedOption("--max-iterations")) {
                b.maxIterations(training.maxIterations);
            }
            return b.build();
        });
    }

    /** Resume on user data: the split and sampling come back from config.json (flags given now take precedence). */
    private int resumeUserData(PrintStream printer, JsonNode cfg) throws Exception {
        userData.fromConfig(cfg.path("data"));
        userData.progress = printer;
        UserData.Loaded u = userData.load(cfg.path("training").path("seed").asLong(training.seed),
                cfg.path("model").path("levels").asInt(model.levels));
        TrainingResult r = resumeTraining(u.trainingData(), printer);
        String l = Experiment.lossLabel(cfg);
        Experiment.Outcome o = new Experiment.Outcome(l, r, u.evaluate(r.network(), 15), resume.toAbsolutePath());
        u.conclude(printer, resume.toAbsolutePath(), "gradsurgery train: " + l, List.of(o));
        return 0;
    }
}
