package org.gradsurgery.examples.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.data.Datasets;
import org.gradsurgery.evaluation.EvaluationResult;
import org.gradsurgery.evaluation.Report;
import org.gradsurgery.evaluation.SegmentationEvaluator;
import org.gradsurgery.training.Trainer;
import org.gradsurgery.training.TrainingConfig;
import org.gradsurgery.training.TrainingData;
import org.gradsurgery.training.TrainingResult;
import org.gradsurgery.model.UNet;
import org.nd4j.shade.jackson.databind.JsonNode;

/**
 * What {@code train}, {@code compare} and {@code demo} share: train one 2D U-Net under one loss on the Colin27 slices
 * into a run directory, evaluate it on the held-out slab, and write comparison reports.
 */
final class Experiment {
    /** Validation/evaluation batch size: the held-out slab is small, this bounds memory on larger data. */
    static final int EVAL_BATCH = 8;

    private Experiment() {
    }

    /** One trained and evaluated model; {@code label} names its loss in tables ({@link LossSpec#label()}). */
    record Outcome(String label, TrainingResult training, EvaluationResult evaluation, Path runDir) {
    }

    /**
     * The display name of the loss a run's {@code config.json} records: its {@link LossSpec#label()}, or the
     * recorded text itself when it is no loss spec (sweep candidates of earlier versions recorded descriptions).
     */
    static String lossLabel(JsonNode config) {
        String text = config.path("loss").asText("dice");
        try {
            return LossSpec.parse(text).label();
        } catch (IllegalArgumentException e) {
            return text;
        }
    }

    /** {@code runs/<prefix>-yyyyMMdd-HHmmss} under the working directory. */
    static Path defaultRunDir(String prefix) {
        return Path.of("runs", prefix + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")))
                .toAbsolutePath();
    }

    /** Trains {@code loss} into {@code runDir} and evaluates on the validation slab. */
    static Outcome run(Datasets.Colin27DeepGm d, int downsample, Options.Model model, TrainingConfig config,
                       LossSpec loss, List<String> command, PrintStream out) throws IOException {
        long size = d.trainFeatures().size(2);
        UNet unet = model.unet(d.numClasses(), config.seed(), loss.create(), size);
        ComputationGraph net = unet.graph();
        out.printf(Locale.ROOT, "== %s: 2D U-Net, %d levels, %d base filters, %,d parameters; %d epochs x %d batches "
                        + "of %d; run %s%n", loss.label(), model.levels, model.filters, net.numParams(), config.epochs(),
                Options.Data.trainingData(d).batchesPerEpoch(config.batchSize()), config.batchSize(),
                config.runDirectory());
        TrainingResult r = Trainer.builder(config).output(out)
                .metadata("command", command)
                .metadata("model", model.describe(net))
                .metadata("loss", loss.toString())
                .metadata("data", Options.Data.describe(downsample))
                .build().fit(net, Options.Data.trainingData(d));
        return new Outcome(loss.label(), r, evaluate(r.network(), d, 15), config.runDirectory());
    }

    /** Full evaluation (Dice, IoU, HD95, calibration, temperature scaling) on the held-out slab. */
    static EvaluationResult evaluate(ComputationGraph net, Datasets.Colin27DeepGm d, int bins) {
        return evaluate(net, d, bins, new Mirroring());
    }

    /** {@link #evaluate(ComputationGraph, Datasets.Colin27DeepGm, int)} with {@code mirroring}'s test-time flips. */
    static EvaluationResult evaluate(ComputationGraph net, Datasets.Colin27DeepGm d, int bins, Mirroring mirroring) {
        return SegmentationEvaluator.builder().numClasses(d.numClasses()).bins(bins).spacing(d.spacing())
                .inference(mirroring.wholeImageInference()).build()
                .evaluate(net, TrainingData.batches(d.validation(), EVAL_BATCH));
    }

    /** What the report says about the data. */
    static String dataPreamble(Datasets.Colin27DeepGm d) {
        int[] v = d.validationSlices();
        return String.format(Locale.ROOT, "Data: Colin27 T1, axial slices %d x %d at %.1f x %.1f mm, classes %s. "
                        + "Training: %d slices; evaluation: the held-out contiguous slab of %d slices (k = %d..%d), "
                        + "never trained on (datasets/colin27-deepgm/split.json).", d.trainFeatures().size(2),
                d.trainFeatures().size(3), d.spacing()[0], d.spacing()[1], String.join(", ", d.classNames()),
                d.trainFeatures().size(0), v.length, v[0], v[v.length - 1]);
    }

    /** Writes the report into {@code dir}, then prints the table and the report's path. */
    static Path conclude(PrintStream out, Path dir, String title, Datasets.Colin27DeepGm d, List<Outcome> outcomes)
            throws IOException {
        Path report = report(dir, title, dataPreamble(d), d, outcomes);
        out.println();
        out.print(table(outcomes));
        out.println("report: " + report);
        return report;
    }

    /** Writes the comparison report of several outcomes into {@code dir} and returns its path. */
    static Path report(Path dir, String title, String preamble, Datasets.Colin27DeepGm d, List<Outcome> outcomes)
            throws IOException {
        return report(dir, title, preamble, d.classNames(), outcomes);
    }

    /** Writes the comparison report of several outcomes over {@code classNames} into {@code dir}. */
    static Path report(Path dir, String title, String preamble, List<String> classNames, List<Outcome> outcomes)
            throws IOException {
        List<Report.Entry> entries = new ArrayList<>();
        StringBuilder runs = new StringBuilder(preamble).append("\n\nRuns (config.json, metrics.csv, model.zip):\n");
        for (Outcome o : outcomes) {
            entries.add(new Report.Entry(o.label(), o.evaluation()));
            runs.append(String.format(Locale.ROOT, "\n* %s: `%s` (%d epochs, %d updates, stopped by %s)",
                    o.label(), dir.relativize(o.runDir()).toString().isEmpty() ? "." : dir.relativize(o.runDir()),
                    o.training().epochs(), o.training().iterations(),
                    o.training().stopReason().name().toLowerCase(Locale.ROOT).replace('_', ' ')));
        }
        return Report.write(dir, title, runs.toString(), classNames, entries);
    }

    /** The terminal table of several outcomes. */
    static String table(List<Outcome> outcomes) {
        List<Report.Entry> entries = new ArrayList<>();
        for (Outcome o : outcomes) {
            entries.add(new Report.Entry(o.label(), o.evaluation()));
        }
        return Report.table(entries);
    }
}
