package org.gradsurgery.loss;

import java.util.Arrays;
import java.util.Locale;
import org.gradsurgery.InvalidSettingException;
import java.util.stream.Collectors;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * The base losses the project names in text — command-line flags ({@code gradsurgery train --loss}), loss specs
 * ({@link LossSpec}), sweep specs and run directories — one name each: {@code dice}, {@code jaccard},
 * {@code tversky}, {@code focal-tversky}, {@code generalized-dice} (the region losses of this package) and
 * {@code mcxent} (multi-class cross-entropy as a per-voxel mean, {@link LossCrossEntropy}). Names parse case-insensitively with {@code -} and {@code _}
 * alike, so the sweep specs' {@code focal_tversky} is {@code focal-tversky}. Every loss is built with the library's
 * defaults except the options a {@link LossSpec} varies: whether the background class counts and the
 * {@link Reduction} (region losses), and Tversky α/β ({@code tversky}, {@code focal-tversky}; Tversky with
 * α = β = 0.5 is Dice).
 */
public enum LossKind {
    DICE, JACCARD, TVERSKY, FOCAL_TVERSKY, GENERALIZED_DICE, MCXENT;

    /** The name: lower case with hyphens ({@code focal-tversky}). */
    public String specName() {
        return name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** Whether this is one of the region (overlap) losses, which can leave out the background class. */
    public boolean isRegion() {
        return this != MCXENT;
    }

    /** Whether α/β are parameters of this loss. */
    public boolean usesTverskyWeights() {
        return this == TVERSKY || this == FOCAL_TVERSKY;
    }

    /** The kind named {@code name} (case-insensitive, '-' or '_'); the error lists the known names. */
    public static LossKind parse(String name) {
        String n = name == null ? "" : name.trim().toUpperCase(Locale.ROOT).replace('-', '_');
        for (LossKind k : values()) {
            if (k.name().equals(n)) {
                return k;
            }
        }
        throw InvalidSettingException.unreadable("loss", "unknown loss '" + (name == null ? "" : name.trim())
                + "' (known: " + knownNames() + ")");
    }

    /** "dice, jaccard, ..." for help texts and error messages. */
    public static String knownNames() {
        return Arrays.stream(values()).map(LossKind::specName).collect(Collectors.joining(", "));
    }

    /**
     * The loss with the given options; {@code includeBackground} and {@code reduction} are ignored by
     * {@code mcxent}, α and β unless {@link #usesTverskyWeights()}.
     */
    public ILossFunction build(boolean includeBackground, Reduction reduction, double alpha, double beta) {
        switch (this) {
            case DICE:
                return LossDice.builder().includeBackground(includeBackground).reduction(reduction).build();
            case JACCARD:
                return LossJaccard.builder().includeBackground(includeBackground).reduction(reduction).build();
            case TVERSKY:
                return LossTversky.builder().includeBackground(includeBackground).reduction(reduction).alpha(alpha)
                        .beta(beta).build();
            case FOCAL_TVERSKY:
                return LossFocalTversky.builder().includeBackground(includeBackground).reduction(reduction).alpha(alpha)
                        .beta(beta).build();
            case GENERALIZED_DICE:
                return LossGeneralizedDice.builder().includeBackground(includeBackground).reduction(reduction).build();
            case MCXENT:
                return new LossCrossEntropy();
            default:
                throw new AssertionError(this);
        }
    }
}
