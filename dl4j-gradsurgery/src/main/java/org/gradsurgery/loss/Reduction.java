package org.gradsurgery.loss;

/**
 * How a region loss groups voxels before forming its ratio.
 *
 * <ul>
 *   <li>{@link #SAMPLE}: one group per (example, class), sums over the spatial axes only; the loss is the mean over
 *       groups. This is MONAI's default ({@code batch=False}).</li>
 *   <li>{@link #BATCH}: one group per class, sums over examples and space ("batch Dice" in nnU-Net); the loss is
 *       the mean over classes.</li>
 * </ul>
 * Rank-2 input cannot show the example count, so it always behaves as {@link #BATCH}.
 */
public enum Reduction {
    SAMPLE,
    BATCH
}
