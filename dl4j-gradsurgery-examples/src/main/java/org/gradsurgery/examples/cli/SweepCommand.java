package org.gradsurgery.examples.cli;

import org.gradsurgery.examples.DemoData;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.gradsurgery.arbiter.CandidateResult;
import org.gradsurgery.arbiter.SweepData;
import org.gradsurgery.arbiter.SweepReport;
import org.gradsurgery.arbiter.SweepRunner;
import org.gradsurgery.arbiter.SweepSpec;
import org.gradsurgery.arbiter.UNetModelFactory;
import java.util.ArrayList;
import java.util.Arrays;
import org.gradsurgery.InvalidInputException;
import org.gradsurgery.experiment.DataSource;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.gradsurgery.experiment.DataPlan;
import org.gradsurgery.experiment.DataSources;
import org.gradsurgery.experiment.ExperimentData;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code gradsurgery sweep --spec sweep.json [--out DIR]}: an Arbiter random or grid search over losses, the
 * surgery and U-Net options on the bundled demo data or any data plan, ranked by calibration at no loss of Dice (see
 * {@link SweepSpec} for the spec and docs/SWEEPS.md). The spec is validated, and every candidate checked against
 * the data, before anything trains.
 */
@Command(name = "sweep", mixinStandardHelpOptions = true,
        description = {"Hyperparameter sweep (Arbiter random or grid search) over the loss, the surgery and U-Net "
                + "options on the demo data.",
                "Writes one run directory per candidate, sweep.md and sweep.csv (candidates ranked with all "
                        + "metrics) and best-config.json."})
final class SweepCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Option(names = "--spec", required = true, paramLabel = "FILE", description = "Sweep spec (JSON), e.g. "
            + "dl4j-gradsurgery-examples/examples/sweeps/surgery-exponent.json.")
    Path specFile;

    @Option(names = {"--out", "-o"}, paramLabel = "DIR",
            description = "Output directory (default: runs/sweep-<spec>-<time>); locked while the sweep runs.")
    Path out;

    @Option(names = "--datasets", paramLabel = "DIR",
            description = "The repository's datasets/ folder (default: found from the working directory, see "
                    + "train --help).")
    Path datasets;

    /**
     * The plan's validation examples as one data set (the sweep scores every candidate on it): they must share one
     * shape (2D images or slices of one size, or 3D patches).
     */
    static DataSet validationSet(ExperimentData prepared) {
        List<DataSet> parts = new ArrayList<>();
        MultiDataSetIterator it = prepared.trainingData().validation(8);
        while (it.hasNext()) {
            MultiDataSet m = it.next();
            parts.add(new DataSet(m.getFeatures(0), m.getLabels(0)));
        }
        try {
            return DataSet.merge(parts);
        } catch (RuntimeException e) {
            throw new InvalidInputException("sweep: the validation examples must share one shape to be scored "
                    + "together (" + e.getMessage() + "); use images of one size, slices of one size or --dims 3 "
                    + "patches");
        }
    }

    @Override
    public Integer call() throws Exception {
        PrintWriter o = spec.commandLine().getOut();
        SweepSpec s = SweepSpec.read(specFile);
        Path dir = out != null ? out : Path.of("runs", "sweep-" + specFile.getFileName().toString()
                .replaceFirst("\\.json$", "") + "-" + LocalDateTime.now().format(
                DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        org.gradsurgery.io.AtomicFiles.requireWritableDirectory(dir);       // before any work
        // one writer per sweep folder for the whole sweep (a second sweep on the same --out stops at once)
        try (org.gradsurgery.training.RunLock lock = org.gradsurgery.training.RunLock.acquire(dir, "gradsurgery sweep")) {
            return sweep(o, s, dir);
        }
    }

    private int sweep(PrintWriter o, SweepSpec s, Path dir) throws Exception {
        DataPlan plan = s.plan() != null ? s.plan()
                : DataPlan.of(new DataPlan.Colin27(DemoData.locate(datasets, "--datasets").toString(), s.downsample()));
        DataSource source = DataSources.open(plan.source());
        // the training pipeline of gradsurgery train, so a retrain sees the same data; 2D examples padded for the
        // deepest candidate
        ExperimentData prepared = ExperimentData.prepare(plan, source, s.trainingSeed(), s.maxLevels(), null);
        DataSet validation = validationSet(prepared);
        long[] shape = validation.getFeatures().shape();
        o.printf(Locale.ROOT, "data: %s; %d training cases, %d validation examples of %s, %d classes %s%n",
                source.describe(), prepared.plan().split().training().size(), shape[0],
                Arrays.toString(Arrays.copyOfRange(shape, 2, shape.length)), prepared.numClasses(),
                prepared.classNames());
        o.flush();
        SweepData data = new SweepData(prepared.trainingData(), validation, prepared.spacing());
        @SuppressWarnings("unchecked")
        Map<String, Object> description = new ObjectMapper().readValue(prepared.plan().toString(), Map.class);
        List<CandidateResult> ranked = new SweepRunner(s, data, new UNetModelFactory(), dir, description, line -> {
            o.println(line);
            o.flush();
        }).run();
        if (ranked.isEmpty() || ranked.get(0).failed()) {
            o.printf("no candidate completed; see %s%n", dir.resolve(SweepReport.MARKDOWN));
            o.flush();
            return GradSurgeryCli.EXIT_FAILURE;
        }
        CandidateResult best = ranked.get(0);
        o.printf(Locale.ROOT, "best (%s): candidate %d, %s, %s: dice %.4f, ece %.4f, ece_top %.4f, ece_band %.4f, "
                        + "nll %.4f%n", s.objective().describe(), best.index() + 1,
                SweepReport.describe(best.candidate().loss()), best.candidate().unet(), best.metrics().dice(),
                best.metrics().eceClasswise(), best.metrics().eceTopLabel(), best.metrics().eceBoundary(),
                best.metrics().nll());
        SweepReport.trainCommandLine(dir, best).ifPresent(c -> o.println("train it again: " + c));
        o.printf("wrote %s, %s, %s and %d run directories%n", dir.resolve(SweepReport.MARKDOWN),
                dir.resolve(SweepReport.CSV), dir.resolve(SweepReport.BEST_CONFIG), ranked.stream()
                        .filter(r -> r.runDirectory() != null).count());
        o.flush();
        return 0;
    }
}
