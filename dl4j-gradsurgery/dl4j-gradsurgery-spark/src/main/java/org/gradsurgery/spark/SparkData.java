package org.gradsurgery.spark;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Random;
import java.util.function.IntFunction;
import java.util.stream.Stream;
import org.gradsurgery.InvalidInputException;
import org.gradsurgery.io.AtomicFiles;
import org.gradsurgery.training.TrainingData;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;

/**
 * Where a {@link SparkSegmentationTrainer} gets its minibatches from: for every epoch a list of files, each one saved
 * {@code MultiDataSet} minibatch ({@code MultiDataSet.save}, DL4J's {@code SerializedMultiDataSetLoader} format), on a
 * file system that every executor can read (a shared POSIX mount, or any Hadoop URI such as {@code hdfs://...}).
 * The trainer turns each averaging round's files into a {@code JavaRDD<String>}; the executors load them, so no
 * training example passes through the driver's memory during training.
 *
 * <p>Two sources:
 * <ul>
 *   <li>{@link #export}: the project's own data sources ({@link TrainingData}: the bundled slices, an MSD folder, a
 *       user's cases, with their sampling and augmentation). Epoch e is what {@code data.training(b, seed)} gives
 *       after e resets, exactly the single-machine {@code Trainer}'s epoch e, streamed batch by batch to files under
 *       a directory (one epoch on disk at a time);</li>
 *   <li>{@link #files}: minibatches already saved on a shared file system (e.g. by an earlier export, or a data
 *       pipeline of the user's); epoch e visits them in an order shuffled with {@code (seed, e)}.</li>
 * </ul>
 * Validation stays on the driver ({@link #validation(int)}), where the project's metrics run.
 */
public interface SparkData {

    /** The minibatch files of epoch {@code epoch} (0-based), in training order. Epochs are asked for in order. */
    List<String> batches(int epoch) throws IOException;

    /** The validation batches for the driver's evaluation, or null for none; a fresh iterator each call. */
    MultiDataSetIterator validation(int batchSize);

    /** Removes whatever this source wrote (exported files); the default does nothing. */
    default void close() throws IOException {
    }

    /**
     * The project's {@code data} exported per epoch to {@code directory}/epoch-N/batch-NNNNN.bin in minibatches of
     * {@code batchSize} (the experiment's batch size: each worker fits one such minibatch per step).
     */
    static SparkData export(TrainingData data, int batchSize, long seed, Path directory) {
        return new Exported(data, batchSize, seed, directory);
    }

    /**
     * Minibatch files that already exist (paths or Hadoop URIs readable on every executor); epoch e is their
     * permutation drawn from {@code new Random(seed + e)}. {@code validation} gives the driver's validation batches
     * for a batch size (null for none).
     */
    static SparkData files(List<String> paths, long seed, IntFunction<MultiDataSetIterator> validation) {
        if (paths.isEmpty()) {
            throw new IllegalArgumentException("SparkData.files: no minibatch files given");
        }
        List<String> copy = List.copyOf(paths);
        return new SparkData() {
            @Override
            public List<String> batches(int epoch) {
                List<String> order = new ArrayList<>(copy);
                Collections.shuffle(order, new Random(seed + epoch));
                return order;
            }

            @Override
            public MultiDataSetIterator validation(int batchSize) {
                return validation == null ? null : validation.apply(batchSize);
            }
        };
    }

    /** {@link #export}: one training iterator, reset once per epoch, as the single-machine trainer does. */
    final class Exported implements SparkData {
        private final TrainingData data;
        private final int batchSize;
        private final long seed;
        private final Path directory;
        private MultiDataSetIterator iterator;
        private int epoch = -1;

        private Exported(TrainingData data, int batchSize, long seed, Path directory) {
            this.data = Objects.requireNonNull(data, "data");
            this.batchSize = batchSize;
            this.seed = seed;
            this.directory = directory.toAbsolutePath().normalize();
            if (batchSize < 1) {
                throw new IllegalArgumentException("SparkData.export: batch size must be >= 1, got " + batchSize);
            }
        }

        @Override
        public List<String> batches(int e) throws IOException {
            if (iterator == null || e < epoch) {
                iterator = data.training(batchSize, seed);
                epoch = 0;
            }
            for (; epoch < e; epoch++) {
                iterator.reset();
            }
            if (e > 0) {
                delete(epochDir(e - 1));
            }
            Path dir = epochDir(e);
            Files.createDirectories(dir);
            List<String> paths = new ArrayList<>();
            while (iterator.hasNext()) {
                MultiDataSet batch = iterator.next();
                Path file = dir.resolve(String.format(Locale.ROOT, "batch-%05d.bin", paths.size()));
                AtomicFiles.write(file, tmp -> {
                    try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(tmp))) {
                        batch.save(os);
                    }
                });
                paths.add(file.toUri().toString());
            }
            if (paths.isEmpty()) {
                // the user's data or split left no training example: their input, not our bug
                throw new InvalidInputException("the training data of epoch " + (e + 1) + " is empty: no training "
                        + "example to export for Spark (check the data source and its split)");
            }
            // the next call for epoch e + 1 resets the iterator once more
            iterator.reset();
            epoch = e + 1;
            return paths;
        }

        private Path epochDir(int e) {
            return directory.resolve("epoch-" + (e + 1));
        }

        @Override
        public MultiDataSetIterator validation(int batchSize) {
            return data.validation(batchSize);
        }

        @Override
        public void close() throws IOException {
            delete(directory);
        }

        private static void delete(Path dir) throws IOException {
            if (!Files.exists(dir)) {
                return;
            }
            try (Stream<Path> s = Files.walk(dir)) {
                for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                    Files.delete(p);
                }
            } catch (UncheckedIOException e) {
                throw e.getCause();
            }
        }
    }
}
