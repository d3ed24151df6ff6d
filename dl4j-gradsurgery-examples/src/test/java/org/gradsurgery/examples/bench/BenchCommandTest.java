package org.gradsurgery.examples.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.gradsurgery.examples.cli.CliRun;
import org.gradsurgery.examples.cli.GradSurgeryCli;
import org.junit.jupiter.api.Test;

/** The bench commands on tiny sizes: they run, print their figures, and reject bad flags with one line. */
class BenchCommandTest {

    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void ioPrintsThroughputForAllFourFiles() {
        CliRun r = run("bench", "io", "--size", "32", "--repetitions", "1", "--no-peer");
        assertEquals(0, r.exit(), r.err());
        for (String f : new String[]{"int16.nii ", "int16.nii.gz", "float32.nii ", "float32.nii.gz"}) {
            Matcher m = Pattern.compile(Pattern.quote(f) + "\\s+([0-9.]+)\\s+[0-9.]+\\s+[0-9.]+ \\|\\s+([0-9.]+)")
                    .matcher(r.out());
            assertTrue(m.find(), f + " row missing in:\n" + r.out());
            // 32^3 voxels: 65,536 bytes of int16, 131,072 of float32
            assertEquals((f.startsWith("int16") ? 2 : 4) * 32768 / 1e6, Double.parseDouble(m.group(1)), 0.05, r.out());
            assertTrue(Double.parseDouble(m.group(2)) > 0, r.out());
        }
        assertTrue(r.out().contains("nibabel: not requested (--no-peer)"), r.out());
        assertTrue(r.out().contains("load average"), r.out());
    }

    @Test
    void unetTwoDimensionalTrainsAndProfiles() {
        CliRun r = run("bench", "unet", "--dims", "2", "--size", "16", "--batch", "2", "--iterations", "2",
                "--warmup", "1", "--profile", "--format", "NHWC");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().matches("(?s).*DL4J:\\s+median \\d+ ms/iteration, min \\d+ ms, [0-9.]+ samples/s.*"),
                r.out());
        assertTrue(r.out().contains("enc1_conv1") && r.out().contains("NativeConvolution2D")
                && r.out().contains("TransposedConvolution2D") && r.out().contains("updater (Adam"), r.out());
        assertTrue(r.out().matches("(?s).*backend: .*, oneDNN (yes|no), .*"), r.out());
        assertTrue(r.out().contains("peak RSS"), r.out());
    }

    @Test
    void unetThreeDimensionalWithUpsamplingRuns() {
        CliRun r = run("bench", "unet", "--dims", "3", "--size", "8", "--iterations", "1", "--warmup", "0",
                "--upsampling", "UPSAMPLE_CONV", "--workspace", "NONE");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("3D U-Net: 3 levels, 8 base filters") && r.out().contains("upsampling UPSAMPLE_CONV"),
                r.out());
    }

    @Test
    void soakPrintsPeaksAtEachCheckpointAndExitsByItsVerdict() {
        CliRun r = run("bench", "unet", "--dims", "2", "--size", "16", "--batch", "1", "--warmup", "0", "--soak",
                "2,4");
        Matcher m = Pattern.compile("soak: .*peak RSS MiB 2: \\d+, 4: \\d+; growth [-+][0-9.]+% \\(limit \\+10%.*\\): "
                + "(flat|GROWS)").matcher(r.out());
        assertTrue(m.find(), r.out() + r.err());
        assertEquals(m.group(1).equals("flat") ? 0 : 1, r.exit(), r.out());
        assertTrue(r.out().contains("after 4 iterations: peak RSS") && r.out().contains("workspaces: "), r.out());
        CliRun bad = run("bench", "unet", "--soak", "5");
        assertEquals(GradSurgeryCli.EXIT_USAGE, bad.exit());
        assertTrue(bad.err().contains("--soak needs at least two iteration counts"), bad.err());
    }

    /**
     * The CI smoke of `bench pipeline` (issue 16): the study's pipeline on 4 + 1 cases cut from the bundled volume, one
     * batch per epoch, inline and prefetched, then sliding-window inference; the PyTorch peer runs when torch and
     * nibabel are importable, and otherwise the output says why not.
     */
    @Test
    void pipelineSmokeTimesEveryStageAndRunsThePeerOrSaysWhyNot() {
        CliRun r = run("bench", "pipeline", "--smoke", "--peer");
        assertEquals(0, r.exit(), r.out() + r.err());
        Matcher m = Pattern.compile("DL4J stages \\(s, share of their sum\\): load ([0-9.]+) \\(([0-9.]+) %\\), "
                + "preprocess ([0-9.]+) \\(([0-9.]+) %\\), augment ([0-9.]+) \\(([0-9.]+) %\\), batch ([0-9.]+) "
                + "\\(([0-9.]+) %\\), step ([0-9.]+) \\(([0-9.]+) %\\), inference ([0-9.]+) \\(([0-9.]+) %\\), total "
                + "([0-9.]+)").matcher(r.out());
        assertTrue(m.find(), r.out());
        double shares = 0;
        double seconds = 0;
        for (int g = 1; g <= 11; g += 2) {
            seconds += Double.parseDouble(m.group(g));
            shares += Double.parseDouble(m.group(g + 1));
        }
        assertEquals(100, shares, 0.5, r.out());
        assertEquals(Double.parseDouble(m.group(13)), seconds, 0.02, r.out());
        for (int g : new int[]{1, 9, 11}) {   // load, step and inference always take time
            assertTrue(Double.parseDouble(m.group(g)) > 0, "stage " + g + " in " + r.out());
        }
        assertTrue(r.out().contains("split: 4 training cases, 1 validation cases (of 8)"), r.out());
        assertTrue(r.out().matches("(?s).*DL4J epoch \\(inline\\): 1 batches.*DL4J epoch \\(prefetch 4\\): 1 "
                + "batches.*"), r.out());
        boolean ran = r.out().contains("ratio DL4J/PyTorch, same run");
        boolean said = r.out().matches("(?s).*PyTorch: not run: \\S.*");
        assertTrue(ran ^ said, r.out());
        if (said) {
            System.out.println("bench pipeline peer skipped: " + r.out().lines()
                    .filter(l -> l.startsWith("PyTorch: not run")).findFirst().orElseThrow());
        }
    }

    @Test
    void inferTimesVolumesAndRejectsABadPatch() {
        CliRun r = run("bench", "infer", "--size", "12", "--patch", "8", "--volumes", "1");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("volume 12^3, window 8^3, overlap 0.50, 8 windows per volume"), r.out());
        assertTrue(r.out().matches("(?s).*DL4J:\\s+median \\d+ ms/volume \\([0-9.]+ volumes/s\\).*"), r.out());
        CliRun bad = run("bench", "infer", "--patch", "10");
        assertEquals(GradSurgeryCli.EXIT_USAGE, bad.exit());
        assertTrue(bad.err().contains("--patch must be a multiple of 4"), bad.err());
    }

    @Test
    void pipelineRejectsAFolderThatIsNoMsdTask(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) {
        CliRun r = run("bench", "pipeline", dir.toString());
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        assertEquals("gradsurgery: error: " + dir + " is not an MSD task folder (no imagesTr/ and labelsTr/)",
                r.err().strip());
        // a spec that is not the study's 3D recipe (2D, no common padding) is refused before anything loads
        java.nio.file.Path spec = org.gradsurgery.examples.DemoData.locate().getParent()
                .resolve("dl4j-gradsurgery-examples/examples/studies/colin27-deepgm-2d.json");
        CliRun o = run("bench", "pipeline", "--spec", spec.toString());
        assertEquals(GradSurgeryCli.EXIT_USAGE, o.exit(), o.out() + o.err());
        assertEquals("gradsurgery: error: --spec " + spec + ": bench pipeline times the study's 3D recipe and needs an "
                + "msd source with dims 3 and commonPadding", o.err().strip());
    }

    @Test
    void badFlagsAreOneLineErrors() {
        CliRun r = run("bench", "unet", "--dims", "3", "--format", "NHWC");
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        assertEquals("gradsurgery: error: --format NHWC is 2D only (3D runs NCDHW)", r.err().strip());
        CliRun s = run("bench", "unet", "--dims", "2", "--size", "100");
        assertEquals(GradSurgeryCli.EXIT_USAGE, s.exit());
        assertTrue(s.err().contains("--size 100 must be divisible by 2^(levels-1) = 8"), s.err());
        CliRun t = run("bench", "io", "--size", "1");
        assertEquals(GradSurgeryCli.EXIT_USAGE, t.exit());
    }

    @Test
    void profilerTimesEveryVertexAndRestoresTheGraph() {
        BenchUNets.Spec s = new BenchUNets.Spec(2, 2, 4, 8, 2, org.gradsurgery.model.UNet.Normalization.INSTANCE,
                org.gradsurgery.model.UNet.Upsampling.TRANSPOSED_CONV, org.deeplearning4j.nn.conf.CNN2DFormat.NCHW,
                org.deeplearning4j.nn.conf.WorkspaceMode.ENABLED);
        ComputationGraph net = new ComputationGraph(BenchUNets.configuration(s));
        net.init();
        GraphVertex[] before = net.getVertices().clone();
        double ms;
        List<VertexProfiler.Row> rows;
        try (VertexProfiler p = VertexProfiler.install(net)) {
            long t0 = System.nanoTime();
            net.fit(UNetBench.batch(s, 2));
            ms = (System.nanoTime() - t0) / 1e6;
            rows = p.perVertex(1);
            double sum = rows.stream().mapToDouble(VertexProfiler.Row::totalMs).sum() + p.updaterMs(1);
            assertTrue(sum > 0 && sum <= ms, "vertex + updater time " + sum + " vs iteration " + ms);
            assertTrue(p.updaterMs(1) > 0);
        }
        // every non-input vertex ran forward and backward; DL4J never calls doForward on the output layer in
        // fit: its activation and loss run inside its backprop
        assertEquals(before.length - 1, rows.size());
        for (VertexProfiler.Row r : rows) {
            boolean output = r.name().equals("output");
            assertTrue((output ? r.forwardMs() == 0 : r.forwardMs() > 0) && r.backwardMs() > 0, r.toString());
        }
        for (int i = 0; i < before.length; i++) {
            assertSame(before[i], net.getVertices()[i]);
        }
        assertEquals(0, net.getListeners().size());
    }
}
