import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.gradsurgery.data.KnownProbabilityImages;
import org.gradsurgery.study.Statistics;

/**
 * Two checks behind RESULTS.md's balanced-surgery subsection, run as a single-file program on the CLI's class path:
 * <pre>
 *   java -cp 'dl4j-gradsurgery-examples/target/lib/*' docs/results/synthetic/TestbedChecks.java oracle SPLIT.json
 *   java -cp 'dl4j-gradsurgery-examples/target/lib/*' docs/results/synthetic/TestbedChecks.java paired A B CSV...
 *   java -cp 'dl4j-gradsurgery-examples/target/lib/*' docs/results/synthetic/TestbedChecks.java threshold SPLIT.json
 *       RUN/model.zip...
 * </pre>
 * {@code oracle}: mean per-case Dice of thresholding the true probability q (not a model) at t, on the test cases of
 * the split (the spec's synthetic set: 48², edge 0.5–4 px, noise 0.3, seed 2026). {@code paired}: arm A − arm B per
 * test case (same seed and case), all seeds pooled, with StudyReport's bootstrap (Statistics.paired: 10,000
 * resamples, seed 0), for the per-case columns of study.csv files (their rows pooled; mean foreground Dice, the calibration metrics, and
 * mean abs(p − q) when the study has a known q; any study's study.csv, not only the testbed's). {@code threshold}: the same
 * Dice as {@code oracle} for a study run's model, its foreground p in place of q (at 0.5 it repeats the run's
 * {@code dice_1} column: the first two cases are printed to check).
 */
public class TestbedChecks {
    public static void main(String[] a) throws Exception {
        if (a.length == 2 && a[0].equals("oracle")) {
            oracle(Path.of(a[1]));
        } else if (a.length >= 3 && a[0].equals("threshold")) {
            for (int m = 2; m < a.length; m++) {
                threshold(Path.of(a[1]), Path.of(a[m]));
            }
        } else if (a.length >= 4 && a[0].equals("paired")) {
            List<String> lines = new ArrayList<>();
            for (int i = 3; i < a.length; i++) {
                List<String> file = Files.readAllLines(Path.of(a[i]));
                if (!lines.isEmpty() && !file.get(0).equals(lines.get(0))) {
                    throw new IllegalArgumentException(a[i] + ": another header than " + a[3]);
                }
                lines.addAll(lines.isEmpty() ? file : file.subList(1, file.size()));
            }
            paired(lines, a[1], a[2]);
        } else {
            System.err.println("usage: TestbedChecks oracle SPLIT.json | paired ARM_A ARM_B STUDY.csv... | "
                    + "threshold SPLIT.json MODEL.zip...");
            System.exit(2);
        }
    }

    private static final double[] THRESHOLDS = {0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2};

    /** The test cases of the split, generated as the spec's synthetic set (48², edge 0.5–4 px, noise 0.3, 2026). */
    private static List<KnownProbabilityImages.Item> testCases(Path split) throws Exception {
        String json = Files.readString(split);
        String test = json.substring(json.indexOf("\"test\""));
        test = test.substring(test.indexOf('[') + 1, test.indexOf(']'));
        KnownProbabilityImages g = new KnownProbabilityImages(48, 0.5, 4.0, 0.3);
        List<KnownProbabilityImages.Item> out = new ArrayList<>();
        for (String id : test.split(",")) {
            id = id.trim().replace("\"", "");
            out.add(g.item(2026, Integer.parseInt(id.substring(id.indexOf('_') + 1))));
        }
        return out;
    }

    private static void oracle(Path split) throws Exception {
        List<float[]> q = new ArrayList<>();
        List<KnownProbabilityImages.Item> cases = testCases(split);
        cases.forEach(it -> q.add(it.q()));
        dice("q", cases, q);
    }

    private static void threshold(Path split, Path model) throws Exception {
        org.deeplearning4j.nn.graph.ComputationGraph net =
                org.deeplearning4j.util.ModelSerializer.restoreComputationGraph(model.toFile(), false);
        List<KnownProbabilityImages.Item> cases = testCases(split);
        List<float[]> p = new ArrayList<>();
        for (KnownProbabilityImages.Item it : cases) {
            int[] shape = it.sample().shape();
            org.nd4j.linalg.api.ndarray.INDArray x = org.nd4j.linalg.factory.Nd4j.createFromArray(
                    it.sample().imageData()).reshape(1, 1, shape[0], shape[1]);
            p.add(net.outputSingle(x).get(org.nd4j.linalg.indexing.NDArrayIndex.point(0),
                    org.nd4j.linalg.indexing.NDArrayIndex.point(1)).dup().data().asFloat());
        }
        System.out.printf(Locale.ROOT, "%s (p > 0.5: %s %.6f, %s %.6f)%n", model, cases.get(0).sample().id(),
                dice(cases.get(0).sample().labelData(), p.get(0), 0.5), cases.get(1).sample().id(),
                dice(cases.get(1).sample().labelData(), p.get(1), 0.5));
        dice("p", cases, p);
    }

    private static double dice(int[] y, float[] prob, double t) {
        double inter = 0;
        double s = 0;
        for (int i = 0; i < prob.length; i++) {
            int h = prob[i] > t ? 1 : 0;
            inter += h * y[i];
            s += h + y[i];
        }
        return s == 0 ? 1 : 2 * inter / s;
    }

    private static void dice(String name, List<KnownProbabilityImages.Item> cases, List<float[]> prob) {
        double[] ts = THRESHOLDS;
        double[] sum = new double[ts.length];
        int n = 0;
        for (int c = 0; c < cases.size(); c++) {
            int[] y = cases.get(c).sample().labelData();
            float[] q = prob.get(c);
            for (int k = 0; k < ts.length; k++) {
                sum[k] += dice(y, q, ts[k]);
            }
            n++;
        }
        for (int k = 0; k < ts.length; k++) {
            System.out.printf(Locale.ROOT, "  %s > %.2f: mean Dice %.4f over %d test cases%n", name, ts[k], sum[k] / n,
                    n);
        }
    }

    /** The fields of a study.csv line; the label column is quoted and may hold commas. */
    private static String[] fields(String line) {
        return line.split(",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)", -1);
    }

    private static void paired(List<String> lines, String armA, String armB) {
        String[] head = fields(lines.get(0));
        Map<String, Integer> col = new HashMap<>();
        for (int i = 0; i < head.length; i++) {
            col.put(head[i], i);
        }
        Map<String, String[]> a = new HashMap<>();
        Map<String, String[]> b = new HashMap<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] f = fields(line);
            String key = f[col.get("seed")] + "/" + f[col.get("case")];
            if (f[col.get("arm")].equals(armA)) {
                a.put(key, f);
            } else if (f[col.get("arm")].equals(armB)) {
                b.put(key, f);
            }
        }
        List<String> keys = new ArrayList<>(a.keySet());
        keys.retainAll(b.keySet());
        keys.sort(null);
        System.out.printf(Locale.ROOT, "%s − %s, %d pairs (mean, 95 %% bootstrap interval)%n", armA, armB,
                keys.size());
        for (String metric : new String[]{"dice_mean", "ece", "classwise_ece", "boundary_ece", "nll", "mae_q",
            "ece_ts"}) {
            if (!col.containsKey(metric)) {
                continue;   // mae_q: only with a known q
            }
            double[] x = new double[keys.size()];
            double[] z = new double[keys.size()];
            for (int i = 0; i < keys.size(); i++) {
                x[i] = Double.parseDouble(a.get(keys.get(i))[col.get(metric)]);
                z[i] = Double.parseDouble(b.get(keys.get(i))[col.get(metric)]);
            }
            Statistics.PairedDifference d = Statistics.paired(x, z);
            System.out.printf(Locale.ROOT, "  %-14s %+.4f [%+.4f, %+.4f]%n", metric, d.mean(), d.lo(), d.hi());
        }
    }
}
