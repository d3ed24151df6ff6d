package org.gradsurgery.metrics;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class SurfaceDistanceTest {

    @Test
    void distanceTransformMatchesBruteForceWithAnisotropicSpacing() {
        Random rnd = new Random(1);
        for (int[] shape : new int[][]{{17}, {9, 13}, {7, 9, 11}, {3, 4, 5, 6}}) {
            double[] spacing = new double[shape.length];
            for (int a = 0; a < shape.length; a++) {
                spacing[a] = 0.4 + 2 * rnd.nextDouble();
            }
            int len = Arrays.stream(shape).reduce(1, (x, y) -> x * y);
            boolean[] features = new boolean[len];
            for (int i = 0; i < len; i++) {
                features[i] = rnd.nextDouble() < 0.04;
            }
            features[rnd.nextInt(len)] = true;
            double[] d = DistanceTransform.distance(features, shape, spacing);
            for (int i = 0; i < len; i++) {
                double best = Double.POSITIVE_INFINITY;
                for (int j = 0; j < len; j++) {
                    if (features[j]) {
                        best = Math.min(best, dist(i, j, shape, spacing));
                    }
                }
                assertEquals(best, d[i], 1e-9, "shape " + Arrays.toString(shape) + " voxel " + i);
            }
        }
        double[] none = DistanceTransform.distance(new boolean[6], new int[]{2, 3}, null);
        assertTrue(Arrays.stream(none).allMatch(x -> x == Double.POSITIVE_INFINITY));
    }

    @Test
    void handComputedOneRowCaseWithAnisotropicSpacing() {
        // One row of 10 voxels, spacing (1, 0.5): every mask voxel touches the image border, so all are surface.
        // G = columns 2..4, P = columns 5..8. d(P→G) = 0.5, 1, 1.5, 2; d(G→P) = 1.5, 1, 0.5.
        boolean[] g = new boolean[10];
        boolean[] p = new boolean[10];
        for (int i = 2; i <= 4; i++) {
            g[i] = true;
        }
        for (int i = 5; i <= 8; i++) {
            p[i] = true;
        }
        SurfaceDistance sd = SurfaceDistance.compute(p, g, new int[]{1, 10}, new double[]{1, 0.5});
        assertArrayEquals(new double[]{0.5, 1, 1.5, 2}, sd.predictionToReference(), 1e-12);
        assertArrayEquals(new double[]{0.5, 1, 1.5}, sd.referenceToPrediction(), 1e-12);
        // P95 (numpy linear): P→G rank 3·0.95 = 2.85 → 1.5 + 0.85·0.5 = 1.925; G→P rank 1.9 → 1 + 0.9·0.5 = 1.45
        assertEquals(1.925, sd.hd95(), 1e-12);
        assertEquals(2.0, sd.hausdorff(100), 1e-12);
        assertEquals(8.0 / 7, sd.assd(), 1e-12);
    }

    @Test
    void concentricCubesIsotropicHandCounted() {
        // G = [2,10]³ and P = [4,8]³ in a 13³ grid, spacing 1. Every P-shell voxel lies 2 from a G face: 98 × 2.
        // G-shell voxel offsets per axis from P: 0 (5 values), 1 (2), 2 (2), at least one 2:
        //   (2,0,0)×150 → 2, (2,1,0)×120 → √5, (2,1,1)×24 → √6, (2,2,0)×60 → √8, (2,2,1)×24 → 3, (2,2,2)×8 → √12.
        SurfaceDistance sd = cubes(13, 2, 10, 4, 8, new double[]{1, 1, 1});
        assertEquals(98, sd.predictionToReference().length);
        assertEquals(386, sd.referenceToPrediction().length);
        double sum = 98 * 2 + 150 * 2 + 120 * Math.sqrt(5) + 24 * Math.sqrt(6) + 60 * Math.sqrt(8) + 24 * 3
                + 8 * Math.sqrt(12);
        assertEquals(sum / (98 + 386), sd.assd(), 1e-9);
        // G→P ranks 365.75: indices 365, 366 fall in the "3" group (cumulative 354..377) → P95 = 3; P→G = 2.
        assertEquals(3.0, sd.hd95(), 1e-12);
        assertEquals(Math.sqrt(12), sd.hausdorff(100), 1e-12);
    }

    @Test
    void concentricCubesAnisotropicAgainstClosedForm() {
        // Spacing (2, 1, 0.5). From inside a box the nearest face is straight along one axis:
        // d(P→G)(x) = min_a s_a·min(x_a − 2, 10 − x_a). From outside the box [4,8]³ the nearest point is the
        // clamp: d(G→P)(x) = sqrt(Σ_a (s_a·max(0, 4 − x_a, x_a − 8))²).
        double[] s = {2, 1, 0.5};
        SurfaceDistance sd = cubes(13, 2, 10, 4, 8, s);
        List<Double> pg = new ArrayList<>();
        List<Double> gp = new ArrayList<>();
        for (int x = 0; x < 13; x++) {
            for (int y = 0; y < 13; y++) {
                for (int z = 0; z < 13; z++) {
                    int[] v = {x, y, z};
                    if (onShell(v, 4, 8)) {
                        double d = Double.POSITIVE_INFINITY;
                        for (int a = 0; a < 3; a++) {
                            d = Math.min(d, s[a] * Math.min(v[a] - 2, 10 - v[a]));
                        }
                        pg.add(d);
                    }
                    if (onShell(v, 2, 10)) {
                        double d2 = 0;
                        for (int a = 0; a < 3; a++) {
                            double off = s[a] * Math.max(0, Math.max(4 - v[a], v[a] - 8));
                            d2 += off * off;
                        }
                        gp.add(Math.sqrt(d2));
                    }
                }
            }
        }
        double[] epg = sorted(pg);
        double[] egp = sorted(gp);
        assertArrayEquals(epg, sd.predictionToReference(), 1e-9);
        assertArrayEquals(egp, sd.referenceToPrediction(), 1e-9);
        assertEquals(Math.max(numpyPercentile(epg, 95), numpyPercentile(egp, 95)), sd.hd95(), 1e-9);
        assertEquals((sum(epg) + sum(egp)) / (epg.length + egp.length), sd.assd(), 1e-9);
    }

    @Test
    void randomBlobsMatchBruteForce() {
        Random rnd = new Random(7);
        int[] shape = {6, 11, 9};
        double[] s = {3.0, 0.8, 1.1};
        for (int trial = 0; trial < 5; trial++) {
            boolean[] p = blob(rnd, shape);
            boolean[] g = blob(rnd, shape);
            SurfaceDistance sd = SurfaceDistance.compute(p, g, shape, s);
            boolean[] sp = bruteSurface(p, shape);
            boolean[] sg = bruteSurface(g, shape);
            assertArrayEquals(sp, SurfaceDistance.surface(p, shape));
            double[] pg = bruteDirected(sp, sg, shape, s);
            double[] gp = bruteDirected(sg, sp, shape, s);
            assertArrayEquals(pg, sd.predictionToReference(), 1e-9);
            assertArrayEquals(gp, sd.referenceToPrediction(), 1e-9);
            assertEquals(Math.max(numpyPercentile(pg, 95), numpyPercentile(gp, 95)), sd.hd95(), 1e-9);
            assertEquals((sum(pg) + sum(gp)) / (pg.length + gp.length), sd.assd(), 1e-9);
        }
    }

    @Test
    void concentricSpheresAreTheirRadialGapApart() {
        // Radii 12 and 8 voxels at spacing 0.5 mm: the surfaces are 2 mm apart, up to voxelisation (±1 voxel).
        int n = 32;
        boolean[] big = new boolean[n * n * n];
        boolean[] small = new boolean[n * n * n];
        double c = 15.5;
        for (int i = 0; i < big.length; i++) {
            int x = i / (n * n), y = (i / n) % n, z = i % n;
            double r = Math.sqrt((x - c) * (x - c) + (y - c) * (y - c) + (z - c) * (z - c));
            big[i] = r <= 12;
            small[i] = r <= 8;
        }
        SurfaceDistance sd = SurfaceDistance.compute(small, big, new int[]{n, n, n}, new double[]{0.5, 0.5, 0.5});
        assertEquals(2.0, sd.assd(), 0.5);
        assertEquals(2.0, sd.hd95(), 0.5);
    }

    @Test
    void emptyMasksFollowTheDocumentedConvention() {
        boolean[] empty = new boolean[16];
        boolean[] one = new boolean[16];
        one[5] = true;
        int[] shape = {4, 4};
        SurfaceDistance both = SurfaceDistance.compute(empty, empty, shape, null);
        assertEquals(0.0, both.hd95());
        assertEquals(0.0, both.assd());
        SurfaceDistance noPred = SurfaceDistance.compute(empty, one, shape, null);
        assertTrue(Double.isNaN(noPred.hd95()) && Double.isNaN(noPred.assd()));
        assertTrue(noPred.predictionEmpty());
        assertFalse(noPred.referenceEmpty());
        assertTrue(Double.isNaN(SurfaceDistance.compute(one, empty, shape, null).hd95()));
        assertThrows(IllegalArgumentException.class, () -> SurfaceDistance.compute(one, one, new int[]{3, 4}, null));
        assertThrows(IllegalArgumentException.class,
                () -> SurfaceDistance.compute(one, one, shape, new double[]{1, 0}));
    }

    // ---------------------------------------------------------------- references

    private static SurfaceDistance cubes(int n, int glo, int ghi, int plo, int phi, double[] s) {
        boolean[] g = new boolean[n * n * n];
        boolean[] p = new boolean[n * n * n];
        for (int x = 0; x < n; x++) {
            for (int y = 0; y < n; y++) {
                for (int z = 0; z < n; z++) {
                    int i = (x * n + y) * n + z;
                    g[i] = inBox(x, y, z, glo, ghi);
                    p[i] = inBox(x, y, z, plo, phi);
                }
            }
        }
        return SurfaceDistance.compute(p, g, new int[]{n, n, n}, s);
    }

    private static boolean inBox(int x, int y, int z, int lo, int hi) {
        return x >= lo && x <= hi && y >= lo && y <= hi && z >= lo && z <= hi;
    }

    private static boolean onShell(int[] v, int lo, int hi) {
        if (!inBox(v[0], v[1], v[2], lo, hi)) {
            return false;
        }
        return Arrays.stream(v).anyMatch(x -> x == lo || x == hi);
    }

    static double dist(int i, int j, int[] shape, double[] s) {
        int[] a = new int[shape.length];
        int[] b = new int[shape.length];
        SurfaceDistance.unravel(i, shape, a);
        SurfaceDistance.unravel(j, shape, b);
        double d2 = 0;
        for (int k = 0; k < shape.length; k++) {
            double d = (a[k] - b[k]) * s[k];
            d2 += d * d;
        }
        return Math.sqrt(d2);
    }

    /** A voxel is surface when it is in the mask and some face neighbour is outside the mask or the image. */
    static boolean[] bruteSurface(boolean[] m, int[] shape) {
        boolean[] out = new boolean[m.length];
        int[] v = new int[shape.length];
        for (int i = 0; i < m.length; i++) {
            if (!m[i]) {
                continue;
            }
            SurfaceDistance.unravel(i, shape, v);
            for (int a = 0; a < shape.length && !out[i]; a++) {
                for (int step : new int[]{-1, 1}) {
                    int[] w = v.clone();
                    w[a] += step;
                    if (w[a] < 0 || w[a] >= shape[a]) {
                        out[i] = true;
                    } else {
                        int j = 0;
                        for (int k = 0; k < shape.length; k++) {
                            j = j * shape[k] + w[k];
                        }
                        out[i] |= !m[j];
                    }
                }
            }
        }
        return out;
    }

    static double[] bruteDirected(boolean[] from, boolean[] to, int[] shape, double[] s) {
        List<Double> d = new ArrayList<>();
        for (int i = 0; i < from.length; i++) {
            if (from[i]) {
                double best = Double.POSITIVE_INFINITY;
                for (int j = 0; j < to.length; j++) {
                    if (to[j]) {
                        best = Math.min(best, dist(i, j, shape, s));
                    }
                }
                d.add(best);
            }
        }
        return sorted(d);
    }

    private static boolean[] blob(Random rnd, int[] shape) {
        int len = shape[0] * shape[1] * shape[2];
        boolean[] m = new boolean[len];
        double cx = rnd.nextDouble() * shape[0], cy = rnd.nextDouble() * shape[1], cz = rnd.nextDouble() * shape[2];
        double r = 2 + 3 * rnd.nextDouble();
        for (int i = 0; i < len; i++) {
            int x = i / (shape[1] * shape[2]), y = (i / shape[2]) % shape[1], z = i % shape[2];
            double d = Math.sqrt(Math.pow(x - cx, 2) + Math.pow(y - cy, 2) + Math.pow(z - cz, 2));
            m[i] = d <= r || rnd.nextDouble() < 0.03;
        }
        return m;
    }

    static double numpyPercentile(double[] sorted, double q) {
        double rank = q / 100 * (sorted.length - 1);
        int lo = (int) rank;
        if (lo + 1 >= sorted.length) {
            return sorted[sorted.length - 1];
        }
        return sorted[lo] * (1 - (rank - lo)) + sorted[lo + 1] * (rank - lo);
    }

    private static double[] sorted(List<Double> v) {
        return v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
    }

    private static double sum(double[] v) {
        return Arrays.stream(v).sum();
    }
}
