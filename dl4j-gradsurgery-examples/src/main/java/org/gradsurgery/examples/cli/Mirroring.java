package org.gradsurgery.examples.cli;

import java.util.Arrays;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.model.Inference;
import org.gradsurgery.model.SlidingWindowInference;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine.Option;

/**
 * {@code --mirror}: test-time augmentation by mirroring (picocli mixin of {@code predict} and {@code evaluate}), as
 * nnU-Net predicts: p̂ = (1/|S|) Σ_{s∈S} F_s⁻¹ f(F_s x), S every subset of the spatial axes (4 passes in 2D, 8 in 3D),
 * F_s the flip along the axes of s, f the network's softmax. 3D models mirror each sliding window
 * ({@link SlidingWindowInference.Builder#mirroring}); 2D models mirror each whole (padded) slice or image, as one
 * window of its own size. Off by default, so results without the flag are those of the plain network.
 */
final class Mirroring {
    @Option(names = "--mirror",
            description = "Test-time augmentation by mirroring (nnU-Net): average the softmax of the input and of its "
                    + "flips along every subset of the spatial axes, each flipped back (4 passes in 2D, 8 in 3D). "
                    + "Default: off.")
    boolean on;

    /** {@code b} with mirroring along every spatial axis when {@code --mirror} is given. */
    SlidingWindowInference.Builder configure(SlidingWindowInference.Builder b) {
        return b.mirroring(on);
    }

    /** Mirrored probabilities of whole images {@code [N, C, spatial...]}: each image is one window of its own size. */
    static INDArray wholeImages(ComputationGraph net, INDArray batch) {
        int[] size = Arrays.stream(Arrays.copyOfRange(batch.shape(), 2, batch.rank())).mapToInt(Math::toIntExact)
                .toArray();
        return SlidingWindowInference.builder().patchSize(size).mirroring(true).build().predict(net, batch);
    }

    /** How an evaluation on whole 2D slices gets its logits: mirrored when {@code on}, else the graph's own. */
    static Inference wholeImageInference(boolean on) {
        return on ? Inference.fromProbabilities(Mirroring::wholeImages) : Inference.graph();
    }

    /** The sentence a report adds about the inference ("" without mirroring). */
    String describe(int dims) {
        return on ? String.format(" Inference: test-time mirroring (--mirror), the mean softmax over the input and its "
                + "flips along every subset of the %d spatial axes (%d passes).", dims, 1 << dims) : "";
    }
}
