package org.gradsurgery.layers.impl;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Runtime implementation of {@link org.gradsurgery.layers.InstanceNormalization}: statistics per (example, channel)
 * over the spatial axes, identical in training and inference.
 */
public class InstanceNormalization
        extends AbstractSpatialNormalizationLayer<org.gradsurgery.layers.InstanceNormalization> {

    public InstanceNormalization(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    @Override
    protected int[] groupAxes(SpatialLayout layout) {
        return layout.spatialAxes();
    }

    @Override
    protected INDArray[] inferenceMoments(SpatialLayout layout) {
        return null;
    }
}
