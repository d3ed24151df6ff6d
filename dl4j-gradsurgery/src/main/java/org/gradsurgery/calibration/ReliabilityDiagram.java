package org.gradsurgery.calibration;

import org.gradsurgery.io.AtomicFiles;
import org.gradsurgery.io.Charts;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;
import javax.imageio.ImageIO;

/**
 * Reliability diagrams as PNG, drawn with XChart in headless mode. XChart is an optional dependency of the library:
 * without it {@link #write} and {@link #render} throw an {@link IllegalStateException} naming it ({@link Charts}).
 *
 * <p>Each panel shows, for B equal-width confidence bins ({@link ReliabilityBins}):
 * <ul>
 *   <li>top, {@value #PANEL_WIDTH}×{@value #RELIABILITY_HEIGHT} px: a bar per non-empty bin at its accuracy acc_b
 *       (blue), a red "gap" bar between acc_b and the bin's mean confidence conf_b, and the dashed identity line
 *       of perfect calibration. Red above blue means over-confidence (conf_b &gt; acc_b). The title carries the
 *       ECE, MCE and voxel count;</li>
 *   <li>bottom, {@value #PANEL_WIDTH}×{@value #HISTOGRAM_HEIGHT} px: voxels per bin on a log scale, because
 *       segmentation puts most voxels in the most confident bin.</li>
 * </ul>
 * Several panels are drawn side by side (e.g. "Dice" next to "Dice + surgery"), so the PNG is
 * {@code panels·PANEL_WIDTH} × {@code RELIABILITY_HEIGHT + HISTOGRAM_HEIGHT} pixels. Files are written atomically
 * (temporary file in the same directory, then a move).
 *
 * <p>The style follows Guo et al. (ICML 2017), Fig. 1.
 */
public final class ReliabilityDiagram {
    /** Width of one panel in pixels. */
    public static final int PANEL_WIDTH = 520;
    /** Height of the accuracy-vs-confidence chart in pixels. */
    public static final int RELIABILITY_HEIGHT = 520;
    /** Height of the counts histogram in pixels. */
    public static final int HISTOGRAM_HEIGHT = 200;

    static {
        // AWT reads the property once; set it before any chart is built unless the user chose otherwise.
        if (System.getProperty("java.awt.headless") == null) {
            System.setProperty("java.awt.headless", "true");
        }
    }

    private ReliabilityDiagram() {
    }

    /**
     * One panel: a title and the bins to draw.
     *
     * @param title shown above the chart, followed by ECE, MCE and voxel count
     * @param bins the bins
     */
    public record Panel(String title, ReliabilityBins bins) {
        public Panel {
            Objects.requireNonNull(title, "title");
            Objects.requireNonNull(bins, "bins");
        }

        /** The top-label bins of a result, titled "{name} · top label". */
        public static Panel topLabel(String name, CalibrationResult result) {
            return new Panel(name + " · top label", result.topLabelBins());
        }

        /** The bins of class c of a result, titled "{name} · class {c}". */
        public static Panel ofClass(String name, CalibrationResult result, int c) {
            return new Panel(name + " · class " + c, result.classBins(c));
        }
    }

    /** Writes the panels side by side into one PNG (parent directories are created). */
    public static void write(Path png, Panel... panels) throws IOException {
        BufferedImage image = render(panels);
        AtomicFiles.write(png, tmp -> {
            if (!ImageIO.write(image, "png", tmp.toFile())) {
                throw new IOException("ReliabilityDiagram: no PNG writer available");
            }
        });
    }

    /** Renders the panels side by side. */
    public static BufferedImage render(Panel... panels) {
        // Before any XChart class is touched; the XChart calls live in ReliabilityCharts so that this class loads
        // (and can say what is missing) without it.
        Charts.require("ReliabilityDiagram");
        if (panels == null || panels.length == 0) {
            throw new IllegalArgumentException("ReliabilityDiagram: at least one panel is needed");
        }
        int height = RELIABILITY_HEIGHT + HISTOGRAM_HEIGHT;
        BufferedImage out = new BufferedImage(PANEL_WIDTH * panels.length, height, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, out.getWidth(), height);
            for (int i = 0; i < panels.length; i++) {
                Objects.requireNonNull(panels[i], "panel " + i);
                g.drawImage(ReliabilityCharts.reliability(panels[i]), i * PANEL_WIDTH, 0, null);
                g.drawImage(ReliabilityCharts.histogram(panels[i].bins()), i * PANEL_WIDTH, RELIABILITY_HEIGHT, null);
            }
        } finally {
            g.dispose();
        }
        return out;
    }
}
