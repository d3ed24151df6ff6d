package org.gradsurgery.examples.notebook;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.stream.Collectors;
import jdk.jshell.DeclarationSnippet;
import jdk.jshell.Diag;
import jdk.jshell.EvalException;
import jdk.jshell.JShell;
import jdk.jshell.JShellException;
import jdk.jshell.Snippet;
import jdk.jshell.SnippetEvent;
import jdk.jshell.SourceCodeAnalysis;
import jdk.jshell.UnresolvedReferenceException;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.node.ArrayNode;
import org.nd4j.shade.jackson.databind.node.ObjectNode;

/**
 * Runs Jupyter notebooks written for the Java kernels (BeakerX, JJava) headless, the way those kernels do: every
 * code cell, in order, through one {@link JShell} session.
 *
 * <ul>
 *   <li><b>Class path.</b> Snippets execute in this JVM ({@link ValueCapturingExecutionControl}) and compile against
 *       {@link ProjectClasspath#ofRunningJvm()}. Dependency magics ({@link DependencyMagics}) are checked against it:
 *       this build's artifacts and the jars already present satisfy them, anything else is an error; jar magics add
 *       their jars.</li>
 *   <li><b>Snippets.</b> A cell is cut into snippets with {@link SourceCodeAnalysis#analyzeCompletion}, as the
 *       kernels do, and each is evaluated in turn.</li>
 *   <li><b>Outputs.</b> What a snippet prints to {@code System.out}/{@code System.err} becomes a {@code stream}
 *       output. The value of a cell's last expression becomes an {@code execute_result}: a PNG ({@code image/png},
 *       base64) when it is an image or an XChart chart ({@link Display}), else its {@code toString}.</li>
 *   <li><b>Failure.</b> A rejected snippet (compile diagnostics), an unresolved reference or an exception stops the
 *       run with a {@link NotebookCellException} naming the cell; nothing is written.</li>
 *   <li><b>Smoke mode.</b> Sets the system property {@value Smoke#PROPERTY} for the run ({@link Smoke}).</li>
 * </ul>
 * The executed copy is the input with {@code execution_count} and {@code outputs} filled in, nbformat 4.5 (cell ids
 * added where missing), checked with {@link NbFormat#validate} before it is returned.
 */
public final class NotebookRunner {
    private final boolean smoke;
    private final PrintStream progress;
    private final ProjectClasspath classpath;

    private NotebookRunner(Builder b) {
        this.smoke = b.smoke;
        this.progress = b.progress;
        this.classpath = b.classpath != null ? b.classpath : ProjectClasspath.ofRunningJvm();
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
        ValueCapturingExecutionControl.Provider provider = new ValueCapturingExecutionControl.Provider();
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        int count = 0;
        int images = 0;
        try (JShell shell = JShell.builder()
                .executionEngine(provider, Map.of())
                .in(InputStream.nullInputStream()).out(quiet).err(quiet)
                .build()) {
            shell.addToClasspath(classpath.asString());
            for (int i = 0; i < cells.size(); i++) {
                ObjectNode cell = (ObjectNode) cells.get(i);
                if (!"code".equals(cell.path("cell_type").asText())) {
                    continue;
                }
                long c0 = System.nanoTime();
                count++;
                CellRun run = new CellRun(shell, provider, file, i + 1, count);
                run.execute(NbFormat.text(cell.get("source")), baseDir);
                cell.put("execution_count", count);
                cell.set("outputs", run.outputs);
                images += run.images;
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

    /** One code cell's execution and outputs. */
    private final class CellRun {
        private final JShell shell;
        private final ValueCapturingExecutionControl.Provider provider;
        private final Path file;
        private final int cellNo;
        private final int executionCount;
        final ArrayNode outputs = NbFormat.object().arrayNode();
        int images;

        CellRun(JShell shell, ValueCapturingExecutionControl.Provider provider, Path file, int cellNo,
                int executionCount) {
            this.shell = shell;
            this.provider = provider;
            this.file = file;
            this.cellNo = cellNo;
            this.executionCount = executionCount;
        }

        void execute(String source, Path baseDir) {
            DependencyMagics.Cell parsed;
            try {
                parsed = DependencyMagics.parse(source);
                for (DependencyMagics.Magic m : parsed.magics()) {
                    if (m.kind() == DependencyMagics.Kind.MAVEN) {
                        classpath.resolve(m.value());
                    } else {
                        for (Path jar : DependencyMagics.jars(m, baseDir)) {
                            shell.addToClasspath(jar.toString());
                        }
                    }
                }
            } catch (IllegalArgumentException e) {
                throw new NotebookCellException(file, cellNo, 0, null, e.getMessage(), e);
            }
            String code = parsed.code();
            SourceCodeAnalysis analysis = shell.sourceCodeAnalysis();
            int consumed = 0;
            String remaining = code;
            while (!remaining.isBlank()) {
                SourceCodeAnalysis.CompletionInfo info = analysis.analyzeCompletion(remaining);
                SourceCodeAnalysis.Completeness completeness = info.completeness();
                int line = lineOf(code, consumed + leadingBlank(remaining));
                if (completeness == SourceCodeAnalysis.Completeness.EMPTY) {
                    break;
                }
                if (completeness == SourceCodeAnalysis.Completeness.DEFINITELY_INCOMPLETE
                        || completeness == SourceCodeAnalysis.Completeness.CONSIDERED_INCOMPLETE) {
                    throw new NotebookCellException(file, cellNo, line, remaining,
                            "incomplete code at the end of the cell (a missing brace, parenthesis or semicolon?)",
                            null);
                }
                String snippet = info.source() != null ? info.source() : remaining;
                String rest = info.source() != null ? info.remaining() : "";
                boolean last = rest.isBlank();
                evaluate(snippet, line, last);
                consumed += remaining.length() - rest.length();
                remaining = rest;
            }
        }

        private void evaluate(String snippet, int line, boolean lastInCell) {
            ValueCapturingExecutionControl control = provider.control();
            control.takeLastValue();
            PrintStream out = System.out;
            PrintStream err = System.err;
            ByteArrayOutputStream outBytes = new ByteArrayOutputStream();
            ByteArrayOutputStream errBytes = new ByteArrayOutputStream();
            List<SnippetEvent> events;
            try (PrintStream capOut = new PrintStream(outBytes, true, StandardCharsets.UTF_8);
                 PrintStream capErr = new PrintStream(errBytes, true, StandardCharsets.UTF_8)) {
                System.setOut(capOut);
                System.setErr(capErr);
                events = shell.eval(snippet);
            } finally {
                System.setOut(out);
                System.setErr(err);
            }
            stream("stdout", outBytes.toString(StandardCharsets.UTF_8));
            stream("stderr", errBytes.toString(StandardCharsets.UTF_8));
            Object value = control.takeLastValue();
            boolean expression = false;
            for (SnippetEvent e : events) {
                if (e.causeSnippet() != null) {
                    continue;
                }
                fail(e, snippet, line);
                Snippet s = e.snippet();
                expression |= s.kind() == Snippet.Kind.EXPRESSION
                        || s.subKind() == Snippet.SubKind.TEMP_VAR_EXPRESSION_SUBKIND;
            }
            if (lastInCell && expression && value != null) {
                result(value);
            }
        }

        private void fail(SnippetEvent e, String snippet, int line) {
            if (e.exception() != null) {
                throw new NotebookCellException(file, cellNo, line, snippet, describe(e.exception()), null);
            }
            Snippet s = e.snippet();
            if (e.status() == Snippet.Status.REJECTED) {
                String diags = shell.diagnostics(s).map(d -> diagnostic(d, s.source()))
                        .collect(Collectors.joining("\n"));
                throw new NotebookCellException(file, cellNo, line, snippet,
                        "does not compile" + (diags.isEmpty() ? "" : ":\n" + diags), null);
            }
            if (e.status() == Snippet.Status.RECOVERABLE_NOT_DEFINED && s instanceof DeclarationSnippet d) {
                throw new NotebookCellException(file, cellNo, line, snippet, "cannot be defined: it uses "
                        + shell.unresolvedDependencies(d).collect(Collectors.joining(", ")) + ", which are not defined",
                        null);
            }
        }

        private void stream(String name, String text) {
            if (text.isEmpty()) {
                return;
            }
            JsonNode prev = outputs.size() == 0 ? null : outputs.get(outputs.size() - 1);
            if (prev != null && "stream".equals(prev.path("output_type").asText())
                    && name.equals(prev.path("name").asText())) {
                ((ObjectNode) prev).set("text", NbFormat.lines(NbFormat.text(prev.get("text")) + text));
                return;
            }
            ObjectNode o = NbFormat.object();
            o.put("output_type", "stream");
            o.put("name", name);
            o.set("text", NbFormat.lines(text));
            outputs.add(o);
        }

        private void result(Object value) {
            ObjectNode data = NbFormat.object();
            BufferedImage img = Display.asImage(value);
            if (img != null) {
                data.put("image/png", Display.pngBase64(img));
                data.set("text/plain", NbFormat.lines("<image " + img.getWidth() + "x" + img.getHeight() + ">"));
                images++;
            } else {
                data.set("text/plain", NbFormat.lines(String.valueOf(value)));
            }
            ObjectNode o = NbFormat.object();
            o.put("output_type", "execute_result");
            o.put("execution_count", executionCount);
            o.set("data", data);
            o.set("metadata", NbFormat.object());
            outputs.add(o);
        }
    }

    /** The exception's class, message and stack (snippet frames included), with its causes. */
    static String describe(JShellException ex) {
        StringBuilder sb = new StringBuilder();
        Throwable t = ex;
        String prefix = "";
        while (t != null) {
            String cls = t instanceof EvalException ee ? ee.getExceptionClassName()
                    : t instanceof UnresolvedReferenceException ure
                            ? "unresolved reference to " + ure.getSnippet().source().strip()
                            : t.getClass().getName();
            sb.append(prefix).append(cls);
            if (t.getMessage() != null) {
                sb.append(": ").append(t.getMessage());
            }
            StackTraceElement[] st = t.getStackTrace();
            for (int k = 0; k < Math.min(st.length, 12); k++) {
                sb.append("\n\tat ").append(st[k]);
            }
            if (st.length > 12) {
                sb.append("\n\t... ").append(st.length - 12).append(" more");
            }
            t = t.getCause() == t ? null : t.getCause();
            prefix = "\nCaused by: ";
        }
        return sb.toString();
    }

    private static String diagnostic(Diag d, String source) {
        long pos = d.getStartPosition();
        String where = "";
        if (pos >= 0 && pos <= source.length()) {
            int line = lineOf(source, (int) pos);
            int col = (int) pos - source.lastIndexOf('\n', (int) pos - 1);
            where = " (snippet line " + line + ", column " + col + ")";
        }
        return (d.isError() ? "error: " : "warning: ") + d.getMessage(Locale.ROOT) + where;
    }

    private static int lineOf(String s, int pos) {
        int line = 1;
        for (int i = 0; i < Math.min(pos, s.length()); i++) {
            if (s.charAt(i) == '\n') {
                line++;
            }
        }
        return line;
    }

    private static int leadingBlank(String s) {
        int i = 0;
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
            i++;
        }
        return i;
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
