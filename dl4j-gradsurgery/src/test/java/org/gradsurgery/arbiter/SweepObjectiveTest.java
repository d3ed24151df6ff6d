package org.gradsurgery.arbiter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.gradsurgery.loss.LossDice;
import org.junit.jupiter.api.Test;

/** The ranking on fabricated candidate results, where the right order is known by hand. */
class SweepObjectiveTest {
    private static final SweepCandidate C = new SweepCandidate(new LossDice(),
            org.gradsurgery.experiment.UNetSpec.builder().levels(2).baseFilters(4).build());

    private static CandidateResult done(int index, double dice, double ece) {
        return CandidateResult.completed(index, C, new ValidationMetrics(dice, ece, ece / 2, ece * 3, 0.5, 0.1), 3, 2,
                1.0, "max epochs", "candidate-" + index);
    }

    private static List<Integer> order(List<CandidateResult> ranked) {
        List<Integer> out = new ArrayList<>();
        for (CandidateResult r : ranked) {
            out.add(r.index());
        }
        return out;
    }

    @Test
    void constrainedPicksLowestEceWithinDeltaOfBestDice() {
        List<CandidateResult> rs = List.of(
                done(0, 0.80, 0.050),   // best Dice, poorly calibrated
                done(1, 0.79, 0.020),   // within δ = 0.02, best calibrated of the eligible
                done(2, 0.70, 0.005),   // best ECE overall, but Dice 0.10 below the best: not eligible
                done(3, 0.785, 0.030),  // eligible
                CandidateResult.failed(4, C, 0.5, null, "boom"),
                done(5, 0.75, 0.010));  // not eligible (0.05 below)
        SweepObjective o = SweepObjective.constrained(ValidationMetrics.Metric.ECE_CLASSWISE, 0.02);
        List<CandidateResult> ranked = o.rank(rs);
        // eligible by ECE: 1 (0.020), 3 (0.030), 0 (0.050); then the rest by Dice: 5 (0.75), 2 (0.70); failed last
        assertEquals(List.of(1, 3, 0, 5, 2, 4), order(ranked));
        assertEquals(0.80, SweepObjective.bestDice(rs));
        assertTrue(o.eligible(rs.get(3), 0.80));
        assertFalse(o.eligible(rs.get(2), 0.80));
        assertEquals(ValidationMetrics.Metric.DICE, o.monitored());
        // δ = 0: only the best-Dice candidate is eligible
        assertEquals(List.of(0, 1, 3, 5, 2, 4),
                order(SweepObjective.constrained(ValidationMetrics.Metric.ECE_CLASSWISE, 0).rank(rs)));
        // another calibration metric: boundary ECE = 3·ECE in the fabricated data, same order
        assertEquals(List.of(1, 3, 0, 5, 2, 4),
                order(SweepObjective.constrained(ValidationMetrics.Metric.ECE_BOUNDARY, 0.02).rank(rs)));
    }

    @Test
    void plainMetricsRankInTheirDirectionWithNaNLast() {
        List<CandidateResult> rs = List.of(done(0, 0.80, 0.050), done(1, Double.NaN, Double.NaN),
                done(2, 0.90, 0.010), done(3, 0.70, 0.030));
        assertEquals(List.of(2, 0, 3, 1), order(SweepObjective.of(ValidationMetrics.Metric.DICE).rank(rs)));
        assertEquals(List.of(2, 3, 0, 1), order(SweepObjective.of(ValidationMetrics.Metric.ECE_TOP_LABEL).rank(rs)));
        // ties keep Arbiter's candidate order
        List<CandidateResult> tied = List.of(done(3, 0.8, 0.01), done(1, 0.8, 0.01));
        assertEquals(List.of(1, 3), order(SweepObjective.of(ValidationMetrics.Metric.NLL).rank(tied)));
    }

    @Test
    void rejectsBadConstraints() {
        assertThrows(IllegalArgumentException.class,
                () -> SweepObjective.constrained(ValidationMetrics.Metric.ECE_CLASSWISE, -0.1));
        assertThrows(IllegalArgumentException.class,
                () -> SweepObjective.constrained(ValidationMetrics.Metric.DICE, 0.1));
        assertThrows(IllegalArgumentException.class, () -> new CandidateResult(0, C, null, 0, 0, 0, "x", null, null));
    }
}
