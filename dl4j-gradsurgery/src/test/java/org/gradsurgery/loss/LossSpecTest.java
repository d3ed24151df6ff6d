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
                        all.add(LossSpec.builder().kind(k).includeBackground(bg).surgery(surgery).exponent(1.5)
                                .ceWeight(ce).tverskyAlpha(0.4).build());
                        if (surgery && k.isRegion()) {
                            all.add(LossSpec.builder().kind(k).includeBackground(bg).surgery(true)
                                    .surgeryWeighting(GradientSurgery.Weighting.BALANCED).ceWeight(ce).build());
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
        assertEquals(Optional.empty(), LossSpec.describing(LossDice.builder().reduction(Reduction.BATCH).build()));
        assertEquals(Optional.empty(), LossSpec.describing(LossFocalTversky.builder().gamma(2).build()));
        assertEquals(Optional.empty(), LossSpec.describing(LossWeightedSum.builder().add(1, new LossDice())
                .add(1, new LossJaccard()).build()));
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
        dice+surgery:2:balanced:probabilities:x | 'dice+surgery:2:balanced:probabilities:x' must be NAME
        """)
    void errorsSayWhatIsWrong(String text, String message) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LossSpec.parse(text));
        assertTrue(e.getMessage().startsWith(message), e.getMessage());
    }
}
