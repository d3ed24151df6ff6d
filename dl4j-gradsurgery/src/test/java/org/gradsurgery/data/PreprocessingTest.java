package org.gradsurgery.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class PreprocessingTest {
    static final SplittableRandom RNG = new SplittableRandom(1);

    /** A 3D sample with image value f(i,j,k) = 100 i + 10 j + k, label = (i + j + k) % 3, and a general affine. */
    static Sample ramp3d(int ni, int nj, int nk) {
        float[] img = new float[ni * nj * nk];
        int[] lab = new int[img.length];
        int p = 0;
        for (int i = 0; i < ni; i++) {
            for (int j = 0; j < nj; j++) {
                for (int k = 0; k < nk; k++) {
                    img[p] = 100 * i + 10 * j + k;
                    lab[p++] = (i + j + k) % 3;
                }
            }
        }
        double[][] aff = {{0, 0, -3, 10}, {2, 0, 0, -20}, {0, 1.5, 0, 5}, {0, 0, 0, 1}};
        return Sample.of("ramp", img, 1, new int[]{ni, nj, nk}, lab, null, new double[]{2, 1.5, 3}, aff);
    }

    static double[] world(double[][] a, double... ijk) {
        double[] w = new double[3];
        for (int r = 0; r < 3; r++) {
            w[r] = a[r][3];
            for (int c = 0; c < ijk.length; c++) {
                w[r] += a[r][c] * ijk[c];
            }
        }
        return w;
    }

    @Test
    void zScoreOverAllVoxels() {
        Sample s = Sample.of("a", new float[]{1, 2, 3, 4}, 1, new int[]{2, 2}, null, null, new double[]{1, 1}, null);
        float[] out = Preprocessing.zScore(Preprocessing.NormalizationRegion.ALL).apply(s, RNG).imageData();
        double sd = Math.sqrt(1.25); // population sd of 1..4 around 2.5
        assertArrayEquals(new float[]{(float) (-1.5 / sd), (float) (-0.5 / sd), (float) (0.5 / sd), (float) (1.5 / sd)},
                out, 1e-6f);
    }

    @Test
    void zScoreOverNonzeroVoxelsLeavesTheRestAtZero() {
        Sample s = Sample.of("a", new float[]{0, 2, 4, 0, 6, 0}, 1, new int[]{2, 3}, null, null, new double[]{1, 1}, null);
        float[] out = Preprocessing.zScore(Preprocessing.NormalizationRegion.NONZERO).apply(s, RNG).imageData();
        double sd = Math.sqrt(8.0 / 3.0); // {2,4,6}: mean 4, squared deviations 4+0+4
        assertArrayEquals(new float[]{0, (float) (-2 / sd), 0, 0, (float) (2 / sd), 0}, out, 1e-6f);
    }

    @Test
    void zScoreWithinAMaskPerChannel() {
        float[] img = {10, 20, 30, 99, /* channel 2 */ 1, 1, 3, -50};
        boolean[] mask = {true, true, true, false};
        Sample s = Sample.of("a", img, 2, new int[]{2, 2}, null, mask, new double[]{1, 1}, null);
        float[] out = Preprocessing.zScore(Preprocessing.NormalizationRegion.MASK).apply(s, RNG).imageData();
        double sd1 = Math.sqrt(200.0 / 3.0); // 10,20,30 around 20
        double sd2 = Math.sqrt((4.0 / 9 * 2 + 16.0 / 9) / 3.0); // 1,1,3 around 5/3
        assertArrayEquals(new float[]{(float) (-10 / sd1), 0, (float) (10 / sd1), 0,
                (float) ((1 - 5.0 / 3) / sd2), (float) ((1 - 5.0 / 3) / sd2), (float) ((3 - 5.0 / 3) / sd2), 0}, out, 1e-5f);
        Sample noMask = Sample.of("b", img, 2, new int[]{2, 2}, null, null, new double[]{1, 1}, null);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Preprocessing.zScore(Preprocessing.NormalizationRegion.MASK).apply(noMask, RNG));
        assertTrue(e.getMessage().contains("no mask"), e.getMessage());
    }

    @Test
    void percentileMatchesNumpyLinearInterpolation() {
        // numpy.percentile([1, 2, 3, 4], [0, 25, 50, 90, 100]) = [1, 1.75, 2.5, 3.7, 4]
        float[] sorted = {1, 2, 3, 4};
        assertEquals(1.0, Preprocessing.percentile(sorted, 0), 1e-12);
        assertEquals(1.75, Preprocessing.percentile(sorted, 25), 1e-12);
        assertEquals(2.5, Preprocessing.percentile(sorted, 50), 1e-12);
        assertEquals(3.7, Preprocessing.percentile(sorted, 90), 1e-6);
        assertEquals(4.0, Preprocessing.percentile(sorted, 100), 1e-12);
    }

    @Test
    void percentileClipClipsAndRescales() {
        float[] img = new float[101];
        for (int i = 0; i <= 100; i++) {
            img[i] = i; // percentile p of 0..100 is p
        }
        Sample s = Sample.of("a", img, 1, new int[]{1, 101}, null, null, new double[]{1, 1}, null);
        float[] out = Preprocessing.percentileClip(10, 90, -1, 1).apply(s, RNG).imageData();
        for (int i = 0; i <= 100; i++) {
            double clipped = Math.min(Math.max(i, 10), 90);
            assertEquals(-1 + (clipped - 10) * 2 / 80.0, out[i], 1e-6, "value " + i);
        }
        assertThrows(IllegalArgumentException.class, () -> Preprocessing.percentileClip(50, 10, 0, 1));
    }

    @Test
    void padToMultipleCentresAndKeepsWorldPositions() {
        Sample s = ramp3d(5, 3, 4);
        Sample p = Preprocessing.padToMultiple(4).apply(s, RNG);
        assertArrayEquals(new int[]{8, 4, 4}, p.shape());
        // offsets floor((5-8)/2) = -2, floor((3-4)/2) = -1, 0: input (i,j,k) sits at output (i+2, j+1, k)
        float[] img = p.imageData();
        int[] lab = p.labelData();
        for (int i = 0; i < 8; i++) {
            for (int j = 0; j < 4; j++) {
                for (int k = 0; k < 4; k++) {
                    int si = i - 2;
                    int sj = j - 1;
                    boolean inside = si >= 0 && si < 5 && sj >= 0 && sj < 3;
                    int flat = (i * 4 + j) * 4 + k;
                    assertEquals(inside ? 100 * si + 10 * sj + k : 0f, img[flat], 0f);
                    assertEquals(inside ? (si + sj + k) % 3 : 0, lab[flat]);
                    if (inside) {
                        assertArrayEquals(world(s.affine(), si, sj, k), world(p.affine(), i, j, k), 1e-9);
                    }
                }
            }
        }
        assertArrayEquals(s.spacing(), p.spacing(), 0);
    }

    @Test
    void cropToMultipleAndLevels() {
        Sample s = ramp3d(9, 6, 4);
        Sample c = Preprocessing.cropToMultiple(4).apply(s, RNG);
        assertArrayEquals(new int[]{8, 4, 4}, c.shape());
        // offsets floor((9-8)/2) = 0, floor((6-4)/2) = 1
        assertEquals(100 * 0 + 10 * 1 + 0, c.imageData()[0], 0f);
        Sample l = Preprocessing.divisibleForLevels(3).apply(s, RNG); // multiple of 4
        assertArrayEquals(new int[]{12, 8, 4}, l.shape());
        Sample tiny = ramp3d(3, 6, 4);
        assertThrows(IllegalArgumentException.class, () -> Preprocessing.cropToMultiple(4).apply(tiny, RNG));
        assertArrayEquals(new int[]{2, 7, 4}, Preprocessing.cropOrPad(2, 7, 4).apply(s, RNG).shape());
    }

    @Test
    void divisibleForSlicesPadsInPlaneOnlyByEdgeReplication() {
        Sample s = ramp3d(5, 3, 10); // 10 slices along axis 2
        Sample p = Preprocessing.divisibleForSlices(3, 2).apply(s, RNG); // multiple of 4
        assertArrayEquals(new int[]{8, 4, 10}, p.shape(), "the slice axis keeps its 10 slices");
        float[] img = p.imageData();
        int[] lab = p.labelData();
        // offsets -2 and -1: output (i, j, k) reads input (clamp(i-2), clamp(j-1), k)
        for (int i = 0; i < 8; i++) {
            for (int j = 0; j < 4; j++) {
                for (int k = 0; k < 10; k++) {
                    int si = Math.min(Math.max(i - 2, 0), 4);
                    int sj = Math.min(Math.max(j - 1, 0), 2);
                    int flat = (i * 4 + j) * 10 + k;
                    assertEquals(100 * si + 10 * sj + k, img[flat], 0f);
                    assertEquals((si + sj + k) % 3, lab[flat]);
                }
            }
        }
        assertArrayEquals(world(s.affine(), 0, 0, 3), world(p.affine(), 2, 1, 3), 1e-9);
        assertArrayEquals(new int[]{5, 4, 12}, Preprocessing.divisibleForSlices(3, 0).apply(s, RNG).shape());
        assertThrows(IllegalArgumentException.class, () -> Preprocessing.divisibleForSlices(0, 2));
        assertThrows(IllegalArgumentException.class, () -> Preprocessing.divisibleForSlices(3, 3));
    }

    @Test
    void resampleIsExactOnLinearFunctionsAndNearestOnLabels() {
        int ni = 6;
        int nj = 5;
        float[] img = new float[ni * nj];
        int[] lab = new int[ni * nj];
        for (int i = 0; i < ni; i++) {
            for (int j = 0; j < nj; j++) {
                img[i * nj + j] = 2 * i + 3 * j + 1;
                lab[i * nj + j] = i * 10 + j;
            }
        }
        double[][] aff = {{2, 0, 0, 5}, {0, 1, 0, -7}, {0, 0, 4, 1}, {0, 0, 0, 1}};
        Sample s = Sample.of("lin", img, 1, new int[]{ni, nj}, lab, null, new double[]{2, 1}, aff);
        Sample r = Preprocessing.resample(1.0, 2.5).apply(s, RNG);
        // n' = round(6·2/1) = 12, round(5·1/2.5) = 2; output o is at input x = o·s'/s
        assertArrayEquals(new int[]{12, 2}, r.shape());
        assertArrayEquals(new double[]{1.0, 2.5}, r.spacing(), 0);
        float[] out = r.imageData();
        int[] ol = r.labelData();
        for (int o = 0; o < 12; o++) {
            for (int q = 0; q < 2; q++) {
                double x = Math.min(o * 0.5, ni - 1);
                double y = Math.min(q * 2.5, nj - 1);
                assertEquals(2 * x + 3 * y + 1, out[o * 2 + q], 1e-5, "linear at " + o + "," + q);
                int ni0 = (int) Math.floor(x + 0.5);
                int nj0 = (int) Math.floor(y + 0.5);
                assertEquals(Math.min(ni0, ni - 1) * 10 + Math.min(nj0, nj - 1), ol[o * 2 + q], "nearest at " + o + "," + q);
                // world position of output voxel (o,q) equals that of input coordinate (x', y') unclamped
                assertArrayEquals(world(aff, o * 0.5, q * 2.5), world(r.affine(), o, q), 1e-9);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> Preprocessing.resample(1, 1, 1).apply(s, RNG));
    }

    @Test
    void resampleToGridTakesAResampledSampleBackOntoItsSourceGrid() {
        // 7 x 5 at spacing (1, 1) -> (2, 1.5): round(3.5) = 4 x round(3.33) = 3, then back to exactly 7 x 5
        int ni = 7;
        int nj = 5;
        float[] img = new float[ni * nj];
        for (int i = 0; i < ni; i++) {
            for (int j = 0; j < nj; j++) {
                img[i * nj + j] = 2 * i - j;
            }
        }
        Sample s = Sample.of("lin", img, 1, new int[]{ni, nj}, null, null, new double[]{1, 1}, null);
        Sample coarse = Resample.toSpacing(s, new double[]{2, 1.5});
        assertArrayEquals(new int[]{4, 3}, coarse.shape());
        Sample back = Resample.toGrid(coarse, new double[]{1, 1}, new int[]{ni, nj});
        assertArrayEquals(new int[]{ni, nj}, back.shape());
        assertArrayEquals(s.affine()[0], back.affine()[0], 1e-12);
        float[] out = back.imageData();
        for (int i = 0; i < ni; i++) {
            for (int j = 0; j < nj; j++) {
                // exact where the coarse grid covers the point (i <= 6, j <= 3); the edge clamps beyond it
                double x = Math.min(i, 6);
                double y = Math.min(j, 3);
                assertEquals(2 * x - y, out[i * nj + j], 1e-5, "at " + i + "," + j);
            }
        }
        assertThrows(IllegalArgumentException.class, () -> Resample.toGrid(coarse, new double[]{1, 1},
                new int[]{ni, 0}));
    }

    @Test
    void resampleLabelsNeverBlendClasses() {
        Sample s = ramp3d(4, 5, 6);
        Sample r = Preprocessing.resample(0.7, 2.2, 1.1).apply(s, RNG);
        for (int v : r.labelData()) {
            assertTrue(v >= 0 && v <= 2, "label " + v);
        }
    }

    @Test
    void slicesAlongEachAxisKeepValuesAndGeometry() {
        Sample s = ramp3d(3, 4, 5);
        for (int axis = 0; axis < 3; axis++) {
            List<Sample> sl = Preprocessing.slices(s, axis);
            assertEquals(s.shape()[axis], sl.size());
            for (int z = 0; z < sl.size(); z++) {
                Sample t = sl.get(z);
                int a = axis == 0 ? 1 : 0;
                int b = axis == 2 ? 1 : 2;
                assertArrayEquals(new int[]{s.shape()[a], s.shape()[b]}, t.shape());
                assertArrayEquals(new double[]{s.spacing()[a], s.spacing()[b]}, t.spacing(), 0);
                assertEquals("ramp#" + axis + ":" + z, t.id());
                for (int p = 0; p < t.shape()[0]; p++) {
                    for (int q = 0; q < t.shape()[1]; q++) {
                        int[] ijk = new int[3];
                        ijk[axis] = z;
                        ijk[a] = p;
                        ijk[b] = q;
                        assertEquals(100 * ijk[0] + 10 * ijk[1] + ijk[2], t.imageData()[p * t.shape()[1] + q], 0f);
                        assertEquals((ijk[0] + ijk[1] + ijk[2]) % 3, t.labelData()[p * t.shape()[1] + q]);
                        assertArrayEquals(world(s.affine(), ijk[0], ijk[1], ijk[2]), world(t.affine(), p, q, 0), 1e-9);
                    }
                }
            }
        }
        assertEquals(2, Preprocessing.slices(s, 2, 1, 3).size());
        assertThrows(IllegalArgumentException.class, () -> Preprocessing.slices(s, 3));
        assertThrows(IllegalArgumentException.class, () -> Preprocessing.slices(s, 0, 2, 5));
    }

    @Test
    void composeRunsStepsInOrder() {
        Sample s = Sample.of("a", new float[]{1, 2, 3, 4}, 1, new int[]{2, 2}, null, null, new double[]{1, 1}, null);
        Transform clipThenPad = Transform.compose(Preprocessing.percentileClip(0, 100, 0, 1), Preprocessing.padToMultiple(4));
        Sample out = clipThenPad.apply(s, RNG);
        assertArrayEquals(new int[]{4, 4}, out.shape());
        // pad offset -1 on both axes: (0,0) of the input is (1,1) of the output, rescaled 1 -> 0, 4 -> 1
        assertEquals(0f, out.imageData()[5], 1e-7f);
        assertEquals(1f, out.imageData()[10], 1e-7f);
        assertEquals(1f / 3f, out.imageData()[6], 1e-7f);
    }

    @Test
    void sampleFromNd4jArraysKeepsCOrderAndRejectsBadLabels() {
        org.nd4j.linalg.api.ndarray.INDArray img = org.nd4j.linalg.factory.Nd4j.arange(12).reshape('c', 2, 2, 3)
                .castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT).dup('f');
        org.nd4j.linalg.api.ndarray.INDArray lab = org.nd4j.linalg.factory.Nd4j.createFromArray(new int[][]{{0, 1, 2}, {2, 1, 0}});
        Sample s = Sample.of("nd", img, lab, null, null);
        assertEquals(2, s.channels());
        assertArrayEquals(new int[]{2, 3}, s.shape());
        assertArrayEquals(new float[]{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, s.imageData());
        assertArrayEquals(new int[]{0, 1, 2, 2, 1, 0}, s.labelData());
        assertEquals(img, s.image());
        assertThrows(IllegalArgumentException.class, () -> Sample.of("bad", img,
                org.nd4j.linalg.factory.Nd4j.createFromArray(new float[][]{{0, 1.5f, 2}, {2, 1, 0}}), null, null));
        assertThrows(IllegalArgumentException.class, () -> Sample.of("bad", img,
                org.nd4j.linalg.factory.Nd4j.createFromArray(new int[]{0, 1, 2}), null, null));
    }
}
