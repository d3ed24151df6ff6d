package org.gradsurgery.layers;

import java.util.Collection;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.deeplearning4j.util.ConvolutionUtils;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * 2D pooling, configured exactly like DL4J's {@link SubsamplingLayer} and with its results. For max-pooling over
 * non-overlapping windows (kernel = stride, no padding, no dilation, {@code NCHW}, FLOAT: the U-Net's 2×2
 * down-sampling) it runs a Java kernel over each channel plane:
 * <pre>
 *   y[n, c, i, j] = max_{u &lt; kH, v &lt; kW} x[n, c, kH·i + u, kW·j + v]
 *   ∂L/∂x[n, c, kH·i + u, kW·j + v] = ∂L/∂y[n, c, i, j] at the first maximum of the window (row-major), else 0
 * </pre>
 * (the tie rule of libnd4j's {@code maxpool2d_bp}, so results match DL4J's layer exactly). Everything else runs
 * DL4J's implementation (libnd4j's pooling ops).
 *
 * <p>Why: with the convolutions on oneDNN, libnd4j's {@code maxpool2d}/{@code maxpool2d_bp} were about a tenth of a
 * 2D U-Net step, where one pass over each plane does the same work ({@code docs/PERFORMANCE.md}).
 *
 * <pre>{@code
 * new BlockMaxPooling2D.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).convolutionMode(ConvolutionMode.Same).build()
 * }</pre>
 */
public class BlockMaxPooling2D extends SubsamplingLayer {

    /** For JSON deserialisation; prefer the {@link Builder}. */
    public BlockMaxPooling2D() {
        this(new Builder(org.deeplearning4j.nn.conf.layers.PoolingType.MAX));
    }

    private BlockMaxPooling2D(Builder builder) {
        super(builder);
    }

    @Override
    public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> trainingListeners,
                             int layerIndex, INDArray layerParamsView, boolean initializeParams,
                             DataType networkDataType) {
        return RuntimeLayers.wire(new org.gradsurgery.layers.impl.BlockMaxPooling2D(conf, networkDataType), conf,
                initializer(), trainingListeners, layerIndex, layerParamsView, initializeParams);
    }

    @Override
    public BlockMaxPooling2D clone() {
        return (BlockMaxPooling2D) super.clone();
    }

    // The same configuration as a DL4J SubsamplingLayer is not the same layer: the class takes part.
    @Override
    public boolean equals(Object o) {
        return o != null && o.getClass() == getClass() && super.equals(o);
    }

    @Override
    public int hashCode() {
        return 31 * super.hashCode() + BlockMaxPooling2D.class.getName().hashCode();
    }

    /** DL4J's {@link SubsamplingLayer.Builder}, building a {@link BlockMaxPooling2D}. */
    public static class Builder extends SubsamplingLayer.Builder {

        // (fully qualified: inside a SubsamplingLayer subclass the simple name is DL4J's deprecated nested enum)
        public Builder(org.deeplearning4j.nn.conf.layers.PoolingType poolingType) {
            super(poolingType);
        }

        @Override
        public BlockMaxPooling2D build() {
            if (poolingType == org.deeplearning4j.nn.conf.layers.PoolingType.PNORM && pnorm <= 0) {
                throw new IllegalStateException("BlockMaxPooling2D: p-norm must be set when using PoolingType.PNORM");
            }
            ConvolutionUtils.validateConvolutionModePadding(convolutionMode, padding);
            ConvolutionUtils.validateCnnKernelStridePadding(kernelSize, stride, padding);
            return new BlockMaxPooling2D(this);
        }
    }
}
