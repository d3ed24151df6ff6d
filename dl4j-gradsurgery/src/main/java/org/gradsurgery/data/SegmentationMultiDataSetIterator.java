package org.gradsurgery.data;

import java.util.Objects;
import org.nd4j.linalg.dataset.AsyncMultiDataSetIterator;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;

/**
 * The {@link MultiDataSetIterator} form of a {@link SegmentationDataSetIterator}, for a {@code ComputationGraph}
 * with one input and one output: each {@code MultiDataSet} holds features[0] {@code [N, C, spatial…]} and labels[0]
 * one-hot {@code [N, K, spatial…]}, the same arrays the wrapped iterator produces.
 */
public final class SegmentationMultiDataSetIterator extends AbstractMultiDataSetIterator {
    private static final long serialVersionUID = 1L;

    private final SegmentationDataSetIterator base;

    public SegmentationMultiDataSetIterator(SegmentationDataSetIterator base) {
        this.base = Objects.requireNonNull(base, "base");
    }

    /** The wrapped iterator. */
    public SegmentationDataSetIterator base() {
        return base;
    }

    @Override
    protected MultiDataSet nextBatch(int num) {
        DataSet ds = base.next(num);
        return new org.nd4j.linalg.dataset.MultiDataSet(ds.getFeatures(), ds.getLabels());
    }

    @Override
    protected int defaultBatchSize() {
        return base.batch();
    }

    @Override
    public boolean hasNext() {
        return base.hasNext();
    }

    @Override
    public boolean asyncSupported() {
        return true;
    }

    /** Starts the next epoch of the wrapped iterator. */
    @Override
    public void reset() {
        base.reset();
    }

    /** Behind DL4J's {@link AsyncMultiDataSetIterator} with {@link SegmentationDataSetIterator#DEFAULT_PREFETCH}. */
    public MultiDataSetIterator async() {
        return async(SegmentationDataSetIterator.DEFAULT_PREFETCH);
    }

    /** Behind DL4J's {@link AsyncMultiDataSetIterator} with {@code queueSize} batches queued (≥ 2). */
    public MultiDataSetIterator async(int queueSize) {
        return new AsyncMultiDataSetIterator(this, SegmentationDataSetIterator.checkQueueSize(queueSize), false);
    }

    @Override
    public String toString() {
        return "SegmentationMultiDataSetIterator{" + base + "}";
    }
}
