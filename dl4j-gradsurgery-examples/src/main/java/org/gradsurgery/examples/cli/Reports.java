package org.gradsurgery.examples.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.gradsurgery.calibration.TemperatureScalingResult;
import org.gradsurgery.evaluation.Report;
import org.gradsurgery.experiment.ExperimentRunner;

/** What {@code train}, {@code compare} and {@code demo} write and print after their runs. */
final class Reports {
    private Reports() {
    }

    /** {@code runs/<prefix>-yyyyMMdd-HHmmss} under the working directory. */
    static Path defaultRunDir(String prefix) {
        return Path.of("runs", prefix + "-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")))
                .toAbsolutePath();
    }

    /**
     * Writes report.md (the data's description, one link per run, the comparison table and reliability diagrams)
     * into {@code dir}, then prints the table and the report's path.
     */
    static Path conclude(PrintStream out, Path dir, String title, List<ExperimentRunner.Outcome> outcomes)
            throws IOException {
        List<Report.Entry> entries = new ArrayList<>();
        StringBuilder runs = new StringBuilder(outcomes.get(0).data().describe())
                .append("\n\nRuns (config.json, metrics.csv, model.zip):\n");
        for (ExperimentRunner.Outcome o : outcomes) {
            entries.add(new Report.Entry(o.label(), o.evaluation()));
            String rel = dir.relativize(o.runDirectory()).toString();
            runs.append(String.format(Locale.ROOT, "\n* %s: `%s` (%d epochs, %d updates, stopped by %s)",
                    o.label(), rel.isEmpty() ? "." : rel, o.training().epochs(), o.training().iterations(),
                    o.training().stopReason().name().toLowerCase(Locale.ROOT).replace('_', ' ')));
        }
        Path report = Report.write(dir, title, runs.toString(), outcomes.get(0).data().classNames(), entries);
        out.println();
        out.print(Report.table(entries));
        printTemperatureWarnings(out, entries);
        out.println("report: " + report);
        return report;
    }

    /**
     * One line per model whose temperature scaling did not converge (T at the bound of its search range, or the
     * iteration limit): the table's "T" and "ECE+TS" columns for it are only that bound's, which a user must not
     * read as a fitted optimum.
     */
    static void printTemperatureWarnings(PrintStream out, List<Report.Entry> entries) {
        for (Report.Entry e : entries) {
            TemperatureScalingResult t = e.result().temperature();
            if (t != null && t.warning() != null) {
                out.println("warning (" + e.name() + "): " + t.warning());
            }
        }
    }
}
