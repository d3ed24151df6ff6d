package org.gradsurgery.evaluation;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import org.gradsurgery.io.AtomicFiles;
import org.gradsurgery.metrics.CaseMetrics;

/**
 * What {@link CaseEvaluator} measured: the pooled {@link EvaluationResult} (class means over cases, calibration over
 * every real voxel) and, per case, its id, grid and spacing, so the per-case rows of
 * {@link org.gradsurgery.metrics.SegmentationResult#cases()} (indexed in evaluation order) can be named. Immutable.
 *
 * @param result the aggregate; {@code result.examples()} is the number of cases
 * @param cases  one entry per evaluated case, in evaluation order
 */
public record CaseEvaluation(EvaluationResult result, List<CaseInfo> cases) {

    /** CSV header of {@link #writeCsv(Path)}. */
    public static final String CSV_HEADER = "case,class,dice,iou,hd95,assd,predicted_voxels,reference_voxels,shape,"
            + "spacing";

    public CaseEvaluation {
        cases = List.copyOf(cases);
    }

    /** One case: its id and, after preprocessing, its spatial shape and voxel spacing (mm). */
    public record CaseInfo(String id, int[] shape, double[] spacing) {
        public CaseInfo {
            shape = shape.clone();
            spacing = spacing.clone();
        }
    }

    /** Number of cases scored. */
    public int caseCount() {
        return cases.size();
    }

    /** The per-class rows of case {@code i} (evaluation order). */
    public List<CaseMetrics> metricsOf(int i) {
        List<CaseMetrics> out = new ArrayList<>();
        for (CaseMetrics m : result.segmentation().cases()) {
            if (m.caseIndex() == i) {
                out.add(m);
            }
        }
        return out;
    }

    /** Writes one row per case and class ({@link #CSV_HEADER}); shape and spacing as {@code a x b x c}. */
    public void writeCsv(Path file) throws IOException {
        StringBuilder b = new StringBuilder(CSV_HEADER).append('\n');
        for (CaseMetrics m : result.segmentation().cases()) {
            CaseInfo c = cases.get(Math.toIntExact(m.caseIndex()));
            b.append(String.format(Locale.ROOT, "%s,%d,%s,%s,%s,%s,%d,%d,%s,%s%n", csv(c.id()), m.classIndex(),
                    m.dice(), m.iou(), m.hd95(), m.assd(), m.predictedVoxels(), m.referenceVoxels(),
                    join(Arrays.stream(c.shape()).mapToObj(Integer::toString).toList()),
                    join(Arrays.stream(c.spacing()).mapToObj(d -> Double.toString(d)).toList())));
        }
        AtomicFiles.writeString(file, b.toString());
    }

    private static String join(List<String> parts) {
        return String.join(" x ", parts);
    }

    private static String csv(String s) {
        return s.contains(",") || s.contains("\"") ? '"' + s.replace("\"", "\"\"") + '"' : s;
    }
}
