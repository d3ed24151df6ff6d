package org.example.downstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.List;
import java.util.Random;

import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.calibration.ReliabilityDiagram;
import org.gradsurgery.io.Charts;
import org.gradsurgery.loss.GradientSurgery;
import org.gradsurgery.loss.LossDice;
import org.gradsurgery.model.Natives;
import org.gradsurgery.model.UNet;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;

/**
 * What a user's project gets from dl4j-gradsurgery plus plain nd4j-native: the generic natives, no second native
 * jar from the library, no XChart, and a U-Net with the surgery that trains.
 */
class DownstreamTest {

    /** The jars on this test's class path (surefire's own class path property; java.class.path is its booter). */
    private static List<String> classPath() {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        return Arrays.stream(cp.split(java.io.File.pathSeparator)).map(p -> p.replace('\\', '/'))
                .map(p -> p.substring(p.lastIndexOf('/') + 1)).toList();
    }

    @Test
    void onlyTheChosenNativesAndNoOptionalDependencies() {
        List<String> jars = classPath();
        List<String> natives = jars.stream().filter(j -> j.startsWith("nd4j-native-1") && j.contains("linux")).toList();
        assertEquals(List.of("nd4j-native-1.0.0-M2.1-linux-x86_64.jar"), natives, "native jars: " + jars);
        assertTrue(jars.stream().noneMatch(j -> j.startsWith("xchart") || j.startsWith("arbiter")),
                "optional dependencies leaked: " + jars);
        assertEquals("CpuBackend", Nd4j.getBackend().getClass().getSimpleName());
        assertFalse(Natives.hasOneDnn(), Natives.buildInfo());
        // the layers call oneDNN themselves on linux-x86_64, so the generic natives train as fast: no warning
        assertFalse(Natives.slowConvolutions(), Natives.buildInfo());
    }

    @Test
    void chartsSayWhatIsMissing() {
        assertFalse(Charts.isAvailable());
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> ReliabilityDiagram.render());
        assertTrue(e.getMessage().contains("add the dependency org.knowm.xchart:xchart:"), e.getMessage());
    }

    @Test
    void tinyUNetWithTheSurgeryTrains() {
        int n = 16;
        int size = 16;
        MultiDataSet data = squares(n, size, 7);
        UNet unet = UNet.builder().spatialDims(2).inputChannels(1).numClasses(2).levels(2).baseFilters(4)
                .convsPerLevel(1).normalization(UNet.Normalization.INSTANCE)
                .loss(GradientSurgery.wrap(new LossDice())).updater(new Adam(3e-2)).seed(3).build();
        ComputationGraph net = unet.graph();
        double before = dice(net, data);
        for (int it = 0; it < 40; it++) {
            int from = (it * 4) % n;
            net.fit(new MultiDataSet(data.getFeatures(0).get(range(from, from + 4)),
                    data.getLabels(0).get(range(from, from + 4))));
        }
        double after = dice(net, data);
        System.out.printf("downstream: %s, %d parameters, foreground Dice %.3f -> %.3f%n",
                Nd4j.getBackend().getClass().getSimpleName(), unet.numParams(), before, after);
        assertTrue(after > 0.8 && after > before + 0.2, "foreground Dice " + before + " -> " + after);
    }

    private static org.nd4j.linalg.indexing.INDArrayIndex[] range(int from, int to) {
        return new org.nd4j.linalg.indexing.INDArrayIndex[]{org.nd4j.linalg.indexing.NDArrayIndex.interval(from, to)};
    }

    /** Foreground Dice of the argmax over all images: 2|P ∩ G| / (|P| + |G|). */
    private static double dice(ComputationGraph net, MultiDataSet data) {
        float[] p = net.outputSingle(data.getFeatures(0)).castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT)
                .dup('c').data().asFloat();
        float[] y = data.getLabels(0).dup('c').data().asFloat();
        int plane = (int) (data.getLabels(0).length() / data.getLabels(0).size(0) / 2);
        double inter = 0;
        double sum = 0;
        for (int i = 0; i < p.length; i++) {
            int e = i / (2 * plane);
            int v = i % (2 * plane);
            if (v >= plane) {
                boolean predicted = p[i] > p[i - plane];
                boolean truth = y[i] > 0.5f;
                inter += predicted && truth ? 1 : 0;
                sum += (predicted ? 1 : 0) + (truth ? 1 : 0);
            }
        }
        return 2 * inter / sum;
    }

    /** A bright noisy square (class 1) at a random place on a dark noisy background, [n,1,s,s] and one-hot [n,2,s,s]. */
    private static MultiDataSet squares(int n, int s, long seed) {
        Random r = new Random(seed);
        float[] x = new float[n * s * s];
        float[] y = new float[n * 2 * s * s];
        for (int e = 0; e < n; e++) {
            int half = 3 + r.nextInt(3);
            int cy = half + r.nextInt(s - 2 * half);
            int cx = half + r.nextInt(s - 2 * half);
            for (int i = 0; i < s; i++) {
                for (int j = 0; j < s; j++) {
                    int c = Math.abs(i - cy) < half && Math.abs(j - cx) < half ? 1 : 0;
                    x[(e * s + i) * s + j] = (float) (c + 0.3 * r.nextGaussian());
                    y[((e * 2 + c) * s + i) * s + j] = 1f;
                }
            }
        }
        return new MultiDataSet(Nd4j.create(x, new long[]{n, 1, s, s}, 'c'), Nd4j.create(y, new long[]{n, 2, s, s}, 'c'));
    }
}
