package org.gradsurgery.model;

import java.util.Random;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Seeded synthetic segmentation problem in 2D or 3D: each image holds a ball (disc/sphere, class 1) and a box
 * (square/cube, class 2) of random size and position on background (class 0), with intensity +1 in the ball, −1 in
 * the box, 0 outside, plus Gaussian noise. With noise σ = 0.5 a per-voxel threshold at ±0.5 mislabels about 16% of
 * the voxels, so a network needs spatial context (denoising) to segment well. Features are {@code [N, 1, spatial...]}, labels one-hot {@code [N, 3, spatial...]}
 * (channels first), FLOAT.
 */
public final class SyntheticShapes {

    /** Background, ball, box. */
    public static final int CLASSES = 3;

    private SyntheticShapes() {
    }

    /**
     * @param dims  2 or 3
     * @param n     examples
     * @param size  spatial size per axis (≥ 12)
     * @param noise standard deviation of the additive Gaussian noise
     */
    public static MultiDataSet generate(int dims, int n, int size, double noise, long seed) {
        if ((dims != 2 && dims != 3) || size < 12) {
            throw new IllegalArgumentException("SyntheticShapes: dims must be 2 or 3 and size >= 12, got dims=" + dims
                    + ", size=" + size);
        }
        Random r = new Random(seed);
        int voxels = (int) Math.pow(size, dims);
        float[] x = new float[n * voxels];
        float[] y = new float[n * CLASSES * voxels];
        int[] p = new int[dims];
        for (int e = 0; e < n; e++) {
            // the ball in one half of the first axis, the box in the other, so they never overlap
            boolean ballFirst = r.nextBoolean();
            int half = size / 2;
            double radius = 2.5 + r.nextDouble() * (half / 2.0 - 2.5);
            double[] centre = new double[dims];
            int boxHalf = 2 + r.nextInt(Math.max(1, half / 2 - 2));
            int[] boxCentre = new int[dims];
            for (int a = 0; a < dims; a++) {
                double lo = radius;
                double hi = (a == 0 ? half : size) - radius - 1;
                centre[a] = lo + r.nextDouble() * Math.max(0, hi - lo) + (a == 0 && !ballFirst ? half : 0);
                int blo = boxHalf;
                int bhi = (a == 0 ? half : size) - boxHalf - 1;
                boxCentre[a] = blo + r.nextInt(Math.max(1, bhi - blo + 1)) + (a == 0 && ballFirst ? half : 0);
            }
            for (int v = 0; v < voxels; v++) {
                int rem = v;
                for (int a = dims - 1; a >= 0; a--) {
                    p[a] = rem % size;
                    rem /= size;
                }
                double d2 = 0;
                boolean inBox = true;
                for (int a = 0; a < dims; a++) {
                    d2 += (p[a] - centre[a]) * (p[a] - centre[a]);
                    inBox &= Math.abs(p[a] - boxCentre[a]) <= boxHalf;
                }
                int c = d2 <= radius * radius ? 1 : inBox ? 2 : 0;
                x[e * voxels + v] = (float) ((c == 0 ? 0 : c == 1 ? 1 : -1) + noise * r.nextGaussian());
                y[(e * CLASSES + c) * voxels + v] = 1f;
            }
        }
        long[] spatial = dims == 2 ? new long[] {size, size} : new long[] {size, size, size};
        return new MultiDataSet(Nd4j.create(x, shape(n, 1, spatial), 'c'),
                Nd4j.create(y, shape(n, CLASSES, spatial), 'c'));
    }

    private static long[] shape(long n, long c, long[] spatial) {
        long[] s = new long[2 + spatial.length];
        s[0] = n;
        s[1] = c;
        System.arraycopy(spatial, 0, s, 2, spatial.length);
        return s;
    }

    /** FLOAT values uniform in [lo, hi), c order, seeded. */
    public static INDArray uniform(long[] shape, double lo, double hi, long seed) {
        Random r = new Random(seed);
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        float[] v = new float[Math.toIntExact(n)];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) (lo + (hi - lo) * r.nextDouble());
        }
        return Nd4j.create(v, shape, 'c');
    }

    /** The examples {@code [from, to)} of a data set (views). */
    public static MultiDataSet slice(MultiDataSet d, int from, int to) {
        return new MultiDataSet(rows(d.getFeatures(0), from, to), rows(d.getLabels(0), from, to));
    }

    private static INDArray rows(INDArray a, int from, int to) {
        return a.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(from, to)).castTo(DataType.FLOAT);
    }
}
