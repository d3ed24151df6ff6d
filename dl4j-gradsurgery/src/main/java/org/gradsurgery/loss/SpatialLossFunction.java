package org.gradsurgery.loss;

import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * An {@link ILossFunction} that understands whole segmentation tensors, so it can form per-example groups.
 *
 * <p>DL4J's stock {@code CnnLossLayer}/{@code Cnn3DLossLayer} flatten their input to rank 2 {@code [N·spatial, C]}
 * before calling the loss, which hides the example count N. A region loss needs N to form one group per
 * (example, class). Implementations of this interface therefore accept, besides DL4J's rank-2 arrays:
 * <ul>
 *   <li>rank 4 {@code [N, C, H, W]} and rank 5 {@code [N, C, D, H, W]} pre-outputs and labels of the same shape;</li>
 *   <li>masks {@code [N, 1, spatial...]} (broadcast over classes) or {@code [N, C, spatial...]};</li>
 *   <li>the activation is applied over axis 1 (the class axis).</li>
 * </ul>
 * The project's loss layers ({@code org.gradsurgery.layers}) pass whole channels-first tensors to losses that
 * implement this interface and flatten, as the stock layers do, for any other loss.
 *
 * <p><b>Scale convention (DL4J's).</b> With E "examples" and loss value L (a mean over groups),
 * {@code computeScore(average=false)} returns E·L, {@code average=true} returns L,
 * {@code computeGradient} returns E·∂L/∂z (for a plain loss), and {@code computeScoreArray} returns {@code [E,1]}
 * whose sum is E·L. At rank 4/5, E = N. At rank 2, DL4J's convention is that each row is an example, so E is the
 * row count and all rows form a single group per class ({@link Reduction#BATCH}); per-sample groups need rank-4/5
 * input, i.e. the project's loss layers.
 */
public interface SpatialLossFunction extends ILossFunction {
}
