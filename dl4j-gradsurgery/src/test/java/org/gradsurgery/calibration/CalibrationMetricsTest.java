package org.gradsurgery.calibration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

class CalibrationMetricsTest {
    private static final double EPS = 1e-12;

    /**
     * Six voxels, C = 2, B = 4 (edges 0.25, 0.5, 0.75): v = (p0, p1) label
     * v1 (0.25, 0.75) 1; v2 (0.5, 0.5) 0; v3 (1, 0) 0; v4 (0, 1) 0; v5 (0.75, 0.25) 1; v6 (0.625, 0.375) 0.
     */
    private static final double[] P0 = {0.25, 0.5, 1.0, 0.0, 0.75, 0.625};
    private static final double[] Y = {1, 0, 0, 0, 1, 0};

    private static INDArray handProbs(DataType type) {
        double[] data = new double[12];
        for (int i = 0; i < 6; i++) {
            data[i] = P0[i];
            data[6 + i] = 1 - P0[i];
        }
        return Nd4j.create(data, new long[]{1, 2, 6}, type);
    }

    private static CalibrationResult hand(INDArray labels, INDArray mask) {
        CalibrationMetrics m = CalibrationMetrics.builder().numClasses(2).bins(4).adaptive(true).build();
        m.update(handProbs(DataType.FLOAT), labels, mask);
        return m.result();
    }

    @Test
    void handComputedMarginalTopLabelBrierAndNll() {
        CalibrationResult r = hand(Nd4j.create(Y, new long[]{1, 6}, DataType.INT), null);
        assertEquals(6, r.voxelCount());
        // Class 0: confidences 0.25|0.5|1|0|0.75|0.625 (outcome 1[y=0]: 0 1 1 1 0 1).
        // bin0 (0,0.25] ∪ {0}: {0.25:o0, 0:o1} conf .125 acc .5 gap .375
        // bin1 (.25,.5]: {.5:o1} gap .5; bin2 (.5,.75]: {.75:o0, .625:o1} conf .6875 acc .5 gap .1875; bin3: {1:o1} gap 0
        assertEquals((2 * .375 + .5 + 2 * .1875 + 0) / 6, r.ece(0), EPS);
        assertEquals(.5, r.mce(0), EPS);
        assertEquals((.375 + .5 + .1875 + 0) / 4, r.ace(0), EPS);
        // Class 1: confidences .75|.5|0|1|.25|.375, outcomes 1 0 0 0 1 0.
        // bin0 {0:o0, .25:o1} gap .375; bin1 {.5:o0, .375:o0} conf .4375 acc 0; bin2 {.75:o1} gap .25; bin3 {1:o0} gap 1
        assertEquals((2 * .375 + 2 * .4375 + .25 + 1) / 6, r.ece(1), EPS);
        assertEquals(1.0, r.mce(1), EPS);
        assertEquals((.375 + .4375 + .25 + 1) / 4, r.ace(1), EPS);
        // Top label (v2 ties at 0.5 → class 0 → correct): v1 .75 ok, v2 .5 ok, v3 1 ok, v4 1 wrong, v5 .75 wrong,
        // v6 .625 ok. bin0 empty; bin1 {.5 ok} gap .5; bin2 {.75 ok, .75 wrong, .625 ok} |2 − 2.125|/3;
        // bin3 {1 ok, 1 wrong} gap .5.
        assertEquals((.5 + .125 + 2 * .5) / 6, r.eceTopLabel(), EPS);
        assertEquals(.5, r.mceTopLabel(), EPS);
        assertEquals((.5 + .125 / 3 + .5) / 3, r.aceTopLabel(), EPS);
        assertEquals(0, r.topLabelBins().count(0));
        assertTrue(Double.isNaN(r.topLabelBins().accuracy(0)));
        // Brier per voxel: .125, .5, 0, 2, 1.125, .28125
        assertEquals((.125 + .5 + 0 + 2 + 1.125 + .28125) / 6, r.brier(), EPS);
        // NLL: p_y = .75, .5, 1, 0 (floored at 1e-12), .25, .625
        double nll = -(Math.log(.75) + Math.log(.5) + Math.log(1) + Math.log(1e-12) + Math.log(.25) + Math.log(.625));
        assertEquals(nll / 6, r.nll(), 1e-9);
        // Adaptive, 4 equal-mass chunks of 6 voxels: sizes ⌊(b+1)·6/4⌋ − ⌊b·6/4⌋ = 1, 2, 1, 2.
        // Class 0 sorted: 0:o1 | .25:o0 .5:o1 | .625:o1 | .75:o0 1:o1 → |1−0| + |1−.75| + |1−.625| + |1−1.75|
        assertEquals((1 + .25 + .375 + .75) / 6, r.adaptiveEce(0), 1e-7);
        // Top label sorted (ties by outcome, wrong first): .5:1 | .625:1 .75:0 | .75:1 | 1:0 1:1
        assertEquals((.5 + .375 + .25 + 1) / 6, r.adaptiveEceTopLabel(), 1e-7);
        assertTrue(r.adaptiveExact());
        assertEquals(6, r.adaptiveSampleSize());
    }

    @Test
    void maskedRegionCountsOnlyMaskedVoxels() {
        INDArray labels = Nd4j.create(Y, new long[]{1, 6}, DataType.DOUBLE);
        // Leave out v4 (p0 = 0, label 0): class-0 bin0 becomes {0.25:o0} gap .25, n = 5.
        INDArray mask = Nd4j.create(new boolean[]{true, true, true, false, true, true}, new long[]{1, 6},
                DataType.BOOL);
        CalibrationResult r = hand(labels, mask);
        assertEquals(5, r.voxelCount());
        assertEquals((.25 + .5 + 2 * .1875 + 0) / 5, r.ece(0), EPS);
        // Top label without v4: bin3 {1 ok} gap 0.
        assertEquals((.5 + .125) / 5, r.eceTopLabel(), EPS);
        assertEquals((.125 + .5 + 0 + 1.125 + .28125) / 5, r.brier(), EPS);
        // An all-zero mask counts nothing: every metric is NaN.
        CalibrationResult none = hand(labels, Nd4j.zeros(DataType.INT, 1, 1, 6));
        assertEquals(0, none.voxelCount());
        assertTrue(Double.isNaN(none.ece(0)) && Double.isNaN(none.brier()) && Double.isNaN(none.adaptiveEce(1)));
    }

    @Test
    void oneHotAndClassMapLabelsAgree() {
        Random rnd = new Random(3);
        int n = 2, c = 3, s = 50;
        INDArray probs = randomProbs(rnd, n, c, s);
        double[] y = new double[n * s];
        double[] oneHot = new double[n * c * s];
        for (int e = 0; e < n; e++) {
            for (int i = 0; i < s; i++) {
                int label = rnd.nextInt(c);
                y[e * s + i] = label;
                oneHot[(e * c + label) * s + i] = 1;
            }
        }
        CalibrationResult a = run(c, 10, probs, Nd4j.create(y, new long[]{n, s}, DataType.LONG), null);
        CalibrationResult b = run(c, 10, probs, Nd4j.create(oneHot, new long[]{n, c, s}, DataType.FLOAT), null);
        CalibrationResult d = run(c, 10, probs, Nd4j.create(y, new long[]{n, 1, s}, DataType.SHORT), null);
        for (CalibrationResult other : List.of(b, d)) {
            assertEquals(a.brier(), other.brier(), 0);
            assertEquals(a.nll(), other.nll(), 0);
            assertEquals(a.eceTopLabel(), other.eceTopLabel(), 0);
            for (int k = 0; k < c; k++) {
                assertEquals(a.classBins(k), other.classBins(k));
                assertEquals(a.adaptiveEce(k), other.adaptiveEce(k), 0);
            }
        }
    }

    @Test
    void exactBinEdgesZeroHalfOne() {
        // B = 2: bin 0 = [0, 0.5], bin 1 = (0.5, 1]. Class-0 confidences 0, 0.5, 1 and 0.5000001.
        double[] p0 = {0.0, 0.5, 1.0, 0.5000001};
        double[] data = new double[8];
        for (int i = 0; i < 4; i++) {
            data[i] = p0[i];
            data[4 + i] = 1 - p0[i];
        }
        INDArray probs = Nd4j.create(data, new long[]{1, 2, 4}, DataType.DOUBLE);
        CalibrationResult r = run(2, 2, probs, Nd4j.zeros(DataType.INT, 1, 4), null);
        assertEquals(2, r.classBins(0).count(0)); // 0 and 0.5
        assertEquals(2, r.classBins(0).count(1)); // 1 and 0.5000001
        // Class 1: 1, 0.5, 0, 0.4999999 → bin0 holds 0.5, 0 and 0.4999999.
        assertEquals(3, r.classBins(1).count(0));
        assertEquals(1, r.classBins(1).count(1));
        for (int b = 0; b <= 16; b++) {
            // every edge b/16 (exact in binary) belongs to bin b−1 (bin 0 for 0); just above it to bin b
            assertEquals(Math.max(0, b - 1), ReliabilityBins.binOf(b / 16.0, 16), "edge " + b + "/16");
            assertEquals(Math.min(b, 15), ReliabilityBins.binOf(Math.nextUp(b / 16.0), 16), "above " + b + "/16");
        }
        // 0.1 is stored as 0.10000000000000000555 > 1/10, so bin 1
        assertEquals(1, ReliabilityBins.binOf(0.1, 10));
        // 0.7 is stored as 0.69999999999999995559 < 7/10, so bin 6 although 0.7·10 rounds to 7.000000000000001
        assertEquals(6, ReliabilityBins.binOf(0.7, 10));
    }

    @Test
    void tiesAtArgmaxGoToTheLowestClass() {
        // Three voxels (0.4, 0.4, 0.2) labelled 0, 0, 1: the argmax is class 0, so two of three are correct
        // (picking class 1 on ties would make it one of three).
        double[] data = {0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.2, 0.2, 0.2};
        INDArray probs = Nd4j.create(data, new long[]{1, 3, 3}, DataType.FLOAT);
        CalibrationResult r = run(3, 4, probs, Nd4j.create(new double[]{0, 0, 1}, new long[]{1, 3}, DataType.INT),
                null);
        ReliabilityBins top = r.topLabelBins();
        int b = ReliabilityBins.binOf(0.4f, 4);
        assertEquals(1, b);
        assertEquals(3, top.count(b));
        assertEquals(2.0 / 3, top.accuracy(b), 1e-15);
        assertEquals(Math.abs(2.0 / 3 - 0.4f), r.eceTopLabel(), 1e-7);
    }

    @Test
    void perfectlyCalibratedSyntheticDataHasSmallEce() {
        // Binary: p1 = u ~ U(0,1), label 1 with probability u. Every bin's accuracy estimates its confidence, so ECE
        // is sampling noise only: 200k voxels in 15 bins → ≈13k per bin, SE ≤ 0.0044, expected |gap| ≈ 0.8·SE.
        Random rnd = new Random(11);
        int s = 200_000;
        double[] data = new double[2 * s];
        double[] y = new double[s];
        for (int i = 0; i < s; i++) {
            double u = rnd.nextDouble();
            data[i] = 1 - u;
            data[s + i] = u;
            y[i] = rnd.nextDouble() < u ? 1 : 0;
        }
        CalibrationResult r = run(2, 15, Nd4j.create(data, new long[]{1, 2, s}, DataType.DOUBLE),
                Nd4j.create(y, new long[]{1, s}, DataType.INT), null);
        assertTrue(r.ece(1) < 0.01, "ECE " + r.ece(1));
        assertTrue(r.eceTopLabel() < 0.01, "top ECE " + r.eceTopLabel());
        assertTrue(r.adaptiveEce(1) < 0.01, "adaptive ECE " + r.adaptiveEce(1));
        // Brier of a calibrated U(0,1) forecaster: E[u(1−u)] = 1/6 per class, two classes → 1/3.
        assertEquals(1.0 / 3, r.brier(), 0.01);
    }

    @Test
    void overConfidentSyntheticDataHasTheExpectedEce() {
        // The model says u, the truth is 0.5 + 0.5(u − 0.5): gap 0.5|u − 0.5|, whose mean over U(0,1) is 0.125.
        // Top label: confidence max(u, 1−u) ~ U(0.5, 1), accuracy 0.5 + 0.5(conf − 0.5), mean gap also 0.125.
        Random rnd = new Random(12);
        int s = 200_000;
        double[] data = new double[2 * s];
        double[] y = new double[s];
        for (int i = 0; i < s; i++) {
            double u = rnd.nextDouble();
            data[i] = 1 - u;
            data[s + i] = u;
            y[i] = rnd.nextDouble() < 0.5 + 0.5 * (u - 0.5) ? 1 : 0;
        }
        CalibrationResult r = run(2, 15, Nd4j.create(data, new long[]{1, 2, s}, DataType.DOUBLE),
                Nd4j.create(y, new long[]{1, s}, DataType.INT), null);
        assertEquals(0.125, r.ece(1), 0.01);
        assertEquals(0.125, r.eceTopLabel(), 0.01);
        assertEquals(0.125, r.adaptiveEce(1), 0.01);
        // The most confident bin (conf ≈ 0.967, 1/30 wide) has the largest gap ≈ 0.233.
        assertEquals(0.5 * (29.0 / 30 - 0.5), r.mce(1), 0.02);
        for (int b = 8; b < 15; b++) {
            assertTrue(r.topLabelBins().meanConfidence(b) > r.topLabelBins().accuracy(b), "over-confident bin " + b);
        }
    }

    @Test
    void streamingEqualsASingleUpdateOnConcatenatedDataAndMatchesAReference() {
        Random rnd = new Random(5);
        int c = 4, s = 300;
        INDArray probs = randomProbs(rnd, 3, c, s);
        INDArray labels = Nd4j.create(randomLabels(rnd, 3 * s, c), new long[]{3, s}, DataType.INT);
        INDArray mask = Nd4j.create(randomMask(rnd, 3 * s), new long[]{3, s}, DataType.FLOAT);
        CalibrationResult whole = run(c, 7, probs, labels, mask);
        CalibrationMetrics m = CalibrationMetrics.builder().numClasses(c).bins(7).adaptive(true).build();
        for (int e = 0; e < 3; e++) {
            m.update(probs.get(interval(e)), labels.get(interval(e)), mask.get(interval(e)));
        }
        CalibrationResult streamed = m.result();
        assertEquals(whole.voxelCount(), streamed.voxelCount());
        assertEquals(whole.brier(), streamed.brier(), 1e-12);
        assertEquals(whole.nll(), streamed.nll(), 1e-12);
        assertEquals(whole.eceTopLabel(), streamed.eceTopLabel(), 1e-12);
        for (int k = 0; k < c; k++) {
            assertEquals(whole.ece(k), streamed.ece(k), 1e-12);
            assertEquals(whole.adaptiveEce(k), streamed.adaptiveEce(k), 0);
        }
        // Against a plain reference that keeps every voxel in lists.
        Reference ref = new Reference(c, 7, probs, labels, mask);
        assertEquals(ref.voxels, whole.voxelCount());
        for (int k = 0; k <= c; k++) {
            ReliabilityBins bins = k < c ? whole.classBins(k) : whole.topLabelBins();
            assertEquals(ref.ece(k), bins.ece(), 1e-9, "ece " + k);
            assertEquals(ref.mce(k), bins.mce(), 1e-9, "mce " + k);
            assertEquals(ref.ace(k), bins.ace(), 1e-9, "ace " + k);
            assertEquals(ref.adaptiveEce(k), k < c ? whole.adaptiveEce(k) : whole.adaptiveEceTopLabel(), 1e-6);
        }
        assertEquals(ref.brier, whole.brier(), 1e-9);
        assertEquals(ref.nll, whole.nll(), 1e-9);
        // reset forgets everything
        m.reset();
        assertEquals(0, m.result().voxelCount());
    }

    @Test
    void reservoirSampleIsExactWhenLargeEnoughAndCloseOtherwise() {
        Random rnd = new Random(8);
        int c = 3, s = 100_000;
        INDArray probs = randomProbs(rnd, 1, c, s);
        INDArray labels = Nd4j.create(randomLabels(rnd, s, c), new long[]{1, s}, DataType.INT);
        CalibrationResult exact = run(c, 10, probs, labels, null);
        CalibrationMetrics big = CalibrationMetrics.builder().numClasses(c).bins(10).adaptiveSampleSize(s).build();
        big.update(probs, labels);
        assertTrue(big.result().adaptiveExact());
        assertEquals(exact.adaptiveEce(1), big.result().adaptiveEce(1), 0);
        CalibrationMetrics small = CalibrationMetrics.builder().numClasses(c).bins(10).adaptiveSampleSize(20_000)
                .seed(1).build();
        small.update(probs, labels);
        CalibrationResult approx = small.result();
        assertFalse(approx.adaptiveExact());
        assertEquals(20_000, approx.adaptiveSampleSize());
        // 2000 voxels per chunk: SE of a chunk accuracy ≤ 0.011; the ECE difference stays well below that.
        for (int k = 0; k < c; k++) {
            assertEquals(exact.adaptiveEce(k), approx.adaptiveEce(k), 0.01);
        }
        // equal-width metrics are unaffected by sampling
        assertEquals(exact.ece(2), approx.ece(2), 1e-12);
    }

    @Test
    void rejectsBadInputWithClearMessages() {
        CalibrationMetrics m = CalibrationMetrics.builder().numClasses(2).bins(4).build();
        INDArray probs = handProbs(DataType.FLOAT);
        INDArray labels = Nd4j.create(Y, new long[]{1, 6}, DataType.INT);
        assertMessage(() -> m.update(Nd4j.ones(1, 3, 6), labels, null), "3 channels");
        assertMessage(() -> m.update(probs, Nd4j.zeros(1, 5), null), "labels shape");
        assertMessage(() -> m.update(probs, Nd4j.createFromArray(new int[][]{{0, 1, 2, 0, 0, 0}}), null),
                "not an integer class index");
        assertMessage(() -> m.update(probs, Nd4j.createFromArray(new double[][]{{0, 0.5, 1, 0, 0, 0}}), null),
                "value 0.5");
        assertMessage(() -> m.update(probs, labels, Nd4j.createFromArray(new int[][]{{0, 1, 2, 0, 0, 0}})),
                "0/1");
        assertMessage(() -> m.update(probs, labels, Nd4j.ones(1, 5)), "regionMask shape");
        assertMessage(() -> m.update(probs.mul(3), labels, null), "[0, 1]");
        assertMessage(() -> m.update(probs, Nd4j.zeros(1, 2, 6), null), "no 1 at example 0");
        assertMessage(() -> CalibrationMetrics.builder().numClasses(1).build(), "numClasses");
        assertMessage(() -> CalibrationMetrics.builder().numClasses(2).bins(0).build(), "bins");
        m.update(probs, labels, null);
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> m.result().adaptiveEce(0));
        assertTrue(e.getMessage().contains("adaptive(true)"));
    }

    @Test
    void largeThreeDimensionalUpdatesAccumulateInBoundedState() {
        // A 2 × 5 × 48³ softmax volume, fed as two updates, gives the same streamed result as one update of the whole
        // batch: the equal-width state is O(B·C) counters, not the voxels. Speed is a benchmark's job, not a test's.
        INDArray logits = Nd4j.rand(DataType.FLOAT, 2, 5, 48, 48, 48).muli(4);
        INDArray probs = Nd4j.exec(new org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax(logits, 1))[0];
        INDArray labels = Nd4j.rand(DataType.FLOAT, 2, 48, 48, 48).muli(5).castTo(DataType.INT);
        CalibrationMetrics whole = CalibrationMetrics.builder().numClasses(5).bins(15).build();
        whole.update(probs, labels, null);
        CalibrationMetrics split = CalibrationMetrics.builder().numClasses(5).bins(15).build();
        for (int n = 0; n < 2; n++) {
            split.update(probs.get(NDArrayIndex.interval(n, n + 1)), labels.get(NDArrayIndex.interval(n, n + 1)), null);
        }
        assertEquals(2L * 48 * 48 * 48, whole.voxelCount());
        assertEquals(whole.voxelCount(), split.voxelCount());
        for (int c = 0; c < 5; c++) {
            assertEquals(whole.result().ece(c), split.result().ece(c), 1e-9);
        }
        assertEquals(whole.result().eceTopLabel(), split.result().eceTopLabel(), 1e-9);
        assertEquals(whole.result().brier(), split.result().brier(), 1e-9);
    }

    // ---------------------------------------------------------------- helpers

    static CalibrationResult run(int c, int bins, INDArray probs, INDArray labels, INDArray mask) {
        CalibrationMetrics m = CalibrationMetrics.builder().numClasses(c).bins(bins).adaptive(true).build();
        m.update(probs, labels, mask);
        return m.result();
    }

    static void assertMessage(org.junit.jupiter.api.function.Executable call, String fragment) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call);
        assertTrue(e.getMessage().contains(fragment), "message '" + e.getMessage() + "' lacks '" + fragment + "'");
    }

    private static org.nd4j.linalg.indexing.INDArrayIndex interval(int e) {
        return org.nd4j.linalg.indexing.NDArrayIndex.interval(e, e + 1);
    }

    static INDArray randomProbs(Random rnd, int n, int c, int s) {
        double[] data = new double[n * c * s];
        for (int e = 0; e < n; e++) {
            for (int i = 0; i < s; i++) {
                double[] z = new double[c];
                double sum = 0;
                for (int k = 0; k < c; k++) {
                    z[k] = Math.exp(3 * rnd.nextGaussian());
                    sum += z[k];
                }
                for (int k = 0; k < c; k++) {
                    data[(e * c + k) * s + i] = z[k] / sum;
                }
            }
        }
        return Nd4j.create(data, new long[]{n, c, s}, DataType.FLOAT);
    }

    static double[] randomLabels(Random rnd, int count, int c) {
        double[] y = new double[count];
        for (int i = 0; i < count; i++) {
            y[i] = rnd.nextInt(c);
        }
        return y;
    }

    static double[] randomMask(Random rnd, int count) {
        double[] m = new double[count];
        for (int i = 0; i < count; i++) {
            m[i] = rnd.nextDouble() < 0.7 ? 1 : 0;
        }
        return m;
    }

    /** Keeps every (confidence, outcome) pair in lists; row c < C is class c, row C is the top label. */
    private static final class Reference {
        final int bins;
        final List<List<double[]>> pairs = new ArrayList<>();
        long voxels;
        double brier;
        double nll;

        Reference(int c, int bins, INDArray probs, INDArray labels, INDArray mask) {
            this.bins = bins;
            for (int k = 0; k <= c; k++) {
                pairs.add(new ArrayList<>());
            }
            for (int e = 0; e < probs.size(0); e++) {
                for (int i = 0; i < probs.size(2); i++) {
                    if (mask.getDouble(e, i) == 0) {
                        continue;
                    }
                    int y = labels.getInt(e, i);
                    int arg = 0;
                    for (int k = 0; k < c; k++) {
                        double p = probs.getFloat(e, k, i);
                        pairs.get(k).add(new double[]{p, k == y ? 1 : 0});
                        brier += Math.pow(p - (k == y ? 1 : 0), 2);
                        if (p > probs.getFloat(e, arg, i)) {
                            arg = k;
                        }
                    }
                    pairs.get(c).add(new double[]{probs.getFloat(e, arg, i), arg == y ? 1 : 0});
                    nll -= Math.log(Math.max(probs.getFloat(e, y, i), 1e-12));
                    voxels++;
                }
            }
            brier /= voxels;
            nll /= voxels;
        }

        /** gaps[b] = {n_b, conf_b, acc_b} with bins found by comparing against the edges b/B. */
        double[][] binStats(int row) {
            double[][] s = new double[bins][3];
            for (double[] pr : pairs.get(row)) {
                int b = 0;
                while (b < bins - 1 && pr[0] > (b + 1) / (double) bins) {
                    b++;
                }
                s[b][0]++;
                s[b][1] += pr[0];
                s[b][2] += pr[1];
            }
            return s;
        }

        double ece(int row) {
            double e = 0;
            for (double[] s : binStats(row)) {
                if (s[0] > 0) {
                    e += s[0] / voxels * Math.abs(s[2] / s[0] - s[1] / s[0]);
                }
            }
            return e;
        }

        double mce(int row) {
            double m = 0;
            for (double[] s : binStats(row)) {
                if (s[0] > 0) {
                    m = Math.max(m, Math.abs(s[2] / s[0] - s[1] / s[0]));
                }
            }
            return m;
        }

        double ace(int row) {
            double a = 0;
            int k = 0;
            for (double[] s : binStats(row)) {
                if (s[0] > 0) {
                    a += Math.abs(s[2] / s[0] - s[1] / s[0]);
                    k++;
                }
            }
            return a / k;
        }

        double adaptiveEce(int row) {
            List<double[]> sorted = new ArrayList<>(pairs.get(row));
            sorted.sort((x, y) -> x[0] != y[0] ? Double.compare(x[0], y[0]) : Double.compare(x[1], y[1]));
            int m = sorted.size();
            double e = 0;
            for (int b = 0; b < bins; b++) {
                int lo = b * m / bins;
                int hi = (b + 1) * m / bins;
                double conf = 0;
                double acc = 0;
                for (int i = lo; i < hi; i++) {
                    conf += sorted.get(i)[0];
                    acc += sorted.get(i)[1];
                }
                if (hi > lo) {
                    e += (hi - lo) / (double) m * Math.abs(acc / (hi - lo) - conf / (hi - lo));
                }
            }
            return e;
        }
    }
}
