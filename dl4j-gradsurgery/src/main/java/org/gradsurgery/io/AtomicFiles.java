package org.gradsurgery.io;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes files so that a reader (or a run resumed after a kill) sees either the old complete file or the new complete
 * file, never a half-written one: the content goes to a temporary file in the target's directory, which is then
 * renamed over the target (an atomic rename on POSIX file systems). Every file the project writes for a user (NIfTI
 * maps, PNGs, reports, checkpoints, sweep summaries) goes through here.
 *
 * <p>The temporary file is created with the process's default permissions (the umask applies), not
 * {@link Files#createTempFile}'s owner-only ones, so the renamed result is readable like any other file the user
 * writes.
 */
public final class AtomicFiles {
    private AtomicFiles() {
    }

    /** Writes whatever {@code writer} puts into the given temporary path, then moves it onto {@code target}. */
    @FunctionalInterface
    public interface Writer {
        void write(Path tmp) throws IOException;
    }

    /**
     * Runs {@code writer} on a temporary file next to {@code target} and renames it onto {@code target}; parent
     * directories are created. If the writer fails, the temporary file is removed and {@code target} is untouched.
     */
    public static void write(Path target, Writer writer) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        Files.createDirectories(dir);
        Path tmp = createSibling(dir, abs.getFileName().toString());
        try {
            writer.write(tmp);
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Checks, before any long job starts, that {@code dir} is (or can be created as) a folder this process can write
     * into: creates it with its parents, then creates and deletes a probe file in it. Nothing is left behind in an
     * existing folder.
     *
     * @throws IllegalArgumentException one line naming the folder and the reason (a path component that is a file,
     *                                  a read-only file system, missing permission)
     */
    public static void requireWritableDirectory(Path dir) {
        Path abs = dir.toAbsolutePath().normalize();
        try {
            if (Files.exists(abs) && !Files.isDirectory(abs)) {
                throw new java.nio.file.NotDirectoryException(abs.toString());
            }
            Files.createDirectories(abs);
            Path probe = createSibling(abs, "write-check");
            Files.delete(probe);
        } catch (IOException e) {
            throw new org.gradsurgery.InvalidInputException("cannot write output folder " + abs + ": " + reason(e), e);
        }
    }

    private static String reason(IOException e) {
        if (e instanceof java.nio.file.NotDirectoryException || e instanceof java.nio.file.FileAlreadyExistsException
                || e instanceof java.nio.file.FileSystemException f && "Not a directory".equals(f.getReason())) {
            return "it or one of its parents is a file, not a folder";
        }
        if (e instanceof java.nio.file.AccessDeniedException) {
            return "permission denied";
        }
        if (e instanceof java.nio.file.FileSystemException f && f.getReason() != null) {
            return f.getReason();
        }
        return e.getMessage();
    }

    /** Writes UTF-8 text atomically. */
    public static void writeString(Path target, String text) throws IOException {
        write(target, tmp -> Files.writeString(tmp, text, StandardCharsets.UTF_8));
    }

    private static Path createSibling(Path dir, String name) throws IOException {
        for (int attempt = 0; ; attempt++) {
            Path tmp = dir.resolve("." + name + "." + Long.toUnsignedString(ThreadLocalRandom.current().nextLong(), 36)
                    + ".part");
            try {
                return Files.createFile(tmp);
            } catch (java.nio.file.FileAlreadyExistsException e) {
                if (attempt > 100) {
                    throw e;
                }
            }
        }
    }
}
