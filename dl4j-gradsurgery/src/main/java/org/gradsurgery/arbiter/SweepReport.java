package org.gradsurgery.arbiter;

import org.gradsurgery.io.AtomicFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Stream;
import org.deeplearning4j.nn.conf.serde.JsonMappers;
import org.gradsurgery.loss.AbstractRegionLoss;
import org.gradsurgery.training.RunDirectory;
import org.gradsurgery.loss.AbstractTverskyLoss;
import org.gradsurgery.loss.GradientSurgery;
import org.gradsurgery.loss.LossKind;
import org.gradsurgery.experiment.UNetSpec;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.loss.LossWeightedSum;
import org.gradsurgery.loss.Reduction;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;
import org.nd4j.shade.jackson.core.JsonProcessingException;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.nd4j.shade.jackson.databind.node.ObjectNode;

/**
 * The files a sweep writes: per candidate a trainer run directory (see {@link SweepTaskCreator}) plus its
 * {@code sweep-metrics.json}, and for the sweep {@code sweep.csv} and {@code sweep.md} (candidates ranked by the
 * {@link SweepObjective}, with every metric) and {@code best-config.json} (the best run's {@code config.json}:
 * training, model, loss and data sections, without the run directory). Every file is written to a temporary name and moved into place.
 */
public final class SweepReport {
    /** Summary file names. */
    public static final String CSV = "sweep.csv";
    public static final String MARKDOWN = "sweep.md";
    public static final String BEST_CONFIG = "best-config.json";
    /** The sweep's metrics of a candidate's kept network, in its run directory. */
    public static final String CANDIDATE_METRICS = "sweep-metrics.json";

    private SweepReport() {
    }

    /** The run directory name of Arbiter candidate {@code index} (0-based): candidate-001, candidate-002, ... */
    public static String candidateDirectory(int index) {
        return String.format(Locale.ROOT, "candidate-%03d", index + 1);
    }

    /** dice, ECEs, NLL and Brier as CSV fields (same order as the header fields). */
    static String metricsCsv(ValidationMetrics m) {
        return String.format(Locale.ROOT, "%.6f,%.6f,%.6f,%.6f,%.6f,%.6f", m.dice(), m.eceClasswise(),
                m.eceTopLabel(), m.eceBoundary(), m.nll(), m.brier());
    }

    /** A short name of a loss: "dice", "surgery(γ=1.2, logits; dice)", "1·tversky(α=0.3, β=0.7) + 0.5·ce". */
    public static String describe(ILossFunction loss) {
        if (loss instanceof GradientSurgery) {
            GradientSurgery g = (GradientSurgery) loss;
            return String.format(Locale.ROOT, "surgery(γ=%.3g, %s; %s)", g.getExponent(),
                    g.getSpace().name().toLowerCase(Locale.ROOT), describe(g.getBase()));
        }
        if (loss instanceof LossWeightedSum) {
            List<String> terms = new ArrayList<>();
            for (LossWeightedSum.Term t : ((LossWeightedSum) loss).getTerms()) {
                terms.add(String.format(Locale.ROOT, "%.3g·%s", t.getWeight(), describe(t.getLoss())));
            }
            return String.join(" + ", terms);
        }
        if (loss instanceof LossMCXENT) {
            return "ce";
        }
        if (loss instanceof AbstractRegionLoss) {
            String name = null;
            for (LossKind k : LossKind.values()) {
                if (k.isRegion() && k.build(true, Reduction.SAMPLE, 0.5, 0.5).getClass() == loss.getClass()) {
                    name = k.specName();
                }
            }
            List<String> opts = new ArrayList<>();
            if (loss instanceof AbstractTverskyLoss) {
                AbstractTverskyLoss t = (AbstractTverskyLoss) loss;
                opts.add(String.format(Locale.ROOT, "α=%.3g", t.getAlpha()));
                opts.add(String.format(Locale.ROOT, "β=%.3g", t.getBeta()));
            }
            if (!((AbstractRegionLoss) loss).isIncludeBackground()) {
                opts.add("no bg");
            }
            if (((AbstractRegionLoss) loss).getReduction() != Reduction.SAMPLE) {
                opts.add("batch");
            }
            return (name == null ? loss.getClass().getSimpleName() : name)
                    + (opts.isEmpty() ? "" : "(" + String.join(", ", opts) + ")");
        }
        return loss.getClass().getSimpleName();
    }

    /**
     * The {@code gradsurgery train} loss flags of {@code spec}: {@code --loss NAME} plus the flags of its settings
     * that differ from train's defaults ({@code --include-background false}, {@code --reduction batch},
     * {@code --tversky-alpha A --tversky-beta B}, {@code --surgery --exponent γ [--surgery-space probabilities] [--surgery-weighting balanced]},
     * {@code --ce-weight λ [--region-weight λ]}).
     */
    public static List<String> trainLossFlags(LossSpec spec) {
        List<String> a = new ArrayList<>(List.of("--loss", spec.kind().specName()));
        if (!spec.includeBackground()) {
            a.addAll(List.of("--include-background", "false"));
        }
        if (spec.reduction() != Reduction.SAMPLE) {
            a.addAll(List.of("--reduction", spec.reduction().name().toLowerCase(Locale.ROOT)));
        }
        if (spec.kind().usesTverskyWeights()) {
            a.addAll(List.of("--tversky-alpha", String.valueOf(spec.tverskyAlpha()), "--tversky-beta",
                    String.valueOf(spec.tverskyBeta())));
        }
        if (spec.surgery()) {
            a.addAll(List.of("--surgery", "--exponent", String.valueOf(spec.exponent())));
            if (spec.surgerySpace() != GradientSurgery.Space.LOGITS) {
                a.addAll(List.of("--surgery-space", spec.surgerySpace().name().toLowerCase(Locale.ROOT)));
            }
            if (spec.surgeryWeighting() != GradientSurgery.Weighting.BASE) {
                a.addAll(List.of("--surgery-weighting", spec.surgeryWeighting().name().toLowerCase(Locale.ROOT)));
            }
        }
        if (spec.ceWeight() > 0) {
            a.addAll(List.of("--ce-weight", String.valueOf(spec.ceWeight()), "--region-weight",
                    String.valueOf(spec.regionWeight())));
        }
        return a;
    }

    /**
     * The {@code gradsurgery train} arguments that train {@code c} again as the sweep did, or null when its loss
     * has no {@link LossSpec} (a candidate made by hand with another loss; every loss a {@link LossSpace} yields has
     * one); then {@code lossFunction} in the config is the way back.
     */
    public static List<String> trainCommand(SweepCandidate c, int epochs, int batchSize, long seed, int patience,
                                            String earlyStopping, Map<String, Object> data) {
        Optional<LossSpec> loss = LossSpec.describing(c.loss());
        if (loss.isEmpty()) {
            return null;
        }
        List<String> a = new ArrayList<>(List.of("train"));
        a.addAll(trainLossFlags(loss.get()));
        UNetSpec u = c.unet();
        a.addAll(List.of("--levels", String.valueOf(u.levels()), "--filters", String.valueOf(u.baseFilters()),
                "--norm", u.normalization().name(), "--dropout", String.valueOf(u.dropout()), "--lr",
                String.valueOf(u.learningRate()), "--epochs", String.valueOf(epochs), "--batch-size",
                String.valueOf(batchSize), "--seed", String.valueOf(seed), "--early-stopping", earlyStopping,
                "--patience", String.valueOf(patience)));
        a.addAll(dataFlags(data));
        return a;
    }

    /**
     * The {@code train} flags of the sweep's data: {@code data} is a {@link org.gradsurgery.experiment.DataPlan}'s JSON
     * as a map (its source's flag, and the split's validation fraction), or the bundled data set's
     * {@code downsample}.
     */
    @SuppressWarnings("unchecked")
    static List<String> dataFlags(Map<String, Object> data) {
        List<String> a = new ArrayList<>();
        Object source = data.get("source");
        if (!(source instanceof Map)) {
            if (data.get("downsample") != null) {
                a.addAll(List.of("--downsample", String.valueOf(data.get("downsample"))));
            }
            return a;
        }
        Map<String, Object> src = (Map<String, Object>) source;
        switch (String.valueOf(src.get("type"))) {
            case "colin27" -> a.addAll(List.of("--downsample", String.valueOf(src.get("downsample"))));
            case "msd" -> a.addAll(List.of("--msd", String.valueOf(src.get("dir"))));
            case "manifest" -> a.addAll(List.of("--manifest", String.valueOf(src.get("csv"))));
            case "folders" -> {
                a.addAll(List.of("--images", String.valueOf(src.get("images")), "--labels",
                        String.valueOf(src.get("labels"))));
                if (src.get("imagePattern") != null) {
                    a.addAll(List.of("--image-pattern", String.valueOf(src.get("imagePattern")), "--label-pattern",
                            String.valueOf(src.get("labelPattern"))));
                }
            }
            default -> {
                return a;   // generated data has no flags
            }
        }
        for (String[] k : new String[][] {{"dims", "--dims"}, {"sliceAxis", "--slice-axis"},
                {"numClasses", "--classes"}, {"intensity", "--intensity"}, {"augmentation", "--augment"}}) {
            if (data.get(k[0]) != null && !"colin27".equals(src.get("type"))) {
                a.addAll(List.of(k[1], String.valueOf(data.get(k[0]))));
            }
        }
        return a;
    }

    /**
     * The {@code gradsurgery train ...} command line that trains candidate {@code r} of the sweep in {@code dir}
     * again (from the {@code command} its run directory recorded), if its loss has train flags.
     */
    public static Optional<String> trainCommandLine(Path dir, CandidateResult r) throws IOException {
        if (r.runDirectory() == null) {
            return Optional.empty();
        }
        JsonNode command = RunDirectory.readConfig(dir.resolve(r.runDirectory())).get("command");
        if (command == null || !command.isArray()) {
            return Optional.empty();
        }
        List<String> args = new ArrayList<>(List.of("gradsurgery"));
        command.forEach(n -> args.add(n.asText()));
        return Optional.of(String.join(" ", args));
    }

    /** The kept epoch's metrics and how training ended (JSON). */
    static String metricsJson(CandidateResult r) {
        ObjectMapper om = JsonMappers.getMapper();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("candidate", r.index() + 1);
        m.put("loss", describe(r.candidate().loss()));
        for (ValidationMetrics.Metric metric : ValidationMetrics.Metric.values()) {
            double v = r.metrics().get(metric);
            m.put(metric.specName(), Double.isNaN(v) ? null : v);
        }
        m.put("epochs", r.epochs());
        m.put("bestEpoch", r.bestEpoch());
        m.put("stop", r.stopReason());
        m.put("seconds", r.seconds());
        return write(om, om.valueToTree(m));
    }

    private static String write(ObjectMapper om, Object tree) {
        try {
            return om.writerWithDefaultPrettyPrinter().writeValueAsString(tree) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("SweepReport: cannot write JSON: " + e.getMessage(), e);
        }
    }

    /**
     * Writes sweep.csv, sweep.md and (if a candidate completed) best-config.json into {@code dir}.
     *
     * @param ranked the results in {@link SweepObjective#rank} order
     */
    public static void writeSummary(Path dir, SweepSpec spec, List<CandidateResult> ranked, double seconds)
            throws IOException {
        SweepObjective objective = spec.objective();
        double bestDice = SweepObjective.bestDice(ranked);
        List<String> csv = new ArrayList<>();
        csv.add("rank,candidate,status,eligible,dice,ece_classwise,ece_top_label,ece_boundary,nll,brier,epochs,"
                + "best_epoch,seconds,stop,loss,levels,base_filters,normalization,dropout,learning_rate,run_dir,"
                + "error");
        StringBuilder md = new StringBuilder();
        md.append("# Sweep ").append(spec.source()).append("\n\n");
        md.append("Ranked by: ").append(objective.describe()).append(".  \n");
        md.append(String.format(Locale.ROOT, "Search: %s, %d of %d candidates finished (%d failed) in %.1f s; "
                        + "data %s (downsample %d); up to %d epochs per candidate, patience %d.%n%n",
                spec.strategy().name().toLowerCase(Locale.ROOT), ranked.size(), spec.candidates(),
                ranked.stream().filter(CandidateResult::failed).count(), seconds, spec.dataset(),
                spec.downsample(), spec.epochs(), spec.patience()));
        md.append("| rank | candidate | loss | U-Net (levels/filters/norm/dropout) | lr | dice | ECE | ECE top | "
                + "ECE band | NLL | Brier | epochs (kept) | within δ |\n");
        md.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        int rank = 0;
        for (CandidateResult r : ranked) {
            rank++;
            UNetSpec u = r.candidate().unet();
            boolean eligible = objective.eligible(r, bestDice);
            String loss = describe(r.candidate().loss());
            if (r.failed()) {
                csv.add(String.join(",", String.valueOf(rank), String.valueOf(r.index() + 1), "failed", "false",
                        ",,,,,", "0", "0", String.format(Locale.ROOT, "%.1f", r.seconds()), "failed",
                        csvField(loss), String.valueOf(u.levels()), String.valueOf(u.baseFilters()),
                        u.normalization().name(), String.valueOf(u.dropout()), String.valueOf(u.learningRate()), "",
                        csvField(r.error())));
                md.append(String.format(Locale.ROOT, "| %d | %d | %s | %d/%d/%s/%.2f | %.2g | failed: %s | | | | | | "
                                + "| |%n", rank, r.index() + 1, loss, u.levels(), u.baseFilters(),
                        u.normalization().name().toLowerCase(Locale.ROOT), u.dropout(), u.learningRate(),
                        r.error().replace("|", "/")));
                continue;
            }
            ValidationMetrics m = r.metrics();
            csv.add(String.join(",", String.valueOf(rank), String.valueOf(r.index() + 1), "completed",
                    String.valueOf(eligible), metricsCsv(m), String.valueOf(r.epochs()),
                    String.valueOf(r.bestEpoch()), String.format(Locale.ROOT, "%.1f", r.seconds()),
                    r.stopReason(), csvField(loss), String.valueOf(u.levels()), String.valueOf(u.baseFilters()),
                    u.normalization().name(), String.valueOf(u.dropout()), String.valueOf(u.learningRate()),
                    r.runDirectory(), ""));
            md.append(String.format(Locale.ROOT, "| %d | %d | %s | %d/%d/%s/%.2f | %.2g | %.4f | %.4f | %.4f | %.4f "
                            + "| %.4f | %.4f | %d (%d) | %s |%n", rank, r.index() + 1, loss, u.levels(),
                    u.baseFilters(), u.normalization().name().toLowerCase(Locale.ROOT), u.dropout(), u.learningRate(),
                    m.dice(), m.eceClasswise(), m.eceTopLabel(), m.eceBoundary(), m.nll(), m.brier(), r.epochs(),
                    r.bestEpoch(), objective.isConstrained() ? (eligible ? "yes" : "no") : "n/a"));
        }
        md.append("\nECE: class-wise ECE (mean over classes, 15 bins); ECE top: top-label ECE; ECE band: class-wise "
                + "ECE within ±").append(spec.bandWidth()).append(" mm of the ground-truth boundaries; dice: mean "
                + "over the foreground classes. Metrics are on the validation set at the kept epoch.\n");
        CandidateResult best = ranked.isEmpty() || ranked.get(0).failed() ? null : ranked.get(0);
        if (best != null) {
            md.append("\nBest: candidate ").append(best.index() + 1).append(" (").append(best.runDirectory())
                    .append("/), configuration in ").append(BEST_CONFIG).append(".\n");
            Optional<String> command = trainCommandLine(dir, best);
            if (command.isPresent()) {
                md.append("Train it again: `").append(command.get()).append("`\n");
            } else {
                md.append("Its loss has no `gradsurgery train` flags (not a `LossSpec`); build it from the "
                        + "`lossFunction` section of ").append(BEST_CONFIG).append(" (DL4J's JSON of the loss).\n");
            }
            AtomicFiles.writeString(dir.resolve(BEST_CONFIG), bestConfig(dir.resolve(best.runDirectory())));
        } else {
            md.append("\nNo candidate completed.\n");
        }
        AtomicFiles.writeString(dir.resolve(CSV), String.join("\n", csv) + "\n");
        AtomicFiles.writeString(dir.resolve(MARKDOWN), md.toString());
    }

    /**
     * The best run's {@code config.json} as a configuration to train again: the same sections, without the run
     * directory (a new run needs its own) and without the provenance the trainer adds to every run.
     */
    static String bestConfig(Path run) throws IOException {
        ObjectNode config = (ObjectNode) RunDirectory.readConfig(run);
        if (config.get("training") instanceof ObjectNode) {
            ((ObjectNode) config.get("training")).putNull("runDirectory");
        }
        config.remove(List.of("gitRevision", "java", "created", "parameters"));
        ObjectNode sweep = config.get("sweep") instanceof ObjectNode ? (ObjectNode) config.get("sweep")
                : config.putObject("sweep");
        sweep.put("bestRun", run.getFileName().toString());
        return write(JsonMappers.getMapper(), config);
    }

    private static String csvField(String s) {
        return s.contains(",") || s.contains("\"") ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }

    /** Deletes a directory tree, ignoring what is already gone. */
    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
