package org.gradsurgery.examples.notebook;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.node.ArrayNode;
import org.nd4j.shade.jackson.databind.node.ObjectNode;

/**
 * Runs Jupyter notebooks headless, cell by cell, through the same evaluation core as this project's Jupyter kernel
 * ({@link NotebookSession}: one JShell per notebook, in this JVM, with the kernels' magics).
 *
 * <ul>
 *   <li><b>Outputs.</b> What a cell prints becomes {@code stream} outputs (consecutive text of one stream merged, as
 *       Jupyter does), {@link Display#show} a {@code display_data}, and the value of the cell's last expression an
 *       {@code execute_result} ({@link Display#bundle}: {@code image/png} for images and charts, {@code text/html}
 *       for tables, {@code text/plain}).</li>
 *   <li><b>Failure.</b> The first failing cell stops the run with a {@link NotebookCellException} naming the cell;
 *       nothing is written.</li>
 *   <li><b>Smoke mode.</b> Sets the system property {@value Smoke#PROPERTY} for the run ({@link Smoke}).</li>
 * </ul>
 * The executed copy is the input with {@code execution_count} and {@code outputs} filled in, nbformat 4.5 (cell ids
 * added where missing), checked with {@link NbFormat#validate} before it is returned.
 */
public final class NotebookRunner {
    private final boolean smoke;
    private final PrintStream progress;
    private final ProjectClasspath classpath;
    private final MavenResolver maven;

    private NotebookRunner(Builder b) {
        this.smoke = b.smoke;
        this.progress = b.progress;
        this.classpath = b.classpath != null ? b.classpath : ProjectClasspath.ofRunningJvm();
        this.maven = MavenResolver.defaults(classpath);
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * An executed notebook.
     *
     * @param notebook the executed copy (valid nbformat 4)
     * @param codeCells code cells run
     * @param images outputs carrying an {@code image/png}
     * @param elapsed wall time
     */
    public record Result(ObjectNode notebook, int codeCells, int images, Duration elapsed) {
    }

    /**
     * Runs {@code notebook} and writes the executed copy to {@code outDir/<same file name>} (atomically).
     *
     * @return where it was written
     */
    public Path runAndWrite(Path notebook, Path outDir) throws IOException {
        Result r = run(notebook);
        Path out = outDir.resolve(notebook.getFileName().toString());
        if (out.toAbsolutePath().normalize().equals(notebook.toAbsolutePath().normalize())) {
            throw new IllegalArgumentException("--out: " + outDir + " would overwrite the input notebook " + notebook);
        }
        NbFormat.write(r.notebook(), out);
        return out;
    }

    /** Runs every code cell of {@code file} and returns the executed copy. */
    public Result run(Path file) throws IOException {
        long t0 = System.nanoTime();
        ObjectNode nb = NbFormat.read(file).deepCopy();
        nb.put("nbformat_minor", Math.max(NbFormat.MINOR, nb.path("nbformat_minor").asInt(0)));
        ArrayNode cells = (ArrayNode) nb.get("cells");
        int codeTotal = 0;
        for (JsonNode c : cells) {
            if (c.isObject() && !c.hasNonNull("id")) {
                ((ObjectNode) c).put("id", UUID.randomUUID().toString().substring(0, 8));
            }
            codeTotal += "code".equals(c.path("cell_type").asText()) ? 1 : 0;
        }
        Path baseDir = file.toAbsolutePath().getParent();
        String previousSmoke = System.getProperty(Smoke.PROPERTY);
        System.setProperty(Smoke.PROPERTY, Boolean.toString(smoke));
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
        int count = 0;
        int images = 0;
        try (NotebookSession session = new NotebookSession(classpath, maven, baseDir)) {
            for (int i = 0; i < cells.size(); i++) {
                ObjectNode cell = (ObjectNode) cells.get(i);
                if (!"code".equals(cell.path("cell_type").asText())) {
                    continue;
                }
                long c0 = System.nanoTime();
                count++;
                Outputs outputs = new Outputs();
                try {
                    Map<String, String> value = session.execute(NbFormat.text(cell.get("source")), outputs);
                    if (value != null) {
                        outputs.add("execute_result", value).put("execution_count", count);
                    }
                } catch (NotebookSession.CellFailure f) {
                    throw new NotebookCellException(file, i + 1, f.line(), f.snippet(), f.detail(), null);
                }
                cell.put("execution_count", count);
                cell.set("outputs", outputs.list);
                images += outputs.images;
                progress.printf(Locale.ROOT, "%s: [%d/%d] cell %d done (%.1f s)%n", file.getFileName(), count,
                        codeTotal, i + 1, (System.nanoTime() - c0) / 1e9);
            }
        } finally {
            if (previousSmoke == null) {
                System.clearProperty(Smoke.PROPERTY);
            } else {
                System.setProperty(Smoke.PROPERTY, previousSmoke);
            }
        }
        List<String> problems = NbFormat.validate(nb);
        if (!problems.isEmpty()) {
            throw new IllegalStateException(file + ": the executed copy is not valid nbformat 4: " + problems);
        }
        return new Result(nb, count, images, Duration.ofNanos(System.nanoTime() - t0));
    }

    /** One cell's outputs in nbformat. */
    private static final class Outputs implements NotebookSession.Output {
        final ArrayNode list = NbFormat.object().arrayNode();
        int images;

        @Override
        public void stream(String name, String text) {
            JsonNode prev = list.size() == 0 ? null : list.get(list.size() - 1);
            if (prev != null && "stream".equals(prev.path("output_type").asText())
                    && name.equals(prev.path("name").asText())) {
                ((ObjectNode) prev).set("text", NbFormat.lines(NbFormat.text(prev.get("text")) + text));
                return;
            }
            ObjectNode o = list.addObject();
            o.put("output_type", "stream");
            o.put("name", name);
            o.set("text", NbFormat.lines(text));
        }

        @Override
        public void display(Map<String, String> bundle) {
            add("display_data", bundle);
        }

        ObjectNode add(String type, Map<String, String> bundle) {
            ObjectNode o = list.addObject();
            o.put("output_type", type);
            ObjectNode data = o.putObject("data");
            bundle.forEach((mime, v) -> data.set(mime, mime.equals("image/png") ? data.textNode(v) : NbFormat.lines(v)));
            o.putObject("metadata");
            images += bundle.containsKey("image/png") ? 1 : 0;
            return o;
        }
    }

    /** Builder: smoke mode off, progress to {@code System.err}, the running JVM's class path. */
    public static final class Builder {
        private boolean smoke;
        private PrintStream progress = System.err;
        private ProjectClasspath classpath;

        private Builder() {
        }

        /** Smoke mode (see {@link Smoke}). */
        public Builder smoke(boolean smoke) {
            this.smoke = smoke;
            return this;
        }

        /** Where one line per finished cell goes. */
        public Builder progress(PrintStream progress) {
            this.progress = Objects.requireNonNull(progress, "progress");
            return this;
        }

        /** The class path magics are checked against and snippets compile with. */
        public Builder classpath(ProjectClasspath classpath) {
            this.classpath = Objects.requireNonNull(classpath, "classpath");
            return this;
        }

        public NotebookRunner build() {
            return new NotebookRunner(this);
        }
    }
}
