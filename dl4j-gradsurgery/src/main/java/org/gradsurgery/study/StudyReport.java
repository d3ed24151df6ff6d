package org.gradsurgery.study;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.gradsurgery.calibration.ReliabilityBins;
import org.gradsurgery.calibration.ReliabilityDiagram;
import org.gradsurgery.io.AtomicFiles;
import org.gradsurgery.experiment.DataPlan;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.training.EpochMetrics;
import org.gradsurgery.training.RunDirectory;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The report of a study from its finished runs: {@code study.csv} (one row per arm × seed × test case),
 * {@code study.md} (tables of mean ± sd over seeds, paired differences with bootstrap intervals, the paper's claim
 * checked per region loss, Dice's weight ratio) and PNGs ({@code dice_vs_ece.png}, {@code reliability.png},
 * {@code reliability_ts.png}, {@code validation_curves.png}, and {@code reliability_q.png} with a known q).
 * Written from the run folders alone, so it can be rebuilt at any time and covers whatever runs have finished.
 */
public final class StudyReport {
    /** The paper's claim: ECE lower by at least this fraction ... */
    public static final double CLAIM_ECE_REDUCTION = 0.40;
    /** ... while mean foreground Dice changes by less than this (absolute, 1 point). */
    public static final double CLAIM_DICE_CHANGE = 0.01;

    private static final String[] CAL = {"ece", "classwise_ece", "boundary_ece", "ace", "brier", "nll"};

    private StudyReport() {
    }

    /** A finished run: its result and case rows. */
    record Done(Study.Run run, RunResult result, List<String> cases, List<Map<String, Double>> rows,
                List<EpochMetrics> history) {
        /** Seconds of training steps over every epoch, across resumes (metrics.csv; validation and scoring not). */
        double trainingSeconds() {
            return history.stream().mapToDouble(EpochMetrics::seconds).sum();
        }

        double meanOverCases(String col) {
            return rows.stream().mapToDouble(r -> r.getOrDefault(col, Double.NaN)).filter(v -> !Double.isNaN(v))
                    .average().orElse(Double.NaN);
        }

        double[] column(String col) {
            return rows.stream().mapToDouble(r -> r.getOrDefault(col, Double.NaN)).toArray();
        }
    }

    static void writeCases(Path file, StudyEvaluation.Outcome o) throws IOException {
        StringBuilder sb = new StringBuilder("case");
        List<String> cols = new ArrayList<>(o.rows().get(0).keySet());
        for (String c : cols) {
            sb.append(',').append(c);
        }
        sb.append('\n');
        for (int i = 0; i < o.rows().size(); i++) {
            sb.append(o.cases().get(i));
            for (String c : cols) {
                sb.append(',').append(fmt(o.rows().get(i).get(c)));
            }
            sb.append('\n');
        }
        AtomicFiles.writeString(file, sb.toString());
    }

    static String fmt(Double v) {
        return v == null || v.isNaN() ? "NaN" : String.format(Locale.ROOT, "%.6f", v);
    }

    static Done readDone(Study.Run r) throws IOException {
        Path res = r.dir().resolve(Study.RESULT);
        if (!Files.isRegularFile(res)) {
            return null;
        }
        List<String> lines = Files.readAllLines(r.dir().resolve(Study.CASES));
        String[] head = lines.get(0).split(",");
        List<String> cases = new ArrayList<>();
        List<Map<String, Double>> rows = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",");
            cases.add(f[0]);
            Map<String, Double> m = new LinkedHashMap<>();
            for (int i = 1; i < head.length; i++) {
                m.put(head[i], Double.parseDouble(f[i]));
            }
            rows.add(m);
        }
        List<EpochMetrics> history = Files.isRegularFile(r.dir().resolve(RunDirectory.METRICS))
                ? RunDirectory.readMetrics(r.dir()) : List.of();
        return new Done(r, RunResult.read(res), cases, rows, history);
    }

    /** Writes study.csv, study.md and the PNGs into {@code dir}; returns the path of study.md. */
    static Path write(Path dir, StudySpec spec, StudyData data, DataPlan.Split split, List<Study.Run> runs,
                      PrintStream out) throws IOException {
        List<Done> done = new ArrayList<>();
        for (Study.Run r : runs) {
            Done d = readDone(r);
            if (d != null) {
                done.add(d);
            }
        }
        writeCsv(dir.resolve("study.csv"), done);
        int k = data.numClasses();
        StringBuilder md = new StringBuilder();
        md.append("# Study ").append(spec.name()).append("\n\n");
        md.append(String.format(Locale.ROOT, "Data: %s; %d classes (%s); %dD; split %d train / %d validation / %d "
                        + "test cases (`split.json`). Network: U-Net, %d levels, %d base filters. Recipe: %d epochs, "
                        + "batch %d, Adam lr %.4g with poly decay (power %.2f), augmentation %s; the last epoch's "
                        + "model is scored. Temperature scaling: %s. Calibration: %d bins; boundary band ±%.1f mm.%n%n",
                describe(spec, data), k, String.join(", ", data.classNames()), data.dims(),
                split.training().size(), split.validation().size(), split.test().size(), spec.model().levels(),
                spec.model().baseFilters(), spec.training().epochs(), spec.training().batchSize(),
                spec.model().learningRate(), spec.polyPower(), spec.data().augmentationOrDefault().specName(),
                spec.temperatureScaling() ? "T fitted by NLL on the validation cases, applied to the test cases"
                        : "off", spec.bins(), spec.boundaryBandMm()));
        md.append(String.format(Locale.ROOT, "Runs finished: %d of %d.%n%n", done.size(), runs.size()));
        Map<String, List<Done>> byArm = new LinkedHashMap<>();
        for (String arm : spec.arms()) {
            byArm.put(arm, new ArrayList<>());
        }
        for (Done d : done) {
            byArm.get(d.run().arm()).add(d);
        }
        boolean known = done.stream().anyMatch(d -> d.result().pooled().containsKey("mae_q"));
        md.append("## Test metrics per arm (mean ± sd over seeds)\n\n");
        md.append("Dice and HD95: mean over test cases of the mean over foreground classes; calibration: pooled over "
                + "all test voxels of a run. Lower is better except Dice.\n\n");
        for (int t = 0; t < 2; t++) {
            String suffix = t == 0 ? "" : "_ts";
            md.append(t == 0 ? "Before temperature scaling:\n\n" : "\nAfter temperature scaling (same Dice/HD95):\n\n");
            md.append("| arm | seeds | updates | Dice | HD95 mm | ECE | class-wise ECE | boundary ECE | ACE | Brier | NLL"
                    + (t == 1 ? " | T" : "") + (known ? " | mean abs(p − q) | ECE vs q" : "") + " |\n");
            md.append("|---|---|---|---|---|---|---|---|---|---|---" + (t == 1 ? "|---" : "") + (known ? "|---|---" : "")
                    + "|\n");
            for (Map.Entry<String, List<Done>> e : byArm.entrySet()) {
                List<Done> ds = e.getValue();
                if (ds.isEmpty()) {
                    continue;
                }
                md.append("| ").append(LossSpec.parse(e.getKey()).label()).append(" | ").append(ds.size())
                        .append(" | ").append(ds.get(0).result().iterations()).append(" | ")
                        .append(ms(ds, d -> d.meanOverCases("dice_mean"), 4)).append(" | ")
                        .append(ms(ds, d -> meanHd95(d, k), 2));
                for (String c : CAL) {
                    md.append(" | ").append(ms(ds, d -> d.result().pooled().getOrDefault(c + suffix, Double.NaN), 4));
                }
                if (t == 1) {
                    md.append(" | ").append(ms(ds, d -> d.result().temperature(), 3));
                }
                if (known) {
                    md.append(" | ").append(ms(ds, d -> d.result().pooled().getOrDefault("mae_q" + suffix,
                            Double.NaN), 4)).append(" | ").append(ms(ds, d -> d.result().pooled()
                            .getOrDefault("ece_q" + suffix, Double.NaN), 4));
                }
                md.append(" |\n");
            }
        }
        md.append("\n## Per class (mean ± sd over seeds of the mean over test cases)\n\n| arm |");
        StringBuilder sep = new StringBuilder("|---|");
        for (int c = 1; c < k; c++) {
            md.append(" Dice ").append(data.classNames().get(c)).append(" |");
            sep.append("---|");
        }
        for (int c = 1; c < k; c++) {
            md.append(" HD95 ").append(data.classNames().get(c)).append(" |");
            sep.append("---|");
        }
        for (int c = 1; c < k; c++) {
            md.append(" a/b ").append(data.classNames().get(c)).append(" |");
            sep.append("---|");
        }
        md.append('\n').append(sep).append('\n');
        for (Map.Entry<String, List<Done>> e : byArm.entrySet()) {
            List<Done> ds = e.getValue();
            if (ds.isEmpty()) {
                continue;
            }
            md.append("| ").append(LossSpec.parse(e.getKey()).label()).append(" |");
            for (String col : new String[] {"dice_", "hd95_", "dice_a_over_b_"}) {
                for (int c = 1; c < k; c++) {
                    String name = col + c;
                    md.append(' ').append(ms(ds, d -> d.meanOverCases(name), col.startsWith("hd") ? 2 : 3))
                            .append(" |");
                }
            }
            md.append('\n');
        }
        md.append("\na/b: Dice's weight on a foreground voxel over its weight on a background voxel of the class, "
                + "(S − I)/I with I = Σ p·y and S = Σ p + Σ y per case (`DiceFixedPoint`); with the surgery the "
                + "expected field vanishes at p* = q·(a/b) / (q·(a/b) + 1 − q), so a/b ≠ 1 moves the fixed point away "
                + "from q (at q = 0.5, p* = (a/b)/(a/b + 1)).\n");
        pairedSection(md, spec, done);
        md.append("\n## Pictures\n\n![Dice vs ECE](dice_vs_ece.png)\n\n![reliability](reliability.png)\n\n"
                + "![reliability after TS](reliability_ts.png)\n\n![validation curves](validation_curves.png)\n");
        if (known) {
            md.append("\n![reliability against q](reliability_q.png)\n\nReliability against q: per bin of the predicted "
                    + "foreground probability p, the mean true probability q (not sampled labels).\n");
        }
        md.append("\n## Runs\n\nTraining time: the training steps of every epoch, summed over the sessions that trained "
                + "the run (`metrics.csv`'s `seconds`; validation and scoring excluded).\n\n"
                + "| arm | seed | epochs | updates | training time | T | folder |\n|---|---|---|---|---|---|---|\n");
        for (Done d : done) {
            md.append(String.format(Locale.ROOT, "| %s | %d | %d | %d | %s | %.3f%s | `%s` |%n", d.result().label(),
                    d.result().seed(), d.result().epochs(), d.result().iterations(),
                    Study.duration(d.trainingSeconds()), d.result().temperature(),
                    d.result().temperatureConverged() ? "" : " (bound)", dir.relativize(d.run().dir())));
        }
        for (Study.Run r : runs) {
            if (done.stream().noneMatch(d -> d.run().equals(r))) {
                md.append(String.format(Locale.ROOT, "| %s | %d | not finished | | | | `%s` |%n", r.loss().label(),
                        r.seed(), dir.relativize(r.dir())));
            }
        }
        pictures(dir, byArm, data);
        Path file = dir.resolve("study.md");
        AtomicFiles.writeString(file, md.toString());
        return file;
    }

    private static String describe(StudySpec spec, StudyData data) {
        DataPlan d = spec.data();
        return data.description() + (d.labelGrouping() != null ? ", label grouping " + d.labelGrouping() : "")
                + (d.cropsToNonzero() ? ", cropped to the non-zero box" : "")
                + (d.spacing() != null ? ", resampled to " + java.util.Arrays.toString(d.spacing()) + " mm" : "");
    }

    private static double meanHd95(Done d, int k) {
        double s = 0;
        int n = 0;
        for (int c = 1; c < k; c++) {
            double v = d.meanOverCases("hd95_" + c);
            if (!Double.isNaN(v)) {
                s += v;
                n++;
            }
        }
        return n == 0 ? Double.NaN : s / n;
    }

    private static String ms(List<Done> ds, java.util.function.ToDoubleFunction<Done> f, int digits) {
        return Statistics.meanSd(ds.stream().mapToDouble(f).toArray()).format(digits);
    }

    /** Paired differences per region loss and the paper's claim. */
    private static void pairedSection(StringBuilder md, StudySpec spec, List<Done> done) {
        md.append("\n## With surgery − without, per region loss\n\n");
        md.append("Paired over test cases, all seeds pooled (case i of seed s with case i of seed s); 95 % percentile "
                + "bootstrap interval, " + Statistics.DEFAULT_RESAMPLES + " resamples, seed 0. Per-case calibration "
                + "metrics are computed over that case's voxels.\n\n");
        md.append("| with surgery − without | pairs | Δ Dice | Δ ECE | Δ boundary ECE | Δ NLL | Δ ECE after TS |\n"
                + "|---|---|---|---|---|---|---|\n");
        StringBuilder verdicts = new StringBuilder();
        for (String arm : spec.arms()) {
            LossSpec with = LossSpec.parse(arm);
            if (!with.surgery()) {
                continue;
            }
            LossSpec without = with.toBuilder().surgery(false).build();
            String base = spec.arms().stream().filter(a -> LossSpec.parse(a).equals(without)).findFirst()
                    .orElse(null);
            if (base == null) {
                continue;
            }
            List<Done> w = new ArrayList<>();
            List<Done> wo = new ArrayList<>();
            for (Done d : done) {
                if (!d.run().arm().equals(arm)) {
                    continue;
                }
                done.stream().filter(x -> x.run().arm().equals(base) && x.run().seed() == d.run().seed()).findFirst()
                        .ifPresent(x -> {
                            w.add(d);
                            wo.add(x);
                        });
            }
            if (w.isEmpty()) {
                continue;
            }
            // named by both arms: one region loss can have several surgery arms (e.g. :balanced, :probabilities)
            String pair = with.label() + " − " + without.label();
            md.append("| ").append(pair).append(" | ");
            boolean first = true;
            for (String col : new String[] {"dice_mean", "ece", "boundary_ece", "nll", "ece_ts"}) {
                List<Double> a = new ArrayList<>();
                List<Double> b = new ArrayList<>();
                for (int i = 0; i < w.size(); i++) {
                    double[] x = w.get(i).column(col);
                    double[] y = wo.get(i).column(col);
                    for (int j = 0; j < x.length; j++) {
                        a.add(x[j]);
                        b.add(y[j]);
                    }
                }
                Statistics.PairedDifference p = Statistics.paired(a.stream().mapToDouble(v -> v).toArray(),
                        b.stream().mapToDouble(v -> v).toArray());
                if (first) {
                    md.append(p.n()).append(" | ");
                    first = false;
                }
                md.append(String.format(Locale.ROOT, "%+.4f [%+.4f, %+.4f] | ", p.mean(), p.lo(), p.hi()));
            }
            md.append('\n');
            double eceW = w.stream().mapToDouble(d -> d.result().pooled().get("ece")).average().orElse(Double.NaN);
            double eceWo = wo.stream().mapToDouble(d -> d.result().pooled().get("ece")).average().orElse(Double.NaN);
            double diceW = w.stream().mapToDouble(d -> d.meanOverCases("dice_mean")).average().orElse(Double.NaN);
            double diceWo = wo.stream().mapToDouble(d -> d.meanOverCases("dice_mean")).average().orElse(Double.NaN);
            double reduction = 1 - eceW / eceWo;
            boolean eceOk = reduction >= CLAIM_ECE_REDUCTION;
            boolean diceOk = Math.abs(diceW - diceWo) < CLAIM_DICE_CHANGE;
            verdicts.append(String.format(Locale.ROOT, "* **%s** (%d seed(s)): top-label ECE %.4f → %.4f (%s by %.0f %%), "
                            + "mean foreground Dice %.4f → %.4f (%+.2f points). Claim (ECE at least %.0f %% lower and "
                            + "Dice within 1 point): **%s**.%n", pair, w.size(), eceWo, eceW,
                    reduction >= 0 ? "lower" : "higher", Math.abs(reduction) * 100, diceWo, diceW,
                    (diceW - diceWo) * 100, CLAIM_ECE_REDUCTION * 100,
                    eceOk && diceOk ? "held" : "did not hold" + (eceOk ? " (Dice)" : diceOk ? " (ECE)"
                            : " (ECE and Dice)")));
        }
        md.append("\n### The paper's claim, checked\n\nPooled top-label ECE and mean foreground Dice, each averaged over "
                + "the seeds both arms finished:\n\n").append(verdicts.length() == 0 ? "(no pair finished yet)\n"
                : verdicts);
    }

    private static void writeCsv(Path file, List<Done> done) throws IOException {
        StringBuilder sb = new StringBuilder();
        List<String> cols = null;
        for (Done d : done) {
            if (cols == null) {
                cols = new ArrayList<>(d.rows().get(0).keySet());
                sb.append("arm,loss,seed,case");
                for (String c : cols) {
                    sb.append(',').append(c);
                }
                sb.append('\n');
            }
            for (int i = 0; i < d.rows().size(); i++) {
                sb.append(d.run().arm()).append(',').append('"').append(d.result().label()).append('"').append(',')
                        .append(d.run().seed()).append(',').append(d.cases().get(i));
                for (String c : cols) {
                    sb.append(',').append(fmt(d.rows().get(i).get(c)));
                }
                sb.append('\n');
            }
        }
        AtomicFiles.writeString(file, sb.toString());
    }

    private static void pictures(Path dir, Map<String, List<Done>> byArm, StudyData data) throws IOException {
        org.gradsurgery.io.Charts.require("StudyReport");
        XYChart scatter = new XYChartBuilder().width(640).height(480).title("Test Dice vs top-label ECE (one point "
                + "per arm and seed)").xAxisTitle("top-label ECE (pooled test voxels)").yAxisTitle("mean foreground "
                + "Dice").build();
        scatter.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        scatter.getStyler().setMarkerSize(9);
        XYChart curves = new XYChartBuilder().width(800).height(500).title("Validation Dice per epoch")
                .xAxisTitle("epoch").yAxisTitle("validation Dice (padded validation inputs)").build();
        curves.getStyler().setMarkerSize(0);
        List<ReliabilityDiagram.Panel> raw = new ArrayList<>();
        List<ReliabilityDiagram.Panel> ts = new ArrayList<>();
        List<ReliabilityDiagram.Panel> q = new ArrayList<>();
        for (Map.Entry<String, List<Done>> e : byArm.entrySet()) {
            List<Done> ds = e.getValue();
            if (ds.isEmpty()) {
                continue;
            }
            String label = ds.get(0).result().label();
            double[] x = ds.stream().mapToDouble(d -> d.result().pooled().get("ece")).toArray();
            double[] y = ds.stream().mapToDouble(d -> d.meanOverCases("dice_mean")).toArray();
            scatter.addSeries(label, x, y);
            for (Done d : ds) {
                if (!d.history().isEmpty()) {
                    XYSeries s = curves.addSeries(label + " s" + d.run().seed(),
                            d.history().stream().mapToDouble(EpochMetrics::epoch).toArray(),
                            d.history().stream().mapToDouble(EpochMetrics::valDice).toArray());
                    s.setMarker(SeriesMarkers.NONE);
                }
            }
            raw.add(new ReliabilityDiagram.Panel(label, sum(ds, "top")));
            ts.add(new ReliabilityDiagram.Panel(label + ", TS", sum(ds, "top_ts")));
            if (ds.get(0).result().reliability().containsKey("q")) {
                q.add(new ReliabilityDiagram.Panel(label + " vs q", sum(ds, "q")));
            }
        }
        if (raw.isEmpty()) {
            return;
        }
        AtomicFiles.write(dir.resolve("dice_vs_ece.png"), tmp -> png(scatter, tmp));
        AtomicFiles.write(dir.resolve("validation_curves.png"), tmp -> png(curves, tmp));
        ReliabilityDiagram.write(dir.resolve("reliability.png"), raw.toArray(new ReliabilityDiagram.Panel[0]));
        ReliabilityDiagram.write(dir.resolve("reliability_ts.png"), ts.toArray(new ReliabilityDiagram.Panel[0]));
        if (!q.isEmpty()) {
            ReliabilityDiagram.write(dir.resolve("reliability_q.png"), q.toArray(new ReliabilityDiagram.Panel[0]));
        }
    }

    private static void png(XYChart chart, Path file) throws IOException {
        try (java.io.OutputStream o = Files.newOutputStream(file)) {
            BitmapEncoder.saveBitmap(chart, o, BitmapEncoder.BitmapFormat.PNG);
        }
    }

    /** The bins of several runs added up. */
    private static ReliabilityBins sum(List<Done> ds, String key) {
        ReliabilityBins first = ds.get(0).result().bins(key);
        long[] c = new long[first.bins()];
        double[] conf = new double[first.bins()];
        double[] acc = new double[first.bins()];
        for (Done d : ds) {
            double[][] b = d.result().reliability().get(key);
            for (int i = 0; i < c.length; i++) {
                c[i] += Math.round(b[0][i]);
                conf[i] += b[1][i];
                acc[i] += b[2][i];
            }
        }
        return new ReliabilityBins(c, conf, acc);
    }
}
