package org.gradsurgery.examples.bench;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.WorkspaceMode;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.Deconvolution2D;
import org.deeplearning4j.nn.conf.layers.Deconvolution3D;
import org.deeplearning4j.nn.conf.layers.Subsampling3DLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.layers.Upsampling2D;
import org.deeplearning4j.nn.conf.layers.Upsampling3D;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.weights.WeightInit;
import org.gradsurgery.layers.ChannelConcatVertex;
import org.gradsurgery.layers.InstanceNormalization;
import org.gradsurgery.layers.SegmentationLossLayer;
import org.gradsurgery.layers.SpatialBatchNormalization;
import org.gradsurgery.loss.LossDice;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.Adam;

/**
 * The benchmark U-Nets of issue 7, built with DL4J's graph builder so that {@code peer_unet.py} can mirror them
 * layer for layer: per level two blocks of 3×3(×3) convolution ({@code Same}, with bias) → normalisation → ReLU;
 * 2×2(×2) max-pooling down; 2×2(×2) stride-2 transposed convolution (or nearest upsampling + 2×2(×2) convolution,
 * Ronneberger et al.'s "up-convolution") up to the skip's width; channel concatenation [up, skip]; a 1×1(×1)
 * convolution to the classes; softmax with soft Dice in {@link SegmentationLossLayer}; Adam(1e-3), float32.
 * <ul>
 *   <li>2D: 4 levels, 16 base filters doubling (16, 32, 64, 128), batch norm, input 1×128×128, 2 classes;</li>
 *   <li>3D: 3 levels, 8 base filters (8, 16, 32), no normalisation, input 1×64³, 2 classes.</li>
 * </ul>
 */
final class BenchUNets {

    enum Norm { BATCH, INSTANCE, NONE }

    enum Upsampling { TRANSPOSED, UPSAMPLE }

    /** Which batch-norm implementation a 2D BATCH network uses: the project's layer, or DL4J's. */
    enum BatchNormImpl { GRADSURGERY, DL4J }

    /** Everything that shapes a benchmark network. */
    record Spec(int dims, int levels, int baseFilters, int size, int classes, Norm norm, BatchNormImpl bnImpl,
                Upsampling upsampling, CNN2DFormat format, WorkspaceMode workspace) {
        Spec {
            if (dims != 2 && dims != 3) {
                throw new IllegalArgumentException("--dims must be 2 or 3, got " + dims);
            }
            if (dims == 3 && format == CNN2DFormat.NHWC) {
                throw new IllegalArgumentException("--format NHWC is 2D only (3D runs NCDHW)");
            }
            if (dims == 3 && norm == Norm.BATCH && bnImpl == BatchNormImpl.DL4J) {
                throw new IllegalArgumentException("--bn dl4j is 2D only: DL4J's BatchNormalization fails on rank 5");
            }
            int div = 1 << (levels - 1);
            if (size % div != 0) {
                throw new IllegalArgumentException("--size " + size + " must be divisible by 2^(levels-1) = " + div);
            }
        }

        /** Issue 7's 2D network. */
        static Spec twoD() {
            return new Spec(2, 4, 16, 128, 2, Norm.BATCH, BatchNormImpl.GRADSURGERY, Upsampling.TRANSPOSED,
                    CNN2DFormat.NCHW, WorkspaceMode.ENABLED);
        }

        /** Issue 7's 3D network. */
        static Spec threeD() {
            return new Spec(3, 3, 8, 64, 2, Norm.NONE, BatchNormImpl.GRADSURGERY, Upsampling.TRANSPOSED,
                    CNN2DFormat.NCHW, WorkspaceMode.ENABLED);
        }

        long[] inputShape(int batch) {
            if (dims == 3) {
                return new long[]{batch, 1, size, size, size};
            }
            return format == CNN2DFormat.NCHW ? new long[]{batch, 1, size, size} : new long[]{batch, size, size, 1};
        }

        long[] labelShape(int batch) {
            if (dims == 3) {
                return new long[]{batch, classes, size, size, size};
            }
            return format == CNN2DFormat.NCHW ? new long[]{batch, classes, size, size}
                    : new long[]{batch, size, size, classes};
        }

        /** The channel axis of inputs and labels. */
        int channelAxis() {
            return dims == 2 && format == CNN2DFormat.NHWC ? 3 : 1;
        }

        String describe() {
            return String.format("%dD U-Net: %d levels, %d base filters, %s input, %d classes, norm %s%s, "
                            + "upsampling %s, format %s, workspaces %s", dims, levels, baseFilters,
                    dims == 3 ? "1x" + size + "^3" : "1x" + size + "x" + size, classes, norm,
                    norm == Norm.BATCH ? " (" + bnImpl + ")" : "", upsampling,
                    dims == 3 ? "NCDHW" : format, workspace);
        }
    }

    private BenchUNets() {
    }

    static ComputationGraphConfiguration configuration(Spec s) {
        ComputationGraphConfiguration.GraphBuilder g = new NeuralNetConfiguration.Builder()
                .dataType(DataType.FLOAT).seed(42).updater(new Adam(1e-3)).weightInit(WeightInit.RELU)
                .trainingWorkspaceMode(s.workspace()).inferenceWorkspaceMode(s.workspace())
                .graphBuilder()
                .addInputs("input");
        if (s.dims() == 3) {
            g.setInputTypes(InputType.convolutional3D(Convolution3D.DataFormat.NCDHW, s.size(), s.size(), s.size(), 1));
        } else {
            g.setInputTypes(InputType.convolutional(s.size(), s.size(), 1, s.format()));
        }
        String x = "input";
        String[] skips = new String[s.levels()];
        for (int l = 0; l < s.levels(); l++) {
            int f = s.baseFilters() << l;
            if (l > 0) {
                g.addLayer("pool" + l, pool(s), x);
                x = "pool" + l;
            }
            x = block(g, s, "enc" + l + "a", f, x);
            x = block(g, s, "enc" + l + "b", f, x);
            skips[l] = x;
        }
        for (int l = s.levels() - 2; l >= 0; l--) {
            int f = s.baseFilters() << l;
            if (s.upsampling() == Upsampling.TRANSPOSED) {
                g.addLayer("up" + l, transposed(s, f), x);
            } else {
                g.addLayer("up" + l + "_resize", resize(s), x);
                g.addLayer("up" + l, conv(s, f, 2), "up" + l + "_resize");
            }
            g.addVertex("cat" + l, s.dims() == 2 ? new ChannelConcatVertex(s.format()) : new ChannelConcatVertex(),
                    "up" + l, skips[l]);
            x = block(g, s, "dec" + l + "a", f, "cat" + l);
            x = block(g, s, "dec" + l + "b", f, x);
        }
        g.addLayer("logits", conv(s, s.classes(), 1), x);
        g.addLayer("output", new SegmentationLossLayer.Builder().lossFunction(new LossDice())
                .activation(Activation.SOFTMAX).build(), "logits");
        return g.setOutputs("output").build();
    }

    /** conv → norm → ReLU; returns the block's output vertex. */
    private static String block(ComputationGraphConfiguration.GraphBuilder g, Spec s, String name, int f, String in) {
        if (s.norm() == Norm.NONE) {
            g.addLayer(name + "_conv", conv(s, f, 3, Activation.RELU), in);
            return name + "_conv";
        }
        g.addLayer(name + "_conv", conv(s, f, 3), in);
        if (s.norm() == Norm.INSTANCE) {
            g.addLayer(name + "_norm", new InstanceNormalization.Builder().activation(Activation.RELU).build(),
                    name + "_conv");
            return name + "_norm";
        }
        if (s.bnImpl() == BatchNormImpl.GRADSURGERY) {
            g.addLayer(name + "_norm", new SpatialBatchNormalization.Builder().decay(0.9)
                    .activation(Activation.RELU).build(), name + "_conv");
            return name + "_norm";
        }
        // DL4J's layer, as a stock user would wire it: BatchNormalization then a separate ReLU
        g.addLayer(name + "_norm", new BatchNormalization.Builder().dataFormat(s.format()).decay(0.9)
                .activation(Activation.IDENTITY).build(), name + "_conv");
        g.addLayer(name + "_relu", new ActivationLayer.Builder().activation(Activation.RELU).build(),
                name + "_norm");
        return name + "_relu";
    }

    private static org.deeplearning4j.nn.conf.layers.Layer conv(Spec s, int nOut, int k) {
        return conv(s, nOut, k, Activation.IDENTITY);
    }

    private static org.deeplearning4j.nn.conf.layers.Layer conv(Spec s, int nOut, int k, Activation act) {
        if (s.dims() == 3) {
            return new Convolution3D.Builder(k, k, k).nOut(nOut).convolutionMode(ConvolutionMode.Same)
                    .dataFormat(Convolution3D.DataFormat.NCDHW).activation(act).build();
        }
        return new ConvolutionLayer.Builder(k, k).nOut(nOut).convolutionMode(ConvolutionMode.Same)
                .dataFormat(s.format()).activation(act).build();
    }

    private static org.deeplearning4j.nn.conf.layers.Layer pool(Spec s) {
        if (s.dims() == 3) {
            return new Subsampling3DLayer.Builder(Subsampling3DLayer.PoolingType.MAX, new int[]{2, 2, 2}, new int[]{2, 2, 2})
                    .dataFormat(Convolution3D.DataFormat.NCDHW).build();
        }
        return new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX, new int[]{2, 2}, new int[]{2, 2})
                .dataFormat(s.format()).build();
    }

    private static org.deeplearning4j.nn.conf.layers.Layer transposed(Spec s, int nOut) {
        if (s.dims() == 3) {
            return new Deconvolution3D.Builder().kernelSize(2, 2, 2).stride(2, 2, 2).nOut(nOut)
                    .convolutionMode(ConvolutionMode.Same).dataFormat(Convolution3D.DataFormat.NCDHW)
                    .activation(Activation.IDENTITY).build();
        }
        return new Deconvolution2D.Builder().kernelSize(2, 2).stride(2, 2).nOut(nOut)
                .convolutionMode(ConvolutionMode.Same).dataFormat(s.format()).activation(Activation.IDENTITY)
                .build();
    }

    private static org.deeplearning4j.nn.conf.layers.Layer resize(Spec s) {
        if (s.dims() == 3) {
            return new Upsampling3D.Builder(Convolution3D.DataFormat.NCDHW, 2).build();
        }
        return new Upsampling2D.Builder(2).dataFormat(s.format()).build();
    }
}
