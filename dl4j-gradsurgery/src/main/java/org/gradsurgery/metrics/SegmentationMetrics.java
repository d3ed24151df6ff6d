package org.gradsurgery.metrics;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Accumulates per-class Dice, IoU, HD95 and ASSD over cases and averages them per class (MONAI's
 * {@code reduction="mean_batch"}: one value per case and class, then the mean over cases).
 *
 * <p>For prediction P and reference G of one class in one case:
 * <ul>
 *   <li>Dice = 2|P∩G| / (|P| + |G|) (Dice 1945; Sørensen 1948);</li>
 *   <li>IoU (Jaccard) = |P∩G| / |P∪G|;</li>
 *   <li>HD95 and ASSD in physical units of the voxel spacing, as defined in {@link SurfaceDistance}
 *       (MONAI's conventions: face-connected surfaces, exact EDT, symmetric HD as the max of the two directed
 *       95th percentiles, ASSD pooled over both surfaces).</li>
 * </ul>
 *
 * <p><b>Empty cases</b> (documented choice, following "Metrics reloaded", Maier-Hein et al. 2024):
 * <table>
 *   <caption>values when a structure is absent</caption>
 *   <tr><th>P</th><th>G</th><th>Dice, IoU</th><th>HD95, ASSD</th></tr>
 *   <tr><td>empty</td><td>empty</td><td>1</td><td>0</td></tr>
 *   <tr><td>empty</td><td>non-empty</td><td>0</td><td>NaN, or the image diagonal with
 *       {@link Builder#worstCaseDistanceForEmpty(boolean)}</td></tr>
 *   <tr><td>non-empty</td><td>empty</td><td>0</td><td>same</td></tr>
 * </table>
 * Both-empty counts as a correct "absent" call, as the "Metrics reloaded" recommendations say; MONAI's
 * {@code DiceMetric(ignore_empty=True)} and nnU-Net's evaluation return NaN there instead, so averages over cases
 * with absent structures differ from theirs (the per-case records keep the voxel counts to re-aggregate). A NaN
 * distance is left out of the class mean and counted in {@link SegmentationResult#undefinedDistances(int)}; the
 * worst-case option instead substitutes the diagonal of the image extent, {@code sqrt(Σ_a (n_a·s_a)²)}, as the
 * BraTS challenge does (373.13 mm for its 240×240×155 1 mm grid).
 *
 * <p>Predictions are {@code [N, C, spatial...]} probabilities, logits or one-hot (the class is the argmax over
 * axis 1, ties to the lowest index), or a class map {@code [N, 1, spatial...]}; labels as in
 * {@link SegmentationTensors}. Each example of an update is one case. Not thread-safe.
 */
public final class SegmentationMetrics {
    private static final String OWNER = "SegmentationMetrics";

    private final int numClasses;
    private final double[] spacing;
    private final boolean includeBackground;
    private final boolean surfaceDistances;
    private final boolean worstCase;
    private final List<CaseMetrics> cases = new ArrayList<>();
    private long caseCount;

    private SegmentationMetrics(Builder b) {
        this.numClasses = b.numClasses;
        this.spacing = b.spacing == null ? null : b.spacing.clone();
        this.includeBackground = b.includeBackground;
        this.surfaceDistances = b.surfaceDistances;
        this.worstCase = b.worstCase;
    }

    /** A builder; {@code numClasses} is required. */
    public static Builder builder() {
        return new Builder();
    }

    /** Adds the cases of one batch using the configured spacing. */
    public void update(INDArray prediction, INDArray labels) {
        update(prediction, labels, spacing);
    }

    /**
     * Adds the cases of one batch.
     *
     * @param prediction {@code [N, C, spatial...]} scores (argmax over axis 1) or {@code [N, 1, spatial...]} class map
     * @param labels class map {@code [N, spatial...]} / {@code [N, 1, spatial...]} or one-hot {@code [N, C, spatial...]}
     * @param caseSpacing physical voxel size of these cases per spatial axis (null = 1 voxel)
     */
    public void update(INDArray prediction, INDArray labels, double[] caseSpacing) {
        if (prediction == null) {
            throw new IllegalArgumentException(OWNER + ": prediction must not be null");
        }
        if (prediction.rank() < 3) {
            throw new IllegalArgumentException(OWNER + ": prediction must be [N, C, spatial...] or [N, 1, spatial...]"
                    + " with at least one spatial axis, got shape " + Arrays.toString(prediction.shape()));
        }
        boolean predIsMap = prediction.size(1) == 1;
        if (!predIsMap) {
            SegmentationTensors.checkChannelTensor(prediction, numClasses, 3, OWNER, "prediction");
        }
        long[] ref = prediction.shape().clone();
        ref[1] = numClasses;
        SegmentationTensors.LabelFormat format = SegmentationTensors.labelFormat(labels, ref, OWNER);
        int[] shape = SegmentationTensors.spatialShape(ref, OWNER);
        double[] s = DistanceTransform.checkSpacing(caseSpacing, shape.length, OWNER);
        for (int n = 0; n < ref[0]; n++) {
            int[] pred = predIsMap
                    ? SegmentationTensors.classIndices(prediction, SegmentationTensors.LabelFormat.CLASS_MAP_CHANNEL,
                    n, numClasses, OWNER)
                    : argmax(SegmentationTensors.toDoubleArray(SegmentationTensors.example(prediction, n)), n);
            int[] gt = SegmentationTensors.classIndices(labels, format, n, numClasses, OWNER);
            for (int c = includeBackground ? 0 : 1; c < numClasses; c++) {
                cases.add(evaluate(caseCount, c, pred, gt, shape, s));
            }
            caseCount++;
        }
    }

    /** Computes one class of one case from class maps (flat C-order over {@code shape}). */
    private CaseMetrics evaluate(long caseIndex, int c, int[] pred, int[] gt, int[] shape, double[] s) {
        boolean[] p = new boolean[pred.length];
        boolean[] g = new boolean[gt.length];
        long np = 0;
        long ng = 0;
        long inter = 0;
        for (int i = 0; i < p.length; i++) {
            p[i] = pred[i] == c;
            g[i] = gt[i] == c;
            np += p[i] ? 1 : 0;
            ng += g[i] ? 1 : 0;
            inter += p[i] && g[i] ? 1 : 0;
        }
        double dice = np + ng == 0 ? 1.0 : 2.0 * inter / (np + ng);
        double iou = np + ng == 0 ? 1.0 : (double) inter / (np + ng - inter);
        double hd95 = Double.NaN;
        double assd = Double.NaN;
        if (surfaceDistances) {
            SurfaceDistance sd = SurfaceDistance.compute(p, g, shape, s);
            hd95 = sd.hd95();
            assd = sd.assd();
            if (worstCase && (np == 0) != (ng == 0)) {
                hd95 = diagonal(shape, s);
                assd = hd95;
            }
        }
        return new CaseMetrics(caseIndex, c, dice, iou, hd95, assd, np, ng);
    }

    /** Diagonal of the image extent, the largest distance a surface could be off by. */
    static double diagonal(int[] shape, double[] s) {
        double sum = 0;
        for (int a = 0; a < shape.length; a++) {
            double e = shape[a] * s[a];
            sum += e * e;
        }
        return Math.sqrt(sum);
    }

    private int[] argmax(double[] v, int n) {
        int voxels = v.length / numClasses;
        int[] out = new int[voxels];
        for (int i = 0; i < voxels; i++) {
            int best = 0;
            double bestValue = v[i];
            for (int c = 0; c < numClasses; c++) {
                double x = v[c * voxels + i];
                if (Double.isNaN(x)) {
                    throw new IllegalArgumentException(OWNER + ": prediction is NaN at example " + n + ", class " + c
                            + ", voxel " + i);
                }
                if (x > bestValue) {
                    best = c;
                    bestValue = x;
                }
            }
            out[i] = best;
        }
        return out;
    }

    /** The per-class averages and per-case values so far. */
    public SegmentationResult result() {
        return new SegmentationResult(numClasses, includeBackground, surfaceDistances, caseCount, cases);
    }

    /** Forgets every case. */
    public void reset() {
        cases.clear();
        caseCount = 0;
    }

    /** Number of cases seen. */
    public long caseCount() {
        return caseCount;
    }

    @Override
    public String toString() {
        return OWNER + "{numClasses=" + numClasses + ", spacing=" + Arrays.toString(spacing) + ", includeBackground="
                + includeBackground + ", surfaceDistances=" + surfaceDistances + ", worstCaseDistanceForEmpty="
                + worstCase + ", cases=" + caseCount + "}";
    }

    /** Builder for {@link SegmentationMetrics}. */
    public static final class Builder {
        private int numClasses = -1;
        private double[] spacing;
        private boolean includeBackground;
        private boolean surfaceDistances = true;
        private boolean worstCase;

        private Builder() {
        }

        /** Number of classes C ≥ 2 including background (class 0). Required. */
        public Builder numClasses(int numClasses) {
            this.numClasses = numClasses;
            return this;
        }

        /** Default physical voxel size per spatial axis (e.g. mm, in array axis order); default 1 per axis. */
        public Builder spacing(double... spacing) {
            this.spacing = spacing == null ? null : spacing.clone();
            return this;
        }

        /** Whether class 0 (background) is evaluated too; default false, as usual for segmentation reports. */
        public Builder includeBackground(boolean includeBackground) {
            this.includeBackground = includeBackground;
            return this;
        }

        /** Whether to compute HD95 and ASSD (one distance transform per class and case); default true. */
        public Builder surfaceDistances(boolean surfaceDistances) {
            this.surfaceDistances = surfaceDistances;
            return this;
        }

        /**
         * When exactly one of prediction and reference is empty, report the image diagonal
         * {@code sqrt(Σ (n_a·s_a)²)} as HD95 and ASSD instead of NaN (the BraTS convention); default false.
         */
        public Builder worstCaseDistanceForEmpty(boolean worstCase) {
            this.worstCase = worstCase;
            return this;
        }

        /** Validates and builds. */
        public SegmentationMetrics build() {
            if (numClasses < 2) {
                throw new IllegalArgumentException(OWNER + ": numClasses must be >= 2 (background + at least one "
                        + "class), got " + numClasses);
            }
            if (spacing != null) {
                DistanceTransform.checkSpacing(spacing, spacing.length, OWNER);
            }
            return new SegmentationMetrics(this);
        }
    }
}
