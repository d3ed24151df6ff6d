package org.gradsurgery.loss;

import static org.gradsurgery.loss.LossFixtures.labels;
import static org.gradsurgery.loss.LossFixtures.logits;
import static org.gradsurgery.loss.LossFixtures.mask;
import static org.gradsurgery.loss.LossFixtures.maxRelativeError;
import static org.gradsurgery.loss.LossFixtures.numericGradient;
import static org.gradsurgery.loss.LossFixtures.shape;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;
import java.util.stream.Stream;
import org.gradsurgery.layers.DoublePrecisionTinyArrays;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * {@code computeGradient} of every region loss against central differences of {@code computeScore(average=false)},
 * over the whole matrix loss × {softmax, sigmoid} × {SAMPLE, BATCH} × {no mask, [N,1,sp] mask, [N,C,sp] mask} ×
 * {2D, 3D} × includeBackground. The tensors contain an absent class (example 0) and, when masked, an all-masked
 * example (the last one), so those cases must give finite, correct gradients too. Every call also checks DL4J's
 * scale convention: score(average=false) = N·score(average=true) = Σ computeScoreArray, and
 * computeGradientAndScore agrees with the separate calls.
 */
@ExtendWith(DoublePrecisionTinyArrays.class)
class RegionLossGradientTest {

    enum Masking { NONE, PER_VOXEL, PER_CLASS }

    /** The five losses, with non-default α, β where the default would only repeat Dice's gradient. */
    static List<Pair<String, Function<Reduction, AbstractRegionLoss.Builder<?>>>> losses() {
        return List.of(
                Pair.of("Dice", r -> LossDice.builder().reduction(r)),
                Pair.of("Jaccard", r -> LossJaccard.builder().reduction(r)),
                Pair.of("Tversky(a=0.3,b=0.7)", r -> LossTversky.builder().alpha(0.3).beta(0.7).reduction(r)),
                Pair.of("FocalTversky(a=0.7)", r -> LossFocalTversky.builder().alpha(0.7).reduction(r)),
                Pair.of("GeneralizedDice", r -> LossGeneralizedDice.builder().reduction(r)));
    }

    /**
     * The full matrix of the issue; "mask" is {@code [N,1,sp]} in 2D and {@code [N,C,sp]} in 3D so that both mask
     * shapes are covered without doubling the matrix.
     */
    static Stream<Arguments> matrix() {
        List<Arguments> cases = new ArrayList<>();
        for (var loss : losses()) {
            for (Activation act : new Activation[]{Activation.SOFTMAX, Activation.SIGMOID}) {
                for (Reduction red : Reduction.values()) {
                    for (boolean masked : new boolean[]{false, true}) {
                        for (int dims : new int[]{2, 3}) {
                            Masking masking = !masked ? Masking.NONE : dims == 2 ? Masking.PER_VOXEL
                                    : Masking.PER_CLASS;
                            for (boolean background : new boolean[]{true, false}) {
                                AbstractRegionLoss l = build(loss.getSecond().apply(red)
                                        .includeBackground(background));
                                cases.add(Arguments.of(loss.getFirst(), l, act, masking, dims));
                            }
                        }
                    }
                }
            }
        }
        return cases.stream();
    }

    /** Options with their own code paths (k = 2, γ &gt; 1), on a smaller matrix. */
    static Stream<Arguments> options() {
        List<Arguments> cases = new ArrayList<>();
        for (Activation act : new Activation[]{Activation.SOFTMAX, Activation.SIGMOID}) {
            for (Reduction red : Reduction.values()) {
                Masking masking = red == Reduction.SAMPLE ? Masking.PER_VOXEL : Masking.NONE;
                cases.add(Arguments.of("Dice squaredPred", LossDice.builder().squaredPred(true).reduction(red)
                        .build(), act, masking, 3));
                cases.add(Arguments.of("GeneralizedDice squaredPred", LossGeneralizedDice.builder()
                        .squaredPred(true).includeBackground(false).reduction(red).build(), act, masking, 2));
                cases.add(Arguments.of("FocalTversky gamma=2", LossFocalTversky.builder().gamma(2).beta(0.8)
                        .smoothNr(0.5).smoothDr(1).reduction(red).build(), act, masking, 2));
                cases.add(Arguments.of("Jaccard smooth=1", LossJaccard.builder().smoothNr(1).smoothDr(1)
                        .squaredPred(true).reduction(red).build(), act, masking, 3));
            }
        }
        return cases.stream();
    }

    private static AbstractRegionLoss build(AbstractRegionLoss.Builder<?> b) {
        if (b instanceof LossDice.Builder) {
            return ((LossDice.Builder) b).build();
        } else if (b instanceof LossJaccard.Builder) {
            return ((LossJaccard.Builder) b).build();
        } else if (b instanceof LossTversky.Builder) {
            return ((LossTversky.Builder) b).build();
        } else if (b instanceof LossFocalTversky.Builder) {
            return ((LossFocalTversky.Builder) b).build();
        }
        return ((LossGeneralizedDice.Builder) b).build();
    }

    @ParameterizedTest(name = "{0} {1} {2} {3} {4}D")
    @MethodSource({"matrix", "options"})
    void analyticGradientMatchesFiniteDifferencesOfTheUnaveragedScore(String name, AbstractRegionLoss loss,
                                                                        Activation activation, Masking masking,
                                                                        int dims) {
        long[] shape = shape(dims);
        long seed = name.hashCode() * 31L + dims;
        INDArray z = logits(shape, seed);
        INDArray y = labels(shape, activation == Activation.SOFTMAX, seed + 1);
        INDArray m = masking == Masking.NONE ? null : mask(shape, masking == Masking.PER_CLASS, seed + 2);
        IActivation act = activation.getActivationFunction();

        INDArray zCopy = z.dup();
        INDArray analytic = loss.computeGradient(y, z, act, m);
        assertEquals(zCopy, z, "computeGradient must not modify the pre-output");
        assertArrayEquals(shape, analytic.shape());
        assertTrue(analytic.isMatrix() || analytic.rank() == shape.length);
        for (double v : analytic.data().asDouble()) {
            assertTrue(Double.isFinite(v), "finite gradient");
        }

        INDArray numeric = numericGradient(z, x -> loss.computeScore(y, x, act, m, false));
        double err = maxRelativeError(analytic, numeric);
        assertTrue(err < 1e-6, () -> "max relative error " + err + "\nanalytic " + analytic + "\nnumeric " + numeric);

        if (m != null) {
            // Masked voxels (the whole last example among them) get exactly zero gradient. A per-class mask under
            // softmax is the exception: a masked p_k still moves with the other classes' logits.
            boolean wholeVoxels = m.size(1) == 1 || activation != Activation.SOFTMAX;
            INDArray full = m.size(1) == 1 ? m.broadcast(shape) : m;
            for (long i = 0; i < full.length(); i++) {
                boolean lastExample = i >= full.length() / shape[0] * (shape[0] - 1);
                if (full.getDouble(i) == 0 && (wholeVoxels || lastExample)) {
                    assertTrue(analytic.getDouble(i) == 0.0, "gradient at masked element " + i + ": "
                            + analytic.getDouble(i));
                }
            }
        }

        double sum = loss.computeScore(y, z, act, m, false);
        double mean = loss.computeScore(y, z, act, m, true);
        assertTrue(Double.isFinite(sum));
        assertEquals(shape[0] * mean, sum, 1e-12);
        INDArray perExample = loss.computeScoreArray(y, z, act, m);
        assertArrayEquals(new long[]{shape[0], 1}, perExample.shape());
        assertEquals(sum, perExample.sumNumber().doubleValue(), 1e-12);
        Pair<Double, INDArray> both = loss.computeGradientAndScore(y, z, act, m, false);
        assertEquals(sum, both.getFirst(), 1e-15);
        assertEquals(analytic, both.getSecond());
    }
}
