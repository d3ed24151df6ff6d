package org.gradsurgery.training;

import org.gradsurgery.evaluation.Report;
import org.gradsurgery.InvalidInputException;
import org.gradsurgery.io.AtomicFiles;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.nd4j.shade.jackson.databind.SerializationFeature;

/**
 * The files of one training run, all written atomically ({@link AtomicFiles}):
 * <pre>
 * run/
 *   config.json          everything to rerun: "training" (TrainingConfig), the caller's sections (model, loss, data),
 *                        "gitRevision", "java", "created"
 *   metrics.csv          one row per epoch ({@link EpochMetrics#CSV_HEADER})
 *   checkpoint/state.json + checkpoint/checkpoint-&lt;iteration&gt;.zip   the last checkpoint (model + updater)
 *   best.zip             the network at the best early-stopping epoch (only with early stopping)
 *   model.zip            the final network (ComputationGraph.save, no updater)
 *   report.md, *.png     evaluation report ({@link Report})
 *   .lock                the run-folder lock ({@link RunLock}): one writer at a time
 * </pre>
 */
public final class RunDirectory {
    public static final String CONFIG = "config.json";
    public static final String METRICS = "metrics.csv";
    public static final String MODEL = "model.zip";
    public static final String BEST = "best.zip";
    public static final String CHECKPOINT_DIR = "checkpoint";
    public static final String STATE = "state.json";
    public static final String REPORT = Report.FILE_NAME;

    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private RunDirectory() {
    }

    /**
     * Writes {@code config.json}: {@code sections} (in order), then {@code gitRevision} of the working directory's
     * checkout (null when not in one; {@code +dirty} when it has uncommitted changes), the Java version and the time.
     */
    public static void writeConfig(Path runDir, Map<String, Object> sections) throws IOException {
        Map<String, Object> doc = new LinkedHashMap<>(sections);
        doc.put("gitRevision", gitRevision());
        doc.put("java", System.getProperty("java.version"));
        doc.put("created", Instant.now().toString());
        AtomicFiles.writeString(runDir.resolve(CONFIG), JSON.writeValueAsString(doc) + "\n");
    }

    /** {@code config.json} as a JSON tree. */
    public static JsonNode readConfig(Path runDir) throws IOException {
        Path p = runDir.resolve(CONFIG);
        if (!Files.isRegularFile(p)) {
            throw new java.nio.file.NoSuchFileException(p + " (not a run directory)");
        }
        try {
            return JSON.readTree(p.toFile());
        } catch (IOException e) {
            throw new InvalidInputException(p + ": not valid JSON: " + e.getMessage(), e);
        }
    }

    /** Writes {@code metrics.csv} from the whole history. */
    public static void writeMetrics(Path runDir, List<EpochMetrics> history) throws IOException {
        StringBuilder s = new StringBuilder(EpochMetrics.CSV_HEADER).append('\n');
        for (EpochMetrics m : history) {
            s.append(m.csvRow()).append('\n');
        }
        AtomicFiles.writeString(runDir.resolve(METRICS), s.toString());
    }

    /** Reads {@code metrics.csv}. */
    public static List<EpochMetrics> readMetrics(Path runDir) throws IOException {
        List<String> lines = Files.readAllLines(runDir.resolve(METRICS), StandardCharsets.UTF_8);
        if (lines.isEmpty() || !lines.get(0).equals(EpochMetrics.CSV_HEADER)) {
            throw new IllegalArgumentException(runDir.resolve(METRICS) + ": header must be " + EpochMetrics.CSV_HEADER);
        }
        List<EpochMetrics> out = new ArrayList<>();
        for (String l : lines.subList(1, lines.size())) {
            if (!l.isBlank()) {
                out.add(EpochMetrics.parseCsv(l));
            }
        }
        return out;
    }

    /**
     * Deletes every {@code checkpoint-*.zip} in the checkpoint folder {@code dir} except {@code keep}: called once the
     * new checkpoint (and whatever names it) is completely written, so a kill leaves at least one whole checkpoint.
     */
    public static void removeCheckpointsBut(Path dir, String keep) {
        try (DirectoryStream<Path> old = Files.newDirectoryStream(dir, "checkpoint-*.zip")) {
            for (Path p : old) {
                if (!p.getFileName().toString().equals(keep)) {
                    Files.deleteIfExists(p);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot remove old checkpoints in " + dir, e);
        }
    }

    /** Saves a network atomically ({@code ComputationGraph.save}). */
    public static void saveModel(ComputationGraph net, Path file, boolean withUpdater) throws IOException {
        AtomicFiles.write(file, tmp -> net.save(tmp.toFile(), withUpdater));
    }

    /** Loads {@code model.zip} (or any saved graph); a missing file names the path. */
    public static ComputationGraph loadModel(Path file, boolean withUpdater) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new java.nio.file.NoSuchFileException(file.toString());
        }
        try {
            return ComputationGraph.load(file.toFile(), withUpdater);
        } catch (RuntimeException e) {
            throw new InvalidInputException(file + ": not a saved DL4J ComputationGraph (" + e.getMessage() + ")", e);
        }
    }

    /** {@code git rev-parse HEAD} of the working directory (plus {@code +dirty}), or null. */
    public static String gitRevision() {
        String head = git("rev-parse", "HEAD");
        if (head == null) {
            return null;
        }
        String status = git("status", "--porcelain", "--untracked-files=no");
        return status != null && !status.isBlank() ? head + "+dirty" : head;
    }

    private static String git(String... args) {
        List<String> cmd = new ArrayList<>();
        cmd.add("git");
        cmd.addAll(List.of(args));
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(false)
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroy();
                return null;
            }
            return p.exitValue() == 0 ? new String(out, StandardCharsets.UTF_8).strip() : null;
        } catch (IOException e) {
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }
}
