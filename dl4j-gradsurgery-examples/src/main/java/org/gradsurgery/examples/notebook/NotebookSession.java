package org.gradsurgery.examples.notebook;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
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
import jdk.jshell.VarSnippet;

/**
 * The evaluation core shared by this project's Jupyter kernel ({@code gradsurgery kernel}) and the headless runner
 * ({@link NotebookRunner}): one {@link JShell} whose snippets execute in this JVM
 * ({@link ValueCapturingExecutionControl}), so cells see this build's class path and the ND4J backend already loaded.
 *
 * <ul>
 *   <li><b>Imports</b>: those of the {@code jshell} tool's default start-up ({@link #DEFAULT_IMPORTS}).</li>
 *   <li><b>A cell</b> ({@link #execute}): its magics ({@link DependencyMagics}) are applied first, in order
 *       (Maven coordinates through {@link MavenResolver}, jars, class folders, {@code %load} files); then the code is
 *       cut into snippets with {@link SourceCodeAnalysis#analyzeCompletion}, as JShell's REPL does, and each is
 *       evaluated in turn. {@code System.out}/{@code System.err} go to {@link Output#stream} while a snippet runs;
 *       the value of the cell's last expression comes back as a MIME bundle ({@link Display#bundle}).</li>
 *   <li><b>Failures</b> ({@link CellFailure}): a magic that cannot be honoured, incomplete code, a rejected snippet
 *       (compiler diagnostics), an unresolved reference, an exception (its real class, message and the stack of the
 *       user's code), an interrupt. The session stays usable.</li>
 *   <li><b>Interrupt</b> ({@link #interrupt}, from another thread): the running cell's thread is interrupted, and if
 *       its snippet does not return within a second it is stopped ({@code Thread.stop}, the way JShell's own
 *       {@code LocalExecutionControl} stops a snippet).</li>
 *   <li><b>Editing help</b>: {@link #complete}, {@link #inspect}, {@link #isComplete} on JShell's source analysis.</li>
 * </ul>
 * One cell at a time: a session is not for concurrent {@code execute} calls.
 */
public final class NotebookSession implements AutoCloseable {

    /** Where a cell's outputs go while it runs. */
    public interface Output {
        /** Text printed by the cell; {@code name} is {@code stdout} or {@code stderr}. */
        void stream(String name, String text);

        /** A MIME bundle shown mid-cell ({@link Display#show}). */
        void display(Map<String, String> bundle);
    }

    /**
     * A cell failed. {@link #ename()} is the exception's class name for a thrown exception, else one of
     * {@code CompilationError}, {@code IncompleteCode}, {@code MagicError}, {@code Interrupted}.
     */
    public static final class CellFailure extends RuntimeException {
        private final String ename;
        private final String evalue;
        private final int line;
        private final String snippet;
        private final String detail;

        CellFailure(String ename, String evalue, int line, String snippet, String detail) {
            super((line > 0 ? "line " + line + ": " : "") + detail);
            this.ename = ename;
            this.evalue = evalue;
            this.line = line;
            this.snippet = snippet;
            this.detail = detail;
        }

        /** The error's name (see class doc). */
        public String ename() {
            return ename;
        }

        /** Its one-line message. */
        public String evalue() {
            return evalue;
        }

        /** 1-based line in the cell where the failing snippet starts (0 for a magic). */
        public int line() {
            return line;
        }

        /** The failing snippet, or null for a magic. */
        public String snippet() {
            return snippet;
        }

        /** Diagnostics or the exception with its (short) stack, several lines. */
        public String detail() {
            return detail;
        }

        /** What a notebook shows: the detail's lines, the first prefixed with the cell line. */
        public List<String> traceback() {
            List<String> out = new ArrayList<>(detail.lines().toList());
            if (line > 0 && !out.isEmpty()) {
                out.set(0, "cell line " + line + ": " + out.get(0));
            }
            return out;
        }
    }

    /**
     * Completion candidates replacing {@code code[start, end)}.
     *
     * @param start first replaced character
     * @param end the cursor
     * @param matches the replacements, best first
     */
    public record Completion(int start, int end, List<String> matches) {
    }

    /** Whether a cell can run as it is: {@code complete}, {@code incomplete} (with an indent), or {@code invalid}. */
    public record Completeness(String status, String indent) {
    }

    /** The session whose cell is running now, for {@link Display#show}. */
    private static volatile Output current;

    private final JShell shell;
    private final ValueCapturingExecutionControl.Provider provider;
    private final MavenResolver maven;
    private final Path baseDir;
    private volatile Thread running;
    private volatile boolean interrupted;

    /**
     * @param classpath what snippets compile against (this build)
     * @param maven resolves Maven magics
     * @param baseDir relative paths in magics are against it (the notebook's folder)
     */
    public NotebookSession(ProjectClasspath classpath, MavenResolver maven, Path baseDir) {
        this.maven = Objects.requireNonNull(maven, "maven");
        this.baseDir = baseDir.toAbsolutePath().normalize();
        this.provider = new ValueCapturingExecutionControl.Provider();
        PrintStream quiet = new PrintStream(OutputStream.nullOutputStream());
        this.shell = JShell.builder()
                .executionEngine(provider, Map.of())
                .in(InputStream.nullInputStream()).out(quiet).err(quiet)
                .build();
        shell.addToClasspath(classpath.asString());
        for (String imp : DEFAULT_IMPORTS) {
            shell.eval("import " + imp + ";");
        }
    }

    /** The imports the {@code jshell} tool starts with (its DEFAULT startup), as JJava's kernel has them too. */
    static final List<String> DEFAULT_IMPORTS = List.of("java.io.*", "java.math.*", "java.net.*", "java.nio.file.*",
            "java.util.*", "java.util.concurrent.*", "java.util.function.*", "java.util.prefs.*", "java.util.regex.*",
            "java.util.stream.*");

    /** Sends {@code bundle} to the running cell's output; outside a cell prints its text to {@code System.out}. */
    static void display(Map<String, String> bundle) {
        Output o = current;
        if (o != null) {
            o.display(bundle);
        } else {
            System.out.println(bundle.get("text/plain"));
        }
    }

    /**
     * Runs one cell on the calling thread.
     *
     * @return the MIME bundle of the cell's last expression, or null when it ends in a statement or declaration, or
     *     its value is null
     * @throws CellFailure when the cell fails (see class doc)
     */
    public Map<String, String> execute(String source, Output out) {
        running = Thread.currentThread();
        interrupted = false;
        current = out;
        try {
            return run(source, out, "");
        } finally {
            current = null;
            running = null;
            Thread.interrupted();   // an interrupt meant for this cell must not hit the next one
        }
    }

    private Map<String, String> run(String source, Output out, String origin) {
        DependencyMagics.Cell parsed;
        try {
            parsed = DependencyMagics.parse(source);
            for (DependencyMagics.Magic m : parsed.magics()) {
                apply(m, out);
                checkInterrupt(0, null);
            }
        } catch (IllegalArgumentException e) {
            throw new CellFailure("MagicError", origin + e.getMessage(), 0, null, origin + e.getMessage());
        } catch (UncheckedIOException e) {
            throw new CellFailure("MagicError", origin + e.getMessage(), 0, null,
                    origin + e.getMessage() + ": " + e.getCause().getMessage());
        }
        String code = parsed.code();
        SourceCodeAnalysis analysis = shell.sourceCodeAnalysis();
        int consumed = 0;
        String remaining = code;
        Map<String, String> result = null;
        while (!remaining.isBlank()) {
            SourceCodeAnalysis.CompletionInfo info = analysis.analyzeCompletion(remaining);
            SourceCodeAnalysis.Completeness completeness = info.completeness();
            int line = lineOf(code, consumed + leadingBlank(remaining));
            if (completeness == SourceCodeAnalysis.Completeness.EMPTY) {
                break;
            }
            if (!completeness.isComplete() && completeness != SourceCodeAnalysis.Completeness.UNKNOWN) {
                String msg = "incomplete code at the end of the cell (a missing brace, parenthesis or semicolon?)";
                throw new CellFailure("IncompleteCode", origin + msg, line, remaining.strip(), origin + msg);
            }
            String snippet = info.source() != null ? info.source() : remaining;
            String rest = info.source() != null ? info.remaining() : "";
            result = evaluate(snippet, line, out, origin, rest.isBlank());
            consumed += remaining.length() - rest.length();
            remaining = rest;
        }
        return result;
    }

    private void apply(DependencyMagics.Magic m, Output out) {
        switch (m.kind()) {
            case MAVEN -> {
                for (Path jar : maven.resolve(m.value())) {
                    shell.addToClasspath(jar.toString());
                }
            }
            case JAR, CLASSPATH -> {
                for (Path p : DependencyMagics.paths(m, baseDir)) {
                    shell.addToClasspath(p.toString());
                }
            }
            case LOAD -> {
                Path file = DependencyMagics.paths(m, baseDir).get(0);
                String text;
                try {
                    text = Files.readString(file, StandardCharsets.UTF_8);
                } catch (IOException e) {
                    throw new IllegalArgumentException("line " + m.line() + ": " + m.text().strip()
                            + ": cannot read " + file + ": " + e.getMessage());
                }
                run(text, out, "%load " + file + ": ");
            }
            default -> throw new IllegalStateException("magic kind " + m.kind());
        }
    }

    private Map<String, String> evaluate(String snippet, int line, Output out, String origin, boolean last) {
        ValueCapturingExecutionControl control = provider.control();
        control.takeLastValue();
        PrintStream sysOut = System.out;
        PrintStream sysErr = System.err;
        StreamSink outSink = new StreamSink("stdout", out);
        StreamSink errSink = new StreamSink("stderr", out);
        List<SnippetEvent> events;
        try (PrintStream capOut = new PrintStream(outSink, true, StandardCharsets.UTF_8);
             PrintStream capErr = new PrintStream(errSink, true, StandardCharsets.UTF_8)) {
            System.setOut(capOut);
            System.setErr(capErr);
            events = shell.eval(snippet);
        } catch (ThreadDeath stopped) {
            events = List.of();   // stopped outside the snippet's own code; reported below
        } finally {
            System.setOut(sysOut);
            System.setErr(sysErr);
            outSink.flush();
            errSink.flush();
        }
        checkInterrupt(line, snippet);
        Object value = control.takeLastValue();
        boolean expression = false;
        for (SnippetEvent e : events) {
            if (e.causeSnippet() != null) {
                continue;
            }
            fail(e, snippet, line, origin);
            Snippet s = e.snippet();
            expression = s.kind() == Snippet.Kind.EXPRESSION
                    || s.subKind() == Snippet.SubKind.TEMP_VAR_EXPRESSION_SUBKIND;
        }
        return last && expression && value != null ? Display.bundle(value) : null;
    }

    private void checkInterrupt(int line, String snippet) {
        if (interrupted) {
            String msg = "the cell was interrupted";
            throw new CellFailure("Interrupted", msg, line, snippet, msg);
        }
    }

    private void fail(SnippetEvent e, String snippet, int line, String origin) {
        if (e.exception() != null) {
            JShellException ex = e.exception();
            String cls = ex instanceof EvalException ee ? ee.getExceptionClassName()
                    : ex instanceof UnresolvedReferenceException ? "UnresolvedReference" : ex.getClass().getName();
            String msg = ex instanceof UnresolvedReferenceException ure
                    ? "unresolved reference to " + ure.getSnippet().source().strip()
                    : Objects.toString(ex.getMessage(), "");
            throw new CellFailure(cls, origin + msg, line, snippet, origin + describe(ex));
        }
        Snippet s = e.snippet();
        if (e.status() == Snippet.Status.REJECTED) {
            List<String> diags = shell.diagnostics(s).map(d -> diagnostic(d, s.source())).toList();
            String first = diags.isEmpty() ? "does not compile" : diags.get(0);
            throw new CellFailure("CompilationError", origin + first, line, snippet,
                    origin + "does not compile" + (diags.isEmpty() ? "" : ":\n" + String.join("\n", diags)));
        }
        if (e.status() == Snippet.Status.RECOVERABLE_NOT_DEFINED && s instanceof DeclarationSnippet d) {
            String msg = "cannot be defined: it uses "
                    + shell.unresolvedDependencies(d).collect(Collectors.joining(", ")) + ", which are not defined";
            throw new CellFailure("CompilationError", origin + msg, line, snippet, origin + msg);
        }
    }

    /** Stops the running cell (any thread may call it); a no-op when none runs. */
    public void interrupt() {
        Thread t = running;
        if (t == null) {
            return;
        }
        interrupted = true;
        t.interrupt();
        shell.stop();
    }

    /**
     * Completion at {@code cursor}: JShell's suggestions for the snippet the cursor is in (magic lines are blank, so
     * offsets are the cell's).
     */
    public Completion complete(String code, int cursor) {
        String masked = mask(code);
        int start = snippetStart(masked, cursor);
        int[] anchor = new int[1];
        Set<String> matches = new LinkedHashSet<>();
        List<SourceCodeAnalysis.Suggestion> suggestions = shell.sourceCodeAnalysis()
                .completionSuggestions(masked.substring(start, cursor), cursor - start, anchor);
        suggestions.stream().filter(SourceCodeAnalysis.Suggestion::matchesType)
                .forEach(s -> matches.add(s.continuation()));
        suggestions.forEach(s -> matches.add(s.continuation()));
        return new Completion(start + anchor[0], cursor, List.copyOf(matches));
    }

    /**
     * What is known about the name at {@code cursor}: a session variable's type and value, else the signatures (and
     * Javadoc, when the JDK's sources are installed) JShell finds; empty when nothing is found.
     */
    public Optional<String> inspect(String code, int cursor) {
        String masked = mask(code);
        int end = cursor;
        while (end < masked.length() && Character.isJavaIdentifierPart(masked.charAt(end))) {
            end++;
        }
        int start = snippetStart(masked, Math.min(end, masked.length()));
        int from = Math.min(cursor, masked.length());
        while (from > 0 && Character.isJavaIdentifierPart(masked.charAt(from - 1))) {
            from--;
        }
        String name = masked.substring(from, end);
        Optional<VarSnippet> variable = shell.variables().filter(x -> x.name().equals(name)).reduce((a, b) -> b);
        if (variable.isPresent()) {
            return Optional.of(variable.get().typeName() + " " + name + " = " + shell.varValue(variable.get()));
        }
        StringBuilder sb = new StringBuilder();
        String text = masked.substring(start, end);
        List<SourceCodeAnalysis.Documentation> docs = shell.sourceCodeAnalysis().documentation(text, text.length(), true);
        if (docs.isEmpty()) {   // JShell documents a method from inside its argument list: "Math.max" -> "Math.max("
            docs = shell.sourceCodeAnalysis().documentation(text + "(", text.length() + 1, true);
        }
        for (SourceCodeAnalysis.Documentation d : docs) {
            sb.append(sb.length() == 0 ? "" : "\n\n").append(d.signature());
            if (d.javadoc() != null && !d.javadoc().isBlank()) {
                sb.append('\n').append(d.javadoc().strip());
            }
        }
        return sb.length() == 0 ? Optional.empty() : Optional.of(sb.toString());
    }

    /** Whether {@code code} is a complete cell (see {@link Completeness}). */
    public Completeness isComplete(String code) {
        String remaining;
        try {
            remaining = DependencyMagics.parse(code).code();
        } catch (IllegalArgumentException e) {
            return new Completeness("invalid", "");
        }
        SourceCodeAnalysis analysis = shell.sourceCodeAnalysis();
        while (!remaining.isBlank()) {
            SourceCodeAnalysis.CompletionInfo info = analysis.analyzeCompletion(remaining);
            switch (info.completeness()) {
                case EMPTY:
                    return new Completeness("complete", "");
                case DEFINITELY_INCOMPLETE:
                case CONSIDERED_INCOMPLETE:
                    return new Completeness("incomplete", "    ".repeat(Math.max(1, depth(remaining))));
                case UNKNOWN:
                    return new Completeness("invalid", "");
                default:
                    remaining = info.remaining();
            }
        }
        return new Completeness("complete", "");
    }

    @Override
    public void close() {
        shell.close();
    }

    /** The code with magic lines blanked (same length), or as it is when its magics do not parse. */
    private static String mask(String code) {
        try {
            return DependencyMagics.parse(code).code();
        } catch (IllegalArgumentException e) {
            return code;
        }
    }

    /** Where the snippet holding {@code cursor} starts. */
    private int snippetStart(String code, int cursor) {
        SourceCodeAnalysis analysis = shell.sourceCodeAnalysis();
        int start = 0;
        while (start < cursor) {
            SourceCodeAnalysis.CompletionInfo info = analysis.analyzeCompletion(code.substring(start));
            if (!info.completeness().isComplete() || info.source() == null) {
                break;
            }
            int next = code.length() - info.remaining().length();
            if (next >= cursor || next <= start) {
                break;
            }
            start = next;
        }
        while (start < cursor && Character.isWhitespace(code.charAt(start))) {
            start++;
        }
        return start;
    }

    private static int depth(String code) {
        int d = 0;
        for (char c : code.toCharArray()) {
            d += c == '{' || c == '(' ? 1 : c == '}' || c == ')' ? -1 : 0;
        }
        return d;
    }

    /**
     * The exception's class, message and the frames of the user's code (up to where JShell called it; snippets shown
     * as {@code method (#snippet:line)} as JShell prints them), with its causes.
     */
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
            int shown = 0;
            for (StackTraceElement f : st) {
                String c = f.getClassName();
                if (c.startsWith("jdk.internal.reflect.") || c.startsWith("java.lang.reflect.")
                        || c.startsWith("jdk.jshell.") || c.equals(ValueCapturingExecutionControl.class.getName())) {
                    break;   // JShell's machinery from here on
                }
                if (shown == MAX_FRAMES) {
                    sb.append("\n\t...");
                    break;
                }
                boolean snippet = c.isEmpty() || c.startsWith("REPL.");   // JShell's own frames: as its REPL prints them
                sb.append("\n\tat ").append(snippet
                        ? f.getMethodName() + " (" + f.getFileName() + ":" + f.getLineNumber() + ")" : f.toString());
                shown++;
            }
            t = t.getCause() == t ? null : t.getCause();
            prefix = "\nCaused by: ";
        }
        return sb.toString();
    }

    private static final int MAX_FRAMES = 15;

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

    /** Bytes printed by the cell, handed on as text line by line (and the rest on flush). */
    private static final class StreamSink extends OutputStream {
        private final String name;
        private final Output out;
        private final ByteArrayOutputStream buf = new ByteArrayOutputStream();

        StreamSink(String name, Output out) {
            this.name = name;
            this.out = out;
        }

        @Override
        public synchronized void write(int b) {
            buf.write(b);
            if (b == '\n') {
                flush();
            }
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            buf.write(b, off, len);
            for (int i = off; i < off + len; i++) {
                if (b[i] == '\n') {
                    flush();
                    return;
                }
            }
        }

        @Override
        public synchronized void flush() {
            if (buf.size() > 0) {
                String text = buf.toString(StandardCharsets.UTF_8);
                buf.reset();
                out.stream(name, text);
            }
        }
    }
}
