package org.gradsurgery.examples.notebook.kernel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.gradsurgery.examples.cli.CliRun;
import org.gradsurgery.examples.cli.GradSurgeryCli;
import org.gradsurgery.examples.notebook.ProjectClasspath;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.ObjectMapper;

/** The kernelspec's contents, its atomic replacement, and one-line errors for bad `gradsurgery kernel` input. */
class KernelCommandTest {

    @Test
    void kernelJsonRunsThisBuildOnThisJvm(@TempDir Path dir) throws Exception {
        ProjectClasspath cp = ProjectClasspath.ofRunningJvm();
        Path spec = dir.resolve("java");
        KernelSpec.write(spec, KernelSpec.kernelJson("java", cp));
        JsonNode json = new ObjectMapper().readTree(spec.resolve("kernel.json").toFile());
        List<String> argv = new ArrayList<>();
        json.get("argv").forEach(a -> argv.add(a.asText()));
        assertEquals(Path.of(System.getProperty("java.home"), "bin", "java").toString(), argv.get(0));
        assertEquals(List.of("-cp", cp.asString(), KernelSpec.MAIN_CLASS, "kernel", "run", "{connection_file}"),
                argv.subList(argv.size() - 6, argv.size()));
        assertTrue(argv.contains("-Djava.awt.headless=true"), argv.toString());
        String ext = System.getProperty("org.bytedeco.javacpp.platform.extension");
        if (ext != null) {
            assertTrue(argv.contains("-Dorg.bytedeco.javacpp.platform.extension=" + ext), argv.toString());
        }
        assertEquals("java", json.get("language").asText());
        assertEquals("message", json.get("interrupt_mode").asText());
        assertEquals(KernelSpec.DISPLAY_NAME, json.get("display_name").asText());
        assertEquals(KernelSpec.DISPLAY_NAME + " [other]", KernelSpec.kernelJson("other", cp).get("display_name")
                .asText());
        assertTrue(Files.size(spec.resolve("logo-32x32.png")) > 100);
        assertTrue(Files.size(spec.resolve("logo-64x64.png")) > 100);
    }

    @Test
    void moveIntoPlaceReplacesAWholeFolder(@TempDir Path dir) throws Exception {
        Path target = dir.resolve("kernels/java");
        Files.createDirectories(target);
        Files.writeString(target.resolve("stale.txt"), "old");
        Path staged = dir.resolve("staged");
        KernelSpec.write(staged, KernelSpec.kernelJson("java", ProjectClasspath.of("")));
        KernelSpec.moveIntoPlace(staged, target);
        assertTrue(Files.isRegularFile(target.resolve("kernel.json")));
        assertFalse(Files.exists(target.resolve("stale.txt")));
        assertFalse(Files.exists(staged));
        try (var s = Files.list(dir.resolve("kernels"))) {
            assertEquals(List.of(target), s.toList(), "no leftovers beside the kernelspec");
        }
    }

    @Test
    void badInputIsOneLine(@TempDir Path dir) throws Exception {
        CliRun r = CliRun.of("kernel", "run");
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        assertTrue(r.err().contains("Missing required parameter: 'CONNECTION_FILE'"), r.err());

        r = CliRun.of("kernel", "run", dir.resolve("none.json").toString());
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        assertEquals("gradsurgery: error: no such file: " + dir.resolve("none.json"), r.err().strip());

        Path bad = Files.writeString(dir.resolve("bad.json"), "{\"ip\": \"127.0.0.1\"}");
        r = CliRun.of("kernel", "run", bad.toString());
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        assertTrue(r.err().startsWith("gradsurgery: error: " + bad + ": not a Jupyter connection file"), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());

        Path notJson = Files.writeString(dir.resolve("x.json"), "not json");
        r = CliRun.of("kernel", "run", notJson.toString());
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        assertTrue(r.err().startsWith("gradsurgery: error: " + notJson + ": not a Jupyter connection file"), r.err());

        r = CliRun.of("kernel", "install", "--name", "bad name", "--prefix", dir.toString());
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        assertTrue(r.err().contains("--name: 'bad name' is not a kernel name"), r.err());

        r = CliRun.of("kernel", "install", "--user", "--prefix", dir.toString());
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit(), "--user and --prefix exclude each other");

        r = CliRun.of("kernel", "uninstall", "--prefix", dir.toString());
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit());
        assertEquals("gradsurgery: error: kernel java is not installed in "
                + dir.resolve("share/jupyter/kernels"), r.err().strip());
    }
}
