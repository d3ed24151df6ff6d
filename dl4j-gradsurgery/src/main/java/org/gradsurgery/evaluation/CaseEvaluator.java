package org.gradsurgery.evaluation;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.calibration.CalibrationMetrics;
import org.gradsurgery.calibration.CalibrationResult;
import org.gradsurgery.calibration.TemperatureScaling;
import org.gradsurgery.calibration.TemperatureScalingResult;
import org.gradsurgery.data.Case;
import org.gradsurgery.data.LabelMap;
import org.gradsurgery.data.CaseWindows;
import org.gradsurgery.data.Preprocessing;
import org.gradsurgery.data.Sample;
import org.gradsurgery.data.Transform;
import org.gradsurgery.metrics.SegmentationMetrics;
import org.gradsurgery.model.Inference;
import org.gradsurgery.model.SlidingWindowInference;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Evaluates a softmax segmentation network case by case, each case on its own grid and with its own voxel spacing,
 * as nnU-Net and MONAI report: one prediction per case, Dice/IoU/HD95/ASSD per case and class
 * ({@link SegmentationMetrics}), class means over cases, and calibration over the case's real voxels only.
 *
 * <p>How the network sees a case (after the label map and the {@code preprocess} transform, e.g. intensity
 * normalisation and resampling):
 * <ul>
 *   <li>{@link Mode#SLICES} (a 2D network on volumes): the volume is padded in-plane to a multiple m of the network's
 *       size divisor by edge replication ({@link Preprocessing.Padding#EDGE}), every slice along the slice axis is
 *       predicted, the padding is cropped off and the slice logits are stacked back into the case's volume
 *       {@code [1, K, s0, s1, s2]}. The slice axis is never padded, so a 10-slice case is 10 slices. A 2D sample is
 *       one slice.</li>
 *   <li>{@link Mode#WHOLE}: the whole case is padded on every axis to a multiple of m, predicted in one forward pass
 *       and cropped.</li>
 *   <li>{@link Mode#SLIDING_WINDOW}: Gaussian-weighted sliding windows ({@link SlidingWindowInference}) over the
 *       case's own grid (no padding reaches the output).</li>
 * </ul>
 * The metrics are then those of the stacked volume, e.g. per case and class {@code Dice = 2|P∩G|/(|P|+|G|)} over all
 * voxels of the case, never a mean of per-slice values; HD95 and ASSD use the case's spacing after preprocessing
 * ({@link Sample#spacing()}). Calibration (ECE, ACE, Brier, NLL) pools the real voxels of every case. Temperature
 * scaling fits T on the calibration cases (or on the evaluated cases when none are given) and reports calibration of
 * softmax(z / T); the argmax and so the segmentation metrics do not change with T.
 *
 * <p>Memory: one case is loaded at a time; the logits of evaluated cases are kept for the temperature-scaled pass up
 * to {@link Builder#logitCacheBytes(long)} and recomputed beyond that.
 */
public final class CaseEvaluator {

    /** How the network is applied to a case; see the class doc. */
    public enum Mode {
        SLICES, WHOLE, SLIDING_WINDOW
    }

    /** Called once per evaluated case with its preprocessed sample and logits {@code [1, K, spatial...]}. */
    @FunctionalInterface
    public interface CaseListener {
        void accept(Sample sample, INDArray logits);
    }

    private final int numClasses;
    private final int bins;
    private final boolean adaptive;
    private final boolean surfaceDistances;
    private final boolean worstCase;
    private final boolean temperatureScaling;
    private final LabelMap labelMap;
    private final Transform preprocess;
    private final Mode mode;
    private final int sliceAxis;
    private final int multiple;
    private final int[] padHighEnd;
    private final int sliceBatch;
    private final SlidingWindowInference slidingWindow;
    private final Inference inference;
    private final long logitCacheBytes;

    private CaseEvaluator(Builder b) {
        this.numClasses = b.numClasses;
        this.bins = b.bins;
        this.adaptive = b.adaptive;
        this.surfaceDistances = b.surfaceDistances;
        this.worstCase = b.worstCase;
        this.temperatureScaling = b.temperatureScaling;
        this.labelMap = b.labelMap;
        this.preprocess = b.preprocess;
        this.mode = b.mode;
        this.sliceAxis = b.sliceAxis;
        this.multiple = b.multiple;
        this.padHighEnd = b.padHighEnd;
        this.sliceBatch = b.sliceBatch;
        this.slidingWindow = b.slidingWindow;
        this.inference = b.inference;
        this.logitCacheBytes = b.logitCacheBytes;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Evaluates every case of {@code cases} (labels required); T (if enabled) is fitted on the same cases. */
    public CaseEvaluation evaluate(ComputationGraph net, List<Case> cases) {
        return evaluate(net, cases, null, null);
    }

    /**
     * Evaluates every case of {@code cases}; with temperature scaling, T is fitted on {@code calibrationCases}
     * (null = on {@code cases}). {@code listener} (may be null) sees each evaluated case's logits at T = 1.
     */
    public CaseEvaluation evaluate(ComputationGraph net, List<Case> cases, List<Case> calibrationCases,
                                   CaseListener listener) {
        return run(net, suppliers(cases), calibrationCases == null ? null : suppliers(calibrationCases), listener);
    }

    /** Loads a case by id (e.g. a data source's {@code load}); raw label codes, the stored grid. */
    @FunctionalInterface
    public interface CaseLoader {
        Sample load(String id) throws IOException;
    }

    /**
     * {@link #evaluate(ComputationGraph, List, List, CaseListener)} on the cases {@code ids} of any source, loaded
     * one at a time by {@code loader}; T is fitted on {@code calibrationIds} (null = on {@code ids}).
     */
    public CaseEvaluation evaluate(ComputationGraph net, List<String> ids, CaseLoader loader,
                                   List<String> calibrationIds, CaseListener listener) {
        return run(net, suppliers(ids, loader), calibrationIds == null ? null : suppliers(calibrationIds, loader),
                listener);
    }

    private static List<Supplier<Sample>> suppliers(List<String> ids, CaseLoader loader) {
        List<Supplier<Sample>> out = new ArrayList<>(ids.size());
        for (String id : ids) {
            out.add(() -> {
                try {
                    return loader.load(id);
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot read case " + id + ": " + e.getMessage(), e);
                }
            });
        }
        return out;
    }

    /** {@link #evaluate(ComputationGraph, List, List, CaseListener)} on samples already loaded (raw label codes). */
    public CaseEvaluation evaluateSamples(ComputationGraph net, List<Sample> samples, List<Sample> calibration,
                                          CaseListener listener) {
        return run(net, samples.stream().<Supplier<Sample>>map(s -> () -> s).toList(),
                calibration == null ? null : calibration.stream().<Supplier<Sample>>map(s -> () -> s).toList(),
                listener);
    }

    private static List<Supplier<Sample>> suppliers(List<Case> cases) {
        List<Supplier<Sample>> out = new ArrayList<>(cases.size());
        for (Case c : cases) {
            out.add(() -> {
                try {
                    return c.load();
                } catch (IOException e) {
                    throw new UncheckedIOException("cannot read case " + c.id() + " (" + c.images().get(0) + "): "
                            + e.getMessage(), e);
                }
            });
        }
        return out;
    }

    /** The sample as the network sees it: label map applied, then {@code preprocess}. */
    public Sample prepare(Sample raw) {
        Sample s = raw;
        if (labelMap != null && s.hasLabel()) {
            s = labelMap.asTransform().apply(s, new SplittableRandom(0));
        }
        return preprocess.apply(s, new SplittableRandom(0));
    }

    private CaseEvaluation run(ComputationGraph net, List<Supplier<Sample>> cases, List<Supplier<Sample>> calibration,
                               CaseListener listener) {
        Objects.requireNonNull(net, "net");
        if (cases.isEmpty()) {
            throw new IllegalArgumentException("CaseEvaluator: no cases to evaluate");
        }
        SegmentationMetrics seg = SegmentationMetrics.builder().numClasses(numClasses)
                .surfaceDistances(surfaceDistances).worstCaseDistanceForEmpty(worstCase).build();
        CalibrationMetrics cal = calibrationMetrics();
        TemperatureScaling ts = temperatureScaling ? TemperatureScaling.builder().build() : null;
        List<CaseEvaluation.CaseInfo> infos = new ArrayList<>();
        List<INDArray> cached = new ArrayList<>();
        long cachedBytes = 0;
        for (Supplier<Sample> supplier : cases) {
            Sample s = prepare(supplier.get());
            INDArray labels = labels(s);
            INDArray z = logits(net, s);
            INDArray p = TemperatureScaling.apply(z, 1.0, TemperatureScaling.Activation.SOFTMAX);
            seg.update(p, labels, s.spacing());
            cal.update(p, labels, null);
            if (ts != null && calibration == null) {
                ts.add(z, labels, null);
            }
            if (listener != null) {
                listener.accept(s, z);
            }
            infos.add(new CaseEvaluation.CaseInfo(s.id(), s.shape(), s.spacing()));
            long bytes = z.length() * z.dataType().width();
            if (ts != null && cachedBytes + bytes <= logitCacheBytes) {
                cached.add(z);
                cachedBytes += bytes;
            } else {
                cached.add(null);
            }
        }
        TemperatureScalingResult t = null;
        CalibrationResult scaled = null;
        if (ts != null) {
            if (calibration != null) {
                for (Supplier<Sample> supplier : calibration) {
                    Sample s = prepare(supplier.get());
                    ts.add(logits(net, s), labels(s), null);
                }
            }
            t = ts.fit();
            CalibrationMetrics after = calibrationMetrics();
            for (int i = 0; i < cases.size(); i++) {
                INDArray z = cached.get(i);
                Sample s = prepare(cases.get(i).get());
                if (z == null) {
                    z = logits(net, s);
                }
                after.update(t.apply(z), labels(s), null);
            }
            scaled = after.result();
        }
        EvaluationResult r = new EvaluationResult(seg.result(), cal.result(), t, scaled, Double.NaN, cases.size());
        return new CaseEvaluation(r, infos);
    }

    private CalibrationMetrics calibrationMetrics() {
        return CalibrationMetrics.builder().numClasses(numClasses).bins(bins).adaptive(adaptive).build();
    }

    private INDArray labels(Sample s) {
        if (!s.hasLabel()) {
            throw new org.gradsurgery.InvalidInputException("CaseEvaluator: case " + s.id() + " has no label file to score "
                    + "against");
        }
        int[] shape = s.shape();
        org.gradsurgery.data.Labels.checkClassRange(s.labelData(), shape, numClasses, "case " + s.id());
        long[] ls = new long[shape.length + 1];
        ls[0] = 1;
        for (int d = 0; d < shape.length; d++) {
            ls[d + 1] = shape[d];
        }
        return s.label().reshape('c', ls);
    }

    /**
     * Softmax logits of one prepared sample on its own grid, {@code [1, K, spatial...]} (padding cropped off).
     *
     * @throws IllegalArgumentException when the network gives non-finite logits (naming the case)
     */
    public INDArray logits(ComputationGraph net, Sample s) {
        INDArray z = switch (mode) {
            case SLIDING_WINDOW -> slidingWindow(net, s);
            case WHOLE -> whole(net, s);
            case SLICES -> s.spatialRank() == 3 ? slices(net, s) : whole(net, s);
        };
        if (z.size(1) != numClasses) {
            throw new IllegalArgumentException("CaseEvaluator: the network gives " + z.size(1) + " output channels "
                    + "but " + numClasses + " classes are evaluated");
        }
        if (!Double.isFinite(z.sumNumber().doubleValue())) {
            throw new IllegalArgumentException("CaseEvaluator: the network's output for case " + s.id() + " is not "
                    + "finite (check that case's image for NaN or infinite intensities)");
        }
        return z;
    }

    private INDArray input(Sample s) {
        INDArray x = s.image();
        long[] shape = new long[x.rank() + 1];
        shape[0] = 1;
        System.arraycopy(x.shape(), 0, shape, 1, x.rank());
        return x.reshape('c', shape);
    }

    private INDArray slidingWindow(ComputationGraph net, Sample s) {
        INDArray p = slidingWindow.predict(net, input(s));
        return Transforms.log(Transforms.max(p, Inference.PROBABILITY_FLOOR, false), false);
    }

    /** Centred crop start of each axis after padding {@code shape} to {@code padded}. */
    private static int[] start(int[] shape, int[] padded) {
        int[] st = new int[shape.length];
        for (int d = 0; d < shape.length; d++) {
            st[d] = -Math.floorDiv(shape[d] - padded[d], 2);
        }
        return st;
    }

    private INDArray whole(ComputationGraph net, Sample s) {
        int[] shape = s.shape();
        Sample padded = padHighEnd != null ? CaseWindows.padHighEnd(s, padHighEnd, multiple, -1)
                : Preprocessing.padToMultiple(multiple, Preprocessing.Padding.EDGE).apply(s, new SplittableRandom(0));
        INDArray z = inference.logits(net, input(padded));
        int[] st = padHighEnd != null ? new int[shape.length] : start(shape, padded.shape());
        INDArrayIndex[] idx = new INDArrayIndex[shape.length + 2];
        idx[0] = NDArrayIndex.all();
        idx[1] = NDArrayIndex.all();
        for (int d = 0; d < shape.length; d++) {
            idx[d + 2] = NDArrayIndex.interval(st[d], st[d] + shape[d]);
        }
        return z.get(idx).dup('c');
    }

    private INDArray slices(ComputationGraph net, Sample s) {
        int[] shape = s.shape();
        int[] plane = Preprocessing.inPlaneAxes(sliceAxis);
        Sample padded = padHighEnd != null ? CaseWindows.padHighEnd(s, padHighEnd, multiple, sliceAxis)
                : Preprocessing.padToMultiple(multiple, Preprocessing.Padding.EDGE, plane).apply(s,
                new SplittableRandom(0));
        int[] pshape = padded.shape();
        int[] st = padHighEnd != null ? new int[shape.length] : start(shape, pshape);
        // [C, s0, s1, s2] -> [slice, C, a, b]
        INDArray vol = padded.image().permute(sliceAxis + 1, 0, plane[0] + 1, plane[1] + 1);
        INDArray out = Nd4j.create(DataType.FLOAT, 1, numClasses, shape[0], shape[1], shape[2]);
        // [1, K, s0, s1, s2] -> view [slice, K, a, b]
        INDArray outView = out.get(NDArrayIndex.point(0)).permute(sliceAxis + 1, 0, plane[0] + 1, plane[1] + 1);
        int n = shape[sliceAxis];
        for (int z0 = 0; z0 < n; z0 += sliceBatch) {
            int z1 = Math.min(n, z0 + sliceBatch);
            INDArray x = vol.get(NDArrayIndex.interval(z0, z1), NDArrayIndex.all(), NDArrayIndex.all(),
                    NDArrayIndex.all()).dup('c');
            INDArray z = inference.logits(net, x);
            if (z.rank() != 4 || z.size(2) != pshape[plane[0]] || z.size(3) != pshape[plane[1]]) {
                throw new IllegalArgumentException("CaseEvaluator: the network maps slices of shape "
                        + Arrays.toString(x.shape()) + " to " + Arrays.toString(z.shape())
                        + "; a 2D segmentation network keeps the spatial size");
            }
            INDArray cropped = z.get(NDArrayIndex.all(), NDArrayIndex.all(),
                    NDArrayIndex.interval(st[plane[0]], st[plane[0]] + shape[plane[0]]),
                    NDArrayIndex.interval(st[plane[1]], st[plane[1]] + shape[plane[1]]));
            outView.get(NDArrayIndex.interval(z0, z1), NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.all())
                    .assign(cropped.castTo(DataType.FLOAT));
        }
        return out;
    }

    /** Builder; {@code numClasses} and one of {@link #slices}, {@link #whole}, {@link #slidingWindow} are required. */
    public static final class Builder {
        private int numClasses;
        private int bins = 15;
        private boolean adaptive = true;
        private boolean surfaceDistances = true;
        private boolean worstCase;
        private boolean temperatureScaling = true;
        private LabelMap labelMap;
        private Transform preprocess = Transform.identity();
        private Mode mode;
        private int sliceAxis = 2;
        private int multiple = 1;
        private int[] padHighEnd;
        private int sliceBatch = 16;
        private SlidingWindowInference slidingWindow;
        private Inference inference = Inference.graph();
        private long logitCacheBytes = 512L << 20;

        private Builder() {
        }

        /** Number of classes K ≥ 2 including background. */
        public Builder numClasses(int k) {
            this.numClasses = k;
            return this;
        }

        /** Calibration bins (default 15). */
        public Builder bins(int bins) {
            this.bins = bins;
            return this;
        }

        /** Adaptive (equal-mass) ECE (default true). */
        public Builder adaptive(boolean on) {
            this.adaptive = on;
            return this;
        }

        /** HD95 and ASSD (default true). */
        public Builder surfaceDistances(boolean on) {
            this.surfaceDistances = on;
            return this;
        }

        /** HD95/ASSD of a case with exactly one of P, G empty: the image diagonal instead of NaN (default false). */
        public Builder worstCaseDistanceForEmpty(boolean on) {
            this.worstCase = on;
            return this;
        }

        /** Fit T and report calibration of softmax(z / T) too (default true). */
        public Builder temperatureScaling(boolean on) {
            this.temperatureScaling = on;
            return this;
        }

        /** Raw label codes to classes (null = the labels are class ids already). */
        public Builder labelMap(LabelMap map) {
            this.labelMap = map;
            return this;
        }

        /** Deterministic per-case preprocessing as in training, without the size-divisor padding (added here). */
        public Builder preprocess(Transform t) {
            this.preprocess = Objects.requireNonNull(t, "preprocess");
            return this;
        }

        /**
         * A 2D network applied to every slice along {@code sliceAxis} of a volume (2D samples: the whole image);
         * slices are padded in-plane to a multiple of {@code multiple} and cropped back.
         */
        public Builder slices(int sliceAxis, int multiple) {
            this.mode = Mode.SLICES;
            this.sliceAxis = sliceAxis;
            this.multiple = multiple;
            return this;
        }

        /** The network applied to the whole case, padded on every axis to a multiple of {@code multiple}. */
        public Builder whole(int multiple) {
            this.mode = Mode.WHOLE;
            this.multiple = multiple;
            return this;
        }

        /**
         * In {@link #slices} and {@link #whole} mode: pad each case at the high end with its minimum intensity to at
         * least {@code size} (the slice axis keeps its own size), as a network trained on cases padded to that common
         * size saw them ({@link CaseWindows#padHighEnd}), instead of centred edge padding; the padding is cut off
         * before scoring. A network learns where its training padding is, so it is scored on the same padding.
         */
        public Builder padHighEnd(int[] size) {
            this.padHighEnd = size == null ? null : size.clone();
            return this;
        }

        /** Sliding-window inference over each case. */
        public Builder slidingWindow(SlidingWindowInference swi) {
            this.mode = Mode.SLIDING_WINDOW;
            this.slidingWindow = Objects.requireNonNull(swi, "slidingWindow");
            return this;
        }

        /** How logits are obtained in {@link Mode#SLICES} and {@link Mode#WHOLE} (default {@link Inference#graph()}). */
        public Builder inference(Inference inference) {
            this.inference = Objects.requireNonNull(inference, "inference");
            return this;
        }

        /** Slices per forward pass in {@link Mode#SLICES} (default 16). */
        public Builder sliceBatch(int n) {
            this.sliceBatch = n;
            return this;
        }

        /** Bytes of logits kept between the two temperature passes (default 512 MiB; beyond, recomputed). */
        public Builder logitCacheBytes(long bytes) {
            this.logitCacheBytes = bytes;
            return this;
        }

        public CaseEvaluator build() {
            if (numClasses < 2) {
                throw new IllegalArgumentException("CaseEvaluator: numClasses must be >= 2, got " + numClasses);
            }
            if (bins < 1) {
                throw new IllegalArgumentException("CaseEvaluator: bins must be >= 1, got " + bins);
            }
            if (mode == null) {
                throw new IllegalArgumentException("CaseEvaluator: choose slices(axis, multiple), whole(multiple) "
                        + "or slidingWindow(swi)");
            }
            if (multiple < 1) {
                throw new IllegalArgumentException("CaseEvaluator: the size multiple must be >= 1, got " + multiple);
            }
            if (sliceAxis < 0 || sliceAxis > 2) {
                throw new IllegalArgumentException("CaseEvaluator: slice axis must be 0, 1 or 2, got " + sliceAxis);
            }
            if (sliceBatch < 1) {
                throw new IllegalArgumentException("CaseEvaluator: sliceBatch must be >= 1, got " + sliceBatch);
            }
            if (labelMap != null && labelMap.numClasses() > numClasses) {
                throw new IllegalArgumentException("CaseEvaluator: the label map gives " + labelMap.numClasses()
                        + " classes but numClasses is " + numClasses);
            }
            return new CaseEvaluator(this);
        }
    }
}
