package org.gradsurgery.layers;

import java.util.Collection;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.Subsampling3DLayer;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * 3D pooling, configured exactly like DL4J's {@link Subsampling3DLayer} and with its results. For max-pooling over
 * non-overlapping windows (kernel = stride, no padding, no dilation, {@code NCDHW}, FLOAT: the 3D U-Net's 2×2×2
 * down-sampling) it runs a Java kernel over each channel volume:
 * <pre>
 *   y[n, c, i, j, l] = max_{t &lt; kD, u &lt; kH, v &lt; kW} x[n, c, kD·i + t, kH·j + u, kW·l + v]
 *   ∂L/∂x[n, c, kD·i + t, kH·j + u, kW·l + v] = ∂L/∂y[n, c, i, j, l] at the first maximum of the window
 *                                               (depth, row, column order), else 0
 * </pre>
 * (the tie rule of libnd4j's {@code maxpool3dnew_bp}, so results match DL4J's layer exactly). Everything else runs
 * DL4J's implementation (libnd4j's pooling ops).
 *
 * <p>Why: libnd4j's {@code maxpool3dnew}/{@code maxpool3dnew_bp} took 35 ms of thread CPU per step for the first
 * pooling of the study's U-Net (2 × 8 × 44 × 60 × 48, one thread), PyTorch's {@code max_pool3d} 10 ms; one pass over
 * each volume does the same work ({@code docs/PERFORMANCE.md}).
 *
 * <pre>{@code
 * new BlockMaxPooling3D.Builder(PoolingType.MAX, new int[] {2, 2, 2}, new int[] {2, 2, 2})
 *         .convolutionMode(ConvolutionMode.Same).dataFormat(Convolution3D.DataFormat.NCDHW).build()
 * }</pre>
 */
public class BlockMaxPooling3D extends Subsampling3DLayer {

    /** For JSON deserialisation; prefer the {@link Builder}. */
    public BlockMaxPooling3D() {
        this(new Builder(org.deeplearning4j.nn.conf.layers.PoolingType.MAX, new int[] {2, 2, 2}));
    }

    private BlockMaxPooling3D(Builder builder) {
        super(builder);
    }

    @Override
    public Layer instantiate(NeuralNetConfiguration conf, Collection<TrainingListener> trainingListeners,
                             int layerIndex, INDArray layerParamsView, boolean initializeParams,
                             DataType networkDataType) {
        return RuntimeLayers.wire(new org.gradsurgery.layers.impl.BlockMaxPooling3D(conf, networkDataType), conf,
                initializer(), trainingListeners, layerIndex, layerParamsView, initializeParams);
    }

    @Override
    public BlockMaxPooling3D clone() {
        return (BlockMaxPooling3D) super.clone();
    }

    // The same configuration as a DL4J Subsampling3DLayer is not the same layer: the class takes part.
    @Override
    public boolean equals(Object o) {
        return o != null && o.getClass() == getClass() && super.equals(o);
    }

    @Override
    public int hashCode() {
        return 31 * super.hashCode() + BlockMaxPooling3D.class.getName().hashCode();
    }

    /** DL4J's {@link Subsampling3DLayer.Builder}, building a {@link BlockMaxPooling3D}. */
    public static class Builder extends Subsampling3DLayer.Builder {

        // (fully qualified: inside a Subsampling3DLayer subclass the simple name is DL4J's deprecated nested enum)
        public Builder(org.deeplearning4j.nn.conf.layers.PoolingType poolingType, int[] kernelSize) {
            super(poolingType, kernelSize);
        }

        public Builder(org.deeplearning4j.nn.conf.layers.PoolingType poolingType, int[] kernelSize, int[] stride) {
            super(poolingType, kernelSize, stride, new int[] {0, 0, 0});
        }

        @Override
        public BlockMaxPooling3D build() {
            super.build();   // DL4J's validation and messages
            return new BlockMaxPooling3D(this);
        }
    }
}
