package org.gradsurgery.examples.notebook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.gradsurgery.examples.cli.CliRun;
import org.gradsurgery.examples.cli.GradSurgeryCli;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code gradsurgery notebook run}: writes executed copies, and fails with one message naming the cell. */
class NotebookCommandTest {

    private static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @Test
    void runWritesTheExecutedCopyAndFailuresNameTheCell(@TempDir Path dir) throws Exception {
        Path ok = NotebookRunnerTest.writeNotebook(dir.resolve("ok.ipynb"), "#md hi",
                "System.out.println(\"smoke \" + org.gradsurgery.examples.notebook.Smoke.enabled());");
        CliRun r = run("notebook", "run", "--smoke", "--out", dir.resolve("out").toString(), ok.toString());
        assertEquals(0, r.exit(), r.err());
        Path written = dir.resolve("out/ok.ipynb");
        assertTrue(r.out().startsWith(ok + " -> " + written + " ("), r.out());
        var nb = NbFormat.read(written);
        assertEquals(List.of(), NbFormat.validate(nb));
        assertEquals("smoke true\n", NbFormat.text(nb.get("cells").get(1).get("outputs").get(0).get("text")));

        Path bad = NotebookRunnerTest.writeNotebook(dir.resolve("bad.ipynb"), "int a = 1;", "a.foo();");
        r = run("notebook", "run", bad.toString());
        assertEquals(GradSurgeryCli.EXIT_FAILURE, r.exit());
        assertTrue(r.err().startsWith("gradsurgery: failed: " + bad + ": cell 2, line 1: does not compile"), r.err());
        assertFalse(Files.exists(dir.resolve("executed/bad.ipynb")));
    }

    @Test
    void userMistakesAreOneLine(@TempDir Path dir) {
        CliRun r = run("notebook", "run", dir.resolve("missing.ipynb").toString());
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        assertEquals("gradsurgery: error: no such file: " + dir.resolve("missing.ipynb"), r.err().strip());
        r = run("notebook", "run", "--log-level", "loud", dir.toString());
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        r = run("notebook", "run");
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        assertTrue(r.err().contains("Missing required parameter"), r.err());
    }
}
