package org.gradsurgery.arbiter;

import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.model.UNet;

/**
 * Builds each candidate from the project's {@link UNet} builder: {@code spatialDims}, input channels, classes and
 * {@code inputSize} from the data; every other setting from the candidate's {@link org.gradsurgery.experiment.UNetSpec}
 * (levels, base filters, normalisation, dropout, updater, and the defaults the space does not vary); softmax output
 * with the candidate's loss.
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
        long[] spatial = data.spatialShape();
        int[] size = new int[spatial.length];
        for (int i = 0; i < size.length; i++) {
            size[i] = Math.toIntExact(spatial[i]);
        }
        return UNet.builder().from(candidate.unet()).spatialDims(size.length).inputChannels(data.inputChannels())
                .numClasses(data.numClasses()).activation(UNet.OutputActivation.SOFTMAX).inputSize(size).seed(seed)
                .loss(candidate.loss()).build();
    }
}
