package org.gradsurgery.metrics;

/**
 * Segmentation metrics of one class in one case (one example of one {@link SegmentationMetrics#update} call).
 * Immutable.
 *
 * @param caseIndex running index of the case over all updates, from 0
 * @param classIndex the class
 * @param dice {@code 2|P∩G| / (|P| + |G|)}; 1 when both are empty
 * @param iou {@code |P∩G| / |P∪G|}; 1 when both are empty
 * @param hd95 95th-percentile symmetric Hausdorff distance in physical units (see {@link SurfaceDistance}); 0 when
 *     both are empty, NaN (or the configured worst case) when exactly one is empty; NaN if distances were disabled
 * @param assd average symmetric surface distance, same conventions as hd95
 * @param predictedVoxels |P|
 * @param referenceVoxels |G|
 */
public record CaseMetrics(long caseIndex, int classIndex, double dice, double iou, double hd95, double assd,
                          long predictedVoxels, long referenceVoxels) {
}
