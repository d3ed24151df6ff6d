package org.gradsurgery.calibration;

import static org.gradsurgery.calibration.CalibrationMetricsTest.assertMessage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class RegionMasksTest {

    private static INDArray row(double... labels) {
        return Nd4j.create(labels, new long[]{1, 1, labels.length}, DataType.INT);
    }

    @Test
    void handComputedOneRow() {
        // Labels 0 0 1 1 1 0 0 0 in a 1 × 8 image.
        INDArray y = row(0, 0, 1, 1, 1, 0, 0, 0);
        // k = 1 voxel: outside voxels 1 and 5 touch the structure, inside voxels 2 and 4 touch the outside;
        // voxel 3 is 2 voxels from the outside.
        assertArrayEquals(new float[]{0, 1, 1, 0, 1, 1, 0, 0}, values(RegionMasks.boundaryBand(y, 1, null)));
        assertArrayEquals(new float[]{0, 1, 1, 1, 1, 1, 0, 0}, values(RegionMasks.dilatedForeground(y, 1, null)));
        // Spacing 0.5 mm along the row, k = 1 mm = 2 voxels: voxel 3 is 1 mm from the outside.
        double[] s = {1, 0.5};
        assertArrayEquals(new float[]{1, 1, 1, 1, 1, 1, 1, 0}, values(RegionMasks.boundaryBand(y, 1, s)));
        assertArrayEquals(new float[]{1, 1, 1, 1, 1, 1, 1, 0}, values(RegionMasks.dilatedForeground(y, 1, s)));
        // k below the spacing: empty band, the dilation is the structure itself.
        assertArrayEquals(new float[8], values(RegionMasks.boundaryBand(y, 0.4, s)));
        assertArrayEquals(new float[]{0, 0, 1, 1, 1, 0, 0, 0}, values(RegionMasks.dilatedForeground(y, 0, s)));
        // k = 0.3 mm with spacing 0.1 mm: three steps (0.1² · 9 = 0.09000000000000002 > 0.3²) still count.
        assertArrayEquals(new float[]{0, 0, 0, 0, 0, 0, 0, 0},
                values(RegionMasks.boundaryBand(row(0, 0, 0, 0, 0, 0, 0, 0), 0.3, new double[]{1, 0.1})));
        assertArrayEquals(new float[]{0, 1, 1, 1, 1, 1, 1, 1},
                values(RegionMasks.dilatedForeground(row(0, 0, 0, 0, 1, 0, 0, 0), 0.3, new double[]{1, 0.1})));
        assertArrayEquals(new float[]{1, 1, 1, 1, 1, 1, 1, 1}, values(RegionMasks.wholeVolume(y)));
    }

    @Test
    void selectedClassesAndBoundariesBetweenStructures() {
        // 0 1 1 2 2 2 0 0 0: class 1's band (k = 1) is {0, 1, 2, 3}; class 2's is {2, 3, 5, 6}.
        INDArray y = row(0, 1, 1, 2, 2, 2, 0, 0, 0);
        assertArrayEquals(new float[]{1, 1, 1, 1, 0, 0, 0, 0, 0}, values(RegionMasks.boundaryBand(y, 1, null, 1)));
        assertArrayEquals(new float[]{0, 0, 1, 1, 0, 1, 1, 0, 0}, values(RegionMasks.boundaryBand(y, 1, null, 2)));
        assertArrayEquals(new float[]{1, 1, 1, 1, 0, 1, 1, 0, 0}, values(RegionMasks.boundaryBand(y, 1, null)));
        assertArrayEquals(new float[]{0, 1, 1, 1, 1, 1, 1, 1, 0},
                values(RegionMasks.dilatedForeground(y, 2, null, 2)));
        // A class that is absent gives nothing.
        assertArrayEquals(new float[9], values(RegionMasks.boundaryBand(y, 1, null, 7)));
    }

    @Test
    void threeDimensionalAnisotropicMatchesBruteForce() {
        Random rnd = new Random(4);
        int[] g = {2, 6, 7, 8}; // N = 2 volumes
        double[] s = {2.0, 0.7, 1.0};
        double[] labels = new double[2 * 6 * 7 * 8];
        for (int n = 0; n < 2; n++) {
            for (int i = 0; i < 6 * 7 * 8; i++) {
                int x = i / 56, yy = (i / 8) % 7, z = i % 8;
                double d = Math.sqrt(Math.pow((x - 3) * s[0], 2) + Math.pow((yy - 3) * s[1], 2)
                        + Math.pow((z - 4 + n) * s[2], 2));
                labels[n * 336 + i] = d < 3 ? 1 : d < 4.5 && rnd.nextDouble() < 0.5 ? 2 : 0;
            }
        }
        INDArray y = Nd4j.create(labels, new long[]{g[0], g[1], g[2], g[3]}, DataType.FLOAT);
        double k = 2.1;
        float[] band = values(RegionMasks.boundaryBand(y, k, s));
        float[] dil = values(RegionMasks.dilatedForeground(y, k, s, 1));
        for (int n = 0; n < 2; n++) {
            for (int i = 0; i < 336; i++) {
                int li = (int) labels[n * 336 + i];
                boolean inBand = false;
                boolean inDil = false;
                for (int j = 0; j < 336; j++) {
                    int lj = (int) labels[n * 336 + j];
                    double d = dist(i, j, s);
                    if (d <= k) {
                        // band: some voxel within k on the other side of a structure's boundary
                        inBand |= li != lj && (li != 0 || lj != 0);
                        inDil |= lj == 1;
                    }
                }
                assertEquals(inBand ? 1f : 0f, band[n * 336 + i], "band n=" + n + " voxel " + i);
                assertEquals(inDil ? 1f : 0f, dil[n * 336 + i], "dilation n=" + n + " voxel " + i);
            }
        }
    }

    @Test
    void bandMaskRestrictsCalibrationMetrics() {
        // The band mask plugs into CalibrationMetrics as a regionMask: ECE over the band equals ECE computed on the
        // band voxels alone.
        Random rnd = new Random(9);
        INDArray y = row(0, 0, 1, 1, 1, 0, 0, 0);
        INDArray labels = y.reshape(1, 8);
        INDArray probs = CalibrationMetricsTest.randomProbs(rnd, 1, 2, 8).reshape(1, 2, 1, 8);
        INDArray band = RegionMasks.boundaryBand(y, 1, null);
        CalibrationResult masked = CalibrationMetricsTest.run(2, 5, probs, y, band);
        int[] keep = {1, 2, 4, 5};
        INDArray sub = Nd4j.create(DataType.FLOAT, 1, 2, keep.length);
        INDArray subY = Nd4j.create(DataType.INT, 1, keep.length);
        for (int j = 0; j < keep.length; j++) {
            sub.putScalar(new long[]{0, 0, j}, probs.getDouble(0, 0, 0, keep[j]));
            sub.putScalar(new long[]{0, 1, j}, probs.getDouble(0, 1, 0, keep[j]));
            subY.putScalar(new long[]{0, j}, labels.getInt(0, keep[j]));
        }
        CalibrationResult direct = CalibrationMetricsTest.run(2, 5, sub, subY, null);
        assertEquals(4, masked.voxelCount());
        assertEquals(direct.ece(1), masked.ece(1), 1e-12);
        assertEquals(direct.brier(), masked.brier(), 1e-12);
    }

    @Test
    void rejectsBadInput() {
        INDArray y = row(0, 1, 0);
        assertMessage(() -> RegionMasks.boundaryBand(y, -1, null), "k must be");
        assertMessage(() -> RegionMasks.boundaryBand(y, 1, new double[]{1, 1, 1}), "spacing");
        assertMessage(() -> RegionMasks.dilatedForeground(Nd4j.createFromArray(new float[][]{{0, 0.5f, 0}}), 1, null),
                "0.5");
        assertMessage(() -> RegionMasks.wholeVolume(null), "classMap");
    }

    private static float[] values(INDArray mask) {
        return mask.dup('c').data().asFloat();
    }

    private static double dist(int i, int j, double[] s) {
        int[] a = {i / 56, (i / 8) % 7, i % 8};
        int[] b = {j / 56, (j / 8) % 7, j % 8};
        double d2 = 0;
        for (int k = 0; k < 3; k++) {
            d2 += Math.pow((a[k] - b[k]) * s[k], 2);
        }
        return Math.sqrt(d2);
    }
}
