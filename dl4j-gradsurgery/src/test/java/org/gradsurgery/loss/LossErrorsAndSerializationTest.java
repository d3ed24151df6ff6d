package org.gradsurgery.loss;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.List;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.gradsurgery.layers.DoublePrecisionTinyArrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;
import org.nd4j.shade.jackson.databind.ObjectMapper;

/**
 * Bad input gets an {@link IllegalArgumentException} naming the loss and the shapes, from every entry point of every
 * loss; and every loss, with non-default options, survives DL4J's JSON mapper and Java serialisation with equal
 * configuration and equal hash codes.
 */
@ExtendWith(DoublePrecisionTinyArrays.class)
class LossErrorsAndSerializationTest {

    private static final IActivation SOFTMAX = new ActivationSoftmax();
    private static final IActivation SIGMOID = new ActivationSigmoid();

    /** Every loss of the package, each with options away from the defaults. */
    static Stream<ILossFunction> everyLoss() {
        return Stream.of(
                LossDice.builder().reduction(Reduction.BATCH).includeBackground(false).smoothNr(0.1).smoothDr(0.2)
                        .squaredPred(true).checkFinite(false).build(),
                LossJaccard.builder().smoothNr(0.3).build(),
                LossTversky.builder().alpha(0.3).beta(0.7).reduction(Reduction.BATCH).build(),
                LossFocalTversky.builder().alpha(0.2).beta(0.8).gamma(1.5).includeBackground(false).build(),
                LossGeneralizedDice.builder().squaredPred(true).smoothDr(0.5).build(),
                GradientSurgery.builder().base(LossTversky.builder().beta(0.9).build()).exponent(2)
                        .space(GradientSurgery.Space.PROBABILITIES).build(),
                GradientSurgery.wrap(new LossMCXENT()),
                GradientSurgery.builder().base(LossDice.builder().includeBackground(false).build())
                        .weighting(GradientSurgery.Weighting.BALANCED).build(),
                LossWeightedSum.builder().add(0.7, GradientSurgery.wrap(new LossGeneralizedDice(), 0.5))
                        .add(-0.25, new LossMCXENT()).build());
    }

    /** The name an error must carry: the loss's, or for a compound loss that of the term that refused the input. */
    private static List<String> names(ILossFunction loss) {
        List<String> names = new java.util.ArrayList<>(List.of(loss.getClass().getSimpleName(), loss.name()));
        if (loss instanceof LossWeightedSum) {
            for (LossWeightedSum.Term t : ((LossWeightedSum) loss).getTerms()) {
                names.add(t.getLoss().name());
            }
        }
        return names;
    }

    private static void assertRejected(ILossFunction loss, INDArray y, INDArray z, IActivation act, INDArray m,
                                       String... fragments) {
        List<Runnable> calls = List.of(
                () -> loss.computeScore(y, z, act, m, false),
                () -> loss.computeScoreArray(y, z, act, m),
                () -> loss.computeGradient(y, z, act, m),
                () -> loss.computeGradientAndScore(y, z, act, m, true));
        for (Runnable call : calls) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, call::run, loss.toString());
            String msg = e.getMessage();
            assertTrue(names(loss).stream().anyMatch(msg::contains), "names the loss: " + msg);
            for (String f : fragments) {
                assertTrue(msg.contains(f), "'" + f + "' in: " + msg);
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("everyLoss")
    void badInputGetsAClearError(ILossFunction loss) {
        INDArray z = LossFixtures.logits(new long[]{2, 3, 2, 2}, 1);
        INDArray y = LossFixtures.labels(new long[]{2, 3, 2, 2}, true, 2);
        // label/pre-output mismatch
        assertRejected(loss, Nd4j.zeros(2, 3, 2, 3), z, SOFTMAX, null, "[2, 3, 2, 3]", "[2, 3, 2, 2]");
        // mask that does not broadcast
        assertRejected(loss, y, z, SOFTMAX, Nd4j.ones(2, 2, 2, 2), "mask", "[2, 2, 2, 2]", "[2, 1, 2, 2]",
                "[2, 3, 2, 2]");
        assertRejected(loss, y, z, SOFTMAX, Nd4j.ones(2, 1, 2), "mask", "[2, 1, 2]");
        // softmax over one class
        assertRejected(loss, Nd4j.ones(2, 1, 2, 2), Nd4j.zeros(2, 1, 2, 2), SOFTMAX, null, "single class",
                "[2, 1, 2, 2]");
        // unsupported rank
        assertRejected(loss, Nd4j.zeros(2, 3, 4), Nd4j.zeros(2, 3, 4), SOFTMAX, null, "rank 3", "[2, 3, 4]");
        // labels outside [0, 1]
        INDArray bad = y.dup();
        bad.putScalar(0, 2.0);
        assertRejected(loss, bad, z, SOFTMAX, null, "[0, 1]", "[2, 3, 2, 2]", "2.0");
        // non-finite pre-outputs, counted, unless the check is switched off
        INDArray nan = z.dup();
        nan.putScalar(6, Double.NaN);
        nan.putScalar(5, Double.POSITIVE_INFINITY);
        boolean checks = !(loss instanceof AbstractRegionLoss) || ((AbstractRegionLoss) loss).isCheckFinite();
        if (checks) {
            assertRejected(loss, y, nan, SIGMOID, null, "2 of 24", "not finite", "[2, 3, 2, 2]");
        } else {
            assertTrue(Double.isNaN(loss.computeScore(y, nan, SIGMOID, null, false)));
        }
    }

    @Test
    void invalidOptionsNameTheLossAndTheOption() {
        Supplier<?>[] bad = {
            () -> LossDice.builder().smoothNr(-1).build(),
            () -> LossJaccard.builder().smoothDr(Double.NaN).build(),
            () -> LossDice.builder().reduction(null).build(),
            () -> LossTversky.builder().alpha(-0.1).build(),
            () -> LossFocalTversky.builder().gamma(0).build(),
            () -> LossFocalTversky.builder().smoothNr(1).smoothDr(0.5).build(),
            () -> LossWeightedSum.builder().build(),
            () -> LossWeightedSum.builder().add(Double.NaN, new LossDice()).build()};
        String[] expected = {"LossDice: smoothNr", "LossJaccard: smoothDr", "LossDice: reduction",
            "LossTversky: alpha", "LossFocalTversky: gamma", "LossFocalTversky: smoothNr", "LossWeightedSum",
            "LossWeightedSum"};
        for (int i = 0; i < bad.length; i++) {
            Supplier<?> s = bad[i];
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, s::get);
            assertTrue(e.getMessage().startsWith(expected[i]), e.getMessage());
        }
        // includeBackground(false) needs a second class
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LossDice.builder()
                .includeBackground(false).build().computeScore(Nd4j.ones(1, 1, 2, 2), Nd4j.zeros(1, 1, 2, 2),
                        SIGMOID, null, true));
        assertTrue(e.getMessage().contains("LossDice") && e.getMessage().contains("[1, 1, 2, 2]"), e.getMessage());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("everyLoss")
    void jsonAndJavaSerialisationRoundTrip(ILossFunction loss) throws IOException, ClassNotFoundException {
        ObjectMapper mapper = NeuralNetConfiguration.mapper();
        String json = mapper.writeValueAsString(loss);
        ILossFunction back = mapper.readValue(json, ILossFunction.class);
        assertEquals(loss, back);
        assertEquals(loss.hashCode(), back.hashCode());
        assertEquals(json, mapper.writeValueAsString(back));
        assertEquals(loss.toString(), back.toString());

        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(loss);
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            assertEquals(loss, in.readObject());
        }

        // and the loaded loss computes the same thing
        INDArray z = LossFixtures.logits(new long[]{2, 3, 2, 2}, 3);
        INDArray y = LossFixtures.labels(new long[]{2, 3, 2, 2}, true, 4);
        assertEquals(loss.computeScore(y, z, SOFTMAX, null, false), back.computeScore(y, z, SOFTMAX, null, false),
                0);
        assertEquals(loss.computeGradient(y, z, SOFTMAX, null), back.computeGradient(y, z, SOFTMAX, null));
    }

    /** JSON written before the weighting option existed (no "weighting" key) reads as the paper's weighting. */
    @Test
    void surgeryJsonWithoutWeightingReadsAsTheDefault() throws IOException {
        ObjectMapper mapper = NeuralNetConfiguration.mapper();
        GradientSurgery surgery = GradientSurgery.wrap(new LossTversky(), 2);
        String json = mapper.writeValueAsString(surgery);
        org.nd4j.shade.jackson.databind.node.ObjectNode tree =
                (org.nd4j.shade.jackson.databind.node.ObjectNode) mapper.readTree(json);
        assertEquals("BASE", tree.remove("weighting").asText(), "the weighting must be written: " + json);
        String old = mapper.writeValueAsString(tree);
        assertEquals(surgery, mapper.readValue(old, ILossFunction.class));
        GradientSurgery balanced = GradientSurgery.builder().base(new LossTversky())
                .weighting(GradientSurgery.Weighting.BALANCED).build();
        assertEquals(balanced, mapper.readValue(mapper.writeValueAsString(balanced), ILossFunction.class));
        assertNotEquals(surgery.hashCode(), GradientSurgery.builder().base(new LossTversky()).exponent(2)
                .weighting(GradientSurgery.Weighting.BALANCED).build().hashCode());
    }

    @Test
    void equalsAndHashCodeSeeEveryField() {
        List<ILossFunction> distinct = List.of(new LossDice(), LossDice.builder().reduction(Reduction.BATCH).build(),
                LossDice.builder().includeBackground(false).build(), LossDice.builder().smoothNr(1e-4).build(),
                LossDice.builder().smoothDr(1e-4).build(), LossDice.builder().squaredPred(true).build(),
                LossDice.builder().checkFinite(false).build(), new LossJaccard(), new LossTversky(),
                LossTversky.builder().alpha(0.4).build(), LossTversky.builder().beta(0.4).build(),
                new LossFocalTversky(), LossFocalTversky.builder().gamma(1).build(), new LossGeneralizedDice(),
                GradientSurgery.wrap(new LossDice()), GradientSurgery.wrap(new LossDice(), 2),
                GradientSurgery.builder().base(new LossDice()).space(GradientSurgery.Space.PROBABILITIES).build(),
                GradientSurgery.wrap(new LossJaccard()), new LossWeightedSum(),
                GradientSurgery.builder().base(new LossDice()).weighting(GradientSurgery.Weighting.BALANCED).build(),
                LossWeightedSum.builder().add(1, new LossDice()).build(),
                LossWeightedSum.builder().add(2, new LossDice()).build());
        for (int i = 0; i < distinct.size(); i++) {
            for (int j = 0; j < distinct.size(); j++) {
                if (i == j) {
                    continue;
                }
                assertNotEquals(distinct.get(i), distinct.get(j), distinct.get(i) + " vs " + distinct.get(j));
            }
        }
        // Tversky with Dice's weights is still a different loss class
        assertNotEquals(new LossTversky(), new LossFocalTversky());
        assertEquals(new GradientSurgery(), GradientSurgery.wrap(new LossDice()));
        assertEquals(GradientSurgery.wrap(new LossDice()).hashCode(), new GradientSurgery().hashCode());
        assertEquals(LossWeightedSum.builder().add(1, new LossDice()).add(1, new LossMCXENT()).build(),
                new LossWeightedSum());
    }
}
