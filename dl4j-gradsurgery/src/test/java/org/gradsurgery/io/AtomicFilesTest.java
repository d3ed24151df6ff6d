package org.gradsurgery.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AtomicFilesTest {

    @TempDir
    Path dir;

    @Test
    void writtenFileHasTheSamePermissionsAsAPlainNewFile() throws IOException {
        Path plain = Files.createFile(dir.resolve("plain.txt"));
        Path target = dir.resolve("sub/report.md");
        AtomicFiles.writeString(target, "hello");
        assertEquals("hello", Files.readString(target));
        assertEquals(Files.getPosixFilePermissions(plain), Files.getPosixFilePermissions(target));
    }

    @Test
    void failedWriteLeavesTheOldFileAndNoTemporaryFile() throws IOException {
        Path target = dir.resolve("model.zip");
        AtomicFiles.writeString(target, "old");
        IOException e = assertThrows(IOException.class, () -> AtomicFiles.write(target, tmp -> {
            Files.writeString(tmp, "half");
            throw new IOException("disk full");
        }));
        assertEquals("disk full", e.getMessage());
        assertEquals("old", Files.readString(target));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(1, files.count(), "only the target remains");
        }
    }

    @Test
    void unwritableOutputFoldersAreNamedBeforeAnyWork(@TempDir Path dir) throws IOException {
        Path ok = dir.resolve("a/b");
        AtomicFiles.requireWritableDirectory(ok);
        try (Stream<Path> s = Files.list(ok)) {
            assertEquals(0, s.count(), "the probe is removed");
        }
        Path file = Files.writeString(dir.resolve("file"), "x");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> AtomicFiles.requireWritableDirectory(file.resolve("sub")));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().startsWith("cannot write output folder "
                + file.resolve("sub")) && e.getMessage().contains("is a file"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> AtomicFiles.requireWritableDirectory(file));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("is a file"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> AtomicFiles.requireWritableDirectory(Path.of(
                "/proc/gradsurgery-test")));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().startsWith("cannot write output folder /proc/"),
                e.getMessage());
    }
}
