package org.gradsurgery.examples.notebook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.gradsurgery.examples.notebook.DependencyMagics.Kind;
import org.gradsurgery.examples.notebook.DependencyMagics.Magic;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Both kernels' dependency magics are recognised, blanked out of the code, and anything else is refused by line. */
class DependencyMagicsTest {

    @Test
    void beakerxAndJjavaLineMagics() {
        DependencyMagics.Cell c = DependencyMagics.parse(String.join("\n",
                "%classpath add mvn org.gradsurgery dl4j-gradsurgery-examples 0.1.0-SNAPSHOT",
                "%classpath add mvn info.picocli:picocli:4.7.6",
                "  %maven org.nd4j:nd4j-api:1.0.0-M2.1 org.slf4j:slf4j-api:1.7.36",
                "%jars lib/*.jar other.jar",
                "%classpath add jar /opt/my libs/x.jar",
                "int x = 1;"));
        assertEquals(List.of(
                new Magic(1, "%classpath add mvn org.gradsurgery dl4j-gradsurgery-examples 0.1.0-SNAPSHOT", Kind.MAVEN,
                        "org.gradsurgery:dl4j-gradsurgery-examples:0.1.0-SNAPSHOT"),
                new Magic(2, "%classpath add mvn info.picocli:picocli:4.7.6", Kind.MAVEN, "info.picocli:picocli:4.7.6"),
                new Magic(3, "  %maven org.nd4j:nd4j-api:1.0.0-M2.1 org.slf4j:slf4j-api:1.7.36", Kind.MAVEN,
                        "org.nd4j:nd4j-api:1.0.0-M2.1"),
                new Magic(3, "  %maven org.nd4j:nd4j-api:1.0.0-M2.1 org.slf4j:slf4j-api:1.7.36", Kind.MAVEN,
                        "org.slf4j:slf4j-api:1.7.36"),
                new Magic(4, "%jars lib/*.jar other.jar", Kind.JAR, "lib/*.jar"),
                new Magic(4, "%jars lib/*.jar other.jar", Kind.JAR, "other.jar"),
                new Magic(5, "%classpath add jar /opt/my libs/x.jar", Kind.JAR, "/opt/my libs/x.jar")), c.magics());
        // magic lines are blanked to the same length: line numbers and offsets are those of the cell
        assertEquals(List.of("", "", "", "", "", "int x = 1;"), c.code().lines().map(String::strip).toList());
        assertEquals(String.join("\n", c.magics().stream().map(Magic::text).distinct().toList()).length() + 11,
                c.code().length());
    }

    @Test
    void beakerxCellMagicTakesOneCoordinatePerLine() {
        DependencyMagics.Cell c = DependencyMagics.parse(
                "\n%%classpath add mvn\norg.gradsurgery dl4j-gradsurgery 0.1.0-SNAPSHOT\n\ninfo.picocli:picocli:4.7.6\n");
        assertEquals(List.of("org.gradsurgery:dl4j-gradsurgery:0.1.0-SNAPSHOT", "info.picocli:picocli:4.7.6"),
                c.magics().stream().map(Magic::value).toList());
        assertTrue(c.code().isBlank(), c.code());
    }

    @Test
    void unsupportedMagicNamesItsLine() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DependencyMagics.parse("int x = 1;\n%time x"));
        assertTrue(e.getMessage().startsWith("line 2: unsupported magic '%time x'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DependencyMagics.parse("%%loadFromPOM pom.xml"));
        assertTrue(e.getMessage().contains("%%loadFromPOM"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DependencyMagics.parse("%classpath add mvn a b"));
        assertTrue(e.getMessage().contains("GROUP ARTIFACT VERSION"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DependencyMagics.parse("%maven"));
        assertTrue(e.getMessage().contains("needs at least one argument"), e.getMessage());
    }

    @Test
    void jarGlobsResolveAgainstTheNotebookFolder(@TempDir Path dir) throws Exception {
        Files.createDirectories(dir.resolve("lib"));
        Files.writeString(dir.resolve("lib/b.jar"), "");
        Files.writeString(dir.resolve("lib/a.jar"), "");
        Files.writeString(dir.resolve("lib/notes.txt"), "");
        Magic glob = new Magic(1, "%jars lib/*.jar", Kind.JAR, "lib/*.jar");
        assertEquals(List.of(dir.resolve("lib/a.jar"), dir.resolve("lib/b.jar")), DependencyMagics.paths(glob, dir));
        Magic missing = new Magic(3, "%classpath add jar nope.jar", Kind.JAR, "nope.jar");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> DependencyMagics.paths(missing, dir));
        assertTrue(e.getMessage().startsWith("line 3: %classpath add jar nope.jar: no such jar"), e.getMessage());
        Magic noMatch = new Magic(2, "%jars lib/*.zip", Kind.JAR, "lib/*.zip");
        e = assertThrows(IllegalArgumentException.class, () -> DependencyMagics.paths(noMatch, dir));
        assertTrue(e.getMessage().contains("no file matches"), e.getMessage());
    }
}
