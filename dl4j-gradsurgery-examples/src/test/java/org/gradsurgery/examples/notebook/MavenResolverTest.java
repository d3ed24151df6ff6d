package org.gradsurgery.examples.notebook;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Coordinates on the class path need no Maven; others go through {@code mvn dependency:build-classpath} once and are
 * cached per coordinate; a missing {@code mvn} or an unresolvable coordinate is one message naming the coordinate.
 */
class MavenResolverTest {

    /** A stand-in for mvn that logs its calls and writes {@code jars} as the class path. */
    private static Path fakeMvn(Path dir, String jars, int exit) throws Exception {
        Path script = dir.resolve("fake-mvn");
        Files.writeString(script, "#!/bin/sh\necho \"$@\" >> " + dir.resolve("calls") + "\n"
                + "for a in \"$@\"; do case \"$a\" in -Dmdep.outputFile=*) out=\"${a#-Dmdep.outputFile=}\";; esac; done\n"
                + (exit == 0 ? "printf '%s' '" + jars + "' > \"$out\"\n"
                        : "echo '[ERROR] Failed to execute goal: Could not find artifact x:y:jar:1'\n")
                + "exit " + exit + "\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        return script;
    }

    @Test
    void resolvesOnceThenFromTheCache(@TempDir Path dir) throws Exception {
        Path a = Files.writeString(dir.resolve("a-1.jar"), "");
        Path b = Files.writeString(dir.resolve("b-2.jar"), "");
        Path mvn = fakeMvn(dir, a + ":" + b, 0);
        Path cache = dir.resolve("cache");
        MavenResolver r = new MavenResolver(ProjectClasspath.of(""), cache, List.of(mvn.toString()));
        assertEquals(List.of(a, b), r.resolve("com.example:a:1"));
        assertEquals(List.of(a, b), r.resolve("com.example:a:1"));
        assertEquals(1, Files.readAllLines(dir.resolve("calls")).size(), "the second call is served from memory");
        String call = Files.readString(dir.resolve("calls"));
        assertTrue(call.contains(MavenResolver.DEPENDENCY_PLUGIN + ":build-classpath"), call);

        // a new resolver (a restarted kernel) reads the cache file and does not run Maven
        MavenResolver again = new MavenResolver(ProjectClasspath.of(""), cache, List.of("/no/such/mvn"));
        assertEquals(List.of(a, b), again.resolve("com.example:a:1"));
        // a jar that vanished from the local repository invalidates the entry
        Files.delete(b);
        MavenResolver third = new MavenResolver(ProjectClasspath.of(""), cache, List.of("/no/such/mvn"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> third.resolve("com.example:a:1"));
        assertTrue(e.getMessage().contains("'/no/such/mvn' is not on PATH"), e.getMessage());
    }

    @Test
    void classPathEntriesNeedNoMaven(@TempDir Path dir) {
        MavenResolver r = new MavenResolver(ProjectClasspath.ofRunningJvm(), dir, List.of("/no/such/mvn"));
        assertEquals(List.of(), r.resolve("org.gradsurgery:dl4j-gradsurgery-examples:0.1.0-SNAPSHOT"));
        assertEquals(List.of(), r.resolve("info.picocli:picocli:4.7.6"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> r.resolve("a:b"));
        assertTrue(e.getMessage().contains("malformed Maven coordinate 'a:b'"), e.getMessage());
    }

    @Test
    void mavenErrorsNameTheCoordinate(@TempDir Path dir) throws Exception {
        MavenResolver r = new MavenResolver(ProjectClasspath.of(""), dir.resolve("cache"),
                List.of(fakeMvn(dir, "", 1).toString()));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> r.resolve("x:y:1"));
        assertEquals("Maven coordinate x:y:1 cannot be resolved: Failed to execute goal: Could not find artifact"
                + " x:y:jar:1", e.getMessage());
        assertTrue(Files.notExists(dir.resolve("cache")), "nothing cached for a failure");
    }

    /** The real thing: mvn resolves a jar of the local repository (picocli, a dependency of this module). */
    @Test
    void realMavenResolvesFromTheLocalRepository(@TempDir Path dir) {
        MavenResolver r = new MavenResolver(ProjectClasspath.of(""), dir, List.of("mvn"));
        List<Path> jars = r.resolve("info.picocli:picocli:4.7.6");
        assertEquals(1, jars.size(), jars.toString());
        assertTrue(jars.get(0).endsWith(Path.of("info/picocli/picocli/4.7.6/picocli-4.7.6.jar")), jars.toString());
        assertTrue(Files.isRegularFile(jars.get(0)));
    }
}
