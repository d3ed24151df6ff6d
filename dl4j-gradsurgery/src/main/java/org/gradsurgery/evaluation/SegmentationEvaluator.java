package org.gradsurgery.evaluation;

import org.gradsurgery.model.Inference;
import java.util.Objects;
import java.util.function.IntFunction;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.calibration.CalibrationMetrics;
import org.gradsurgery.calibration.CalibrationResult;
import org.gradsurgery.calibration.TemperatureScaling;
import org.gradsurgery.calibration.TemperatureScalingResult;
import org.gradsurgery.metrics.SegmentationMetrics;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;

/**
 * Evaluates a softmax segmentation network on labelled batches ({@code features[0]} {@code [N, Cin, spatial…]},
 * {@code labels[0]} one-hot or class map): Dice and IoU (and HD95/ASSD in the configured spacing) of the argmax,
 * calibration (ECE/MCE/ACE per class and top-label, adaptive ECE, Brier, NLL; see {@code docs/METRICS.md}) of the
 * probabilities, the mean training loss, and optionally temperature scaling.
 *
 * <p>Temperature scaling (Guo et al. 2017): a first pass streams every metric at T = 1 and collects the logits into
 * {@link TemperatureScaling}; T is fitted by minimising their NLL; a second pass runs inference again and measures
 * calibration of softmax(z / T). Fitting T on the very data it is evaluated on gives temperature scaling its best
 * case; pass a separate calibration set to {@link #evaluate(ComputationGraph, MultiDataSetIterator,
 * MultiDataSetIterator)} to avoid that.
 *
 * <p>Every example of a batch is scored as one case. Fed 2D slices of volumes, its Dice is a mean over slices, not
 * the Dice of a case: it serves the per-epoch validation of {@code Trainer}. Reported numbers come from
 * {@link CaseEvaluator}, which stacks slice predictions back into each case's volume and uses each case's spacing.
 */
public final class SegmentationEvaluator {
    private final int numClasses;
    private final int bins;
    private final double[] spacing;
    private final boolean surfaceDistances;
    private final boolean adaptive;
    private final boolean temperatureScaling;
    private final boolean loss;
    private final Inference inference;

    private SegmentationEvaluator(Builder b) {
        this.numClasses = b.numClasses;
        this.bins = b.bins;
        this.spacing = b.spacing == null ? null : b.spacing.clone();
        this.surfaceDistances = b.surfaceDistances;
        this.adaptive = b.adaptive;
        this.temperatureScaling = b.temperatureScaling;
        this.loss = b.loss;
        this.inference = b.inference;
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * The trainers' per-epoch validation: loss, mean foreground Dice and top-label ECE in {@code bins} bins (no
     * surface distances, adaptive ECE or temperature scaling) over {@code batches.apply(batchSize)}, a fresh iterator
     * per call; the class count is the first batch's one-hot label channel count. Null when {@code batches} gives
     * null (no validation data); an empty iterator is an IllegalArgumentException.
     */
    public static EvaluationResult validate(ComputationGraph net, IntFunction<MultiDataSetIterator> batches,
                                            int batchSize, int bins) {
        MultiDataSetIterator val = batches.apply(batchSize);
        if (val == null) {
            return null;
        }
        if (!val.hasNext()) {
            throw new IllegalArgumentException("validation data is empty");
        }
        int classes = (int) val.next().getLabels(0).size(1);
        return builder().numClasses(classes).bins(bins).surfaceDistances(false).adaptive(false)
                .temperatureScaling(false).build().evaluate(net, batches.apply(batchSize));
    }

    /** Evaluates on {@code data}; temperature (if enabled) is fitted on {@code data} too. */
    public EvaluationResult evaluate(ComputationGraph net, MultiDataSetIterator data) {
        return evaluate(net, data, null);
    }

    /**
     * Evaluates on {@code data}; with temperature scaling enabled, T is fitted on {@code calibrationData} (null = on
     * {@code data}).
     */
    public EvaluationResult evaluate(ComputationGraph net, MultiDataSetIterator data,
                                     MultiDataSetIterator calibrationData) {
        Objects.requireNonNull(net, "net");
        Objects.requireNonNull(data, "data");
        SegmentationMetrics seg = SegmentationMetrics.builder().numClasses(numClasses).spacing(spacing)
                .surfaceDistances(surfaceDistances).build();
        CalibrationMetrics cal = calibrationMetrics();
        TemperatureScaling ts = temperatureScaling ? TemperatureScaling.builder().build() : null;
        double lossSum = 0;
        long examples = 0;
        if (data.resetSupported()) {
            data.reset();
        }
        while (data.hasNext()) {
            MultiDataSet mds = data.next();
            INDArray features = mds.getFeatures(0);
            INDArray labels = mds.getLabels(0);
            if (labels == null) {
                throw new IllegalArgumentException("evaluation data has no labels");
            }
            INDArray logits = logits(net, features);
            INDArray probs = TemperatureScaling.apply(logits, 1.0, TemperatureScaling.Activation.SOFTMAX);
            seg.update(probs, labels);
            cal.update(probs, labels, null);
            if (ts != null && calibrationData == null) {
                ts.add(logits, labels, null);
            }
            long n = features.size(0);
            if (loss) {
                lossSum += net.score(mds, false) * n;
            }
            examples += n;
        }
        if (examples == 0) {
            throw new IllegalArgumentException("evaluation data is empty");
        }
        TemperatureScalingResult t = null;
        CalibrationResult scaled = null;
        if (ts != null) {
            if (calibrationData != null) {
                forEach(calibrationData, mds -> ts.add(logits(net, mds.getFeatures(0)), mds.getLabels(0), null));
            }
            t = ts.fit();
            CalibrationMetrics after = calibrationMetrics();
            TemperatureScalingResult fitted = t;
            forEach(data, mds -> after.update(fitted.apply(logits(net, mds.getFeatures(0))), mds.getLabels(0), null));
            scaled = after.result();
        }
        return new EvaluationResult(seg.result(), cal.result(), t, scaled, loss ? lossSum / examples : Double.NaN,
                examples);
    }

    private CalibrationMetrics calibrationMetrics() {
        return CalibrationMetrics.builder().numClasses(numClasses).bins(bins).adaptive(adaptive).build();
    }

    private INDArray logits(ComputationGraph net, INDArray features) {
        INDArray z = inference.logits(net, features);
        if (z.rank() < 3 || z.size(1) != numClasses) {
            throw new IllegalArgumentException("network logits have shape " + java.util.Arrays.toString(z.shape())
                    + "; expected [N, " + numClasses + ", spatial...] (channels first)");
        }
        return z;
    }

    private static void forEach(MultiDataSetIterator it, java.util.function.Consumer<MultiDataSet> action) {
        if (it.resetSupported()) {
            it.reset();
        }
        while (it.hasNext()) {
            action.accept(it.next());
        }
    }

    /** Builder; {@code numClasses} is required. */
    public static final class Builder {
        private int numClasses;
        private int bins = 15;
        private double[] spacing;
        private boolean surfaceDistances = true;
        private boolean adaptive = true;
        private boolean temperatureScaling = true;
        private boolean loss = true;
        private Inference inference = Inference.graph();

        public Builder numClasses(int k) {
            this.numClasses = k;
            return this;
        }

        /** Equal-width (and equal-mass) calibration bins, default 15. */
        public Builder bins(int bins) {
            this.bins = bins;
            return this;
        }

        /** Voxel spacing per spatial axis for HD95/ASSD (null = 1 voxel). */
        public Builder spacing(double... spacing) {
            this.spacing = spacing == null ? null : spacing.clone();
            return this;
        }

        /** Compute HD95 and ASSD (default true; off for fast per-epoch validation). */
        public Builder surfaceDistances(boolean on) {
            this.surfaceDistances = on;
            return this;
        }

        /** Compute adaptive (equal-mass) ECE, which keeps every voxel's confidence (default true). */
        public Builder adaptive(boolean on) {
            this.adaptive = on;
            return this;
        }

        /** Fit and apply a temperature (default true). */
        public Builder temperatureScaling(boolean on) {
            this.temperatureScaling = on;
            return this;
        }

        /** Compute the mean training loss with {@code net.score} (default true). */
        public Builder loss(boolean on) {
            this.loss = on;
            return this;
        }

        /** How logits are obtained (default {@link Inference#graph()}). */
        public Builder inference(Inference inference) {
            this.inference = Objects.requireNonNull(inference, "inference");
            return this;
        }

        public SegmentationEvaluator build() {
            if (numClasses < 2) {
                throw new IllegalArgumentException("SegmentationEvaluator: numClasses must be >= 2, got " + numClasses);
            }
            if (bins < 1) {
                throw new IllegalArgumentException("SegmentationEvaluator: bins must be >= 1, got " + bins);
            }
            return new SegmentationEvaluator(this);
        }
    }
}
