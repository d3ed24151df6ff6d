package org.gradsurgery.data;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * nnU-Net's CT normalisation (Isensee et al., Nature Methods 2021; {@code CTNormalization} of nnU-Net v2): one set of
 * dataset-wide statistics per channel, fitted on the foreground voxels (label &gt; 0) of the training cases, and
 * applied identically to every case:
 *
 * <pre>  x' = (clip(x, p0.5, p99.5) − μ) / max(σ, 1e-8)</pre>
 *
 * <p>μ and σ (population standard deviation) are the mean and spread of the <em>unclipped</em> foreground values,
 * p0.5 and p99.5 their 0.5th and 99.5th percentiles (numpy's linear interpolation). As nnU-Net's dataset fingerprint
 * does, {@link #fit} can draw a fixed number of foreground voxels per case with replacement, so that every training
 * case weighs the same whatever its foreground size ({@link #NNUNET_SAMPLES_PER_CASE}, the default of nnU-Net v2's
 * {@code collect_foreground_intensities}; its fingerprint run passes 10^8/N per case of N, which bounds the total
 * instead); with 0 it uses every foreground voxel exactly.
 */
public final class CtNormalization {
    /** Foreground voxels drawn per training case: the default of nnU-Net v2's {@code collect_foreground_intensities}. */
    public static final int NNUNET_SAMPLES_PER_CASE = 10_000;
    /** Lower bound of σ in the division, as nnU-Net's. */
    public static final double MIN_STD = 1e-8;

    /**
     * The statistics of one channel.
     *
     * @param mean          μ of the foreground values
     * @param std           σ of the foreground values (population)
     * @param percentile005 the 0.5th percentile, the lower clip bound
     * @param percentile995 the 99.5th percentile, the upper clip bound
     */
    public record Channel(double mean, double std, double percentile005, double percentile995) {
        public Channel {
            if (!Double.isFinite(mean) || !Double.isFinite(std) || !(std >= 0) || !Double.isFinite(percentile005)
                    || !Double.isFinite(percentile995) || !(percentile005 <= percentile995)) {
                throw new IllegalArgumentException("CtNormalization: need finite mean, std >= 0 and percentile005 <= "
                        + "percentile995, got mean " + mean + ", std " + std + ", [" + percentile005 + ", "
                        + percentile995 + "]");
            }
        }
    }

    private final List<Channel> channels;

    private CtNormalization(List<Channel> channels) {
        if (channels.isEmpty()) {
            throw new IllegalArgumentException("CtNormalization: no channel statistics");
        }
        this.channels = List.copyOf(channels);
    }

    /** Normalisation with the given per-channel statistics (e.g. read back from a run's config). */
    public static CtNormalization of(List<Channel> channels) {
        return new CtNormalization(channels);
    }

    /**
     * Fits the statistics on the foreground (label &gt; 0, class ids after any {@link LabelMap}) of {@code cases}.
     *
     * @param cases          labelled training samples, all with the same number of channels; read once, in order
     * @param samplesPerCase foreground voxels drawn per case with replacement, or 0 for all of them
     * @param seed           seed of the draws
     * @throws IllegalArgumentException if a sample has no label, the channel counts differ, or there is no
     *                                  foreground voxel at all
     */
    public static CtNormalization fit(Iterable<Sample> cases, int samplesPerCase, long seed) {
        if (samplesPerCase < 0) {
            throw new IllegalArgumentException("CtNormalization: samplesPerCase must be >= 0, got " + samplesPerCase);
        }
        SplittableRandom rng = new SplittableRandom(seed);
        List<FloatList> values = null;
        int seen = 0;
        for (Sample s : cases) {
            seen++;
            if (!s.hasLabel()) {
                throw new IllegalArgumentException("CtNormalization: sample " + s.id() + " has no label map");
            }
            if (values == null) {
                values = new ArrayList<>();
                for (int c = 0; c < s.channels(); c++) {
                    values.add(new FloatList());
                }
            } else if (values.size() != s.channels()) {
                throw new IllegalArgumentException("CtNormalization: sample " + s.id() + " has " + s.channels()
                        + " channels, the first had " + values.size());
            }
            int[] fg = foreground(s.rawLabel());
            if (fg.length == 0) {
                continue;
            }
            int n = s.voxels();
            float[] img = s.rawImage();
            int draws = samplesPerCase == 0 ? fg.length : samplesPerCase;
            int[] picks = new int[draws];
            for (int i = 0; i < draws; i++) {
                picks[i] = samplesPerCase == 0 ? fg[i] : fg[rng.nextInt(fg.length)];
            }
            for (int c = 0; c < s.channels(); c++) {
                FloatList out = values.get(c);
                for (int v : picks) {
                    out.add(img[c * n + v]);
                }
            }
        }
        if (values == null || values.get(0).size == 0) {
            throw new IllegalArgumentException("CtNormalization: no foreground voxel (label > 0) in the " + seen
                    + " training case(s); CT normalisation is fitted on foreground intensities");
        }
        List<Channel> stats = new ArrayList<>();
        for (FloatList v : values) {
            float[] sorted = Arrays.copyOf(v.data, v.size);
            Arrays.sort(sorted);
            double sum = 0;
            for (float x : sorted) {
                sum += x;
            }
            double mean = sum / sorted.length;
            double ss = 0;
            for (float x : sorted) {
                ss += (x - mean) * (x - mean);
            }
            stats.add(new Channel(mean, Math.sqrt(ss / sorted.length), Preprocessing.percentile(sorted, 0.5),
                    Preprocessing.percentile(sorted, 99.5)));
        }
        return new CtNormalization(stats);
    }

    private static int[] foreground(int[] label) {
        int count = 0;
        for (int l : label) {
            if (l > 0) {
                count++;
            }
        }
        int[] idx = new int[count];
        for (int i = 0, j = 0; i < label.length; i++) {
            if (label[i] > 0) {
                idx[j++] = i;
            }
        }
        return idx;
    }

    /** The statistics, one per channel. */
    public List<Channel> channels() {
        return channels;
    }

    /** The normalisation as a deterministic transform; the sample must have as many channels as the statistics. */
    public Transform transform() {
        return (s, rng) -> {
            if (s.channels() != channels.size()) {
                throw new IllegalArgumentException("CtNormalization: sample " + s.id() + " has " + s.channels()
                        + " channel(s) but the statistics have " + channels.size());
            }
            int n = s.voxels();
            float[] in = s.rawImage();
            float[] out = new float[in.length];
            for (int c = 0; c < channels.size(); c++) {
                Channel ch = channels.get(c);
                double scale = 1.0 / Math.max(ch.std(), MIN_STD);
                for (int v = c * n; v < (c + 1) * n; v++) {
                    double x = Math.min(Math.max(in[v], ch.percentile005()), ch.percentile995());
                    out[v] = (float) ((x - ch.mean()) * scale);
                }
            }
            return s.withImage(out, s.channels());
        };
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CtNormalization other && channels.equals(other.channels);
    }

    @Override
    public int hashCode() {
        return Objects.hash(channels);
    }

    @Override
    public String toString() {
        return "CtNormalization" + channels;
    }

    /** A growable float array (the foreground values of every case). */
    private static final class FloatList {
        float[] data = new float[1024];
        int size;

        void add(float x) {
            if (size == data.length) {
                data = Arrays.copyOf(data, Math.multiplyExact(data.length, 2));
            }
            data[size++] = x;
        }
    }
}
