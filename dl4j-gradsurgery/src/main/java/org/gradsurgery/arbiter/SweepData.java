package org.gradsurgery.arbiter;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.data.AbstractMultiDataSetIterator;
import org.gradsurgery.data.ArrayBatches;
import org.nd4j.linalg.dataset.DataSet;
import org.gradsurgery.training.Trainer;
import org.gradsurgery.training.TrainingData;
import org.nd4j.linalg.dataset.adapter.MultiDataSetIteratorAdapter;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;

/**
 * The data a sweep trains and validates every candidate on: the training batches as the {@link Trainer} takes them
 * ({@link TrainingData}; the same pipeline {@code gradsurgery train} uses can be passed here), the held-out
 * validation set and its voxel spacing. The validation set is one or more parts, each of one shape (features
 * {@code [N_i, C_in, spatial_i...]}, one-hot labels {@code [N_i, K, spatial_i...]}): validation images or slices of
 * different sizes are scored each at its own size ({@link ValidationMetrics#evaluate(ComputationGraph, List, double[],
 * double, int)} accumulates over the parts as over one set), never padded to a common size, so no padding is scored
 * across cases. The trainer validates (early stopping) and the sweep scores on these parts. Immutable.
 */
public final class SweepData {
    /** Makes a training iterator with the given batch size and seed (each {@code reset()} starts the next epoch). */
    @FunctionalInterface
    public interface TrainIterators {
        DataSetIterator create(int batchSize, long seed);
    }

    private final TrainingData training;
    private final List<DataSet> validation;
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
        this(training, List.of(Objects.requireNonNull(validation, "validation")), spacing);
    }

    /**
     * @param training   training batches (its own validation batches, if any, are replaced by {@code validation})
     * @param validation the validation set in parts, each of one shape; all with the same channels, classes and
     *                   spatial rank
     * @param spacing    voxel size per spatial axis of the validation data (mm; null = 1)
     */
    public SweepData(TrainingData training, List<DataSet> validation, double[] spacing) {
        Objects.requireNonNull(training, "training");
        Objects.requireNonNull(validation, "validation");
        if (validation.isEmpty()) {
            throw new IllegalArgumentException("SweepData: the validation set is empty");
        }
        long[] first = null;
        long[] firstLabels = null;
        for (DataSet part : validation) {
            if (part.getFeatures() == null || part.getLabels() == null) {
                throw new IllegalArgumentException("SweepData: the validation set needs features and labels");
            }
            long[] f = part.getFeatures().shape();
            long[] l = part.getLabels().shape();
            if (f.length < 4 || l.length != f.length || f[0] != l[0]
                    || !Arrays.equals(Arrays.copyOfRange(f, 2, f.length), Arrays.copyOfRange(l, 2, l.length))) {
                throw new IllegalArgumentException("SweepData: validation features [N, C, spatial...] and labels "
                        + "[N, K, spatial...] must match, got " + Arrays.toString(f) + " and " + Arrays.toString(l));
            }
            if (first == null) {
                first = f;
                firstLabels = l;
            } else if (f.length != first.length || f[1] != first[1] || l[1] != firstLabels[1]) {
                throw new IllegalArgumentException("SweepData: every validation part needs the same channels, classes "
                        + "and spatial rank, got features " + Arrays.toString(first) + " / labels "
                        + Arrays.toString(firstLabels) + " and " + Arrays.toString(f) + " / " + Arrays.toString(l));
            }
        }
        if (spacing != null && spacing.length != first.length - 2) {
            throw new IllegalArgumentException("SweepData: spacing needs " + (first.length - 2) + " values, got "
                    + Arrays.toString(spacing));
        }
        this.validation = List.copyOf(validation);
        this.spacing = spacing == null ? null : spacing.clone();
        List<DataSet> parts = this.validation;
        this.training = new TrainingData() {
            @Override
            public MultiDataSetIterator training(int batchSize, long seed) {
                return training.training(batchSize, seed);
            }

            @Override
            public MultiDataSetIterator validation(int batchSize) {
                return new PartBatches(parts, batchSize);
            }

            @Override
            public int batchesPerEpoch(int batchSize) {
                return training.batchesPerEpoch(batchSize);
            }
        };
    }

    /** The parts one after the other, each in batches of its own shape. */
    private static final class PartBatches extends AbstractMultiDataSetIterator {
        private static final long serialVersionUID = 1L;
        private final List<ArrayBatches> parts = new ArrayList<>();
        private final int batchSize;
        private int current;

        PartBatches(List<DataSet> parts, int batchSize) {
            for (DataSet p : parts) {
                this.parts.add(new ArrayBatches(p, batchSize));
            }
            this.batchSize = batchSize;
        }

        @Override
        protected org.nd4j.linalg.dataset.api.MultiDataSet nextBatch(int num) {
            if (!hasNext()) {
                throw new java.util.NoSuchElementException();
            }
            return parts.get(current).next(num);
        }

        @Override
        protected int defaultBatchSize() {
            return batchSize;
        }

        @Override
        public boolean hasNext() {
            while (current < parts.size() && !parts.get(current).hasNext()) {
                current++;
            }
            return current < parts.size();
        }

        @Override
        public boolean asyncSupported() {
            return false;
        }

        @Override
        public void reset() {
            parts.forEach(ArrayBatches::reset);
            current = 0;
        }
    }

    /** What the trainer gets: the training batches and {@link #validation()} in batches. */
    public TrainingData training() {
        return training;
    }

    /** The validation set: its parts, each of one shape. */
    public List<DataSet> validation() {
        return validation;
    }

    /** Validation examples over all parts. */
    public long validationExamples() {
        return validation.stream().mapToLong(DataSet::numExamples).sum();
    }

    /** Voxel spacing per spatial axis, or null for 1. */
    public double[] spacing() {
        return spacing == null ? null : spacing.clone();
    }

    /** Input channels C_in. */
    public int inputChannels() {
        return (int) validation.get(0).getFeatures().size(1);
    }

    /** Classes K (one-hot channels). */
    public int numClasses() {
        return (int) validation.get(0).getLabels().size(1);
    }

    /** Spatial size of the (first part's) validation examples. */
    public long[] spatialShape() {
        long[] s = validation.get(0).getFeatures().shape();
        return Arrays.copyOfRange(s, 2, s.length);
    }
}
