package org.gradsurgery.examples.bench;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.WorkspaceMode;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.model.SlidingWindowInference;
import org.gradsurgery.model.UNet;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.shade.jackson.databind.JsonNode;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code gradsurgery bench infer}: sliding-window inference throughput ({@link SlidingWindowInference}: windows of
 * {@code --patch}³ at the given overlap, Gaussian importance weights with σ = p/8, stitched by the weighted mean) of
 * the benchmark 3D U-Net ({@link BenchUNets}) on {@code --size}³ volumes, and with {@code --peer} the same in
 * PyTorch ({@code bench/peer_infer.py}: MONAI's {@code sliding_window_inference} algorithm, same windows, weights
 * and windows per forward pass) in the same invocation.
 *
 * <p>A volume's time runs from the input array to the stitched probabilities (every window's forward pass, the
 * weighting and the normalisation); the median over {@code --volumes} random N(0, 1) volumes after one untimed
 * volume is reported as volumes/s, with the process CPU time per volume.
 */
@Command(name = "infer", mixinStandardHelpOptions = true,
        description = "Sliding-window inference volumes/s of the benchmark 3D U-Net, optionally against PyTorch "
                + "(MONAI's sliding_window_inference algorithm).")
public final class InferBench implements Callable<Integer> {

    @Option(names = "--size", paramLabel = "N", description = "Edge of the cubic volume, 4 or more "
            + "(default: ${DEFAULT-VALUE}).")
    int size = 128;

    @Option(names = "--patch", paramLabel = "P", description = "Window edge, a multiple of 4 (default: "
            + "${DEFAULT-VALUE}).")
    int patch = 64;

    @Option(names = "--overlap", paramLabel = "F", description = "Overlap of neighbouring windows in [0, 1) "
            + "(default: ${DEFAULT-VALUE}).")
    double overlap = 0.5;

    @Option(names = "--windows-per-pass", paramLabel = "N", description = "Windows per forward pass, 1 or more "
            + "(default: ${DEFAULT-VALUE}).")
    int windowsPerPass = 4;

    @Option(names = "--volumes", paramLabel = "N", description = "Timed volumes, 1 or more (default: "
            + "${DEFAULT-VALUE}).")
    int volumes = 3;

    @Option(names = "--norm", paramLabel = "KIND", description = "${COMPLETION-CANDIDATES} (default: "
            + "${DEFAULT-VALUE}, as the study's network).")
    UNet.Normalization norm = UNet.Normalization.INSTANCE;

    @Option(names = "--peer", description = "Also run bench/peer_infer.py (PyTorch) and print the ratio.")
    boolean peer;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (patch % 4 != 0) {       // its range (Ranges) is checked before: >= 4
            throw new org.gradsurgery.InvalidInputException("--patch must be a multiple of 4 (the network's 3 levels), "
                    + "got " + patch);
        }
        PrintWriter out = spec.commandLine().getOut();
        BenchUNets.Spec s = new BenchUNets.Spec(3, 3, 8, patch, 2, norm, UNet.Upsampling.TRANSPOSED_CONV,
                CNN2DFormat.NCHW, WorkspaceMode.ENABLED);
        SlidingWindowInference swi = SlidingWindowInference.builder().patchSize(patch, patch, patch).overlap(overlap)
                .maxPatchesInFlight(windowsPerPass).build();
        int windows = swi.windowOrigins(size, size, size).length;
        int threads = Nd4j.getEnvironment().maxThreads();
        out.printf(Locale.ROOT, "bench infer: %s; volume %d^3, window %d^3, overlap %.2f, %d windows per volume, %d "
                + "per pass, Gaussian sigma p/8; %d timed volumes after 1 warm-up%n", s.describe(), size, patch,
                overlap, windows, windowsPerPass, volumes);
        out.println(BenchSupport.machineLine());
        out.flush();
        ComputationGraph net = new ComputationGraph(BenchUNets.configuration(s));
        net.init();
        Nd4j.getRandom().setSeed(11);
        double[] ms = new double[volumes];
        double[] cpu = new double[volumes];
        for (int v = -1; v < volumes; v++) {
            INDArray x = Nd4j.randn(DataType.FLOAT, 1, 1, size, size, size);
            BenchSupport.Stopwatch w = BenchSupport.Stopwatch.start();
            INDArray p = swi.predict(net, x);
            if (v >= 0) {
                ms[v] = w.wallSeconds() * 1e3;
                cpu[v] = w.cpuSeconds() * 1e3;
                out.printf(Locale.ROOT, "  volume %d: %.0f ms, CPU %.0f ms%n", v + 1, ms[v], cpu[v]);
                out.flush();
            }
            p.close();
            x.close();
        }
        double med = BenchSupport.median(ms);
        double medCpu = BenchSupport.median(cpu);
        out.printf(Locale.ROOT, "DL4J:    median %.0f ms/volume (%.3f volumes/s), CPU %.0f ms/volume, %.1f ms/window%n",
                med, 1000 / med, medCpu, med / windows);
        out.println(BenchSupport.memoryLine());
        out.flush();
        if (peer) {
            List<String> args = new ArrayList<>(List.of("--size", Integer.toString(size), "--patch",
                    Integer.toString(patch), "--overlap", Double.toString(overlap), "--windows-per-pass",
                    Integer.toString(windowsPerPass), "--volumes", Integer.toString(volumes), "--threads",
                    Integer.toString(threads), "--norm", norm.name().toLowerCase(Locale.ROOT)));
            out.println("running PyTorch (python3 peer_infer.py " + String.join(" ", args) + ") ...");
            out.flush();
            BenchSupport.PeerResult r = BenchSupport.runPython("peer_infer.py", args,
                    Map.of("OMP_NUM_THREADS", Integer.toString(threads)), 7200, "peer_unet.py");
            if (!r.ok()) {
                out.println("PyTorch: not run: " + r.unavailable());
            } else {
                JsonNode j = r.json();
                double pm = BenchSupport.median(BenchSupport.doubles(j.get("ms")));
                double pc = BenchSupport.median(BenchSupport.doubles(j.get("cpu_ms")));
                out.printf(Locale.ROOT, "PyTorch: median %.0f ms/volume (%.3f volumes/s), CPU %.0f ms/volume, %d windows "
                                + "per volume (torch %s, %d threads, peak RSS %s)%n", pm, 1000 / pm, pc,
                        j.get("windows").asInt(), j.get("torch").asText(), j.get("threads").asInt(),
                        BenchSupport.mib(j.get("peak_rss_bytes").asLong()));
                if (j.get("windows").asInt() != windows) {
                    out.println("warning: the peer placed " + j.get("windows").asInt() + " windows, DL4J " + windows);
                }
                out.printf(Locale.ROOT, "ratio DL4J/PyTorch time per volume, same run: wall %.2fx, CPU %.2fx%n",
                        med / pm, medCpu / pc);
            }
        }
        out.println(BenchSupport.machineLine() + " (at the end)");
        out.flush();
        return 0;
    }
}
