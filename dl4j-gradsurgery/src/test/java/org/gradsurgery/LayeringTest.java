package org.gradsurgery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The package layering of docs/ARCHITECTURE.md as checks on the sources' references (imports and qualified names):
 * loss → layers → model → training/evaluation → experiment → arbiter → CLI, with data, metrics, calibration and io
 * beside. A lower package never names a higher one, so each can be used (and understood) without the ones above it.
 */
class LayeringTest {
    private static final Path MAIN = Path.of("src", "main", "java", "org", "gradsurgery");

    /** Package → packages (under org.gradsurgery) it must not reference. */
    private static final Map<String, List<String>> FORBIDDEN = Map.of(
            "loss", List.of("layers", "model", "training", "evaluation", "experiment", "arbiter", "study", "data"),
            "layers", List.of("model", "training", "evaluation", "experiment", "arbiter", "study"),
            "metrics", List.of("model", "training", "evaluation", "experiment", "arbiter", "study"),
            "calibration", List.of("training", "evaluation", "experiment", "arbiter", "study", "data"),
            "data", List.of("model", "training", "evaluation", "experiment", "arbiter", "study", "calibration"),
            "io", List.of("loss", "layers", "model", "training", "evaluation", "experiment", "arbiter", "study",
                    "data"),
            "training", List.of("experiment", "arbiter", "study"),
            "evaluation", List.of("training", "experiment", "arbiter", "study"),
            "experiment", List.of("arbiter", "study"),
            "arbiter", List.of("study"));

    @Test
    void lowerPackagesNeverNameHigherOnes() throws IOException {
        assertTrue(Files.isDirectory(MAIN.resolve("experiment")), "run from the module directory");
        List<String> offenders = new ArrayList<>();
        for (Map.Entry<String, List<String>> e : FORBIDDEN.entrySet()) {
            for (Path f : sources(MAIN.resolve(e.getKey()))) {
                String text = Files.readString(f);
                for (String higher : e.getValue()) {
                    if (text.contains("org.gradsurgery." + higher + ".")) {
                        offenders.add(MAIN.relativize(f) + " names org.gradsurgery." + higher);
                    }
                }
            }
        }
        assertEquals(List.of(), offenders);
    }

    @Test
    void onlyTheNetworkBuilderBelowTheExperimentPackageUsesItsSpec() throws IOException {
        // UNet.builder().from(UNetSpec) and unet.spec(): the builder's state is the spec, the one exception below
        // the packages built on experiment (arbiter, study)
        List<String> users = new ArrayList<>();
        for (Path f : sources(MAIN)) {
            String rel = MAIN.relativize(f).toString().replace('\\', '/');
            if (!rel.startsWith("experiment/") && !rel.startsWith("arbiter/") && !rel.startsWith("study/")
                    && Files.readString(f).contains("org.gradsurgery.experiment.")) {
                users.add(rel);
            }
        }
        assertEquals(List.of("model/UNet.java"), users);
    }

    @Test
    void theLibraryNeverNamesTheExamplesModule() throws IOException {
        List<String> offenders = new ArrayList<>();
        for (Path f : sources(MAIN)) {
            if (Files.readString(f).contains("org.gradsurgery.examples")) {
                offenders.add(MAIN.relativize(f).toString());
            }
        }
        assertEquals(List.of(), offenders);
    }

    private static List<Path> sources(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.filter(p -> p.toString().endsWith(".java")).sorted().toList();
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }
}
