package org.gradsurgery.arbiter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.deeplearning4j.arbiter.optimize.api.CandidateGenerator;
import org.deeplearning4j.arbiter.optimize.api.ParameterSpace;
import org.deeplearning4j.arbiter.optimize.generator.GridSearchCandidateGenerator;
import org.deeplearning4j.arbiter.optimize.generator.RandomSearchGenerator;
import org.deeplearning4j.arbiter.optimize.parameter.continuous.ContinuousParameterSpace;
import org.deeplearning4j.arbiter.optimize.parameter.discrete.DiscreteParameterSpace;
import org.deeplearning4j.arbiter.optimize.serde.jackson.JsonMapper;
import org.gradsurgery.loss.AbstractRegionLoss;
import org.gradsurgery.loss.GradientSurgery;
import org.gradsurgery.loss.LossDice;
import org.gradsurgery.loss.LossTversky;
import org.gradsurgery.loss.LossWeightedSum;
import org.gradsurgery.loss.Reduction;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;

class LossSpaceTest {

    private static LossSpace space() {
        return LossSpace.builder()
                .kind(new DiscreteParameterSpace<>("dice", "tversky"))
                .surgery(new DiscreteParameterSpace<>(false, true))
                .exponent(new ContinuousParameterSpace(0.5, 2.0))
                .includeBackground(new DiscreteParameterSpace<>(false))
                .reduction(new DiscreteParameterSpace<>("SAMPLE", "BATCH"))
                .ceWeight(new DiscreteParameterSpace<>(0.0, 0.5))
                .tverskyAlpha(new ContinuousParameterSpace(0.3, 0.7))
                .build();
    }

    private static List<ILossFunction> draw(ParameterSpace<ILossFunction> space, long seed, int n) {
        CandidateGenerator g = new RandomSearchGenerator(space);
        g.setRngSeed(seed);
        List<ILossFunction> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add((ILossFunction) g.getCandidate().getValue());
        }
        return out;
    }

    @Test
    void candidatesAreTheProjectsLossesWithTheDrawnOptions() {
        Set<String> seen = new HashSet<>();
        for (ILossFunction loss : draw(space(), 7, 40)) {
            ILossFunction region = loss;
            if (loss instanceof LossWeightedSum) {
                List<LossWeightedSum.Term> terms = ((LossWeightedSum) loss).getTerms();
                assertEquals(2, terms.size());
                assertEquals(1.0, terms.get(0).getWeight());
                assertEquals(0.5, terms.get(1).getWeight());
                assertInstanceOf(LossMCXENT.class, terms.get(1).getLoss());
                region = terms.get(0).getLoss();
                seen.add("ce");
            }
            if (region instanceof GradientSurgery) {
                GradientSurgery g = (GradientSurgery) region;
                assertTrue(g.getExponent() >= 0.5 && g.getExponent() <= 2.0, "exponent " + g.getExponent());
                assertEquals(GradientSurgery.Space.LOGITS, g.getSpace());
                region = g.getBase();
                seen.add("surgery");
            }
            assertTrue(!((AbstractRegionLoss) region).isIncludeBackground());
            seen.add(((AbstractRegionLoss) region).getReduction().name());
            if (region instanceof LossTversky) {
                double a = ((LossTversky) region).getAlpha();
                assertTrue(a >= 0.3 && a <= 0.7, "alpha " + a);
                assertEquals(0.5, ((LossTversky) region).getBeta());
                seen.add("tversky");
            } else {
                assertInstanceOf(LossDice.class, region);
                seen.add("dice");
            }
        }
        assertEquals(Set.of("ce", "surgery", "tversky", "dice", "SAMPLE", "BATCH"), seen);
    }

    @Test
    void unsetChildrenGiveTheDefaultDice() {
        LossSpace s = LossSpace.builder().build();
        assertEquals(0, s.numParameters());
        assertEquals(new LossDice(), s.getValue(new double[0]));
    }

    /** Arbiter's JSON round trip keeps the space, so the same seed draws the same losses. */
    @Test
    void jsonRoundTripGivesTheSameCandidatesForTheSameSeed() throws Exception {
        LossSpace original = space();
        String json = JsonMapper.getMapper().writeValueAsString(original);
        LossSpace restored = JsonMapper.getMapper().readValue(json, LossSpace.class);
        assertEquals(original, restored);
        List<ILossFunction> a = draw(original, 11, 25);
        List<ILossFunction> b = draw(restored, 11, 25);
        assertEquals(a, b);
        assertNotEquals(a, draw(restored, 12, 25));
    }

    /** A space saved before the reduction existed has no "reduction": it reads back with SAMPLE, as it trained. */
    @Test
    void jsonWithoutReductionReadsAsSample() throws Exception {
        LossSpace original = LossSpace.builder().kind(new DiscreteParameterSpace<>("dice", "jaccard")).build();
        org.nd4j.shade.jackson.databind.node.ObjectNode tree = JsonMapper.getMapper().valueToTree(original);
        assertTrue(tree.has("reduction"), tree.toString());
        tree.remove("reduction");
        LossSpace restored = JsonMapper.getMapper().treeToValue(tree, LossSpace.class);
        assertEquals(original, restored);
        assertEquals(draw(original, 5, 6), draw(restored, 5, 6));
        assertEquals(Reduction.SAMPLE, restored.spec(new double[] {0.2}).reduction());
    }

    @Test
    void gridWalksListsAndRangeEndpoints() {
        LossSpace s = LossSpace.builder().kind(new DiscreteParameterSpace<>("dice", "jaccard"))
                .surgery(new DiscreteParameterSpace<>(true))
                .exponent(new ContinuousParameterSpace(0.5, 2.0)).build();
        GridSearchCandidateGenerator g = new GridSearchCandidateGenerator(s, 2,
                GridSearchCandidateGenerator.Mode.Sequential, null);
        assertEquals(4, g.getTotalNumCandidates());
        Set<String> got = new HashSet<>();
        while (g.hasMoreCandidates()) {
            GradientSurgery loss = (GradientSurgery) g.getCandidate().getValue();
            got.add(loss.getBase().getClass().getSimpleName() + "@" + loss.getExponent());
        }
        assertEquals(Set.of("LossDice@0.5", "LossDice@2.0", "LossJaccard@0.5", "LossJaccard@2.0"), got);
    }
}
