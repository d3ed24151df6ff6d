package org.gradsurgery.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class SegmentationMetricsTest {

    /** 1 × 10 class maps, two cases: case 0 G = {2,3,4}→1, P = {3..6}→1; case 1 G = class 2 at {0,1}, P empty. */
    private static INDArray[] twoCases() {
        double[][] g = {{0, 0, 1, 1, 1, 0, 0, 0, 0, 0}, {2, 2, 0, 0, 0, 0, 0, 0, 0, 0}};
        double[][] p = {{0, 0, 0, 1, 1, 1, 1, 0, 0, 0}, {0, 0, 0, 0, 0, 0, 0, 0, 0, 0}};
        INDArray labels = Nd4j.create(flat(g), new long[]{2, 1, 10}, DataType.INT);
        INDArray pred = Nd4j.create(flat(p), new long[]{2, 1, 1, 10}, DataType.FLOAT); // [N, 1, H, W] class map
        return new INDArray[]{pred, labels};
    }

    @Test
    void diceIouAndDistancesPerClassAveragedOverCases() {
        INDArray[] in = twoCases();
        SegmentationMetrics m = SegmentationMetrics.builder().numClasses(3).spacing(1.0, 0.5).build();
        m.update(in[0], in[1].reshape(2, 1, 1, 10));
        SegmentationResult r = m.result();
        assertEquals(2, r.caseCount());
        // Class 1: case 0 |P∩G| = 2 ({3,4}), |P| = 4, |G| = 3 → Dice 4/7, IoU 2/5;
        //          case 1 both empty → Dice 1, IoU 1, distances 0.
        assertEquals((4.0 / 7 + 1) / 2, r.dice(1), 1e-12);
        assertEquals((2.0 / 5 + 1) / 2, r.iou(1), 1e-12);
        // Case 0 surfaces (one-row image: every voxel is surface), spacing 0.5 along the row:
        // d(P→G) = 0, 0, 0.5, 1 (voxels 3,4,5,6); d(G→P) = 0.5, 0, 0 (voxels 2,3,4).
        // P95: P→G rank 2.85 → 0.5 + 0.85·0.5 = 0.925; G→P rank 1.9 → 0 + 0.9·0.5 = 0.45. ASSD = 2/7.
        assertEquals((0.925 + 0) / 2, r.hd95(1), 1e-12);
        assertEquals((2.0 / 7 + 0) / 2, r.assd(1), 1e-12);
        // Class 2: case 0 both empty → 1 / 0; case 1 prediction empty → Dice 0, distances NaN (left out).
        assertEquals(0.5, r.dice(2), 1e-12);
        assertEquals(0.0, r.hd95(2), 0);
        assertEquals(1, r.undefinedDistances(2));
        assertEquals(0, r.undefinedDistances(1));
        assertEquals((r.dice(1) + r.dice(2)) / 2, r.meanDice(), 1e-12);
        List<CaseMetrics> cases = r.cases();
        assertEquals(4, cases.size());
        assertTrue(Double.isNaN(cases.get(3).hd95()));
        assertEquals(2, cases.get(3).referenceVoxels());
        assertEquals(0, cases.get(3).predictedVoxels());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> r.dice(0));
        assertTrue(e.getMessage().contains("includeBackground"));
    }

    @Test
    void worstCaseDistanceReplacesUndefinedValues() {
        INDArray[] in = twoCases();
        SegmentationMetrics m = SegmentationMetrics.builder().numClasses(3).spacing(2.0, 0.5)
                .worstCaseDistanceForEmpty(true).build();
        m.update(in[0], in[1]);
        // Case 1 class 2: image diagonal sqrt((1·2)² + (10·0.5)²) = sqrt(29); case 0 class 2 both empty → 0.
        assertEquals(Math.sqrt(29) / 2, m.result().hd95(2), 1e-12);
        assertEquals(Math.sqrt(29) / 2, m.result().assd(2), 1e-12);
        assertEquals(0, m.result().undefinedDistances(2));
    }

    @Test
    void probabilitiesAreArgmaxedWithTiesToTheLowestClassAndOneHotLabelsWork() {
        // Two voxels, three classes: (0.3, 0.3, 0.4) → 2; (0.45, 0.45, 0.1) → 0 (tie).
        INDArray probs = Nd4j.create(new double[]{0.3, 0.45, 0.3, 0.45, 0.4, 0.1}, new long[]{1, 3, 1, 2},
                DataType.DOUBLE);
        INDArray oneHot = Nd4j.create(new double[]{0, 1, 0, 0, 1, 0}, new long[]{1, 3, 1, 2}, DataType.FLOAT);
        SegmentationMetrics m = SegmentationMetrics.builder().numClasses(3).includeBackground(true)
                .surfaceDistances(false).build();
        m.update(probs, oneHot);
        SegmentationResult r = m.result();
        assertEquals(1.0, r.dice(0), 0);
        assertEquals(1.0, r.dice(2), 0);
        assertEquals(1.0, r.dice(1), 0); // absent in both
        assertThrows(IllegalStateException.class, () -> r.hd95(1));
        m.reset();
        assertEquals(0, m.caseCount());
    }

    @Test
    void threeDimensionalShiftedCubesWithPerCaseSpacing() {
        // G = [2,5]³, P = G shifted by one voxel along axis 0, in an 8³ grid: |P∩G| = 48 of 64 each → Dice 0.75,
        // IoU 48/80. Distances are checked against the brute-force reference of SurfaceDistanceTest.
        int n = 8;
        double[] g = new double[n * n * n];
        double[] p = new double[n * n * n];
        boolean[] gb = new boolean[g.length];
        boolean[] pb = new boolean[g.length];
        for (int x = 0; x < n; x++) {
            for (int y = 0; y < n; y++) {
                for (int z = 0; z < n; z++) {
                    int i = (x * n + y) * n + z;
                    gb[i] = x >= 2 && x <= 5 && y >= 2 && y <= 5 && z >= 2 && z <= 5;
                    pb[i] = x >= 3 && x <= 6 && y >= 2 && y <= 5 && z >= 2 && z <= 5;
                    g[i] = gb[i] ? 1 : 0;
                    p[i] = pb[i] ? 1 : 0;
                }
            }
        }
        double[] s = {3.0, 1.0, 0.7};
        SegmentationMetrics m = SegmentationMetrics.builder().numClasses(2).build();
        m.update(Nd4j.create(p, new long[]{1, 1, n, n, n}, DataType.INT),
                Nd4j.create(g, new long[]{1, n, n, n}, DataType.BYTE), s);
        SegmentationResult r = m.result();
        assertEquals(0.75, r.dice(1), 1e-12);
        assertEquals(48.0 / 80, r.iou(1), 1e-12);
        int[] shape = {n, n, n};
        double[] pg = SurfaceDistanceTest.bruteDirected(SurfaceDistanceTest.bruteSurface(pb, shape),
                SurfaceDistanceTest.bruteSurface(gb, shape), shape, s);
        double[] gp = SurfaceDistanceTest.bruteDirected(SurfaceDistanceTest.bruteSurface(gb, shape),
                SurfaceDistanceTest.bruteSurface(pb, shape), shape, s);
        double hd = Math.max(SurfaceDistanceTest.numpyPercentile(pg, 95), SurfaceDistanceTest.numpyPercentile(gp, 95));
        assertEquals(hd, r.hd95(1), 1e-9);
        // The shift is 3 mm along axis 0, so no surface voxel is farther than that.
        assertTrue(r.hd95(1) > 0 && r.hd95(1) <= 3.0);
    }

    @Test
    void rejectsBadInput() {
        SegmentationMetrics m = SegmentationMetrics.builder().numClasses(3).build();
        INDArray labels = Nd4j.zeros(DataType.INT, 1, 4, 4);
        assertThrows(IllegalArgumentException.class, () -> m.update(Nd4j.zeros(1, 2, 4, 4), labels));
        assertThrows(IllegalArgumentException.class, () -> m.update(Nd4j.zeros(1, 3, 4, 4), Nd4j.zeros(1, 4, 5)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> m.update(Nd4j.zeros(1, 3, 4, 4), labels, new double[]{1, 1, 1}));
        assertTrue(e.getMessage().contains("spacing"));
        assertThrows(IllegalArgumentException.class, () -> m.update(Nd4j.zeros(1, 1, 4, 4).addi(3), labels));
        assertThrows(IllegalArgumentException.class, () -> SegmentationMetrics.builder().numClasses(1).build());
    }

    private static double[] flat(double[][] rows) {
        return java.util.Arrays.stream(rows).flatMapToDouble(java.util.Arrays::stream).toArray();
    }
}
