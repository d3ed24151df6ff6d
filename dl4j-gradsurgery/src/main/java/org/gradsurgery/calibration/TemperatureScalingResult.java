package org.gradsurgery.calibration;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A fitted temperature. Immutable.
 *
 * @param temperature the fitted T (&gt; 1 softens over-confident outputs, &lt; 1 sharpens)
 * @param iterations passes over the validation data the solver used
 * @param converged false when the iteration limit was hit or the optimum lies beyond the allowed temperature range
 *     (T is then the bound)
 * @param nllBefore mean NLL at T = 1 (per voxel for softmax, per voxel and channel for sigmoid)
 * @param nllAfter mean NLL at the fitted T
 * @param voxelCount validation voxels used
 * @param activation softmax or sigmoid
 */
public record TemperatureScalingResult(double temperature, int iterations, boolean converged, double nllBefore,
                                       double nllAfter, long voxelCount, TemperatureScaling.Activation activation) {

    /**
     * A one-line warning when T is not a converged optimum (null otherwise): at a bound of the search range the NLL
     * was still falling, so the true optimum lies beyond it and the reported T (and the calibration after it) is only
     * that bound's; otherwise the solver stopped at its iteration limit.
     */
    public String warning() {
        if (converged) {
            return null;
        }
        return String.format(java.util.Locale.ROOT, "temperature scaling did not converge: T = %.4g after %d "
                + "iteration(s)%s; treat calibration after scaling with care", temperature, iterations,
                temperature >= 99.99 || temperature <= 0.0101 ? " is the bound of the search range (the optimum lies "
                + "beyond it)" : "");
    }

    /** Calibrated probabilities {@code activation(logits / T)}; see {@link TemperatureScaling#apply}. */
    public INDArray apply(INDArray logits) {
        return TemperatureScaling.apply(logits, temperature, activation);
    }
}
