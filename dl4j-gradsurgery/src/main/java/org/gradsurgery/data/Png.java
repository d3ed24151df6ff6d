package org.gradsurgery.data;

import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Locale;
import java.util.OptionalInt;
import javax.imageio.ImageIO;
import javax.imageio.ImageReader;
import javax.imageio.metadata.IIOMetadata;
import javax.imageio.stream.ImageInputStream;
import org.gradsurgery.InvalidInputException;
import org.w3c.dom.NamedNodeMap;
import org.w3c.dom.Node;

/**
 * PNG images and label masks through {@code javax.imageio} (no native code, no {@code datavec-data-image}).
 *
 * <p>Kinds (the PNG colour type): grey (1, 2, 4, 8, 16 bit), grey + alpha, RGB (8/16), RGB + alpha, palette.
 * Values are the stored samples, unscaled (a 16-bit grey pixel reads 0…65535, a 1-bit one 0 or 1). Alpha channels
 * are dropped. PNG carries no reliable physical spacing, so samples get spacing 1 and an identity affine; spatial
 * axes are (row, column).
 *
 * <ul>
 *   <li>{@link #readImage}: channels as stored (grey 1, RGB 3; a palette image expands to its colours, 1 channel
 *       when every pixel's colour is grey, else 3).</li>
 *   <li>{@link #readGrey}: one channel; RGB with R = G = B everywhere is taken exactly, other colours become
 *       ITU-R BT.601 luma {@code 0.299 R + 0.587 G + 0.114 B} (what PIL's {@code convert('L')} computes).</li>
 *   <li>{@link #readLabels(Path)}: a palette PNG yields its palette indices, a grey PNG its grey values; colour
 *       masks need {@link #readLabels(Path, ColourMap)}.</li>
 * </ul>
 */
public final class Png {
    private Png() {
    }

    /** The PNG colour type. */
    public enum Kind { GREY, GREY_ALPHA, RGB, RGB_ALPHA, PALETTE }

    /** What the header says. */
    public record Info(Kind kind, int bitDepth, int width, int height) {
    }

    private record Decoded(Info info, BufferedImage image) {
    }

    /** Reads only the header. */
    public static Info info(Path file) throws IOException {
        return decode(file, false).info();
    }

    private static Decoded decode(Path file, boolean pixels) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new InvalidInputException("PNG file not found: " + file);
        }
        try (ImageInputStream in = ImageIO.createImageInputStream(file.toFile())) {
            if (in == null) {
                throw new InvalidInputException("cannot open " + file);
            }
            Iterator<ImageReader> readers = ImageIO.getImageReadersByFormatName("png");
            ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, false);
                IIOMetadata meta;
                try {
                    meta = reader.getImageMetadata(0);
                } catch (IOException | RuntimeException e) {
                    throw new InvalidInputException(file + " is not a readable PNG: " + e.getMessage(), e);
                }
                Node ihdr = find(meta.getAsTree("javax_imageio_png_1.0"), "IHDR");
                if (ihdr == null) {
                    throw new InvalidInputException(file + ": PNG without IHDR");
                }
                NamedNodeMap at = ihdr.getAttributes();
                String colour = at.getNamedItem("colorType").getNodeValue();
                int depth = Integer.parseInt(at.getNamedItem("bitDepth").getNodeValue());
                int width = Integer.parseInt(at.getNamedItem("width").getNodeValue());
                int height = Integer.parseInt(at.getNamedItem("height").getNodeValue());
                Kind kind = switch (colour) {
                    case "Grayscale" -> Kind.GREY;
                    case "GrayAlpha" -> Kind.GREY_ALPHA;
                    case "RGB" -> Kind.RGB;
                    case "RGBAlpha" -> Kind.RGB_ALPHA;
                    case "Palette" -> Kind.PALETTE;
                    default -> throw new InvalidInputException(file + ": unknown PNG colour type " + colour);
                };
                Info info = new Info(kind, depth, width, height);
                if (!pixels) {
                    return new Decoded(info, null);
                }
                BufferedImage img;
                try {
                    img = reader.read(0);
                } catch (IOException | RuntimeException e) {
                    throw new InvalidInputException(file + ": PNG pixel data unreadable: " + e.getMessage(), e);
                }
                return new Decoded(info, img);
            } finally {
                reader.dispose();
            }
        }
    }

    private static Node find(Node node, String name) {
        if (name.equals(node.getNodeName())) {
            return node;
        }
        for (Node c = node.getFirstChild(); c != null; c = c.getNextSibling()) {
            Node f = find(c, name);
            if (f != null) {
                return f;
            }
        }
        return null;
    }

    /** Channels as stored (alpha dropped); see class doc. */
    public static Sample readImage(Path file) throws IOException {
        Decoded d = decode(file, true);
        return toSample(file, d, false);
    }

    /** One grey channel; see class doc. */
    public static Sample readGrey(Path file) throws IOException {
        Decoded d = decode(file, true);
        return toSample(file, d, true);
    }

    private static Sample toSample(Path file, Decoded d, boolean grey) {
        int w = d.info().width();
        int h = d.info().height();
        int n = w * h;
        Raster r = d.image().getRaster();
        float[][] ch;
        switch (d.info().kind()) {
            case GREY, GREY_ALPHA -> ch = new float[][]{band(r, 0, w, h)};
            case RGB, RGB_ALPHA -> ch = new float[][]{band(r, 0, w, h), band(r, 1, w, h), band(r, 2, w, h)};
            case PALETTE -> {
                IndexColorModel cm = (IndexColorModel) d.image().getColorModel();
                float[] idx = band(r, 0, w, h);
                float[][] rgb = new float[3][n];
                for (int i = 0; i < n; i++) {
                    int k = (int) idx[i];
                    rgb[0][i] = cm.getRed(k);
                    rgb[1][i] = cm.getGreen(k);
                    rgb[2][i] = cm.getBlue(k);
                }
                ch = rgb;
            }
            default -> throw new IllegalStateException();
        }
        boolean allGrey = ch.length == 1 || isGrey(ch);
        if (ch.length == 3 && (allGrey && (grey || d.info().kind() == Kind.PALETTE))) {
            ch = new float[][]{ch[0]};
        } else if (ch.length == 3 && grey) {
            float[] l = new float[n];
            for (int i = 0; i < n; i++) {
                l[i] = (float) (0.299 * ch[0][i] + 0.587 * ch[1][i] + 0.114 * ch[2][i]);
            }
            ch = new float[][]{l};
        }
        float[] data = new float[ch.length * n];
        for (int c = 0; c < ch.length; c++) {
            System.arraycopy(ch[c], 0, data, c * n, n);
        }
        return new Sample(name(file), data, ch.length, new int[]{h, w}, null, null, new double[]{1, 1},
                Sample.scaling(new double[]{1, 1}));
    }

    private static boolean isGrey(float[][] ch) {
        for (int i = 0; i < ch[0].length; i++) {
            if (ch[0][i] != ch[1][i] || ch[0][i] != ch[2][i]) {
                return false;
            }
        }
        return true;
    }

    private static float[] band(Raster r, int b, int w, int h) {
        int[] v = r.getSamples(r.getMinX(), r.getMinY(), w, h, b, (int[]) null);
        float[] f = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            f[i] = v[i];
        }
        return f;
    }

    /** Label ids: palette indices or grey values; an error for RGB masks (use a {@link ColourMap}). */
    public static int[] readLabels(Path file) throws IOException {
        Decoded d = decode(file, true);
        Kind k = d.info().kind();
        if (k != Kind.PALETTE && k != Kind.GREY && k != Kind.GREY_ALPHA) {
            throw new InvalidInputException(file + " is a " + k + " PNG: its colours need a ColourMap to become "
                    + "class ids (Png.readLabels(path, colourMap))");
        }
        Raster r = d.image().getRaster();
        return r.getSamples(r.getMinX(), r.getMinY(), d.info().width(), d.info().height(), 0, (int[]) null);
    }

    /**
     * Class ids through a colour map: grey PNGs look up their grey values, RGB and palette PNGs their colours.
     *
     * @throws IllegalArgumentException naming the file, pixel (row, column) and colour of the first unmapped pixel
     */
    public static int[] readLabels(Path file, ColourMap map) throws IOException {
        Decoded d = decode(file, true);
        int w = d.info().width();
        int h = d.info().height();
        Raster r = d.image().getRaster();
        int[] out = new int[w * h];
        Kind k = d.info().kind();
        int[] b0 = r.getSamples(r.getMinX(), r.getMinY(), w, h, 0, (int[]) null);
        int[] b1 = null;
        int[] b2 = null;
        IndexColorModel cm = null;
        if (k == Kind.RGB || k == Kind.RGB_ALPHA) {
            if (d.info().bitDepth() != 8) {
                throw new InvalidInputException(file + ": colour masks must be 8-bit RGB, got " + d.info().bitDepth()
                        + "-bit");
            }
            b1 = r.getSamples(r.getMinX(), r.getMinY(), w, h, 1, (int[]) null);
            b2 = r.getSamples(r.getMinX(), r.getMinY(), w, h, 2, (int[]) null);
        } else if (k == Kind.PALETTE) {
            cm = (IndexColorModel) d.image().getColorModel();
        }
        for (int i = 0; i < out.length; i++) {
            OptionalInt c;
            String colour;
            if (b1 != null) {
                int packed = (b0[i] << 16) | (b1[i] << 8) | b2[i];
                c = map.lookupRgb(packed);
                colour = String.format(Locale.ROOT, "#%06X", packed);
            } else if (cm != null) {
                int packed = cm.getRGB(b0[i]) & 0xFFFFFF;
                c = map.lookupRgb(packed);
                colour = String.format(Locale.ROOT, "#%06X (palette index %d)", packed, b0[i]);
            } else {
                c = map.lookupGrey(b0[i]);
                colour = "grey " + b0[i];
            }
            if (c.isEmpty()) {
                throw new InvalidInputException(file + ": pixel (row " + i / w + ", column " + i % w + ") has colour "
                        + colour + ", which is not in the colour map");
            }
            out[i] = c.getAsInt();
        }
        return out;
    }

    /**
     * An image and its label mask as one sample (image via {@link #readImage}, or {@link #readGrey} when
     * {@code grey}); the label through {@code map}, or {@link #readLabels(Path)} when {@code map} is null.
     *
     * @throws IllegalArgumentException naming both files when their sizes differ
     */
    public static Sample readPair(Path image, Path label, ColourMap map, boolean grey) throws IOException {
        Sample s = grey ? readGrey(image) : readImage(image);
        Info li = info(label);
        int[] shape = s.rawShape();
        if (li.height() != shape[0] || li.width() != shape[1]) {
            throw new IllegalArgumentException("image " + image + " is " + shape[0] + "x" + shape[1]
                    + " (rows x columns) but label " + label + " is " + li.height() + "x" + li.width());
        }
        return s.withLabel(map == null ? readLabels(label) : readLabels(label, map));
    }

    static String name(Path file) {
        String n = file.getFileName().toString();
        String lower = n.toLowerCase(Locale.ROOT);
        for (String ext : new String[]{".nii.gz", ".nii", ".png", ".img.gz", ".hdr.gz", ".img", ".hdr"}) {
            if (lower.endsWith(ext)) {
                return n.substring(0, n.length() - ext.length());
            }
        }
        return n;
    }
}
