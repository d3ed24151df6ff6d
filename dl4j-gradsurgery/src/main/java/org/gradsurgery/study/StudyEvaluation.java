package org.gradsurgery.study;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.calibration.CalibrationMetrics;
import org.gradsurgery.calibration.CalibrationResult;
import org.gradsurgery.calibration.KnownProbabilityCalibration;
import org.gradsurgery.calibration.RegionMasks;
import org.gradsurgery.calibration.ReliabilityBins;
import org.gradsurgery.calibration.TemperatureScaling;
import org.gradsurgery.calibration.TemperatureScalingResult;
import org.gradsurgery.metrics.SegmentationMetrics;
import org.gradsurgery.metrics.SegmentationResult;
import org.gradsurgery.evaluation.CaseEvaluator;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Scores one trained model of a study, case by case, in each case's own geometry (run on the case padded as in
 * training, {@link #logits}; no padding is ever scored, a 2D model's slice predictions are stacked into the case's
 * volume by {@link CaseEvaluator#logits}), then, per
 * test case, before and after temperature scaling (T fitted by NLL on the validation cases):
 * <ul>
 *   <li>Dice and HD95 per foreground class ({@link SegmentationMetrics}, the case's spacing);</li>
 *   <li>top-label ECE, class-wise ECE, ACE, Brier, NLL ({@link CalibrationMetrics});</li>
 *   <li>boundary-band ECE: top-label ECE over the voxels within ±{@code band} mm of a ground-truth structure's
 *       surface ({@link RegionMasks#boundaryBand});</li>
 *   <li>with a known q (synthetic data): mean |p − q| of the foreground probability
 *       ({@link KnownProbabilityCalibration});</li>
 *   <li>Dice's weight ratio a/b per foreground class ({@link DiceFixedPoint}) at T = 1.</li>
 * </ul>
 * The same calibration metrics pooled over all test voxels, and their reliability bins, describe the run as a whole.
 */
final class StudyEvaluation {
    private final StudyData data;
    private final CaseEvaluator inference;
    private final int bins;
    private final double band;

    StudyEvaluation(StudyData data, int bins, double band, int sizeDivisor) {
        this.data = data;
        CaseEvaluator.Builder b = CaseEvaluator.builder().numClasses(data.numClasses()).padHighEnd(data.paddedSize());
        this.inference = (data.dims() == 2 ? b.slices(data.sliceAxis(), sizeDivisor) : b.whole(sizeDivisor)).build();
        this.bins = bins;
        this.band = band;
    }

    /** What one run measured: per-case columns and pooled values and bins. */
    record Outcome(List<String> cases, List<Map<String, Double>> rows, Map<String, Double> pooled,
                   Map<String, ReliabilityBins> reliability, double temperature) {
    }

    /**
     * The softmax logits of a case on its own grid, {@code [1, K, shape...]}: the network is run on the case exactly as
     * training batches showed it (padded at the high end of each axis the network sees with the case's minimum
     * intensity, to the study's common size: {@link CaseEvaluator.Builder#padHighEnd}) and the padding is cut off
     * before anything is scored. Why not {@link CaseEvaluator}'s own centred edge padding: a network trained on
     * cases padded one way learns where the padding is, and scoring it on another padding measured that rather
     * than the model (MSD Hippocampus, Dice + CE: test Dice 0.04 with centred edge padding against 0.82 with the
     * training padding on the same model).
     */
    INDArray logits(ComputationGraph net, StudyData.StudyCase c) {
        return inference.logits(net, c.sample());
    }

    /** The case's class map {@code [1, shape...]} (FLOAT). */
    static INDArray labels(StudyData.StudyCase c) {
        INDArray y = c.sample().label().castTo(DataType.FLOAT);
        long[] s = new long[y.rank() + 1];
        s[0] = 1;
        System.arraycopy(y.shape(), 0, s, 1, y.rank());
        return y.reshape(s);
    }

    /** Fits T on the validation cases (NLL over their voxels). */
    TemperatureScalingResult fitTemperature(ComputationGraph net, List<StudyData.StudyCase> validation) {
        TemperatureScaling ts = TemperatureScaling.builder().build();
        for (StudyData.StudyCase c : validation) {
            ts.add(logits(net, c), labels(c), null);
        }
        return ts.fit();
    }

    /** Scores the test cases at T = 1 and at {@code temperature}. */
    Outcome evaluate(ComputationGraph net, List<StudyData.StudyCase> test, double temperature) {
        int k = data.numClasses();
        CalibrationMetrics[] pooled = {cal(), cal()};
        CalibrationMetrics[] pooledBand = {cal(), cal()};
        KnownProbabilityCalibration[] pooledQ = {new KnownProbabilityCalibration(bins),
                new KnownProbabilityCalibration(bins)};
        List<Map<String, Double>> rows = new ArrayList<>();
        List<String> ids = new ArrayList<>();
        double[] diceSum = new double[k];
        for (StudyData.StudyCase c : test) {
            INDArray z = logits(net, c);
            INDArray y = labels(c);
            INDArray bandMask = RegionMasks.boundaryBand(y, band, c.spacing());
            Map<String, Double> row = new LinkedHashMap<>();
            SegmentationMetrics seg = SegmentationMetrics.builder().numClasses(k).surfaceDistances(true).build();
            seg.update(z, y, c.spacing());
            SegmentationResult sr = seg.result();
            double mean = 0;
            for (int cl = 1; cl < k; cl++) {
                row.put("dice_" + cl, sr.dice(cl));
                mean += sr.dice(cl);
            }
            row.put("dice_mean", mean / (k - 1));
            for (int cl = 1; cl < k; cl++) {
                row.put("hd95_" + cl, sr.hd95(cl));
            }
            for (int t = 0; t < 2; t++) {
                double temp = t == 0 ? 1.0 : temperature;
                String suffix = t == 0 ? "" : "_ts";
                INDArray p = TemperatureScaling.apply(z, temp, TemperatureScaling.Activation.SOFTMAX);
                CalibrationMetrics cm = cal();
                cm.update(p, y, null);
                pooled[t].update(p, y, null);
                CalibrationMetrics cb = cal();
                if (bandMask.sumNumber().doubleValue() > 0) {
                    cb.update(p, y, bandMask);
                    pooledBand[t].update(p, y, bandMask);
                }
                CalibrationResult r = cm.result();
                row.put("ece" + suffix, r.eceTopLabel());
                row.put("classwise_ece" + suffix, r.classwiseEce());
                row.put("boundary_ece" + suffix, cb.voxelCount() > 0 ? cb.result().eceTopLabel() : Double.NaN);
                row.put("ace" + suffix, r.aceTopLabel());
                row.put("brier" + suffix, r.brier());
                row.put("nll" + suffix, r.nll());
                if (c.q() != null) {
                    KnownProbabilityCalibration kq = new KnownProbabilityCalibration(bins);
                    kq.add(foreground(p), c.q(), null);
                    pooledQ[t].add(kq);
                    row.put("mae_q" + suffix, kq.meanAbsoluteError());
                }
                if (t == 0) {
                    for (int cl = 1; cl < k; cl++) {
                        row.put("dice_a_over_b_" + cl, DiceFixedPoint.weightRatio(channel(p, cl), mask(y, cl)));
                    }
                }
            }
            rows.add(row);
            ids.add(c.id());
        }
        Map<String, Double> pooledValues = new LinkedHashMap<>();
        Map<String, ReliabilityBins> reliability = new LinkedHashMap<>();
        for (int t = 0; t < 2; t++) {
            String suffix = t == 0 ? "" : "_ts";
            CalibrationResult r = pooled[t].result();
            pooledValues.put("ece" + suffix, r.eceTopLabel());
            pooledValues.put("classwise_ece" + suffix, r.classwiseEce());
            pooledValues.put("boundary_ece" + suffix, pooledBand[t].voxelCount() > 0
                    ? pooledBand[t].result().eceTopLabel() : Double.NaN);
            pooledValues.put("ace" + suffix, r.aceTopLabel());
            pooledValues.put("brier" + suffix, r.brier());
            pooledValues.put("nll" + suffix, r.nll());
            reliability.put("top" + suffix, r.topLabelBins());
            if (pooledQ[t].count() > 0) {
                pooledValues.put("mae_q" + suffix, pooledQ[t].meanAbsoluteError());
                pooledValues.put("ece_q" + suffix, pooledQ[t].ece());
                reliability.put("q" + suffix, pooledQ[t].bins());
            }
        }
        pooledValues.put("temperature", temperature);
        return new Outcome(ids, rows, pooledValues, reliability, temperature);
    }

    private CalibrationMetrics cal() {
        return CalibrationMetrics.builder().numClasses(data.numClasses()).bins(bins).adaptive(false).build();
    }

    private static float[] foreground(INDArray p) {
        return channel(p, 1);
    }

    private static float[] channel(INDArray p, int c) {
        return p.get(NDArrayIndex.point(0), NDArrayIndex.point(c)).dup('c').castTo(DataType.FLOAT).data().asFloat();
    }

    private static boolean[] mask(INDArray y, int c) {
        float[] v = y.dup('c').data().asFloat();
        boolean[] m = new boolean[v.length];
        for (int i = 0; i < v.length; i++) {
            m[i] = Math.round(v[i]) == c;
        }
        return m;
    }
}
