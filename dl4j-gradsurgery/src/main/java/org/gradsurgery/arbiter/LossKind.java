package org.gradsurgery.arbiter;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;
import org.gradsurgery.loss.AbstractRegionLoss;
import org.gradsurgery.loss.LossDice;
import org.gradsurgery.loss.LossFocalTversky;
import org.gradsurgery.loss.LossGeneralizedDice;
import org.gradsurgery.loss.LossJaccard;
import org.gradsurgery.loss.LossTversky;

/**
 * The region losses a sweep can choose between, by the names used in sweep specs ({@code dice}, {@code jaccard},
 * {@code tversky}, {@code focal_tversky}, {@code generalized_dice}). Tversky α/β apply to the two Tversky kinds
 * only (Tversky with α = β = 0.5 is Dice).
 */
public enum LossKind {
    DICE, JACCARD, TVERSKY, FOCAL_TVERSKY, GENERALIZED_DICE;

    /** The spec name: lower case with underscores. */
    public String specName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** Whether α/β are parameters of this loss. */
    public boolean usesTverskyWeights() {
        return this == TVERSKY || this == FOCAL_TVERSKY;
    }

    /** The kind named {@code name} (case-insensitive, '-' or '_'); the error names the known kinds. */
    public static LossKind parse(String name) {
        String n = name == null ? "" : name.trim().toUpperCase(Locale.ROOT).replace('-', '_');
        for (LossKind k : values()) {
            if (k.name().equals(n)) {
                return k;
            }
        }
        throw new IllegalArgumentException("unknown loss '" + name + "' (known: " + knownNames() + ")");
    }

    /** "dice, jaccard, ..." for error messages. */
    public static String knownNames() {
        return Arrays.stream(values()).map(LossKind::specName).collect(Collectors.joining(", "));
    }

    /** The loss with the given options; α and β are ignored unless {@link #usesTverskyWeights()}. */
    public AbstractRegionLoss build(boolean includeBackground, double alpha, double beta) {
        switch (this) {
            case DICE:
                return LossDice.builder().includeBackground(includeBackground).build();
            case JACCARD:
                return LossJaccard.builder().includeBackground(includeBackground).build();
            case TVERSKY:
                return LossTversky.builder().includeBackground(includeBackground).alpha(alpha).beta(beta).build();
            case FOCAL_TVERSKY:
                return LossFocalTversky.builder().includeBackground(includeBackground).alpha(alpha).beta(beta).build();
            case GENERALIZED_DICE:
                return LossGeneralizedDice.builder().includeBackground(includeBackground).build();
            default:
                throw new AssertionError(this);
        }
    }
}
