package org.gradsurgery.examples.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.gradsurgery.data.nifti.Nifti;
import org.gradsurgery.data.nifti.NiftiImage;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.shade.jackson.databind.JsonNode;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code gradsurgery bench io}: NIfTI read throughput of {@link Nifti#read(Path)} + {@link NiftiImage#data(DataType)}
 * against nibabel's {@code nib.load(f).get_fdata()} on the same files in the same run.
 *
 * <p>Four files are written with the project's writer into a temporary directory: an int16 and a float32 volume of
 * {@code size³} voxels, each as {@code .nii} and {@code .nii.gz} (gzip level 1, nibabel's default). The content is a
 * smooth head-like phantom plus noise, so gzip sees realistic entropy (neither constant nor white noise). A read is
 * timed end to end (open, header, map or inflate, decode to a new array); the throughput is the decoded voxel bytes
 * on disk (uncompressed) per second, the same definition for both readers, so the ratio is the ratio of times.
 * Both FLOAT (nibabel {@code get_fdata(dtype=np.float32)}) and DOUBLE (nibabel's default {@code get_fdata()}) are
 * measured. nibabel returns a lazy {@code np.memmap} for an unscaled {@code .nii} of the requested type; the peer
 * copies it, since reading is what is being timed. The median of {@code --repetitions} timed reads is reported, as
 * wall time and as process CPU time, after one untimed warm-up read that puts the file in the page cache for
 * both readers.
 */
@Command(name = "io", mixinStandardHelpOptions = true,
        description = "NIfTI read MB/s (int16/float32, .nii/.nii.gz) against nibabel's get_fdata() in the same run.")
public final class IoBench implements Callable<Integer> {

    @Option(names = "--size", paramLabel = "N",
            description = "Edge of the cubic volume in voxels (default ${DEFAULT-VALUE}).")
    int size = 256;

    @Option(names = "--repetitions", paramLabel = "N",
            description = "Timed reads per file and reader (default ${DEFAULT-VALUE}).")
    int repetitions = 5;

    @Option(names = "--no-peer", description = "Do not run nibabel.")
    boolean noPeer;

    @Option(names = "--keep", paramLabel = "DIR",
            description = "Keep the generated files in this directory instead of a temp dir.")
    Path keep;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    /**
     * One file's figures; a reader's entries are absent when it did not run. Medians in seconds: wall time, and
     * process CPU time (which the other jobs on a shared machine stretch far less).
     */
    public record Row(String file, long voxelBytes, long fileBytes, double writeSeconds,
                      Map<String, Double> medianSeconds, Map<String, Double> medianCpuSeconds) {
        double mbPerSecond(String reader) {
            Double s = medianSeconds.get(reader);
            return s == null ? Double.NaN : voxelBytes / 1e6 / s;
        }

        double mbPerCpuSecond(String reader) {
            Double s = medianCpuSeconds.get(reader);
            return s == null ? Double.NaN : voxelBytes / 1e6 / s;
        }
    }

    /** The readers timed: Java FLOAT/DOUBLE, nibabel float32/float64. */
    static final String JAVA_F32 = "java float32";
    static final String JAVA_F64 = "java float64";
    static final String NIB_F32 = "nibabel float32";
    static final String NIB_F64 = "nibabel float64";

    @Override
    public Integer call() throws Exception {
        if (size < 2 || size > 1024) {
            throw new org.gradsurgery.InvalidInputException("--size must be in 2..1024, got " + size);
        }
        if (repetitions < 1) {
            throw new org.gradsurgery.InvalidInputException("--repetitions must be at least 1, got " + repetitions);
        }
        PrintWriter out = spec.commandLine().getOut();
        run(out, size, repetitions, !noPeer, keep);
        return 0;
    }

    /** Runs the benchmark and prints its table; {@code bench unet} calls this too. */
    public static List<Row> run(PrintWriter out, int size, int repetitions, boolean peer, Path keepDir)
            throws IOException, InterruptedException {
        out.printf("bench io: %d^3 voxels, median of %d reads after 1 warm-up (MB = 10^6 bytes of uncompressed "
                + "voxels)%n", size, repetitions);
        out.println(BenchSupport.machineLine());
        out.flush();
        Path dir = keepDir != null ? Files.createDirectories(keepDir) : Files.createTempDirectory("gradsurgery-io-");
        try {
            List<Row> rows = new ArrayList<>();
            Map<String, Path> files = new LinkedHashMap<>();
            Map<String, Double> writeSeconds = new LinkedHashMap<>();
            for (DataType t : new DataType[]{DataType.SHORT, DataType.FLOAT}) {
                INDArray vol = phantom(size, t);
                String stem = t == DataType.SHORT ? "int16" : "float32";
                for (String ext : new String[]{".nii", ".nii.gz"}) {
                    Path f = dir.resolve(stem + ext);
                    long t0 = System.nanoTime();
                    Nifti.write(f, vol, null);
                    writeSeconds.put(f.getFileName().toString(), (System.nanoTime() - t0) / 1e9);
                    files.put(f.getFileName().toString(), f);
                }
                vol.close();
            }
            JsonNode nib = null;
            String nibWhy = peer ? null : "not requested (--no-peer)";
            if (peer) {
                List<String> args = new ArrayList<>();
                args.add(Integer.toString(repetitions));
                files.values().forEach(p -> args.add(p.toString()));
                out.println("running nibabel (python3 peer_io.py) on the same files ...");
                out.flush();
                BenchSupport.PeerResult r = BenchSupport.runPython("peer_io.py", args, Map.of(), 3600);
                nib = r.json();
                nibWhy = r.unavailable();
            }
            for (Map.Entry<String, Path> e : files.entrySet()) {
                Path f = e.getValue();
                Map<String, Double> med = new LinkedHashMap<>();
                Map<String, Double> cpu = new LinkedHashMap<>();
                long voxelBytes = 0;
                for (DataType t : new DataType[]{DataType.FLOAT, DataType.DOUBLE}) {
                    double[][] s = timeJava(f, t, repetitions);
                    String key = t == DataType.FLOAT ? JAVA_F32 : JAVA_F64;
                    med.put(key, BenchSupport.median(s[0]));
                    cpu.put(key, BenchSupport.median(s[1]));
                }
                NiftiImage img = Nifti.read(f);
                voxelBytes = img.header().voxelCount() * img.header().datatype().bytesPerVoxel();
                if (nib != null) {
                    JsonNode fr = nib.get("results").get(f.toString());
                    if (fr != null) {
                        for (String dt : new String[]{"float32", "float64"}) {
                            JsonNode d = fr.get(dt);
                            med.put("nibabel " + dt, d.get("median_s").asDouble());
                            cpu.put("nibabel " + dt, d.get("median_cpu_s").asDouble());
                        }
                    }
                }
                rows.add(new Row(e.getKey(), voxelBytes, Files.size(f), writeSeconds.get(e.getKey()), med, cpu));
            }
            print(out, rows, nib, nibWhy);
            return rows;
        } finally {
            if (keepDir == null) {
                BenchSupport.deleteTree(dir);
            }
        }
    }

    /** {wall seconds, process CPU seconds} per timed read. */
    private static double[][] timeJava(Path f, DataType t, int repetitions) throws IOException {
        readOnce(f, t).close();
        double[][] s = new double[2][repetitions];
        for (int i = 0; i < repetitions; i++) {
            BenchSupport.Stopwatch w = BenchSupport.Stopwatch.start();
            INDArray a = readOnce(f, t);
            s[0][i] = w.wallSeconds();
            s[1][i] = w.cpuSeconds();
            a.close();
        }
        return s;
    }

    private static INDArray readOnce(Path f, DataType t) throws IOException {
        return Nifti.read(f).data(t);
    }

    private static void print(PrintWriter out, List<Row> rows, JsonNode nib, String nibWhy) {
        out.printf("%-16s %9s %9s %10s | %9s %9s %9s %9s | %9s %9s %9s %9s | %6s %6s %6s %6s%n", "", "", "", "",
                "wall", "", "", "", "CPU", "", "", "", "wall", "", "CPU", "");
        out.printf("%-16s %9s %9s %10s | %9s %9s %9s %9s | %9s %9s %9s %9s | %6s %6s %6s %6s%n", "file", "voxel MB",
                "file MB", "write MB/s", "java f32", "nib f32", "java f64", "nib f64", "java f32", "nib f32",
                "java f64", "nib f64", "f32 x", "f64 x", "f32 x", "f64 x");
        for (Row r : rows) {
            double[] w = {r.mbPerSecond(JAVA_F32), r.mbPerSecond(NIB_F32), r.mbPerSecond(JAVA_F64),
                    r.mbPerSecond(NIB_F64)};
            double[] c = {r.mbPerCpuSecond(JAVA_F32), r.mbPerCpuSecond(NIB_F32), r.mbPerCpuSecond(JAVA_F64),
                    r.mbPerCpuSecond(NIB_F64)};
            out.printf("%-16s %9.1f %9.1f %10.1f | %9s %9s %9s %9s | %9s %9s %9s %9s | %6s %6s %6s %6s%n",
                    r.file(), r.voxelBytes() / 1e6, r.fileBytes() / 1e6, r.voxelBytes() / 1e6 / r.writeSeconds(),
                    fmt(w[0]), fmt(w[1]), fmt(w[2]), fmt(w[3]), fmt(c[0]), fmt(c[1]), fmt(c[2]), fmt(c[3]),
                    ratio(w[0], w[1]), ratio(w[2], w[3]), ratio(c[0], c[1]), ratio(c[2], c[3]));
        }
        out.println("columns: read MB/s, medians: per wall second and per process-CPU second; 'x' = java / nibabel in "
                + "this run (>1: java faster)");
        if (nib != null) {
            out.println("nibabel " + nib.path("nibabel").asText() + ", numpy " + nib.path("numpy").asText()
                    + " (madvise huge pages " + (nib.path("numpy_hugepage").asBoolean(true) ? "on" : "off")
                    + "), python " + nib.path("python").asText());
        } else {
            out.println("nibabel: " + nibWhy);
        }
        out.println(BenchSupport.machineLine());
        out.println(BenchSupport.memoryLine());
        out.flush();
    }

    private static String fmt(double v) {
        return Double.isNaN(v) ? "-" : String.format("%.1f", v);
    }

    private static String ratio(double a, double b) {
        return Double.isNaN(a) || Double.isNaN(b) ? "-" : String.format("%.2f", a / b);
    }

    /**
     * A head-like phantom: an ellipsoid of "tissue" with a smooth intensity gradient and an inner darker
     * ellipsoid, plus seeded noise. int16 values span about 0..1100; float32 the same in arbitrary units.
     */
    static INDArray phantom(int n, DataType type) {
        float[] v = new float[n * n * n];
        SplittableRandom rnd = new SplittableRandom(42);
        double c = (n - 1) / 2.0;
        int i = 0;
        // x fastest: the buffer is Fortran order
        for (int z = 0; z < n; z++) {
            for (int y = 0; y < n; y++) {
                for (int x = 0; x < n; x++) {
                    double dx = (x - c) / (0.45 * n);
                    double dy = (y - c) / (0.40 * n);
                    double dz = (z - c) / (0.42 * n);
                    double r2 = dx * dx + dy * dy + dz * dz;
                    double base = r2 < 1 ? 800 + 200 * (double) z / n - (r2 < 0.2 ? 300 : 0) : 20;
                    double noise = rnd.nextDouble(-25, 25);
                    double val = base + noise;
                    v[i++] = type == DataType.SHORT ? Math.round(val) : (float) val;
                }
            }
        }
        INDArray a = Nd4j.create(v, new long[]{n, n, n}, 'f');
        return type == DataType.FLOAT ? a : a.castTo(type);
    }
}
