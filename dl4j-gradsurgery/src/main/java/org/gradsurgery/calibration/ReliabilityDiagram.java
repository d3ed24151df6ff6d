package org.gradsurgery.calibration;

import org.gradsurgery.io.AtomicFiles;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Objects;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Reliability diagrams as PNG, drawn with XChart in headless mode.
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

    private static final Color ACCURACY = new Color(0x1f, 0x5f, 0xbf);
    private static final Color GAP = new Color(0xd6, 0x27, 0x28, 150);
    private static final Color COUNTS = new Color(0x55, 0x55, 0x55);

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
                g.drawImage(BitmapEncoder.getBufferedImage(reliabilityChart(panels[i])), i * PANEL_WIDTH, 0, null);
                g.drawImage(BitmapEncoder.getBufferedImage(histogram(panels[i].bins())), i * PANEL_WIDTH,
                        RELIABILITY_HEIGHT, null);
            }
        } finally {
            g.dispose();
        }
        return out;
    }

    private static XYChart reliabilityChart(Panel panel) {
        ReliabilityBins bins = panel.bins();
        XYChart chart = new XYChart(PANEL_WIDTH, RELIABILITY_HEIGHT);
        chart.setTitle(String.format(Locale.ROOT, "%s   ECE %.4f  MCE %.4f  n=%d", panel.title(), bins.ece(),
                bins.mce(), bins.totalCount()));
        chart.setXAxisTitle("confidence");
        chart.setYAxisTitle("accuracy");
        style(chart);
        chart.getStyler().setYAxisMax(1.0).setYAxisMin(0.0);
        chart.getStyler().setYAxisDecimalPattern("0.0");
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
        int b = bins.bins();
        boolean firstAcc = true;
        boolean firstGap = true;
        for (int k = 0; k < b; k++) {
            if (bins.count(k) == 0) {
                continue;
            }
            double lo = k / (double) b;
            double hi = (k + 1) / (double) b;
            double acc = bins.accuracy(k);
            double conf = bins.meanConfidence(k);
            XYSeries bar = rectangle(chart, firstAcc ? "accuracy" : "acc" + k, lo, hi, 0, acc, ACCURACY);
            bar.setShowInLegend(firstAcc);
            firstAcc = false;
            XYSeries gap = rectangle(chart, firstGap ? "gap to mean confidence" : "gap" + k, lo, hi,
                    Math.min(acc, conf), Math.max(acc, conf), GAP);
            gap.setShowInLegend(firstGap);
            firstGap = false;
        }
        XYSeries diagonal = chart.addSeries("perfect calibration", new double[]{0, 1}, new double[]{0, 1});
        diagonal.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
        diagonal.setMarker(SeriesMarkers.NONE);
        diagonal.setLineColor(Color.DARK_GRAY);
        diagonal.setLineStyle(new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10,
                new float[]{6, 4}, 0));
        return chart;
    }

    private static XYChart histogram(ReliabilityBins bins) {
        XYChart chart = new XYChart(PANEL_WIDTH, HISTOGRAM_HEIGHT);
        chart.setXAxisTitle("confidence");
        chart.setYAxisTitle("voxels (log)");
        style(chart);
        chart.getStyler().setLegendVisible(false);
        chart.getStyler().setYAxisLogarithmic(true);
        // Three-character labels (1E0 … 1E9), as wide as the 0.0 … 1.0 above, keep the two plots aligned.
        chart.getStyler().setYAxisDecimalPattern("0E0");
        long max = 1;
        int b = bins.bins();
        for (int k = 0; k < b; k++) {
            long n = bins.count(k);
            max = Math.max(max, n);
            if (n > 0) {
                // Bars start at 0.5 so that a single voxel is still visible on the log axis.
                rectangle(chart, "n" + k, k / (double) b, (k + 1) / (double) b, 0.5, n, COUNTS);
            }
        }
        chart.getStyler().setYAxisMin(0.5).setYAxisMax(max * 2.0);
        if (bins.totalCount() == 0) {
            XYSeries none = chart.addSeries("no voxels", new double[]{0, 1}, new double[]{1, 1});
            none.setMarker(SeriesMarkers.NONE);
            none.setLineColor(Color.WHITE);
        }
        return chart;
    }

    private static void style(XYChart chart) {
        // A hair above 1 so the axis tick calculator, which steps 0.1 ten times to 1.0000000000000002, keeps "1.0".
        chart.getStyler().setXAxisMin(0.0).setXAxisMax(1.0 + 1e-9);
        chart.getStyler().setChartBackgroundColor(Color.WHITE);
        chart.getStyler().setPlotBackgroundColor(Color.WHITE);
        chart.getStyler().setChartTitleFont(new Font(Font.SANS_SERIF, Font.BOLD, 13));
        chart.getStyler().setAxisTitleFont(new Font(Font.SANS_SERIF, Font.PLAIN, 12));
        chart.getStyler().setAxisTickLabelsFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        chart.getStyler().setLegendFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        chart.getStyler().setXAxisDecimalPattern("0.0");
        chart.getStyler().setAntiAlias(true);
        chart.getStyler().setMarkerSize(0);
    }

    private static XYSeries rectangle(XYChart chart, String name, double x0, double x1, double y0, double y1,
                                      Color color) {
        XYSeries s = chart.addSeries(name, new double[]{x0, x0, x1, x1, x0}, new double[]{y0, y1, y1, y0, y0});
        s.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.PolygonArea);
        s.setMarker(SeriesMarkers.NONE);
        s.setFillColor(color);
        s.setLineColor(color.darker());
        s.setLineWidth(0.8f);
        return s;
    }
}
