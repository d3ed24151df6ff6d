package org.gradsurgery.examples.notebook;

import java.nio.file.Path;

/**
 * A notebook cell failed: its magic could not be honoured, a snippet did not compile, or it threw. The message names
 * the notebook, the cell (1-based position among all cells, as Jupyter numbers them top to bottom), the line in the
 * cell, the snippet, and the compiler diagnostics or the exception with its stack trace.
 */
public final class NotebookCellException extends RuntimeException {
    private final Path notebook;
    private final int cell;
    private final int line;
    private final String snippet;

    NotebookCellException(Path notebook, int cell, int line, String snippet, String detail, Throwable cause) {
        super(notebook + ": cell " + cell + (line > 0 ? ", line " + line : "") + ": " + detail
                + (snippet == null || snippet.isBlank() ? "" : "\n--- snippet ---\n" + snippet.strip()), cause);
        this.notebook = notebook;
        this.cell = cell;
        this.line = line;
        this.snippet = snippet;
    }

    /** The notebook file. */
    public Path notebook() {
        return notebook;
    }

    /** 1-based position of the failing cell among all cells. */
    public int cell() {
        return cell;
    }

    /** 1-based line in the cell where the failing snippet starts (0 if unknown). */
    public int line() {
        return line;
    }

    /** The failing snippet's source, or null for a magic. */
    public String snippet() {
        return snippet;
    }
}
