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

    /** Calibrated probabilities {@code activation(logits / T)}; see {@link TemperatureScaling#apply}. */
    public INDArray apply(INDArray logits) {
        return TemperatureScaling.apply(logits, temperature, activation);
    }
}
