package org.gradsurgery.evaluation;

import org.gradsurgery.model.Inference;
import org.gradsurgery.model.TinySegmentation;
import org.gradsurgery.training.Trainer;
import org.gradsurgery.training.TrainingConfig;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import javax.imageio.ImageIO;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.metrics.SegmentationMetrics;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;

/** {@link SegmentationEvaluator} against the metrics used directly, and the contents of {@link Report}. */
class ReportTest {
    private static final List<String> NAMES = List.of("background", "bright", "dim");
    private static ComputationGraph trained;
    private static ComputationGraph untrained;

    @TempDir
    Path tmp;

    @BeforeAll
    static void nets() throws IOException {
        untrained = TinySegmentation.net();
        trained = Trainer.builder(TrainingConfig.builder().epochs(3).batchSize(4).validateEvery(0)
                        .progress(TrainingConfig.ProgressMode.OFF).build()).build()
                .fit(TinySegmentation.net(), TinySegmentation.data()).network();
    }

    private static SegmentationEvaluator evaluator() {
        return SegmentationEvaluator.builder().numClasses(TinySegmentation.CLASSES).spacing(1.0, 1.0).build();
    }

    @Test
    void evaluatorAgreesWithTheMetricsOnTheNetworkOutput() {
        MultiDataSetIterator val = TinySegmentation.data().validation(3);
        EvaluationResult r = evaluator().evaluate(trained, val);
        assertEquals(4, r.examples());
        SegmentationMetrics seg = SegmentationMetrics.builder().numClasses(3).spacing(1.0, 1.0).build();
        val.reset();
        while (val.hasNext()) {
            MultiDataSet m = val.next();
            INDArray p = trained.outputSingle(false, m.getFeatures(0));
            seg.update(p, m.getLabels(0));
        }
        assertEquals(seg.result().meanDice(), r.meanDice(), 1e-9);
        assertEquals(seg.result().meanHd95(), r.segmentation().meanHd95(), 1e-9);
        // logits recovered as ln p give the same calibration as the graph's own logits
        EvaluationResult viaProbs = SegmentationEvaluator.builder().numClasses(3).spacing(1.0, 1.0)
                .inference(Inference.fromProbabilities((net, f) -> net.outputSingle(false, f))).build()
                .evaluate(trained, TinySegmentation.data().validation(4));
        assertEquals(r.calibration().eceTopLabel(), viaProbs.calibration().eceTopLabel(), 1e-5);
        assertEquals(r.temperature().temperature(), viaProbs.temperature().temperature(), 1e-3);
        // the fitted T minimises the NLL of the evaluated logits
        assertTrue(r.calibrationScaled().nll() <= r.calibration().nll() + 1e-9);
        assertEquals(r.temperature().nllAfter(), r.calibrationScaled().nll(), 1e-4);
        assertTrue(r.loss() > 0 && r.loss() < 1, "Dice loss per example " + r.loss());
    }

    @Test
    void reportHasEveryRowParsableNumbersAndTheDiagrams() throws IOException {
        List<Report.Entry> entries = List.of(
                new Report.Entry("untrained", evaluator().evaluate(untrained, TinySegmentation.data().validation(4))),
                new Report.Entry("trained", evaluator().evaluate(trained, TinySegmentation.data().validation(4))));
        Path md = Report.write(tmp, "Tiny report", "Data: synthetic squares.", NAMES, entries);
        String text = Files.readString(md);
        assertTrue(text.startsWith("# Tiny report\n\nData: synthetic squares."), text);
        Map<String, double[]> rows = new LinkedHashMap<>();
        for (String line : text.lines().toList()) {
            if (line.startsWith("| ") && !line.startsWith("| metric |") && !line.startsWith("| class · metric |")
                    && !line.startsWith("| model |") && !line.startsWith("| untrained |")
                    && !line.startsWith("| trained |")) {
                String[] cells = line.substring(2, line.length() - 2).split(" \\| ");
                double[] v = new double[cells.length - 1];
                for (int i = 1; i < cells.length; i++) {
                    v[i - 1] = Double.parseDouble(cells[i].strip());
                }
                rows.put(cells[0].strip(), v);
            }
        }
        for (String r : List.of("Dice (mean fg)", "IoU (mean fg)", "HD95 mm (mean fg)", "ECE top-label",
                "MCE top-label", "ACE top-label", "adaptive ECE top-label", "class-wise ECE", "Brier", "NLL",
                "temperature T", "bright · Dice", "dim · HD95 mm", "background · ECE", "dim · adaptive ECE")) {
            assertTrue(rows.containsKey(r), "row " + r + " in\n" + text);
            assertEquals(4, rows.get(r).length, r);
        }
        assertTrue(text.contains("| metric | untrained | untrained + TS | trained | trained + TS |"), text);
        double[] dice = rows.get("Dice (mean fg)");
        assertEquals(dice[0], dice[1], 0.0, "temperature scaling does not change Dice");
        assertEquals(entries.get(1).result().meanDice(), dice[2], 1e-4);
        assertEquals(1.0, rows.get("temperature T")[0], 0.0);
        assertEquals(entries.get(1).result().temperature().temperature(), rows.get("temperature T")[3], 1e-4);
        double[] nll = rows.get("NLL");
        assertTrue(nll[1] <= nll[0] + 1e-4 && nll[3] <= nll[2] + 1e-4, "NLL after TS <= before");
        assertTrue(rows.get("Dice (mean fg)")[2] > rows.get("Dice (mean fg)")[0], "training helps: " + text);

        List<String> pngs = new ArrayList<>(List.of(Report.TOP_PNG, Report.classPng(1), Report.classPng(2)));
        for (String png : pngs) {
            assertTrue(text.contains("](" + png + ")"), "link to " + png);
            BufferedImage img = ImageIO.read(tmp.resolve(png).toFile());
            assertNotNull(img, png);
            assertEquals(4 * 520, img.getWidth(), png + ": one panel per model and T");
        }
        String table = Report.table(entries);
        assertTrue(table.lines().findFirst().orElseThrow().matches("model\\s+Dice\\s+HD95mm\\s+ECE\\s+ACE\\s+aECE"
                + "\\s+Brier\\s+NLL\\s+T\\s+ECE\\+TS"), table);
        assertEquals(3, table.lines().count());
        assertThrows(IllegalArgumentException.class, () -> Report.write(tmp, "t", "", List.of("a"), entries));
    }
}
