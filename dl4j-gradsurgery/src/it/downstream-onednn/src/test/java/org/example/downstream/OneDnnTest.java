package org.example.downstream;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.loss.GradientSurgery;
import org.gradsurgery.loss.LossDice;
import org.gradsurgery.model.Natives;
import org.gradsurgery.model.UNet;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;

/**
 * With both native builds on the class path (the generic one from nd4j-native itself, the oneDNN one declared next
 * to it) and no org.bytedeco.javacpp.platform.extension, JavaCPP loads the oneDNN build: nd4j's preset lists the
 * -onednn extension before the plain one.
 */
class OneDnnTest {

    @Test
    void loadsTheOneDnnBuildAndTrains() {
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        assertTrue(cp.contains("nd4j-native-1.0.0-M2.1-linux-x86_64.jar")
                && cp.contains("nd4j-native-1.0.0-M2.1-linux-x86_64-onednn.jar"), cp);
        assertNull(System.getProperty("org.bytedeco.javacpp.platform.extension"));
        assertTrue(Natives.hasOneDnn(), Natives.buildInfo());

        UNet unet = UNet.builder().spatialDims(2).inputChannels(1).numClasses(2).levels(2).baseFilters(4)
                .convsPerLevel(1).loss(GradientSurgery.wrap(new LossDice())).seed(3).build();
        ComputationGraph net = unet.graph();
        MultiDataSet batch = new MultiDataSet(Nd4j.rand(new long[]{2, 1, 16, 16}),
                Nd4j.concat(1, Nd4j.ones(2, 1, 16, 16), Nd4j.zeros(2, 1, 16, 16)));
        net.fit(batch);
        assertTrue(Double.isFinite(net.score()), "score " + net.score());
    }
}
