package org.gradsurgery.examples.notebook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.shade.jackson.databind.JsonNode;

/**
 * The committed executed copies in {@code notebooks/executed/} (made by {@code gradsurgery notebook run}, see the
 * README) are valid nbformat 4, have exactly the cells of their notebook (so they are not stale), every code cell
 * executed and counted in order, and a PNG in every cell that shows a picture.
 */
class ExecutedNotebooksTest {

    static List<Path> notebooks() throws IOException {
        return NotebooksSmokeTest.notebooks().toList();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("notebooks")
    void committedCopyIsCurrentValidAndHasItsPictures(Path notebook) throws IOException {
        Path copy = NotebooksSmokeTest.NOTEBOOKS.resolve("executed").resolve(notebook.getFileName());
        assertTrue(Files.isRegularFile(copy), "missing executed copy " + copy);
        JsonNode executed = NbFormat.read(copy);
        assertEquals(List.of(), NbFormat.validate(executed), copy.toString());
        assertEquals(NotebooksSmokeTest.cellSources(NbFormat.read(notebook)), NotebooksSmokeTest.cellSources(executed),
                copy + " is stale: run gradsurgery notebook run again (README, Notebooks)");
        int count = 0;
        for (JsonNode cell : executed.get("cells")) {
            if (cell.get("cell_type").asText().equals("code")) {
                assertEquals(++count, cell.get("execution_count").asInt(-1), copy + ": execution counts");
            }
        }
        List<Integer> shown = NotebooksSmokeTest.pictureCells(executed);
        assertFalse(shown.isEmpty(), copy + " has no picture");
        assertEquals(NotebooksSmokeTest.displayCells(executed), shown, copy + ": pictures");
    }
}
