package org.gradsurgery.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedOutputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.apache.spark.api.java.JavaSparkContext;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.model.UNet;
import org.gradsurgery.training.TrainingConfig;
import org.gradsurgery.training.TrainingResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * With plain SGD, per-example normalisation and a loss that is a mean over examples (Dice + surgery, SAMPLE
 * reduction), one averaging round of W = 2 workers on 4 examples each equals one local step on the union of the 8:
 * (1/W) Σ_w (θ − η ∇L_w) = θ − η (1/W) Σ_w ∇L_w = θ − η ∇L_union. Checked in DOUBLE to 1e-12.
 */
class ParameterAveragingEquivalenceTest {

    @Test
    void oneRoundOfTwoWorkersEqualsOneLocalStepOnTheUnion(@TempDir Path tmp) throws Exception {
        DataSet all = TinySpark.cases(8, 21, DataType.DOUBLE);
        List<String> files = new ArrayList<>();
        for (int w = 0; w < 2; w++) {
            Path f = tmp.resolve("worker-" + w + ".bin");
            MultiDataSet part = new MultiDataSet(all.getFeatures().get(interval(w)).dup(),
                    all.getLabels().get(interval(w)).dup());
            try (OutputStream os = new BufferedOutputStream(Files.newOutputStream(f))) {
                part.save(os);
            }
            files.add(f.toUri().toString());
        }
        ComputationGraph local = TinySpark.unet(new Sgd(0.5), DataType.DOUBLE, UNet.Normalization.INSTANCE, 7);
        ComputationGraph distributed = TinySpark.unet(new Sgd(0.5), DataType.DOUBLE, UNet.Normalization.INSTANCE, 7);
        INDArray start = local.params().dup();
        assertEquals(start, distributed.params());

        local.fit(new MultiDataSet(all.getFeatures(), all.getLabels()));

        TrainingConfig config = TrainingConfig.builder().epochs(1).batchSize(4).validateEvery(0)
                .progress(TrainingConfig.ProgressMode.OFF).build();
        TrainingResult r;
        try (JavaSparkContext sc = TinySpark.local(2, SparkSettings.Serializer.JAVA)) {
            r = SparkSegmentationTrainer.builder(config, TinySpark.settings(2, SparkSettings.Serializer.JAVA)).build()
                    .fit(sc, distributed, SparkData.files(files, 1, null));
        }
        assertEquals(1, r.iterations());
        INDArray a = local.params();
        INDArray b = r.network().params();
        double step = Transforms.abs(a.sub(start)).maxNumber().doubleValue();
        double diff = Transforms.abs(a.sub(b)).maxNumber().doubleValue();
        System.out.printf("SGD: one local step on 8 examples vs one averaging round of 2 x 4: largest parameter "
                + "change %.3e, largest difference %.3e%n", step, diff);
        assertTrue(step > 1e-3, "the step must move the parameters: " + step);
        assertTrue(diff < 1e-12, "local vs averaged: " + diff);
    }

    private static org.nd4j.linalg.indexing.INDArrayIndex interval(int w) {
        return org.nd4j.linalg.indexing.NDArrayIndex.interval(4L * w, 4L * w + 4);
    }
}
