package org.gradsurgery.examples.cli;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;
import org.gradsurgery.loss.GradientSurgery;
import org.gradsurgery.loss.LossDice;
import org.gradsurgery.loss.LossFocalTversky;
import org.gradsurgery.loss.LossGeneralizedDice;
import org.gradsurgery.loss.LossJaccard;
import org.gradsurgery.loss.LossTversky;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;

/**
 * A loss named on the command line: a base ({@code dice}, {@code jaccard}, {@code tversky}, {@code focal-tversky},
 * {@code generalized-dice}, {@code mcxent} = DL4J's multi-class cross-entropy; each with the library's defaults),
 * optionally under gradient vector field surgery with error exponent γ. Written {@code NAME}, {@code NAME+surgery} or
 * {@code NAME+surgery:γ} in lists ({@code compare --losses dice,dice+surgery}).
 */
record LossSpec(String base, boolean surgery, double exponent) {
    private static final Map<String, Supplier<ILossFunction>> BASES = new LinkedHashMap<>();

    static {
        BASES.put("dice", LossDice::new);
        BASES.put("jaccard", LossJaccard::new);
        BASES.put("tversky", LossTversky::new);
        BASES.put("focal-tversky", LossFocalTversky::new);
        BASES.put("generalized-dice", LossGeneralizedDice::new);
        BASES.put("mcxent", LossMCXENT::new);
    }

    LossSpec {
        base = base.trim().toLowerCase(Locale.ROOT);
        if (!BASES.containsKey(base)) {
            throw new IllegalArgumentException("unknown loss '" + base + "' (known: " + known() + ")");
        }
        if (surgery && (!(exponent >= 0) || Double.isInfinite(exponent))) {
            throw new IllegalArgumentException("surgery exponent must be a finite number >= 0, got " + exponent);
        }
    }

    /** The base names, comma separated. */
    static String known() {
        return String.join(", ", BASES.keySet());
    }

    /** Parses {@code NAME}, {@code NAME+surgery} or {@code NAME+surgery:γ}. */
    static LossSpec parse(String spec) {
        String s = spec.trim().toLowerCase(Locale.ROOT);
        int plus = s.indexOf('+');
        if (plus < 0) {
            return new LossSpec(s, false, GradientSurgery.DEFAULT_EXPONENT);
        }
        String suffix = s.substring(plus + 1);
        double exponent = GradientSurgery.DEFAULT_EXPONENT;
        if (suffix.startsWith("surgery:")) {
            try {
                exponent = Double.parseDouble(suffix.substring("surgery:".length()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("bad exponent in '" + spec + "' (write e.g. dice+surgery:2)");
            }
        } else if (!suffix.equals("surgery")) {
            throw new IllegalArgumentException("'" + spec + "' must be NAME, NAME+surgery or NAME+surgery:EXPONENT "
                    + "with NAME one of " + known());
        }
        return new LossSpec(s.substring(0, plus), true, exponent);
    }

    /** A fresh loss function. */
    ILossFunction create() {
        ILossFunction loss = BASES.get(base).get();
        return surgery ? GradientSurgery.wrap(loss, exponent) : loss;
    }

    /** Display name: {@code dice}, {@code dice + surgery}, {@code dice + surgery γ=2.0}. */
    String label() {
        if (!surgery) {
            return base;
        }
        return exponent == GradientSurgery.DEFAULT_EXPONENT ? base + " + surgery" : base + " + surgery γ=" + exponent;
    }

    /** File-name form: {@code dice}, {@code dice-surgery}, {@code dice-surgery-2.0}. */
    String slug() {
        if (!surgery) {
            return base;
        }
        return exponent == GradientSurgery.DEFAULT_EXPONENT ? base + "-surgery" : base + "-surgery-" + exponent;
    }

    /** The {@code NAME[+surgery[:γ]]} form. */
    @Override
    public String toString() {
        return surgery ? base + "+surgery" + (exponent == GradientSurgery.DEFAULT_EXPONENT ? "" : ":" + exponent)
                : base;
    }
}
