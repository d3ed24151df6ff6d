package org.gradsurgery.examples.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.InvalidSettingException;
import org.gradsurgery.evaluation.EvaluationResult;
import org.gradsurgery.evaluation.Report;
import org.gradsurgery.experiment.ExperimentRunner;
import org.gradsurgery.training.RunDirectory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code gradsurgery evaluate}: a saved model on its run's held-out cases, as the run's {@code config.json} (its
 * {@link org.gradsurgery.experiment.ExperimentSpec}) records them, into report.md.
 */
@Command(name = "evaluate", mixinStandardHelpOptions = true,
        description = "Evaluate a saved model (RUN_DIR/model.zip) on the held-out cases its run recorded in "
                + "RUN_DIR/config.json: Dice, IoU, HD95, ECE/MCE/ACE/adaptive ECE, Brier, NLL before and after "
                + "temperature scaling; writes report.md and reliability diagrams.")
final class EvaluateCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = {"--model", "-m"}, required = true, paramLabel = "FILE",
            description = "A saved ComputationGraph in a run folder, e.g. RUN_DIR/model.zip.")
    Path model;

    @Option(names = {"--out", "-o"}, paramLabel = "DIR",
            description = "Where report.md and the PNGs go (default: the model's directory).")
    Path out;

    @Option(names = "--bins", defaultValue = "15", paramLabel = "B",
            description = "Calibration bins (default: ${DEFAULT-VALUE}).")
    int bins;

    @Mixin
    Mirroring mirroring = new Mirroring();

    @Override
    public Integer call() throws Exception {
        if (bins < 1) {
            throw new InvalidSettingException(null, "bins", "must be >= 1, got " + bins);
        }
        PrintStream printer = Console.stream(spec);
        Path runDir = model.toAbsolutePath().getParent();
        ComputationGraph net = RunDirectory.loadModel(model, false);       // a missing model is named first
        ExperimentRunner.Saved saved = ExperimentRunner.open(runDir, printer);
        ExperimentRunner.checked(saved.spec(), net, model);
        int dims = saved.data().dims();
        EvaluationResult r = saved.data().evaluate(net, bins, mirroring.axes(dims));
        List<Report.Entry> entries = List.of(new Report.Entry(saved.spec().loss().label(), r));
        Path report = Report.write(out != null ? out.toAbsolutePath() : runDir, "gradsurgery evaluate: " + model,
                saved.data().describe() + mirroring.describe(dims), saved.data().classNames(), entries);
        printer.print(Report.table(entries));
        printer.println("report: " + report);
        return 0;
    }
}
