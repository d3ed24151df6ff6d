package org.gradsurgery.arbiter;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;
import org.gradsurgery.model.UNet;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * The U-Net builder options a sweep varies: depth (levels), filters at the first level (doubling per level),
 * normalisation (INSTANCE, BATCH or NONE), dropout probability and the Adam learning rate. Immutable; validated on
 * construction.
 */
public final class UNetSettings implements Serializable {
    private static final long serialVersionUID = 1L;
    /** The normalisation names of the U-Net builder ({@link UNet.Normalization}). */
    public static final Set<String> NORMALIZATIONS = Arrays.stream(UNet.Normalization.values()).map(Enum::name)
            .collect(Collectors.toUnmodifiableSet());

    @JsonProperty("levels")
    private final int levels;
    @JsonProperty("baseFilters")
    private final int baseFilters;
    @JsonProperty("normalization")
    private final String normalization;
    @JsonProperty("dropout")
    private final double dropout;
    @JsonProperty("learningRate")
    private final double learningRate;

    @JsonCreator
    public UNetSettings(@JsonProperty("levels") int levels, @JsonProperty("baseFilters") int baseFilters,
                        @JsonProperty("normalization") String normalization, @JsonProperty("dropout") double dropout,
                        @JsonProperty("learningRate") double learningRate) {
        if (levels < 1) {
            throw new IllegalArgumentException("levels must be >= 1, got " + levels);
        }
        if (baseFilters < 1) {
            throw new IllegalArgumentException("baseFilters must be >= 1, got " + baseFilters);
        }
        String norm = normalization == null ? "" : normalization.trim().toUpperCase(Locale.ROOT);
        if (!NORMALIZATIONS.contains(norm)) {
            throw new IllegalArgumentException("normalization must be one of " + NORMALIZATIONS + ", got '"
                    + normalization + "'");
        }
        if (!(dropout >= 0 && dropout < 1)) {
            throw new IllegalArgumentException("dropout must be in [0, 1), got " + dropout);
        }
        if (!(learningRate > 0) || Double.isInfinite(learningRate)) {
            throw new IllegalArgumentException("learningRate must be finite and > 0, got " + learningRate);
        }
        this.levels = levels;
        this.baseFilters = baseFilters;
        this.normalization = norm;
        this.dropout = dropout;
        this.learningRate = learningRate;
    }

    public int levels() {
        return levels;
    }

    public int baseFilters() {
        return baseFilters;
    }

    /** INSTANCE, BATCH or NONE. */
    public String normalization() {
        return normalization;
    }

    /** Dropout probability (the probability of dropping, 0 = off). */
    public double dropout() {
        return dropout;
    }

    public double learningRate() {
        return learningRate;
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof UNetSettings)) {
            return false;
        }
        UNetSettings s = (UNetSettings) o;
        return levels == s.levels && baseFilters == s.baseFilters && normalization.equals(s.normalization)
                && Double.compare(dropout, s.dropout) == 0 && Double.compare(learningRate, s.learningRate) == 0;
    }

    @Override
    public int hashCode() {
        return Objects.hash(levels, baseFilters, normalization, dropout, learningRate);
    }

    @Override
    public String toString() {
        return "UNetSettings(levels=" + levels + ", baseFilters=" + baseFilters + ", normalization=" + normalization
                + ", dropout=" + dropout + ", learningRate=" + learningRate + ")";
    }
}
