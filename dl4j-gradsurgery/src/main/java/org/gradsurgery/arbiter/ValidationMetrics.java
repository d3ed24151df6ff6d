package org.gradsurgery.arbiter;

import java.util.Locale;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.calibration.CalibrationMetrics;
import org.gradsurgery.calibration.CalibrationResult;
import org.gradsurgery.calibration.RegionMasks;
import org.gradsurgery.metrics.SegmentationMetrics;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * A candidate's validation metrics, computed with the project's {@link SegmentationMetrics} and
 * {@link CalibrationMetrics} (15 equal-width bins): mean foreground Dice, class-wise ECE (mean over all classes of
 * the per-class ECE), top-label ECE, class-wise ECE restricted to the ±k boundary band of the ground truth
 * ({@link RegionMasks#boundaryBand}, k in the units of the spacing), NLL and Brier score. Immutable.
 */
public final class ValidationMetrics {
    private final double dice;
    private final double eceClasswise;
    private final double eceTopLabel;
    private final double eceBoundary;
    private final double nll;
    private final double brier;

    public ValidationMetrics(double dice, double eceClasswise, double eceTopLabel, double eceBoundary, double nll,
                             double brier) {
        this.dice = dice;
        this.eceClasswise = eceClasswise;
        this.eceTopLabel = eceTopLabel;
        this.eceBoundary = eceBoundary;
        this.nll = nll;
        this.brier = brier;
    }

    /**
     * Runs {@code net} on the validation set in batches and scores its probabilities.
     *
     * @param net        a graph with one input and one output of class probabilities {@code [N, C, spatial...]}
     * @param validation features and one-hot labels {@code [N, C, spatial...]}
     * @param spacing    voxel size per spatial axis (null = 1)
     * @param bandWidth  half-width k of the boundary band, in units of {@code spacing} (> 0)
     * @param batchSize  examples per forward pass
     */
    public static ValidationMetrics evaluate(ComputationGraph net, DataSet validation, double[] spacing,
                                             double bandWidth, int batchSize) {
        return evaluate(net, java.util.List.of(validation), spacing, bandWidth, batchSize);
    }

    /**
     * {@link #evaluate(ComputationGraph, DataSet, double[], double, int)} on a validation set in parts of different
     * shapes (e.g. slices of cases of different in-plane sizes), each run at its own size: the metrics accumulate
     * over all parts exactly as over one set (voxel counts for calibration, per-example Dice), with nothing padded.
     */
    public static ValidationMetrics evaluate(ComputationGraph net, java.util.List<DataSet> parts, double[] spacing,
                                             double bandWidth, int batchSize) {
        int numClasses = (int) parts.get(0).getLabels().size(1);
        SegmentationMetrics seg = SegmentationMetrics.builder().numClasses(numClasses).spacing(spacing)
                .surfaceDistances(false).build();
        CalibrationMetrics all = CalibrationMetrics.builder().numClasses(numClasses).build();
        CalibrationMetrics band = CalibrationMetrics.builder().numClasses(numClasses).build();
        for (DataSet part : parts) {
            INDArray x = part.getFeatures();
            INDArray y = part.getLabels();
            long n = x.size(0);
            for (long start = 0; start < n; start += batchSize) {
                long end = Math.min(n, start + batchSize);
                INDArray xb = x.get(NDArrayIndex.interval(start, end));
                INDArray yb = y.get(NDArrayIndex.interval(start, end));
                INDArray probs = net.output(false, xb)[0];
                seg.update(probs, yb);
                all.update(probs, yb);
                band.update(probs, yb, RegionMasks.boundaryBand(Nd4j.argMax(yb, 1), bandWidth, spacing));
            }
        }
        CalibrationResult c = all.result();
        CalibrationResult b = band.result();
        return new ValidationMetrics(seg.result().meanDice(), c.classwiseEce(), c.eceTopLabel(),
                b.voxelCount() == 0 ? Double.NaN : b.classwiseEce(), c.nll(), c.brier());
    }

    /** Mean Dice over the foreground classes. */
    public double dice() {
        return dice;
    }

    /** Mean over the C classes of the per-class ECE. */
    public double eceClasswise() {
        return eceClasswise;
    }

    /** ECE of the top-label confidence. */
    public double eceTopLabel() {
        return eceTopLabel;
    }

    /** Class-wise ECE over the boundary band (NaN if the band is empty). */
    public double eceBoundary() {
        return eceBoundary;
    }

    public double nll() {
        return nll;
    }

    public double brier() {
        return brier;
    }

    /** The value of {@code metric}. */
    public double get(Metric metric) {
        switch (metric) {
            case DICE:
                return dice;
            case ECE_CLASSWISE:
                return eceClasswise;
            case ECE_TOP_LABEL:
                return eceTopLabel;
            case ECE_BOUNDARY:
                return eceBoundary;
            case NLL:
                return nll;
            case BRIER:
                return brier;
            default:
                throw new AssertionError(metric);
        }
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "dice=%.4f ece=%.4f ece_top=%.4f ece_band=%.4f nll=%.4f brier=%.4f", dice,
                eceClasswise, eceTopLabel, eceBoundary, nll, brier);
    }

    /** The per-candidate metrics, with their spec names and directions. */
    public enum Metric {
        DICE(false), ECE_CLASSWISE(true), ECE_TOP_LABEL(true), ECE_BOUNDARY(true), NLL(true), BRIER(true);

        private final boolean minimize;

        Metric(boolean minimize) {
            this.minimize = minimize;
        }

        /** Whether lower is better. */
        public boolean minimize() {
            return minimize;
        }

        /** The spec/CSV name: lower case with underscores. */
        public String specName() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** Whether {@code a} is strictly better than {@code b} (NaN is never better, and anything beats NaN). */
        public boolean better(double a, double b) {
            if (Double.isNaN(a)) {
                return false;
            }
            if (Double.isNaN(b)) {
                return true;
            }
            return minimize ? a < b : a > b;
        }
    }
}
