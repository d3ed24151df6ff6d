package org.gradsurgery.training;

import java.util.function.BiFunction;
import org.gradsurgery.data.ArrayBatches;
import org.gradsurgery.data.SegmentationDataSetIterator;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.AsyncMultiDataSetIterator;
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

    /**
     * Batches the trainer prepares ahead on a background thread while the network trains on the current one (0 =
     * none: every batch is built on the training thread). Default {@link SegmentationDataSetIterator#DEFAULT_PREFETCH};
     * only iterators that declare {@code asyncSupported()} are prefetched.
     */
    default int prefetch() {
        return SegmentationDataSetIterator.DEFAULT_PREFETCH;
    }

    /**
     * {@code it} behind DL4J's {@link AsyncMultiDataSetIterator} with {@code queue} batches when {@code queue > 0}
     * and the iterator supports it, else {@code it} itself. Workspaces are off, so a batch stays valid after the next
     * call. Batches and their order are unchanged (an iterator whose draws depend only on seed, epoch and example,
     * as {@code SegmentationDataSetIterator}'s do, gives the same batches on any thread); call
     * {@link #close(MultiDataSetIterator)} when done to stop the background thread. Call {@code hasNext()} before
     * every {@code next()}: DL4J's async iterator takes the next batch in {@code hasNext()}, and its {@code next()}
     * alone returns null.
     */
    static MultiDataSetIterator prefetched(MultiDataSetIterator it, int queue) {
        if (queue < 0) {
            throw new IllegalArgumentException("prefetch must be >= 0, got " + queue);
        }
        return queue > 0 && it.asyncSupported() ? new AsyncMultiDataSetIterator(it, Math.max(2, queue), false) : it;
    }

    /** Stops the background thread of a {@link #prefetched} iterator (nothing for any other). */
    static void close(MultiDataSetIterator it) {
        if (it instanceof AsyncMultiDataSetIterator a) {
            a.shutdown();
        }
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
