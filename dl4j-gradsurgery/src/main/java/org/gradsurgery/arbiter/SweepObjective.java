package org.gradsurgery.arbiter;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * How a sweep ranks its finished candidates: by one {@link ValidationMetrics.Metric}, or by the constrained rule
 * "best calibration at no loss of Dice":
 * <pre>
 *   D* = max over completed candidates of Dice
 *   eligible = { candidates with Dice ≥ D* − δ }
 *   rank: eligible by ECE ascending (ties: higher Dice first), then the others by Dice descending,
 *         then failed candidates
 * </pre>
 * The constrained score needs D*, i.e. every candidate's result, so it cannot be an Arbiter per-candidate score;
 * it is applied as a ranking over the finished candidates ({@link #rank}). During the search (progress, early
 * stopping within a candidate) the constrained objective monitors Dice, the quantity the constraint is about.
 */
public final class SweepObjective {
    private final ValidationMetrics.Metric metric;
    private final double delta;

    private SweepObjective(ValidationMetrics.Metric metric, double delta) {
        this.metric = Objects.requireNonNull(metric, "metric");
        this.delta = delta;
    }

    /** Rank by {@code metric} alone (Dice descending; the others ascending). */
    public static SweepObjective of(ValidationMetrics.Metric metric) {
        return new SweepObjective(metric, Double.NaN);
    }

    /** The lowest {@code ece} among candidates whose Dice is within {@code delta} (≥ 0) of the best Dice. */
    public static SweepObjective constrained(ValidationMetrics.Metric ece, double delta) {
        if (!(delta >= 0) || Double.isInfinite(delta)) {
            throw new IllegalArgumentException("SweepObjective: delta must be finite and >= 0, got " + delta);
        }
        if (ece == ValidationMetrics.Metric.DICE) {
            throw new IllegalArgumentException("SweepObjective: the constrained score minimises a calibration "
                    + "metric, not dice");
        }
        return new SweepObjective(ece, delta);
    }

    public boolean isConstrained() {
        return !Double.isNaN(delta);
    }

    /** The ranked metric (for the constrained score: the calibration metric minimised under the constraint). */
    public ValidationMetrics.Metric metric() {
        return metric;
    }

    /** δ of the constrained score; NaN otherwise. */
    public double delta() {
        return delta;
    }

    /** What early stopping and the progress line follow: the metric, or Dice for the constrained score. */
    public ValidationMetrics.Metric monitored() {
        return isConstrained() ? ValidationMetrics.Metric.DICE : metric;
    }

    /** The candidates best first (see the class documentation); the input is not modified. */
    public List<CandidateResult> rank(List<CandidateResult> results) {
        List<CandidateResult> done = new ArrayList<>();
        List<CandidateResult> failed = new ArrayList<>();
        for (CandidateResult r : results) {
            (r.failed() ? failed : done).add(r);
        }
        Comparator<CandidateResult> byIndex = Comparator.comparingInt(CandidateResult::index);
        Comparator<CandidateResult> byDice = Comparator.comparing((CandidateResult r) -> r.metrics().dice(),
                SweepObjective::descendingNaNLast);
        Comparator<CandidateResult> order;
        if (isConstrained()) {
            double best = bestDice(done);
            Comparator<CandidateResult> eligibleFirst = Comparator.comparing(r -> eligible(r, best) ? 0 : 1);
            Comparator<CandidateResult> within = (a, b) -> {
                if (!eligible(a, best)) {
                    return 0;
                }
                return ascendingNaNLast(a.metrics().get(metric), b.metrics().get(metric));
            };
            order = eligibleFirst.thenComparing(within).thenComparing(byDice);
        } else {
            order = Comparator.comparing((CandidateResult r) -> r.metrics().get(metric),
                    metric.minimize() ? SweepObjective::ascendingNaNLast : SweepObjective::descendingNaNLast);
        }
        done.sort(order.thenComparing(byIndex));
        failed.sort(byIndex);
        done.addAll(failed);
        return done;
    }

    /** Whether {@code r} meets the Dice constraint given the best Dice (always true for a plain metric). */
    public boolean eligible(CandidateResult r, double bestDice) {
        if (r.failed()) {
            return false;
        }
        return !isConstrained() || r.metrics().dice() >= bestDice - delta;
    }

    /** The highest Dice of the completed results (NaN if none). */
    public static double bestDice(List<CandidateResult> results) {
        double best = Double.NaN;
        for (CandidateResult r : results) {
            if (!r.failed() && !Double.isNaN(r.metrics().dice()) && !(r.metrics().dice() <= best)) {
                best = r.metrics().dice();
            }
        }
        return best;
    }

    private static int ascendingNaNLast(double a, double b) {
        if (Double.isNaN(a) || Double.isNaN(b)) {
            return Boolean.compare(Double.isNaN(a), Double.isNaN(b));
        }
        return Double.compare(a, b);
    }

    private static int descendingNaNLast(double a, double b) {
        if (Double.isNaN(a) || Double.isNaN(b)) {
            return Boolean.compare(Double.isNaN(a), Double.isNaN(b));
        }
        return Double.compare(b, a);
    }

    /** "constrained(ece_classwise, δ=0.02)" or the metric's name. */
    public String describe() {
        return isConstrained()
                ? String.format(Locale.ROOT, "lowest %s with dice >= best dice - %s", metric.specName(), delta)
                : (metric.minimize() ? "lowest " : "highest ") + metric.specName();
    }

    @Override
    public String toString() {
        return "SweepObjective(" + describe() + ")";
    }
}
