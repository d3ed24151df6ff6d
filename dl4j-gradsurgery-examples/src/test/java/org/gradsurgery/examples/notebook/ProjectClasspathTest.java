package org.gradsurgery.examples.notebook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.Attributes;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Maven coordinates are found in this build or among the jars already on the class path, and nothing else. */
class ProjectClasspathTest {

    private static Path jar(Path file, String manifestClassPath) throws Exception {
        Files.createDirectories(file.getParent());
        Manifest m = new Manifest();
        m.getMainAttributes().put(Attributes.Name.MANIFEST_VERSION, "1.0");
        if (manifestClassPath != null) {
            m.getMainAttributes().put(Attributes.Name.CLASS_PATH, manifestClassPath);
        }
        try (OutputStream os = Files.newOutputStream(file); JarOutputStream jos = new JarOutputStream(os, m)) {
            jos.flush();
        }
        return file;
    }

    @Test
    void followsManifestClassPathLikeJavaDashJar(@TempDir Path dir) throws Exception {
        Path repoJar = jar(dir.resolve("repo/org/nd4j/nd4j-api/1.0.0-M2.1/nd4j-api-1.0.0-M2.1.jar"), null);
        Path native1 = jar(dir.resolve("lib/nd4j-native-1.0.0-M2.1-linux-x86_64.jar"), null);
        Path thin = jar(dir.resolve("gradsurgery.jar"),
                "lib/nd4j-native-1.0.0-M2.1-linux-x86_64.jar " + repoJar.toUri() + " lib/missing.jar");
        ProjectClasspath cp = ProjectClasspath.of(thin.toString());
        assertEquals(java.util.List.of(thin, native1, repoJar), cp.entries());
        assertEquals(thin + File.pathSeparator + native1 + File.pathSeparator + repoJar, cp.asString());

        assertEquals("this build", cp.find("org.gradsurgery:dl4j-gradsurgery-examples:0.1.0-SNAPSHOT").orElseThrow());
        assertEquals(repoJar.toString(), cp.find("org.nd4j:nd4j-api:1.0.0-M2.1").orElseThrow());
        assertEquals(native1.toString(), cp.find("org.nd4j:nd4j-native:1.0.0-M2.1").orElseThrow());
        assertEquals(native1.toString(), cp.find("org.nd4j:nd4j-native:jar:linux-x86_64:1.0.0-M2.1").orElseThrow());
    }

    @Test
    void unknownOrMismatchedCoordinatesAreErrors(@TempDir Path dir) throws Exception {
        Path repoJar = jar(dir.resolve("repo/org/nd4j/nd4j-api/1.0.0-M2.1/nd4j-api-1.0.0-M2.1.jar"), null);
        ProjectClasspath cp = ProjectClasspath.of(repoJar.toString());
        for (String bad : new String[] {"org.nd4j:nd4j-api:1.0.0-M2", "com.evil:nd4j-api:1.0.0-M2.1",
                "org.gradsurgery:dl4j-gradsurgery-extras:0.1.0-SNAPSHOT", "org.nd4j:nd4j-api:jar:macosx:1.0.0-M2.1"}) {
            assertTrue(cp.find(bad).isEmpty(), bad);
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> cp.find("org.nd4j:nd4j-api"));
        assertTrue(e.getMessage().contains("malformed"), e.getMessage());
    }

    @Test
    void theRunningJvmProvidesTheLibraryDependencies() {
        ProjectClasspath cp = ProjectClasspath.ofRunningJvm();
        assertTrue(cp.find("org.deeplearning4j:deeplearning4j-nn:1.0.0-M2.1").orElseThrow().endsWith(".jar"));
        assertTrue(cp.find("info.picocli:picocli:4.7.6").orElseThrow().endsWith("picocli-4.7.6.jar"));
    }
}
