package org.gradsurgery.arbiter;

import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.model.UNet;
import org.nd4j.linalg.learning.config.Adam;

/**
 * Builds each candidate from the project's {@link UNet} builder: {@code spatialDims}, input channels, classes and
 * {@code inputSize} from the data; levels, base filters, normalisation and dropout from the candidate's
 * {@link UNetSettings}; Adam with the candidate's learning rate; softmax output with the candidate's loss; other
 * options at the builder's defaults (2 convolutions per level, transposed-convolution upsampling, FLOAT).
 */
public final class UNetModelFactory implements CandidateModelFactory {

    @Override
    public ComputationGraph build(SweepCandidate candidate, SweepData data, long seed) {
        return unet(candidate, data, seed).graph();
    }

    /** Builds the configuration only (no parameters): the builder's validation, e.g. of the size divisibility. */
    @Override
    public void check(SweepCandidate candidate, SweepData data) {
        unet(candidate, data, 0);
    }

    /** The U-Net of {@code candidate} for {@code data}. */
    public static UNet unet(SweepCandidate candidate, SweepData data, long seed) {
        UNetSettings u = candidate.unet();
        long[] spatial = data.spatialShape();
        int[] size = new int[spatial.length];
        for (int i = 0; i < size.length; i++) {
            size[i] = Math.toIntExact(spatial[i]);
        }
        return UNet.builder().spatialDims(size.length).inputChannels(data.inputChannels())
                .numClasses(data.numClasses()).levels(u.levels()).baseFilters(u.baseFilters())
                .normalization(UNet.Normalization.valueOf(u.normalization())).dropout(u.dropout())
                .activation(UNet.OutputActivation.SOFTMAX).loss(candidate.loss()).inputSize(size).seed(seed)
                .updater(new Adam(u.learningRate())).build();
    }
}
