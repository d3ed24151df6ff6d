package org.gradsurgery.examples.notebook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.nd4j.shade.jackson.databind.node.ArrayNode;
import org.nd4j.shade.jackson.databind.node.ObjectNode;

/** The runner executes cells like a Java kernel, captures text and pictures, and names the cell that fails. */
class NotebookRunnerTest {
    private static final NotebookRunner RUNNER = NotebookRunner.builder()
            .progress(new PrintStream(PrintStream.nullOutputStream())).build();
    private static final NotebookRunner SMOKE_RUNNER = NotebookRunner.builder().smoke(true)
            .progress(new PrintStream(PrintStream.nullOutputStream())).build();

    @TempDir
    static Path dir;

    static Path notebook(String name, String... cells) throws Exception {
        return writeNotebook(dir.resolve(name), cells);
    }

    /** A notebook as Jupyter 4.4 wrote it: no cell ids, sources as arrays of lines; "#md " starts a markdown cell. */
    static Path writeNotebook(Path f, String... cells) throws Exception {
        ObjectNode nb = NbFormat.object();
        ArrayNode arr = nb.putArray("cells");
        for (String c : cells) {
            ObjectNode cell = arr.addObject();
            boolean md = c.startsWith("#md ");
            cell.put("cell_type", md ? "markdown" : "code");
            cell.putObject("metadata");
            cell.set("source", NbFormat.lines(md ? c.substring(4) : c));
            if (!md) {
                cell.putNull("execution_count");
                cell.putArray("outputs");
            }
        }
        ObjectNode meta = nb.putObject("metadata");
        meta.putObject("kernelspec").put("name", "java").put("display_name", "Java").put("language", "java");
        nb.put("nbformat", 4);
        nb.put("nbformat_minor", 4);
        Files.writeString(f, NbFormat.toJson(nb));
        return f;
    }

    private static JsonNode outputs(NotebookRunner.Result r, int cell) {
        return r.notebook().get("cells").get(cell - 1).get("outputs");
    }

    @BeforeAll
    static void headless() {
        System.setProperty("java.awt.headless", "true");
    }

    @Test
    void runsCellsInOrderAndCapturesTextPicturesAndValues() throws Exception {
        Path nb = notebook("ok.ipynb",
                "#md # A title\nsome *markdown*",
                "%classpath add mvn org.gradsurgery dl4j-gradsurgery-examples 0.1.0-SNAPSHOT",
                "%maven org.gradsurgery:dl4j-gradsurgery-examples:0.1.0-SNAPSHOT",
                "import java.awt.image.BufferedImage;\nimport org.gradsurgery.examples.notebook.*;\n"
                        + "import org.knowm.xchart.*;",
                // several snippets in one cell, a multi-line method, output on both streams, last expression's value
                "int a = 2; int b = 3;\nint twice(int x) {\n    return 2 * x;\n}\nSystem.out.println(\"a*b=\" + a * b);\n"
                        + "System.err.println(\"to stderr\");\nSystem.out.println(\"more\");\ntwice(a + b)",
                "var img = new BufferedImage(7, 5, BufferedImage.TYPE_INT_RGB);\nDisplay.image(img)",
                "XYChart chart = new XYChartBuilder().width(300).height(200).build();\n"
                        + "chart.addSeries(\"y\", new double[] {0, 1, 2}, new double[] {1, 4, 9});\nchart",
                "String s = \"no value shown for a declaration\";",
                "System.out.println(\"smoke=\" + Smoke.enabled() + \" epochs=\" + Smoke.pick(40, 2));");
        NotebookRunner.Result r = RUNNER.run(nb);

        assertEquals(List.of(), NbFormat.validate(r.notebook()));
        assertEquals(8, r.codeCells());
        assertEquals(2, r.images());
        JsonNode cells = r.notebook().get("cells");
        assertEquals(5, r.notebook().get("nbformat_minor").asInt());
        assertFalse(cells.get(0).has("execution_count"), "markdown cells stay as they are");
        for (int i = 1; i < cells.size(); i++) {
            assertEquals(i, cells.get(i).get("execution_count").asInt(), "cell " + (i + 1));
            assertTrue(cells.get(i).get("id").asText().matches("[a-zA-Z0-9-_]{1,64}"), "cell ids are added");
        }
        assertEquals(0, outputs(r, 2).size(), "a magic shows nothing");
        JsonNode out = outputs(r, 5);
        assertEquals(4, out.size(), out.toString());
        assertEquals("stdout", out.get(0).get("name").asText());
        assertEquals("a*b=6\n", NbFormat.text(out.get(0).get("text")));
        assertEquals("stderr", out.get(1).get("name").asText());
        assertEquals("to stderr\n", NbFormat.text(out.get(1).get("text")));
        assertEquals("stdout", out.get(2).get("name").asText(), "stdout after stderr is a new stream output");
        assertEquals("more\n", NbFormat.text(out.get(2).get("text")));
        assertEquals("execute_result", out.get(3).get("output_type").asText());
        assertEquals(4, out.get(3).get("execution_count").asInt(), "numbered like its cell (4th code cell)");
        assertEquals("10", NbFormat.text(out.get(3).get("data").get("text/plain")));

        BufferedImage img = png(outputs(r, 6).get(0));
        assertEquals(7, img.getWidth());
        assertEquals(5, img.getHeight());
        BufferedImage chart = png(outputs(r, 7).get(0));
        assertEquals(300, chart.getWidth());
        assertEquals(200, chart.getHeight());
        assertEquals(0, outputs(r, 8).size(), "a declaration shows nothing");
        assertEquals("smoke=false epochs=40\n", NbFormat.text(outputs(r, 9).get(0).get("text")));
        assertNull(System.getProperty(Smoke.PROPERTY), "the runner restores the smoke property");

        // the written copy parses again and is still valid
        Path written = RUNNER.runAndWrite(nb, dir.resolve("out"));
        JsonNode reread = new ObjectMapper().readTree(written.toFile());
        assertEquals(List.of(), NbFormat.validate(reread));
    }

    @Test
    void expressionValueBecomesAnExecuteResultInSmokeMode() throws Exception {
        Path nb = notebook("value.ipynb", "int a = 20;\na + 1", "\"text\"\n", "a",
                "System.out.println(org.gradsurgery.examples.notebook.Smoke.pick(40, 2));");
        NotebookRunner.Result r = SMOKE_RUNNER.run(nb);
        for (int cell = 1; cell <= 3; cell++) {
            JsonNode o = outputs(r, cell).get(0);
            assertEquals("execute_result", o.get("output_type").asText());
            assertEquals(cell, o.get("execution_count").asInt());
        }
        assertEquals("21", NbFormat.text(outputs(r, 1).get(0).get("data").get("text/plain")));
        assertEquals("text", NbFormat.text(outputs(r, 2).get(0).get("data").get("text/plain")));
        assertEquals("20", NbFormat.text(outputs(r, 3).get(0).get("data").get("text/plain")));
        assertEquals("2\n", NbFormat.text(outputs(r, 4).get(0).get("text")), "smoke mode reaches the notebook");
    }

    private static BufferedImage png(JsonNode output) throws Exception {
        assertEquals("execute_result", output.get("output_type").asText(), output.toString());
        byte[] bytes = Base64.getDecoder().decode(NbFormat.text(output.get("data").get("image/png")));
        return ImageIO.read(new ByteArrayInputStream(bytes));
    }

    @Test
    void compileErrorNamesCellLineSnippetAndDiagnostic() throws Exception {
        Path nb = notebook("compile.ipynb", "#md intro", "int a = 1;", "int b = 2;\n\nint c = a + undefinedThing;\n");
        NotebookCellException e = assertThrows(NotebookCellException.class, () -> RUNNER.run(nb));
        assertEquals(3, e.cell());
        assertEquals(3, e.line());
        assertTrue(e.getMessage().startsWith(nb + ": cell 3, line 3: does not compile:\nerror: cannot find symbol"),
                e.getMessage());
        assertTrue(e.getMessage().contains("undefinedThing"), e.getMessage());
        assertTrue(e.getMessage().endsWith("--- snippet ---\nint c = a + undefinedThing;"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("executed/compile.ipynb")));
    }

    @Test
    void exceptionNamesCellClassMessageAndStack() throws Exception {
        Path nb = notebook("throws.ipynb",
                "void check(int n) {\n  if (n > 2) throw new IllegalArgumentException(\"n too big: \" + n);\n}",
                "check(1);\ncheck(3);");
        NotebookCellException e = assertThrows(NotebookCellException.class,
                () -> RUNNER.runAndWrite(nb, dir.resolve("never")));
        assertEquals(2, e.cell());
        assertEquals(2, e.line());
        assertTrue(e.getMessage().contains("cell 2, line 2: java.lang.IllegalArgumentException: n too big: 3\n\tat "),
                e.getMessage());
        assertTrue(e.getMessage().contains("check"), e.getMessage());
        assertFalse(Files.exists(dir.resolve("never")), "nothing is written for a failed run");
    }

    @Test
    void unknownCoordinateAndUnsupportedMagicNameTheCell() throws Exception {
        Path nb = notebook("coord.ipynb", "#md x", "%maven com.example:not-here:1.0");
        NotebookCellException e = assertThrows(NotebookCellException.class, () -> RUNNER.run(nb));
        assertEquals(2, e.cell());
        assertTrue(e.getMessage().contains("cell 2: Maven coordinate com.example:not-here:1.0 cannot be resolved: "),
                e.getMessage());
        Path nb2 = notebook("magic.ipynb", "%timeit 1 + 1");
        e = assertThrows(NotebookCellException.class, () -> RUNNER.run(nb2));
        assertTrue(e.getMessage().contains("cell 1: line 1: unsupported magic '%timeit 1 + 1'"), e.getMessage());
    }

    @Test
    void incompleteCodeIsReported() throws Exception {
        Path nb = notebook("incomplete.ipynb", "int a = 1;\nvoid f() {\n  a++;\n");
        NotebookCellException e = assertThrows(NotebookCellException.class, () -> RUNNER.run(nb));
        assertEquals(1, e.cell());
        assertEquals(2, e.line());
        assertTrue(e.getMessage().contains("incomplete code"), e.getMessage());
    }
}
