package org.gradsurgery.evaluation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.data.Sample;
import org.gradsurgery.metrics.CaseMetrics;
import org.gradsurgery.model.Inference;
import org.gradsurgery.model.UNet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.ObjectMapper;

class CaseEvaluatorTest {
    /** Any graph: the tests' inference ignores it and reads the prediction from the image (class 1 where x = 1). */
    private static final ComputationGraph NET = UNet.builder().numClasses(2).levels(2).baseFilters(2).build().graph();

    /** Logits {@code [N, 2, spatial...]}: class 0 at 0, class 1 at 4·(x − 0.5); records every input shape. */
    private static Inference fromImage(List<long[]> shapes) {
        return (net, x) -> {
            shapes.add(x.shape());
            INDArray z1 = x.castTo(DataType.FLOAT).sub(0.5).muli(4);
            return Nd4j.concat(1, Nd4j.zerosLike(z1), z1);
        };
    }

    @Test
    void sliceModelIsScoredOnTheStackedVolumeWithoutPadding() {
        int ni = 13;
        int nj = 11;
        int nk = 10;
        float[] img = new float[ni * nj * nk];
        int[] lab = new int[img.length];
        for (int i = 0; i < ni; i++) {
            for (int j = 0; j < nj; j++) {
                for (int k = 0; k < nk; k++) {
                    int f = (i * nj + j) * nk + k;
                    boolean inside = k >= 1 && k <= 8;
                    lab[f] = inside && (i - 6) * (i - 6) + (j - 5) * (j - 5) <= 16 ? 1 : 0;
                    // the prediction is shifted by one row, misses slice 8 and adds a blob on slice 0
                    img[f] = inside && k != 8 && (i - 7) * (i - 7) + (j - 5) * (j - 5) <= 16
                            || k == 0 && i < 2 && j < 2 ? 1f : 0f;
                }
            }
        }
        Sample s = Sample.of("ten-slices", img, 1, new int[]{ni, nj, nk}, lab, null, new double[]{1, 1, 2.5}, null);
        List<long[]> shapes = new ArrayList<>();
        List<INDArray> seen = new ArrayList<>();
        Inference inf = fromImage(shapes);
        CaseEvaluator ev = CaseEvaluator.builder().numClasses(2).slices(2, 4).sliceBatch(3).temperatureScaling(false)
                .inference((net, x) -> {
                    seen.add(x.dup());
                    return inf.logits(net, x);
                }).build();
        List<INDArray> logits = new ArrayList<>();
        CaseEvaluation r = ev.evaluateSamples(NET, List.of(s), null, (sample, z) -> logits.add(z));

        // exactly the 10 real slices, each padded in-plane only (13 x 11 -> 16 x 12) by edge replication
        long slices = shapes.stream().mapToLong(sh -> sh[0]).sum();
        assertEquals(nk, slices);
        for (long[] sh : shapes) {
            assertEquals(16, sh[2]);
            assertEquals(12, sh[3]);
        }
        INDArray first = seen.get(0); // offsets: 2 rows before, 1 after (13 -> 16); 1 column before (11 -> 12)
        assertEquals(first.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(0), NDArrayIndex.all()),
                first.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(2), NDArrayIndex.all()));
        assertEquals(first.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(0)),
                first.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(1)));
        assertEquals(first.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(15), NDArrayIndex.all()),
                first.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(14), NDArrayIndex.all()));
        assertArrayEquals(new long[]{1, 2, ni, nj, nk}, logits.get(0).shape());
        assertEquals(1, r.caseCount());
        assertEquals(1, r.result().examples());
        assertEquals((long) ni * nj * nk, r.result().calibration().voxelCount());

        // hand computation on the stacked volume
        long p = 0;
        long g = 0;
        long both = 0;
        double sliceMean = 0;
        for (int k = 0; k < nk; k++) {
            long ps = 0;
            long gs = 0;
            long bs = 0;
            for (int v = 0; v < ni * nj; v++) {
                int f = v * nk + k;
                boolean pv = img[f] == 1f;
                boolean gv = lab[f] == 1;
                ps += pv ? 1 : 0;
                gs += gv ? 1 : 0;
                bs += pv && gv ? 1 : 0;
            }
            p += ps;
            g += gs;
            both += bs;
            sliceMean += (ps + gs == 0 ? 1.0 : 2.0 * bs / (ps + gs)) / nk;
        }
        double dice = 2.0 * both / (p + g);
        List<CaseMetrics> rows = r.metricsOf(0);
        assertEquals(1, rows.size());
        assertEquals(dice, rows.get(0).dice(), 1e-12);
        assertEquals(p, rows.get(0).predictedVoxels());
        assertEquals(g, rows.get(0).referenceVoxels());
        assertEquals(dice, r.result().segmentation().dice(1), 1e-12);
        assertNotEquals(sliceMean, dice, 1e-3, "the fixture must tell a per-slice mean from the volume Dice");
    }

    @Test
    void surfaceDistancesUseEachCasesOwnSpacingAsScipy() throws Exception {
        JsonNode expected;
        try (InputStream in = getClass().getResourceAsStream("/metrics/surface_distances.json")) {
            expected = new ObjectMapper().readTree(in);
        }
        int[] shape = {20, 16, 12};
        float[] img = new float[20 * 16 * 12];
        int[] lab = new int[img.length];
        for (int i = 0; i < 20; i++) {
            for (int j = 0; j < 16; j++) {
                for (int k = 0; k < 12; k++) {
                    int f = (i * 16 + j) * 12 + k;
                    lab[f] = 4 * (i - 10) * (i - 10) + 9 * (j - 8) * (j - 8) + 16 * (k - 6) * (k - 6) <= 400 ? 1 : 0;
                    img[f] = 4 * (i - 11) * (i - 11) + 9 * (j - 7) * (j - 7) + 16 * (k - 6) * (k - 6) <= 324 ? 1 : 0;
                }
            }
        }
        List<Sample> cases = new ArrayList<>();
        List<String> names = List.of("iso1", "aniso");
        for (String n : names) {
            JsonNode sp = expected.path("cases").path(n).path("spacing");
            cases.add(Sample.of(n, img, 1, shape, lab, null,
                    new double[]{sp.get(0).asDouble(), sp.get(1).asDouble(), sp.get(2).asDouble()}, null));
        }
        CaseEvaluation r = CaseEvaluator.builder().numClasses(2).whole(4).temperatureScaling(false)
                .inference(fromImage(new ArrayList<>())).build().evaluateSamples(NET, cases, null, null);
        assertEquals(2, r.caseCount());
        double meanHd = 0;
        for (int c = 0; c < 2; c++) {
            JsonNode e = expected.path("cases").path(names.get(c));
            CaseMetrics m = r.metricsOf(c).get(0);
            assertEquals(e.path("hd95").asDouble(), m.hd95(), 1e-9, names.get(c));
            assertEquals(e.path("assd").asDouble(), m.assd(), 1e-9, names.get(c));
            assertEquals(expected.path("dice").asDouble(), m.dice(), 1e-12);
            assertEquals(expected.path("predictedVoxels").asLong(), m.predictedVoxels());
            meanHd += e.path("hd95").asDouble() / 2;
        }
        assertNotEquals(r.metricsOf(0).get(0).hd95(), r.metricsOf(1).get(0).hd95());
        assertEquals(meanHd, r.result().segmentation().hd95(1), 1e-9);
    }

    @Test
    void emptyPredictionGivesDiceZeroAndUndefinedHd95NeverZero() {
        int[] shape = {8, 8, 4};
        float[] img = new float[256];
        int[] lab = new int[256];
        lab[100] = 1;
        lab[101] = 1;
        Sample missed = Sample.of("missed", img, 1, shape, lab, null, new double[]{1, 1, 1}, null);
        Sample absent = Sample.of("absent", img, 1, shape, new int[256], null, new double[]{1, 1, 1}, null);
        CaseEvaluation r = CaseEvaluator.builder().numClasses(2).whole(4).temperatureScaling(false)
                .inference(fromImage(new ArrayList<>())).build().evaluateSamples(NET, List.of(missed, absent), null,
                        null);
        CaseMetrics m = r.metricsOf(0).get(0);
        assertEquals(0.0, m.dice());
        assertTrue(Double.isNaN(m.hd95()));
        CaseMetrics a = r.metricsOf(1).get(0);
        assertEquals(1.0, a.dice());
        assertEquals(0.0, a.hd95());
        assertEquals(0.5, r.result().segmentation().dice(1), 1e-12);
        assertEquals(1, r.result().segmentation().undefinedDistances(1));
        CaseEvaluation worst = CaseEvaluator.builder().numClasses(2).whole(4).temperatureScaling(false)
                .worstCaseDistanceForEmpty(true).inference(fromImage(new ArrayList<>())).build()
                .evaluateSamples(NET, List.of(missed), null, null);
        assertEquals(Math.sqrt(64 + 64 + 16), worst.metricsOf(0).get(0).hd95(), 1e-12);
    }

    @Test
    void temperatureFittedOnCalibrationCasesAndCsvNamesEveryCase(@TempDir Path dir) throws Exception {
        int[] shape = {8, 8, 4};
        float[] img = new float[256];
        int[] lab = new int[256];
        for (int v = 0; v < 256; v++) {
            img[v] = v % 3 == 0 ? 1 : 0;
            lab[v] = v % 4 == 0 ? 1 : 0;
        }
        Sample s = Sample.of("a,b", img, 1, shape, lab, null, new double[]{1, 1, 1}, null);
        CaseEvaluation r = CaseEvaluator.builder().numClasses(2).whole(4).inference(fromImage(new ArrayList<>()))
                .logitCacheBytes(0).build().evaluateSamples(NET, List.of(s), List.of(s.withId("cal")), null);
        assertTrue(r.result().temperature().temperature() > 0);
        assertEquals(256, r.result().calibrationScaled().voxelCount());
        Path csv = dir.resolve("cases.csv");
        r.writeCsv(csv);
        List<String> lines = Files.readAllLines(csv);
        assertEquals(CaseEvaluation.CSV_HEADER, lines.get(0));
        assertTrue(lines.get(1).startsWith("\"a,b\",1,"), lines.get(1));
        assertTrue(lines.get(1).endsWith(",8 x 8 x 4,1.0 x 1.0 x 1.0"), lines.get(1));
    }

    @Test
    void casesOfAnySourceLoadOneAtATimeByIdAndUnscorableLabelsAreNamed() {
        int[] shape = {8, 8, 4};
        float[] img = new float[256];
        int[] lab = new int[256];
        lab[7] = 1;
        img[7] = 1;
        java.util.Map<String, Sample> source = new java.util.LinkedHashMap<>();
        source.put("a", Sample.of("a", img, 1, shape, lab, null, new double[]{1, 1, 1}, null));
        int[] bad = lab.clone();
        bad[9] = 4;
        source.put("b", Sample.of("b", img, 1, shape, bad, null, new double[]{1, 1, 1}, null));
        List<String> loaded = new ArrayList<>();
        CaseEvaluator ev = CaseEvaluator.builder().numClasses(2).whole(4).temperatureScaling(false)
                .inference(fromImage(new ArrayList<>())).build();
        CaseEvaluation r = ev.evaluate(NET, List.of("a"), id -> {
            loaded.add(id);
            return source.get(id);
        }, null, null);
        assertEquals(List.of("a"), loaded);
        assertEquals(1.0, r.metricsOf(0).get(0).dice());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ev.evaluate(NET, List.of("b"), source::get, null, null));
        assertTrue(e.getMessage().contains("case b") && e.getMessage().contains("--label-map"), e.getMessage());
    }

    @Test
    void aTemperatureAtTheBoundCarriesAWarning() {
        var capped = new org.gradsurgery.calibration.TemperatureScalingResult(100, 12, false, 0.5, 0.4, 10,
                org.gradsurgery.calibration.TemperatureScaling.Activation.SOFTMAX);
        assertTrue(capped.warning().contains("T = 100") && capped.warning().contains("bound"), capped.warning());
        var fine = new org.gradsurgery.calibration.TemperatureScalingResult(1.3, 5, true, 0.5, 0.4, 10,
                org.gradsurgery.calibration.TemperatureScaling.Activation.SOFTMAX);
        assertEquals(null, fine.warning());
    }

    @Test
    void realTwoDimensionalNetworkOnAnOddSizedVolume() {
        ComputationGraph net = UNet.builder().numClasses(2).levels(3).baseFilters(2).seed(3).build().graph();
        int[] shape = {7, 9, 5};
        float[] img = new float[7 * 9 * 5];
        int[] lab = new int[img.length];
        for (int v = 0; v < img.length; v++) {
            img[v] = (v * 37 % 11) / 11f;
            lab[v] = v % 5 == 0 ? 1 : 0;
        }
        Sample s = Sample.of("odd", img, 1, shape, lab, null, new double[]{1, 1, 1}, null);
        CaseEvaluator ev = CaseEvaluator.builder().numClasses(2).slices(0, 4).temperatureScaling(false).build();
        INDArray z = ev.logits(net, ev.prepare(s));
        assertArrayEquals(new long[]{1, 2, 7, 9, 5}, z.shape());
        assertEquals(1, ev.evaluateSamples(net, List.of(s), null, null).caseCount());
        assertThrows(IllegalArgumentException.class, () -> CaseEvaluator.builder().numClasses(2).build());
    }
}
