package org.gradsurgery.examples.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.InvalidInputException;
import org.gradsurgery.InvalidSettingException;
import org.gradsurgery.evaluation.CaseEvaluation;
import org.gradsurgery.evaluation.Report;
import org.gradsurgery.experiment.DataPlan;
import org.gradsurgery.experiment.DataSource;
import org.gradsurgery.experiment.DataSources;
import org.gradsurgery.experiment.ExperimentData;
import org.gradsurgery.experiment.ExperimentRunner;
import org.gradsurgery.experiment.ExperimentSpec;
import org.gradsurgery.io.AtomicFiles;
import org.gradsurgery.training.RunDirectory;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code gradsurgery evaluate}: a saved model scored case by case ({@link ExperimentData#evaluateCases}), on its run's
 * held-out cases or on every case (or a listed subset) of another folder, with the preprocessing and label grouping
 * its run's {@code config.json} records; report.md, cases.csv and the reliability diagrams go to a new folder.
 */
@Command(name = "evaluate", mixinStandardHelpOptions = true,
        description = {"Evaluate a saved model (RUN_DIR/model.zip) case by case, each case on its own grid and voxel "
                + "spacing: Dice, IoU, HD95, ASSD per case and class (cases.csv), ECE/MCE/ACE/adaptive ECE, Brier, NLL "
                + "before and after temperature scaling (report.md, reliability diagrams).",
                "Cases: without a data flag, the held-out cases its run recorded in RUN_DIR/config.json. With --msd, "
                + "--images/--labels or --manifest, another folder (e.g. an external test set) with --all-cases "
                + "(every labelled case) or --split FILE (its \"test\" list, else \"validation\"); cases are "
                + "preprocessed and label-grouped as the run recorded and never re-split.",
                "Output: a new folder evaluate-<time>/ next to the model unless --out names one; the training "
                + "report is never overwritten."})
final class EvaluateCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = {"--model", "-m"}, required = true, paramLabel = "FILE",
            description = "A saved ComputationGraph in a run folder, e.g. RUN_DIR/model.zip.")
    Path model;

    @Option(names = {"--out", "-o"}, paramLabel = "DIR",
            description = "Where report.md, cases.csv and the PNGs go (default: a new evaluate-<time>/ folder in the "
                    + "model's run folder).")
    Path out;

    @Option(names = "--bins", defaultValue = "15", paramLabel = "B",
            description = "Calibration bins, 1 or more (default: ${DEFAULT-VALUE}).")
    int bins;

    @Mixin
    SourceFlags data = new SourceFlags();

    @Option(names = "--all-cases",
            description = "With --msd, --images/--labels or --manifest: score every labelled case of that folder.")
    boolean allCases;

    @Option(names = "--split", paramLabel = "JSON",
            description = "With --msd, --images/--labels or --manifest: score the \"test\" cases (else the "
                    + "\"validation\" cases) of this split file {\"training\": [...], \"validation\": [...], "
                    + "\"test\": [...]}.")
    Path split;

    @Mixin
    Mirroring mirroring = new Mirroring();

    @Override
    public Integer call() throws Exception {
        if (bins < 1) {
            throw new InvalidSettingException(null, "bins", "must be >= 1, got " + bins);
        }
        DataPlan.Source other = data.source(spec);
        if (other == null && (allCases || split != null)) {
            throw new CommandLine.ParameterException(spec.commandLine(), (allCases ? "--all-cases" : "--split")
                    + " names cases of another folder: give it with --msd, --images/--labels or --manifest");
        }
        if (other != null && allCases == (split != null)) {
            throw new CommandLine.ParameterException(spec.commandLine(), "with --msd, --images/--labels or --manifest "
                    + "give exactly one of --all-cases (every case) or --split FILE (a listed subset)");
        }
        PrintStream printer = Console.stream(spec);
        Path runDir = model.toAbsolutePath().getParent();
        Path outDir = out != null ? out.toAbsolutePath() : runDir.resolve("evaluate-"
                + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss", Locale.ROOT)));
        AtomicFiles.requireWritableDirectory(outDir);                       // before any work
        ComputationGraph net = RunDirectory.loadModel(model, false);       // a missing model is named first
        ExperimentData evaluated;
        List<String> ids;
        ExperimentSpec run;
        if (other == null) {
            ExperimentRunner.Saved saved = ExperimentRunner.open(runDir, printer);
            run = saved.spec();
            evaluated = saved.data();
            ids = evaluated.plan().split().validation();
        } else {
            run = ExperimentSpec.read(runDir);
            DataSource source = DataSources.open(other);
            evaluated = ExperimentData.onSource(run, source);
            ids = allCases ? source.caseIds() : listed(DataPlan.Split.read(split), source);
        }
        ExperimentRunner.checked(run, net, model);
        int dims = evaluated.dims();
        printer.printf(Locale.ROOT, "evaluating %d case(s) of %s%n", ids.size(), evaluated.source().describe());
        CaseEvaluation r = evaluated.evaluateCases(net, bins, mirroring.axes(dims), ids, null);
        r.writeCsv(outDir.resolve("cases.csv"));
        List<Report.Entry> entries = List.of(new Report.Entry(run.loss().label(), r.result()));
        Path report = Report.write(outDir, "gradsurgery evaluate: " + model, String.format(Locale.ROOT,
                "Scored %d case(s) of %s, each on its own grid and spacing. ", r.caseCount(),
                evaluated.source().describe()) + (other == null ? evaluated.describe() : "")
                + mirroring.describe(dims), evaluated.classNames(), entries);
        printer.print(Report.table(entries));
        Reports.printTemperatureWarnings(printer, entries);
        printer.printf(Locale.ROOT, "scored %d case(s); per case: %s%n", r.caseCount(), outDir.resolve("cases.csv"));
        printer.println("report: " + report);
        return 0;
    }

    /** The split file's test cases (else its validation cases), each of which {@code source} must hold. */
    private List<String> listed(DataPlan.Split s, DataSource source) throws java.io.IOException {
        List<String> ids = s.test() != null && !s.test().isEmpty() ? s.test() : s.validation();
        if (ids == null || ids.isEmpty()) {
            throw new InvalidInputException(split + ": lists no \"test\" or \"validation\" cases");
        }
        List<String> known = source.caseIds();
        List<String> missing = ids.stream().filter(id -> !known.contains(id)).toList();
        if (!missing.isEmpty()) {
            throw new InvalidInputException(split + ": case(s) " + (missing.size() <= 10 ? missing
                    : missing.subList(0, 10) + " and " + (missing.size() - 10) + " more") + " are not in "
                    + source.describe());
        }
        return ids;
    }
}
