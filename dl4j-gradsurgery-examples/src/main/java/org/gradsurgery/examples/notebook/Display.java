package org.gradsurgery.examples.notebook;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.awt.image.RenderedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Base64;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.internal.chartpart.Chart;

/**
 * Pictures in notebooks: turns an XChart chart or an image into a {@link BufferedImage}, which both Java kernels
 * (BeakerX, JJava) and {@code gradsurgery notebook run} show as a PNG when it is the value of a cell's last
 * expression:
 * <pre>
 * Display.image(chart)                      // last line of the cell, no semicolon
 * Display.row(diceChart, surgeryChart)      // several side by side
 * </pre>
 */
public final class Display {
    /** Gap between pictures placed side by side, in pixels. */
    static final int GAP = 8;

    private Display() {
    }

    /**
     * The picture as an image: a {@link RenderedImage} as is (copied into a {@link BufferedImage} if needed), an
     * XChart chart rendered at its own size.
     *
     * @throws IllegalArgumentException for anything else, naming its class
     */
    public static BufferedImage image(Object picture) {
        BufferedImage img = asImage(picture);
        if (img == null) {
            throw new IllegalArgumentException("Display.image: cannot show a "
                    + (picture == null ? "null" : picture.getClass().getName())
                    + " (expected a java.awt.image.RenderedImage or an XChart chart)");
        }
        return img;
    }

    /** The pictures side by side, top-aligned on white, {@value #GAP} px apart. */
    public static BufferedImage row(Object... pictures) {
        if (pictures.length == 0) {
            throw new IllegalArgumentException("Display.row: no pictures");
        }
        BufferedImage[] imgs = new BufferedImage[pictures.length];
        int w = GAP * (pictures.length - 1);
        int h = 0;
        for (int i = 0; i < pictures.length; i++) {
            imgs[i] = image(pictures[i]);
            w += imgs[i].getWidth();
            h = Math.max(h, imgs[i].getHeight());
        }
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, w, h);
            int x = 0;
            for (BufferedImage img : imgs) {
                g.drawImage(img, x, 0, null);
                x += img.getWidth() + GAP;
            }
        } finally {
            g.dispose();
        }
        return out;
    }

    /** {@code value} as an image when it is one or a chart, else null (the runner's test for a picture). */
    static BufferedImage asImage(Object value) {
        if (value instanceof BufferedImage b) {
            return b;
        }
        if (value instanceof RenderedImage r) {
            BufferedImage b = new BufferedImage(r.getWidth(), r.getHeight(), BufferedImage.TYPE_INT_ARGB);
            Graphics2D g = b.createGraphics();
            try {
                g.drawRenderedImage(r, new java.awt.geom.AffineTransform());
            } finally {
                g.dispose();
            }
            return b;
        }
        if (value instanceof Chart<?, ?> chart) {
            return BitmapEncoder.getBufferedImage(chart);
        }
        return null;
    }

    /** The image as base64 PNG, as nbformat stores {@code image/png}. */
    static String pngBase64(RenderedImage img) {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try {
            if (!ImageIO.write(img, "png", bytes)) {
                throw new IllegalStateException("no PNG writer in this JVM");
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return Base64.getEncoder().encodeToString(bytes.toByteArray());
    }
}
