package org.gradsurgery.arbiter;

import org.gradsurgery.io.AtomicFiles;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import org.deeplearning4j.arbiter.optimize.api.Candidate;
import org.deeplearning4j.arbiter.optimize.api.OptimizationResult;
import org.deeplearning4j.arbiter.optimize.api.TaskCreator;
import org.deeplearning4j.arbiter.optimize.api.data.DataProvider;
import org.deeplearning4j.arbiter.optimize.api.data.DataSource;
import org.deeplearning4j.arbiter.optimize.api.score.ScoreFunction;
import org.deeplearning4j.arbiter.optimize.runner.CandidateInfo;
import org.deeplearning4j.arbiter.optimize.runner.CandidateStatus;
import org.deeplearning4j.arbiter.optimize.runner.IOptimizationRunner;
import org.deeplearning4j.arbiter.optimize.runner.listener.StatusListener;
import org.deeplearning4j.nn.conf.serde.JsonMappers;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.experiment.UNetSpec;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.training.EarlyStopping;
import org.gradsurgery.training.RunDirectory;
import org.gradsurgery.training.Trainer;
import org.gradsurgery.training.TrainingConfig;
import org.gradsurgery.training.TrainingResult;

/**
 * Arbiter {@link TaskCreator} for {@link SweepSpace} candidates: builds the candidate's network with a
 * {@link CandidateModelFactory} and trains it with the project's {@link Trainer} into its own run directory
 * (the trainer's format, see {@link RunDirectory}: {@code config.json} with the sections {@code gradsurgery train}
 * writes, i.e. training, command (the equivalent {@code train} arguments, see {@link SweepReport#trainCommand}),
 * model, loss (the {@link org.gradsurgery.loss.LossSpec} text form) and data, plus lossFunction (DL4J's JSON of the exact
 * loss), {@code metrics.csv} per epoch, {@code best.zip}, {@code model.zip}, the final checkpoint), validating
 * every epoch and stopping after {@code patience} epochs without improvement. Early stopping watches what the
 * trainer can watch: validation Dice (for the Dice and the constrained objectives), top-label ECE (for
 * {@code ece_top_label}), otherwise the validation loss. The kept network ({@code best.zip}) is then scored with
 * every {@link ValidationMetrics} metric, written to {@code sweep-metrics.json}, and the objective's monitored metric
 * is returned to Arbiter as the candidate's score. Arbiter's data source arguments are not used: the data are the
 * {@link SweepData} given here. The trainer has no deadline, so the sweep's time budget stops new candidates, not a
 * running one.
 */
public final class SweepTaskCreator implements TaskCreator {
    private final SweepData data;
    private final CandidateModelFactory factory;
    private final SweepObjective objective;
    private final SegmentationScoreFunction monitor;
    private final int epochs;
    private final int patience;
    private final int batchSize;
    private final long seed;
    private final Path outputDir;
    private final Map<String, Object> dataDescription;
    private final Consumer<CandidateResult> onResult;

    SweepTaskCreator(SweepData data, CandidateModelFactory factory, SweepObjective objective,
                     SegmentationScoreFunction monitor, int epochs, int patience, int batchSize, long seed,
                     Path outputDir, Map<String, Object> dataDescription,
                     Consumer<CandidateResult> onResult) {
        this.data = data;
        this.factory = factory;
        this.objective = objective;
        this.monitor = monitor;
        this.epochs = epochs;
        this.patience = patience;
        this.batchSize = batchSize;
        this.seed = seed;
        this.outputDir = outputDir;
        this.dataDescription = dataDescription;
        this.onResult = onResult;
    }

    @Override
    public Callable<OptimizationResult> create(Candidate candidate, DataProvider dataProvider,
                                               ScoreFunction scoreFunction, List<StatusListener> statusListeners,
                                               IOptimizationRunner runner) {
        return () -> run(candidate);
    }

    @Override
    public Callable<OptimizationResult> create(Candidate candidate, Class<? extends DataSource> dataSource,
                                               Properties dataSourceProperties, ScoreFunction scoreFunction,
                                               List<StatusListener> statusListeners, IOptimizationRunner runner) {
        return () -> run(candidate);
    }

    private OptimizationResult run(Candidate<?> c) {
        long start = System.currentTimeMillis();
        SweepCandidate sc = (SweepCandidate) c.getValue();
        String dirName = SweepReport.candidateDirectory(c.getIndex());
        CandidateResult result;
        try {
            result = train(c.getIndex(), sc, dirName, start);
        } catch (Exception | OutOfMemoryError e) {
            String msg = e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
            // whatever the trainer finished writing stays, for a look at the failure
            result = CandidateResult.failed(c.getIndex(), sc, (System.currentTimeMillis() - start) / 1000.0,
                    Files.isDirectory(outputDir.resolve(dirName)) ? dirName : null, msg.replace('\n', ' '));
        }
        onResult.accept(result);
        long end = System.currentTimeMillis();
        Double score = result.failed() ? null : monitor.score(result.metrics());
        CandidateInfo info = new CandidateInfo(c.getIndex(), result.failed() ? CandidateStatus.Failed
                : CandidateStatus.Complete, score, start, start, end, c.getFlatParameters(), result.error());
        return new OptimizationResult(c, score, c.getIndex(), null, info, null);
    }

    private CandidateResult train(int index, SweepCandidate sc, String dirName, long start) throws IOException {
        long candidateSeed = seed + index;
        Path run = outputDir.resolve(dirName);
        ComputationGraph net = factory.build(sc, data, candidateSeed);
        TrainingConfig config = TrainingConfig.builder().epochs(epochs).batchSize(batchSize).seed(candidateSeed)
                .validateEvery(1).earlyStopping(EarlyStopping.on(trainerMetric(objective.monitored()), patience))
                .checkpointEvery(0).runDirectory(run).progress(TrainingConfig.ProgressMode.OFF).build();
        // the sections gradsurgery train writes (an ExperimentSpec, so that evaluate and train --resume work on a
        // candidate when the data section is a DataPlan), plus the exact loss
        UNetSpec model = factory instanceof UNetModelFactory ? UNetModelFactory.unet(sc, data, candidateSeed).spec()
                : sc.unet();
        List<String> command = SweepReport.trainCommand(sc, epochs, batchSize, candidateSeed, patience,
                config.earlyStopping().metric().lowerName(), dataDescription);
        TrainingResult tr = Trainer.builder(config).output(new PrintStream(OutputStream.nullOutputStream()))
                .metadata("command", command)
                .metadata("model", JsonMappers.getMapper().valueToTree(model))
                .metadata("seed", candidateSeed)
                .metadata("loss", LossSpec.describing(sc.loss()).map(LossSpec::toString)
                        .orElse(SweepReport.describe(sc.loss())))
                .metadata("lossFunction", JsonMappers.getMapper().valueToTree(sc.loss()))
                .metadata("data", dataDescription)
                .metadata("sweep", Map.of("candidate", index + 1, "describe", SweepReport.describe(sc.loss())))
                .build().fit(net, data.training());
        Path best = run.resolve(RunDirectory.BEST);
        ComputationGraph kept = tr.bestEpoch() > 0 && Files.isRegularFile(best)
                ? RunDirectory.loadModel(best, false) : tr.network();
        ValidationMetrics m = ValidationMetrics.evaluate(kept, data.validation(), data.spacing(), monitor.bandWidth(),
                batchSize);
        String stop = tr.stopReason() == TrainingResult.StopReason.EARLY_STOPPING ? "early stopping"
                : tr.stopReason() == TrainingResult.StopReason.MAX_ITERATIONS ? "max iterations" : "max epochs";
        double seconds = (System.currentTimeMillis() - start) / 1000.0;
        CandidateResult r = CandidateResult.completed(index, sc, m, tr.epochs(),
                tr.bestEpoch() > 0 ? tr.bestEpoch() : tr.epochs(), seconds, stop, dirName);
        AtomicFiles.writeString(run.resolve(SweepReport.CANDIDATE_METRICS), SweepReport.metricsJson(r));
        return r;
    }

    /** The trainer's early-stopping metric for a monitored sweep metric (see the class documentation). */
    static EarlyStopping.Metric trainerMetric(ValidationMetrics.Metric monitored) {
        switch (monitored) {
            case DICE:
                return EarlyStopping.Metric.DICE;
            case ECE_TOP_LABEL:
                return EarlyStopping.Metric.ECE;
            default:
                return EarlyStopping.Metric.LOSS;
        }
    }
}
