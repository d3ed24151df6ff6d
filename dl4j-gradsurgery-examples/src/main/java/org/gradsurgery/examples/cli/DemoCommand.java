package org.gradsurgery.examples.cli;

import org.gradsurgery.examples.DemoData;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.gradsurgery.loss.LossSpec;
import java.util.Map;
import org.gradsurgery.experiment.DataPlan;
import org.gradsurgery.experiment.DataSource;
import org.gradsurgery.experiment.DataSources;
import org.gradsurgery.experiment.ExperimentRunner;
import org.gradsurgery.experiment.ExperimentSpec;
import org.gradsurgery.experiment.UNetSpec;
import org.gradsurgery.model.UNet;
import org.gradsurgery.training.TrainingConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code gradsurgery demo}: the README's main job. No arguments, no download: a small 2D U-Net trained twice on the
 * bundled Colin27 slices, with Dice and with Dice + surgery (same seed, data order and budget), both evaluated on the
 * held-out slab; prints the table and the report path.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = {"Train a small 2D U-Net twice on the bundled Colin27 T1 slices (background and 4 deep-grey-"
                + "matter structures), "
                + "once with Dice and once with Dice + gradient surgery, same seed and budget; evaluate both on the "
                + "held-out slab; print the comparison and write report.md with both reliability diagrams.",
                "No download, no arguments. --smoke runs a seconds-long variant (used by the tests)."})
final class DemoCommand implements Callable<Integer> {
    /**
     * The demo's budget, chosen for 10 minutes on 2 cores (README: the measured time next to these numbers): 48 x 48
     * slices (2 mm in-plane), a 3-level U-Net with 8 base filters, 30 epochs of 5 batches of 8 slices = 150 updates
     * per loss.
     */
    static final int DOWNSAMPLE = 2;
    static final int EPOCHS = 30;
    static final int LEVELS = 3;
    static final int FILTERS = 8;
    static final int BATCH = 8;
    static final double LR = 1e-2;
    static final long SEED = 42;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--smoke", description = "Seconds-long variant: 48x48 slices, 2 levels, 4 filters, 3 updates.")
    boolean smoke;

    @Option(names = {"--out", "-o"}, paramLabel = "DIR",
            description = "Output directory (default: runs/demo-<time>).")
    Path out;

    @Option(names = "--datasets", paramLabel = "DIR",
            description = "The repository's datasets/ folder (default: found from the working directory, see "
                    + "train --help).")
    Path datasets;

    @Option(names = "--progress", defaultValue = "AUTO", paramLabel = "MODE",
            description = "Progress display: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).")
    TrainingConfig.ProgressMode progress;

    @Override
    public Integer call() throws Exception {
        PrintStream printer = Console.stream(spec);
        long start = System.nanoTime();
        DataPlan plan = DataPlan.of(new DataPlan.Colin27(DemoData.locate(datasets, "--datasets").toString(), DOWNSAMPLE));
        UNetSpec unet = UNetSpec.builder().levels(smoke ? 2 : LEVELS).baseFilters(smoke ? 4 : FILTERS)
                .normalization(UNet.Normalization.INSTANCE).learningRate(LR).build();
        Path dir = out != null ? out.toAbsolutePath() : Reports.defaultRunDir(smoke ? "demo-smoke" : "demo");
        DataSource source = DataSources.open(plan.source());
        printer.println("Data: " + source.describe() + ".");
        Map<String, Object> command = Map.of("command", spec.commandLine().getParseResult().originalArgs());
        List<ExperimentRunner.Outcome> outcomes = new ArrayList<>();
        for (LossSpec l : List.of(LossSpec.parse("dice"), LossSpec.parse("dice+surgery"))) {
            TrainingConfig config = TrainingConfig.builder().epochs(smoke ? 1 : EPOCHS)
                    .maxIterations(smoke ? 3 : 0).batchSize(BATCH)
                    .runDirectory(dir.resolve(l.slug())).progress(progress).build();
            outcomes.add(ExperimentRunner.run(new ExperimentSpec(unet, l, config, plan, SEED), source, printer,
                    command));
        }
        Reports.conclude(printer, dir, "gradsurgery demo: Dice vs Dice + surgery", outcomes);
        printer.printf(Locale.ROOT, "total time: %.1f s%n", (System.nanoTime() - start) / 1e9);
        return 0;
    }
}
