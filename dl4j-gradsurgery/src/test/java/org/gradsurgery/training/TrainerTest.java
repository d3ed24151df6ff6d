package org.gradsurgery.training;

import org.gradsurgery.InvalidInputException;
import org.gradsurgery.model.TinySegmentation;
import org.gradsurgery.io.AtomicFiles;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.dataset.api.MultiDataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Resume equality, early stopping, checkpoints, run-directory files and progress output of {@link Trainer}. */
class TrainerTest {
    private static final PrintStream QUIET = new PrintStream(PrintStream.nullOutputStream());

    @TempDir
    Path tmp;

    /** Records a fingerprint of every batch the training iterator hands out, in order. */
    static final class Recording implements TrainingData {
        final TrainingData base = TinySegmentation.data();
        final List<Double> batches = java.util.Collections.synchronizedList(new ArrayList<>());
        /** Threads that built batches. */
        final java.util.Set<Thread> threads = java.util.concurrent.ConcurrentHashMap.newKeySet();
        /** Declares itself async-capable (and thus prefetched by the trainer) with a queue of this many; 0 = not. */
        int prefetch;

        @Override
        public MultiDataSetIterator training(int batchSize, long seed) {
            MultiDataSetIterator it = base.training(batchSize, seed);
            return new MultiDataSetIterator() {
                @Override
                public MultiDataSet next(int num) {
                    return record(it.next(num));
                }

                @Override
                public MultiDataSet next() {
                    return record(it.next());
                }

                private MultiDataSet record(MultiDataSet m) {
                    threads.add(Thread.currentThread());
                    // position-weighted sums: a different order, flip or example changes them
                    double f = m.getFeatures(0).ravel().mul(org.nd4j.linalg.factory.Nd4j
                            .linspace(1, m.getFeatures(0).length(), m.getFeatures(0).length())
                            .castTo(m.getFeatures(0).dataType())).sumNumber().doubleValue();
                    batches.add(f);
                    return m;
                }

                @Override
                public boolean hasNext() {
                    return it.hasNext();
                }

                @Override
                public void setPreProcessor(MultiDataSetPreProcessor p) {
                    it.setPreProcessor(p);
                }

                @Override
                public MultiDataSetPreProcessor getPreProcessor() {
                    return it.getPreProcessor();
                }

                @Override
                public boolean resetSupported() {
                    return true;
                }

                @Override
                public boolean asyncSupported() {
                    return prefetch > 0;
                }

                @Override
                public void reset() {
                    it.reset();
                }
            };
        }

        @Override
        public MultiDataSetIterator validation(int batchSize) {
            return base.validation(batchSize);
        }

        @Override
        public int batchesPerEpoch(int batchSize) {
            return base.batchesPerEpoch(batchSize);
        }

        @Override
        public int prefetch() {
            return prefetch;
        }
    }

    /** Throws at a given update, as a kill -9 would stop the run there (no checkpoint is written on the way out). */
    static final class Crash extends BaseTrainingListener {
        private final int atIteration;
        private int seen;

        Crash(int atIteration) {
            this.atIteration = atIteration;
        }

        @Override
        public void iterationDone(Model model, int iteration, int epoch) {
            if (++seen == atIteration) {
                throw new IllegalStateException("simulated crash at update " + atIteration);
            }
        }
    }

    private TrainingConfig.Builder config(Path run) {
        return TrainingConfig.builder().epochs(4).batchSize(4).seed(123).runDirectory(run)
                .progress(TrainingConfig.ProgressMode.OFF);
    }

    private static float[] params(ComputationGraph net) {
        return net.params().dup().data().asFloat();
    }

    private static float[] updaterState(ComputationGraph net) {
        return net.getUpdater().getStateViewArray().dup().data().asFloat();
    }

    @Test
    void resumedRunEqualsUninterruptedRun() throws IOException {
        Recording dataA = new Recording();
        TrainingResult a = Trainer.builder(config(tmp.resolve("a")).build()).output(QUIET).build()
                .fit(TinySegmentation.net(), dataA);
        assertEquals(12, a.iterations());
        assertEquals(12, dataA.batches.size());

        // 3 batches per epoch: the crash at update 8 is inside epoch 3; the last checkpoint is after epoch 2
        Path runB = tmp.resolve("b");
        Recording dataB = new Recording();
        Trainer crashing = Trainer.builder(config(runB).build()).output(QUIET).listeners(List.of(new Crash(8))).build();
        assertThrows(IllegalStateException.class, () -> crashing.fit(TinySegmentation.net(), dataB));
        assertEquals(dataA.batches.subList(0, 8), dataB.batches);
        assertTrue(Files.exists(runB.resolve("checkpoint/checkpoint-6.zip")));

        Recording dataResumed = new Recording();
        TrainingResult b = Trainer.resume(runB, dataResumed, QUIET);
        assertEquals(dataA.batches.subList(6, 12), dataResumed.batches, "data order after resume");
        assertEquals(12, b.iterations());
        assertEquals(4, b.epochs());
        assertArrayEquals(params(a.network()), params(b.network()), "final parameters");
        assertArrayEquals(updaterState(a.network()), updaterState(b.network()), "final Adam state");
        assertEquals(a.network().getIterationCount(), b.network().getIterationCount());
        assertEquals(a.network().getEpochCount(), b.network().getEpochCount());
        List<EpochMetrics> ha = RunDirectory.readMetrics(tmp.resolve("a"));
        List<EpochMetrics> hb = RunDirectory.readMetrics(runB);
        assertEquals(4, hb.size());
        for (int e = 0; e < 4; e++) {
            assertEquals(ha.get(e).trainLoss(), hb.get(e).trainLoss(), 1e-6, "train loss, epoch " + (e + 1));
            assertEquals(ha.get(e).valDice(), hb.get(e).valDice(), 1e-6, "val Dice, epoch " + (e + 1));
        }
        // the saved final model is the trained network
        ComputationGraph saved = RunDirectory.loadModel(runB.resolve(RunDirectory.MODEL), false);
        assertArrayEquals(params(b.network()), params(saved));
    }

    @Test
    void prefetchingBuildsBatchesOnAnotherThreadAndChangesNothing() throws IOException {
        Recording inline = new Recording();
        TrainingResult a = Trainer.builder(config(null).build()).output(QUIET).build()
                .fit(TinySegmentation.net(), inline);
        Recording ahead = new Recording();
        ahead.prefetch = 2;
        TrainingResult b = Trainer.builder(config(null).build()).output(QUIET).build()
                .fit(TinySegmentation.net(), ahead);
        assertEquals(java.util.Set.of(Thread.currentThread()), inline.threads);
        assertFalse(ahead.threads.contains(Thread.currentThread()), "batches built on the training thread");
        assertEquals(inline.batches, ahead.batches, "batches and their order");
        assertArrayEquals(params(a.network()), params(b.network()), "final parameters");
        // the prefetch thread is stopped when fit returns
        for (Thread t : ahead.threads) {
            try {
                t.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            assertFalse(t.isAlive(), "prefetch thread still running: " + t);
        }
    }

    @Test
    void runStoppedMidEpochByMaxIterationsContinuesExactly() throws IOException {
        Recording dataA = new Recording();
        TrainingResult a = Trainer.builder(config(tmp.resolve("a")).maxIterations(10).build()).output(QUIET).build()
                .fit(TinySegmentation.net(), dataA);
        assertEquals(TrainingResult.StopReason.MAX_ITERATIONS, a.stopReason());
        assertEquals(10, a.iterations());
        assertEquals(3, a.epochs());

        Path runB = tmp.resolve("b");
        TrainingResult first = Trainer.builder(config(runB).maxIterations(5).build()).output(QUIET).build()
                .fit(TinySegmentation.net(), new Recording());
        assertEquals(5, first.iterations());
        assertEquals(1, first.epochs());
        // a new run into a folder that has a checkpoint is the user's mistake (InvalidInputException: one line in the CLI)
        InvalidInputException again = assertThrows(InvalidInputException.class, () -> Trainer.builder(config(runB)
                .maxIterations(5).build()).output(QUIET).build().fit(TinySegmentation.net(), new Recording()));
        assertTrue(again.getMessage().contains("already has a checkpoint"), again.getMessage());
        Recording rest = new Recording();
        TrainingResult b = Trainer.resume(runB, rest, QUIET, c -> c.toBuilder().maxIterations(10).build());
        // update 6 is the 3rd batch of epoch 2: the two used batches of epoch 2 are drawn again and skipped
        assertEquals(dataA.batches.subList(3, 10), rest.batches);
        assertArrayEquals(params(a.network()), params(b.network()));
        assertArrayEquals(updaterState(a.network()), updaterState(b.network()));
        assertThrows(IllegalArgumentException.class,
                () -> Trainer.resume(runB, new Recording(), QUIET, c -> c.toBuilder().seed(1).build()));

        // the same resume with the batches prefetched: the used batches of epoch 2 are skipped just the same
        Path runC = tmp.resolve("c");
        Recording first2 = new Recording();
        first2.prefetch = 2;
        Trainer.builder(config(runC).maxIterations(5).build()).output(QUIET).build()
                .fit(TinySegmentation.net(), first2);
        Recording rest2 = new Recording();
        rest2.prefetch = 2;
        TrainingResult c = Trainer.resume(runC, rest2, QUIET, x -> x.toBuilder().maxIterations(10).build());
        assertFalse(rest2.threads.contains(Thread.currentThread()));
        assertArrayEquals(params(a.network()), params(c.network()), "prefetched resume");
        assertEquals(RunDirectory.readMetrics(tmp.resolve("a")).stream().map(EpochMetrics::iteration).toList(),
                RunDirectory.readMetrics(runC).stream().map(EpochMetrics::iteration).toList());
    }

    @Test
    void earlyStoppingStopsAfterPatienceAndKeepsTheBestModel() throws IOException {
        Path run = tmp.resolve("es");
        // an improvement must beat the best by more than 10: only the first epoch counts
        EarlyStopping rule = new EarlyStopping(EarlyStopping.Metric.LOSS, null, 2, 10.0);
        TrainingResult r = Trainer.builder(config(run).epochs(10).earlyStopping(rule).build()).output(QUIET).build()
                .fit(TinySegmentation.net(), TinySegmentation.data());
        assertEquals(TrainingResult.StopReason.EARLY_STOPPING, r.stopReason());
        assertEquals(3, r.epochs());
        assertEquals(1, r.bestEpoch());
        assertEquals(r.history().get(0).valLoss(), r.bestValue(), 0.0);
        assertTrue(Files.isRegularFile(run.resolve(RunDirectory.BEST)));
        assertEquals(3, RunDirectory.readMetrics(run).size());

        EarlyStopping dice = EarlyStopping.on(EarlyStopping.Metric.DICE, 3);
        assertEquals(EarlyStopping.Mode.MAX, dice.mode());
        assertTrue(dice.improves(0.5, 0.4));
        assertFalse(dice.improves(0.4, 0.5));
        assertFalse(dice.improves(Double.NaN, 0.5));
        assertTrue(dice.improves(0.1, Double.NaN));
        assertTrue(EarlyStopping.on(EarlyStopping.Metric.ECE, 1).improves(0.01, 0.02));
        assertEquals(EarlyStopping.Metric.ECE, EarlyStopping.Metric.parse("ECE"));
        assertThrows(IllegalArgumentException.class, () -> EarlyStopping.Metric.parse("accuracy"));
        assertThrows(IllegalArgumentException.class, () -> EarlyStopping.on(EarlyStopping.Metric.DICE, 0));
    }

    @Test
    void runDirectoryHoldsConfigMetricsAndOneCompleteCheckpoint() throws IOException {
        Path run = tmp.resolve("run");
        TrainingConfig cfg = config(run).epochs(2).build();
        Trainer.builder(cfg).output(QUIET).metadata("loss", "dice").build()
                .fit(TinySegmentation.net(), TinySegmentation.data());
        JsonNode json = RunDirectory.readConfig(run);
        assertEquals(123, json.get("training").get("seed").asLong());
        assertEquals("dice", json.get("loss").asText());
        assertEquals(cfg, TrainingConfig.fromJson(json.get("training").toString()));
        assertTrue(json.has("gitRevision"));
        List<String> csv = Files.readAllLines(run.resolve(RunDirectory.METRICS));
        assertEquals(EpochMetrics.CSV_HEADER, csv.get(0));
        assertEquals(3, csv.size());
        for (EpochMetrics m : RunDirectory.readMetrics(run)) {
            assertTrue(m.valDice() >= 0 && m.valDice() <= 1, m.toString());
            assertTrue(m.valEce() >= 0 && m.valEce() <= 1, m.toString());
            assertTrue(m.trainLoss() > 0, m.toString());
        }
        try (Stream<Path> files = Files.list(run.resolve(RunDirectory.CHECKPOINT_DIR))) {
            List<String> names = files.map(p -> p.getFileName().toString()).sorted().toList();
            assertEquals(List.of("checkpoint-6.zip", "state.json"), names, "one checkpoint, no temporary files");
        }
        try (Stream<Path> files = Files.list(run)) {
            assertTrue(files.noneMatch(p -> p.getFileName().toString().endsWith(".part")));
        }
        // a second fit into the same directory is refused, resume is the way
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Trainer.builder(cfg)
                .output(QUIET).build().fit(TinySegmentation.net(), TinySegmentation.data()));
        assertTrue(e.getMessage().contains("resume"), e.getMessage());
    }

    @Test
    void atomicWriteKeepsTheOldFileWhenTheWriterFails() throws IOException {
        Path target = tmp.resolve("state.json");
        AtomicFiles.writeString(target, "old complete content");
        assertThrows(IOException.class, () -> AtomicFiles.write(target, t -> {
            Files.writeString(t, "new half-writ");
            throw new IOException("disk full");
        }));
        assertEquals("old complete content", Files.readString(target));
        try (Stream<Path> files = Files.list(tmp)) {
            assertEquals(List.of(target), files.toList(), "no temporary file left behind");
        }
    }

    @Test
    void progressPrintsEpochIterationLossThroughputAndEta() throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        long[] now = {0};
        Trainer.builder(config(null).epochs(2).progress(TrainingConfig.ProgressMode.PLAIN).build())
                .output(new PrintStream(bytes, true, StandardCharsets.UTF_8))
                .clock(() -> now[0] += 250_000_000L).build()
                .fit(TinySegmentation.net(), TinySegmentation.data());
        String out = bytes.toString(StandardCharsets.UTF_8);
        // 3 batches per epoch: the plain mode prints at the end of each epoch (the 10 s interval never elapses)
        assertTrue(out.contains("epoch 1/2 [####################] 3/3 | it 3/6 | loss "), out);
        assertTrue(out.contains("samples/s | ETA "), out);
        assertTrue(out.contains("epoch 2/2 [####################] 3/3 | it 6/6"), out);
        assertTrue(out.contains("epoch 1 done: it 3 | train_loss "), out);
        assertTrue(out.contains("val_dice "), out);
        assertFalse(out.contains("\r"), "plain mode never rewrites a line");
        assertEquals(4, out.lines().count(), out);

        ByteArrayOutputStream tty = new ByteArrayOutputStream();
        long[] t = {0};
        ProgressBar bar = new ProgressBar(new PrintStream(tty, true, StandardCharsets.UTF_8),
                TrainingConfig.ProgressMode.TTY, 10, () -> t[0] += 1_000_000_000L);
        bar.step(1, 1, 1, 4, 1, 4, 8, 0.5);
        bar.step(1, 1, 2, 4, 2, 4, 8, 0.25);
        String s = tty.toString(StandardCharsets.UTF_8);
        assertTrue(s.startsWith("\repoch 1/1 [#####...............] 1/4 | it 1/4 | loss 0.5000 | 8.0 samples/s | ETA 3s"),
                s);
        assertTrue(s.contains("\repoch 1/1 [##########..........] 2/4 | it 2/4 | loss 0.2500"), s);
        assertFalse(s.contains("\n"), "one updating line");
        assertEquals("1h02m03s", ProgressBar.duration(3723));
    }

    @Test
    void configValidatesAndRoundTrips() {
        TrainingConfig c = TrainingConfig.builder().epochs(3).maxIterations(7).batchSize(2).seed(9)
                .earlyStopping(EarlyStopping.on(EarlyStopping.Metric.DICE, 2)).runDirectory(tmp).build();
        assertEquals(c, TrainingConfig.fromJson(c.toJson()));
        assertEquals(c.hashCode(), TrainingConfig.fromJson(c.toJson()).hashCode());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> TrainingConfig.builder().batchSize(0).build());
        assertTrue(e.getMessage().contains("batchSize"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TrainingConfig.builder().validateEvery(0)
                .earlyStopping(EarlyStopping.on(EarlyStopping.Metric.LOSS, 1)).build());
        assertThrows(IllegalArgumentException.class, () -> TrainingConfig.fromJson("{\"epochs\": \"many\"}"));
    }
}
