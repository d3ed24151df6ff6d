package org.gradsurgery.data;

import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.dataset.api.MultiDataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;

/**
 * What the project's {@link MultiDataSetIterator}s share: the pre-processor (applied to every batch, after the
 * subclass made it), {@link #next()} as a batch of the default size, and reset support. A subclass supplies the raw
 * batches ({@link #nextBatch(int)}), their default size, {@link #hasNext()} and {@link #reset()}.
 */
public abstract class AbstractMultiDataSetIterator implements MultiDataSetIterator {
    private static final long serialVersionUID = 1L;

    private MultiDataSetPreProcessor preProcessor;

    /** The next batch of up to {@code num} examples, before the pre-processor. */
    protected abstract MultiDataSet nextBatch(int num);

    /** The batch size of {@link #next()}. */
    protected abstract int defaultBatchSize();

    @Override
    public final MultiDataSet next(int num) {
        MultiDataSet m = nextBatch(num);
        if (preProcessor != null) {
            preProcessor.preProcess(m);
        }
        return m;
    }

    @Override
    public final MultiDataSet next() {
        return next(defaultBatchSize());
    }

    @Override
    public void setPreProcessor(MultiDataSetPreProcessor preProcessor) {
        this.preProcessor = preProcessor;
    }

    @Override
    public MultiDataSetPreProcessor getPreProcessor() {
        return preProcessor;
    }

    @Override
    public boolean resetSupported() {
        return true;
    }
}
