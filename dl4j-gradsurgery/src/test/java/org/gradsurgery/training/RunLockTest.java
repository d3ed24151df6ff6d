package org.gradsurgery.training;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunLockTest {

    /** Child process: locks args[0], says so, and waits to be killed. */
    public static final class Holder {
        public static void main(String[] args) throws Exception {
            RunLock.acquire(Path.of(args[0]), "test holder");
            System.out.println("locked");
            System.out.flush();
            Thread.sleep(120_000);
        }
    }

    @Test
    void anotherProcessIsRefusedNamingItsPidAndAKilledHoldersLockIsTakenOver(@TempDir Path dir) throws Exception {
        Path run = dir.resolve("run");
        Process child = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"), Holder.class.getName(), run.toString())
                .redirectErrorStream(true).start();
        try {
            BufferedReader r = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
            String line;
            while ((line = r.readLine()) != null && !line.equals("locked")) {
                // skip logging
            }
            assertEquals("locked", line);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> RunLock.acquire(run, "second writer"));
            assertTrue(e.getMessage().contains("pid " + child.pid() + " on "), e.getMessage());
            assertTrue(e.getMessage().contains("test holder"), e.getMessage());
            assertTrue(e.getMessage().contains(run.resolve(RunLock.FILE).toString()), e.getMessage());
            assertTrue(!e.getMessage().contains("\n"), "one line");
        } finally {
            child.destroyForcibly(); // SIGKILL: the holder cannot clean up
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
        }
        try (RunLock l = RunLock.acquire(run, "after kill")) {
            assertTrue(l.staleHolder().startsWith("pid " + child.pid() + " on "), l.staleHolder());
            assertTrue(Files.readString(run.resolve(RunLock.FILE)).contains("after kill"));
        }
        assertEquals("", Files.readString(run.resolve(RunLock.FILE)), "a clean close empties the note");
        try (RunLock l = RunLock.acquire(run, "clean")) {
            assertNull(l.staleHolder());
        }
    }

    @Test
    void reentrantForTheOwningThreadOnly(@TempDir Path dir) throws Exception {
        try (RunLock outer = RunLock.acquire(dir, "outer")) {
            try (RunLock inner = RunLock.acquire(dir, "inner")) {
                assertEquals(outer, inner);
            }
            CompletableFuture<Throwable> other = CompletableFuture.supplyAsync(() -> {
                try {
                    RunLock.acquire(dir, "other thread").close();
                    return null;
                } catch (Throwable t) {
                    return t;
                }
            });
            Throwable t = other.get(30, TimeUnit.SECONDS);
            assertTrue(t instanceof IllegalArgumentException && t.getMessage().contains("another thread"),
                    String.valueOf(t));
            assertTrue(Files.readString(dir.resolve(RunLock.FILE)).contains("outer"), "still held after inner close");
        }
        try (RunLock again = RunLock.acquire(dir, "again")) {
            assertNull(again.staleHolder());
        }
    }
}
