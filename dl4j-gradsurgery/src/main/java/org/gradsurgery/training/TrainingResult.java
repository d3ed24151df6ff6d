package org.gradsurgery.training;

import java.nio.file.Path;
import java.util.List;
import org.deeplearning4j.nn.graph.ComputationGraph;

/**
 * The outcome of {@link Trainer#fit}. Immutable apart from the network it hands back.
 *
 * @param network       the trained graph (the state after the last update, not the best epoch's)
 * @param stopReason    why training ended
 * @param epochs        epochs completed (a partial epoch cut by {@code maxIterations} is not counted)
 * @param iterations    parameter updates in total
 * @param history       one entry per completed epoch (including epochs before a resume), plus the partial
 *                      epoch when {@code maxIterations} cut one
 * @param bestEpoch     1-based epoch with the best early-stopping value (0 when there is no early stopping)
 * @param bestValue     that value (NaN when there is none)
 * @param runDirectory  where the run wrote its files, or null
 */
public record TrainingResult(ComputationGraph network, StopReason stopReason, int epochs, long iterations,
                             List<EpochMetrics> history, int bestEpoch, double bestValue, Path runDirectory) {

    /** Why a run ended. */
    public enum StopReason {
        /** All configured epochs ran. */
        EPOCHS,
        /** {@code maxIterations} updates were done. */
        MAX_ITERATIONS,
        /** The early stopping rule fired. */
        EARLY_STOPPING
    }

    public TrainingResult {
        history = List.copyOf(history);
    }
}
