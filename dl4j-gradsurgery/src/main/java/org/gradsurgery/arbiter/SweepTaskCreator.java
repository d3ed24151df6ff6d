package org.gradsurgery.arbiter;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
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
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

/**
 * Arbiter {@link TaskCreator} for {@link SweepSpace} candidates: builds the candidate's network with a
 * {@link CandidateModelFactory}, trains it epoch by epoch, evaluates {@link ValidationMetrics} after every epoch,
 * stops early after {@code patience} epochs without improvement of the monitored metric (or at the sweep's
 * deadline, or after {@code epochs}), restores the best epoch's weights, writes the candidate's run directory and
 * returns the monitored metric as Arbiter's score. Arbiter's data source arguments are not used: the data are the
 * {@link SweepData} given here.
 *
 * <p>Run directory ({@link SweepReport#candidateDirectory}; written to a temporary folder, then moved):
 * {@code config.json} (the candidate as a {@code train} configuration), {@code history.csv} (per epoch: training
 * loss and every validation metric), {@code metrics.json} (the kept epoch), {@code model.zip} (the kept weights,
 * DL4J's ModelSerializer format).
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
    private final long deadlineMillis;
    private final Path outputDir;
    private final Map<String, Object> dataDescription;
    private final Consumer<CandidateResult> onResult;

    SweepTaskCreator(SweepData data, CandidateModelFactory factory, SweepObjective objective,
                     SegmentationScoreFunction monitor, int epochs, int patience, int batchSize, long seed,
                     long deadlineMillis, Path outputDir, Map<String, Object> dataDescription,
                     Consumer<CandidateResult> onResult) {
        this.data = data;
        this.factory = factory;
        this.objective = objective;
        this.monitor = monitor;
        this.epochs = epochs;
        this.patience = patience;
        this.batchSize = batchSize;
        this.seed = seed;
        this.deadlineMillis = deadlineMillis;
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
            result = CandidateResult.failed(c.getIndex(), sc, (System.currentTimeMillis() - start) / 1000.0, null,
                    msg.replace('\n', ' '));
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
        ComputationGraph net = factory.build(sc, data, candidateSeed);
        DataSetIterator it = data.trainIterator(batchSize, candidateSeed);
        ValidationMetrics.Metric monitored = objective.monitored();
        List<String> history = new ArrayList<>();
        history.add("epoch,train_loss,dice,ece_classwise,ece_top_label,ece_boundary,nll,brier,seconds");
        ValidationMetrics best = null;
        INDArray bestParams = null;
        int bestEpoch = 0;
        int epoch = 0;
        String stop = "max epochs";
        while (epoch < epochs) {
            epoch++;
            double lossSum = 0;
            int batches = 0;
            if (epoch > 1) {
                it.reset();
            }
            while (it.hasNext()) {
                DataSet ds = it.next();
                net.fit(ds);
                lossSum += net.score();
                batches++;
            }
            if (batches == 0) {
                throw new IllegalArgumentException("the training iterator gave no batches");
            }
            ValidationMetrics m = ValidationMetrics.evaluate(net, data.validation(), data.spacing(),
                    monitor.bandWidth(), batchSize);
            history.add(String.format(Locale.ROOT, "%d,%.6f,%s,%.3f", epoch, lossSum / batches,
                    SweepReport.metricsCsv(m), (System.currentTimeMillis() - start) / 1000.0));
            if (best == null || monitored.better(m.get(monitored), best.get(monitored))) {
                best = m;
                bestEpoch = epoch;
                bestParams = net.params().dup();
            } else if (epoch - bestEpoch >= patience) {
                stop = "early stopping";
                break;
            }
            if (System.currentTimeMillis() >= deadlineMillis && epoch < epochs) {
                stop = "time budget";
                break;
            }
        }
        net.setParams(bestParams);
        double seconds = (System.currentTimeMillis() - start) / 1000.0;
        CandidateResult r = CandidateResult.completed(index, sc, best, epoch, bestEpoch, seconds, stop, dirName);
        writeRunDirectory(dirName, r, net, history);
        return r;
    }

    private void writeRunDirectory(String name, CandidateResult r, ComputationGraph net, List<String> history)
            throws IOException {
        Path tmp = Files.createTempDirectory(outputDir, "." + name + ".");
        try {
            Files.writeString(tmp.resolve("config.json"), SweepReport.trainConfigJson(r, batchSize, seed + r.index(),
                    dataDescription));
            Files.write(tmp.resolve("history.csv"), history);
            Files.writeString(tmp.resolve("metrics.json"), SweepReport.metricsJson(r));
            ModelSerializer.writeModel(net, tmp.resolve("model.zip").toFile(), false);
            SweepReport.moveIntoPlace(tmp, outputDir.resolve(name));
        } catch (IOException | RuntimeException e) {
            SweepReport.deleteTree(tmp);
            throw e;
        }
    }
}
