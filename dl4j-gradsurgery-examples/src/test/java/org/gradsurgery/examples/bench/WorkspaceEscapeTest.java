package org.gradsurgery.examples.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Collectors;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.WorkspaceMode;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.model.UNet;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.dataset.MultiDataSet;

/**
 * Issue 16's memory growth, as a count rather than a timing: once the workspaces have learnt their sizes, a U-Net
 * training step allocates no activation-sized native buffer outside them (such a buffer is freed only when the GC
 * collects its owner, so the resident set grows by its size every iteration). What may remain are DL4J's own tiny
 * scalars (the updater's, a few bytes each, with Java objects that keep the GC running). Every layer option, 2D and
 * 3D, on small inputs; the 3D transposed convolution let 32 MiB per 64³ iteration escape before this test.
 */
class WorkspaceEscapeTest {

    /** No single buffer outside the workspaces above this: the smallest activation here is far larger. */
    private static final long LARGEST_ALLOWED = 1024;

    static java.util.stream.Stream<Arguments> networks() {
        java.util.List<Arguments> list = new java.util.ArrayList<>();
        for (int dims : new int[] {2, 3}) {
            for (UNet.Normalization n : UNet.Normalization.values()) {
                for (UNet.Upsampling u : UNet.Upsampling.values()) {
                    list.add(Arguments.of(dims, n, u, CNN2DFormat.NCHW));
                }
            }
        }
        list.add(Arguments.of(2, UNet.Normalization.BATCH, UNet.Upsampling.TRANSPOSED_CONV, CNN2DFormat.NHWC));
        return list.stream();
    }

    @ParameterizedTest(name = "{0}D {1} {2} {3}")
    @MethodSource("networks")
    void trainingStepKeepsActivationsInWorkspaces(int dims, UNet.Normalization norm, UNet.Upsampling up,
                                                  CNN2DFormat format) {
        BenchUNets.Spec s = new BenchUNets.Spec(dims, 3, 4, dims == 3 ? 16 : 32, 2, norm, up, format,
                WorkspaceMode.ENABLED);
        ComputationGraph net = new ComputationGraph(BenchUNets.configuration(s));
        net.init();
        MultiDataSet data = UNetBench.batch(s, 2);
        for (int i = 0; i < 3; i++) {
            net.fit(data);   // workspaces learn their sizes over the first iterations
        }
        try (VertexProfiler labels = VertexProfiler.install(net);
             DetachedAllocations detached = DetachedAllocations.install(true)) {
            net.fit(data);
            net.fit(data);
            String sites = detached.bySite().stream().limit(5)
                    .map(e -> e.getValue()[1] + " B x" + e.getValue()[0] + " " + e.getKey())
                    .collect(Collectors.joining("\n  "));
            assertTrue(detached.largestBytes() <= LARGEST_ALLOWED, s.describe() + ": a buffer of "
                    + detached.largestBytes() + " bytes was allocated outside the workspaces; largest sources:\n  "
                    + sites);
        }
    }
}
