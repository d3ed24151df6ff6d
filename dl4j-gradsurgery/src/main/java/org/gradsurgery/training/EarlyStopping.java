package org.gradsurgery.training;

import java.util.Locale;
import java.util.Objects;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * Early stopping rule: stop when the validation {@link #metric()} has not improved by more than {@link #minDelta()}
 * for {@link #patience()} consecutive validated epochs. "Improved" means {@code v < best − minDelta} in
 * {@link Mode#MIN} and {@code v > best + minDelta} in {@link Mode#MAX}. Immutable.
 */
public final class EarlyStopping {

    /** The validation number early stopping watches. */
    public enum Metric {
        /** Mean validation loss (the network's score), lower is better. */
        LOSS(Mode.MIN),
        /** Mean foreground Dice over classes of the argmax prediction, higher is better. */
        DICE(Mode.MAX),
        /** Top-label expected calibration error, lower is better. */
        ECE(Mode.MIN);

        private final Mode natural;

        Metric(Mode natural) {
            this.natural = natural;
        }

        /** The direction in which this metric gets better. */
        public Mode naturalMode() {
            return natural;
        }

        /** Parses {@code loss}, {@code dice} or {@code ece} (any case). */
        public static Metric parse(String s) {
            for (Metric m : values()) {
                if (m.name().equalsIgnoreCase(s.trim())) {
                    return m;
                }
            }
            throw org.gradsurgery.InvalidSettingException.unreadable("earlyStopping", "unknown early-stopping metric '"
                    + s + "' (known: loss, dice, ece)");
        }

        public String lowerName() {
            return name().toLowerCase(Locale.ROOT);
        }
    }

    /** Whether smaller or larger values are better. */
    public enum Mode { MIN, MAX }

    private final Metric metric;
    private final Mode mode;
    private final int patience;
    private final double minDelta;

    /**
     * @param metric   the watched metric
     * @param mode     MIN or MAX; null takes the metric's natural direction
     * @param patience validated epochs without improvement before stopping (≥ 1)
     * @param minDelta smallest change that counts as an improvement (≥ 0)
     */
    @JsonCreator
    public EarlyStopping(@JsonProperty("metric") Metric metric, @JsonProperty("mode") Mode mode,
                         @JsonProperty("patience") int patience, @JsonProperty("minDelta") double minDelta) {
        this.metric = Objects.requireNonNull(metric, "early stopping metric");
        this.mode = mode == null ? metric.naturalMode() : mode;
        if (patience < 1) {
            throw new org.gradsurgery.InvalidSettingException("EarlyStopping", "patience", "must be >= 1 epoch, got "
                    + patience);
        }
        if (!(minDelta >= 0)) {
            throw new org.gradsurgery.InvalidSettingException("EarlyStopping", "minDelta", "must be >= 0, got "
                    + minDelta);
        }
        this.patience = patience;
        this.minDelta = minDelta;
    }

    /** {@code metric} in its natural direction with {@code minDelta = 0}. */
    public static EarlyStopping on(Metric metric, int patience) {
        return new EarlyStopping(metric, null, patience, 0.0);
    }

    @JsonProperty("metric")
    public Metric metric() {
        return metric;
    }

    @JsonProperty("mode")
    public Mode mode() {
        return mode;
    }

    @JsonProperty("patience")
    public int patience() {
        return patience;
    }

    @JsonProperty("minDelta")
    public double minDelta() {
        return minDelta;
    }

    /** Whether {@code value} improves on {@code best} (NaN never improves; anything improves on a NaN best). */
    public boolean improves(double value, double best) {
        if (Double.isNaN(value)) {
            return false;
        }
        if (Double.isNaN(best)) {
            return true;
        }
        return mode == Mode.MIN ? value < best - minDelta : value > best + minDelta;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof EarlyStopping e && metric == e.metric && mode == e.mode && patience == e.patience
                && Double.compare(minDelta, e.minDelta) == 0;
    }

    @Override
    public int hashCode() {
        return Objects.hash(metric, mode, patience, minDelta);
    }

    @Override
    public String toString() {
        return "EarlyStopping{" + metric.lowerName() + ", " + mode + ", patience " + patience + ", minDelta " + minDelta
                + "}";
    }
}
