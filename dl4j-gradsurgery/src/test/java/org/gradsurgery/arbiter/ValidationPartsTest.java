package org.gradsurgery.arbiter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.model.UNet;
import org.gradsurgery.training.TrainingData;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;
import org.nd4j.linalg.factory.Nd4j;

/**
 * A sweep's validation set in parts of different sizes (validation cases of different in-plane sizes): each part is
 * run at its own size and the metrics accumulate as over one set, with nothing padded.
 */
class ValidationPartsTest {

    private static DataSet part(int n, int h, int w, long seed) {
        Nd4j.getRandom().setSeed(seed);
        INDArray x = Nd4j.rand(DataType.FLOAT, n, 1, h, w);
        INDArray fg = x.gt(0.5).castTo(DataType.FLOAT);
        INDArray y = Nd4j.concat(1, fg.rsub(1.0), fg);
        return new DataSet(x, y);
    }

    private static final ComputationGraph NET = UNet.builder().numClasses(2).levels(2).baseFilters(2).seed(3).build()
            .graph();

    @Test
    void partsOfOneShapeScoreAsTheirConcatenation() {
        DataSet a = part(3, 8, 8, 1);
        DataSet b = part(2, 8, 8, 2);
        ValidationMetrics parts = ValidationMetrics.evaluate(NET, List.of(a, b), null, 1, 2);
        ValidationMetrics one = ValidationMetrics.evaluate(NET, DataSet.merge(List.of(a, b)), null, 1, 2);
        assertEquals(one.toString(), parts.toString());
        assertEquals(one.nll(), parts.nll(), 1e-6);
        assertEquals(one.dice(), parts.dice(), 1e-6);
    }

    @Test
    void partsOfDifferentSizesAreEachScoredAtTheirOwnSize() {
        DataSet small = part(2, 8, 8, 4);
        DataSet large = part(1, 16, 12, 5);
        ValidationMetrics s = ValidationMetrics.evaluate(NET, List.of(small), null, 1, 4);
        ValidationMetrics l = ValidationMetrics.evaluate(NET, List.of(large), null, 1, 4);
        ValidationMetrics both = ValidationMetrics.evaluate(NET, List.of(small, large), null, 1, 4);
        // NLL and Brier are means over voxels: the voxel-weighted mean of the parts' (no padded voxel counts)
        double vs = 2 * 8 * 8;
        double vl = 16 * 12;
        assertEquals((vs * s.nll() + vl * l.nll()) / (vs + vl), both.nll(), 1e-5);
        assertEquals((vs * s.brier() + vl * l.brier()) / (vs + vl), both.brier(), 1e-5);

        SweepData data = new SweepData(TrainingData.of((batch, seed) -> null, null), List.of(small, large), null);
        assertEquals(3, data.validationExamples());
        MultiDataSetIterator it = data.training().validation(4);
        int examples = 0;
        int batches = 0;
        while (it.hasNext()) {
            MultiDataSet m = it.next();
            examples += (int) m.getFeatures(0).size(0);
            batches++;
        }
        assertEquals(3, examples);
        assertEquals(2, batches, "one batch per part: parts are never batched together");
        it.reset();
        assertTrue(it.hasNext());
        assertEquals(8, it.next().getFeatures(0).size(2));
    }

    @Test
    void partsMustAgreeOnChannelsAndClasses() {
        DataSet two = part(1, 8, 8, 6);
        DataSet three = new DataSet(two.getFeatures(), Nd4j.zeros(DataType.FLOAT, 1, 3, 8, 8));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new SweepData(TrainingData.of((batch, seed) -> null, null), List.of(two, three), null));
        assertTrue(e.getMessage().contains("same channels, classes"), e.getMessage());
    }
}
