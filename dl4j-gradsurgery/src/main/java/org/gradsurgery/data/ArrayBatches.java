package org.gradsurgery.data;

import java.util.NoSuchElementException;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;

/** An in-memory DataSet as consecutive batches along axis 0 (views, no copy), for validation and evaluation. */
public final class ArrayBatches extends AbstractMultiDataSetIterator {
    private static final long serialVersionUID = 1L;
    private final INDArray features;
    private final INDArray labels;
    private final int batchSize;
    private long cursor;

    public ArrayBatches(DataSet data, int batchSize) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batch size must be >= 1, got " + batchSize);
        }
        this.features = data.getFeatures();
        this.labels = data.getLabels();
        if (labels != null && labels.size(0) != features.size(0)) {
            throw new IllegalArgumentException("features have " + features.size(0) + " examples but labels "
                    + labels.size(0));
        }
        this.batchSize = batchSize;
    }

    @Override
    protected MultiDataSet nextBatch(int num) {
        if (!hasNext()) {
            throw new NoSuchElementException();
        }
        long end = Math.min(cursor + num, features.size(0));
        INDArray f = features.get(NDArrayIndex.interval(cursor, end));
        INDArray l = labels == null ? null : labels.get(NDArrayIndex.interval(cursor, end));
        cursor = end;
        return new org.nd4j.linalg.dataset.MultiDataSet(f, l);
    }

    @Override
    protected int defaultBatchSize() {
        return batchSize;
    }

    @Override
    public boolean hasNext() {
        return cursor < features.size(0);
    }

    @Override
    public boolean asyncSupported() {
        return false;
    }

    @Override
    public void reset() {
        cursor = 0;
    }
}
