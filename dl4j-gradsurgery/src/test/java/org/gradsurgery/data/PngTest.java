package org.gradsurgery.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class PngTest {
    @TempDir
    Path tmp;

    static final int W = 5;
    static final int H = 3;

    private Path write(BufferedImage img, String name) throws IOException {
        Path p = tmp.resolve(name);
        assertTrue(ImageIO.write(img, "png", p.toFile()), "no PNG writer for " + name);
        return p;
    }

    @Test
    void grey8() throws IOException {
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_BYTE_GRAY);
        WritableRaster r = img.getRaster();
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                r.setSample(x, y, 0, 17 * x + 60 * y);
            }
        }
        Path p = write(img, "g8.png");
        assertEquals(new Png.Info(Png.Kind.GREY, 8, W, H), Png.info(p));
        Sample s = Png.readImage(p);
        assertEquals(1, s.channels());
        assertArrayEquals(new int[]{H, W}, s.shape());
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                assertEquals(17 * x + 60 * y, s.imageData()[y * W + x], 0f);
                assertEquals(17 * x + 60 * y, Png.readLabels(p)[y * W + x]);
            }
        }
    }

    @Test
    void grey16KeepsFullRange() throws IOException {
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_USHORT_GRAY);
        WritableRaster r = img.getRaster();
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                r.setSample(x, y, 0, 65535 - 4099 * (x + W * y));
            }
        }
        Path p = write(img, "g16.png");
        assertEquals(new Png.Info(Png.Kind.GREY, 16, W, H), Png.info(p));
        float[] v = Png.readGrey(p).imageData();
        for (int i = 0; i < W * H; i++) {
            assertEquals(65535 - 4099 * i, v[i], 0f);
        }
    }

    @Test
    void rgbAsStoredAndAsGrey() throws IOException {
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                img.setRGB(x, y, (10 * x) << 16 | (20 * y) << 8 | (x + y));
            }
        }
        Path p = write(img, "rgb.png");
        assertEquals(Png.Kind.RGB, Png.info(p).kind());
        Sample s = Png.readImage(p);
        assertEquals(3, s.channels());
        float[] v = s.imageData();
        float[] g = Png.readGrey(p).imageData();
        for (int y = 0; y < H; y++) {
            for (int x = 0; x < W; x++) {
                int i = y * W + x;
                assertEquals(10 * x, v[i], 0f);
                assertEquals(20 * y, v[W * H + i], 0f);
                assertEquals(x + y, v[2 * W * H + i], 0f);
                assertEquals(0.299 * 10 * x + 0.587 * 20 * y + 0.114 * (x + y), g[i], 1e-4);
            }
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Png.readLabels(p));
        assertTrue(e.getMessage().contains("ColourMap"), e.getMessage());
    }

    @Test
    void rgbaDropsAlpha() throws IOException {
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_ARGB);
        for (int i = 0; i < W * H; i++) {
            img.setRGB(i % W, i / W, (i * 7) << 24 | 200 << 16 | 100 << 8 | i);
        }
        Path p = write(img, "rgba.png");
        assertEquals(Png.Kind.RGB_ALPHA, Png.info(p).kind());
        Sample s = Png.readImage(p);
        assertEquals(3, s.channels());
        assertEquals(4f, s.imageData()[2 * W * H + 4], 0f);
    }

    private static BufferedImage palette(int[][] rgb, int[] indices) {
        byte[] r = new byte[rgb.length];
        byte[] g = new byte[rgb.length];
        byte[] b = new byte[rgb.length];
        for (int i = 0; i < rgb.length; i++) {
            r[i] = (byte) rgb[i][0];
            g[i] = (byte) rgb[i][1];
            b[i] = (byte) rgb[i][2];
        }
        IndexColorModel cm = new IndexColorModel(8, rgb.length, r, g, b);
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_BYTE_INDEXED, cm);
        WritableRaster ras = img.getRaster();
        for (int i = 0; i < W * H; i++) {
            ras.setSample(i % W, i / W, 0, indices[i]);
        }
        return img;
    }

    @Test
    void paletteLabelsAreTheIndicesAndColoursMapThroughAColourMap() throws IOException {
        int[][] colours = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0}};
        int[] idx = new int[W * H];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = (i * 3) % 5;
        }
        Path p = write(palette(colours, idx), "pal.png");
        assertEquals(Png.Kind.PALETTE, Png.info(p).kind());
        assertArrayEquals(idx, Png.readLabels(p));
        // A colour map that reverses the palette order: class = 4 - index.
        ColourMap cm = ColourMap.ofRgb(Map.of(0x000000, 4, 0xFF0000, 3, 0x00FF00, 2, 0x0000FF, 1, 0xFFFF00, 0));
        int[] cls = Png.readLabels(p, cm);
        for (int i = 0; i < idx.length; i++) {
            assertEquals(4 - idx[i], cls[i]);
        }
        // As an image, a colour palette expands to RGB.
        Sample s = Png.readImage(p);
        assertEquals(3, s.channels());
        assertEquals(colours[idx[1]][0], s.imageData()[1], 0f);
        assertEquals(colours[idx[1]][1], s.imageData()[W * H + 1], 0f);
    }

    @Test
    void colourMaskWithAnUnmappedColourNamesThePixel() throws IOException {
        BufferedImage img = new BufferedImage(W, H, BufferedImage.TYPE_INT_RGB);
        img.setRGB(3, 2, 0x123456);
        Path p = write(img, "mask.png");
        ColourMap cm = ColourMap.ofRgb(Map.of(0x000000, 0));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Png.readLabels(p, cm));
        assertTrue(e.getMessage().contains("row 2, column 3") && e.getMessage().contains("#123456")
                && e.getMessage().contains("mask.png"), e.getMessage());
        int[] ok = Png.readLabels(p, ColourMap.ofRgb(Map.of(0x000000, 0, 0x123456, 2)));
        assertEquals(2, ok[2 * W + 3]);
        assertEquals(2, java.util.Arrays.stream(ok).sum());
    }

    @Test
    void pairSizeMismatchNamesBothFiles() throws IOException {
        Path a = write(new BufferedImage(W, H, BufferedImage.TYPE_BYTE_GRAY), "img.png");
        Path b = write(new BufferedImage(W + 1, H, BufferedImage.TYPE_BYTE_GRAY), "lab.png");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Png.readPair(a, b, null, true));
        assertTrue(e.getMessage().contains("img.png") && e.getMessage().contains("lab.png"), e.getMessage());
    }

    @Test
    void notAPngIsAnInvalidInputNamingTheFile() throws IOException {
        Path p = tmp.resolve("fake.png");
        Files.writeString(p, "this is text");
        assertThrows(org.gradsurgery.InvalidInputException.class, () -> Png.readImage(p));
        assertThrows(org.gradsurgery.InvalidInputException.class, () -> Png.readImage(tmp.resolve("missing.png")));
    }

    /** The committed ITK CT head slice: counts per grey value were computed with PIL/numpy when the set was prepared. */
    @Test
    void committedCtHeadSliceAndLabel() throws IOException {
        Path dir = RepositoryData.datasets().resolve("itk-cthead");
        Png.Info info = Png.info(dir.resolve("cthead1.png"));
        assertEquals(new Png.Info(Png.Kind.RGB, 8, 256, 256), info);
        Sample grey = Png.readGrey(dir.resolve("cthead1.png"));
        assertEquals(1, grey.channels());
        assertArrayEquals(new int[]{256, 256}, grey.shape());
        float min = Float.MAX_VALUE;
        float max = -Float.MAX_VALUE;
        for (float v : grey.imageData()) {
            min = Math.min(min, v);
            max = Math.max(max, v);
            assertEquals(Math.rint(v), v, 0f, "R = G = B must be taken exactly");
        }
        assertEquals(0f, min);
        assertEquals(255f, max);
        ColourMap cm = ColourMap.read(dir.resolve("classes.csv"));
        assertEquals(4, cm.numClasses());
        Sample pair = Png.readPair(dir.resolve("cthead1.png"), dir.resolve("cthead1Label.png"), cm, true);
        long[] counts = Labels.classCounts(pair.labelData(), 4, "cthead");
        // numpy.unique(cthead1Label.png): 0 -> 901, 92 -> 3042, 94 -> 10675, 163 -> 2529, 176 -> 48389
        assertArrayEquals(new long[]{48389 + 901, 3042, 10675, 2529}, counts);
        assertEquals("posterior_cranial_fossa", cm.names().get(2));
    }
}
