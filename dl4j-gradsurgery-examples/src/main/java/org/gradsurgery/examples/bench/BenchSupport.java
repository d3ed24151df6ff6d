package org.gradsurgery.examples.bench;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.ObjectMapper;

/**
 * What every benchmark needs: robust statistics over repetitions, the machine's load, the process's memory, and
 * running a Python peer script that answers with one JSON object on its last stdout line.
 */
final class BenchSupport {

    private static final ObjectMapper JSON = new ObjectMapper();

    private BenchSupport() {
    }

    /** Median of {@code xs} (mean of the middle two for an even count). */
    static double median(double[] xs) {
        if (xs.length == 0) {
            throw new IllegalArgumentException("median of no values");
        }
        double[] s = xs.clone();
        Arrays.sort(s);
        int m = s.length / 2;
        return s.length % 2 == 1 ? s[m] : 0.5 * (s[m - 1] + s[m]);
    }

    /** A JSON array of numbers as doubles. */
    static double[] doubles(JsonNode array) {
        double[] d = new double[array.size()];
        for (int i = 0; i < d.length; i++) {
            d[i] = array.get(i).asDouble();
        }
        return d;
    }

    static double min(double[] xs) {
        return Arrays.stream(xs).min().orElseThrow();
    }

    /** {@code /proc/loadavg}'s first three fields, or "unknown" off Linux: noisy figures must say under what load. */
    static String loadAverage() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    /** One line naming the machine state a figure was measured under. */
    static String machineLine() {
        return String.format("machine: %d cores visible, load average %s, OMP_NUM_THREADS=%s, ND4J max threads %d, "
                        + "java %s", Runtime.getRuntime().availableProcessors(), loadAverage(),
                System.getenv().getOrDefault("OMP_NUM_THREADS", "(unset)"),
                org.nd4j.linalg.factory.Nd4j.getEnvironment().maxThreads(), System.getProperty("java.version"));
    }

    /**
     * CPU time of the whole process (every thread, libnd4j's OpenMP and BLAS threads included) in nanoseconds.
     * On a machine shared with other jobs, wall time stretches with the load while the CPU time of the work stays
     * nearly put, so benchmarks report both.
     */
    static long processCpuNanos() {
        java.lang.management.OperatingSystemMXBean os = java.lang.management.ManagementFactory
                .getOperatingSystemMXBean();
        if (os instanceof com.sun.management.OperatingSystemMXBean sun) {
            return sun.getProcessCpuTime();
        }
        return -1;
    }

    /** Wall-clock and process CPU time ({@link #processCpuNanos()}) since {@link #start()}: what every timed step reports. */
    record Stopwatch(long wallNanos0, long cpuNanos0) {
        static Stopwatch start() {
            long cpu = processCpuNanos();
            return new Stopwatch(System.nanoTime(), cpu);
        }

        double wallSeconds() {
            return (System.nanoTime() - wallNanos0) / 1e9;
        }

        double cpuSeconds() {
            return (processCpuNanos() - cpuNanos0) / 1e9;
        }
    }

    /**
     * What the JVM spends besides the training thread, from {@link #start()} to {@link #line(int)}: the CPU time of
     * every other thread (process CPU minus the calling thread's: the JIT compilers, the garbage collector, ND4J's
     * deallocator), the collections and their pause time, the JIT's compilation time, and the heap the calling
     * thread allocated (the garbage behind the collections). With one libnd4j thread every op runs on the calling
     * thread, so "other threads" is the JVM's own overhead.
     */
    record JvmOverhead(long processCpu0, long threadCpu0, long gcCount0, long gcMillis0, long jitMillis0,
                       long allocated0) {
        static JvmOverhead start() {
            long[] gc = gc();
            return new JvmOverhead(processCpuNanos(), threadCpuNanos(), gc[0], gc[1], jitMillis(), allocatedBytes());
        }

        /** One line per {@code iterations} since {@link #start()}. */
        String line(int iterations) {
            long[] gc = gc();
            double n = iterations;
            double other = ((processCpuNanos() - processCpu0) - (threadCpuNanos() - threadCpu0)) / 1e6 / n;
            return String.format(java.util.Locale.ROOT, "JVM per iteration: other threads' CPU %.1f ms (JIT, GC, "
                            + "deallocator), %.2f collections, %.1f ms GC pauses, %.1f ms JIT compilation; training "
                            + "thread allocated %.2f MiB of heap", other, (gc[0] - gcCount0) / n,
                    (gc[1] - gcMillis0) / n, (jitMillis() - jitMillis0) / n,
                    (allocatedBytes() - allocated0) / 1048576.0 / n);
        }

        private static long[] gc() {
            long count = 0;
            long millis = 0;
            for (java.lang.management.GarbageCollectorMXBean b
                    : java.lang.management.ManagementFactory.getGarbageCollectorMXBeans()) {
                count += Math.max(0, b.getCollectionCount());
                millis += Math.max(0, b.getCollectionTime());
            }
            return new long[] {count, millis};
        }

        private static long jitMillis() {
            java.lang.management.CompilationMXBean c = java.lang.management.ManagementFactory.getCompilationMXBean();
            return c != null && c.isCompilationTimeMonitoringSupported() ? c.getTotalCompilationTime() : 0;
        }

        private static long threadCpuNanos() {
            return java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
        }

        private static long allocatedBytes() {
            return java.lang.management.ManagementFactory.getThreadMXBean()
                    instanceof com.sun.management.ThreadMXBean t ? t.getCurrentThreadAllocatedBytes() : 0;
        }
    }

    /** The highest VmHWM seen before any {@link #resetPeakRss()}, so that resets do not lose the process's peak. */
    private static long peakBeforeResets = -1;

    /** Peak resident set size of this process (VmHWM, across {@link #resetPeakRss()} calls) in bytes, or -1 off Linux. */
    static synchronized long peakRssBytes() {
        return Math.max(peakBeforeResets, procStatusBytes("VmHWM:"));
    }

    /**
     * Resets the kernel's VmHWM to the current RSS (writing 5 to {@code /proc/self/clear_refs}, Linux 4.0+), so that
     * the next VmHWM reading is the peak of what runs in between; {@link #peakRssBytes()} still reports the whole
     * process's peak. Returns false where the reset is not possible (then VmHWM keeps counting from the start).
     */
    static synchronized boolean resetPeakRss() {
        long now = procStatusBytes("VmHWM:");
        if (now < 0) {
            return false;
        }
        peakBeforeResets = Math.max(peakBeforeResets, now);
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** VmHWM as the kernel reports it now (since the last {@link #resetPeakRss()}), in bytes, or -1 off Linux. */
    static long peakRssSinceResetBytes() {
        return procStatusBytes("VmHWM:");
    }

    static long rssBytes() {
        return procStatusBytes("VmRSS:");
    }

    private static long procStatusBytes(String key) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith(key)) {
                    String[] f = line.substring(key.length()).trim().split("\\s+");
                    return Long.parseLong(f[0]) * 1024L;
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /** Memory line: peak RSS, JavaCPP's off-heap bytes now and its limit, and the Java heap in use. */
    static String memoryLine() {
        Runtime rt = Runtime.getRuntime();
        return String.format("memory: peak RSS %s, off-heap (JavaCPP Pointer.totalBytes) %s, physical now %s "
                        + "(limit maxPhysicalBytes %s), heap used %s of max %s",
                mib(peakRssBytes()), mib(Pointer.totalBytes()), mib(Pointer.physicalBytes()),
                mib(Pointer.maxPhysicalBytes()), mib(rt.totalMemory() - rt.freeMemory()), mib(rt.maxMemory()));
    }

    /**
     * Where a network's native memory sits after training on this thread: each ND4J workspace's current size
     * (DL4J keeps them between iterations), and the parameters, their gradients and Adam's two moments
     * (4 × parameters × bytes per value, outside the workspaces).
     */
    static String workspacesLine(long parameters, int bytesPerValue) {
        StringBuilder b = new StringBuilder("workspaces:");
        long total = 0;
        for (org.nd4j.linalg.api.memory.MemoryWorkspace ws : org.nd4j.linalg.factory.Nd4j.getWorkspaceManager()
                .getAllWorkspacesForCurrentThread()) {
            b.append(' ').append(ws.getId()).append(' ').append(mib(ws.getCurrentSize())).append(',');
            total += ws.getCurrentSize();
        }
        long params = 4L * parameters * bytesPerValue;
        return b.append(" total ").append(mib(total)).append("; parameters + gradients + Adam state ")
                .append(mib(params)).toString();
    }

    static String mib(long bytes) {
        return bytes < 0 ? "n/a" : String.format("%.0f MiB", bytes / (1024.0 * 1024.0));
    }

    /** The result of a peer run: its JSON answer, or why there is none. */
    record PeerResult(JsonNode json, String unavailable) {
        boolean ok() {
            return json != null;
        }
    }

    /**
     * Interpreters tried in order: {@code $GRADSURGERY_PYTHON} if set, {@code python3} on the PATH, and Debian's
     * {@code /usr/bin/python3} (where {@code apt-get install python3-torch python3-nibabel} puts the modules, which
     * a pyenv or venv {@code python3} earlier on the PATH does not see).
     */
    static List<String> interpreters() {
        List<String> list = new ArrayList<>();
        String env = System.getenv("GRADSURGERY_PYTHON");
        if (env != null && !env.isBlank()) {
            list.add(env);
        }
        list.add("python3");
        if (Files.isExecutable(Path.of("/usr/bin/python3"))) {
            list.add("/usr/bin/python3");
        }
        return list;
    }

    /**
     * Runs a peer script shipped in this jar (resource next to this class) with the first of {@link #interpreters()}
     * that has the script's modules. The script prints progress on stderr (passed through) and one JSON object as its
     * last stdout line; a JSON object with an {@code "unavailable"} field means a module is missing.
     */
    static PeerResult runPython(String script, List<String> args, Map<String, String> env, long timeoutSeconds,
                                String... modules) throws IOException, InterruptedException {
        PeerResult last = null;
        for (String python : interpreters()) {
            last = runPython(python, script, args, env, timeoutSeconds, modules);
            if (last.ok()) {
                return last;
            }
        }
        return last;
    }

    private static PeerResult runPython(String python, String script, List<String> args, Map<String, String> env,
                                        long timeoutSeconds, String... modules)
            throws IOException, InterruptedException {
        // the script and the peer modules it imports, side by side in a fresh folder (python puts the script's
        // folder first on sys.path)
        Path dir = Files.createTempDirectory("gradsurgery-" + script.replace(".py", "") + "-");
        Path tmp = dir.resolve(script);
        try {
            List<String> files = new ArrayList<>(List.of(modules));
            files.add(script);
            for (String f : files) {
                try (InputStream in = BenchSupport.class.getResourceAsStream(f)) {
                    if (in == null) {
                        throw new IllegalStateException("peer script " + f + " is missing from the jar");
                    }
                    Files.write(dir.resolve(f), in.readAllBytes());
                }
            }
            List<String> cmd = new ArrayList<>();
            cmd.add(python);
            cmd.add(tmp.toString());
            cmd.addAll(args);
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT);
            pb.environment().putAll(env);
            Process p;
            try {
                p = pb.start();
            } catch (IOException e) {
                return new PeerResult(null, python + " not found (" + e.getMessage() + ")");
            }
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return new PeerResult(null, script + " timed out after " + timeoutSeconds + " s");
            }
            String[] lines = new String(out, StandardCharsets.UTF_8).strip().split("\n");
            String last = lines[lines.length - 1].strip();
            if (!last.startsWith("{")) {
                return new PeerResult(null, script + " exited " + p.exitValue() + " without a result");
            }
            JsonNode json = JSON.readTree(last);
            if (json.has("unavailable")) {
                return new PeerResult(null, python + ": " + json.get("unavailable").asText());
            }
            if (p.exitValue() != 0) {
                return new PeerResult(null, script + " exited " + p.exitValue());
            }
            return new PeerResult(json, null);
        } finally {
            deleteTree(dir);
        }
    }

    /** Deletes {@code dir} and everything below it (nothing if it does not exist). */
    static void deleteTree(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try (java.util.stream.Stream<Path> s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
