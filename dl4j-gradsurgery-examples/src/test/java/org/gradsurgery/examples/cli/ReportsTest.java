package org.gradsurgery.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.gradsurgery.calibration.TemperatureScaling;
import org.gradsurgery.calibration.TemperatureScalingResult;
import org.gradsurgery.evaluation.EvaluationResult;
import org.gradsurgery.evaluation.Report;
import org.junit.jupiter.api.Test;

/** The console names every model whose temperature scaling stopped at the search bound (issue 15, point 14). */
class ReportsTest {

    private static Report.Entry entry(String name, TemperatureScalingResult t) {
        return new Report.Entry(name, new EvaluationResult(null, null, t, null, Double.NaN, 1));
    }

    @Test
    void warnsOncePerModelWhoseTemperatureDidNotConverge() {
        TemperatureScaling.Activation softmax = TemperatureScaling.Activation.SOFTMAX;
        List<Report.Entry> entries = List.of(
                entry("dice", new TemperatureScalingResult(100.0, 60, false, 0.9, 0.5, 1000, softmax)),
                entry("dice + surgery", new TemperatureScalingResult(1.02, 7, true, 0.3, 0.29, 1000, softmax)),
                entry("no temperature", null));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Reports.printTemperatureWarnings(new PrintStream(bytes, true, StandardCharsets.UTF_8), entries);
        String[] lines = bytes.toString(StandardCharsets.UTF_8).split("\n");
        assertEquals(1, lines.length, bytes.toString(StandardCharsets.UTF_8));
        assertEquals("warning (dice): temperature scaling did not converge: T = 100.0 after 60 iteration(s) is the "
                + "bound of the search range (the optimum lies beyond it); treat calibration after scaling with care",
                lines[0]);
    }
}
