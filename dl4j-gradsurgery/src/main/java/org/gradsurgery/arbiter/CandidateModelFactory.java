package org.gradsurgery.arbiter;

import org.deeplearning4j.nn.graph.ComputationGraph;

/**
 * Builds the initialised network of one sweep candidate: its U-Net options and loss, for the data's input
 * channels, classes and spatial size. The graph must have one input and one output of class probabilities.
 */
@FunctionalInterface
public interface CandidateModelFactory {
    ComputationGraph build(SweepCandidate candidate, SweepData data, long seed);
}
