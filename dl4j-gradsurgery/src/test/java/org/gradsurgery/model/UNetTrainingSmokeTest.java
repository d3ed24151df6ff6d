package org.gradsurgery.model;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.util.function.Supplier;

import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.loss.GradientSurgery;
import org.gradsurgery.loss.LossDice;
import org.gradsurgery.metrics.SegmentationMetrics;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * Training smoke test (issue 2): a tiny 2D and a tiny 3D U-Net, with instance normalisation and skip concatenation
 * (the 3D one on the project's rank-5 blocks), trained on {@link SyntheticShapes} with per-sample Dice and with
 * Dice under the gradient surgery, each reach a mean foreground validation Dice above 0.9 on held-out examples
 * within a fixed iteration budget.
 */
class UNetTrainingSmokeTest {

    static final double TARGET = 0.9;

    @ParameterizedTest(name = "{0}D {1}")
    @CsvSource({"2, dice", "2, surgery", "3, dice", "3, surgery"})
    void reachesValidationDiceAboveTarget(int dims, String lossName) {
        Supplier<ILossFunction> loss = "dice".equals(lossName) ? LossDice::new
                : () -> GradientSurgery.wrap(new LossDice());
        // measured single-threaded: about 2.5 s (2D) and 11 s (3D) of CPU per run; conv3d dominates
        int size = dims == 2 ? 16 : 12;
        int iterations = dims == 2 ? 60 : 70;
        int batch = dims == 2 ? 8 : 2;
        MultiDataSet train = SyntheticShapes.generate(dims, 32, size, 0.4, 100 + dims);
        MultiDataSet val = SyntheticShapes.generate(dims, 8, size, 0.4, 200 + dims);

        UNet unet = UNet.builder().spatialDims(dims).inputChannels(1).numClasses(SyntheticShapes.CLASSES)
                .levels(2).baseFilters(4).convsPerLevel(1).normalization(UNet.Normalization.INSTANCE)
                .loss(loss.get()).updater(new Adam(3e-2)).seed(2).build();
        ComputationGraph net = unet.graph();
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        long cpu = mx.getCurrentThreadCpuTime();
        long start = System.nanoTime();
        for (int it = 0; it < iterations; it++) {
            int from = (it * batch) % 32;
            net.fit(SyntheticShapes.slice(train, from, from + batch));
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        double cpuSeconds = (mx.getCurrentThreadCpuTime() - cpu) / 1e9;

        SegmentationMetrics metrics = SegmentationMetrics.builder().numClasses(SyntheticShapes.CLASSES)
                .includeBackground(false).surfaceDistances(false).build();
        metrics.update(net.outputSingle(val.getFeatures(0)), val.getLabels(0));
        double dice = metrics.result().meanDice();
        System.out.printf("UNet smoke %dD %s: %d iterations in %.2f s (%.2f s CPU), validation Dice %.4f%n", dims,
                lossName, iterations, seconds, cpuSeconds, dice);
        assertTrue(dice > TARGET, dims + "D " + lossName + ": validation Dice " + dice + " after " + iterations
                + " iterations");
    }
}
