package org.gradsurgery.layers.impl;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.Gradient;
import org.gradsurgery.layers.SpatialNormalizationParamInitializer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Runtime implementation of {@link org.gradsurgery.layers.SpatialBatchNormalization}: batch statistics over the
 * batch and spatial axes in training, running estimates in inference, and the running-estimate update delivered as
 * the gradient of the {@code mean}/{@code var} parameters (DL4J's scheme, see the config's Javadoc).
 */
public class SpatialBatchNormalization
        extends AbstractSpatialNormalizationLayer<org.gradsurgery.layers.SpatialBatchNormalization> {

    public SpatialBatchNormalization(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    @Override
    protected int[] groupAxes(SpatialLayout layout) {
        return layout.nonChannelAxes();
    }

    @Override
    protected INDArray[] inferenceMoments(SpatialLayout layout) {
        long[] shape = layout.channelBroadcastShape(layerConf().getNOut());
        return new INDArray[] {
                getParam(SpatialNormalizationParamInitializer.GLOBAL_MEAN).reshape(shape),
                getParam(SpatialNormalizationParamInitializer.GLOBAL_VAR).reshape(shape)};
    }

    /**
     * Gradient of the running estimates = {@code (1 − d)·(running − batch)}, so that the step
     * {@code running − gradient} is {@code d·running + (1 − d)·batch}; the batch variance is made unbiased.
     * Computed per channel in Java and written into the gradient views in place: a handful of ND4J ops per layer
     * and step cost more than the arithmetic.
     */
    @Override
    protected void recordStatistics(double[] mean, double[] biasedVar, long groupSize, Gradient gradient) {
        double keep = 1.0 - layerConf().getDecay();
        double unbias = groupSize > 1 ? groupSize / (groupSize - 1.0) : 1.0;
        double[] runningMean = values(getParam(SpatialNormalizationParamInitializer.GLOBAL_MEAN));
        double[] runningVar = values(getParam(SpatialNormalizationParamInitializer.GLOBAL_VAR));
        double[] dMean = new double[mean.length];
        double[] dVar = new double[mean.length];
        for (int c = 0; c < mean.length; c++) {
            dMean[c] = keep * (runningMean[c] - mean[c]);
            dVar[c] = keep * (runningVar[c] - biasedVar[c] * unbias);
        }
        setGradient(gradient, SpatialNormalizationParamInitializer.GLOBAL_MEAN, dMean);
        setGradient(gradient, SpatialNormalizationParamInitializer.GLOBAL_VAR, dVar);
    }

    /** The running estimates' "gradients" are updates: never divided by the minibatch size. */
    @Override
    public boolean updaterDivideByMinibatch(String paramName) {
        return !SpatialNormalizationParamInitializer.GLOBAL_MEAN.equals(paramName)
                && !SpatialNormalizationParamInitializer.GLOBAL_VAR.equals(paramName);
    }
}
