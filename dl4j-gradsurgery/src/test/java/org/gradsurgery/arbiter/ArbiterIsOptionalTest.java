package org.gradsurgery.arbiter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Arbiter is an optional dependency of the library: only {@code org.gradsurgery.arbiter} may use it, so that a
 * project using the losses, layers or U-Net without Arbiter on its class path never loads a class that needs it.
 */
class ArbiterIsOptionalTest {

    @Test
    void onlyTheArbiterPackageReferencesArbiter() throws IOException {
        Path main = Path.of("src", "main", "java");
        assertTrue(Files.isDirectory(main.resolve("org/gradsurgery/arbiter")), "run from the module directory");
        List<Path> offenders;
        try (Stream<Path> files = Files.walk(main)) {
            offenders = files.filter(p -> p.toString().endsWith(".java"))
                    .filter(p -> !p.startsWith(main.resolve("org/gradsurgery/arbiter")))
                    .filter(p -> {
                        try {
                            return Files.readString(p).contains("org.deeplearning4j.arbiter");
                        } catch (IOException e) {
                            throw new java.io.UncheckedIOException(e);
                        }
                    }).toList();
        }
        assertEquals(List.of(), offenders);
    }
}
