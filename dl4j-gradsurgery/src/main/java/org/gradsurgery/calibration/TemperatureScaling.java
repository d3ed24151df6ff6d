package org.gradsurgery.calibration;

import java.util.Arrays;
import java.util.Locale;
import org.gradsurgery.metrics.SegmentationTensors;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Temperature scaling (Guo et al., "On calibration of modern neural networks", ICML 2017): the post-hoc baseline
 * that divides every logit by one scalar T &gt; 0 fitted on held-out data, which changes confidence but never the
 * argmax.
 *
 * <p><b>Fit.</b> With β = 1/T, minimise the mean negative log-likelihood over the (masked) validation voxels
 * <ul>
 *   <li>softmax: {@code L(β) = mean_v [ logsumexp_c(β z_vc) − β z_vy ]}, with
 *       {@code L'(β) = mean_v (E_p[z] − z_y)} and {@code L''(β) = mean_v Var_p[z] ≥ 0} under p = softmax(β z);</li>
 *   <li>sigmoid (independent channels, targets t ∈ {0,1}): {@code L(β) = mean_vc [ softplus(β z) − t β z ]},
 *       {@code L' = mean (σ(β z) − t) z}, {@code L'' = mean σ(1−σ) z²}.</li>
 * </ul>
 * Both are convex in β, so the minimiser is unique. The solver brackets it (β = 1, then the bound on the side the
 * slope points to) and runs Newton's method on β, falling back to a geometric bisection step whenever Newton
 * would leave the bracket; it stops when a step or the bracket is below {@code tolerance}·β. "Iterations" counts
 * passes over the data (one value/slope/curvature evaluation each). When the minimum lies beyond the allowed
 * temperature range, the fit returns the bound and {@code converged() == false}.
 *
 * <p><b>Memory.</b> {@link #add} copies the masked voxels: 4·C bytes of logits plus 4 bytes of label (softmax) or
 * C bytes of targets (sigmoid) per voxel, at most 2^31 − 9 logits in total.
 *
 * <p>Logits are {@code [N, C, spatial...]} (rank ≥ 2). Softmax labels are read like {@link CalibrationMetrics}'s;
 * sigmoid targets are 0/1 with the logits' shape (multi-label), or a class map (class c sets channel c; with C = 1
 * the map value itself, 0 or 1, is the target). Not thread-safe.
 */
public final class TemperatureScaling {
    private static final String OWNER = "TemperatureScaling";

    /** The output activation the temperature is applied inside. */
    public enum Activation {
        SOFTMAX,
        SIGMOID
    }

    private final Activation activation;
    private final double tolerance;
    private final int maxIterations;
    private final double minTemperature;
    private final double maxTemperature;
    private int numClasses = -1;
    private float[] zs = new float[1 << 12];
    private int[] ys = new int[1 << 10];
    private byte[] ts = new byte[1 << 12];
    private int voxels;

    private TemperatureScaling(Builder b) {
        activation = b.activation;
        tolerance = b.tolerance;
        maxIterations = b.maxIterations;
        minTemperature = b.minTemperature;
        maxTemperature = b.maxTemperature;
    }

    /** A builder with softmax, tolerance 1e-6, 100 iterations and T in [0.01, 100]. */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Adds validation data.
     *
     * @param logits {@code [N, C, spatial...]} pre-activation outputs
     * @param labels class map or one-hot (softmax), 0/1 targets (sigmoid); see the class documentation
     * @param mask 0/1 {@code [N, spatial...]} or {@code [N, 1, spatial...]}, or null for every voxel
     */
    public TemperatureScaling add(INDArray logits, INDArray labels, INDArray mask) {
        if (logits == null) {
            throw new IllegalArgumentException(OWNER + ": logits must not be null");
        }
        int c = (int) (logits.rank() >= 2 ? logits.size(1) : -1);
        if (numClasses < 0) {
            if (activation == Activation.SOFTMAX && c < 2) {
                throw new IllegalArgumentException(OWNER + ": softmax needs at least 2 channels on axis 1, got shape "
                        + Arrays.toString(logits.shape()));
            }
            numClasses = c;
        }
        SegmentationTensors.checkChannelTensor(logits, numClasses, 2, OWNER, "logits");
        long[] ref = logits.shape();
        SegmentationTensors.LabelFormat format = SegmentationTensors.labelFormat(labels, ref, OWNER);
        SegmentationTensors.checkMask(mask, ref, OWNER);
        SegmentationTensors.spatialShape(ref, OWNER);
        int cc = numClasses;
        for (int n = 0; n < ref[0]; n++) {
            double[] z = SegmentationTensors.toDoubleArray(SegmentationTensors.example(logits, n));
            boolean[] m = SegmentationTensors.maskValues(mask, n, OWNER);
            int s = z.length / cc;
            int[] y = null;
            double[] t = null;
            if (activation == Activation.SOFTMAX || format != SegmentationTensors.LabelFormat.ONE_HOT) {
                y = SegmentationTensors.classIndices(labels, format, n, cc == 1 ? 2 : cc, OWNER);
            } else {
                t = SegmentationTensors.toDoubleArray(SegmentationTensors.example(labels, n));
            }
            for (int i = 0; i < s; i++) {
                if (m != null && !m[i]) {
                    continue;
                }
                ensureCapacity();
                for (int k = 0; k < cc; k++) {
                    double v = z[k * s + i];
                    if (!Double.isFinite(v)) {
                        throw new IllegalArgumentException(OWNER + ": logit " + v + " at example " + n + ", class "
                                + k + ", voxel " + i + " is not finite");
                    }
                    zs[voxels * cc + k] = (float) v;
                    if (activation == Activation.SIGMOID) {
                        double target;
                        if (t != null) {
                            target = t[k * s + i];
                            if (target != 0 && target != 1) {
                                throw new IllegalArgumentException(OWNER + ": sigmoid targets must be 0/1, found "
                                        + target + " at example " + n + ", class " + k + ", voxel " + i);
                            }
                        } else {
                            target = cc == 1 ? y[i] : (y[i] == k ? 1 : 0);
                        }
                        ts[voxels * cc + k] = (byte) target;
                    }
                }
                if (activation == Activation.SOFTMAX) {
                    ys[voxels] = y[i];
                }
                voxels++;
            }
        }
        return this;
    }

    private void ensureCapacity() {
        long need = (long) (voxels + 1) * numClasses;
        if (need > Integer.MAX_VALUE - 8) {
            throw new IllegalStateException(OWNER + ": more than 2^31 logits; subsample the validation voxels");
        }
        if (need > zs.length) {
            int n = (int) Math.min(Integer.MAX_VALUE - 8L, Math.max(need, 2L * zs.length));
            zs = Arrays.copyOf(zs, n);
            if (activation == Activation.SIGMOID) {
                ts = Arrays.copyOf(ts, n);
            }
        }
        if (activation == Activation.SOFTMAX && voxels + 1 > ys.length) {
            ys = Arrays.copyOf(ys, (int) Math.min(Integer.MAX_VALUE - 8L, 2L * ys.length));
        }
    }

    /** {@link #add} then {@link #fit()}. */
    public TemperatureScalingResult fit(INDArray logits, INDArray labels, INDArray mask) {
        return add(logits, labels, mask).fit();
    }

    /** Fits T on everything added so far. */
    public TemperatureScalingResult fit() {
        if (voxels == 0) {
            throw new IllegalStateException(OWNER + ": no validation voxels were added (or the masks were all 0)");
        }
        double betaMin = 1 / maxTemperature;
        double betaMax = 1 / minTemperature;
        double[] e = evaluate(1.0);
        double nllBefore = e[0];
        int iterations = 1;
        double beta = 1.0;
        double lo;
        double hi;
        if (e[1] == 0) {
            return result(1.0, iterations, true, nllBefore, nllBefore);
        } else if (e[1] < 0) {
            double[] b = evaluate(betaMax);
            iterations++;
            if (b[1] <= 0) {
                return result(betaMax, iterations, false, nllBefore, b[0]);
            }
            lo = 1.0;
            hi = betaMax;
        } else {
            double[] b = evaluate(betaMin);
            iterations++;
            if (b[1] >= 0) {
                return result(betaMin, iterations, false, nllBefore, b[0]);
            }
            lo = betaMin;
            hi = 1.0;
        }
        boolean converged = false;
        while (iterations < maxIterations) {
            double next = e[2] > 0 ? beta - e[1] / e[2] : Double.NaN;
            if (!(next > lo && next < hi)) {
                next = Math.sqrt(lo * hi);
            }
            double step = Math.abs(next - beta);
            beta = next;
            e = evaluate(beta);
            iterations++;
            if (e[1] > 0) {
                hi = beta;
            } else if (e[1] < 0) {
                lo = beta;
            } else {
                converged = true;
                break;
            }
            if (step <= tolerance * beta || hi - lo <= tolerance * beta) {
                converged = true;
                break;
            }
        }
        return result(beta, iterations, converged, nllBefore, e[0]);
    }

    private TemperatureScalingResult result(double beta, int iterations, boolean converged, double before,
                                            double after) {
        return new TemperatureScalingResult(1 / beta, iterations, converged, before, after, voxels, activation);
    }

    /** {L(β), L'(β), L''(β)} in one pass. */
    private double[] evaluate(double beta) {
        double f = 0;
        double g = 0;
        double h = 0;
        int cc = numClasses;
        if (activation == Activation.SOFTMAX) {
            for (int v = 0; v < voxels; v++) {
                int base = v * cc;
                double max = Double.NEGATIVE_INFINITY;
                for (int k = 0; k < cc; k++) {
                    max = Math.max(max, beta * zs[base + k]);
                }
                double sum = 0;
                double ez = 0;
                double ez2 = 0;
                for (int k = 0; k < cc; k++) {
                    double z = zs[base + k];
                    double w = Math.exp(beta * z - max);
                    sum += w;
                    ez += w * z;
                    ez2 += w * z * z;
                }
                ez /= sum;
                ez2 /= sum;
                double zy = zs[base + ys[v]];
                f += max + Math.log(sum) - beta * zy;
                g += ez - zy;
                h += Math.max(0, ez2 - ez * ez);
            }
            return new double[]{f / voxels, g / voxels, h / voxels};
        }
        long n = (long) voxels * cc;
        for (int i = 0; i < n; i++) {
            double z = zs[i];
            double a = beta * z;
            double t = ts[i];
            // softplus(a) = max(a, 0) + log1p(exp(−|a|)), stable for large |a|
            f += Math.max(a, 0) + Math.log1p(Math.exp(-Math.abs(a))) - t * a;
            double s = 1 / (1 + Math.exp(-a));
            g += (s - t) * z;
            h += s * (1 - s) * z * z;
        }
        return new double[]{f / n, g / n, h / n};
    }

    /** Forgets the added data. */
    public void reset() {
        voxels = 0;
        numClasses = -1;
    }

    /** Voxels added so far. */
    public long voxelCount() {
        return voxels;
    }

    /**
     * Calibrated probabilities: softmax over axis 1 (or element-wise sigmoid) of {@code logits / T}. The input is
     * not modified.
     */
    public static INDArray apply(INDArray logits, double temperature, Activation activation) {
        if (!(temperature > 0) || Double.isInfinite(temperature)) {
            throw new IllegalArgumentException(OWNER + ": temperature must be finite and > 0, got " + temperature);
        }
        if (logits == null || logits.rank() < 2) {
            throw new IllegalArgumentException(OWNER + ": logits must be [N, C, spatial...], got "
                    + (logits == null ? "null" : Arrays.toString(logits.shape())));
        }
        INDArray z = (logits.dataType().isFPType() ? logits : logits.castTo(DataType.FLOAT)).div(temperature);
        if (activation == Activation.SIGMOID) {
            return Transforms.sigmoid(z, false);
        }
        // Over axis 1 of [N, C, V]: libnd4j 1.0.0-M2.1's oneDNN softmax (the default natives) is wrong for FLOAT
        // rank-4 arrays along axis 1, and right for rank 3 on every build (docs/PERFORMANCE.md, "Known upstream bugs").
        long[] shape = z.shape();
        INDArray rows = z.reshape('c', shape[0], shape[1], z.length() / (shape[0] * shape[1]));
        return Nd4j.exec(new SoftMax(rows, rows, 1))[0].reshape('c', shape);
    }

    @Override
    public String toString() {
        return String.format(Locale.ROOT, "%s{activation=%s, tolerance=%g, maxIterations=%d, T in [%g, %g], voxels=%d}",
                OWNER, activation, tolerance, maxIterations, minTemperature, maxTemperature, voxels);
    }

    /** Builder for {@link TemperatureScaling}. */
    public static final class Builder {
        private Activation activation = Activation.SOFTMAX;
        private double tolerance = 1e-6;
        private int maxIterations = 100;
        private double minTemperature = 0.01;
        private double maxTemperature = 100;

        private Builder() {
        }

        /** Softmax (default) or sigmoid outputs. */
        public Builder activation(Activation activation) {
            this.activation = activation;
            return this;
        }

        /** Relative tolerance on β = 1/T; default 1e-6. */
        public Builder tolerance(double tolerance) {
            this.tolerance = tolerance;
            return this;
        }

        /** Maximum passes over the data; default 100. */
        public Builder maxIterations(int maxIterations) {
            this.maxIterations = maxIterations;
            return this;
        }

        /** Allowed temperature range; default [0.01, 100]. */
        public Builder temperatureRange(double min, double max) {
            this.minTemperature = min;
            this.maxTemperature = max;
            return this;
        }

        /** Validates and builds. */
        public TemperatureScaling build() {
            if (activation == null) {
                throw new IllegalArgumentException(OWNER + ": activation must not be null");
            }
            if (!(tolerance > 0 && tolerance < 1)) {
                throw new IllegalArgumentException(OWNER + ": tolerance must be in (0, 1), got " + tolerance);
            }
            if (maxIterations < 3) {
                throw new IllegalArgumentException(OWNER + ": maxIterations must be >= 3, got " + maxIterations);
            }
            if (!(minTemperature > 0 && minTemperature < 1 && maxTemperature > 1)
                    || Double.isInfinite(maxTemperature)) {
                throw new IllegalArgumentException(OWNER + ": temperature range must satisfy 0 < min < 1 < max < ∞, got ["
                        + minTemperature + ", " + maxTemperature + "]");
            }
            return new TemperatureScaling(this);
        }
    }
}
