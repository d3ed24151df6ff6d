package org.gradsurgery.metrics;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Per-class means over cases of Dice, IoU, HD95 and ASSD, with the per-case values. Immutable.
 *
 * <p>{@code dice(c)} = (1/K) Σ_k Dice_k(c) over the K cases; likewise IoU. HD95 and ASSD average only the cases where
 * they are defined (NaN cases, one of P and G empty, are left out and counted by {@link #undefinedDistances(int)}); a
 * class with no defined case gives NaN. The {@code mean*()} methods average the per-class values over the evaluated
 * classes (foreground only unless background was included), ignoring NaN classes for the distances.
 * Conventions for empty masks are in {@link SegmentationMetrics}.
 */
public final class SegmentationResult {
    private final int numClasses;
    private final boolean includeBackground;
    private final boolean surfaceDistances;
    private final long caseCount;
    private final List<CaseMetrics> cases;
    private final double[] dice;
    private final double[] iou;
    private final double[] hd95;
    private final double[] assd;
    private final long[] undefined;

    SegmentationResult(int numClasses, boolean includeBackground, boolean surfaceDistances, long caseCount,
                       List<CaseMetrics> cases) {
        this.numClasses = numClasses;
        this.includeBackground = includeBackground;
        this.surfaceDistances = surfaceDistances;
        this.caseCount = caseCount;
        this.cases = List.copyOf(cases);
        dice = new double[numClasses];
        iou = new double[numClasses];
        hd95 = new double[numClasses];
        assd = new double[numClasses];
        undefined = new long[numClasses];
        long[] n = new long[numClasses];
        long[] nd = new long[numClasses];
        for (CaseMetrics m : this.cases) {
            int c = m.classIndex();
            n[c]++;
            dice[c] += m.dice();
            iou[c] += m.iou();
            if (Double.isNaN(m.hd95())) {
                undefined[c]++;
            } else {
                nd[c]++;
                hd95[c] += m.hd95();
                assd[c] += m.assd();
            }
        }
        for (int c = 0; c < numClasses; c++) {
            dice[c] = n[c] == 0 ? Double.NaN : dice[c] / n[c];
            iou[c] = n[c] == 0 ? Double.NaN : iou[c] / n[c];
            hd95[c] = nd[c] == 0 ? Double.NaN : hd95[c] / nd[c];
            assd[c] = nd[c] == 0 ? Double.NaN : assd[c] / nd[c];
        }
        if (!surfaceDistances) {
            Arrays.fill(undefined, 0);
        }
    }

    /** Number of classes C including background. */
    public int numClasses() {
        return numClasses;
    }

    /** Number of cases (examples) seen. */
    public long caseCount() {
        return caseCount;
    }

    /** Mean Dice of class c over cases. */
    public double dice(int c) {
        return dice[check(c)];
    }

    /** Mean IoU of class c over cases. */
    public double iou(int c) {
        return iou[check(c)];
    }

    /** Mean HD95 of class c over the cases where it is defined, in the units of the spacing. */
    public double hd95(int c) {
        checkDistances();
        return hd95[check(c)];
    }

    /** Mean ASSD of class c over the cases where it is defined, in the units of the spacing. */
    public double assd(int c) {
        checkDistances();
        return assd[check(c)];
    }

    /** Number of cases of class c whose HD95/ASSD were undefined (exactly one of P, G empty) and left out. */
    public long undefinedDistances(int c) {
        return undefined[check(c)];
    }

    /** Mean of {@link #dice(int)} over the evaluated classes. */
    public double meanDice() {
        return meanOver(dice);
    }

    /** Mean of {@link #iou(int)} over the evaluated classes. */
    public double meanIou() {
        return meanOver(iou);
    }

    /** Mean of {@link #hd95(int)} over the evaluated classes with a defined value. */
    public double meanHd95() {
        checkDistances();
        return meanOver(hd95);
    }

    /** Mean of {@link #assd(int)} over the evaluated classes with a defined value. */
    public double meanAssd() {
        checkDistances();
        return meanOver(assd);
    }

    /** Whether HD95/ASSD were computed. */
    public boolean hasSurfaceDistances() {
        return surfaceDistances;
    }

    /** Every (case, class) value, in update order. */
    public List<CaseMetrics> cases() {
        return cases;
    }

    private double meanOver(double[] v) {
        double sum = 0;
        int n = 0;
        for (int c = firstClass(); c < numClasses; c++) {
            if (!Double.isNaN(v[c])) {
                sum += v[c];
                n++;
            }
        }
        return n == 0 ? Double.NaN : sum / n;
    }

    private int firstClass() {
        return includeBackground ? 0 : 1;
    }

    private int check(int c) {
        if (c < 0 || c >= numClasses) {
            throw new IllegalArgumentException("SegmentationResult: class " + c + " out of range [0, " + numClasses
                    + ")");
        }
        if (c < firstClass()) {
            throw new IllegalArgumentException("SegmentationResult: class 0 (background) was not evaluated; build "
                    + "SegmentationMetrics with includeBackground(true)");
        }
        return c;
    }

    private void checkDistances() {
        if (!surfaceDistances) {
            throw new IllegalStateException("SegmentationResult: surface distances were disabled; build "
                    + "SegmentationMetrics with surfaceDistances(true)");
        }
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("SegmentationResult{cases=").append(caseCount);
        for (int c = firstClass(); c < numClasses; c++) {
            sb.append(String.format(Locale.ROOT, ", class %d: dice=%.4f iou=%.4f", c, dice[c], iou[c]));
            if (surfaceDistances) {
                sb.append(String.format(Locale.ROOT, " hd95=%.3f assd=%.3f", hd95[c], assd[c]));
            }
        }
        return sb.append('}').toString();
    }
}
