package org.gradsurgery.examples.bench;

import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.imageio.ImageIO;
import org.gradsurgery.io.AtomicFiles;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;

/**
 * The figures of {@code bench unet --edges}: one row per patch edge E (input 1×E³, fixed batch), each from a fresh
 * DL4J process and a fresh PyTorch peer, and the files they are written to: a CSV and a PNG with peak RSS (MiB)
 * and median training-step time (wall and process CPU ms) against E for both frameworks.
 *
 * <p>Peak RSS is per process (VmHWM), which is why every edge runs in its own JVM: a process that ran a larger
 * patch first would keep its high-water mark.
 */
final class EdgeSweep {

    /** One patch edge; a NaN PyTorch figure means the peer did not run. */
    record Row(int edge, int batch, double dl4jMs, double dl4jCpuMs, double dl4jPeakMiB, double torchMs,
               double torchCpuMs, double torchPeakMiB) {

        double rssRatio() {
            return dl4jPeakMiB / torchPeakMiB;
        }

        double cpuRatio() {
            return dl4jCpuMs / torchCpuMs;
        }
    }

    private static final Pattern DL4J = Pattern.compile(
            "^DL4J: +median ([0-9.]+) ms/iteration.*; CPU ([0-9.]+) ms/iteration");
    private static final Pattern MEMORY = Pattern.compile("^memory: peak RSS ([0-9]+) MiB");
    private static final Pattern TORCH = Pattern.compile(
            "^PyTorch: median ([0-9.]+) ms/iteration.*; CPU ([0-9.]+) ms/iteration .*peak RSS ([0-9]+) MiB\\)");

    private EdgeSweep() {
    }

    /**
     * The row of one {@code bench unet} run from its output lines (the "DL4J:", "memory:" and "PyTorch:" lines);
     * throws {@link IllegalStateException} naming the edge when the DL4J figures are missing (the child failed).
     */
    static Row parse(int edge, int batch, List<String> lines) {
        double ms = Double.NaN;
        double cpu = Double.NaN;
        double peak = Double.NaN;
        double tMs = Double.NaN;
        double tCpu = Double.NaN;
        double tPeak = Double.NaN;
        for (String line : lines) {
            Matcher m;
            if ((m = DL4J.matcher(line)).find()) {
                ms = Double.parseDouble(m.group(1));
                cpu = Double.parseDouble(m.group(2));
            } else if ((m = MEMORY.matcher(line)).find() && Double.isNaN(peak)) {
                peak = Double.parseDouble(m.group(1));
            } else if ((m = TORCH.matcher(line)).find()) {
                tMs = Double.parseDouble(m.group(1));
                tCpu = Double.parseDouble(m.group(2));
                tPeak = Double.parseDouble(m.group(3));
            }
        }
        if (Double.isNaN(ms) || Double.isNaN(peak)) {
            throw new IllegalStateException("bench unet --size " + edge + " --batch " + batch
                    + " printed no DL4J figures (see its output above)");
        }
        return new Row(edge, batch, ms, cpu, peak, tMs, tCpu, tPeak);
    }

    static String csv(List<Row> rows) {
        StringBuilder b = new StringBuilder("edge,batch,dl4j_ms,dl4j_cpu_ms,dl4j_peak_rss_mib,torch_ms,torch_cpu_ms,"
                + "torch_peak_rss_mib,peak_rss_ratio,cpu_ratio\n");
        for (Row r : rows) {
            b.append(String.format(Locale.ROOT, "%d,%d,%s,%s,%s,%s,%s,%s,%s,%s%n", r.edge(), r.batch(), num(r.dl4jMs()),
                    num(r.dl4jCpuMs()), num(r.dl4jPeakMiB()), num(r.torchMs()), num(r.torchCpuMs()),
                    num(r.torchPeakMiB()), ratio(r.rssRatio()), ratio(r.cpuRatio())));
        }
        return b.toString();
    }

    private static String num(double v) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.0f", v);
    }

    private static String ratio(double v) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.3f", v);
    }

    /** Peak RSS (left) and step time (right) against the patch edge, DL4J and PyTorch, side by side. */
    static BufferedImage render(List<Row> rows, String subtitle) {
        if (rows.isEmpty()) {
            throw new IllegalArgumentException("bench unet --edges: no rows to plot");
        }
        int batch = rows.get(0).batch();
        XYChart rss = chart("Peak RSS, batch " + batch + " (" + subtitle + ")", "peak RSS (MiB)");
        XYChart time = chart("Training step, batch " + batch + " (" + subtitle + ")", "ms per step (median)");
        double[] edges = rows.stream().mapToDouble(Row::edge).toArray();
        rss.addSeries("DL4J", edges, rows.stream().mapToDouble(Row::dl4jPeakMiB).toArray());
        time.addSeries("DL4J wall", edges, rows.stream().mapToDouble(Row::dl4jMs).toArray());
        time.addSeries("DL4J CPU", edges, rows.stream().mapToDouble(Row::dl4jCpuMs).toArray());
        List<Row> peer = rows.stream().filter(r -> !Double.isNaN(r.torchPeakMiB())).toList();
        if (!peer.isEmpty()) {
            double[] pe = peer.stream().mapToDouble(Row::edge).toArray();
            rss.addSeries("PyTorch", pe, peer.stream().mapToDouble(Row::torchPeakMiB).toArray());
            time.addSeries("PyTorch wall", pe, peer.stream().mapToDouble(Row::torchMs).toArray());
            time.addSeries("PyTorch CPU", pe, peer.stream().mapToDouble(Row::torchCpuMs).toArray());
        }
        BufferedImage left = BitmapEncoder.getBufferedImage(rss);
        BufferedImage right = BitmapEncoder.getBufferedImage(time);
        BufferedImage out = new BufferedImage(left.getWidth() + right.getWidth(),
                Math.max(left.getHeight(), right.getHeight()), BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            g.setColor(Color.WHITE);
            g.fillRect(0, 0, out.getWidth(), out.getHeight());
            g.drawImage(left, 0, 0, null);
            g.drawImage(right, left.getWidth(), 0, null);
        } finally {
            g.dispose();
        }
        return out;
    }

    private static XYChart chart(String title, String yTitle) {
        XYChart c = new XYChartBuilder().width(640).height(440).title(title).xAxisTitle("patch edge E (input E^3)")
                .yAxisTitle(yTitle).build();
        c.getStyler().setMarkerSize(7);
        c.getStyler().setYAxisMin(0.0);
        return c;
    }

    /** Writes {@code edges.csv} and {@code edges.png} into {@code dir} (each whole or not at all). */
    static void write(Path dir, List<Row> rows, String subtitle) throws IOException {
        AtomicFiles.requireWritableDirectory(dir);
        AtomicFiles.writeString(dir.resolve("edges.csv"), csv(rows));
        BufferedImage png = render(rows, subtitle);
        AtomicFiles.write(dir.resolve("edges.png"), tmp -> {
            if (!ImageIO.write(png, "png", tmp.toFile())) {
                throw new IOException("no PNG writer for " + tmp);
            }
        });
    }
}
