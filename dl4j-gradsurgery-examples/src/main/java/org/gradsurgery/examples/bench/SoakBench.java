package org.gradsurgery.examples.bench;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.gradsurgery.model.UNet;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code gradsurgery bench soak}: {@code bench unet --soak} for every combination of dimensionality,
 * normalisation and upsampling, each in a fresh JVM (peak RSS is per process), with one summary table.
 *
 * <p>A network passes when its peak resident set after the last iteration count is within the tolerance of its
 * peak after the first: g = RSS_peak(N_last) / RSS_peak(N_first) − 1 ≤ tolerance. Each child JVM gets a fixed,
 * pre-touched heap ({@code -Xms = -Xmx}, {@code -XX:+AlwaysPreTouch}): G1 would otherwise commit and touch its heap
 * gradually over the first hundreds of iterations whatever the network does, while what is measured here is native
 * memory waiting for a GC that a large heap makes rare. The command exits 1 when any network grows. It measures
 * memory, not time, so it means the same on a loaded machine.
 */
@Command(name = "soak", mixinStandardHelpOptions = true,
        description = "Peak RSS after 20/80/320 training iterations for every U-Net option (fresh JVM each).")
public final class SoakBench implements Callable<Integer> {

    @Option(names = "--dims", paramLabel = "D", split = ",",
            description = "Dimensionalities (default ${DEFAULT-VALUE}).")
    List<Integer> dims = List.of(2, 3);

    @Option(names = "--norm", paramLabel = "KIND", split = ",",
            description = "Normalisations (default ${DEFAULT-VALUE}).")
    List<UNet.Normalization> norms = List.of(UNet.Normalization.values());

    @Option(names = "--upsampling", paramLabel = "KIND", split = ",",
            description = "Upsampling options (default ${DEFAULT-VALUE}).")
    List<UNet.Upsampling> upsamplings = List.of(UNet.Upsampling.values());

    @Option(names = "--checkpoints", paramLabel = "N", split = ",",
            description = "Iteration counts (default ${DEFAULT-VALUE}).")
    List<Integer> checkpoints = List.of(20, 80, 320);

    @Option(names = "--tolerance", paramLabel = "F",
            description = "Allowed relative growth (default ${DEFAULT-VALUE}).")
    double tolerance = 0.10;

    @Option(names = "--size", paramLabel = "N",
            description = "Spatial edge (default: each network's, 128 in 2D, 64 in 3D).")
    Integer size;

    @Option(names = "--xmx", paramLabel = "SIZE",
            description = "Fixed, pre-touched heap of each child JVM (default ${DEFAULT-VALUE}); a "
            + "large heap is the hard case, since the GC then runs rarely.")
    String xmx = "1g";

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        PrintWriter out = spec.commandLine().getOut();
        out.println(BenchSupport.machineLine());
        List<String> rows = new ArrayList<>();
        boolean allFlat = true;
        int total = dims.size() * norms.size() * upsamplings.size();
        int done = 0;
        for (int d : dims) {
            for (UNet.Normalization n : norms) {
                for (UNet.Upsampling u : upsamplings) {
                    done++;
                    out.printf(Locale.ROOT, "[%d/%d] %dD, norm %s, upsampling %s ...%n", done, total, d, n, u);
                    out.flush();
                    String result = child(d, n, u);
                    boolean flat = result != null && result.endsWith(": flat");
                    allFlat &= flat;
                    rows.add(String.format(Locale.ROOT, "| %dD | %s | %s | %s |", d, n, u,
                            result == null ? "failed (see output above)" : result.substring(result.indexOf("peak RSS"))));
                }
            }
        }
        out.println("| dims | norm | upsampling | result |");
        out.println("|---|---|---|---|");
        rows.forEach(out::println);
        out.println(BenchSupport.machineLine() + " (at the end)");
        out.flush();
        return allFlat ? 0 : 1;
    }

    /** Runs {@code bench unet --soak} in a fresh JVM, echoing its progress; returns its "soak:" line or null. */
    private String child(int d, UNet.Normalization n, UNet.Upsampling u) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xms" + xmx, "-Xmx" + xmx, "-XX:+AlwaysPreTouch"));
        ManagementFactory.getRuntimeMXBean().getInputArguments().stream()
                .filter(a -> a.startsWith("-D") && a.contains("javacpp")).forEach(cmd::add);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"),
                "org.gradsurgery.examples.cli.GradSurgeryCli", "bench", "unet", "--dims", Integer.toString(d),
                "--norm", n.name(), "--upsampling", u.name(), "--warmup", "2", "--soak-tolerance",
                Double.toString(tolerance), "--soak",
                checkpoints.stream().map(String::valueOf).collect(Collectors.joining(","))));
        if (size != null) {
            cmd.addAll(List.of("--size", Integer.toString(size)));
        }
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String soakLine = null;
        PrintWriter out = spec.commandLine().getOut();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = r.readLine()) != null; ) {
                if (line.startsWith("soak: ")) {
                    soakLine = line;
                }
                if (line.startsWith("  after ") || line.startsWith("soak: ") || line.startsWith("memory: ")
                        || line.startsWith("workspaces: ")
                        || line.contains("Exception") || line.startsWith("gradsurgery")) {
                    out.println("    " + line.strip());
                    out.flush();
                }
            }
        }
        p.waitFor();
        return soakLine;
    }
}
