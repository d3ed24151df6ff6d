package org.gradsurgery.arbiter;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.deeplearning4j.arbiter.optimize.api.Candidate;
import org.deeplearning4j.arbiter.optimize.api.CandidateGenerator;
import org.deeplearning4j.arbiter.optimize.api.termination.MaxCandidatesCondition;
import org.deeplearning4j.arbiter.optimize.api.termination.MaxTimeCondition;
import org.deeplearning4j.arbiter.optimize.config.OptimizationConfiguration;
import org.deeplearning4j.arbiter.optimize.generator.GridSearchCandidateGenerator;
import org.deeplearning4j.arbiter.optimize.generator.RandomSearchGenerator;
import org.deeplearning4j.arbiter.optimize.runner.LocalOptimizationRunner;

/**
 * Runs a {@link SweepSpec} with Arbiter: a {@code RandomSearchGenerator} or {@code GridSearchCandidateGenerator}
 * (sequential) over the spec's {@link SweepSpace}, repeated candidates skipped
 * ({@link DistinctCandidateGenerator}), Arbiter's {@code LocalOptimizationRunner} (one candidate at a time) with a
 * {@link SweepTaskCreator}, a candidate budget ({@code MaxCandidatesCondition}; at most the number of distinct
 * candidates, or Arbiter would wait for ones that never come) and a time budget ({@code MaxTimeCondition}: no new candidate starts after it; a running one finishes). After the
 * search it ranks the finished candidates with the spec's {@link SweepObjective} and writes the summary
 * ({@link SweepReport}). Progress goes to the given consumer, one line per finished candidate:
 * {@code candidate 2 of 4: dice(no bg): dice 0.5037, ece_classwise 0.2105 (8 epochs, kept 7, max epochs, 143.0 s)
 * | best so far: candidate 2 (...) after 320 s}.
 */
public final class SweepRunner {
    private final SweepSpec spec;
    private final SweepData data;
    private final CandidateModelFactory factory;
    private final Path outputDir;
    private final Map<String, Object> dataDescription;
    private final Consumer<String> progress;

    /**
     * @param spec            the validated spec
     * @param data            training and validation data
     * @param factory         builds each candidate's network
     * @param outputDir       created if missing; must not hold an earlier sweep's {@code sweep.csv}
     * @param dataDescription how to load the data again, written into each candidate's config (e.g. dataset name)
     * @param progress        receives progress lines
     */
    public SweepRunner(SweepSpec spec, SweepData data, CandidateModelFactory factory, Path outputDir,
                       Map<String, Object> dataDescription, Consumer<String> progress) {
        this.spec = Objects.requireNonNull(spec, "spec");
        this.data = Objects.requireNonNull(data, "data");
        this.factory = Objects.requireNonNull(factory, "factory");
        this.outputDir = Objects.requireNonNull(outputDir, "outputDir");
        this.dataDescription = Map.copyOf(dataDescription);
        this.progress = Objects.requireNonNull(progress, "progress");
    }

    /** The number of distinct candidates the search will try: at most the budget (see {@link #candidates}). */
    public static int plannedCandidates(SweepSpec spec) {
        return candidates(spec).size();
    }

    /**
     * The distinct candidates the search will try, in order, drawn by a generator seeded as the run's: the same
     * spec gives the same candidates. At most the budget; fewer when the space (e.g. a grid) has fewer distinct
     * points.
     */
    public static List<SweepCandidate> candidates(SweepSpec spec) {
        CandidateGenerator g = generator(spec);
        g.setRngSeed(spec.searchSeed());
        List<SweepCandidate> out = new ArrayList<>();
        while (out.size() < spec.candidates() && g.hasMoreCandidates()) {
            Candidate<?> c = g.getCandidate();
            if (c.getException() != null) {
                throw new IllegalArgumentException(spec.source() + ": candidate " + (out.size() + 1)
                        + " cannot be drawn: " + c.getException().getMessage(), c.getException());
            }
            out.add((SweepCandidate) c.getValue());
        }
        return out;
    }

    /** A fresh generator of distinct candidates; it assigns the flat-vector indices of the space's leaves. */
    private static CandidateGenerator generator(SweepSpec spec) {
        return new DistinctCandidateGenerator(spec.strategy() == SweepSpec.Strategy.GRID
                ? new GridSearchCandidateGenerator(spec.space(), spec.gridPoints(),
                GridSearchCandidateGenerator.Mode.Sequential, null)
                : new RandomSearchGenerator(spec.space(), null));
    }

    /** Runs the search; returns the candidates ranked best first. */
    public List<CandidateResult> run() throws IOException {
        if (Files.exists(outputDir.resolve(SweepReport.CSV))) {
            throw new IllegalArgumentException("output directory " + outputDir + " already holds a sweep ("
                    + SweepReport.CSV + "); choose another --out");
        }
        List<SweepCandidate> drawn = candidates(spec);
        for (int i = 0; i < drawn.size(); i++) {
            try {
                factory.check(drawn.get(i), data);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException(spec.source() + ": candidate " + (i + 1) + " ("
                        + SweepReport.describe(drawn.get(i).loss()) + ", " + drawn.get(i).unet() + ") cannot be "
                        + "built for the data " + java.util.Arrays.toString(data.spatialShape()) + ": "
                        + e.getMessage(), e);
            }
        }
        Files.createDirectories(outputDir);
        CandidateGenerator generator = generator(spec);
        int planned = drawn.size();
        long start = System.currentTimeMillis();
        long budgetMillis = Math.max(1L, Math.round(spec.maxMinutes() * 60_000));
        SegmentationScoreFunction monitor = new SegmentationScoreFunction(spec.objective().monitored(),
                data.spacing(), spec.bandWidth(), spec.batchSize());
        List<CandidateResult> results = Collections.synchronizedList(new ArrayList<>());
        Consumer<CandidateResult> onResult = r -> {
            results.add(r);
            progress.accept(progressLine(r, results, planned, start));
        };
        SweepTaskCreator tasks = new SweepTaskCreator(data, factory, spec.objective(), monitor, spec.epochs(),
                spec.patience(), spec.batchSize(), spec.trainingSeed(), outputDir,
                dataDescription, onResult);
        OptimizationConfiguration config = new OptimizationConfiguration.Builder()
                .candidateGenerator(generator)
                .scoreFunction(monitor)
                .terminationConditions(new MaxCandidatesCondition(planned),
                        new MaxTimeCondition(budgetMillis, TimeUnit.MILLISECONDS))
                .rngSeed(spec.searchSeed())
                .build();
        progress.accept(String.format(Locale.ROOT, "sweep %s: %s search, %d candidate%s, up to %d epochs each, "
                        + "time budget %s min, ranked by %s", spec.source(),
                spec.strategy().name().toLowerCase(Locale.ROOT), planned, planned == 1 ? "" : "s", spec.epochs(),
                spec.maxMinutes(), spec.objective().describe()));
        LocalOptimizationRunner runner = new LocalOptimizationRunner(config, tasks);
        runner.execute();
        List<CandidateResult> ranked = spec.objective().rank(new ArrayList<>(results));
        SweepReport.writeSummary(outputDir, spec, ranked, (System.currentTimeMillis() - start) / 1000.0);
        Files.writeString(outputDir.resolve("sweep-spec.json"), spec.json());
        return ranked;
    }

    private String progressLine(CandidateResult r, List<CandidateResult> results, int planned, long start) {
        StringBuilder s = new StringBuilder(String.format(Locale.ROOT, "candidate %d of %d: %s", results.size(),
                planned, SweepReport.describe(r.candidate().loss())));
        if (r.failed()) {
            s.append(" FAILED: ").append(r.error());
        } else {
            s.append(String.format(Locale.ROOT, ": dice %.4f, %s %.4f (%d epochs, kept %d, %s, %.1f s)",
                    r.metrics().dice(), spec.objective().metric().specName(),
                    r.metrics().get(spec.objective().metric()), r.epochs(), r.bestEpoch(), r.stopReason(),
                    r.seconds()));
        }
        List<CandidateResult> ranked;
        synchronized (results) {
            ranked = spec.objective().rank(new ArrayList<>(results));
        }
        CandidateResult best = ranked.get(0);
        if (!best.failed()) {
            s.append(String.format(Locale.ROOT, " | best so far: candidate %d (dice %.4f, %s %.4f) after %.0f s",
                    best.index() + 1, best.metrics().dice(), spec.objective().metric().specName(),
                    best.metrics().get(spec.objective().metric()), (System.currentTimeMillis() - start) / 1000.0));
        }
        return s.toString();
    }
}
