package org.gradsurgery.training;

import org.gradsurgery.InvalidInputException;
import org.gradsurgery.evaluation.EvaluationResult;
import org.gradsurgery.evaluation.SegmentationEvaluator;
import org.gradsurgery.io.AtomicFiles;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.gradsurgery.model.InPlaceGradientUpdater;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.shade.jackson.databind.JsonNode;

/**
 * Fits a {@link ComputationGraph} for a {@link TrainingConfig}: one {@code net.fit(MultiDataSet)} per batch, with the
 * caller's DL4J {@link TrainingListener}s attached (they get {@code iterationDone} from DL4J and
 * {@code onEpochStart/End} from the trainer) and a {@link ProgressBar}; after every {@code validateEvery} epochs the
 * validation loss, mean foreground Dice and top-label ECE ({@link SegmentationEvaluator}); one {@code metrics.csv} row per
 * epoch; early stopping; checkpoints; and resume. The next {@link TrainingData#prefetch()} batches are built on a
 * background thread while the network trains ({@link TrainingData#prefetched}, as DL4J's own {@code fit(iterator)}
 * does), so loading and augmentation overlap the step; the batches are the same either way.
 *
 * <p><b>Reproducibility and resume.</b> Everything a run depends on is a function of the seed and of counters that a
 * checkpoint stores:
 * <ul>
 *   <li>network parameters, updater state (e.g. Adam's moments) and DL4J's iteration/epoch counters: in the checkpoint
 *       zip ({@code ModelSerializer} with updater);</li>
 *   <li>the data order and augmentation: {@link TrainingData#training} is created afresh and {@code reset()} once per
 *       finished epoch, then the batches of the current epoch that were already used are drawn and skipped;</li>
 *   <li>ND4J's random generator (dropout, random layers): re-seeded before update i with a hash of (seed, i), so its
 *       state is a function of the iteration count instead of something to serialise;</li>
 *   <li>early stopping (best value, epoch, epochs without improvement), the epoch's partial loss sum and the history:
 *       in {@code checkpoint/state.json}.</li>
 * </ul>
 * Hence a run killed after a checkpoint and continued with {@link #resume} reaches bit-identical parameters to an
 * uninterrupted run on the same (deterministic, e.g. single-threaded CPU) backend.
 *
 * <p><b>Checkpoints</b> go to {@code run/checkpoint/}: the zip {@code checkpoint-<iteration>.zip} is written to a
 * temporary file and renamed, then {@code state.json} (which names it) is written the same way, and only then is the
 * previous zip deleted; so a kill at any moment leaves a complete, consistent checkpoint. One is written every
 * {@code checkpointEvery} epochs and when training ends for any reason other than an exception.
 */
public final class Trainer {
    private final TrainingConfig config;
    private final PrintStream out;
    private final List<TrainingListener> listeners;
    private final Map<String, Object> metadata;
    private final java.util.function.LongSupplier clock;

    private Trainer(Builder b) {
        this.config = b.config;
        this.out = b.out;
        this.listeners = List.copyOf(b.listeners);
        this.metadata = new LinkedHashMap<>(b.metadata);
        this.clock = b.clock;
    }

    /** A trainer for {@code config} printing progress to {@code System.out}. */
    public static Builder builder(TrainingConfig config) {
        return new Builder(config);
    }

    public TrainingConfig config() {
        return config;
    }

    /**
     * Trains {@code net} from its current state. With a run directory, locks it ({@link RunLock}: a second writer
     * is refused, naming the holder) and writes {@code config.json} first; a run directory that already holds a
     * checkpoint is refused (resume it, or choose another directory).
     */
    public TrainingResult fit(ComputationGraph net, TrainingData data) throws IOException {
        Objects.requireNonNull(net, "net");
        Objects.requireNonNull(data, "data");
        Path run = config.runDirectory();
        if (run == null) {
            return run(net, data, new State());
        }
        try (RunLock lock = RunLock.acquire(run, "training")) {
            if (Files.exists(run.resolve(RunDirectory.CHECKPOINT_DIR).resolve(RunDirectory.STATE))) {
                // the user's choice of folder (e.g. `gradsurgery demo` twice with one --out): one line, no stack trace
                throw new InvalidInputException("run directory " + run + " already has a checkpoint; resume it or "
                        + "choose a new directory");
            }
            Map<String, Object> sections = new LinkedHashMap<>();
            sections.put("training", RunDirectory.JSON.readTree(config.toJson()));
            sections.putAll(metadata);
            sections.put("parameters", net.numParams());
            RunDirectory.writeConfig(run, sections);
            return run(net, data, new State());
        }
    }

    /**
     * Continues the run in {@code runDir} from its last checkpoint with the configuration recorded there (the
     * {@code data} must be the same as the original run's). Progress goes to {@code out}.
     */
    public static TrainingResult resume(Path runDir, TrainingData data, PrintStream out,
                                        TrainingListener... listeners) throws IOException {
        return resume(runDir, data, out, c -> c, listeners);
    }

    /**
     * {@link #resume(Path, TrainingData, PrintStream, TrainingListener...)} with a changed configuration, e.g. more
     * epochs or a larger {@code maxIterations} to train a finished run longer. The seed, batch size and run directory
     * must stay the same (they determine the data order); the run directory is {@code runDir}.
     */
    public static TrainingResult resume(Path runDir, TrainingData data, PrintStream out,
                                        java.util.function.UnaryOperator<TrainingConfig> change,
                                        TrainingListener... listeners) throws IOException {
        Path stateFile = runDir.resolve(RunDirectory.CHECKPOINT_DIR).resolve(RunDirectory.STATE);
        if (!Files.isRegularFile(stateFile)) {
            throw new NoSuchFileException(stateFile + " (no checkpoint to resume from)");
        }
        try (RunLock lock = RunLock.acquire(runDir, "training (resumed)")) {
            return resumeLocked(runDir, stateFile, data, out, change, listeners);
        }
    }

    private static TrainingResult resumeLocked(Path runDir, Path stateFile, TrainingData data, PrintStream out,
                                               java.util.function.UnaryOperator<TrainingConfig> change,
                                               TrainingListener... listeners) throws IOException {
        JsonNode s = RunDirectory.JSON.readTree(stateFile.toFile());
        // the directory may have moved since it was recorded
        TrainingConfig recorded = TrainingConfig.fromJson(s.get("config").toString()).toBuilder().runDirectory(runDir)
                .build();
        TrainingConfig config = change.apply(recorded).toBuilder().runDirectory(runDir).build();
        if (config.seed() != recorded.seed() || config.batchSize() != recorded.batchSize()) {
            throw new org.gradsurgery.InvalidInputException("resume: seed and batch size must stay as recorded in " + stateFile
                    + " (seed " + recorded.seed() + ", batch " + recorded.batchSize() + ")");
        }
        State state = State.fromJson(s);
        ComputationGraph net = RunDirectory.loadModel(stateFile.resolveSibling(s.get("model").asText()), true);
        Trainer t = builder(config).output(out).listeners(List.of(listeners)).build();
        return t.run(net, data, state);
    }

    /** Mutable progress of a run: what a checkpoint stores besides the network. */
    private static final class State {
        int epoch;            // completed epochs
        int batchInEpoch;     // batches of the current epoch already fitted
        long iteration;       // updates in total
        double epochLossSum;  // sum of score·examples over the current epoch's batches
        long epochExamples;
        double best = Double.NaN;
        int bestEpoch;
        int badEpochs;
        List<EpochMetrics> history = new ArrayList<>();

        Map<String, Object> toJson(TrainingConfig config, String model) throws IOException {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("config", RunDirectory.JSON.readTree(config.toJson()));
            m.put("model", model);
            m.put("epoch", epoch);
            m.put("batchInEpoch", batchInEpoch);
            m.put("iteration", iteration);
            m.put("epochLossSum", Double.toString(epochLossSum));
            m.put("epochExamples", epochExamples);
            m.put("best", Double.toString(best));
            m.put("bestEpoch", bestEpoch);
            m.put("badEpochs", badEpochs);
            List<String> rows = new ArrayList<>();
            for (EpochMetrics e : history) {
                rows.add(e.csvRow());
            }
            m.put("history", rows);
            return m;
        }

        static State fromJson(JsonNode n) {
            State s = new State();
            s.epoch = n.get("epoch").asInt();
            s.batchInEpoch = n.get("batchInEpoch").asInt();
            s.iteration = n.get("iteration").asLong();
            s.epochLossSum = Double.parseDouble(n.get("epochLossSum").asText());
            s.epochExamples = n.get("epochExamples").asLong();
            s.best = Double.parseDouble(n.get("best").asText());
            s.bestEpoch = n.get("bestEpoch").asInt();
            s.badEpochs = n.get("badEpochs").asInt();
            for (JsonNode r : n.get("history")) {
                s.history.add(EpochMetrics.parseCsv(r.asText()));
            }
            return s;
        }
    }

    /** The seed of ND4J's generator before update {@code iteration}. */
    static long iterationSeed(long seed, long iteration) {
        return new SplittableRandom(seed * 0x9E3779B97F4A7C15L + iteration).nextLong();
    }

    private TrainingResult run(ComputationGraph net, TrainingData data, State st) throws IOException {
        // a graph restored from a checkpoint, cloned or built outside UNet has DL4J's updater (same updates, more
        // per-step arrays); the swap keeps the updater state
        InPlaceGradientUpdater.install(net);
        Collection<TrainingListener> previous = new ArrayList<>(net.getListeners());
        List<TrainingListener> all = new ArrayList<>(previous);
        all.addAll(listeners);
        net.setListeners(all);
        try {
            return loop(net, data, st, all);
        } finally {
            net.setListeners(previous);
        }
    }

    private TrainingResult loop(ComputationGraph net, TrainingData data, State st, List<TrainingListener> all)
            throws IOException {
        Path run = config.runDirectory();
        int batchesPerEpoch = data.batchesPerEpoch(config.batchSize());
        long total = batchesPerEpoch > 0 ? (long) batchesPerEpoch * config.epochs() : 0;
        if (config.maxIterations() > 0) {
            total = total > 0 ? Math.min(total, config.maxIterations()) : config.maxIterations();
        }
        ProgressBar bar = new ProgressBar(out, config.progress(), config.progressIntervalSeconds(), clock);
        MultiDataSetIterator it = TrainingData.prefetched(data.training(config.batchSize(), config.seed()),
                data.prefetch());
        try {
            return epochs(net, data, st, all, it, bar, total, batchesPerEpoch);
        } finally {
            TrainingData.close(it);
        }
    }

    private TrainingResult epochs(ComputationGraph net, TrainingData data, State st, List<TrainingListener> all,
                                    MultiDataSetIterator it, ProgressBar bar, long total, int batchesPerEpoch)
            throws IOException {
        Path run = config.runDirectory();
        for (int e = 0; e < st.epoch; e++) {
            it.reset();
        }
        // hasNext() before each next(): DL4J's async iterators take the next batch from their queue in hasNext(),
        // and their next() without it returns null without consuming anything
        for (int b = 0; b < st.batchInEpoch && it.hasNext(); b++) {
            it.next();
        }
        if (st.epoch > 0 || st.batchInEpoch > 0) {
            bar.line(String.format(Locale.ROOT, "resuming %s at epoch %d, batch %d, iteration %d", run,
                    st.epoch + 1, st.batchInEpoch + 1, st.iteration));
        }
        if (run != null && st.history.isEmpty()) {
            RunDirectory.writeMetrics(run, st.history);
        }
        TrainingResult.StopReason reason = TrainingResult.StopReason.EPOCHS;
        long t0 = clock.getAsLong();
        outer:
        while (st.epoch < config.epochs()) {
            if (st.batchInEpoch == 0) {
                for (TrainingListener l : all) {
                    l.onEpochStart(net);
                }
            }
            t0 = clock.getAsLong();
            while (it.hasNext()) {
                if (config.maxIterations() > 0 && st.iteration >= config.maxIterations()) {
                    reason = TrainingResult.StopReason.MAX_ITERATIONS;
                    break outer;
                }
                MultiDataSet batch = it.next();
                long n = batch.getFeatures(0).size(0);
                Nd4j.getRandom().setSeed(iterationSeed(config.seed(), st.iteration));
                net.fit(batch);
                double loss = net.score();
                st.iteration++;
                st.batchInEpoch++;
                st.epochLossSum += loss * n;
                st.epochExamples += n;
                bar.step(st.epoch + 1, config.epochs(), st.batchInEpoch, batchesPerEpoch, st.iteration, total, n, loss);
            }
            double seconds = (clock.getAsLong() - t0) / 1e9;
            for (TrainingListener l : all) {
                l.onEpochEnd(net);
            }
            net.incrementEpochCount();
            st.epoch++;
            EvaluationResult v = null;
            if (config.validateEvery() > 0 && st.epoch % config.validateEvery() == 0) {
                v = validate(net, data);
            }
            EpochMetrics m = metrics(st, st.epoch, v, seconds);
            st.history.add(m);
            st.batchInEpoch = 0;
            st.epochLossSum = 0;
            st.epochExamples = 0;
            bar.line(summary(m));
            boolean stop = false;
            EarlyStopping es = config.earlyStopping();
            if (es != null && v != null) {
                double value = m.value(es.metric());
                if (es.improves(value, st.best)) {
                    st.best = value;
                    st.bestEpoch = st.epoch;
                    st.badEpochs = 0;
                    if (run != null) {
                        RunDirectory.saveModel(net, run.resolve(RunDirectory.BEST), false);
                    }
                } else if (++st.badEpochs >= es.patience()) {
                    stop = true;
                }
            }
            if (run != null) {
                RunDirectory.writeMetrics(run, st.history);
            }
            if (stop) {
                reason = TrainingResult.StopReason.EARLY_STOPPING;
                bar.line(String.format(Locale.ROOT, "early stopping: val_%s has not improved for %d epoch(s); best "
                        + "%.6f at epoch %d", es.metric().lowerName(), st.badEpochs, st.best, st.bestEpoch));
                break;
            }
            if (st.epoch >= config.epochs()) {
                break;
            }
            if (run != null && config.checkpointEvery() > 0 && st.epoch % config.checkpointEvery() == 0) {
                checkpoint(net, st);
            }
            it.reset();
        }
        if (run != null) {
            checkpoint(net, st);
            RunDirectory.saveModel(net, run.resolve(RunDirectory.MODEL), false);
        }
        List<EpochMetrics> history = new ArrayList<>(st.history);
        if (st.batchInEpoch > 0) {
            // cut by maxIterations inside an epoch: report the partial epoch (validated), but keep it out of the
            // checkpoint's history, so that a resumed run records the completed epoch in its place
            double seconds = (clock.getAsLong() - t0) / 1e9;
            EpochMetrics m = metrics(st, st.epoch + 1, config.validateEvery() > 0 ? validate(net, data) : null,
                    seconds);
            history.add(m);
            bar.line(summary(m) + " (partial epoch: " + st.batchInEpoch + " batches)");
            if (run != null) {
                RunDirectory.writeMetrics(run, history);
            }
        }
        return new TrainingResult(net, reason, st.epoch, st.iteration, history, st.bestEpoch, st.best, run);
    }

    private static EpochMetrics metrics(State st, int epoch, EvaluationResult v, double seconds) {
        return new EpochMetrics(epoch, st.iteration,
                st.epochExamples > 0 ? st.epochLossSum / st.epochExamples : Double.NaN,
                v == null ? Double.NaN : v.loss(), v == null ? Double.NaN : v.meanDice(),
                v == null ? Double.NaN : v.ece(), seconds, seconds > 0 ? st.epochExamples / seconds : Double.NaN);
    }

    private EvaluationResult validate(ComputationGraph net, TrainingData data) {
        return SegmentationEvaluator.validate(net, data::validation, config.batchSize(), config.eceBins());
    }

    private static String summary(EpochMetrics m) {
        return String.format(Locale.ROOT, "epoch %d done: it %d | train_loss %.4f | val_loss %.4f | val_dice %.4f | "
                        + "val_ece %.4f | %.1f s, %.1f samples/s", m.epoch(), m.iteration(), m.trainLoss(), m.valLoss(),
                m.valDice(), m.valEce(), m.seconds(), m.samplesPerSecond());
    }

    private void checkpoint(ComputationGraph net, State st) throws IOException {
        Path dir = config.runDirectory().resolve(RunDirectory.CHECKPOINT_DIR);
        Files.createDirectories(dir);
        String name = "checkpoint-" + st.iteration + ".zip";
        RunDirectory.saveModel(net, dir.resolve(name), true);
        AtomicFiles.writeString(dir.resolve(RunDirectory.STATE),
                RunDirectory.JSON.writeValueAsString(st.toJson(config, name)) + "\n");
        RunDirectory.removeCheckpointsBut(dir, name);
    }

    /** Builder of a {@link Trainer}. */
    public static final class Builder {
        private final TrainingConfig config;
        private PrintStream out = System.out;
        private final List<TrainingListener> listeners = new ArrayList<>();
        private final Map<String, Object> metadata = new LinkedHashMap<>();
        private java.util.function.LongSupplier clock = System::nanoTime;

        private Builder(TrainingConfig config) {
            this.config = Objects.requireNonNull(config, "config");
        }

        /** Where progress goes (default {@code System.out}). */
        public Builder output(PrintStream out) {
            this.out = Objects.requireNonNull(out, "out");
            return this;
        }

        /** DL4J listeners attached to the network while it trains. */
        public Builder listeners(List<TrainingListener> listeners) {
            this.listeners.addAll(listeners);
            return this;
        }

        /** A section of {@code config.json} (e.g. "model", "loss", "data"): any Jackson-serialisable value. */
        public Builder metadata(String key, Object value) {
            if (key.equals("training") || key.equals("gitRevision")) {
                throw new IllegalArgumentException("config.json section '" + key + "' is written by the trainer");
            }
            this.metadata.put(key, value);
            return this;
        }

        /** Nanosecond clock for the progress display (tests). */
        public Builder clock(java.util.function.LongSupplier clock) {
            this.clock = Objects.requireNonNull(clock);
            return this;
        }

        public Trainer build() {
            return new Trainer(this);
        }
    }
}
