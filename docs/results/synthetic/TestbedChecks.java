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
 * </pre>
 * {@code oracle}: mean per-case Dice of thresholding the true probability q (not a model) at t, on the test cases of
 * the split (the spec's synthetic set: 48², edge 0.5–4 px, noise 0.3, seed 2026). {@code paired}: arm A − arm B per
 * test case (same seed and case), all seeds pooled, with StudyReport's bootstrap (Statistics.paired: 10,000
 * resamples, seed 0), for the per-case columns of study.csv files (their rows pooled).
 */
public class TestbedChecks {
    public static void main(String[] a) throws Exception {
        if (a.length == 2 && a[0].equals("oracle")) {
            oracle(Path.of(a[1]));
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
            System.err.println("usage: TestbedChecks oracle SPLIT.json | paired ARM_A ARM_B STUDY.csv...");
            System.exit(2);
        }
    }

    private static void oracle(Path split) throws Exception {
        String json = Files.readString(split);
        String test = json.substring(json.indexOf("\"test\""));
        test = test.substring(test.indexOf('[') + 1, test.indexOf(']'));
        KnownProbabilityImages g = new KnownProbabilityImages(48, 0.5, 4.0, 0.3);
        double[] ts = {0.5, 0.45, 0.4, 0.35, 0.3, 0.25, 0.2};
        double[] sum = new double[ts.length];
        int n = 0;
        for (String id : test.split(",")) {
            id = id.trim().replace("\"", "");
            KnownProbabilityImages.Item it = g.item(2026, Integer.parseInt(id.substring(id.indexOf('_') + 1)));
            int[] y = it.sample().labelData();
            float[] q = it.q();
            for (int k = 0; k < ts.length; k++) {
                double inter = 0;
                double s = 0;
                for (int i = 0; i < q.length; i++) {
                    int p = q[i] > ts[k] ? 1 : 0;
                    inter += p * y[i];
                    s += p + y[i];
                }
                sum[k] += s == 0 ? 1 : 2 * inter / s;
            }
            n++;
        }
        for (int k = 0; k < ts.length; k++) {
            System.out.printf(Locale.ROOT, "q > %.2f: mean Dice %.4f over %d test cases%n", ts[k], sum[k] / n, n);
        }
    }

    private static void paired(List<String> lines, String armA, String armB) {
        String[] head = lines.get(0).split(",");
        Map<String, Integer> col = new HashMap<>();
        for (int i = 0; i < head.length; i++) {
            col.put(head[i], i);
        }
        Map<String, String[]> a = new HashMap<>();
        Map<String, String[]> b = new HashMap<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] f = line.split(",");
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
        for (String metric : new String[]{"dice_1", "ece", "classwise_ece", "boundary_ece", "nll", "mae_q",
            "ece_ts"}) {
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
