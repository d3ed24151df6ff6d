package org.gradsurgery.experiment;

import java.util.SplittableRandom;
import org.gradsurgery.data.Sample;

/**
 * Generated cases, no files ({@link DataPlan.Generated}): case i is drawn from {@code SplittableRandom(seed + i)}; its
 * label has {@code numClasses − 1} non-overlapping-by-priority ellipsoid blobs (class k over k − 1) on background 0,
 * and its one image channel is x = 0.5·k + N(0, 0.3²) at a voxel of class k, so the classes are learnable but not
 * separable by a threshold. Spacing 1 mm. For tests, examples and smoke runs.
 */
public final class GeneratedSource extends InMemorySource {
    private final DataPlan.Generated spec;

    public GeneratedSource(DataPlan.Generated spec) {
        super("the generated data");
        this.spec = spec;
        for (int i = 0; i < spec.cases(); i++) {
            String id = String.format("case%03d", i);
            add(id, generate(id, spec.size(), spec.numClasses(), new SplittableRandom(spec.seed() + i)));
        }
    }

    private static Sample generate(String id, int[] shape, int numClasses, SplittableRandom rng) {
        int n = 1;
        for (int s : shape) {
            n *= s;
        }
        int[] label = new int[n];
        for (int k = 1; k < numClasses; k++) {
            double[] centre = new double[shape.length];
            double[] radius = new double[shape.length];
            for (int d = 0; d < shape.length; d++) {
                radius[d] = shape[d] * (0.12 + 0.1 * rng.nextDouble());
                centre[d] = radius[d] + rng.nextDouble() * (shape[d] - 2 * radius[d]);
            }
            int[] idx = new int[shape.length];
            for (int v = 0; v < n; v++) {
                int r = v;
                double q = 0;
                for (int d = shape.length - 1; d >= 0; d--) {
                    idx[d] = r % shape[d];
                    r /= shape[d];
                    double t = (idx[d] + 0.5 - centre[d]) / radius[d];
                    q += t * t;
                }
                if (q <= 1) {
                    label[v] = k;
                }
            }
        }
        float[] image = new float[n];
        for (int v = 0; v < n; v++) {
            image[v] = (float) (0.5 * label[v] + 0.3 * gaussian(rng));
        }
        double[] spacing = new double[shape.length];
        java.util.Arrays.fill(spacing, 1.0);
        return Sample.of(id, image, 1, shape, label, null, spacing, null);
    }

    private static double gaussian(SplittableRandom rng) {
        double u = 1 - rng.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.nextDouble());
    }

    @Override
    public DataPlan withDefaults(DataPlan plan) {
        return plan.numClasses() != null ? plan : plan.toBuilder().numClasses(spec.numClasses()).build();
    }

    @Override
    public String describe() {
        return String.format("generated data: %d cases of %s voxels, %d classes, seed %d", spec.cases(),
                java.util.Arrays.toString(spec.size()), spec.numClasses(), spec.seed());
    }

    @Override
    public DataPlan.Source spec() {
        return spec;
    }
}
