package org.gradsurgery.evaluation;

import org.gradsurgery.io.AtomicFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.function.ToDoubleFunction;
import org.gradsurgery.calibration.CalibrationResult;
import org.gradsurgery.calibration.ReliabilityDiagram;
import org.gradsurgery.metrics.SegmentationResult;

/**
 * Writes an evaluation report into a run directory: {@code report.md} and the reliability diagrams it links.
 *
 * <p>For every evaluated model (one for {@code evaluate}, several for {@code compare}/{@code demo}) the report has a
 * column before and a column after temperature scaling. Rows: mean foreground Dice, IoU and HD95 (unchanged by T: the
 * argmax does not move), top-label ECE/MCE/ACE/adaptive ECE, class-wise ECE, Brier, NLL and the fitted T; then the same
 * per class (Dice, IoU, HD95, ECE, MCE, ACE, adaptive ECE). Definitions: {@code docs/METRICS.md}. Diagrams:
 * {@code reliability_top.png} (top label) and {@code reliability_class<c>.png} (one per foreground class), one panel
 * per model and T. Every number is printed with {@code Locale.ROOT} ({@code NaN} when undefined) so tools can parse it.
 */
public final class Report {
    /** The report's file name inside the folder it is written to. */
    public static final String FILE_NAME = "report.md";
    /** Top-label reliability diagram file. */
    public static final String TOP_PNG = "reliability_top.png";

    /** One evaluated model: its display name and result. */
    public record Entry(String name, EvaluationResult result) {
        public Entry {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(result, "result");
        }
    }

    private Report() {
    }

    /** The reliability diagram file of class c. */
    public static String classPng(int c) {
        return "reliability_class" + c + ".png";
    }

    /**
     * Writes {@code report.md} and the PNGs into {@code dir}.
     *
     * @param title      first heading
     * @param preamble   free Markdown after the title (what data, which command), may be empty
     * @param classNames names of classes 0..C−1 (class 0 is the background)
     * @param entries    the evaluated models
     * @return the path of {@code report.md}
     */
    public static Path write(Path dir, String title, String preamble, List<String> classNames, List<Entry> entries)
            throws IOException {
        if (entries.isEmpty()) {
            throw new IllegalArgumentException("Report: nothing to report");
        }
        int classes = entries.get(0).result().calibration().numClasses();
        if (classNames.size() != classes) {
            throw new IllegalArgumentException("Report: " + classNames.size() + " class names for " + classes
                    + " classes");
        }
        List<ReliabilityDiagram.Panel> top = new ArrayList<>();
        for (Entry e : entries) {
            top.add(ReliabilityDiagram.Panel.topLabel(e.name(), e.result().calibration()));
            if (e.result().calibrationScaled() != null) {
                top.add(ReliabilityDiagram.Panel.topLabel(e.name() + " + TS", e.result().calibrationScaled()));
            }
        }
        ReliabilityDiagram.write(dir.resolve(TOP_PNG), top.toArray(new ReliabilityDiagram.Panel[0]));
        for (int c = 1; c < classes; c++) {
            List<ReliabilityDiagram.Panel> panels = new ArrayList<>();
            for (Entry e : entries) {
                panels.add(new ReliabilityDiagram.Panel(e.name() + " · " + classNames.get(c),
                        e.result().calibration().classBins(c)));
                if (e.result().calibrationScaled() != null) {
                    panels.add(new ReliabilityDiagram.Panel(e.name() + " + TS · " + classNames.get(c),
                            e.result().calibrationScaled().classBins(c)));
                }
            }
            ReliabilityDiagram.write(dir.resolve(classPng(c)), panels.toArray(new ReliabilityDiagram.Panel[0]));
        }

        StringBuilder md = new StringBuilder();
        md.append("# ").append(title).append("\n\n");
        if (!preamble.isBlank()) {
            md.append(preamble.strip()).append("\n\n");
        }
        EvaluationResult first = entries.get(0).result();
        md.append(String.format(Locale.ROOT, "Evaluated on %d examples; calibration over %d voxels in %d equal-width "
                        + "bins (adaptive ECE: equal-mass bins). Foreground means exclude class 0 (%s). ",
                first.examples(), first.calibration().voxelCount(), first.calibration().bins(), classNames.get(0)));
        md.append("\"+ TS\" columns: temperature scaling (Guo et al. 2017), one T per model fitted by minimising the "
                + "NLL of the evaluated logits; T does not change the argmax, so Dice, IoU and HD95 are the same. "
                + "Definitions: docs/METRICS.md.\n\n");

        List<String> columns = new ArrayList<>();
        List<Column> cols = new ArrayList<>();
        for (Entry e : entries) {
            columns.add(e.name());
            cols.add(new Column(e.result(), e.result().calibration()));
            if (e.result().calibrationScaled() != null) {
                columns.add(e.name() + " + TS");
                cols.add(new Column(e.result(), e.result().calibrationScaled()));
            }
        }
        md.append("## Summary\n\n");
        header(md, "metric", columns);
        row(md, "Dice (mean fg)", cols, k -> k.seg().meanDice());
        row(md, "IoU (mean fg)", cols, k -> k.seg().meanIou());
        row(md, "HD95 mm (mean fg)", cols, k -> k.seg().hasSurfaceDistances() ? k.seg().meanHd95() : Double.NaN);
        row(md, "ECE top-label", cols, k -> k.cal().eceTopLabel());
        row(md, "MCE top-label", cols, k -> k.cal().mceTopLabel());
        row(md, "ACE top-label", cols, k -> k.cal().aceTopLabel());
        row(md, "adaptive ECE top-label", cols,
                k -> k.cal().hasAdaptive() ? k.cal().adaptiveEceTopLabel() : Double.NaN);
        row(md, "class-wise ECE", cols, k -> k.cal().classwiseEce());
        row(md, "Brier", cols, k -> k.cal().brier());
        row(md, "NLL", cols, k -> k.cal().nll());
        row(md, "temperature T", cols, k -> k.cal() == k.result().calibration() ? 1.0
                : k.result().temperature().temperature());
        md.append('\n');

        md.append("## Per class\n\n");
        header(md, "class · metric", columns);
        for (int c = 0; c < classes; c++) {
            int cc = c;
            String n = classNames.get(c);
            if (c > 0) {
                row(md, n + " · Dice", cols, k -> k.seg().dice(cc));
                row(md, n + " · IoU", cols, k -> k.seg().iou(cc));
                row(md, n + " · HD95 mm", cols, k -> k.seg().hasSurfaceDistances() ? k.seg().hd95(cc) : Double.NaN);
            }
            row(md, n + " · ECE", cols, k -> k.cal().ece(cc));
            row(md, n + " · MCE", cols, k -> k.cal().mce(cc));
            row(md, n + " · ACE", cols, k -> k.cal().ace(cc));
            row(md, n + " · adaptive ECE", cols, k -> k.cal().hasAdaptive() ? k.cal().adaptiveEce(cc) : Double.NaN);
        }
        md.append('\n');

        md.append("## Temperature scaling\n\n| model | T | iterations | converged | NLL before | NLL after |\n"
                + "|---|---|---|---|---|---|\n");
        for (Entry e : entries) {
            var t = e.result().temperature();
            if (t != null) {
                md.append(String.format(Locale.ROOT, "| %s | %.4f | %d | %s | %.6f | %.6f |%n", e.name(),
                        t.temperature(), t.iterations(), t.converged(), t.nllBefore(), t.nllAfter()));
            }
        }
        for (Entry e : entries) {
            var t = e.result().temperature();
            if (t != null && t.warning() != null) {
                md.append("\n**Warning (").append(e.name()).append(")**: ").append(t.warning()).append('\n');
            }
        }
        md.append("\n## Reliability diagrams\n\nBlue: accuracy per confidence bin; red: gap to the mean confidence "
                + "(red above blue = over-confident); below: voxels per bin (log scale).\n\n");
        md.append("Top label: [").append(TOP_PNG).append("](").append(TOP_PNG).append(")\n\n![top label](")
                .append(TOP_PNG).append(")\n\n");
        for (int c = 1; c < classes; c++) {
            md.append(classNames.get(c)).append(": [").append(classPng(c)).append("](").append(classPng(c))
                    .append(")\n\n");
        }
        Path report = dir.resolve(FILE_NAME);
        AtomicFiles.writeString(report, md.toString());
        return report;
    }

    /** One column of the tables: a model's segmentation with one of its calibration results. */
    private record Column(EvaluationResult result, CalibrationResult cal) {
        SegmentationResult seg() {
            return result.segmentation();
        }
    }

    private static void header(StringBuilder md, String first, List<String> columns) {
        md.append("| ").append(first).append(" |");
        for (String c : columns) {
            md.append(' ').append(c).append(" |");
        }
        md.append("\n|---|");
        md.append("---:|".repeat(columns.size()));
        md.append('\n');
    }

    private static void row(StringBuilder md, String name, List<Column> cols, ToDoubleFunction<Column> value) {
        md.append("| ").append(name).append(" |");
        for (Column c : cols) {
            md.append(' ').append(number(value.applyAsDouble(c))).append(" |");
        }
        md.append('\n');
    }

    static String number(double v) {
        return Double.isNaN(v) ? "NaN" : String.format(Locale.ROOT, "%.4f", v);
    }

    /**
     * A plain-text comparison table for the terminal: one row per model with mean Dice, HD95, top-label ECE, ACE,
     * adaptive ECE, Brier, NLL, the fitted T and the ECE after temperature scaling.
     */
    public static String table(List<Entry> entries) {
        String[] head = {"model", "Dice", "HD95mm", "ECE", "ACE", "aECE", "Brier", "NLL", "T", "ECE+TS"};
        List<String[]> rows = new ArrayList<>();
        rows.add(head);
        for (Entry e : entries) {
            EvaluationResult r = e.result();
            CalibrationResult c = r.calibration();
            rows.add(new String[] {e.name(), number(r.meanDice()),
                    number(r.segmentation().hasSurfaceDistances() ? r.segmentation().meanHd95() : Double.NaN),
                    number(c.eceTopLabel()), number(c.aceTopLabel()),
                    number(c.hasAdaptive() ? c.adaptiveEceTopLabel() : Double.NaN), number(c.brier()),
                    number(c.nll()), r.temperature() == null ? "-" : number(r.temperature().temperature()),
                    r.calibrationScaled() == null ? "-" : number(r.calibrationScaled().eceTopLabel())});
        }
        int[] w = new int[head.length];
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                w[i] = Math.max(w[i], row[i].length());
            }
        }
        StringBuilder s = new StringBuilder();
        for (String[] row : rows) {
            for (int i = 0; i < row.length; i++) {
                s.append(i == 0 ? String.format("%-" + w[i] + "s", row[i]) : String.format("  %" + w[i] + "s", row[i]));
            }
            s.append('\n');
        }
        return s.toString();
    }
}
