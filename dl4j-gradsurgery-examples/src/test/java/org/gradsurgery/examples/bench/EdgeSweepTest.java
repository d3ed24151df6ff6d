package org.gradsurgery.examples.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code bench unet --edges}' figures: parsing a child's output, the CSV and the PNG (no timing). */
class EdgeSweepTest {

    private static final List<String> OUTPUT = List.of(
            "  iteration 1: 900 ms, CPU 880 ms (score 0.4682)",
            "DL4J:    median 1213 ms/iteration, min 1190 ms, 0.82 samples/s; CPU 1310 ms/iteration",
            "memory: peak RSS 536 MiB, off-heap (JavaCPP Pointer.totalBytes) 0 MiB, physical now 500 MiB",
            "PyTorch: median 1216 ms/iteration, min 1200 ms, 0.82 samples/s; CPU 1216 ms/iteration (torch 1.13.0, 1 "
                    + "threads, 85,026 parameters, peak RSS 529 MiB)",
            "ratio DL4J/PyTorch per sample, same run: wall 1.00x (median), CPU 1.08x (median)");

    @Test
    void parsesTheFiguresOfOneRun() {
        EdgeSweep.Row r = EdgeSweep.parse(64, 1, OUTPUT);
        assertEquals(new EdgeSweep.Row(64, 1, 1213, 1310, 536, 1216, 1216, 529), r);
        assertEquals(536.0 / 529, r.rssRatio(), 1e-12);
        // without a peer the PyTorch figures are NaN, and a failed child names the edge
        EdgeSweep.Row alone = EdgeSweep.parse(32, 2, OUTPUT.subList(0, 3));
        assertTrue(Double.isNaN(alone.torchPeakMiB()));
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> EdgeSweep.parse(96, 2, List.of("Exception in thread main")));
        assertTrue(e.getMessage().contains("--size 96 --batch 2"), e.getMessage());
    }

    @Test
    void writesTheCsvAndAPngWithBothPanels(@TempDir Path dir) throws Exception {
        List<EdgeSweep.Row> rows = List.of(new EdgeSweep.Row(32, 1, 100, 90, 218, 120, 110, 395),
                EdgeSweep.parse(64, 1, OUTPUT), new EdgeSweep.Row(96, 1, 3000, 2900, 900, Double.NaN, Double.NaN,
                        Double.NaN));
        Path out = dir.resolve("sweep");
        EdgeSweep.write(out, rows, "test");
        List<String> csv = Files.readAllLines(out.resolve("edges.csv"));
        assertEquals(4, csv.size());
        assertEquals("edge,batch,dl4j_ms,dl4j_cpu_ms,dl4j_peak_rss_mib,torch_ms,torch_cpu_ms,torch_peak_rss_mib,"
                + "peak_rss_ratio,cpu_ratio", csv.get(0));
        assertEquals("32,1,100,90,218,120,110,395,0.552,0.818", csv.get(1));
        assertEquals("96,1,3000,2900,900,,,,,", csv.get(3));
        BufferedImage png = ImageIO.read(out.resolve("edges.png").toFile());
        assertEquals(1280, png.getWidth());
        assertEquals(440, png.getHeight());
        try (var files = Files.list(out)) {
            assertEquals(2, files.count(), "no temporary files left behind");
        }
    }
}
