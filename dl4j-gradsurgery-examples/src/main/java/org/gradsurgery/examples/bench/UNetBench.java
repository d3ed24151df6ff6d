package org.gradsurgery.examples.bench;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.WorkspaceMode;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.model.Natives;
import org.gradsurgery.model.UNet;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.conditions.Conditions;
import org.nd4j.shade.jackson.databind.JsonNode;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code gradsurgery bench unet}: training-step time of the benchmark 2D and 3D U-Nets ({@link BenchUNets}) and,
 * with {@code --peer}, of the same architecture in PyTorch ({@code bench/peer_unet.py}) in the same invocation.
 *
 * <p>One iteration is one {@code ComputationGraph.fit(MultiDataSet)} on a fixed random batch (forward, soft-Dice
 * loss, backward, Adam step), timed by wall clock after {@code --warmup} untimed iterations. The peer is given the
 * thread count libnd4j uses ({@code Nd4j.getEnvironment().maxThreads()}, i.e. {@code OMP_NUM_THREADS} when set).
 * The figures printed are the median and minimum ms per iteration, samples/s, the process CPU time per iteration
 * (all threads; it stretches far less than wall time when other jobs share the cores), and the DL4J/PyTorch
 * ratios of median wall and CPU ms per sample; only these same-run ratios are meaningful on a shared machine.
 *
 * <p>With {@code --edges E1,E2,…} it sweeps the patch edge instead: each edge runs as {@code bench unet --size E} in
 * a fresh JVM (peak RSS, VmHWM, is per process), with its own PyTorch peer under {@code --peer}, and the sweep writes
 * {@code edges.csv} and {@code edges.png} (peak RSS and step time against the edge, both frameworks) into
 * {@code --out} ({@link EdgeSweep}).
 */
@Command(name = "unet", mixinStandardHelpOptions = true,
        description = "U-Net training ms/iteration of the benchmark 2D and 3D networks (BenchUNets), optionally against PyTorch.")
public final class UNetBench implements Callable<Integer> {

    @Option(names = "--dims", paramLabel = "2|3", description = "2 or 3 (default ${DEFAULT-VALUE}).")
    int dims = 2;

    @Option(names = "--batch", paramLabel = "N", description = "Batch size (default: 4 in 2D, 1 in 3D).")
    Integer batch;

    @Option(names = "--iterations", paramLabel = "N", description = "Timed iterations (default ${DEFAULT-VALUE}).")
    int iterations = 10;

    @Option(names = "--warmup", paramLabel = "N", description = "Untimed iterations first (default ${DEFAULT-VALUE}).")
    int warmup = 2;

    @Option(names = "--size", paramLabel = "N", description = "Spatial edge (default: 128 in 2D, 64 in 3D).")
    Integer size;

    @Option(names = "--shape", split = ",", paramLabel = "D,H,W",
            description = "3D only: a non-cubic input D,H,W instead of --size, each divisible by 2^(levels-1) = 4 "
            + "(e.g. 44,60,48: MSD Hippocampus cases padded to a common size, as `bench pipeline` trains them).")
    int[] shape;

    @Option(names = "--format", paramLabel = "NCHW|NHWC",
            description = "2D data format: NCHW or NHWC (default ${DEFAULT-VALUE}).")
    CNN2DFormat format = CNN2DFormat.NCHW;

    @Option(names = "--workspace", paramLabel = "MODE",
            description = "Training/inference workspace mode: ENABLED or NONE "
            + "(default ${DEFAULT-VALUE}).")
    WorkspaceMode workspace = WorkspaceMode.ENABLED;

    @Option(names = "--algo-mode", paramLabel = "MODE",
            description = "The convolutions' DL4J cudnnAlgoMode: PREFER_FASTEST (2D 3x3 convolutions on oneDNN's "
            + "Winograd where the CPU has it, AVX-512) or NO_WORKSPACE (the direct algorithm only, less memory) "
            + "(default ${DEFAULT-VALUE}).")
    ConvolutionLayer.AlgoMode algoMode = ConvolutionLayer.AlgoMode.PREFER_FASTEST;

    @Option(names = "--upsampling", paramLabel = "KIND",
            description = "TRANSPOSED_CONV (2x2 stride-2 transposed conv) or UPSAMPLE_CONV "
            + "(nearest x2 + 3x3 conv) (default ${DEFAULT-VALUE}).")
    UNet.Upsampling upsampling = UNet.Upsampling.TRANSPOSED_CONV;

    @Option(names = "--norm", paramLabel = "KIND",
            description = "BATCH, INSTANCE or NONE (default: BATCH in 2D, NONE in 3D).")
    UNet.Normalization norm;

    @Option(names = "--peer", description = "Also run bench/peer_unet.py (PyTorch) and print the ratio.")
    boolean peer;

    @Option(names = "--profile", description = "Time every vertex's forward/backward and the updater.")
    boolean profile;

    @Option(names = "--allocations", description = "Count native buffers allocated outside workspaces (they wait "
            + "for the GC) per vertex, phase and source line, over the timed iterations.")
    boolean allocations;

    @Option(names = "--soak", split = ",", paramLabel = "N", description = "Memory soak instead of timing: train "
            + "to each iteration count N (after the warm-up), print the peak RSS there, and fail (exit 1) when the last "
            + "peak exceeds the first by more than --soak-tolerance. E.g. --soak 20,80,320 (with -Xms = -Xmx and "
            + "-XX:+AlwaysPreTouch, as `bench soak` runs it, so that heap growth does not count).")
    int[] soak;

    @Option(names = "--soak-tolerance", paramLabel = "F",
            description = "Allowed relative growth of peak RSS (default ${DEFAULT-VALUE}).")
    double soakTolerance = 0.10;

    @Option(names = "--edges", split = ",", paramLabel = "E",
            description = "Sweep the patch edge instead: one fresh process per edge (and per peer), then edges.csv and "
            + "edges.png in --out. E.g. --dims 3 --edges 32,48,64,96,128 --peer (--iterations defaults to 3 here).")
    int[] edges;

    @Option(names = "--out", paramLabel = "DIR",
            description = "Folder for the --edges CSV and PNG (default ${DEFAULT-VALUE}).")
    java.nio.file.Path outDir = java.nio.file.Path.of("bench-edges");

    @Option(names = "--with-io", description = "Also run `bench io` (256^3; nibabel too when --peer).")
    boolean withIo;

    @Option(names = "--with-loss", description = "Also run `bench loss` with its defaults, if this build has it.")
    boolean withLoss;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    private long parameters;

    /** The figures of one run: wall and process-CPU milliseconds per iteration. */
    record Result(double[] msPerIteration, double[] cpuMsPerIteration, int batch) {
        double medianMs() {
            return BenchSupport.median(msPerIteration);
        }

        double minMs() {
            return BenchSupport.min(msPerIteration);
        }

        double medianCpuMs() {
            return BenchSupport.median(cpuMsPerIteration);
        }

        double samplesPerSecond() {
            return batch * 1000.0 / medianMs();
        }
    }

    @Override
    public Integer call() throws Exception {
        if (iterations < 1 || warmup < 0) {
            throw new org.gradsurgery.InvalidInputException("--iterations must be >= 1 and --warmup >= 0, got " + iterations
                    + " and " + warmup);
        }
        BenchUNets.Spec base = dims == 3 ? BenchUNets.Spec.threeD() : BenchUNets.Spec.twoD();
        int b = batch != null ? batch : dims == 3 ? 1 : 4;
        if (b < 1) {
            throw new org.gradsurgery.InvalidInputException("--batch must be >= 1, got " + b);
        }
        if (shape != null && (dims != 3 || size != null || edges != null)) {
            throw new org.gradsurgery.InvalidInputException("--shape is for --dims 3 and replaces --size (and --edges)");
        }
        BenchUNets.Spec s = new BenchUNets.Spec(dims, base.levels(), base.baseFilters(),
                size != null ? size : base.extent()[0], base.classes(), norm != null ? norm : base.norm(), upsampling,
                format, workspace);
        if (shape != null) {
            s = s.withExtent(shape);
        }
        PrintWriter out = spec.commandLine().getOut();
        int threads = Nd4j.getEnvironment().maxThreads();
        out.println("bench unet: " + s.describe() + ", batch " + b + ", " + warmup + " warm-up + " + iterations
                + " timed iterations");
        out.println("backend: " + Nd4j.getBackend().getClass().getSimpleName() + ", BLAS "
                + Nd4j.factory().blas().getBlasVendor() + ", oneDNN " + (Natives.hasOneDnn() ? "yes" : "no")
                + ", libnd4j maxThreads " + threads);
        out.println(BenchSupport.machineLine());
        out.flush();

        if (soak != null) {
            return runSoak(out, s, b) ? 0 : 1;
        }
        if (edges != null) {
            runEdges(out, s, b);
            return 0;
        }
        Result dl4j = runDl4j(out, s, b);
        out.printf(Locale.ROOT, "DL4J:    median %.0f ms/iteration, min %.0f ms, %.2f samples/s; CPU %.0f ms/iteration"
                + "%n", dl4j.medianMs(), dl4j.minMs(), dl4j.samplesPerSecond(), dl4j.medianCpuMs());
        out.println(BenchSupport.memoryLine());
        out.println(BenchSupport.workspacesLine(parameters, 4));
        out.flush();

        if (peer) {
            runPeer(out, s, b, threads, dl4j);
        }
        if (withLoss) {
            CommandLine loss = spec.parent() == null ? null : spec.parent().subcommands().get("loss");
            if (loss == null) {
                out.println("loss-only figures: this build has no `bench loss`");
            } else {
                out.println("---- bench loss");
                out.flush();
                loss.execute();
            }
        }
        if (withIo) {
            out.println("---- bench io");
            out.flush();
            IoBench.run(out, 256, 3, peer, null);
        }
        out.println(BenchSupport.machineLine() + " (at the end)");
        out.flush();
        return 0;
    }

    private Result runDl4j(PrintWriter out, BenchUNets.Spec s, int b) {
        ComputationGraph net = BenchUNets.graph(s, algoMode);
        parameters = net.numParams();
        out.printf("parameters: %,d%n", net.numParams());
        MultiDataSet data = batch(s, b);
        for (int i = 0; i < warmup; i++) {
            long t0 = System.nanoTime();
            net.fit(data);
            out.printf(Locale.ROOT, "  warm-up %d: %.0f ms%n", i + 1, (System.nanoTime() - t0) / 1e6);
            out.flush();
        }
        double[] ms = new double[iterations];
        double[] cpu = new double[iterations];
        double[] clockMs = new double[iterations];   // the profile's clock (VertexProfiler#now)
        boolean threadCpu = VertexProfiler.usesThreadCpu();
        VertexProfiler profiler = profile || allocations ? VertexProfiler.install(net) : null;
        DetachedAllocations detached = allocations ? DetachedAllocations.install(true) : null;
        BenchSupport.JvmOverhead jvm = BenchSupport.JvmOverhead.start();
        try {
            for (int i = 0; i < iterations; i++) {
                BenchSupport.Stopwatch w = BenchSupport.Stopwatch.start();
                long c0 = VertexProfiler.now(threadCpu);
                net.fit(data);
                clockMs[i] = (VertexProfiler.now(threadCpu) - c0) / 1e6;
                ms[i] = w.wallSeconds() * 1e3;
                cpu[i] = w.cpuSeconds() * 1e3;
                out.printf(Locale.ROOT, "  iteration %d: %.0f ms, CPU %.0f ms (score %.4f)%n", i + 1, ms[i], cpu[i],
                        net.score());
                out.flush();
            }
            out.println(jvm.line(iterations));
            if (profile) {
                profiler.print(out, iterations, java.util.Arrays.stream(clockMs).average().orElseThrow());
            }
            if (detached != null) {
                printDetached(out, detached, iterations);
            }
        } finally {
            if (detached != null) {
                detached.close();
            }
            if (profiler != null) {
                profiler.close();
            }
        }
        return new Result(ms, cpu, b);
    }

    /**
     * Trains on the fixed batch to each of {@link #soak}'s iteration counts and prints the peak resident set there;
     * true when the last peak is within {@link #soakTolerance} of the first. Allocations outside the workspaces
     * are freed only when the GC runs, so a layer that makes them shows here as steady growth.
     */
    private boolean runSoak(PrintWriter out, BenchUNets.Spec s, int b) {
        int[] at = soak.clone();
        java.util.Arrays.sort(at);
        if (at.length < 2 || at[0] < 1) {
            throw new org.gradsurgery.InvalidInputException("--soak needs at least two iteration counts >= 1, got "
                    + java.util.Arrays.toString(soak));
        }
        ComputationGraph net = BenchUNets.graph(s, algoMode);
        MultiDataSet data = batch(s, b);
        for (int i = 0; i < warmup; i++) {
            net.fit(data);
        }
        // Peak RSS includes the Java heap, which G1 commits and touches gradually over the first hundreds of
        // iterations whatever the network does; run with -Xms = -Xmx and -XX:+AlwaysPreTouch (bench soak does) so
        // that the heap is resident from the start and growth is native memory.
        boolean preTouched = java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments()
                .contains("-XX:+AlwaysPreTouch");
        if (!preTouched) {
            out.println("  note: the heap is not pre-touched (-XX:+AlwaysPreTouch), so heap growth counts as well");
        }
        long[] peak = new long[at.length];
        int done = 0;
        long t0 = System.nanoTime();
        Runtime rt = Runtime.getRuntime();
        for (int k = 0; k < at.length; k++) {
            for (; done < at[k]; done++) {
                net.fit(data);
            }
            peak[k] = BenchSupport.peakRssBytes();
            double elapsed = (System.nanoTime() - t0) / 1e9;
            out.printf(Locale.ROOT, "  after %d iterations: peak RSS %s, RSS %s, heap committed %s, used %s (%.0f s, "
                            + "ETA %.0f s)%n", at[k], BenchSupport.mib(peak[k]),
                    BenchSupport.mib(BenchSupport.rssBytes()), BenchSupport.mib(rt.totalMemory()),
                    BenchSupport.mib(rt.totalMemory() - rt.freeMemory()), elapsed,
                    elapsed / at[k] * (at[at.length - 1] - at[k]));
            out.flush();
        }
        double growth = peak[peak.length - 1] / (double) peak[0] - 1;
        boolean flat = growth <= soakTolerance;
        StringBuilder line = new StringBuilder("soak: ").append(s.describe()).append(", batch ").append(b)
                .append(": peak RSS MiB");
        for (int k = 0; k < at.length; k++) {
            line.append(k == 0 ? " " : ", ").append(at[k]).append(": ").append(peak[k] >> 20);
        }
        line.append(String.format(Locale.ROOT, "; growth %+.1f%% (limit %+.0f%%%s): %s", 100 * growth,
                100 * soakTolerance, preTouched ? "" : ", heap not pre-touched", flat ? "flat" : "GROWS"));
        out.println(line);
        out.println(BenchSupport.memoryLine());
        out.println(BenchSupport.workspacesLine(net.numParams(), 4));
        out.println(BenchSupport.machineLine() + " (at the end)");
        out.flush();
        return flat;
    }

    /**
     * {@code --edges}: runs {@code bench unet --size E} for every edge in a fresh JVM with this one's heap limit and
     * JavaCPP settings, echoing its progress lines, and writes the figures ({@link EdgeSweep}).
     */
    private void runEdges(PrintWriter out, BenchUNets.Spec s, int b) throws Exception {
        for (int e : edges) {
            // the Spec checks divisibility by 2^(levels-1) with a message naming --size; check each edge up front
            new BenchUNets.Spec(s.dims(), s.levels(), s.baseFilters(), e, s.classes(), s.norm(), s.upsampling(),
                    s.format(), s.workspace());
        }
        org.gradsurgery.io.AtomicFiles.requireWritableDirectory(outDir);
        boolean iterationsGiven = spec.commandLine().getParseResult() != null
                && spec.commandLine().getParseResult().hasMatchedOption("--iterations");
        int n = iterationsGiven ? iterations : 3;
        List<EdgeSweep.Row> rows = new ArrayList<>();
        long t0 = System.nanoTime();
        for (int k = 0; k < edges.length; k++) {
            int e = edges[k];
            out.printf(Locale.ROOT, "[%d/%d] edge %d, batch %d ...%n", k + 1, edges.length, e, b);
            out.flush();
            List<String> cmd = new ArrayList<>(List.of(java.nio.file.Path.of(System.getProperty("java.home"), "bin",
                    "java").toString(), "-Xmx" + (Runtime.getRuntime().maxMemory() >> 20) + "m"));
            java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                    .filter(a -> a.startsWith("-D") && a.contains("javacpp")).forEach(cmd::add);
            cmd.addAll(List.of("-cp", System.getProperty("java.class.path"),
                    "org.gradsurgery.examples.cli.GradSurgeryCli", "bench", "unet", "--dims", Integer.toString(s.dims()),
                    "--size", Integer.toString(e), "--batch", Integer.toString(b), "--iterations", Integer.toString(n),
                    "--warmup", Integer.toString(warmup), "--norm", s.norm().name(), "--upsampling",
                    s.upsampling().name(), "--format", s.format().name(), "--workspace", s.workspace().name(),
                    "--algo-mode", algoMode.name()));
            if (peer) {
                cmd.add("--peer");
            }
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            List<String> lines = new ArrayList<>();
            try (java.io.BufferedReader r = new java.io.BufferedReader(new java.io.InputStreamReader(
                    p.getInputStream(), java.nio.charset.StandardCharsets.UTF_8))) {
                for (String line; (line = r.readLine()) != null; ) {
                    lines.add(line);
                    if (line.startsWith("DL4J:") || line.startsWith("PyTorch:") || line.startsWith("memory:")
                            || line.startsWith("ratio") || line.contains("Exception") || line.startsWith("gradsurgery")) {
                        out.println("    " + line.strip());
                        out.flush();
                    }
                }
            }
            p.waitFor();
            rows.add(EdgeSweep.parse(e, b, lines));
            double elapsed = (System.nanoTime() - t0) / 1e9;
            // larger edges cost more: scale the ETA by voxels still to come over voxels done
            double done = 0;
            double left = 0;
            for (int j = 0; j < edges.length; j++) {
                double v = Math.pow(edges[j], s.dims());
                if (j <= k) {
                    done += v;
                } else {
                    left += v;
                }
            }
            out.printf(Locale.ROOT, "    (%.0f s so far, ETA %.0f s)%n", elapsed, elapsed / done * left);
            out.flush();
        }
        out.println("| edge | batch | DL4J peak RSS MiB | PyTorch peak RSS MiB | ratio | DL4J wall / CPU ms | "
                + "PyTorch wall / CPU ms | CPU ratio |");
        out.println("|---|---|---|---|---|---|---|---|");
        for (EdgeSweep.Row r : rows) {
            out.printf(Locale.ROOT, "| %d | %d | %.0f | %.0f | %.2fx | %.0f / %.0f | %.0f / %.0f | %.2fx |%n", r.edge(),
                    r.batch(), r.dl4jPeakMiB(), r.torchPeakMiB(), r.rssRatio(), r.dl4jMs(), r.dl4jCpuMs(), r.torchMs(),
                    r.torchCpuMs(), r.cpuRatio());
        }
        String subtitle = String.format(Locale.ROOT, "%dD, %d+%d iterations, load %s", s.dims(), warmup, n,
                BenchSupport.loadAverage().split(" ")[0]);
        EdgeSweep.write(outDir, rows, subtitle);
        out.println("wrote " + outDir.resolve("edges.csv") + " and " + outDir.resolve("edges.png"));
        out.println(BenchSupport.machineLine() + " (at the end)");
        out.flush();
    }

    private static void printDetached(PrintWriter out, DetachedAllocations d, int iterations) {
        out.printf(Locale.ROOT, "detached allocations (outside workspaces, freed only by the GC): %.1f buffers, "
                + "%.2f MiB per iteration%n", d.totalCount() / (double) iterations,
                d.totalBytes() / 1048576.0 / iterations);
        d.byLabel().forEach((label, s) -> out.printf(Locale.ROOT, "  %-32s %8.1f buffers %10.3f MiB%n", label,
                s[0] / (double) iterations, s[1] / 1048576.0 / iterations));
        out.println("  by source (per iteration):");
        d.bySite().stream().limit(30).forEach(e -> out.printf(Locale.ROOT, "  %10.3f MiB %6.1f x  %s%n",
                e.getValue()[1] / 1048576.0 / iterations, e.getValue()[0] / (double) iterations, e.getKey()));
        out.flush();
    }

    /** A fixed batch: N(0,1) images, labels one-hot of (image > 0), seeded. */
    static MultiDataSet batch(BenchUNets.Spec s, int b) {
        Nd4j.getRandom().setSeed(7);
        INDArray x = Nd4j.randn(DataType.FLOAT, s.inputShape(b));
        INDArray fg = x.match(0.0, Conditions.greaterThan(0.0)).castTo(DataType.FLOAT);
        INDArray bg = fg.rsub(1.0);
        INDArray y = Nd4j.concat(s.channelAxis(), bg, fg);
        if (s.classes() != 2) {
            throw new IllegalStateException("benchmark labels are binary");
        }
        return new MultiDataSet(new INDArray[]{x}, new INDArray[]{y});
    }

    private void runPeer(PrintWriter out, BenchUNets.Spec s, int b, int threads, Result dl4j) throws Exception {
        List<String> args = new ArrayList<>(List.of("--dims", Integer.toString(s.dims()), "--batch",
                Integer.toString(b), "--shape", BenchUNets.shapeText(s.extent(), ","), "--iterations",
                Integer.toString(iterations), "--warmup", Integer.toString(warmup), "--threads",
                Integer.toString(threads), "--norm", s.norm().name().toLowerCase(Locale.ROOT), "--upsampling",
                (s.upsampling() == UNet.Upsampling.TRANSPOSED_CONV ? "transposed" : "upsample"), "--format", s.format().name()));
        out.println("running PyTorch (python3 peer_unet.py " + String.join(" ", args) + ") ...");
        out.flush();
        BenchSupport.PeerResult r = BenchSupport.runPython("peer_unet.py", args,
                Map.of("OMP_NUM_THREADS", Integer.toString(threads)), 7200);
        if (!r.ok()) {
            out.println("PyTorch: not run: " + r.unavailable());
            return;
        }
        JsonNode j = r.json();
        Result torch = new Result(BenchSupport.doubles(j.get("ms")), BenchSupport.doubles(j.get("cpu_ms")), b);
        out.printf(Locale.ROOT, "PyTorch: median %.0f ms/iteration, min %.0f ms, %.2f samples/s; CPU %.0f "
                        + "ms/iteration (torch %s, %d threads, %,d parameters, peak RSS %s)%n", torch.medianMs(),
                torch.minMs(), torch.samplesPerSecond(), torch.medianCpuMs(), j.get("torch").asText(),
                j.get("threads").asInt(), j.get("parameters").asLong(),
                BenchSupport.mib(j.get("peak_rss_bytes").asLong()));
        out.printf(Locale.ROOT, "ratio DL4J/PyTorch per sample, same run: wall %.2fx (median), CPU %.2fx "
                + "(median)%n", dl4j.medianMs() / torch.medianMs(), dl4j.medianCpuMs() / torch.medianCpuMs());
        out.flush();
    }
}
