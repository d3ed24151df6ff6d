package org.gradsurgery.evaluation;

import org.gradsurgery.calibration.CalibrationResult;
import org.gradsurgery.calibration.TemperatureScalingResult;
import org.gradsurgery.metrics.SegmentationResult;

/**
 * What {@link SegmentationEvaluator} measured on a data set. Immutable.
 *
 * @param segmentation Dice, IoU (and HD95/ASSD when computed) of the argmax prediction
 * @param calibration  calibration of the network's own probabilities (T = 1)
 * @param temperature  the temperature fitted on the evaluated logits, or null when not fitted
 * @param calibrationScaled calibration of softmax(z / T), or null when not fitted; segmentation is unchanged by T
 *                     (the argmax does not move)
 * @param loss         mean network score (the training loss) per example, NaN when not computed
 * @param examples     number of examples evaluated
 */
public record EvaluationResult(SegmentationResult segmentation, CalibrationResult calibration,
                               TemperatureScalingResult temperature, CalibrationResult calibrationScaled,
                               double loss, long examples) {

    /** Mean foreground Dice. */
    public double meanDice() {
        return segmentation.meanDice();
    }

    /** Top-label ECE of the uncalibrated probabilities. */
    public double ece() {
        return calibration.eceTopLabel();
    }
}
