package org.gradsurgery.spark;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.LongSupplier;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.spark.impl.graph.SparkComputationGraph;
import org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster;
import org.gradsurgery.evaluation.EvaluationResult;
import org.gradsurgery.evaluation.SegmentationEvaluator;
import org.gradsurgery.experiment.DataSource;
import org.gradsurgery.experiment.ExperimentData;
import org.gradsurgery.experiment.ExperimentRunner;
import org.gradsurgery.experiment.ExperimentSpec;
import org.gradsurgery.model.UNet;
import org.gradsurgery.training.EarlyStopping;
import org.gradsurgery.training.EpochMetrics;
import org.gradsurgery.training.ProgressBar;
import org.gradsurgery.training.RunDirectory;
import org.gradsurgery.training.TrainingConfig;
import org.gradsurgery.training.TrainingResult;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.jackson.databind.ObjectMapper;

/**
 * Trains a {@link ComputationGraph} on Spark with DL4J's {@link ParameterAveragingTrainingMaster} for the same
 * {@link TrainingConfig} the single-machine {@code Trainer} takes, and writes the same run directory
 * ({@code config.json} with a {@code "spark"} section, {@code metrics.csv}, {@code checkpoint/}, {@code best.zip},
 * {@code model.zip}).
 *
 * <p><b>Rounds.</b> An epoch's minibatch files ({@link SparkData}) are cut into averaging rounds of
 * {@code W · averagingFrequency} files (W = {@link SparkSettings#workers()}); each round is one
 * {@code SparkComputationGraph.fitPathsMultiDataSet} call, i.e. exactly one DL4J split: every worker loads and fits
 * {@code averagingFrequency} minibatches from the broadcast parameters θ, and the driver averages
 * θ ← (1/W) Σ_w θ_w (with the updater state). One line of progress per round (score = the workers' mean minibatch
 * loss, examples/s, ETA); {@link TrainingConfig#maxIterations()} counts rounds. A round that leaves every parameter
 * unchanged is an error, never a silent no-op.
 *
 * <p><b>Evaluation</b> runs on the driver: after every {@code validateEvery} epochs the averaged network is scored
 * on {@link SparkData#validation} with the project's {@link SegmentationEvaluator} (validation loss, mean foreground
 * Dice, top-label ECE), as the single-machine trainer does; the caller evaluates the final network the same way.
 *
 * <p><b>Checkpoints</b> ({@code checkpoint/checkpoint-<round>.zip}, network with updater) are written every
 * {@code checkpointEvery} epochs and at the end; a Spark run is not resumed from them (no {@code state.json}), but
 * each is a complete DL4J model.
 */
public final class SparkSegmentationTrainer {
    private static final ObjectMapper JSON = new ObjectMapper();

    private final TrainingConfig config;
    private final SparkSettings spark;
    private final PrintStream out;
    private final Map<String, Object> metadata;
    private final LongSupplier clock;

    private SparkSegmentationTrainer(Builder b) {
        this.config = b.config;
        this.spark = b.spark;
        this.out = b.out;
        this.metadata = new LinkedHashMap<>(b.metadata);
        this.clock = b.clock;
    }

    /** A trainer for {@code config} (what is trained) on {@code spark} (where and how it is distributed). */
    public static Builder builder(TrainingConfig config, SparkSettings spark) {
        return new Builder(config, spark);
    }

    public TrainingConfig config() {
        return config;
    }

    public SparkSettings spark() {
        return spark;
    }

    /**
     * The Spark counterpart of {@link ExperimentRunner#run}: prepares {@code spec}'s data from {@code source} as the
     * single-machine run does, builds its U-Net, trains it on {@code sc} with the minibatches exported per epoch to
     * {@code exportDir} (which every executor must read at the same path) into {@code spec.training().runDirectory()},
     * and evaluates the averaged network on the driver on the validation cases. The run folder's {@code config.json}
     * holds the spec's sections (so {@code ExperimentSpec.read} reads it back) plus {@code "spark"}.
     *
     * @param extraSections further {@code config.json} sections (e.g. the CLI's {@code command}); may be empty
     */
    public static ExperimentRunner.Outcome run(JavaSparkContext sc, ExperimentSpec spec, DataSource source,
                                               SparkSettings spark, Path exportDir, PrintStream out,
                                               Map<String, Object> extraSections) throws IOException {
        ExperimentData data = ExperimentData.prepare(spec.data(), source, spec.seed(), spec.model().levels(), out);
        ExperimentSpec resolved = spec.withModel(data.complete(spec.model())).withData(data.plan());
        ComputationGraph net = UNet.builder().from(resolved.model()).loss(resolved.loss().create()).build().graph();
        TrainingConfig config = resolved.training();
        int workers = spark.workers() > 0 ? spark.workers() : sc.defaultParallelism();
        out.printf(Locale.ROOT, "== %s on Spark %s: %dD U-Net, %,d parameters; %d training / %d validation cases; %d "
                        + "epochs; %d workers x batches of %d, averaged every %d; run %s%n", resolved.loss().label(),
                sc.master(), data.dims(), net.numParams(), data.plan().split().training().size(),
                data.plan().split().validation().size(), config.epochs(), workers, config.batchSize(),
                spark.averagingFrequency(), config.runDirectory());
        Builder b = builder(config, spark).output(out);
        extraSections.forEach(b::metadata);
        resolved.sections().forEach(b::metadata);
        SparkData files = SparkData.export(data.trainingData(), config.batchSize(), config.seed(), exportDir);
        TrainingResult r;
        try {
            r = b.build().fit(sc, net, files);
        } finally {
            files.close();
        }
        return new ExperimentRunner.Outcome(resolved, data, r, data.evaluate(r.network(), ExperimentRunner.BINS,
                null));
    }

    /** The DL4J training master of these settings, for W workers and the experiment's batch size. */
    ParameterAveragingTrainingMaster trainingMaster(int workers) {
        ParameterAveragingTrainingMaster.Builder b = new ParameterAveragingTrainingMaster.Builder(workers,
                config.batchSize())
                .batchSizePerWorker(config.batchSize())
                .averagingFrequency(spark.averagingFrequency())
                .rddTrainingApproach(spark.rddTrainingApproach())
                .rngSeed(config.seed())
                .saveUpdater(true)
                .collectTrainingStats(false);
        if (spark.storageLevel() != null) {
            b.storageLevel(spark.storageLevel()).storageLevelStreams(spark.storageLevel());
        }
        return b.build();
    }

    /**
     * Trains {@code net} (its current parameters are the start) on {@code sc}; returns the averaged network. With a
     * run directory, writes {@code config.json} first; a directory that already holds a {@code model.zip} is refused.
     */
    public TrainingResult fit(JavaSparkContext sc, ComputationGraph net, SparkData data) throws IOException {
        Objects.requireNonNull(sc, "spark context");
        Objects.requireNonNull(net, "net");
        Objects.requireNonNull(data, "data");
        Path run = config.runDirectory();
        int workers = spark.workers() > 0 ? spark.workers() : sc.defaultParallelism();
        if (run != null) {
            if (Files.exists(run.resolve(RunDirectory.MODEL))) {
                throw new IllegalArgumentException("run directory " + run + " already has a " + RunDirectory.MODEL
                        + "; choose a new directory");
            }
            Files.createDirectories(run);
            Map<String, Object> sections = new LinkedHashMap<>();
            sections.put("training", JSON.readTree(config.toJson()));
            sections.put("spark", JSON.readTree(spark.toJson()));
            sections.putAll(metadata);
            sections.put("parameters", net.numParams());
            sections.put("sparkMaster", sc.master());
            sections.put("sparkWorkers", workers);
            RunDirectory.writeConfig(run, sections);
            RunDirectory.writeMetrics(run, List.of());
        }
        SparkComputationGraph sparkNet = new SparkComputationGraph(sc, net, trainingMaster(workers));
        return loop(sc, sparkNet, data, workers);
    }

    private TrainingResult loop(JavaSparkContext sc, SparkComputationGraph sparkNet, SparkData data, int workers)
            throws IOException {
        Path run = config.runDirectory();
        int perRound = workers * spark.averagingFrequency();
        ProgressBar bar = new ProgressBar(out, config.progress(), config.progressIntervalSeconds(), clock);
        List<EpochMetrics> history = new ArrayList<>();
        TrainingResult.StopReason reason = TrainingResult.StopReason.EPOCHS;
        long rounds = 0;
        double best = Double.NaN;
        int bestEpoch = 0;
        int badEpochs = 0;
        int epoch = 0;
        long start = clock.getAsLong();
        long totalRounds = -1;
        outer:
        while (epoch < config.epochs()) {
            long t0 = clock.getAsLong();
            List<String> files = data.batches(epoch);
            int roundsPerEpoch = (files.size() + perRound - 1) / perRound;
            if (totalRounds < 0) {
                totalRounds = (long) roundsPerEpoch * config.epochs();
                if (config.maxIterations() > 0) {
                    totalRounds = Math.min(totalRounds, config.maxIterations());
                }
            }
            double lossSum = 0;
            int roundsDone = 0;
            for (int r = 0; r < roundsPerEpoch; r++) {
                if (config.maxIterations() > 0 && rounds >= config.maxIterations()) {
                    reason = TrainingResult.StopReason.MAX_ITERATIONS;
                    break;
                }
                List<String> round = files.subList(r * perRound, Math.min(files.size(), (r + 1) * perRound));
                INDArray before = sparkNet.getNetwork().params().dup();
                JavaRDD<String> paths = sc.parallelize(round, Math.min(workers, round.size()));
                sparkNet.fitPathsMultiDataSet(paths);
                if (before.equals(sparkNet.getNetwork().params())) {
                    throw new IllegalStateException(String.format(Locale.ROOT, "averaging round %d of epoch %d left "
                            + "every parameter unchanged: the %d workers trained nothing (files %s ...)", r + 1,
                            epoch + 1, workers, round.get(0)));
                }
                rounds++;
                roundsDone++;
                double score = sparkNet.getScore();
                lossSum += score;
                double seconds = (clock.getAsLong() - start) / 1e9;
                if (config.progress() != TrainingConfig.ProgressMode.OFF) {
                    bar.line(String.format(Locale.ROOT, "epoch %d/%d | averaging round %d/%d (%d files on %d workers)"
                                    + " | round %d/%d | score %.4f | ETA %s", epoch + 1, config.epochs(), r + 1,
                            roundsPerEpoch, round.size(), workers, rounds, totalRounds, score,
                            ProgressBar.duration(seconds / rounds * Math.max(0, totalRounds - rounds))));
                }
            }
            double seconds = (clock.getAsLong() - t0) / 1e9;
            ComputationGraph net = sparkNet.getNetwork();
            if (roundsDone == 0) {
                break;
            }
            boolean complete = roundsDone == roundsPerEpoch;
            if (complete) {
                net.incrementEpochCount();
                epoch++;
            }
            int reported = complete ? epoch : epoch + 1;
            boolean validate = config.validateEvery() > 0 && (reported % config.validateEvery() == 0 || !complete);
            EvaluationResult v = validate ? SegmentationEvaluator.validate(net, data::validation, config.batchSize(),
                    config.eceBins()) : null;
            long examples = (long) Math.min(files.size(), roundsDone * perRound) * config.batchSize();
            EpochMetrics m = new EpochMetrics(reported, rounds, lossSum / roundsDone,
                    v == null ? Double.NaN : v.loss(), v == null ? Double.NaN : v.meanDice(),
                    v == null ? Double.NaN : v.ece(), seconds, seconds > 0 ? examples / seconds : Double.NaN);
            history.add(m);
            bar.line(String.format(Locale.ROOT, "epoch %d done: round %d | train_loss %.4f | val_loss %.4f | "
                            + "val_dice %.4f | val_ece %.4f | %.1f s%s", m.epoch(), rounds, m.trainLoss(), m.valLoss(),
                    m.valDice(), m.valEce(), m.seconds(), complete ? "" : " (partial epoch: " + roundsDone
                            + " rounds)"));
            if (run != null) {
                RunDirectory.writeMetrics(run, history);
            }
            if (!complete) {
                break;
            }
            EarlyStopping es = config.earlyStopping();
            if (es != null && v != null) {
                double value = m.value(es.metric());
                if (es.improves(value, best)) {
                    best = value;
                    bestEpoch = epoch;
                    badEpochs = 0;
                    if (run != null) {
                        RunDirectory.saveModel(net, run.resolve(RunDirectory.BEST), false);
                    }
                } else if (++badEpochs >= es.patience()) {
                    reason = TrainingResult.StopReason.EARLY_STOPPING;
                    bar.line(String.format(Locale.ROOT, "early stopping: val_%s has not improved for %d epoch(s); "
                            + "best %.6f at epoch %d", es.metric().lowerName(), badEpochs, best, bestEpoch));
                    break;
                }
            }
            if (run != null && config.checkpointEvery() > 0 && epoch % config.checkpointEvery() == 0
                    && epoch < config.epochs()) {
                checkpoint(net, rounds);
            }
            if (reason == TrainingResult.StopReason.MAX_ITERATIONS) {
                break outer;
            }
        }
        ComputationGraph net = sparkNet.getNetwork();
        if (run != null) {
            checkpoint(net, rounds);
            RunDirectory.saveModel(net, run.resolve(RunDirectory.MODEL), false);
        }
        return new TrainingResult(net, reason, epoch, rounds, history, bestEpoch, best, run);
    }


    private void checkpoint(ComputationGraph net, long rounds) throws IOException {
        Path dir = config.runDirectory().resolve(RunDirectory.CHECKPOINT_DIR);
        Files.createDirectories(dir);
        String name = "checkpoint-" + rounds + ".zip";
        RunDirectory.saveModel(net, dir.resolve(name), true);
        RunDirectory.removeCheckpointsBut(dir, name);
    }

    /** Builder of a {@link SparkSegmentationTrainer}. */
    public static final class Builder {
        private final TrainingConfig config;
        private final SparkSettings spark;
        private PrintStream out = System.out;
        private final Map<String, Object> metadata = new LinkedHashMap<>();
        private LongSupplier clock = System::nanoTime;

        private Builder(TrainingConfig config, SparkSettings spark) {
            this.config = Objects.requireNonNull(config, "config");
            this.spark = Objects.requireNonNull(spark, "spark settings");
        }

        /** Where progress goes (default {@code System.out}). */
        public Builder output(PrintStream out) {
            this.out = Objects.requireNonNull(out, "out");
            return this;
        }

        /** A section of {@code config.json} (e.g. "model", "loss", "data"). */
        public Builder metadata(String key, Object value) {
            if (List.of("training", "spark", "gitRevision", "parameters").contains(key)) {
                throw new IllegalArgumentException("config.json section '" + key + "' is written by the trainer");
            }
            this.metadata.put(key, value);
            return this;
        }

        /** Nanosecond clock for the progress display (tests). */
        public Builder clock(LongSupplier clock) {
            this.clock = Objects.requireNonNull(clock);
            return this;
        }

        public SparkSegmentationTrainer build() {
            return new SparkSegmentationTrainer(this);
        }
    }
}
