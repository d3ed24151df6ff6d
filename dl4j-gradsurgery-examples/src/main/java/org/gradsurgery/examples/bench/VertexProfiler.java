package org.gradsurgery.examples.bench;

import java.io.PrintWriter;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.optimize.api.TrainingListener;

/**
 * Per-vertex forward and backward wall time of a {@link ComputationGraph} during {@code fit}, plus the updater, and
 * the transient memory each of them touches.
 *
 * <p>DL4J's {@link TrainingListener} sees the forward and backward pass only as a whole. The graph, however, runs
 * every vertex through its {@code getVertices()} array ({@code vertices[topologicalOrder[i]].doForward(..)} and
 * {@code .doBackward(..)}), so each entry is swapped for a {@link Proxy} that times those two calls and delegates
 * everything else; {@link #close()} puts the originals back. ND4J's CPU backend executes ops synchronously, so a
 * vertex's wall time is the time of its ops. The updater (Adam plus the parameter step) is timed by a listener
 * between {@code onGradientCalculation} and {@code iterationDone}. What remains of an iteration (score, workspace
 * set-up, epsilon accumulation, bookkeeping) is reported as "other". In {@code fit}, DL4J never calls
 * {@code doForward} on the output layer: its activation (softmax) and loss run inside its {@code doBackward}, so
 * the output layer's whole cost shows as backward.
 *
 * <p>Clock: with one libnd4j thread ({@code OMP_NUM_THREADS=1}) every op runs on the calling thread, so the profile
 * reads that thread's CPU time, which, unlike wall time, does not stretch while the core is shared with other
 * processes (the iteration it is compared with must then be the same thread's CPU time); with more threads it reads
 * wall time.
 *
 * <p>Memory: before each timed call the kernel's peak-RSS counter is reset ({@link BenchSupport#resetPeakRss()}),
 * and after it the call's transient peak is Δ = VmHWM − RSS before the call: what the call's ops touched on top of
 * what was resident (workspace growth, scratch that libnd4j or oneDNN allocate and free inside an op). The profile
 * keeps the largest Δ per vertex and phase; the step's peak RSS is about the resident memory plus the largest Δ.
 */
final class VertexProfiler implements AutoCloseable {

    private final ComputationGraph net;
    private final GraphVertex[] originals;
    private final Map<String, String> kinds = new LinkedHashMap<>();
    private final Map<String, long[]> nanos = new LinkedHashMap<>();   // name → {forward, backward}
    private final Map<String, long[]> peaks = new LinkedHashMap<>();   // name → largest transient Δ bytes {fwd, bwd}
    private final TrainingListener updaterTimer;
    private long updaterNanos;
    private long gradientDoneAt;
    private long updaterPeak;
    private long rssAtGradient;
    private final boolean threadCpu;
    /** Clock time spent in the memory probes themselves ({@code /proc} reads and writes), excluded from "other". */
    private final long[] probeNanos = new long[1];

    private VertexProfiler(ComputationGraph net, boolean threadCpu) {
        this.threadCpu = threadCpu;
        this.net = net;
        GraphVertex[] vertices = net.getVertices();
        this.originals = vertices.clone();
        for (int i = 0; i < vertices.length; i++) {
            GraphVertex v = vertices[i];
            if (v.isInputVertex()) {
                continue;
            }
            String name = v.getVertexName();
            kinds.put(name, v.hasLayer() ? v.getLayer().conf().getLayer().getClass().getSimpleName()
                    : v.getClass().getSimpleName());
            long[] slot = new long[2];
            long[] peak = new long[2];
            nanos.put(name, slot);
            peaks.put(name, peak);
            vertices[i] = (GraphVertex) Proxy.newProxyInstance(GraphVertex.class.getClassLoader(),
                    new Class<?>[]{GraphVertex.class}, new Timing(v, slot, peak, probeNanos, threadCpu));
        }
        this.updaterTimer = new BaseTrainingListener() {
            @Override
            public void onGradientCalculation(Model model) {
                long p0 = now(threadCpu);
                BenchSupport.resetPeakRss();
                rssAtGradient = BenchSupport.rssBytes();
                gradientDoneAt = now(threadCpu);
                probeNanos[0] += gradientDoneAt - p0;
                DetachedAllocations.label("updater");
            }

            @Override
            public void iterationDone(Model model, int iteration, int epoch) {
                long t = now(threadCpu);
                updaterNanos += t - gradientDoneAt;
                updaterPeak = Math.max(updaterPeak, BenchSupport.peakRssSinceResetBytes() - rssAtGradient);
                probeNanos[0] += now(threadCpu) - t;
                DetachedAllocations.label(null);
            }
        };
        net.addListeners(updaterTimer);
    }

    /**
     * Starts timing {@code net}'s vertices (by this thread's CPU time when libnd4j runs one thread, else wall time);
     * close to restore the graph.
     */
    static VertexProfiler install(ComputationGraph net) {
        return new VertexProfiler(net, usesThreadCpu());
    }

    /** Whether profiles read the calling thread's CPU time: libnd4j runs one thread, and the JVM can measure it. */
    static boolean usesThreadCpu() {
        return org.nd4j.linalg.factory.Nd4j.getEnvironment().maxThreads() == 1
                && java.lang.management.ManagementFactory.getThreadMXBean().isCurrentThreadCpuTimeSupported();
    }

    /** Nanoseconds on the profile's clock. */
    static long now(boolean threadCpu) {
        return threadCpu ? java.lang.management.ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime()
                : System.nanoTime();
    }

    /** Which clock the profile reads, for its header. */
    String clock() {
        return threadCpu ? "CPU ms of the training thread (libnd4j runs 1 thread)" : "wall ms";
    }

    private record Timing(GraphVertex target, long[] slot, long[] peak, long[] probeNanos, boolean threadCpu)
            implements InvocationHandler {
        @Override
        public Object invoke(Object proxy, Method m, Object[] args) throws Throwable {
            int which = switch (m.getName()) {
                case "doForward" -> 0;
                case "doBackward" -> 1;
                default -> -1;
            };
            String previous = which >= 0
                    ? DetachedAllocations.label(target.getVertexName() + (which == 0 ? " forward" : " backward"))
                    : null;
            long rss0 = 0;
            long p0 = which >= 0 ? now(threadCpu) : 0;
            if (which >= 0) {
                BenchSupport.resetPeakRss();
                rss0 = BenchSupport.rssBytes();
            }
            long t0 = which >= 0 ? now(threadCpu) : 0;
            try {
                return m.invoke(target, args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            } finally {
                if (which >= 0) {
                    long t1 = now(threadCpu);
                    slot[which] += t1 - t0;
                    peak[which] = Math.max(peak[which], BenchSupport.peakRssSinceResetBytes() - rss0);
                    DetachedAllocations.label(previous);
                    probeNanos[0] += (t0 - p0) + (now(threadCpu) - t1);
                }
            }
        }
    }

    /**
     * One row of the profile: milliseconds per iteration, and the largest transient memory (MiB over the RSS before
     * the call) of one forward and one backward call.
     */
    record Row(String name, String kind, double forwardMs, double backwardMs, double forwardPeakMiB,
               double backwardPeakMiB) {
        double totalMs() {
            return forwardMs + backwardMs;
        }
    }

    List<Row> perVertex(int iterations) {
        List<Row> rows = new ArrayList<>();
        for (Map.Entry<String, long[]> e : nanos.entrySet()) {
            long[] p = peaks.get(e.getKey());
            rows.add(new Row(e.getKey(), kinds.get(e.getKey()), e.getValue()[0] / 1e6 / iterations,
                    e.getValue()[1] / 1e6 / iterations, p[0] / 1048576.0, p[1] / 1048576.0));
        }
        return rows;
    }

    /** Rows summed by layer/vertex class. */
    List<Row> perKind(int iterations) {
        Map<String, double[]> sums = new LinkedHashMap<>();
        for (Row r : perVertex(iterations)) {
            double[] s = sums.computeIfAbsent(r.kind(), k -> new double[4]);
            s[0] += r.forwardMs();
            s[1] += r.backwardMs();
            s[2] = Math.max(s[2], r.forwardPeakMiB());
            s[3] = Math.max(s[3], r.backwardPeakMiB());
        }
        List<Row> rows = new ArrayList<>();
        sums.forEach((k, s) -> rows.add(new Row(k, k, s[0], s[1], s[2], s[3])));
        rows.sort((a, b) -> Double.compare(b.totalMs(), a.totalMs()));
        return rows;
    }

    double updaterMs(int iterations) {
        return updaterNanos / 1e6 / iterations;
    }

    /** The profiler's own memory probes per iteration (clock ms), which the iteration it is compared with includes. */
    double probeMs(int iterations) {
        return probeNanos[0] / 1e6 / iterations;
    }

    /** The updater's largest transient memory in MiB (see the class comment). */
    double updaterPeakMiB() {
        return updaterPeak / 1048576.0;
    }

    /** Prints the per-vertex table (topological order) and the per-kind summary against the mean iteration time. */
    void print(PrintWriter out, int iterations, double meanIterationMs) {
        out.printf("profile (%s, mean per iteration over %d iterations; %% of the mean iteration %.0f ms; peak: the "
                + "largest MiB a call touched above the RSS before it)%n", clock(), iterations, meanIterationMs);
        out.printf("  %-18s %-26s %10s %10s %7s %10s %10s%n", "vertex", "kind", "forward", "backward", "%",
                "fwd peak", "bwd peak");
        for (Row r : perVertex(iterations)) {
            out.printf("  %-18s %-26s %10.1f %10.1f %6.1f%% %10.1f %10.1f%n", r.name(), r.kind(), r.forwardMs(),
                    r.backwardMs(), 100 * r.totalMs() / meanIterationMs, r.forwardPeakMiB(), r.backwardPeakMiB());
        }
        out.println("  (the output layer's softmax + loss run inside its backward: DL4J skips its forward in fit)");
        out.println("  by kind:");
        double accounted = 0;
        for (Row r : perKind(iterations)) {
            out.printf("  %-45s %10.1f %10.1f %6.1f%% %10.1f %10.1f%n", r.kind(), r.forwardMs(), r.backwardMs(),
                    100 * r.totalMs() / meanIterationMs, r.forwardPeakMiB(), r.backwardPeakMiB());
            accounted += r.totalMs();
        }
        double upd = updaterMs(iterations);
        out.printf("  %-45s %21.1f %6.1f%% %21.1f%n", "updater (Adam + parameter step)", upd,
                100 * upd / meanIterationMs, updaterPeakMiB());
        double probes = probeMs(iterations);
        double other = meanIterationMs - accounted - upd - probes;
        out.printf("  %-45s %21.1f %6.1f%%%n", "other (score, workspaces, bookkeeping)", other,
                100 * other / meanIterationMs);
        out.printf("  %-45s %21.1f %6.1f%%%n", "the profiler's memory probes (not in a step)", probes,
                100 * probes / meanIterationMs);
        out.flush();
    }

    @Override
    public void close() {
        System.arraycopy(originals, 0, net.getVertices(), 0, originals.length);
        List<TrainingListener> rest = new ArrayList<>(net.getListeners());
        rest.remove(updaterTimer);
        net.setListeners(rest);
    }
}
