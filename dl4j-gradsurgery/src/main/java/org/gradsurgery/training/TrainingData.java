package org.gradsurgery.training;

import java.util.function.BiFunction;
import org.gradsurgery.data.ArrayBatches;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;

/**
 * Where a {@link Trainer} gets its batches from.
 *
 * <p>Contract that makes resume exact: {@link #training(int, long)} returns a fresh iterator whose batches depend only
 * on its arguments and on how many times {@code reset()} was called; the trainer calls {@code reset()} once between
 * epochs, so epoch e is what the iterator gives after e resets. {@code SegmentationMultiDataSetIterator} satisfies this
 * (its epoch-e order and augmentation are drawn from {@code mix(seed, e, ·)}); so does any iterator without
 * randomness.
 */
public interface TrainingData {

    /** A fresh training iterator (one batch = one update) for the given batch size and seed. */
    MultiDataSetIterator training(int batchSize, long seed);

    /** The validation batches, or null for none; a fresh iterator each call. */
    MultiDataSetIterator validation(int batchSize);

    /** Batches per epoch for the progress bar's ETA, or -1 when unknown (the default). */
    default int batchesPerEpoch(int batchSize) {
        return -1;
    }

    /** A training-iterator factory with in-memory validation data (null for none). */
    static TrainingData of(BiFunction<Integer, Long, MultiDataSetIterator> training, DataSet validation) {
        return new TrainingData() {
            @Override
            public MultiDataSetIterator training(int batchSize, long seed) {
                return training.apply(batchSize, seed);
            }

            @Override
            public MultiDataSetIterator validation(int batchSize) {
                return validation == null ? null : batches(validation, batchSize);
            }
        };
    }

    /** {@code data} in its stored order, {@code batchSize} examples per batch (the last may be smaller). */
    static MultiDataSetIterator batches(DataSet data, int batchSize) {
        return new ArrayBatches(data, batchSize);
    }
}
