package org.gradsurgery.spark;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.gradsurgery.InvalidInputException;
import org.gradsurgery.training.TrainingData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.dataset.ExistingMiniBatchDataSetIterator;
import org.nd4j.linalg.dataset.adapter.MultiDataSetIteratorAdapter;

/** An epoch without training examples is the user's input (one line, exit 2 in the CLI), not a bug. */
class SparkDataTest {

    @Test
    void anEmptyEpochIsAnInvalidInput(@TempDir Path tmp) throws Exception {
        // minibatch files from an empty folder: no batches at all
        Path none = Files.createDirectories(tmp.resolve("none"));
        SparkData data = SparkData.export(TrainingData.of((batch, seed) -> new MultiDataSetIteratorAdapter(
                new ExistingMiniBatchDataSetIterator(none.toFile())), null), 2, 1, tmp.resolve("out"));
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> data.batches(0));
        assertTrue(e.getMessage().contains("epoch 1 is empty"), e.getMessage());
    }
}
