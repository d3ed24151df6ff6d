package org.gradsurgery.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The MSD layout check and extraction, on archives fabricated in the documented layout (no network here). */
class MsdDatasetTest {
    static final String TASK = "Task04_Hippocampus";

    @TempDir
    Path tmp;

    /** Tars {@code dir} (entries named {@code <dir name>/...}), adding a macOS {@code ._} file as the real archives have. */
    static Path tar(Path dir, Path archive, String... extraEntries) throws IOException {
        try (OutputStream out = Files.newOutputStream(archive);
             TarArchiveOutputStream tar = new TarArchiveOutputStream(out)) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            List<Path> all;
            try (Stream<Path> s = Files.walk(dir)) {
                all = new ArrayList<>(s.sorted().toList());
            }
            for (Path p : all) {
                String name = dir.getFileName() + (p.equals(dir) ? "" : "/" + dir.relativize(p).toString().replace('\\', '/'));
                TarArchiveEntry e = new TarArchiveEntry(p.toFile(), name);
                tar.putArchiveEntry(e);
                if (Files.isRegularFile(p)) {
                    Files.copy(p, tar);
                }
                tar.closeArchiveEntry();
            }
            byte[] fork = "AppleDouble".getBytes(StandardCharsets.US_ASCII);
            List<String> extras = new ArrayList<>(List.of(dir.getFileName() + "/imagesTr/._case_000.nii.gz"));
            extras.addAll(List.of(extraEntries));
            for (String x : extras) {
                TarArchiveEntry e = new TarArchiveEntry(x);
                e.setSize(fork.length);
                tar.putArchiveEntry(e);
                tar.write(fork);
                tar.closeArchiveEntry();
            }
        }
        return archive;
    }

    private Path fabricated(int modalities) throws IOException {
        Path src = Files.createDirectories(tmp.resolve("src"));
        Path dir = SegmentationIteratorTest.writeMsd(src, TASK, 3, 2, modalities);
        return tar(dir, tmp.resolve(TASK + ".tar"));
    }

    @Test
    void extractsValidatesAndSummarises() throws IOException {
        Path archive = fabricated(1);
        Path dest = tmp.resolve("out");
        Path root = MsdDataset.extract(archive, dest);
        assertEquals(dest.toAbsolutePath().resolve(TASK), root);
        assertFalse(Files.exists(root.resolve("imagesTr/._case_000.nii.gz")), "resource forks are skipped");
        try (Stream<Path> s = Files.list(dest)) {
            assertEquals(List.of(TASK), s.map(p -> p.getFileName().toString()).toList(), "no temporary folder left");
        }
        MsdDataset msd = MsdDataset.open(root);
        assertEquals(3, msd.trainingCases().size());
        assertEquals(2, msd.testImages().size());
        assertEquals("Fake", msd.name());
        assertTrue(msd.unreferencedFiles().isEmpty());
        assertTrue(msd.checkFirstCase().startsWith("case_000: shape [8, 6, 4] x 1 channel(s)"), msd.checkFirstCase());
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        msd.printSummary(new PrintStream(buf, true, StandardCharsets.UTF_8));
        String summary = buf.toString(StandardCharsets.UTF_8);
        assertTrue(summary.contains("training   : 3 cases") && summary.contains("test       : 2 images")
                && summary.contains("[background, anterior, posterior]"), summary);
        IllegalArgumentException again = assertThrows(IllegalArgumentException.class, () -> MsdDataset.extract(archive, dest));
        assertTrue(again.getMessage().contains("already exists"), again.getMessage());
    }

    @Test
    void layoutProblemsAreListedTogether() throws IOException {
        Path dir = SegmentationIteratorTest.writeMsd(tmp, TASK, 2, 1, 1);
        String json = Files.readString(dir.resolve("dataset.json"));
        Files.writeString(dir.resolve("dataset.json"), json.replace("\"numTraining\":2", "\"numTraining\":5")
                .replace("\"1\":\"anterior\"", "\"7\":\"anterior\""));
        Files.delete(dir.resolve("labelsTr/case_001.nii.gz"));
        Files.delete(dir.resolve("imagesTs/case_100.nii.gz"));
        Files.delete(dir.resolve("imagesTs"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MsdDataset.open(dir));
        String m = e.getMessage();
        assertTrue(m.contains("'numTraining' is 5 but the list has 2"), m);
        assertTrue(m.contains("labelsTr/case_001.nii.gz"), m);
        assertTrue(m.contains("test[0]: missing file imagesTs/case_100.nii.gz"), m);
        assertTrue(!m.contains("missing folder imagesTs/"), "imagesTs/ itself is optional: " + m);
        assertTrue(m.contains("'labels' keys must be 0..2"), m);
        Files.delete(dir.resolve("dataset.json"));
        assertThrows(IllegalArgumentException.class, () -> MsdDataset.open(dir));
    }

    @Test
    void aTaskFolderWithoutImagesTsOpens() throws IOException {
        Path dir = SegmentationIteratorTest.writeMsd(tmp, TASK, 2, 0, 1);
        if (Files.isDirectory(dir.resolve("imagesTs"))) {
            Files.delete(dir.resolve("imagesTs"));
        }
        MsdDataset msd = MsdDataset.open(dir);
        assertEquals(2, msd.trainingCases().size());
        assertEquals(0, msd.testImages().size());
    }

    @Test
    void modalityCountMustMatchTheImageChannels() throws IOException {
        Path dir = SegmentationIteratorTest.writeMsd(tmp, TASK, 1, 0, 2);
        String json = Files.readString(dir.resolve("dataset.json"));
        Files.writeString(dir.resolve("dataset.json"), json.replace(",\"1\":\"MRI1\"", ""));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MsdDataset.open(dir).checkFirstCase());
        assertTrue(e.getMessage().contains("2 channel(s)") && e.getMessage().contains("1 modalities"), e.getMessage());
    }

    @Test
    void unsafeOrMalformedArchivesAreRejected() throws IOException {
        Path src = Files.createDirectories(tmp.resolve("src"));
        Path dir = SegmentationIteratorTest.writeMsd(src, TASK, 1, 0, 1);
        Path evil = tar(dir, tmp.resolve("evil.tar"), "../escaped.txt");
        Path dest = tmp.resolve("dest");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> MsdDataset.extract(evil, dest));
        assertTrue(e.getMessage().contains("outside"), e.getMessage());
        assertFalse(Files.exists(tmp.resolve("escaped.txt")));
        try (Stream<Path> s = Files.list(dest)) {
            assertEquals(0, s.count(), "a failed extraction leaves nothing behind");
        }
        Path two = tar(dir, tmp.resolve("two.tar"), "Other/readme.txt");
        e = assertThrows(IllegalArgumentException.class, () -> MsdDataset.extract(two, dest));
        assertTrue(e.getMessage().contains("one top-level"), e.getMessage());
        Path text = tmp.resolve("text.tar");
        Files.writeString(text, "not a tar at all, just some text that is long enough to fill a header block? no.");
        assertThrows(Exception.class, () -> MsdDataset.extract(text, dest));
    }

    /** The shell script end to end, when bash is available: it must extract, validate and print the summary. */
    @Test
    void fetchAndPrepareScriptOnAFabricatedArchive() throws Exception {
        Path bash = Path.of("/bin/bash");
        assumeTrue(Files.isExecutable(bash), "bash not available");
        Path script = RepositoryData.datasets().resolve("msd/fetch_and_prepare.sh");
        Path archive = fabricated(2);
        Path dest = tmp.resolve("data");
        Result ok = run(bash, script, archive.toString(), dest.toString());
        assertEquals(0, ok.code, ok.out + ok.err);
        assertTrue(ok.out.contains("OK: layout matches the MSD documentation"), ok.out);
        assertTrue(ok.out.contains("modalities : [MRI0, MRI1]"), ok.out);
        assertTrue(ok.out.contains("x 2 channel(s)"), ok.out);
        assertTrue(Files.isRegularFile(dest.resolve(TASK + "/dataset.json")));

        Path broken = SegmentationIteratorTest.writeMsd(tmp.resolve("b"), "Task02_Heart", 1, 0, 1);
        Files.delete(broken.resolve("labelsTr/case_000.nii.gz"));
        Result bad = run(bash, script, broken.toString(), dest.toString());
        assertEquals(1, bad.code, bad.out + bad.err);
        assertTrue(bad.err.contains("labelsTr/case_000.nii.gz"), bad.err);

        // a task without a built-in mirror URL (Task02/04/09 have one and would download)
        Result noUrl = run(bash, script, "Task05_Prostate", dest.toString());
        assertEquals(2, noUrl.code);
        assertTrue(noUrl.err.contains("MSD_URL"), noUrl.err);
    }

    private record Result(int code, String out, String err) {
    }

    private static Result run(Path bash, Path script, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(bash.toString(), script.toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().put("GRADSURGERY_CLASSPATH", System.getProperty("java.class.path"));
        pb.environment().put("JAVA", Path.of(System.getProperty("java.home"), "bin", "java").toString());
        pb.environment().remove("MSD_URL");
        // stderr to a file, so neither stream can fill its pipe while the other is read
        Path errFile = Files.createTempFile("msd-script", ".err");
        pb.redirectError(errFile.toFile());
        try {
            Process p = pb.start();
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "script timed out");
            return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8), Files.readString(errFile));
        } finally {
            Files.deleteIfExists(errFile);
        }
    }
}
