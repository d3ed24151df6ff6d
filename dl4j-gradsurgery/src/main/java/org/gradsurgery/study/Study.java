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
import org.gradsurgery.InvalidInputException;
import org.gradsurgery.experiment.DataPlan;
import org.gradsurgery.experiment.DataSources;
import org.gradsurgery.experiment.ExperimentData;
import org.gradsurgery.experiment.ExperimentSpec;
import org.gradsurgery.io.AtomicFiles;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.model.UNet;
import org.gradsurgery.training.EpochMetrics;
import org.gradsurgery.training.RunDirectory;
import org.gradsurgery.training.Trainer;
import org.gradsurgery.training.TrainingConfig;
import org.gradsurgery.training.TrainingData;
import org.gradsurgery.training.TrainingResult;

/**
 * Runs a {@link StudySpec}: resolves its data plan once through {@link ExperimentData} (the loading path of every
 * run, whatever the source), then trains and scores every (seed, arm) run in that order (so the arms of the first
 * seed finish first and the first paired comparison is available early) and writes the report ({@link StudyReport}).
 *
 * <p><b>Folder layout.</b> {@code OUT/study-spec.json} (the spec as run), {@code OUT/split.json}, one run folder per
 * run {@code OUT/runs/<arm>/seed-<s>/} (the trainer's {@code config.json}, which is the run's
 * {@link ExperimentSpec}, so {@code gradsurgery evaluate --model RUN/model.zip} re-scores it on other cases;
 * {@code metrics.csv}, {@code model.zip}, {@code checkpoint/}, then {@code cases.csv} and {@code result.json}), and the
 * report files.
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
    /** The study's case-level split, inside the study folder ({@code {"training": [...], "validation": [...],
     * "test": [...]}}; older folders name the first list {@code train}). */
    public static final String SPLIT_FILE = "split.json";

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
            StudySpec before = StudySpec.read(specFile, null);
            if (!before.sameRunsAs(spec)) {
                throw new InvalidInputException(dir + " holds a study with other settings (" + specFile + "); "
                        + "only arms and seeds may change between runs of one study: choose another --out");
            }
        }
        if (train) {
            AtomicFiles.writeString(specFile, spec.toJson() + "\n");
        }
        DataPlan.Split listed = listedSplit();
        DataPlan plan = listed == null ? spec.data() : spec.data().toBuilder().split(listed).build();
        // one split for every run: a split drawn by counts without a seed uses 0
        ExperimentData data = ExperimentData.prepare(plan, DataSources.open(plan.source()), 0,
                spec.model().levels(), out);
        DataPlan.Split split = data.plan().split();
        if (split.test() == null || split.test().isEmpty()) {
            throw new InvalidInputException("split: a study needs test cases (data.split.testCases, or a \"test\" "
                    + "list)");
        }
        if (train) {
            AtomicFiles.writeString(dir.resolve(SPLIT_FILE), StudySpec.JSON.writeValueAsString(DataPlan.Split.of(
                    split.training(), split.validation(), split.test())) + "\n");
        }
        List<String> scored = new ArrayList<>(split.validation());
        scored.addAll(split.test());
        StudyData cases = StudyData.of(data, scored);
        out.printf(Locale.ROOT, "study %s: %d classes (%s), split %d train / %d validation / %d test cases%n",
                spec.name(), data.numClasses(), String.join(", ", data.classNames()), split.training().size(),
                split.validation().size(), split.test().size());
        List<Run> runs = runs();
        long started = System.nanoTime();
        int doneHere = 0;
        for (int i = 0; train && i < runs.size(); i++) {
            Run r = runs.get(i);
            if (Files.isRegularFile(r.dir().resolve(RESULT))) {
                out.printf(Locale.ROOT, "run %d/%d: %s, seed %d: done (%s)%n", i + 1, runs.size(), r.loss().label(),
                        r.seed(), dir.relativize(r.dir()));
                record(experiment(r, data), r.dir());
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
            execute(r, data, cases);
            doneHere++;
        }
        Path report = StudyReport.write(dir, spec, cases, split, runs, out);
        out.println("report: " + report);
        return report;
    }

    /**
     * The split to use instead of the spec's: {@code --split FILE} (which must equal the split the folder already
     * used), else the folder's split.json, else null.
     */
    private DataPlan.Split listedSplit() throws IOException {
        Path existing = dir.resolve(SPLIT_FILE);
        DataPlan.Split before = Files.isRegularFile(existing) ? readSplit(existing, existing.toString()) : null;
        if (splitFile == null) {
            return before;
        }
        DataPlan.Split s = readSplit(splitFile, "--split " + splitFile);
        if (before != null && !(before.training().equals(s.training()) && before.validation().equals(s.validation())
                && java.util.Objects.equals(before.test(), s.test()))) {
            throw new InvalidInputException("--split " + splitFile + " differs from the split this study already used ("
                    + existing + ")");
        }
        return s;
    }

    private static DataPlan.Split readSplit(Path file, String name) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new InvalidInputException(name + ": no such file");
        }
        DataPlan.Split s = DataPlan.Split.read(file);
        if (!s.listed()) {
            throw new InvalidInputException(name + ": lists no training and validation cases");
        }
        return DataPlan.Split.of(s.training(), s.validation(), s.test());
    }

    /**
     * Run {@code r} as an experiment: the study's network completed for the data with the arm's loss, the run's
     * seed and the polynomially decayed learning rate over its updates; the study's training settings with the
     * run's seed and folder; the study's resolved data plan (so {@code evaluate} re-scores the run's model on other
     * cases with the same preprocessing and label grouping).
     */
    private ExperimentSpec experiment(Run r, ExperimentData data) {
        return spec.experiment(r.loss(), r.seed(), r.dir(), progress, data);
    }

    /** Adds the experiment's sections to the run's config.json if it lacks them (runs of older studies). */
    private static void record(ExperimentSpec run, Path runDir) throws IOException {
        Path config = runDir.resolve(RunDirectory.CONFIG);
        if (!Files.isRegularFile(config)) {
            return;
        }
        org.nd4j.shade.jackson.databind.JsonNode tree = StudySpec.JSON.readTree(config.toFile());
        if (tree instanceof org.nd4j.shade.jackson.databind.node.ObjectNode o && !(o.has("model") && o.has("data"))) {
            run.sections().forEach((k, v) -> o.set(k, StudySpec.JSON.valueToTree(v)));
            AtomicFiles.writeString(config, StudySpec.JSON.writeValueAsString(o) + "\n");
        }
    }

    /** Trains (or resumes) and scores one run, then writes its cases.csv and result.json. */
    private void execute(Run r, ExperimentData data, StudyData cases) throws IOException {
        long t0 = System.nanoTime();
        TrainingData td = data.trainingData();
        ExperimentSpec run = experiment(r, data);
        int batches = td.batchesPerEpoch(run.training().batchSize());
        Path state = r.dir().resolve(RunDirectory.CHECKPOINT_DIR).resolve(RunDirectory.STATE);
        TrainingResult result;
        if (Files.isRegularFile(state)) {
            result = Trainer.resume(r.dir(), td, out,
                    listeners.toArray(new org.deeplearning4j.optimize.api.TrainingListener[0]));
            record(run, r.dir());
        } else {
            deleteRecursively(r.dir());
            ComputationGraph net = UNet.builder().from(run.model()).loss(run.loss().create()).build().graph();
            Map<String, Object> study = new LinkedHashMap<>();
            study.put("name", spec.name());
            study.put("arm", r.arm());
            Trainer.Builder t = Trainer.builder(run.training()).output(out);
            run.sections().forEach(t::metadata);
            result = t.metadata("study", study).metadata("parametersNote", "updates per epoch " + batches)
                    .listeners(listeners).build().fit(net, td);
        }
        // every epoch's steps, also those of sessions before a resume (this process's clock would miss them)
        double trainSeconds = result.history().stream().mapToDouble(EpochMetrics::seconds).sum();
        StudyEvaluation ev = new StudyEvaluation(cases, spec.bins(), spec.boundaryBandMm(),
                1 << (spec.model().levels() - 1));
        ComputationGraph net = result.network();
        DataPlan.Split split = data.plan().split();
        double temperature = 1.0;
        boolean converged = true;
        if (spec.temperatureScaling()) {
            TemperatureScalingResult t = ev.fitTemperature(net, cases.select(split.validation()));
            temperature = t.temperature();
            converged = t.converged();
            if (!converged) {
                out.printf(Locale.ROOT, "warning: temperature scaling did not converge (T = %.3g at the bound)%n",
                        temperature);
            }
        }
        StudyEvaluation.Outcome o = ev.evaluate(net, cases.select(split.test()), temperature);
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
