package org.gradsurgery.calibration;

import static org.gradsurgery.calibration.ReliabilityDiagram.HISTOGRAM_HEIGHT;
import static org.gradsurgery.calibration.ReliabilityDiagram.PANEL_WIDTH;
import static org.gradsurgery.calibration.ReliabilityDiagram.RELIABILITY_HEIGHT;

import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.image.BufferedImage;
import java.util.Locale;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * The XChart half of {@link ReliabilityDiagram}: the two charts of one panel, rendered to images. Kept apart because
 * XChart is optional; only {@link ReliabilityDiagram#render} reaches this class, after checking that XChart is there.
 */
final class ReliabilityCharts {

    private static final Color ACCURACY = new Color(0x1f, 0x5f, 0xbf);
    private static final Color GAP = new Color(0xd6, 0x27, 0x28, 150);
    private static final Color COUNTS = new Color(0x55, 0x55, 0x55);

    private ReliabilityCharts() {
    }

    /** The accuracy-vs-confidence chart of a panel, {@code PANEL_WIDTH × RELIABILITY_HEIGHT}. */
    static BufferedImage reliability(ReliabilityDiagram.Panel panel) {
        return BitmapEncoder.getBufferedImage(reliabilityChart(panel));
    }

    /** The voxel-count histogram, {@code PANEL_WIDTH × HISTOGRAM_HEIGHT}. */
    static BufferedImage histogram(ReliabilityBins bins) {
        return BitmapEncoder.getBufferedImage(histogramChart(bins));
    }

    private static XYChart reliabilityChart(ReliabilityDiagram.Panel panel) {
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

    private static XYChart histogramChart(ReliabilityBins bins) {
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
