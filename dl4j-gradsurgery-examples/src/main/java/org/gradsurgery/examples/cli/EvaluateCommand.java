package org.gradsurgery.examples.cli;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.data.Datasets;
import org.gradsurgery.evaluation.EvaluationResult;
import org.gradsurgery.evaluation.Report;
import org.gradsurgery.training.RunDirectory;
import org.nd4j.shade.jackson.databind.JsonNode;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code gradsurgery evaluate}: a saved model on the held-out slab, with temperature scaling, into report.md. */
@Command(name = "evaluate", mixinStandardHelpOptions = true,
        description = "Evaluate a saved model (model.zip) on the held-out Colin27 slab: Dice, IoU, HD95, "
                + "ECE/MCE/ACE/adaptive ECE, Brier, NLL before and after temperature scaling; writes report.md and "
                + "reliability diagrams.")
final class EvaluateCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = {"--model", "-m"}, required = true, paramLabel = "FILE",
            description = "A saved ComputationGraph, e.g. RUN_DIR/model.zip.")
    Path model;

    @Option(names = {"--out", "-o"}, paramLabel = "DIR",
            description = "Where report.md and the PNGs go (default: the model's directory).")
    Path out;

    @Option(names = "--bins", defaultValue = "15", paramLabel = "B",
            description = "Calibration bins (default: ${DEFAULT-VALUE}).")
    int bins;

    @Mixin
    Options.Data data = new Options.Data();
    @Mixin
    UserData userData = new UserData();
    @Mixin
    Mirroring mirroring = new Mirroring();

    @Override
    public Integer call() throws Exception {
        if (bins < 1) {
            throw new IllegalArgumentException("--bins must be >= 1, got " + bins);
        }
        ComputationGraph net = RunDirectory.loadModel(model, false);
        Path runDir = model.toAbsolutePath().getParent();
        int downsample = 1;
        String name = model.getFileName().toString();
        JsonNode recorded = null;
        if (Files.isRegularFile(runDir.resolve(RunDirectory.CONFIG))) {
            JsonNode cfg = RunDirectory.readConfig(runDir);
            recorded = cfg;
            downsample = cfg.path("data").path("downsample").asInt(1);
            if (cfg.hasNonNull("loss")) {
                name = Experiment.lossLabel(cfg);
            }
        }
        Path dir = out != null ? out.toAbsolutePath() : runDir;
        if (recorded != null && UserData.recorded(recorded.path("data"))) {
            userData.fromConfig(recorded.path("data"));
        }
        EvaluationResult r;
        String preamble;
        List<String> classNames;
        if (userData.active()) {
            // the split seed of the run that trained the model (42 without one), so "held out" means the same cases
            // levels from the network itself: 2^(levels-1) = 2^(poolings) is what 2D inputs are padded to
            int levels = Integer.numberOfTrailingZeros(PredictCommand.sizeDivisor(net)) + 1;
            UserData.Loaded u = userData.load(recorded != null ? recorded.path("data").path("splitSeed")
                    .asLong(42) : 42, levels);
            r = u.evaluate(net, bins, mirroring);
            preamble = u.preamble() + mirroring.describe(u.dims());
            classNames = u.classNames();
        } else {
            userData.checkUnusedWithDemoData();
            Datasets.Colin27DeepGm d = data.load(downsample);
            r = Experiment.evaluate(net, d, bins, mirroring);
            preamble = Experiment.dataPreamble(d) + mirroring.describe(2);
            classNames = d.classNames();
        }
        List<Report.Entry> entries = List.of(new Report.Entry(name, r));
        Path report = Report.write(dir, "gradsurgery evaluate: " + model, preamble, classNames, entries);
        PrintStream printer = Console.stream(spec);
        printer.print(Report.table(entries));
        printer.println("report: " + report);
        return 0;
    }
}
