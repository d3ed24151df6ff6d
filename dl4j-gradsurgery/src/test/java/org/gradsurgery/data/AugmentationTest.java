package org.gradsurgery.data;

import static org.gradsurgery.data.PreprocessingTest.ramp3d;
import static org.gradsurgery.data.PreprocessingTest.world;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class AugmentationTest {

    /** Image value = distinct code per voxel, label = the same code mod 7, so alignment is checkable voxel-wise. */
    static Sample coded(int... shape) {
        int n = Grid.product(shape);
        float[] img = new float[n];
        int[] lab = new int[n];
        boolean[] mask = new boolean[n];
        for (int i = 0; i < n; i++) {
            img[i] = i + 1;
            lab[i] = (i + 1) % 7;
            mask[i] = (i + 1) % 3 == 0;
        }
        double[] sp = shape.length == 2 ? new double[]{0.5, 2} : new double[]{0.5, 2, 3};
        double[][] aff = {{0, 0.5, 0, 3}, {2, 0, 0, -1}, {0, 0, 3, 7}, {0, 0, 0, 1}};
        if (shape.length == 2) {
            aff = new double[][]{{0, 2, 0, 3}, {0.5, 0, 0, -1}, {0, 0, 1, 7}, {0, 0, 0, 1}};
        }
        return Sample.of("coded", img, 1, shape, lab, mask, sp, aff);
    }

    /** Every voxel's label and mask still match its image code, and the code keeps its world position. */
    static void assertAlignedAndGeometryKept(Sample before, Sample after) {
        Map<Integer, double[]> worldOfCode = new HashMap<>();
        int[] sb = before.shape();
        int[] stb = Grid.strides(sb);
        for (int f = 0; f < before.voxels(); f++) {
            worldOfCode.put((int) before.imageData()[f], world(before.affine(), index(f, stb, sb)));
        }
        int[] sa = after.shape();
        int[] sta = Grid.strides(sa);
        float[] img = after.imageData();
        int[] lab = after.labelData();
        boolean[] msk = after.maskData();
        Set<Integer> seen = new HashSet<>();
        for (int f = 0; f < after.voxels(); f++) {
            int code = (int) img[f];
            assertTrue(seen.add(code), "voxel code " + code + " appears twice");
            assertEquals(code % 7, lab[f], "label misaligned at flat index " + f);
            assertEquals(code % 3 == 0, msk[f], "mask misaligned at flat index " + f);
            assertArrayEquals(worldOfCode.get(code), world(after.affine(), index(f, sta, sa)), 1e-9,
                    "world position of code " + code);
        }
        assertEquals(before.voxels(), seen.size());
    }

    static double[] index(int flat, int[] strides, int[] shape) {
        double[] ijk = new double[shape.length];
        for (int d = 0; d < shape.length; d++) {
            ijk[d] = flat / strides[d] % shape[d];
        }
        return ijk;
    }

    @Test
    void flipMatchesAReferenceLoop() {
        Sample s = coded(3, 4, 5);
        Sample f = Augmentation.flip(s, 1);
        float[] in = s.imageData();
        float[] out = f.imageData();
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 4; j++) {
                for (int k = 0; k < 5; k++) {
                    assertEquals(in[(i * 4 + (3 - j)) * 5 + k], out[(i * 4 + j) * 5 + k], 0f);
                }
            }
        }
        assertAlignedAndGeometryKept(s, f);
    }

    @Test
    void rotate90MatchesNumpyRot90() {
        // numpy.rot90([[1, 2, 3], [4, 5, 6]]) == [[3, 6], [2, 5], [1, 4]]
        Sample s = Sample.of("r", new float[]{1, 2, 3, 4, 5, 6}, 1, new int[]{2, 3}, null, null, new double[]{1, 2}, null);
        Sample r = Augmentation.rotate90(s, 1, 0, 1);
        assertArrayEquals(new int[]{3, 2}, r.shape());
        assertArrayEquals(new float[]{3, 6, 2, 5, 1, 4}, r.imageData());
        assertArrayEquals(new double[]{2, 1}, r.spacing(), 0);
        // k = 2: numpy.rot90(a, 2) == [[6, 5, 4], [3, 2, 1]]; k = 4 is the identity
        assertArrayEquals(new float[]{6, 5, 4, 3, 2, 1}, Augmentation.rotate90(s, 2, 0, 1).imageData());
        assertArrayEquals(s.imageData(), Augmentation.rotate90(s, 4, 0, 1).imageData());
        // k = -1 (clockwise) == k = 3: numpy.rot90(a, -1) == [[4, 1], [5, 2], [6, 3]]
        assertArrayEquals(new float[]{4, 1, 5, 2, 6, 3}, Augmentation.rotate90(s, -1, 0, 1).imageData());
    }

    @Test
    void geometricAugmentationKeepsImageLabelAndMaskAligned() {
        Sample s3 = coded(4, 3, 5);
        Transform t3 = Transform.compose(Augmentation.randomFlip(0.5), Augmentation.randomRotate90(1.0, 0, 2),
                Augmentation.randomRotate90(0.5, 1, 2));
        Sample s2 = coded(6, 4);
        Transform t2 = Augmentation.randomFlip(0.7).then(Augmentation.randomRotate90(0.8, 0, 1));
        for (long seed = 0; seed < 20; seed++) {
            assertAlignedAndGeometryKept(s3, t3.apply(s3, new SplittableRandom(seed)));
            assertAlignedAndGeometryKept(s2, t2.apply(s2, new SplittableRandom(seed)));
        }
    }

    @Test
    void augmentationIsReproducibleBySeedAndVariesAcrossSeeds() {
        Sample s = coded(4, 4, 4);
        Transform t = Transform.compose(Augmentation.randomFlip(0.5), Augmentation.randomRotate90(0.5, 0, 1),
                Augmentation.randomScaleShift(0.5, 0.8, 1.2, -0.1, 0.1), Augmentation.randomGamma(0.5, 0.7, 1.5));
        Set<String> distinct = new HashSet<>();
        for (long seed = 0; seed < 16; seed++) {
            Sample a = t.apply(s, new SplittableRandom(seed));
            Sample b = t.apply(s, new SplittableRandom(seed));
            assertArrayEquals(a.imageData(), b.imageData());
            assertArrayEquals(a.labelData(), b.labelData());
            distinct.add(java.util.Arrays.toString(a.imageData()));
        }
        assertTrue(distinct.size() > 8, "16 seeds gave only " + distinct.size() + " distinct results");
        // The input is never modified.
        assertArrayEquals(coded(4, 4, 4).imageData(), s.imageData());
    }

    @Test
    void flipProbabilityIsRespected() {
        Sample s = coded(2, 3);
        assertSame(s, Augmentation.randomFlip(0.0).apply(s, new SplittableRandom(3)));
        int flipped = 0;
        for (long seed = 0; seed < 400; seed++) {
            Sample f = Augmentation.randomFlip(0.25, 0).apply(s, new SplittableRandom(seed));
            flipped += f == s ? 0 : 1;
        }
        // Binomial(400, 0.25): mean 100, sd 8.7
        assertTrue(flipped > 65 && flipped < 135, "flipped " + flipped + " of 400");
        assertThrows(IllegalArgumentException.class, () -> Augmentation.randomFlip(1.5));
        assertThrows(IllegalArgumentException.class, () -> Augmentation.randomFlip(1.0, 3).apply(s, new SplittableRandom(1)));
    }

    @Test
    void scaleShiftIsAnAffineMapWithinTheRanges() {
        Sample s = coded(3, 5);
        for (long seed = 0; seed < 10; seed++) {
            Sample o = Augmentation.randomScaleShift(1.0, 0.5, 2.0, -3, 3).apply(s, new SplittableRandom(seed));
            float[] x = s.imageData();
            float[] y = o.imageData();
            double a = (y[1] - y[0]) / (x[1] - x[0]);
            double b = y[0] - a * x[0];
            assertTrue(a >= 0.5 && a <= 2.0, "scale " + a);
            assertTrue(b >= -3 - 1e-4 && b <= 3 + 1e-4, "shift " + b);
            for (int i = 0; i < x.length; i++) {
                assertEquals(a * x[i] + b, y[i], 1e-4);
            }
            assertArrayEquals(s.labelData(), o.labelData());
        }
    }

    @Test
    void gammaKeepsTheRangeAndFollowsThePowerLaw() {
        float[] img = {2, 3, 4, 6, 10};
        Sample s = Sample.of("g", img, 1, new int[]{1, 5}, null, null, new double[]{1, 1}, null);
        Sample g = Augmentation.gamma(s, 2.0);
        // m = 2, M = 10: x' = 2 + 8 ((x - 2)/8)^2
        assertArrayEquals(new float[]{2, 2.125f, 2.5f, 4, 10}, g.imageData(), 1e-6f);
        for (long seed = 0; seed < 10; seed++) {
            Sample r = Augmentation.randomGamma(1.0, 0.7, 1.5).apply(s, new SplittableRandom(seed));
            float[] y = r.imageData();
            assertEquals(2f, y[0], 1e-6f);
            assertEquals(10f, y[4], 1e-6f);
            // Recover gamma from one voxel and check it in range and consistent with another voxel.
            double gamma = Math.log((y[2] - 2) / 8.0) / Math.log(0.25);
            assertTrue(gamma >= 0.7 - 1e-6 && gamma <= 1.5 + 1e-6, "gamma " + gamma);
            assertEquals(2 + 8 * Math.pow(0.5, gamma), y[3], 1e-5);
        }
    }

    @Test
    void patchSamplerOversamplesForegroundAndKeepsGeometry() {
        // 20 x 20 x 20 volume with one small foreground cube far from the centre.
        int n = 20;
        float[] img = new float[n * n * n];
        int[] lab = new int[img.length];
        for (int i = 0; i < img.length; i++) {
            img[i] = i;
        }
        for (int i = 15; i < 18; i++) {
            for (int j = 1; j < 3; j++) {
                for (int k = 16; k < 19; k++) {
                    lab[(i * n + j) * n + k] = i == 15 ? 2 : 1;
                }
            }
        }
        Sample s = Sample.of("vol", img, 1, new int[]{n, n, n}, lab, null, new double[]{1, 1, 1}, null);
        PatchSampler ps = PatchSampler.of(1.0 / 3.0, 6, 6, 6);
        assertEquals(2, ps.forcedForeground(6));
        assertFalse(ps.isForeground(3, 6));
        assertTrue(ps.isForeground(4, 6));
        int uniformWithForeground = 0;
        for (long seed = 0; seed < 30; seed++) {
            List<Sample> patches = ps.sample(s, 6, new SplittableRandom(seed));
            for (int p = 0; p < 6; p++) {
                Sample q = patches.get(p);
                assertArrayEquals(new int[]{6, 6, 6}, q.shape());
                // the patch's (0,0,0) value tells where it was cut; every voxel must match the source there
                int origin = (int) q.imageData()[0];
                int oi = origin / (n * n);
                int oj = origin / n % n;
                int ok = origin % n;
                assertEquals("vol@" + oi + "," + oj + "," + ok, q.id());
                boolean fg = false;
                for (int f = 0; f < 216; f++) {
                    int src = ((oi + f / 36) * n + (oj + f / 6 % 6)) * n + ok + f % 6;
                    assertEquals(src, q.imageData()[f], 0f);
                    assertEquals(lab[src], q.labelData()[f]);
                    fg |= q.labelData()[f] > 0;
                }
                assertArrayEquals(new double[]{oi, oj, ok}, world(q.affine(), 0, 0, 0), 1e-12);
                if (p >= 4) {
                    assertTrue(fg, "forced foreground patch " + p + " (seed " + seed + ") has no foreground");
                } else if (fg) {
                    uniformWithForeground++;
                }
            }
        }
        // The cube (3x2x3 voxels) is hit by a uniform 6^3 patch with probability (4·3·4)/15³ ≈ 1.4%.
        assertTrue(uniformWithForeground < 12, "uniform patches hit the foreground " + uniformWithForeground + "/120 times");
        // Same seed, same patches.
        assertEquals(ps.sample(s, 6, new SplittableRandom(5)).get(5).id(), ps.sample(s, 6, new SplittableRandom(5)).get(5).id());
    }

    @Test
    void patchLargerThanTheVolumeIsCentredAndPadded() {
        Sample s = ramp3d(4, 3, 2);
        Sample p = PatchSampler.of(0, 6, 3, 4).sample(s, new SplittableRandom(1), false);
        assertArrayEquals(new int[]{6, 3, 4}, p.shape());
        // axis 0: offset floor((4-6)/2) = -1; axis 2: floor((2-4)/2) = -1
        assertEquals(0f, p.imageData()[0], 0f);
        assertEquals(100 * 0 + 10 * 0 + 0, p.imageData()[(1 * 3 + 0) * 4 + 1], 0f);
        assertEquals(100 * 3 + 10 * 2 + 1, p.imageData()[(4 * 3 + 2) * 4 + 2], 0f);
        assertNotEquals(0f, p.imageData()[(4 * 3 + 2) * 4 + 2]);
    }
}
