package org.gradsurgery.examples.notebook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.shade.jackson.databind.JsonNode;

/**
 * Every notebook in {@code notebooks/} runs in smoke mode through the runner (any cell error fails), and its executed
 * copy is valid nbformat 4 with a picture wherever the notebook shows one (a code cell whose last expression is a
 * {@code Display.…} call). The committed full-mode copies are checked by {@link ExecutedNotebooksTest}.
 */
public class NotebooksSmokeTest {
    static final Path NOTEBOOKS = Path.of("notebooks");
    private static final NotebookRunner RUNNER = NotebookRunner.builder().smoke(true)
            .progress(new PrintStream(PrintStream.nullOutputStream())).build();

    public static Stream<Path> notebooks() throws IOException {
        try (Stream<Path> s = Files.list(NOTEBOOKS)) {
            return s.filter(p -> p.toString().endsWith(".ipynb")).sorted().toList().stream();
        }
    }

    @Test
    void allFourNotebooksAreThere() throws IOException {
        assertEquals(List.of("01-drop-in-loss.ipynb", "02-calibration-study.ipynb", "03-nifti-3d.ipynb",
                "04-arbiter-sweep.ipynb"), notebooks().map(p -> p.getFileName().toString()).toList());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("notebooks")
    void runsInSmokeModeWithItsPictures(Path notebook, @TempDir Path out) throws IOException {
        Path written = RUNNER.runAndWrite(notebook, out);
        JsonNode executed = NbFormat.read(written);
        assertEquals(List.of(), NbFormat.validate(executed), written.toString());
        List<Integer> shown = pictureCells(executed);
        assertTrue(!shown.isEmpty(), notebook + " shows no picture");
        assertEquals(displayCells(executed), shown, notebook + ": a cell ending in Display.… shows no PNG");
    }

    static List<String> cellSources(JsonNode nb) {
        List<String> out = new ArrayList<>();
        for (JsonNode c : nb.get("cells")) {
            out.add(c.get("cell_type").asText() + ":" + NbFormat.text(c.get("source")));
        }
        return out;
    }

    /** Cells (1-based) with an image/png output. */
    public static List<Integer> pictureCells(JsonNode nb) {
        List<Integer> out = new ArrayList<>();
        JsonNode cells = nb.get("cells");
        for (int i = 0; i < cells.size(); i++) {
            for (JsonNode o : cells.get(i).path("outputs")) {
                if (o.path("data").has("image/png")) {
                    out.add(i + 1);
                    break;
                }
            }
        }
        return out;
    }

    /** Code cells (1-based) whose last statement is a {@code Display.…(…)} expression: they must show a picture. */
    public static List<Integer> displayCells(JsonNode nb) {
        List<Integer> out = new ArrayList<>();
        JsonNode cells = nb.get("cells");
        for (int i = 0; i < cells.size(); i++) {
            String src = NbFormat.text(cells.get(i).get("source")).strip();
            int last = Math.max(src.lastIndexOf(";\n"), src.lastIndexOf("}\n"));
            String tail = src.substring(last + 1).strip();
            if ("code".equals(cells.get(i).get("cell_type").asText()) && tail.startsWith("Display.")
                    && !tail.endsWith(";")) {
                out.add(i + 1);
            }
        }
        return out;
    }
}
