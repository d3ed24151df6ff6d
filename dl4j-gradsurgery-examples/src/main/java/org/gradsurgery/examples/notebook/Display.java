package org.gradsurgery.examples.notebook;

import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.awt.image.RenderedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.internal.chartpart.Chart;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Pictures and tables in notebooks. A cell's last expression is shown by its MIME bundle ({@link #bundle}): an image
 * or an XChart chart as {@code image/png}, a {@link Table} as {@code text/html}, anything else as its
 * {@code toString}. {@link #show} sends a bundle mid-cell ({@code display_data}). This project's kernel and
 * {@code gradsurgery notebook run} both use these; JJava shows the images too.
 * <pre>
 * Display.image(chart)                      // last line of the cell, no semicolon
 * Display.row(diceChart, surgeryChart)      // several side by side
 * Display.heatmap("dL/dz", field2d, 4)       // a signed 2D field, blue &lt; 0 &lt; red
 * Display.overlay("prediction", t1, labels, 4) // labels over a grey image
 * Display.table(List.of("model", "ECE"), rows) // an HTML table
 * Display.show(chart);                      // now, and carry on
 * </pre>
 */
public final class Display {
    /** Gap between pictures placed side by side, in pixels. */
    static final int GAP = 8;

    private Display() {
    }

    /**
     * A table with a header row, shown as {@code text/html} (and aligned {@code text/plain}). Cells are strings;
     * {@link Display#table} formats numbers.
     *
     * @param header column names
     * @param rows one list per row, as long as the header
     */
    public record Table(List<String> header, List<List<String>> rows) {
        public Table {
            header = List.copyOf(header);
            List<List<String>> copy = new ArrayList<>();
            for (int i = 0; i < rows.size(); i++) {
                if (rows.get(i).size() != header.size()) {
                    throw new IllegalArgumentException("Display.table: row " + (i + 1) + " has " + rows.get(i).size()
                            + " cells, the header " + header.size());
                }
                copy.add(List.copyOf(rows.get(i)));
            }
            rows = List.copyOf(copy);
        }

        /** An HTML {@code <table>} (cells escaped). */
        public String toHtml() {
            StringBuilder sb = new StringBuilder("<table>\n<thead><tr>");
            header.forEach(h -> sb.append("<th>").append(escape(h)).append("</th>"));
            sb.append("</tr></thead>\n<tbody>\n");
            for (List<String> row : rows) {
                sb.append("<tr>");
                row.forEach(c -> sb.append("<td>").append(escape(c)).append("</td>"));
                sb.append("</tr>\n");
            }
            return sb.append("</tbody>\n</table>").toString();
        }

        /** Columns padded to their widest cell, two spaces apart. */
        @Override
        public String toString() {
            int[] w = new int[header.size()];
            for (int j = 0; j < w.length; j++) {
                w[j] = header.get(j).length();
                for (List<String> row : rows) {
                    w[j] = Math.max(w[j], row.get(j).length());
                }
            }
            StringBuilder sb = new StringBuilder();
            appendRow(sb, header, w);
            rows.forEach(r -> appendRow(sb.append('\n'), r, w));
            return sb.toString();
        }

        private static void appendRow(StringBuilder sb, List<String> cells, int[] w) {
            for (int j = 0; j < cells.size(); j++) {
                sb.append(j == 0 ? "" : "  ").append(String.format(Locale.ROOT, "%-" + w[j] + "s", cells.get(j)));
            }
            while (sb.length() > 0 && sb.charAt(sb.length() - 1) == ' ') {
                sb.setLength(sb.length() - 1);
            }
        }

        private static String escape(String s) {
            return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
        }
    }

    /**
     * A table of values: numbers (float/double) with 4 significant decimals ({@code %.4f}), anything else by
     * {@code String.valueOf}.
     */
    public static Table table(List<String> header, List<? extends List<?>> rows) {
        List<List<String>> cells = new ArrayList<>();
        for (List<?> row : rows) {
            List<String> r = new ArrayList<>();
            for (Object v : row) {
                r.add(v instanceof Double || v instanceof Float
                        ? String.format(Locale.ROOT, "%.4f", ((Number) v).doubleValue()) : String.valueOf(v));
            }
            cells.add(r);
        }
        return new Table(header, cells);
    }

    /**
     * The MIME bundle that shows {@code value}: {@code image/png} (base64) for an image or chart, {@code text/html}
     * for a {@link Table}, and always {@code text/plain}.
     */
    public static Map<String, String> bundle(Object value) {
        Map<String, String> out = new LinkedHashMap<>();
        BufferedImage img = asImage(value);
        if (img != null) {
            out.put("image/png", pngBase64(img));
            out.put("text/plain", "<image " + img.getWidth() + "x" + img.getHeight() + ">");
        } else if (value instanceof Table t) {
            out.put("text/html", t.toHtml());
            out.put("text/plain", t.toString());
        } else {
            out.put("text/plain", String.valueOf(value));
        }
        return out;
    }

    /**
     * Shows {@code value} now, as a {@code display_data} output of the running cell (in this project's kernel and
     * runner); outside a notebook it prints the text form.
     */
    public static void show(Object value) {
        NotebookSession.display(bundle(value));
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

    /**
     * A signed 2D field {@code [H, W]} (row = first axis) as colours on a symmetric scale: white at 0, full red at
     * +m and full blue at −m with m = max |v| (all white when m = 0), each value drawn as a {@code scale}×{@code scale}
     * block, with the title and m above it.
     */
    public static BufferedImage heatmap(String title, INDArray field, int scale) {
        double[][] v = matrix("heatmap", field);
        double m = 0;
        for (double[] row : v) {
            for (double x : row) {
                m = Math.max(m, Math.abs(x));
            }
        }
        final double limit = m;
        return draw(String.format(java.util.Locale.ROOT, "%s  (|max| %.3g)", title, limit), v.length, v[0].length,
                scale, (i, j) -> {
                    double t = limit == 0 ? 0 : Math.max(-1, Math.min(1, v[i][j] / limit));
                    int fade = (int) Math.round(255 * (1 - Math.abs(t)));
                    return t >= 0 ? new Color(255, fade, fade).getRGB() : new Color(fade, fade, 255).getRGB();
                });
    }

    /**
     * Class labels {@code [H, W]} (0 = background, drawn as the image only) over a grey image {@code [H, W]}
     * (min–max scaled), blended 50/50 in a fixed palette (class 1 red, 2 green, 3 blue, 4 yellow, 5 magenta, 6 cyan,
     * then repeating).
     */
    public static BufferedImage overlay(String title, INDArray image, INDArray labels, int scale) {
        double[][] img = matrix("overlay image", image);
        double[][] lab = matrix("overlay labels", labels);
        if (img.length != lab.length || img[0].length != lab[0].length) {
            throw new IllegalArgumentException("Display.overlay: image " + java.util.Arrays.toString(image.shape())
                    + " and labels " + java.util.Arrays.toString(labels.shape()) + " differ in shape");
        }
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (double[] row : img) {
            for (double x : row) {
                lo = Math.min(lo, x);
                hi = Math.max(hi, x);
            }
        }
        final double min = lo;
        final double range = hi > lo ? hi - lo : 1;
        return draw(title, img.length, img[0].length, scale, (i, j) -> {
            int g = (int) Math.round(255 * (img[i][j] - min) / range);
            int k = (int) Math.round(lab[i][j]);
            if (k <= 0) {
                return new Color(g, g, g).getRGB();
            }
            Color c = PALETTE[(k - 1) % PALETTE.length];
            return new Color((g + c.getRed()) / 2, (g + c.getGreen()) / 2, (g + c.getBlue()) / 2).getRGB();
        });
    }

    private static final Color[] PALETTE = {Color.RED, Color.GREEN, Color.BLUE, Color.YELLOW, Color.MAGENTA,
        Color.CYAN};
    private static final int TITLE_HEIGHT = 18;

    private interface Pixel {
        int rgb(int i, int j);
    }

    private static BufferedImage draw(String title, int h, int w, int scale, Pixel pixel) {
        if (scale < 1) {
            throw new IllegalArgumentException("Display: scale must be >= 1, is " + scale);
        }
        BufferedImage out = new BufferedImage(Math.max(w * scale, 8 * title.length()), h * scale + TITLE_HEIGHT,
                BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, out.getWidth(), out.getHeight());
            g.setRenderingHint(RenderingHints.KEY_TEXT_ANTIALIASING, RenderingHints.VALUE_TEXT_ANTIALIAS_ON);
            g.setColor(Color.BLACK);
            g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
            g.drawString(title, 2, TITLE_HEIGHT - 5);
            for (int i = 0; i < h; i++) {
                for (int j = 0; j < w; j++) {
                    g.setColor(new Color(pixel.rgb(i, j)));
                    g.fillRect(j * scale, TITLE_HEIGHT + i * scale, scale, scale);
                }
            }
        } finally {
            g.dispose();
        }
        return out;
    }

    private static double[][] matrix(String what, INDArray a) {
        if (a == null || a.rank() != 2 || a.length() == 0) {
            throw new IllegalArgumentException("Display." + what + ": expected a non-empty 2D array [H, W], got "
                    + (a == null ? "null" : java.util.Arrays.toString(a.shape())));
        }
        return a.castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE).toDoubleMatrix();
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
