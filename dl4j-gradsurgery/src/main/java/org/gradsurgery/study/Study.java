package org.gradsurgery.study;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.calibration.TemperatureScalingResult;
import org.gradsurgery.data.Augmentation;
import org.gradsurgery.data.Sample;
import org.gradsurgery.data.SegmentationDataSetIterator;
import org.gradsurgery.data.SegmentationMultiDataSetIterator;
import org.gradsurgery.data.Transform;
import org.gradsurgery.io.AtomicFiles;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.model.UNet;
import org.gradsurgery.training.RunDirectory;
import org.gradsurgery.training.Trainer;
import org.gradsurgery.training.TrainingConfig;
import org.gradsurgery.training.TrainingData;
import org.gradsurgery.training.TrainingResult;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.schedule.PolySchedule;
import org.nd4j.linalg.schedule.ScheduleType;

/**
 * Runs a {@link StudySpec}: loads and splits the data once, then trains and scores every (seed, arm) run in that
 * order (so the arms of the first seed finish first and the first paired comparison is available early) and writes
 * the report ({@link StudyReport}).
 *
 * <p><b>Folder layout.</b> {@code OUT/study-spec.json} (the spec as run), {@code OUT/split.json}, one run folder per
 * run {@code OUT/runs/<arm>/seed-<s>/} (the trainer's {@code config.json}, {@code metrics.csv}, {@code model.zip},
 * {@code checkpoint/}, then {@code cases.csv} and {@code result.json}), and the report files.
 *
 * <p><b>Resume.</b> Running the same study into the same folder again skips every run with a {@code result.json},
 * continues a run with a checkpoint from it ({@link Trainer#resume}: bit-identical on a deterministic backend with the
 * same thread count), and starts a run that has neither. The spec may gain arms or seeds between invocations; any
 * other change (data, split, network, recipe, metrics) is refused.
 *
 * <p><b>Same conditions per seed.</b> For seed s every arm starts from the same initial weights (the network is
 * seeded with s and the loss has no parameters), sees the same batches in the same order with the same augmentation
 * draws (the iterator is seeded with s) and gets the same number of updates.
 */
public final class Study {
    /** The spec as run, inside the study folder. */
    public static final String SPEC_FILE = "study-spec.json";
    static final String RESULT = "result.json";
    static final String CASES = "cases.csv";

    private final StudySpec spec;
    private final Path dir;
    private final Path splitFile;
    private final PrintStream out;
    private final TrainingConfig.ProgressMode progress;
    /** Extra listeners on every run's network (tests: a simulated kill). */
    private final List<org.deeplearning4j.optimize.api.TrainingListener> listeners = new ArrayList<>();

    /**
     * @param spec      the study
     * @param dir       its folder (created)
     * @param splitFile a split to use instead of the spec's (null = the folder's split.json if present, else the
     *                  spec's)
     * @param out       progress
     * @param progress  the trainer's progress display
     */
    public Study(StudySpec spec, Path dir, Path splitFile, PrintStream out, TrainingConfig.ProgressMode progress) {
        this.spec = spec;
        this.dir = dir;
        this.splitFile = splitFile;
        this.out = out;
        this.progress = progress;
    }

    /** Attaches a DL4J listener to every run's training (tests use it to interrupt a study). */
    Study listener(org.deeplearning4j.optimize.api.TrainingListener l) {
        listeners.add(l);
        return this;
    }

    /** One run of the study. */
    record Run(LossSpec loss, String arm, long seed, Path dir) {
    }

    /** The runs in execution order. */
    List<Run> runs() {
        List<Run> runs = new ArrayList<>();
        for (long seed : spec.seeds()) {
            for (String arm : spec.arms()) {
                LossSpec loss = LossSpec.parse(arm);
                runs.add(new Run(loss, arm, seed, dir.resolve("runs").resolve(slug(arm))
                        .resolve("seed-" + seed)));
            }
        }
        return runs;
    }

    static String slug(String arm) {
        return arm.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9.]+", "-").replaceAll("^-|-$", "");
    }

    /** Runs everything not yet done and writes the report; returns the path of {@code study.md}. */
    public Path run() throws IOException {
        return run(true);
    }

    /**
     * With {@code train} false, only writes the report from the runs that have finished (a study still running
     * elsewhere, or one cut short); nothing is trained.
     */
    public Path run(boolean train) throws IOException {
        Files.createDirectories(dir);
        if (!train) {
            return execute(false);
        }
        // one writer per study folder (a second `study` on the same --out gets a one-line error naming the holder)
        try (org.gradsurgery.training.RunLock lock = org.gradsurgery.training.RunLock.acquire(dir, "study")) {
            return execute(true);
        }
    }

    private Path execute(boolean train) throws IOException {
        Path specFile = dir.resolve(SPEC_FILE);
        if (Files.isRegularFile(specFile)) {
            StudySpec before = StudySpec.read(specFile);
            if (!before.sameRunsAs(spec)) {
                throw new org.gradsurgery.InvalidInputException(dir + " holds a study with other settings (" + specFile + "); "
                        + "only arms and seeds may change between runs of one study: choose another --out");
            }
        }
        if (train) {
            AtomicFiles.writeString(specFile, spec.toJson() + "\n");
        }
        StudyData data = StudyData.load(spec.dataset(), spec.network().levels(), null, out);
        StudySplit split = split(data);
        if (train) {
            split.write(dir.resolve(StudySplit.FILE));
        }
        out.printf(Locale.ROOT, "study %s: %d classes (%s), split %d train / %d validation / %d test cases%n",
                spec.name(), data.numClasses(), String.join(", ", data.classNames()), split.train().size(),
                split.validation().size(), split.test().size());
        List<Run> runs = runs();
        long started = System.nanoTime();
        int doneHere = 0;
        for (int i = 0; train && i < runs.size(); i++) {
            Run r = runs.get(i);
            if (Files.isRegularFile(r.dir().resolve(RESULT))) {
                out.printf(Locale.ROOT, "run %d/%d: %s, seed %d: done (%s)%n", i + 1, runs.size(), r.loss().label(),
                        r.seed(), dir.relativize(r.dir()));
                continue;
            }
            String eta = "";
            if (doneHere > 0) {
                double per = (System.nanoTime() - started) / 1e9 / doneHere;
                long left = runs.stream().skip(i).filter(x -> !Files.isRegularFile(x.dir().resolve(RESULT))).count();
                eta = String.format(Locale.ROOT, ", ETA of the study %s", duration(per * left));
            }
            out.printf(Locale.ROOT, "== run %d/%d: %s, seed %d%s -> %s%n", i + 1, runs.size(), r.loss().label(),
                    r.seed(), eta, dir.relativize(r.dir()));
            execute(r, data, split);
            doneHere++;
        }
        Path report = StudyReport.write(dir, spec, data, split, runs, out);
        out.println("report: " + report);
        return report;
    }

    private StudySplit split(StudyData data) throws IOException {
        StudySplit s;
        Path existing = dir.resolve(StudySplit.FILE);
        if (splitFile != null) {
            s = StudySplit.read(splitFile);
            if (Files.isRegularFile(existing) && !StudySplit.read(existing).equals(s)) {
                throw new org.gradsurgery.InvalidInputException("--split " + splitFile + " differs from the split this study "
                        + "already used (" + existing + ")");
            }
        } else if (Files.isRegularFile(existing)) {
            s = StudySplit.read(existing);
        } else if (spec.split().file() != null) {
            s = StudySplit.read(Path.of(spec.split().file()));
        } else {
            s = StudySplit.draw(new ArrayList<>(data.cases().keySet()), spec.split().train(),
                    spec.split().validation(), spec.split().test(), spec.split().seed());
        }
        s.checkAgainst(data.ids(), "the data set (" + data.cases().size() + " cases)");
        return s;
    }

    /** Trains (or resumes) and scores one run, then writes its cases.csv and result.json. */
    private void execute(Run r, StudyData data, StudySplit split) throws IOException {
        long t0 = System.nanoTime();
        List<Sample> train = samples(data.select(split.train()));
        List<Sample> val = samples(data.select(split.validation()));
        TrainingData td = trainingData(data, train, val, augmentation(spec.recipe().augment()));
        StudySpec.Recipe recipe = spec.recipe();
        int batches = td.batchesPerEpoch(recipe.batchSize());
        Path state = r.dir().resolve(RunDirectory.CHECKPOINT_DIR).resolve(RunDirectory.STATE);
        TrainingResult result;
        if (Files.isRegularFile(state)) {
            result = Trainer.resume(r.dir(), td, out,
                    listeners.toArray(new org.deeplearning4j.optimize.api.TrainingListener[0]));
        } else {
            deleteRecursively(r.dir());
            long total = (long) batches * recipe.epochs();
            ComputationGraph net = network(spec, data, train.get(0).channels(), r.loss(), r.seed(), total);
            TrainingConfig cfg = TrainingConfig.builder().epochs(recipe.epochs()).batchSize(recipe.batchSize())
                    .seed(r.seed()).validateEvery(1).checkpointEvery(1).runDirectory(r.dir()).eceBins(spec.bins())
                    .progress(progress).build();
            Map<String, Object> study = new LinkedHashMap<>();
            study.put("name", spec.name());
            study.put("arm", r.arm());
            study.put("spec", StudySpec.JSON.readTree(spec.toJson()));
            result = Trainer.builder(cfg).output(out).metadata("loss", r.loss().toString()).metadata("study", study)
                    .metadata("parametersNote", "updates per epoch " + batches).listeners(listeners).build().fit(net, td);
        }
        double trainSeconds = (System.nanoTime() - t0) / 1e9;
        StudyEvaluation ev = new StudyEvaluation(data, spec.bins(), spec.boundaryBandMm(),
                1 << (spec.network().levels() - 1));
        ComputationGraph net = result.network();
        List<StudyData.StudyCase> valCases = data.select(split.validation());
        double temperature = 1.0;
        boolean converged = true;
        if (spec.temperatureScaling()) {
            TemperatureScalingResult t = ev.fitTemperature(net, valCases);
            temperature = t.temperature();
            converged = t.converged();
            if (!converged) {
                out.printf(Locale.ROOT, "warning: temperature scaling did not converge (T = %.3g at the bound)%n",
                        temperature);
            }
        }
        StudyEvaluation.Outcome o = ev.evaluate(net, data.select(split.test()), temperature);
        double seconds = (System.nanoTime() - t0) / 1e9;
        RunResult rr = new RunResult(r.arm(), r.loss().label(), r.seed(), result.epochs(), result.iterations(),
                trainSeconds, seconds, temperature, converged, o.pooled(), RunResult.bins(o.reliability()));
        StudyReport.writeCases(r.dir().resolve(CASES), o);
        rr.write(r.dir().resolve(RESULT));
        out.printf(Locale.ROOT, "   %s seed %d: test Dice %.4f, ECE %.4f -> %.4f after TS (T %.3f), %d updates, %s%n",
                r.loss().label(), r.seed(), o.rows().stream().mapToDouble(m -> m.get("dice_mean")).average()
                        .orElse(Double.NaN), o.pooled().get("ece"), o.pooled().get("ece_ts"), temperature,
                result.iterations(), duration(seconds));
    }

    /** The cases as training samples: each padded to the study's common size. */
    public static List<Sample> samples(List<StudyData.StudyCase> cases) {
        return cases.stream().map(StudyData.StudyCase::padded).toList();
    }

    /**
     * A run's network: the spec's U-Net for the data (dims, channels, classes) with {@code loss}, seeded with
     * {@code seed}, trained by Adam at the recipe's learning rate decayed polynomially over {@code totalUpdates}.
     */
    public static ComputationGraph network(StudySpec spec, StudyData data, int channels, LossSpec loss, long seed,
                                           long totalUpdates) {
        StudySpec.Recipe recipe = spec.recipe();
        return UNet.builder().spatialDims(data.dims()).inputChannels(channels).numClasses(data.numClasses())
                .levels(spec.network().levels()).baseFilters(spec.network().baseFilters()).loss(loss.create())
                .seed(seed).updater(new Adam(new PolySchedule(ScheduleType.ITERATION, recipe.learningRate(),
                        recipe.polyPower(), Math.toIntExact(totalUpdates)))).build().graph();
    }

    /** The recipe's augmentation by name ({@link StudySpec.Recipe}: none, flips, nnunet-lite). */
    public static Transform augmentation(String name) {
        return switch (name) {
            case "none" -> Transform.identity();
            case "flips" -> Augmentation.randomFlip(0.5);
            case "nnunet-lite" -> Augmentation.randomFlip(0.5)
                    .then(Augmentation.randomScaleShift(0.15, 0.75, 1.25, 0, 0))
                    .then(Augmentation.randomGamma(0.3, 0.7, 1.5));
            default -> throw new IllegalArgumentException("recipe.augment: unknown augmentation " + name);
        };
    }

    /**
     * A run's batches: the training samples shuffled and augmented with {@code aug} per epoch (whole padded cases
     * in 3D, slices along the data's slice axis for a 2D model on volumes), the validation samples as they are.
     */
    public static TrainingData trainingData(StudyData data, List<Sample> train, List<Sample> val, Transform aug) {
        boolean sliced = data.dims() == 2 && train.get(0).spatialRank() == 3;
        int examples = sliced ? train.stream().mapToInt(s -> s.shape()[data.sliceAxis()]).sum() : train.size();
        return new TrainingData() {
            @Override
            public MultiDataSetIterator training(int batchSize, long seed) {
                return iterator(train, batchSize, seed, aug, true);
            }

            @Override
            public MultiDataSetIterator validation(int batchSize) {
                return iterator(val, batchSize, 0, Transform.identity(), false);
            }

            @Override
            public int batchesPerEpoch(int batchSize) {
                return (examples + batchSize - 1) / batchSize;
            }

            private MultiDataSetIterator iterator(List<Sample> s, int batchSize, long seed, Transform t,
                                                  boolean shuffle) {
                SegmentationDataSetIterator.Builder b = SegmentationDataSetIterator.builder().samples(s)
                        .numClasses(data.numClasses()).batchSize(batchSize).augment(t).shuffle(shuffle).seed(seed);
                if (sliced) {
                    b.slices(data.sliceAxis(), false);
                } else {
                    b.wholeVolumes();
                }
                return new SegmentationMultiDataSetIterator(b.build());
            }
        };
    }

    static void deleteRecursively(Path p) throws IOException {
        if (!Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(q);
            }
        }
    }

    static String duration(double seconds) {
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%dh%02dm", s / 3600, s / 60 % 60)
                : s >= 60 ? String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60) : s + " s";
    }
}
