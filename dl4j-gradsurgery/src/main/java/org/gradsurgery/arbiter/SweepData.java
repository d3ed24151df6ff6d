package org.gradsurgery.arbiter;

import java.util.Objects;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

/**
 * The data a sweep trains and validates every candidate on: a factory of seeded training iterators (each
 * {@code reset()} starts the next epoch), the held-out validation set (features {@code [N, C_in, spatial...]},
 * one-hot labels {@code [N, K, spatial...]}) and its voxel spacing. Immutable.
 */
public final class SweepData {
    /** Makes a training iterator with the given batch size and seed. */
    @FunctionalInterface
    public interface TrainIterators {
        DataSetIterator create(int batchSize, long seed);
    }

    private final TrainIterators train;
    private final DataSet validation;
    private final double[] spacing;

    /**
     * @param train      training iterators
     * @param validation features and one-hot labels
     * @param spacing    voxel size per spatial axis of the validation data (mm; null = 1)
     */
    public SweepData(TrainIterators train, DataSet validation, double[] spacing) {
        this.train = Objects.requireNonNull(train, "train");
        this.validation = Objects.requireNonNull(validation, "validation");
        if (validation.getFeatures() == null || validation.getLabels() == null) {
            throw new IllegalArgumentException("SweepData: the validation set needs features and labels");
        }
        long[] f = validation.getFeatures().shape();
        long[] l = validation.getLabels().shape();
        if (f.length < 4 || l.length != f.length || f[0] != l[0]) {
            throw new IllegalArgumentException("SweepData: validation features [N, C, spatial...] and labels "
                    + "[N, K, spatial...] must match, got " + java.util.Arrays.toString(f) + " and "
                    + java.util.Arrays.toString(l));
        }
        if (spacing != null && spacing.length != f.length - 2) {
            throw new IllegalArgumentException("SweepData: spacing needs " + (f.length - 2) + " values, got "
                    + java.util.Arrays.toString(spacing));
        }
        this.spacing = spacing == null ? null : spacing.clone();
    }

    public DataSetIterator trainIterator(int batchSize, long seed) {
        return train.create(batchSize, seed);
    }

    public DataSet validation() {
        return validation;
    }

    /** Voxel spacing per spatial axis, or null for 1. */
    public double[] spacing() {
        return spacing == null ? null : spacing.clone();
    }

    /** Input channels C_in. */
    public int inputChannels() {
        return (int) validation.getFeatures().size(1);
    }

    /** Classes K (one-hot channels). */
    public int numClasses() {
        return (int) validation.getLabels().size(1);
    }

    /** Spatial size of the validation examples. */
    public long[] spatialShape() {
        long[] s = validation.getFeatures().shape();
        return java.util.Arrays.copyOfRange(s, 2, s.length);
    }
}
