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
                + "options, on the bundled demo data or the data plan the spec names (docs/SWEEPS.md).",
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
            description = "For a spec on the demo data: the repository's datasets/ folder (default: found from the "
                    + "working directory, see train --help).")
    Path datasets;

    /**
     * The plan's validation examples (the training pipeline's: slices, whole images or fixed 3D patches), grouped by
     * shape in their order of first appearance: each part is scored at its own size, so validation cases of different
     * sizes are never padded to a common one (whose border would be scored). Examples are drawn one at a time, so
     * no batch pads them either.
     */
    static List<DataSet> validationSet(ExperimentData prepared) {
        Map<String, List<DataSet>> byShape = new LinkedHashMap<>();
        MultiDataSetIterator it = prepared.trainingData().validation(1);
        while (it.hasNext()) {
            MultiDataSet m = it.next();
            byShape.computeIfAbsent(Arrays.toString(m.getFeatures(0).shape()), k -> new ArrayList<>())
                    .add(new DataSet(m.getFeatures(0), m.getLabels(0)));
        }
        if (byShape.isEmpty()) {
            throw new InvalidInputException("sweep: the plan has no validation examples");
        }
        List<DataSet> parts = new ArrayList<>();
        for (List<DataSet> same : byShape.values()) {
            parts.add(DataSet.merge(same));
        }
        return parts;
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
        List<DataSet> validation = validationSet(prepared);
        List<String> shapes = new ArrayList<>();
        long examples = 0;
        for (DataSet part : validation) {
            long[] shape = part.getFeatures().shape();
            examples += shape[0];
            shapes.add(shape[0] + " of " + Arrays.toString(Arrays.copyOfRange(shape, 2, shape.length)));
        }
        o.printf(Locale.ROOT, "data: %s; %d training cases, %d validation examples (%s, each scored at its own "
                        + "size), %d classes %s%n", source.describe(), prepared.plan().split().training().size(),
                examples, String.join(", ", shapes), prepared.numClasses(), prepared.classNames());
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
