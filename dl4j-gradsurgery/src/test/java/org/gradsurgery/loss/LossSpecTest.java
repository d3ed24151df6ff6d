package org.gradsurgery.loss;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;

/** {@link LossKind} names and {@link LossSpec}: text form, losses built, and the way back from a loss. */
class LossSpecTest {

    @Test
    void kindNamesParseWithHyphensOrUnderscoresAndErrorsListThem() {
        assertEquals(LossKind.FOCAL_TVERSKY, LossKind.parse("focal-tversky"));
        assertEquals(LossKind.FOCAL_TVERSKY, LossKind.parse(" Focal_Tversky "));
        assertEquals(LossKind.GENERALIZED_DICE, LossKind.parse("generalized_dice"));
        assertEquals("dice, jaccard, tversky, focal-tversky, generalized-dice, mcxent", LossKind.knownNames());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LossKind.parse("dcie"));
        assertEquals("unknown loss 'dcie' (known: " + LossKind.knownNames() + ")", e.getMessage());
    }

    /** The short forms run directories of earlier versions hold build what the CLI built from them. */
    @Test
    void shortFormsBuildTheLibraryDefaults() {
        assertEquals(new LossDice(), LossSpec.parse("dice").create());
        assertEquals(new LossTversky(), LossSpec.parse("tversky").create());
        assertEquals(new LossFocalTversky(), LossSpec.parse("focal-tversky").create());
        assertEquals(new LossGeneralizedDice(), LossSpec.parse("generalized-dice").create());
        assertEquals(new LossCrossEntropy(), LossSpec.parse("mcxent").create());
        assertEquals(GradientSurgery.wrap(new LossJaccard()), LossSpec.parse("jaccard+surgery").create());
        assertEquals(GradientSurgery.wrap(new LossDice(), 2), LossSpec.parse("dice+surgery:2").create());
        assertEquals("dice+surgery:2.0", LossSpec.parse("dice+surgery:2").toString());
        assertEquals("dice + surgery γ=2.0", LossSpec.parse("dice+surgery:2").label());
        assertEquals("dice-surgery-2.0", LossSpec.parse("dice+surgery:2").slug());
        assertEquals("jaccard + surgery", LossSpec.parse("jaccard+surgery").label());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
        dice:no-background+surgery:0.5                       | dice (no background) + surgery γ=0.5
        tversky:alpha=0.3:beta=0.7                           | tversky (α=0.3, β=0.7)
        focal-tversky:no-background:alpha=0.2+surgery:2.0:probabilities | focal-tversky (α=0.2, β=0.5, no background) + surgery γ=2.0 (probabilities)
        jaccard:weight=0.5+surgery+ce:1.0                    | 0.5·jaccard + surgery + 1.0·ce
        mcxent+surgery                                       | mcxent + surgery
        dice+surgery:balanced                                | dice + surgery (balanced)
        tversky:alpha=0.3:beta=0.7+surgery:balanced          | tversky (α=0.3, β=0.7) + surgery (balanced)
        generalized-dice+surgery:2.0:probabilities:balanced+ce:1.0 | generalized-dice + surgery γ=2.0 (probabilities) (balanced) + 1.0·ce
        dice:no-background:batch                             | dice (no background, batch)
        dice:no-background:batch+surgery                     | dice (no background, batch) + surgery
        dice:no-background:batch+ce:1.0                      | dice (no background, batch) + 1.0·ce
        dice:no-background:batch+surgery+ce:1.0              | dice (no background, batch) + surgery + 1.0·ce
        tversky:batch:alpha=0.3:beta=0.7+surgery             | tversky (α=0.3, β=0.7, batch) + surgery
        focal-tversky:no-background:batch:alpha=0.3:beta=0.7+surgery:2.0:probabilities+ce:0.5 | focal-tversky (α=0.3, β=0.7, no background, batch) + surgery γ=2.0 (probabilities) + 0.5·ce
        generalized-dice:batch:weight=2.0+surgery:balanced+ce:1.0 | 2.0·generalized-dice (batch) + surgery (balanced) + 1.0·ce
        """)
    void textFormRoundTripsAndDescribesTheLossItBuilds(String text, String label) {
        LossSpec s = LossSpec.parse(text);
        assertEquals(text, s.toString());
        assertEquals(label, s.label());
        assertEquals(s, LossSpec.parse(s.toString()));
        ILossFunction loss = s.create();
        assertEquals(Optional.of(s), LossSpec.describing(loss));
        assertEquals(loss, LossSpec.parse(text).create(), "a fresh loss each time, equal");
    }

    @Test
    void fullSpecBuildsTheNestedLoss() {
        LossSpec s = LossSpec.builder().kind(LossKind.TVERSKY).includeBackground(false).tverskyAlpha(0.3)
                .tverskyBeta(0.7).surgery(true).exponent(0.5).surgerySpace(GradientSurgery.Space.PROBABILITIES)
                .ceWeight(0.25).regionWeight(2).build();
        ILossFunction expected = LossWeightedSum.builder()
                .add(2, GradientSurgery.builder().base(LossTversky.builder().includeBackground(false).alpha(0.3)
                        .beta(0.7).build()).exponent(0.5).space(GradientSurgery.Space.PROBABILITIES).build())
                .add(0.25, new LossMCXENT()).build();
        assertEquals(expected, s.create());
        assertEquals(s, s.toBuilder().build());
    }

    /** The balanced weighting (beyond the paper): an arm a study spec can name, on the region term only. */
    @Test
    void balancedSurgeryIsAnArm() {
        assertEquals(GradientSurgery.builder().base(new LossDice()).weighting(GradientSurgery.Weighting.BALANCED)
                .build(), LossSpec.parse("dice+surgery:balanced").create());
        assertEquals("dice-surgery-balanced", LossSpec.parse("dice+surgery:balanced").slug());
        assertEquals(LossSpec.parse("dice+surgery:balanced"), LossSpec.parse("dice+surgery:1:logits:balanced"));
        assertEquals(LossSpec.parse("dice+surgery"), LossSpec.parse("dice+surgery:base"));
        ILossFunction compound = LossSpec.parse("dice+surgery:balanced+ce:1.0").create();
        assertEquals(LossWeightedSum.builder().add(1, GradientSurgery.builder().base(new LossDice())
                .weighting(GradientSurgery.Weighting.BALANCED).build()).add(1, new LossMCXENT()).build(), compound);
        assertEquals(LossSpec.of(LossKind.DICE), LossSpec.builder()
                .surgeryWeighting(GradientSurgery.Weighting.BALANCED).build(), "inert without the surgery");
        assertEquals("dice", LossSpec.builder().surgeryWeighting(GradientSurgery.Weighting.BALANCED).build()
                .toString());
    }

    /** Every kind × background × surgery × cross-entropy comes back from its loss. */
    @Test
    void everySpecComesBackFromItsLoss() {
        List<LossSpec> all = new ArrayList<>();
        for (LossKind k : LossKind.values()) {
            for (boolean bg : new boolean[] {true, false}) {
                for (boolean surgery : new boolean[] {false, true}) {
                    for (double ce : new double[] {0, 0.5}) {
                        for (Reduction r : Reduction.values()) {
                            all.add(LossSpec.builder().kind(k).includeBackground(bg).reduction(r).surgery(surgery)
                                    .exponent(1.5).ceWeight(ce).tverskyAlpha(0.4).build());
                            if (surgery && k.isRegion()) {
                                all.add(LossSpec.builder().kind(k).includeBackground(bg).reduction(r).surgery(true)
                                        .surgeryWeighting(GradientSurgery.Weighting.BALANCED).ceWeight(ce).build());
                            }
                        }
                    }
                }
            }
        }
        for (LossSpec s : all) {
            assertEquals(Optional.of(s), LossSpec.describing(s.create()), s.toString());
            assertEquals(s, LossSpec.parse(s.toString()), s.toString());
        }
    }

    @Test
    void inertSettingsAreResetSoEqualSpecsMeanEqualLosses() {
        LossSpec a = LossSpec.builder().kind(LossKind.DICE).tverskyAlpha(0.9).exponent(3).regionWeight(4).build();
        assertEquals(LossSpec.of(LossKind.DICE), a);
        assertEquals("dice", a.toString());
        assertEquals(LossSpec.of(LossKind.DICE), LossSpec.builder().surgerySpace(GradientSurgery.Space.PROBABILITIES)
                .build(), "the space is inert without the surgery");
        assertEquals(LossSpec.parse("mcxent"), LossSpec.builder().kind(LossKind.MCXENT).includeBackground(false)
                .build());
        assertNotEquals(LossSpec.parse("dice"), LossSpec.parse("dice:no-background"));
    }

    @Test
    void lossesWithOtherSettingsHaveNoSpec() {
        assertEquals(Optional.empty(), LossSpec.describing(LossDice.builder().smoothNr(0).build()));
        assertEquals(Optional.empty(), LossSpec.describing(LossDice.builder().squaredPred(true).build()));
        assertEquals(Optional.empty(), LossSpec.describing(LossFocalTversky.builder().gamma(2).build()));
        assertEquals(Optional.empty(), LossSpec.describing(LossWeightedSum.builder().add(1, new LossDice())
                .add(1, new LossJaccard()).build()));
    }

    /** The study's nnU-Net-like arms: the reduction reaches the region loss inside the surgery and the sum. */
    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
        dice:no-background:batch                  | dice:no-background:batch
        DICE:Batch:No_Background                  | dice:no-background:batch
        dice:batch:no-background+surgery          | dice:no-background:batch+surgery
        dice:no-background:batch+ce:1             | dice:no-background:batch+ce:1.0
        dice:batch:no-background+surgery+ce:1.0   | dice:no-background:batch+surgery+ce:1.0
        tversky:alpha=0.3:batch:beta=0.7+surgery  | tversky:batch:alpha=0.3:beta=0.7+surgery
        """)
    void batchReductionReachesTheRegionLoss(String text, String canonical) {
        LossSpec s = LossSpec.parse(text);
        assertEquals(canonical, s.toString(), "region options print in one order");
        assertEquals(s, LossSpec.parse(canonical));
        assertEquals(Reduction.BATCH, s.reduction());
        AbstractRegionLoss region = regionOf(s.create());
        assertEquals(Reduction.BATCH, region.getReduction());
        assertEquals(s.includeBackground(), region.isIncludeBackground());
        assertEquals(Reduction.SAMPLE, regionOf(s.toBuilder().reduction(Reduction.SAMPLE).build().create())
                .getReduction());
    }

    /** The region loss inside a spec's loss: under the surgery, and the first term of a sum with cross-entropy. */
    private static AbstractRegionLoss regionOf(ILossFunction loss) {
        if (loss instanceof LossWeightedSum) {
            List<LossWeightedSum.Term> terms = ((LossWeightedSum) loss).getTerms();
            assertTrue(terms.get(1).getLoss() instanceof LossMCXENT);
            loss = terms.get(0).getLoss();
        }
        if (loss instanceof GradientSurgery) {
            loss = ((GradientSurgery) loss).getBase();
        }
        return (AbstractRegionLoss) loss;
    }

    /**
     * {@code :batch} on {@code mcxent} is reset like {@code :no-background} there (the text form parses and drops
     * it, so equal specs still mean equal losses); the train flag {@code --reduction} refuses it instead.
     */
    @Test
    void batchIsInertForCrossEntropy() {
        assertEquals(LossSpec.parse("mcxent"), LossSpec.parse("mcxent:batch"));
        assertEquals("mcxent", LossSpec.parse("mcxent:no-background:batch").toString());
        assertEquals(LossSpec.of(LossKind.MCXENT), LossSpec.builder().kind(LossKind.MCXENT)
                .reduction(Reduction.BATCH).build());
        assertEquals(Reduction.SAMPLE, LossSpec.parse("mcxent:batch+ce:1").reduction());
        assertNotEquals(LossSpec.parse("dice"), LossSpec.parse("dice:batch"));
        assertThrows(NullPointerException.class, () -> LossSpec.builder().reduction(null).build());
    }

    /** Loss strings that run folders and study specs of earlier versions hold read as the SAMPLE losses they were. */
    @ParameterizedTest
    @CsvSource({"dice", "dice:no-background+surgery:0.5", "tversky:alpha=0.3:beta=0.7+surgery+ce:1.0",
            "generalized-dice+surgery", "dice:no-background+ce:1.0"})
    void earlierLossStringsStaySample(String text) {
        LossSpec s = LossSpec.parse(text);
        assertEquals(Reduction.SAMPLE, s.reduction());
        assertEquals(text, s.toString());
        assertEquals(Reduction.SAMPLE, regionOf(s.create()).getReduction());
    }

    /**
     * The wiring, numerically: {@code dice:batch} from the spec scores and differentiates as the library's batch Dice,
     * and not as the per-sample one, on a batch where one example lacks a class (where the two reductions differ).
     */
    @Test
    void batchDiceFromTheSpecIsTheLibrarysBatchDice() {
        Nd4j.getRandom().setSeed(17);
        INDArray z = Nd4j.randn(DataType.DOUBLE, 3, 3, 4, 5);
        INDArray y = Nd4j.zeros(DataType.DOUBLE, 3, 3, 4, 5);
        for (int n = 0; n < 3; n++) {
            for (int h = 0; h < 4; h++) {
                for (int w = 0; w < 5; w++) {
                    int c = n == 0 ? (w < 3 ? 0 : 1) : (h + w + n) % 3;   // example 0 has no class 2
                    y.putScalar(new long[] {n, c, h, w}, 1.0);
                }
            }
        }
        IActivation softmax = new ActivationSoftmax();
        for (String arm : new String[] {"dice:batch", "dice:no-background:batch", "dice:batch+surgery",
                "dice:no-background:batch+surgery+ce:1.0"}) {
            ILossFunction fromSpec = LossSpec.parse(arm).create();
            LossDice.Builder region = LossDice.builder().reduction(Reduction.BATCH)
                    .includeBackground(!arm.contains("no-background"));
            ILossFunction byHand = region.build();
            ILossFunction sample = region.reduction(Reduction.SAMPLE).build();
            if (arm.contains("+surgery")) {
                byHand = GradientSurgery.wrap(byHand);
                sample = GradientSurgery.wrap(sample);
            }
            if (arm.contains("+ce:")) {
                byHand = LossWeightedSum.builder().add(1, byHand).add(1, new LossMCXENT()).build();
                sample = LossWeightedSum.builder().add(1, sample).add(1, new LossMCXENT()).build();
            }
            double score = fromSpec.computeScore(y, z.dup(), softmax, null, true);
            assertEquals(byHand.computeScore(y, z.dup(), softmax, null, true), score, 1e-12, arm);
            INDArray g = fromSpec.computeGradient(y, z.dup(), softmax, null);
            assertEquals(byHand.computeGradient(y, z.dup(), softmax, null), g, arm);
            assertTrue(g.distance2(sample.computeGradient(y, z.dup(), softmax, null)) > 1e-3,
                    arm + ": batch and per-sample groups must differ here");
        }
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
        dcie+surgery               | unknown loss 'dcie' (known: dice, jaccard, tversky, focal-tversky, generalized-dice, mcxent)
        dice+magic                 | 'dice+magic' must be NAME, NAME+surgery or NAME+surgery:GAMMA (NAME one of dice,
        dice:bg                    | 'dice:bg': unknown option 'bg'
        dice+surgery:x             | 'dice+surgery:x': 'x' is not a number
        dice+surgery:-1            | exponent must be a finite number >= 0, got -1.0
        tversky:alpha=-0.5         | tverskyAlpha must be a finite number >= 0, got -0.5
        dice+ce:-1                 | ceWeight must be a finite number >= 0, got -1.0
        mcxent+surgery:balanced    | surgeryWeighting balanced needs a region loss
        dice:batches               | 'dice:batches': unknown option 'batches'
        dice+surgery:batch         | 'dice+surgery:batch': 'batch' is not a number
        dice+surgery:2:balanced:probabilities:x | 'dice+surgery:2:balanced:probabilities:x' must be NAME
        """)
    void errorsSayWhatIsWrong(String text, String message) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LossSpec.parse(text));
        assertTrue(e.getMessage().startsWith(message), e.getMessage());
    }
}
