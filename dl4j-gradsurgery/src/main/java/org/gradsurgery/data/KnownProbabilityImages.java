package org.gradsurgery.data;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * A synthetic 2D segmentation set whose true per-pixel label probability q is known, so that calibration can be
 * measured against q itself rather than estimated from sampled labels.
 *
 * <p>Each image holds one or two ellipses with soft edges. For an ellipse with semi-axes (a, b) and rotation θ, let
 * r(x) be the pixel's normalised radius (r = 1 on the outline) and d(x) = (r(x) − 1)·min(a, b) its approximate signed
 * distance to the outline in pixels; then
 * <pre>
 *   q(x) = max over ellipses of  σ(−d(x) / w)            (σ the logistic function, w the edge width)
 *   y(x) ~ Bernoulli(q(x))                               (drawn independently per pixel)
 *   I(x) = q(x) + ε(x),  ε ~ N(0, noise²)
 * </pre>
 * The edge width w (pixels, drawn per image uniformly from [wMin, wMax]) sets how wide the band of genuinely
 * ambiguous pixels is: the best possible prediction from the image is p = q, which is neither 0 nor 1 in the band.
 * Everything is a function of the seed.
 *
 * @param size      image side in pixels (square images)
 * @param edgeMin   smallest edge width w in pixels (&gt; 0)
 * @param edgeMax   largest edge width w in pixels (≥ edgeMin)
 * @param noise     standard deviation of the intensity noise (≥ 0)
 */
public record KnownProbabilityImages(int size, double edgeMin, double edgeMax, double noise) {

    /** One generated case: its sample (1 channel, labels 0/1, spacing 1) and q over the pixels (C order). */
    public record Item(Sample sample, float[] q) {
    }

    /** Checks the settings. */
    public KnownProbabilityImages {
        if (size < 8) {
            throw new IllegalArgumentException("synthetic dataset: size must be >= 8 pixels, got " + size);
        }
        if (!(edgeMin > 0) || !(edgeMax >= edgeMin) || Double.isInfinite(edgeMax)) {
            throw new IllegalArgumentException("synthetic dataset: edge widths need 0 < edgeMin <= edgeMax, got "
                    + edgeMin + ", " + edgeMax);
        }
        if (!(noise >= 0) || Double.isInfinite(noise)) {
            throw new IllegalArgumentException("synthetic dataset: noise must be >= 0, got " + noise);
        }
    }

    /** Case {@code index} of the set with this {@code seed}: independent of how many other cases are drawn. */
    public Item item(long seed, int index) {
        SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + index);
        double w = edgeMin + (edgeMax - edgeMin) * rng.nextDouble();
        int shapes = 1 + rng.nextInt(2);
        double[][] e = new double[shapes][];
        for (int s = 0; s < shapes; s++) {
            double a = size * (0.12 + 0.18 * rng.nextDouble());
            double b = size * (0.12 + 0.18 * rng.nextDouble());
            double cx = size * (0.25 + 0.5 * rng.nextDouble());
            double cy = size * (0.25 + 0.5 * rng.nextDouble());
            e[s] = new double[] {cx, cy, a, b, Math.PI * rng.nextDouble()};
        }
        int n = size * size;
        float[] q = new float[n];
        float[] image = new float[n];
        int[] label = new int[n];
        for (int y = 0; y < size; y++) {
            for (int x = 0; x < size; x++) {
                double best = 0;
                for (double[] s : e) {
                    double dx = x - s[0];
                    double dy = y - s[1];
                    double c = Math.cos(s[4]);
                    double sn = Math.sin(s[4]);
                    double u = (c * dx + sn * dy) / s[2];
                    double v = (-sn * dx + c * dy) / s[3];
                    double d = (Math.sqrt(u * u + v * v) - 1) * Math.min(s[2], s[3]);
                    best = Math.max(best, 1 / (1 + Math.exp(d / w)));
                }
                int i = y * size + x;
                q[i] = (float) best;
                label[i] = rng.nextDouble() < best ? 1 : 0;
                image[i] = (float) (best + noise * rng.nextGaussian());
            }
        }
        String id = String.format(Locale.ROOT, "synthetic_%04d", index);
        Sample sample = new Sample(id, image, 1, new int[] {size, size}, label, null, new double[] {1, 1},
                Sample.scaling(new double[] {1, 1}));
        return new Item(sample, q);
    }

    /** Cases 0..count−1. */
    public List<Item> generate(long seed, int count) {
        List<Item> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            out.add(item(seed, i));
        }
        return out;
    }
}
