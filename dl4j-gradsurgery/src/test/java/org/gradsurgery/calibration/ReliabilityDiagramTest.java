package org.gradsurgery.calibration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.stream.Stream;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

class ReliabilityDiagramTest {
    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a};

    /** Binary voxels whose true positive rate is 0.5 + shrink·(u − 0.5) while the model says u. */
    static CalibrationResult synthetic(long seed, double shrink) {
        Random rnd = new Random(seed);
        int s = 50_000;
        double[] p = new double[2 * s];
        double[] y = new double[s];
        for (int i = 0; i < s; i++) {
            double u = rnd.nextDouble();
            p[i] = 1 - u;
            p[s + i] = u;
            y[i] = rnd.nextDouble() < 0.5 + shrink * (u - 0.5) ? 1 : 0;
        }
        CalibrationMetrics m = CalibrationMetrics.builder().numClasses(2).bins(10).build();
        m.update(Nd4j.create(p, new long[]{1, 2, s}, DataType.FLOAT), Nd4j.create(y, new long[]{1, s}, DataType.INT));
        return m.result();
    }

    @Test
    void writesAValidPngOfTheDocumentedSize(@TempDir Path dir) throws IOException {
        CalibrationResult over = synthetic(1, 0.5);
        Path png = dir.resolve("sub/top.png");
        ReliabilityDiagram.write(png, ReliabilityDiagram.Panel.topLabel("Dice", over));
        byte[] bytes = Files.readAllBytes(png);
        assertArrayEquals(PNG_SIGNATURE, Arrays.copyOf(bytes, 8));
        // IHDR: width and height are the big-endian ints at offsets 16 and 20.
        int w = ByteBuffer.wrap(bytes, 16, 4).getInt();
        int h = ByteBuffer.wrap(bytes, 20, 4).getInt();
        assertEquals(ReliabilityDiagram.PANEL_WIDTH, w);
        assertEquals(ReliabilityDiagram.RELIABILITY_HEIGHT + ReliabilityDiagram.HISTOGRAM_HEIGHT, h);
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(w, img.getWidth());
        // The accuracy bars (blue) and the gap bars (red) are really drawn.
        assertTrue(countPixels(img, 0, w, 0x1f, 0x5f, 0xbf) > 2000, "blue accuracy bars");
        assertTrue(countRedish(img, 0, w) > 500, "red gap bars");
        try (Stream<Path> files = Files.list(png.getParent())) {
            assertEquals(1, files.count(), "no temporary file left behind");
        }
    }

    @Test
    void drawsTwoResultsSideBySideAndPerClass(@TempDir Path dir) throws IOException {
        CalibrationResult over = synthetic(2, 0.5);
        CalibrationResult calibrated = synthetic(3, 1.0);
        Path png = dir.resolve("compare.png");
        ReliabilityDiagram.write(png, ReliabilityDiagram.Panel.topLabel("Dice", over),
                ReliabilityDiagram.Panel.topLabel("Dice + surgery", calibrated));
        BufferedImage img = ImageIO.read(png.toFile());
        assertEquals(2 * ReliabilityDiagram.PANEL_WIDTH, img.getWidth());
        assertEquals(ReliabilityDiagram.RELIABILITY_HEIGHT + ReliabilityDiagram.HISTOGRAM_HEIGHT, img.getHeight());
        // The over-confident panel has much more red (gap) than the calibrated one.
        int w = ReliabilityDiagram.PANEL_WIDTH;
        assertTrue(countRedish(img, 0, w) > 3 * countRedish(img, w, 2 * w));
        // Overwrites atomically.
        ReliabilityDiagram.write(png, ReliabilityDiagram.Panel.ofClass("Dice", over, 1));
        assertEquals(w, ImageIO.read(png.toFile()).getWidth());
        // An empty result still renders (no bars).
        CalibrationResult empty = CalibrationMetrics.builder().numClasses(2).build().result();
        ReliabilityDiagram.write(dir.resolve("empty.png"), ReliabilityDiagram.Panel.topLabel("none", empty));
        assertTrue(Files.size(dir.resolve("empty.png")) > 0);
        assertThrows(IllegalArgumentException.class, () -> ReliabilityDiagram.render());
    }

    private static int countPixels(BufferedImage img, int x0, int x1, int r, int g, int b) {
        int n = 0;
        for (int x = x0; x < x1; x++) {
            for (int y = 0; y < ReliabilityDiagram.RELIABILITY_HEIGHT; y++) {
                int rgb = img.getRGB(x, y);
                if (Math.abs(((rgb >> 16) & 255) - r) < 12 && Math.abs(((rgb >> 8) & 255) - g) < 12
                        && Math.abs((rgb & 255) - b) < 12) {
                    n++;
                }
            }
        }
        return n;
    }

    /** Pixels where red clearly dominates: the translucent gap colour over white or over blue. */
    private static int countRedish(BufferedImage img, int x0, int x1) {
        int n = 0;
        for (int x = x0; x < x1; x++) {
            for (int y = 0; y < ReliabilityDiagram.RELIABILITY_HEIGHT; y++) {
                int rgb = img.getRGB(x, y);
                int r = (rgb >> 16) & 255, g = (rgb >> 8) & 255, b = rgb & 255;
                if (r > 150 && r > g + 60 && r > b + 40) {
                    n++;
                }
            }
        }
        return n;
    }
}
