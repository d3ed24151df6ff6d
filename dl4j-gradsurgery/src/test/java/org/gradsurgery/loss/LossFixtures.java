package org.gradsurgery.loss;

import java.util.Random;
import java.util.function.ToDoubleFunction;
import org.gradsurgery.layers.impl.SpatialLayout;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Tiny DOUBLE test tensors in the shapes the losses see, and central finite differences.
 *
 * <p>The tensors are built to hit the edge cases of the region losses: class {@code C−1} is absent from example 0,
 * and the mask (when used) hides example {@code N−1} completely.
 */
final class LossFixtures {

    static final double EPS = 1e-6;

    private LossFixtures() {
    }

    /** {@code [N, C, H, W]} (dims 2) or {@code [N, C, D, H, W]} (dims 3) with 2 examples, 3 classes, 4 voxels. */
    static long[] shape(int dims) {
        return dims == 2 ? new long[]{2, 3, 2, 2} : new long[]{2, 3, 2, 1, 2};
    }

    static long voxels(long[] shape) {
        long v = 1;
        for (int a = 2; a < shape.length; a++) {
            v *= shape[a];
        }
        return v;
    }

    /** Logits in about [−2, 2]. */
    static INDArray logits(long[] shape, long seed) {
        Random r = new Random(seed);
        INDArray z = Nd4j.create(DataType.DOUBLE, shape);
        for (long i = 0; i < z.length(); i++) {
            z.putScalar(i, 4 * r.nextDouble() - 2);
        }
        return z;
    }

    /**
     * Labels: one-hot over axis 1 for softmax, independent 0/1 per class for sigmoid; class C−1 absent from example 0
     * in both cases (for softmax its voxels go to class 0).
     */
    static INDArray labels(long[] shape, boolean oneHot, long seed) {
        Random r = new Random(seed);
        int n = (int) shape[0];
        int c = (int) shape[1];
        long v = voxels(shape);
        double[][][] y = new double[n][c][(int) v];
        for (int e = 0; e < n; e++) {
            for (int i = 0; i < v; i++) {
                if (oneHot) {
                    int k = r.nextInt(c);
                    if (e == 0 && k == c - 1) {
                        k = 0;
                    }
                    y[e][k][i] = 1;
                } else {
                    for (int k = 0; k < c; k++) {
                        y[e][k][i] = (e == 0 && k == c - 1) ? 0 : r.nextInt(2);
                    }
                }
            }
        }
        return Nd4j.createFromArray(y).reshape('c', shape);
    }

    /** A 0/1 mask {@code [N, 1, spatial...]} (perClass false) or {@code [N, C, spatial...]}; example N−1 all zero. */
    static INDArray mask(long[] shape, boolean perClass, long seed) {
        long[] ms = shape.clone();
        if (!perClass) {
            ms[1] = 1;
        }
        Random r = new Random(seed);
        INDArray m = Nd4j.create(DataType.DOUBLE, ms);
        long perExample = m.length() / shape[0];
        for (long i = 0; i < m.length(); i++) {
            boolean lastExample = i / perExample == shape[0] - 1;
            // at least the first voxel of every other example is kept
            m.putScalar(i, lastExample ? 0 : (i % perExample == 0 || r.nextDouble() < 0.7 ? 1 : 0));
        }
        return m;
    }

    /** Central differences of {@code f} with respect to every element of {@code x} (x is restored afterwards). */
    static INDArray numericGradient(INDArray x, ToDoubleFunction<INDArray> f) {
        INDArray g = Nd4j.create(DataType.DOUBLE, x.shape());
        for (long i = 0; i < x.length(); i++) {
            double orig = x.getDouble(i);
            x.putScalar(i, orig + EPS);
            double plus = f.applyAsDouble(x);
            x.putScalar(i, orig - EPS);
            double minus = f.applyAsDouble(x);
            x.putScalar(i, orig);
            g.putScalar(i, (plus - minus) / (2 * EPS));
        }
        return g;
    }

    /** Largest element-wise |a − b| / max(1, |a|, |b|). */
    static double maxRelativeError(INDArray a, INDArray b) {
        double worst = 0;
        for (long i = 0; i < a.length(); i++) {
            double x = a.getDouble(i);
            double y = b.getDouble(i);
            worst = Math.max(worst, Math.abs(x - y) / Math.max(1, Math.max(Math.abs(x), Math.abs(y))));
        }
        return worst;
    }

    /** {@code [N, C, spatial...]} to the rows {@code [N·V, C]} that DL4J's CnnLossLayer passes to a loss. */
    static INDArray rows(INDArray x) {
        return SpatialLayout.of(x.rank(), false).toRows(x);
    }
}
