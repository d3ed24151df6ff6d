package org.gradsurgery.study;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.data.CaseWindows;
import org.gradsurgery.data.Sample;
import org.gradsurgery.evaluation.CaseEvaluator;
import org.gradsurgery.model.UNet;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * A study scores each case in the geometry its network was trained in (padded at the high end with the case's
 * minimum, as in the training batches), then cuts the padding off. Found on MSD Hippocampus: scoring the same model
 * with centred edge padding instead gave test Dice 0.04 against 0.82.
 */
class StudyEvaluationPaddingTest {

    private static Sample sample(String id, int[] shape, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        int n = shape[0] * shape[1] * shape[2];
        float[] img = new float[n];
        int[] lab = new int[n];
        for (int i = 0; i < n; i++) {
            img[i] = (float) r.nextGaussian();
            lab[i] = img[i] > 0.5 ? 1 : 0;
        }
        return Sample.of(id, img, 1, shape, lab, null, new double[] {1, 1, 1}, null);
    }

    @Test
    void aSmallerCaseIsScoredOnItsTrainingPaddingAndCroppedToItsOwnGrid() {
        Sample smallCase = sample("small", new int[] {5, 8, 6}, 1);
        Sample largeCase = sample("large", new int[] {8, 8, 8}, 2);
        int[] size = CaseWindows.commonSize(List.of(smallCase, largeCase), 4);
        Map<String, StudyData.StudyCase> cases = new java.util.LinkedHashMap<>();
        for (Sample s : List.of(smallCase, largeCase)) {
            cases.put(s.id(), new StudyData.StudyCase(s.id(), s, s.spacing(), null));
        }
        StudyData data = new StudyData("two cases", List.of("background", "foreground"), cases, 3, 0, size);
        StudyData.StudyCase small = cases.get("small");
        Sample padded = CaseWindows.padHighEnd(smallCase, size, 4, -1);
        assertArrayEquals(new int[] {8, 8, 8}, padded.shape());

        ComputationGraph net = UNet.builder().spatialDims(3).numClasses(2).levels(3).baseFilters(2).seed(7).build()
                .graph();
        INDArray z = new StudyEvaluation(data, 10, 1.0, 4).logits(net, small);
        assertArrayEquals(new long[] {1, 2, 5, 8, 6}, z.shape());

        // softmax of the scored logits = the network's probabilities on the training-padded case, cropped
        INDArray x = padded.image().reshape('c', 1, 1, 8, 8, 8);
        INDArray expected = net.outputSingle(false, x).get(NDArrayIndex.point(0), NDArrayIndex.point(1),
                NDArrayIndex.interval(0, 5), NDArrayIndex.interval(0, 8), NDArrayIndex.interval(0, 6));
        INDArray d = z.get(NDArrayIndex.point(0), NDArrayIndex.point(0)).sub(z.get(NDArrayIndex.point(0),
                NDArrayIndex.point(1)));
        INDArray p1 = Transforms.exp(d, true).addi(1).rdivi(1);
        assertEquals(0.0, Transforms.abs(p1.sub(expected), false).maxNumber().doubleValue(), 1e-5,
                "scored probabilities differ from the training-padded output");

        // the harness can tell the two paddings apart: centred edge padding gives other border logits
        INDArray edge = CaseEvaluator.builder().numClasses(2).whole(4).build().logits(net, small.sample());
        double diff = edge.sub(z).norm1Number().doubleValue();
        assertTrue(diff > 1e-3, "edge padding and training padding gave the same logits (" + diff + ")");
    }
}
