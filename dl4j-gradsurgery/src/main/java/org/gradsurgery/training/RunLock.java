package org.gradsurgery.training;

import java.io.IOException;
import org.gradsurgery.InvalidInputException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;

/**
 * An exclusive lock on a run folder, held by the one process that writes it (a training, study or sweep) for as long
 * as it writes. A second writer gets an {@link IllegalArgumentException} naming the holder, so two trainings on one
 * {@code --out} can no longer both run and leave a folder mixing their files.
 *
 * <p>Mechanism: an operating-system lock ({@link FileChannel#tryLock()}) on {@code <run>/.lock}, plus a one-line note
 * in that file, {@code pid <pid> on <host> since <time>: <what>}, so the error can say who holds it. The OS releases
 * the lock when its process dies, even by {@code kill -9}; the note stays behind. Hence a lock file with a note that
 * can be locked is <em>stale</em>: its writer died without closing. It is taken over (the note is overwritten and
 * {@link #staleHolder()} returns the old one), which is what lets {@code --resume} continue after a kill. A clean
 * {@link #close()} empties the note but never deletes the file: deleting it would let two processes lock two
 * different files of the same name.
 *
 * <p>Within one JVM the lock is re-entrant for the thread holding it (a CLI command holds it and the {@link Trainer}
 * it calls takes it again); another thread of the same JVM is refused like another process.
 */
public final class RunLock implements AutoCloseable {
    /** The lock file's name inside the run folder. */
    public static final String FILE = ".lock";

    private static final Map<Path, RunLock> HELD = new HashMap<>();

    private final Path dir;
    private final FileChannel channel;
    private final FileLock lock;
    private final Thread owner;
    private final String staleHolder;
    private int depth = 1;

    private RunLock(Path dir, FileChannel channel, FileLock lock, String staleHolder) {
        this.dir = dir;
        this.channel = channel;
        this.lock = lock;
        this.owner = Thread.currentThread();
        this.staleHolder = staleHolder;
    }

    /**
     * Creates {@code runDir} if needed and locks it for {@code what} (e.g. "gradsurgery train").
     *
     * @throws IllegalArgumentException when another process, or another thread of this one, holds the lock; the
     *                                  message names the holder and the lock file
     * @throws IOException              when the folder cannot be created or the lock file not written
     */
    public static RunLock acquire(Path runDir, String what) throws IOException {
        Path dir = runDir.toAbsolutePath().normalize();
        synchronized (HELD) {
            RunLock mine = HELD.get(dir);
            if (mine != null) {
                if (mine.owner == Thread.currentThread()) {
                    mine.depth++;
                    return mine;
                }
                throw locked(dir, mine.note(), "another thread of this process (" + mine.owner.getName() + ")");
            }
            Files.createDirectories(dir);
            Path file = dir.resolve(FILE);
            FileChannel ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ,
                    StandardOpenOption.WRITE);
            FileLock l;
            try {
                l = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                l = null;
            } catch (IOException e) {
                ch.close();
                throw e;
            }
            if (l == null) {
                String note = read(ch);
                ch.close();
                throw locked(dir, note, null);
            }
            String previous = read(ch).strip();
            ch.truncate(0);
            ch.write(ByteBuffer.wrap((describe(what) + "\n").getBytes(StandardCharsets.UTF_8)), 0);
            ch.force(true);
            RunLock r = new RunLock(dir, ch, l, previous.isEmpty() ? null : previous);
            HELD.put(dir, r);
            return r;
        }
    }

    private static InvalidInputException locked(Path dir, String note, String who) {
        String holder = who != null ? who : note == null || note.isBlank() ? "another process" : note.strip();
        return new InvalidInputException("run folder " + dir + " is in use by " + holder + " (lock "
                + dir.resolve(FILE) + "); wait for it to finish or choose another output folder");
    }

    private static String describe(String what) {
        String host;
        try {
            host = InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            host = "unknown host";
        }
        return "pid " + ProcessHandle.current().pid() + " on " + host + " since " + Instant.now() + ": " + what;
    }

    private static String read(FileChannel ch) throws IOException {
        long size = Math.min(ch.size(), 4096);
        ByteBuffer b = ByteBuffer.allocate((int) size);
        ch.read(b, 0);
        return new String(b.array(), 0, b.position(), StandardCharsets.UTF_8);
    }

    private String note() {
        try {
            return read(channel);
        } catch (IOException e) {
            return null;
        }
    }

    /** The note of a stale lock that this one replaced (its writer was killed), or null. */
    public String staleHolder() {
        return staleHolder;
    }

    /** The locked folder. */
    public Path directory() {
        return dir;
    }

    /** Releases the lock (after as many closes as acquires in this thread) and empties the note. */
    @Override
    public void close() throws IOException {
        synchronized (HELD) {
            if (depth == 0 || --depth > 0) {
                return;
            }
            HELD.remove(dir);
            try {
                channel.truncate(0);
                lock.release();
            } finally {
                channel.close();
            }
        }
    }
}
