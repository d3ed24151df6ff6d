package org.gradsurgery.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * Random patches with foreground oversampling, as nnU-Net trains (Isensee et al., <i>nnU-Net: a self-configuring
 * method for deep learning-based biomedical image segmentation</i>, Nature Methods 18, 2021): of the n patches drawn
 * for a batch, the last {@code round(n·f)} (f = 1/3 by default) are forced to contain foreground, the others are
 * uniform.
 *
 * <ul>
 *   <li>Uniform patch: start uniform over every position where the patch fits; on an axis shorter than the patch,
 *       the patch is centred and zero-padded.</li>
 *   <li>Foreground patch: a class uniformly among the foreground classes (label &gt; 0) present in the sample, then a
 *       voxel of that class uniformly, and the patch centred on it ({@code start = v − size/2}), shifted to stay
 *       inside the volume. A sample without foreground gets a uniform patch.</li>
 * </ul>
 * The patch keeps exact geometry (affine shifted to its corner) and gets the id {@code "<id>@i,j,k"}.
 */
public final class PatchSampler {
    @JsonProperty("patchSize")
    private int[] patchSize;
    @JsonProperty("foregroundFraction")
    private double foregroundFraction = 1.0 / 3.0;

    /** For serialisation; use {@link #of(double, int...)}. */
    public PatchSampler() {
    }

    private PatchSampler(int[] patchSize, double foregroundFraction) {
        this.patchSize = patchSize;
        this.foregroundFraction = foregroundFraction;
    }

    /** A sampler of {@code patchSize} patches, a fraction {@code foregroundFraction} of them on foreground. */
    public static PatchSampler of(double foregroundFraction, int... patchSize) {
        if (patchSize.length != 2 && patchSize.length != 3) {
            throw new IllegalArgumentException("PatchSampler: patch size must be 2D or 3D, got "
                    + Arrays.toString(patchSize));
        }
        for (int p : patchSize) {
            if (p <= 0) {
                throw new IllegalArgumentException("PatchSampler: patch sizes must be positive, got "
                        + Arrays.toString(patchSize));
            }
        }
        if (!(foregroundFraction >= 0 && foregroundFraction <= 1)) {
            throw new IllegalArgumentException("PatchSampler: foregroundFraction must be in [0, 1], got "
                    + foregroundFraction);
        }
        return new PatchSampler(patchSize.clone(), foregroundFraction);
    }

    public int[] getPatchSize() {
        return patchSize.clone();
    }

    public double getForegroundFraction() {
        return foregroundFraction;
    }

    /** Number of the {@code n} patches of a batch that are forced onto foreground: {@code round(n·f)}. */
    public int forcedForeground(int n) {
        return (int) Math.round(n * foregroundFraction);
    }

    /** Whether patch {@code index} (0-based) of a batch of {@code n} is a foreground patch (the last ones are). */
    public boolean isForeground(int index, int n) {
        return index >= n - forcedForeground(n);
    }

    /** {@code n} patches from one sample: the first {@code n − round(n·f)} uniform, the rest on foreground. */
    public List<Sample> sample(Sample s, int n, SplittableRandom rng) {
        int[][] byClass = foregroundVoxels(s);
        List<Sample> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            out.add(patch(s, rng, isForeground(i, n), byClass));
        }
        return out;
    }

    /** One patch, on foreground when {@code foreground} is true (and the sample has any). */
    public Sample sample(Sample s, SplittableRandom rng, boolean foreground) {
        return patch(s, rng, foreground, foreground ? foregroundVoxels(s) : new int[0][]);
    }

    private Sample patch(Sample s, SplittableRandom rng, boolean foreground, int[][] byClass) {
        int r = s.spatialRank();
        if (r != patchSize.length) {
            throw new IllegalArgumentException("PatchSampler: patch " + Arrays.toString(patchSize) + " is "
                    + patchSize.length + "D but sample " + s.id() + " has shape " + Arrays.toString(s.rawShape()));
        }
        int[] shape = s.rawShape();
        int[] start = new int[r];
        if (foreground && byClass.length > 0) {
            int[] voxels = byClass[rng.nextInt(byClass.length)];
            int v = voxels[rng.nextInt(voxels.length)];
            int[] st = Grid.strides(shape);
            for (int d = 0; d < r; d++) {
                int coord = v / st[d] % shape[d];
                start[d] = clampStart(coord - patchSize[d] / 2, shape[d], patchSize[d]);
            }
        } else {
            for (int d = 0; d < r; d++) {
                int free = shape[d] - patchSize[d];
                start[d] = free >= 0 ? rng.nextInt(free + 1) : Math.floorDiv(free, 2);
            }
        }
        StringBuilder id = new StringBuilder(s.id()).append('@');
        for (int d = 0; d < r; d++) {
            id.append(d == 0 ? "" : ",").append(start[d]);
        }
        return Grid.window(s, id.toString(), start, patchSize, 0f);
    }

    private static int clampStart(int start, int n, int size) {
        if (n < size) {
            return Math.floorDiv(n - size, 2);
        }
        return Math.min(Math.max(start, 0), n - size);
    }

    /** Flat voxel indices of each foreground class present, in class order. */
    static int[][] foregroundVoxels(Sample s) {
        if (!s.hasLabel()) {
            throw new IllegalArgumentException("PatchSampler: sample " + s.id() + " has no label to find foreground in");
        }
        int[] lab = s.rawLabel();
        int max = 0;
        for (int c : lab) {
            max = Math.max(max, c);
        }
        int[] counts = new int[max + 1];
        for (int c : lab) {
            if (c > 0) {
                counts[c]++;
            }
        }
        List<int[]> out = new ArrayList<>();
        int[][] lists = new int[max + 1][];
        for (int c = 1; c <= max; c++) {
            if (counts[c] > 0) {
                lists[c] = new int[counts[c]];
                out.add(lists[c]);
            }
        }
        int[] fill = new int[max + 1];
        for (int v = 0; v < lab.length; v++) {
            int c = lab[v];
            if (c > 0) {
                lists[c][fill[c]++] = v;
            }
        }
        return out.toArray(new int[0][]);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof PatchSampler p && Arrays.equals(patchSize, p.patchSize)
                && Double.compare(foregroundFraction, p.foregroundFraction) == 0;
    }

    @Override
    public int hashCode() {
        return Objects.hash(Arrays.hashCode(patchSize), foregroundFraction);
    }

    @Override
    public String toString() {
        return "PatchSampler{patchSize=" + Arrays.toString(patchSize) + ", foregroundFraction=" + foregroundFraction + "}";
    }
}
