package org.gradsurgery.examples.cli;

import java.util.Arrays;
import java.util.Locale;
import org.gradsurgery.InvalidSettingException;
import picocli.CommandLine.Option;

/**
 * {@code --mirror} / {@code --mirror-axes}: test-time augmentation by mirroring (picocli mixin of {@code predict} and
 * {@code evaluate}), as nnU-Net predicts: p̂ = (1/|S|) Σ_{s∈S} F_s⁻¹ f(F_s x), S every subset of the mirror axes (all
 * spatial axes: 4 passes in 2D, 8 in 3D), F_s the flip along the axes of s, f the network's softmax. The library does
 * the work ({@code ExperimentData.evaluate}, {@code SlidingWindowInference.Builder#mirrorAxes}); these flags only say
 * which axes. Off by default, so results without the flags are the plain network's.
 */
final class Mirroring {
    @Option(names = "--mirror",
            description = "Test-time augmentation by mirroring (nnU-Net): average the softmax of the input and of its "
                    + "flips along every subset of the spatial axes, each flipped back (4 passes in 2D, 8 in 3D). "
                    + "Default: off.")
    boolean on;

    @Option(names = "--mirror-axes", split = ",", paramLabel = "A[,A[,A]]", hideParamSyntax = true,
            description = "Mirror along these spatial axes only (0-based, channels not counted: 0,1 in 2D; 0,1,2 in "
                    + "3D), e.g. those flipped in training as nnU-Net does (the demo flips axis 1); implies --mirror (default: none).")
    int[] axes;

    /** Whether either flag asks for mirroring. */
    boolean active() {
        return on || axes != null;
    }

    /** The mirror axes for {@code dims} spatial axes: null without mirroring, all of them for {@code --mirror}. */
    int[] axes(int dims) {
        if (axes != null) {
            if (Arrays.stream(axes).anyMatch(a -> a < 0 || a >= dims) || Arrays.stream(axes).distinct().count()
                    != axes.length) {
                throw new InvalidSettingException(null, "mirrorAxes", join(axes) + ": each axis once, from 0 to "
                        + (dims - 1) + " for a " + dims + "D model");
            }
            return axes.clone();
        }
        if (!on) {
            return null;
        }
        int[] all = new int[dims];
        Arrays.setAll(all, i -> i);
        return all;
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
