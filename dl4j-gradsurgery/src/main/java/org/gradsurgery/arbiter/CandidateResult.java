package org.gradsurgery.arbiter;

import java.util.Objects;

/**
 * What one sweep candidate gave: its number, configuration, the validation metrics of its kept epoch, how many
 * epochs it trained, its run directory, and the error if it failed (then {@code metrics} is null). Immutable.
 */
public final class CandidateResult {
    private final int index;
    private final SweepCandidate candidate;
    private final ValidationMetrics metrics;
    private final int epochs;
    private final int bestEpoch;
    private final double seconds;
    private final String stopReason;
    private final String runDirectory;
    private final String error;

    public CandidateResult(int index, SweepCandidate candidate, ValidationMetrics metrics, int epochs, int bestEpoch,
                           double seconds, String stopReason, String runDirectory, String error) {
        if ((metrics == null) == (error == null)) {
            throw new IllegalArgumentException("CandidateResult: exactly one of metrics and error must be set");
        }
        this.index = index;
        this.candidate = Objects.requireNonNull(candidate, "candidate");
        this.metrics = metrics;
        this.epochs = epochs;
        this.bestEpoch = bestEpoch;
        this.seconds = seconds;
        this.stopReason = stopReason;
        this.runDirectory = runDirectory;
        this.error = error;
    }

    /** A successful result. */
    public static CandidateResult completed(int index, SweepCandidate candidate, ValidationMetrics metrics, int epochs,
                                            int bestEpoch, double seconds, String stopReason, String runDirectory) {
        return new CandidateResult(index, candidate, Objects.requireNonNull(metrics, "metrics"), epochs, bestEpoch,
                seconds, stopReason, runDirectory, null);
    }

    /** A failed candidate. */
    public static CandidateResult failed(int index, SweepCandidate candidate, double seconds, String runDirectory,
                                         String error) {
        return new CandidateResult(index, candidate, null, 0, 0, seconds, "failed", runDirectory,
                Objects.requireNonNull(error, "error"));
    }

    /** Arbiter's candidate index (0-based). */
    public int index() {
        return index;
    }

    public SweepCandidate candidate() {
        return candidate;
    }

    /** The kept epoch's metrics; null if the candidate failed. */
    public ValidationMetrics metrics() {
        return metrics;
    }

    public boolean failed() {
        return metrics == null;
    }

    public int epochs() {
        return epochs;
    }

    /** The epoch whose weights and metrics were kept (1-based). */
    public int bestEpoch() {
        return bestEpoch;
    }

    public double seconds() {
        return seconds;
    }

    /** Why training stopped: "max epochs", "early stopping", "time budget" or "failed". */
    public String stopReason() {
        return stopReason;
    }

    /** The run directory's name inside the sweep's output directory (null if none was written). */
    public String runDirectory() {
        return runDirectory;
    }

    /** The failure, one line; null if the candidate completed. */
    public String error() {
        return error;
    }

    @Override
    public String toString() {
        return "CandidateResult(#" + index + ", " + (failed() ? "failed: " + error : metrics) + ")";
    }
}
