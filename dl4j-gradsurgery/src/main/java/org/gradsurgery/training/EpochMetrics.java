package org.gradsurgery.training;

import java.util.Locale;

/**
 * One row of {@code metrics.csv}: what an epoch did. Immutable. Validation values are NaN in epochs without validation.
 *
 * @param epoch            1-based epoch number
 * @param iteration        parameter updates so far (all epochs)
 * @param trainLoss        mean training score per example over the epoch's batches
 * @param valLoss          mean validation score per example
 * @param valDice          mean foreground Dice of the argmax on the validation data
 * @param valEce           top-label ECE of the validation probabilities
 * @param seconds          wall time of the epoch's training steps (validation excluded)
 * @param samplesPerSecond training examples per second of wall time
 */
public record EpochMetrics(int epoch, long iteration, double trainLoss, double valLoss, double valDice, double valEce,
                           double seconds, double samplesPerSecond) {

    /** Header of {@code metrics.csv}. */
    public static final String CSV_HEADER = "epoch,iteration,train_loss,val_loss,val_dice,val_ece,seconds,samples_per_s";

    /** The value early stopping watches. */
    public double value(EarlyStopping.Metric metric) {
        return switch (metric) {
            case LOSS -> valLoss;
            case DICE -> valDice;
            case ECE -> valEce;
        };
    }

    /** This row of {@code metrics.csv} (NaN written as {@code NaN}). */
    public String csvRow() {
        return String.format(Locale.ROOT, "%d,%d,%.6f,%.6f,%.6f,%.6f,%.3f,%.2f", epoch, iteration, trainLoss, valLoss,
                valDice, valEce, seconds, samplesPerSecond);
    }

    /** Parses {@link #csvRow()}. */
    public static EpochMetrics parseCsv(String line) {
        String[] f = line.split(",");
        if (f.length != 8) {
            throw new IllegalArgumentException("metrics.csv row needs 8 fields: '" + line + "'");
        }
        return new EpochMetrics(Integer.parseInt(f[0]), Long.parseLong(f[1]), Double.parseDouble(f[2]),
                Double.parseDouble(f[3]), Double.parseDouble(f[4]), Double.parseDouble(f[5]), Double.parseDouble(f[6]),
                Double.parseDouble(f[7]));
    }
}
