package org.gradsurgery.examples.cli;

import java.util.Arrays;
import java.util.Locale;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.model.Inference;
import org.gradsurgery.model.SlidingWindowInference;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine.Option;

/**
 * {@code --mirror} / {@code --mirror-axes}: test-time augmentation by mirroring (picocli mixin of {@code predict} and
 * {@code evaluate}), as nnU-Net predicts: p̂ = (1/|S|) Σ_{s∈S} F_s⁻¹ f(F_s x), S every subset of the mirror axes (all
 * spatial axes: 4 passes in 2D, 8 in 3D), F_s the flip along the axes of s, f the network's softmax. 3D models mirror
 * each sliding window ({@link SlidingWindowInference.Builder#mirroring}); 2D models mirror each whole (padded) slice or
 * image, as one window of its own size. Off by default, so results without the flags are the plain network's.
 */
final class Mirroring {
    @Option(names = "--mirror",
            description = "Test-time augmentation by mirroring (nnU-Net): average the softmax of the input and of its "
                    + "flips along every subset of the spatial axes, each flipped back (4 passes in 2D, 8 in 3D). "
                    + "Default: off.")
    boolean on;

    @Option(names = "--mirror-axes", split = ",", paramLabel = "A[,A]",
            description = "Mirror along these spatial axes only (0-based, channels not counted: 0,1 in 2D; 0,1,2 in "
                    + "3D), e.g. those flipped in training as nnU-Net does (the demo flips axis 1); implies --mirror.")
    int[] axes;

    /** Whether either flag asks for mirroring. */
    boolean active() {
        return on || axes != null;
    }

    /** {@code b} with these flags' mirroring, built; a bad {@code --mirror-axes} is reported under the flag's name. */
    SlidingWindowInference build(SlidingWindowInference.Builder b) {
        try {
            return (axes != null ? b.mirrorAxes(axes) : b.mirroring(on)).build();
        } catch (IllegalArgumentException e) {
            if (axes == null) {
                throw e;
            }
            throw new IllegalArgumentException("--mirror-axes " + join(axes) + ": "
                    + e.getMessage().replace("SlidingWindowInference: ", ""), e);
        }
    }

    /** Probabilities of whole images {@code [N, C, spatial...]}, each one window of its own size, mirrored. */
    INDArray wholeImages(ComputationGraph net, INDArray batch) {
        int[] size = Arrays.stream(Arrays.copyOfRange(batch.shape(), 2, batch.rank())).mapToInt(Math::toIntExact)
                .toArray();
        // a single window: weights cancel, and constant ones keep the corners' tiny Gaussian weights out of it
        return build(SlidingWindowInference.builder().patchSize(size)
                .weighting(SlidingWindowInference.Weighting.CONSTANT)).predict(net, batch);
    }

    /** How an evaluation on whole 2D slices gets its logits: ln of the mirrored probabilities, or the graph's own. */
    Inference wholeImageInference() {
        return active() ? Inference.fromProbabilities(this::wholeImages) : Inference.graph();
    }

    /** Network passes per window (or whole slice) for {@code dims} spatial axes. */
    int passes(int dims) {
        return !active() ? 1 : 1 << (axes != null ? axes.length : dims);
    }

    /** The sentence a report adds about the inference ("" without mirroring). */
    String describe(int dims) {
        if (!active()) {
            return "";
        }
        return String.format(Locale.ROOT, " Inference: test-time mirroring (%s), the mean softmax over the input and its "
                        + "flips along every subset of %s (%d passes).",
                axes != null ? "--mirror-axes " + join(axes) : "--mirror",
                axes != null ? "spatial axes " + join(axes) : "the " + dims + " spatial axes", passes(dims));
    }

    private static String join(int[] a) {
        return String.join(",", Arrays.stream(a).mapToObj(Integer::toString).toList());
    }
}
