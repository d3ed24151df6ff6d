package org.gradsurgery.arbiter;

import org.deeplearning4j.nn.graph.ComputationGraph;

/**
 * Builds the initialised network of one sweep candidate: its U-Net options and loss, for the data's input
 * channels, classes and spatial size. The graph must have one input and one output of class probabilities.
 */
public interface CandidateModelFactory {
    ComputationGraph build(SweepCandidate candidate, SweepData data, long seed);

    /**
     * Checks, cheaply and before anything trains, that {@code candidate} can be built for {@code data}; throws
     * {@link IllegalArgumentException} naming the problem. The default builds nothing and accepts everything.
     */
    default void check(SweepCandidate candidate, SweepData data) {
    }
}
