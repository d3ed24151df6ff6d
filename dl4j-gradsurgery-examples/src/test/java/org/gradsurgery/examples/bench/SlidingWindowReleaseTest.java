package org.gradsurgery.examples.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.WorkspaceMode;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.model.SlidingWindowInference;
import org.gradsurgery.model.UNet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Sliding-window inference closes every array it allocates outside the workspaces (patch batches, the network's
 * outputs, flipped copies, the padded volume and the weight sums) but the result: such arrays are otherwise freed
 * only when the GC collects them, and inference makes so little heap garbage that with 128³ volumes and 64³ windows
 * they grew one thread's peak RSS from about 620 to 1,145 MiB (issue 16). With and without padding and mirroring.
 */
class SlidingWindowReleaseTest {

    @ParameterizedTest(name = "volume {0}^3, mirroring {1}")
    @ValueSource(strings = {"16,false", "12,false", "16,true"})
    void everyArrayOutsideTheWorkspacesButTheResultIsClosed(String args) {
        int size = Integer.parseInt(args.split(",")[0]);
        boolean mirror = Boolean.parseBoolean(args.split(",")[1]);
        BenchUNets.Spec s = new BenchUNets.Spec(3, 3, 4, 16, 2, UNet.Normalization.INSTANCE,
                UNet.Upsampling.TRANSPOSED_CONV, CNN2DFormat.NCHW, WorkspaceMode.ENABLED);
        ComputationGraph net = new ComputationGraph(BenchUNets.configuration(s));
        net.init();
        SlidingWindowInference swi = SlidingWindowInference.builder().patchSize(16, 16, 16).overlap(0.5)
                .maxPatchesInFlight(2).mirroring(mirror).build();
        INDArray x = Nd4j.rand(DataType.FLOAT, 1, 1, size, size, size);
        swi.predict(net, x).close();   // warm-up: the workspaces learn their sizes
        try (DetachedAllocations detached = DetachedAllocations.install(true).retainBuffers()) {
            INDArray p = swi.predict(net, x);
            assertEquals(List.of(1L, 2L, (long) size, (long) size, (long) size), List.of(p.size(0), p.size(1),
                    p.size(2), p.size(3), p.size(4)));
            // tiny buffers (shape information, scalars) are left out, as in WorkspaceEscapeTest
            List<String> open = detached.unclosed(p).stream()
                    .filter(b -> Long.parseLong(b.substring(0, b.indexOf(' '))) > 1024).toList();
            assertTrue(open.isEmpty(), open.size() + " buffers above 1 KiB outside the workspaces left to the GC:\n  "
                    + String.join("\n  ", open.stream().limit(12).toList()));
        }
    }
}
