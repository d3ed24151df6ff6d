package org.gradsurgery.arbiter;

import java.util.Objects;
import org.nd4j.linalg.dataset.DataSet;
import org.gradsurgery.training.Trainer;
import org.gradsurgery.training.TrainingData;
import org.nd4j.linalg.dataset.adapter.MultiDataSetIteratorAdapter;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;

/**
 * The data a sweep trains and validates every candidate on: the training batches as the {@link Trainer} takes them
 * ({@link TrainingData}; the same pipeline {@code gradsurgery train} uses can be passed here), the held-out
 * validation set (features {@code [N, C_in, spatial...]}, one-hot labels {@code [N, K, spatial...]}) and its voxel
 * spacing. The trainer validates (early stopping) and the sweep scores on this one validation set. Immutable.
 */
public final class SweepData {
    /** Makes a training iterator with the given batch size and seed (each {@code reset()} starts the next epoch). */
    @FunctionalInterface
    public interface TrainIterators {
        DataSetIterator create(int batchSize, long seed);
    }

    private final TrainingData training;
    private final DataSet validation;
    private final double[] spacing;

    /**
     * From single-input iterators, e.g. {@code (batch, seed) -> colin.trainIterator(batch, seed, augment)}.
     *
     * @param train      training iterators
     * @param validation features and one-hot labels
     * @param spacing    voxel size per spatial axis of the validation data (mm; null = 1)
     */
    public SweepData(TrainIterators train, DataSet validation, double[] spacing) {
        this(TrainingData.of((batch, seed) -> new MultiDataSetIteratorAdapter(train.create(batch, seed)), null),
                validation, spacing);
    }

    /**
     * @param training   training batches (its own validation batches, if any, are replaced by {@code validation})
     * @param validation features and one-hot labels
     * @param spacing    voxel size per spatial axis of the validation data (mm; null = 1)
     */
    public SweepData(TrainingData training, DataSet validation, double[] spacing) {
        Objects.requireNonNull(training, "training");
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
        this.training = new TrainingData() {
            @Override
            public MultiDataSetIterator training(int batchSize, long seed) {
                return training.training(batchSize, seed);
            }

            @Override
            public MultiDataSetIterator validation(int batchSize) {
                return TrainingData.batches(validation, batchSize);
            }

            @Override
            public int batchesPerEpoch(int batchSize) {
                return training.batchesPerEpoch(batchSize);
            }
        };
    }

    /** What the trainer gets: the training batches and {@link #validation()} in batches. */
    public TrainingData training() {
        return training;
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
