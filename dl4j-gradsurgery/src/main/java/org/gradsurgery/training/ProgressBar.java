package org.gradsurgery.training;

import java.io.PrintStream;
import java.util.Locale;
import java.util.function.LongSupplier;

/**
 * Terminal progress of a training run: epoch, batch within the epoch, total iteration, the last batch's loss,
 * throughput (training examples per second since the run started or resumed) and the estimated time left
 * ({@code (total − done) · seconds per iteration}, known once the number of batches per epoch is).
 *
 * <p>On a terminal ({@link TrainingConfig.ProgressMode#TTY}) it rewrites one line with a carriage return; otherwise
 * ({@link TrainingConfig.ProgressMode#PLAIN}) it prints a full line at most every {@code interval} seconds, so logs
 * and CI output stay readable. Epoch summaries are always full lines.
 */
public final class ProgressBar {
    private static final int BAR_WIDTH = 20;

    private final PrintStream out;
    private final boolean tty;
    private final boolean off;
    private final long intervalNanos;
    private final LongSupplier clock;
    private final long start;
    private long lastPrint;
    private long examples;
    private long iterationsDone;
    private int lastLength;

    /**
     * @param out      where to print
     * @param mode     AUTO picks TTY when {@code System.console() != null}
     * @param interval seconds between plain lines
     * @param clock    nanosecond clock ({@code System::nanoTime}; tests pass a fake)
     */
    public ProgressBar(PrintStream out, TrainingConfig.ProgressMode mode, double interval, LongSupplier clock) {
        this.out = out;
        this.off = mode == TrainingConfig.ProgressMode.OFF;
        this.tty = mode == TrainingConfig.ProgressMode.TTY
                || mode == TrainingConfig.ProgressMode.AUTO && System.console() != null;
        this.intervalNanos = (long) (interval * 1e9);
        this.clock = clock;
        this.start = clock.getAsLong();
        this.lastPrint = start;
    }

    /**
     * Reports one finished update.
     *
     * @param epoch           1-based epoch
     * @param epochs          configured epochs
     * @param batch           1-based batch within the epoch
     * @param batchesPerEpoch batches per epoch, or ≤ 0 when not known yet
     * @param iteration       updates done in total
     * @param totalIterations updates the run will do, or ≤ 0 when not known
     * @param batchExamples   examples in this batch
     * @param loss            this batch's score
     */
    public void step(int epoch, int epochs, int batch, int batchesPerEpoch, long iteration, long totalIterations,
                     long batchExamples, double loss) {
        examples += batchExamples;
        iterationsDone++;
        if (off) {
            return;
        }
        long now = clock.getAsLong();
        boolean epochEnd = batchesPerEpoch > 0 && batch == batchesPerEpoch;
        if (!tty && now - lastPrint < intervalNanos && !epochEnd) {
            return;
        }
        lastPrint = now;
        double seconds = (now - start) / 1e9;
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "epoch %d/%d ", epoch, epochs));
        if (batchesPerEpoch > 0) {
            int filled = (int) Math.round(BAR_WIDTH * (double) batch / batchesPerEpoch);
            s.append('[').append("#".repeat(filled)).append(".".repeat(BAR_WIDTH - filled)).append("] ");
            s.append(batch).append('/').append(batchesPerEpoch);
        } else {
            s.append("batch ").append(batch);
        }
        s.append(" | it ").append(iteration);
        if (totalIterations > 0) {
            s.append('/').append(totalIterations);
        }
        s.append(String.format(Locale.ROOT, " | loss %.4f | %.1f samples/s | ETA %s", loss,
                seconds > 0 ? examples / seconds : 0.0, eta(seconds, iteration, totalIterations)));
        print(s.toString());
    }

    private String eta(double seconds, long iteration, long total) {
        if (total <= 0 || iterationsDone == 0) {
            return "?";
        }
        return duration(seconds / iterationsDone * Math.max(0, total - iteration));
    }

    /** {@code 1h02m03s}, {@code 2m05s}, {@code 7s}. */
    public static String duration(double seconds) {
        long s = Math.round(seconds);
        if (s >= 3600) {
            return String.format(Locale.ROOT, "%dh%02dm%02ds", s / 3600, s / 60 % 60, s % 60);
        }
        if (s >= 60) {
            return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        }
        return s + "s";
    }

    /** A full line (epoch summary, messages); on a terminal it first ends the progress line. */
    public void line(String text) {
        if (off) {
            return;
        }
        if (tty && lastLength > 0) {
            out.print("\r" + " ".repeat(lastLength) + "\r");
            lastLength = 0;
        }
        out.println(text);
        out.flush();
    }

    private void print(String text) {
        if (tty) {
            String pad = text.length() < lastLength ? " ".repeat(lastLength - text.length()) : "";
            out.print("\r" + text + pad);
            lastLength = text.length();
        } else {
            out.println(text);
        }
        out.flush();
    }

    /** Training examples per second since this bar was created. */
    public double samplesPerSecond() {
        double seconds = (clock.getAsLong() - start) / 1e9;
        return seconds > 0 ? examples / seconds : 0.0;
    }
}
