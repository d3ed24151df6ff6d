package org.gradsurgery.examples.notebook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The evaluation core the kernel and the runner share: errors, interrupts, display, magics, editing help. */
class NotebookSessionTest {
    @TempDir
    static Path dir;
    private static NotebookSession session;

    /** Collects what a cell sends. */
    private static final class Collected implements NotebookSession.Output {
        final StringBuilder stdout = new StringBuilder();
        final List<Map<String, String>> displays = new ArrayList<>();

        @Override
        public void stream(String name, String text) {
            if (name.equals("stdout")) {
                stdout.append(text);
            }
        }

        @Override
        public void display(Map<String, String> bundle) {
            displays.add(bundle);
        }
    }

    @BeforeAll
    static void start() {
        System.setProperty("java.awt.headless", "true");
        ProjectClasspath cp = ProjectClasspath.ofRunningJvm();
        session = new NotebookSession(cp, new MavenResolver(cp, dir.resolve("cache"), List.of("/no/such/mvn")), dir);
    }

    @AfterAll
    static void stop() {
        session.close();
    }

    private static String text(String code) {
        Map<String, String> v = session.execute(code, new Collected());
        return v == null ? null : v.get("text/plain");
    }

    @Test
    void interruptStopsAnEndlessLoopAndTheSessionLivesOn() throws Exception {
        text("long spins = 0;");
        // the loop marks its first spin, so the interrupt cannot come while the cell is still being compiled
        // (a fixed sleep did under load, and the interrupt then found nothing to stop)
        Path started = Files.createTempDirectory("nbtest").resolve("started");
        String mark = started.toString().replace("\\", "\\\\");
        CompletableFuture<String> cell = CompletableFuture.supplyAsync(() -> {
            try {
                return text("while (true) { if (spins++ == 0) java.nio.file.Files.createFile("
                        + "java.nio.file.Path.of(\"" + mark + "\")); }");
            } catch (NotebookSession.CellFailure f) {
                return f.ename();
            }
        });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (!Files.exists(started) && !cell.isDone() && System.nanoTime() < deadline) {
            Thread.sleep(20);
        }
        assertTrue(Files.exists(started), "the cell did not start its loop: " + (cell.isDone()
                ? cell.get() : "still compiling after 60 s"));
        session.interrupt();
        assertEquals("Interrupted", cell.get(30, TimeUnit.SECONDS));
        assertEquals("true", text("spins > 0"));
        assertEquals("2", text("1 + 1"));
        session.interrupt();   // nothing running: a no-op
        assertEquals("3", text("1 + 2"));
    }

    @Test
    void exceptionsCarryTheirRealClassAndTheUsersFrames() {
        text("void check(int n) {\n  if (n > 2) throw new IllegalStateException(\"n too big: \" + n);\n}");
        NotebookSession.CellFailure f = assertThrows(NotebookSession.CellFailure.class, () -> text("check(1);\ncheck(3);"));
        assertEquals("java.lang.IllegalStateException", f.ename());
        assertEquals("n too big: 3", f.evalue());
        assertEquals(2, f.line());
        assertTrue(f.traceback().get(0).startsWith("cell line 2: java.lang.IllegalStateException: n too big: 3"),
                f.traceback().toString());
        assertTrue(f.traceback().stream().anyMatch(l -> l.matches("\\tat check \\(#\\d+:2\\)")), f.traceback().toString());
        assertTrue(f.traceback().stream().noneMatch(l -> l.contains("jdk.jshell") || l.contains("reflect")),
                "JShell's machinery is cut off: " + f.traceback());
        f = assertThrows(NotebookSession.CellFailure.class, () -> text("int q = nope;"));
        assertEquals("CompilationError", f.ename());
        f = assertThrows(NotebookSession.CellFailure.class, () -> text("%jars missing/*.jar"));
        assertEquals("MagicError", f.ename());
        assertTrue(f.evalue().contains("no file matches " + dir.resolve("missing/*.jar")), f.evalue());
        f = assertThrows(NotebookSession.CellFailure.class, () -> text("%maven com.example:x:1"));
        assertTrue(f.evalue().contains("'/no/such/mvn' is not on PATH"), f.evalue());
    }

    @Test
    void showAndTablesReachTheOutputMidCell() {
        Collected c = new Collected();
        Map<String, String> v = session.execute("import org.gradsurgery.examples.notebook.Display;\n"
                + "Display.show(Display.table(List.of(\"model\", \"ECE\"), List.of(List.of(\"a<b\", 0.12345))));\n"
                + "System.out.println(\"after\");\n"
                + "Display.table(List.of(\"k\"), List.of(List.of(7)))", c);
        assertEquals(1, c.displays.size());
        assertEquals("<table>\n<thead><tr><th>model</th><th>ECE</th></tr></thead>\n<tbody>\n"
                + "<tr><td>a&lt;b</td><td>0.1235</td></tr>\n</tbody>\n</table>", c.displays.get(0).get("text/html"));
        assertEquals("model  ECE\na<b    0.1235", c.displays.get(0).get("text/plain"));
        assertEquals("after\n", c.stdout.toString());
        assertEquals("k\n7", v.get("text/plain"));
    }

    @Test
    void loadRunsAFileAndClasspathAddsAFolder() throws Exception {
        Files.writeString(dir.resolve("helpers.jsh"), "int triple(int x) {\n  return 3 * x;\n}\n");
        assertNull(text("%load helpers.jsh"));
        assertEquals("21", text("triple(7)"));
        Path src = Files.createDirectories(dir.resolve("src/demo"));
        Files.writeString(src.resolve("Greeter.java"),
                "package demo; public class Greeter { public static String hi() { return \"hi\"; } }");
        Path classes = Files.createDirectories(dir.resolve("classes"));
        assertEquals(0, ToolProvider.getSystemJavaCompiler().run(null, null, null, "-d", classes.toString(),
                src.resolve("Greeter.java").toString()));
        assertEquals("hi", text("%classpath classes\ndemo.Greeter.hi()"));
    }

    @Test
    void editingHelpComesFromJShell() {
        NotebookSession.Completion c = session.complete("int a = 1;\nMath.absE", 20);
        assertEquals(List.of("absExact("), c.matches());
        assertEquals(16, c.start());
        assertTrue(session.inspect("Math.max", 8).orElseThrow().contains("max(int"), "signatures");
        text("String greeting = \"hello\";");
        assertEquals("String greeting = \"hello\"", session.inspect("greeting", 3).orElseThrow());
        assertEquals("complete", session.isComplete("%maven a:b:1\nint x = 1;").status());
        assertEquals(new NotebookSession.Completeness("incomplete", "    "), session.isComplete("void f() {"));
        assertEquals("invalid", session.isComplete("%nosuch").status());
    }
}
