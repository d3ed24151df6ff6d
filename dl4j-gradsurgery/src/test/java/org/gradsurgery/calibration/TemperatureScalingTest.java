package org.gradsurgery.calibration;

import static org.gradsurgery.calibration.CalibrationMetricsTest.assertMessage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class TemperatureScalingTest {

    /** Logits z ~ 3·N(0,1) per class in [1, C, s]; labels drawn from softmax(z / t0). */
    private static INDArray[] synthetic(Random rnd, int c, int s, double t0) {
        double[] z = new double[c * s];
        double[] y = new double[s];
        for (int i = 0; i < s; i++) {
            double[] p = new double[c];
            double sum = 0;
            for (int k = 0; k < c; k++) {
                z[k * s + i] = 3 * rnd.nextGaussian();
                p[k] = Math.exp(z[k * s + i] / t0);
                sum += p[k];
            }
            double u = rnd.nextDouble() * sum;
            int label = 0;
            while (label < c - 1 && u > p[label]) {
                u -= p[label];
                label++;
            }
            y[i] = label;
        }
        return new INDArray[]{Nd4j.create(z, new long[]{1, c, s}, DataType.FLOAT),
                Nd4j.create(y, new long[]{1, s}, DataType.INT)};
    }

    /** Mean NLL of softmax(z/T), computed directly. */
    private static double nll(INDArray logits, INDArray labels, double t) {
        int c = (int) logits.size(1);
        int s = (int) logits.size(2);
        float[] z = logits.dup('c').data().asFloat();
        int[] y = labels.dup('c').data().asInt();
        double total = 0;
        for (int i = 0; i < s; i++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int k = 0; k < c; k++) {
                max = Math.max(max, z[k * s + i] / t);
            }
            double lse = 0;
            for (int k = 0; k < c; k++) {
                lse += Math.exp(z[k * s + i] / t - max);
            }
            total += max + Math.log(lse) - z[y[i] * s + i] / t;
        }
        return total / s;
    }

    @Test
    void recoversAKnownTemperatureAndMinimisesNll() {
        for (double t0 : new double[]{2.0, 0.6}) {
            INDArray[] d = synthetic(new Random(t0 > 1 ? 1 : 2), 4, 60_000, t0);
            TemperatureScalingResult r = TemperatureScaling.builder().build().fit(d[0], d[1], null);
            assertTrue(r.converged());
            assertEquals(t0, r.temperature(), 0.04 * t0, "T0 = " + t0);
            assertTrue(r.iterations() < 20, "iterations " + r.iterations());
            assertEquals(60_000, r.voxelCount());
            // It is the minimiser: the directly computed NLL is higher 0.5 % either side.
            double at = nll(d[0], d[1], r.temperature());
            assertEquals(at, r.nllAfter(), 1e-6);
            assertEquals(nll(d[0], d[1], 1.0), r.nllBefore(), 1e-6);
            assertTrue(nll(d[0], d[1], r.temperature() * 1.005) > at);
            assertTrue(nll(d[0], d[1], r.temperature() / 1.005) > at);
        }
    }

    @Test
    void applyGivesSoftmaxOfScaledLogitsAndImprovesCalibration() {
        INDArray[] d = synthetic(new Random(3), 3, 40_000, 2.0);
        TemperatureScalingResult r = TemperatureScaling.builder().build().fit(d[0], d[1], null);
        INDArray z = d[0].reshape(1, 3, 200, 200);
        INDArray calibrated = r.apply(z);
        double t = r.temperature();
        for (int i : new int[]{0, 17, 39_999}) {
            double[] e = new double[3];
            double sum = 0;
            for (int k = 0; k < 3; k++) {
                e[k] = Math.exp(d[0].getFloat(0, k, i) / t);
                sum += e[k];
            }
            for (int k = 0; k < 3; k++) {
                assertEquals(e[k] / sum, calibrated.getDouble(0, k, i / 200, i % 200), 1e-5);
            }
        }
        INDArray raw = TemperatureScaling.apply(z, 1.0, TemperatureScaling.Activation.SOFTMAX);
        INDArray labels = d[1].reshape(1, 200, 200);
        double before = CalibrationMetricsTest.run(3, 15, raw, labels, null).eceTopLabel();
        double after = CalibrationMetricsTest.run(3, 15, calibrated, labels, null).eceTopLabel();
        assertTrue(before > 0.05, "softmax(z) of labels drawn at T0 = 2 is over-confident: ECE " + before);
        assertTrue(after < 0.015, "ECE after scaling " + after);
    }

    /**
     * FLOAT logits of every rank against a plain double softmax over the class axis. On the default (oneDNN)
     * natives libnd4j's softmax op is wrong for FLOAT rank-4 arrays along axis 1 (errors near 1): this fails if
     * {@code apply} ever hands it such an array again.
     */
    @Test
    void applyIsASoftmaxOverTheClassAxisForFloatLogitsOfEveryRank() {
        for (long[] shape : new long[][] {{6, 3}, {2, 3, 10}, {2, 3, 6, 5}, {2, 4, 3, 4, 5}}) {
            Nd4j.getRandom().setSeed(5);
            INDArray z = Nd4j.randn(DataType.FLOAT, shape).muli(3);
            INDArray p = TemperatureScaling.apply(z, 1.5, TemperatureScaling.Activation.SOFTMAX);
            long c = shape[1];
            long v = z.length() / (shape[0] * c);
            double[] zf = z.castTo(DataType.DOUBLE).dup('c').data().asDouble();
            double[] pf = p.castTo(DataType.DOUBLE).dup('c').data().asDouble();
            for (int n = 0; n < shape[0]; n++) {
                for (int i = 0; i < v; i++) {
                    double sum = 0;
                    for (int k = 0; k < c; k++) {
                        sum += Math.exp(zf[(int) ((n * c + k) * v + i)] / 1.5);
                    }
                    for (int k = 0; k < c; k++) {
                        int at = (int) ((n * c + k) * v + i);
                        assertEquals(Math.exp(zf[at] / 1.5) / sum, pf[at], 1e-6,
                                java.util.Arrays.toString(shape) + " at " + at);
                    }
                }
            }
        }
    }

    @Test
    void masksLeaveVoxelsOutAndStreamingAddsUp() {
        Random rnd = new Random(4);
        INDArray[] d = synthetic(rnd, 3, 20_000, 1.5);
        // Corrupt the labels of the first half and mask it out: the fit must equal the fit on the second half.
        int[] y = d[1].dup('c').data().asInt();
        boolean[] keep = new boolean[20_000];
        for (int i = 0; i < 20_000; i++) {
            if (i < 10_000) {
                y[i] = (y[i] + 1) % 3;
            } else {
                keep[i] = true;
            }
        }
        INDArray labels = Nd4j.createFromArray(y).reshape(1, 20_000);
        INDArray mask = Nd4j.create(keep, new long[]{1, 20_000}, DataType.BOOL);
        TemperatureScalingResult masked = TemperatureScaling.builder().build().fit(d[0], labels, mask);
        INDArray half = d[0].get(org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex
                .all(), org.nd4j.linalg.indexing.NDArrayIndex.interval(10_000, 20_000));
        INDArray halfY = d[1].get(org.nd4j.linalg.indexing.NDArrayIndex.all(),
                org.nd4j.linalg.indexing.NDArrayIndex.interval(10_000, 20_000));
        TemperatureScalingResult direct = TemperatureScaling.builder().build().fit(half, halfY, null);
        assertEquals(10_000, masked.voxelCount());
        assertEquals(direct.temperature(), masked.temperature(), 1e-6 * direct.temperature());
        // Two adds = one add of everything.
        TemperatureScaling ts = TemperatureScaling.builder().build();
        ts.add(d[0], d[1], null).add(half, halfY, null);
        TemperatureScaling once = TemperatureScaling.builder().build();
        INDArray both = Nd4j.concat(2, d[0], half);
        INDArray bothY = Nd4j.concat(1, d[1], halfY);
        assertEquals(once.fit(both, bothY, null).temperature(), ts.fit().temperature(), 1e-9);
    }

    @Test
    void sigmoidRecoversAKnownTemperature() {
        Random rnd = new Random(5);
        int s = 80_000;
        double t0 = 1.7;
        double[] z = new double[s];
        double[] y = new double[s];
        for (int i = 0; i < s; i++) {
            z[i] = 4 * rnd.nextGaussian();
            y[i] = rnd.nextDouble() < 1 / (1 + Math.exp(-z[i] / t0)) ? 1 : 0;
        }
        INDArray logits = Nd4j.create(z, new long[]{1, 1, s}, DataType.FLOAT);
        TemperatureScalingResult r = TemperatureScaling.builder().activation(TemperatureScaling.Activation.SIGMOID)
                .build().fit(logits, Nd4j.create(y, new long[]{1, s}, DataType.INT), null);
        assertTrue(r.converged());
        assertEquals(t0, r.temperature(), 0.04 * t0);
        // Same targets given with the logits' shape.
        TemperatureScalingResult r2 = TemperatureScaling.builder().activation(TemperatureScaling.Activation.SIGMOID)
                .build().fit(logits, Nd4j.create(y, new long[]{1, 1, s}, DataType.FLOAT), null);
        assertEquals(r.temperature(), r2.temperature(), 1e-9);
        INDArray p = r.apply(logits);
        assertEquals(1 / (1 + Math.exp(-z[7] / r.temperature())), p.getDouble(0, 0, 7), 1e-6);
    }

    @Test
    void optimumBeyondTheRangeReturnsTheBound() {
        // Every voxel correctly and confidently classified: NLL keeps falling as T → 0.
        INDArray z = Nd4j.create(new double[]{5, -5, -5, 5}, new long[]{1, 2, 2}, DataType.DOUBLE);
        INDArray y = Nd4j.create(new double[]{0, 1}, new long[]{1, 2}, DataType.INT);
        TemperatureScalingResult r = TemperatureScaling.builder().temperatureRange(0.05, 20).build().fit(z, y, null);
        assertFalse(r.converged());
        assertEquals(0.05, r.temperature(), 1e-12);
        // Every voxel confidently wrong: NLL keeps falling as T → ∞.
        TemperatureScalingResult w = TemperatureScaling.builder().temperatureRange(0.05, 20).build()
                .fit(z, Nd4j.create(new double[]{1, 0}, new long[]{1, 2}, DataType.INT), null);
        assertFalse(w.converged());
        assertEquals(20, w.temperature(), 1e-9);
    }

    @Test
    void rejectsBadInput() {
        INDArray z = Nd4j.rand(DataType.FLOAT, 1, 3, 4);
        INDArray y = Nd4j.zeros(DataType.INT, 1, 4);
        assertMessage(() -> TemperatureScaling.builder().build().fit(z, Nd4j.zeros(1, 5), null), "labels shape");
        assertMessage(() -> TemperatureScaling.builder().build().fit(z, y, Nd4j.zeros(1, 3)), "regionMask");
        assertMessage(() -> TemperatureScaling.builder().build().fit(z.dup().putScalar(0, Double.NaN), y, null),
                "not finite");
        assertMessage(() -> TemperatureScaling.builder().temperatureRange(2, 3).build(), "temperature range");
        assertMessage(() -> TemperatureScaling.apply(z, 0, TemperatureScaling.Activation.SOFTMAX), "temperature");
        IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                () -> TemperatureScaling.builder().build().fit(z, y, Nd4j.zeros(1, 4)));
        assertTrue(e.getMessage().contains("no validation voxels"));
    }
}
