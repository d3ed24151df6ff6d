package org.gradsurgery.layers;

import java.util.Random;
import java.util.function.Supplier;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.Cnn3DLossLayer;
import org.deeplearning4j.nn.conf.layers.CnnLossLayer;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.NoOp;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * Tiny 2D/3D segmentation graphs (conv → norm → activation → channel concat with the input → 1×1 conv → loss layer)
 * and seeded data for them, shared by the gradient-check, serialisation and behaviour tests.
 */
final class SegmentationGraphs {

    static final long N = 2;
    static final long IN_CHANNELS = 2;
    static final long HIDDEN = 2;

    private SegmentationGraphs() {
    }

    /** Data layout of a test graph. */
    enum Layout {
        NCHW(4, false), NHWC(4, true), NCDHW(5, false);

        final int rank;
        final boolean channelsLast;

        Layout(int rank, boolean channelsLast) {
            this.rank = rank;
            this.channelsLast = channelsLast;
        }

        CNN2DFormat format2d() {
            return channelsLast ? CNN2DFormat.NHWC : CNN2DFormat.NCHW;
        }

        /** Spatial sizes: 4×4 in 2D, 2×3×3 in 3D. */
        long[] spatial() {
            return rank == 4 ? new long[] {4, 4} : new long[] {2, 3, 3};
        }

        /** Shape of an array with {@code channels} channels in this layout. */
        long[] shape(long channels) {
            long[] sp = spatial();
            long[] s = new long[rank];
            s[0] = N;
            if (channelsLast) {
                System.arraycopy(sp, 0, s, 1, sp.length);
                s[rank - 1] = channels;
            } else {
                s[1] = channels;
                System.arraycopy(sp, 0, s, 2, sp.length);
            }
            return s;
        }

        /** The channels-first layout of the same rank. */
        Layout channelsFirst() {
            return rank == 4 ? NCHW : NCDHW;
        }

        /** Channels-first data with the same values, in this layout (a c-ordered copy when channels-last). */
        INDArray fromChannelsFirst(INDArray channelsFirst) {
            return channelsLast ? channelsFirst.permute(0, 2, 3, 1).dup('c') : channelsFirst;
        }

        /** Data in this layout as a c-ordered channels-first copy. */
        INDArray toChannelsFirst(INDArray x) {
            return (channelsLast ? x.permute(0, 3, 1, 2) : x).dup('c');
        }

        InputType inputType(long channels) {
            long[] sp = spatial();
            return rank == 4 ? InputType.convolutional(sp[0], sp[1], channels, format2d())
                    : InputType.convolutional3D(Convolution3D.DataFormat.NCDHW, sp[0], sp[1], sp[2], channels);
        }

        Layer conv(int kernel, long nOut, Activation activation) {
            if (rank == 4) {
                return new NativeConvolution2D.Builder(kernel, kernel).nOut(nOut).activation(activation)
                        .convolutionMode(ConvolutionMode.Same).dataFormat(format2d()).build();
            }
            return new NativeConvolution3D.Builder(kernel, kernel, kernel).nOut(nOut).activation(activation)
                    .convolutionMode(ConvolutionMode.Same).dataFormat(Convolution3D.DataFormat.NCDHW).build();
        }

        /** DL4J's stock loss layer for this layout. */
        Layer stockLossLayer(ILossFunction loss, Activation activation) {
            if (rank == 4) {
                return new CnnLossLayer.Builder(loss).activation(activation).format(format2d()).build();
            }
            return new Cnn3DLossLayer.Builder(Convolution3D.DataFormat.NCDHW).lossFunction(loss)
                    .activation(activation).build();
        }
    }

    /** Which normalisation the graph uses after the first convolution. */
    enum Norm {
        INSTANCE, INSTANCE_NO_AFFINE, INSTANCE_WITH_ACTIVATION, BATCH, BATCH_WITH_ACTIVATION;

        Layer layer() {
            switch (this) {
                case INSTANCE:
                    return new InstanceNormalization.Builder().build();
                case INSTANCE_NO_AFFINE:
                    return new InstanceNormalization.Builder().affine(false).build();
                case INSTANCE_WITH_ACTIVATION:
                    return new InstanceNormalization.Builder().activation(Activation.SIGMOID).build();
                case BATCH_WITH_ACTIVATION:
                    return new SpatialBatchNormalization.Builder().decay(0.8).activation(Activation.SIGMOID).build();
                default:
                    return new SpatialBatchNormalization.Builder().decay(0.8).build();
            }
        }
    }

    /** The graph: in → conv → norm → tanh → concat(·, in) → 1×1 conv → out (loss layer given). */
    static ComputationGraphConfiguration config(Layout layout, Norm norm, Layer lossLayer, long classes,
                                                IUpdater updater, long seed) {
        return new NeuralNetConfiguration.Builder()
                .dataType(DataType.DOUBLE)
                .seed(seed)
                .updater(updater)
                .weightInit(WeightInit.XAVIER)
                .graphBuilder()
                .addInputs("in")
                .setInputTypes(layout.inputType(IN_CHANNELS))
                .addLayer("conv1", layout.conv(2, HIDDEN, Activation.IDENTITY), "in")
                .addLayer("norm", norm.layer(), "conv1")
                .addLayer("act", new ActivationLayer.Builder().activation(Activation.TANH).build(), "norm")
                .addVertex("cat", new ChannelConcatVertex(layout.format2d()), "act", "in")
                .addLayer("conv2", layout.conv(1, classes, Activation.IDENTITY), "cat")
                .addLayer("out", lossLayer, "conv2")
                .setOutputs("out")
                .build();
    }

    static ComputationGraph graph(Layout layout, Norm norm, Layer lossLayer, long classes) {
        ComputationGraph net = new ComputationGraph(config(layout, norm, lossLayer, classes, new NoOp(), 12345));
        net.init();
        return net;
    }

    static SegmentationLossLayer ourLossLayer(Layout layout, Supplier<ILossFunction> loss, Activation activation) {
        return new SegmentationLossLayer.Builder().lossFunction(loss.get()).activation(activation)
                .dataFormat(layout.format2d()).build();
    }

    /** Uniform values in [lo, hi), seeded. */
    static INDArray uniform(long[] shape, double lo, double hi, long seed) {
        Random r = new Random(seed);
        long n = 1;
        for (long s : shape) {
            n *= s;
        }
        double[] v = new double[(int) n];
        for (int i = 0; i < v.length; i++) {
            v[i] = lo + (hi - lo) * r.nextDouble();
        }
        return Nd4j.create(v, shape, 'c');
    }

    /** 0/1 values, each 1 with probability {@code p1}, seeded. */
    static INDArray binary(long[] shape, double p1, long seed) {
        INDArray u = uniform(shape, 0, 1, seed);
        return u.lt(p1).castTo(DataType.DOUBLE);
    }

    /** One-hot labels along the channel axis of {@code layout}, seeded. */
    static INDArray oneHot(Layout layout, long classes, long seed) {
        INDArray channelsFirst = Nd4j.zeros(DataType.DOUBLE, layout.channelsFirst().shape(classes));
        Random r = new Random(seed);
        long[] s = channelsFirst.shape();
        long voxels = channelsFirst.length() / classes / N;
        for (long n = 0; n < N; n++) {
            for (long v = 0; v < voxels; v++) {
                long c = r.nextInt((int) classes);
                long[] idx = new long[s.length];
                idx[0] = n;
                idx[1] = c;
                long rem = v;
                for (int d = s.length - 1; d >= 2; d--) {
                    idx[d] = rem % s[d];
                    rem /= s[d];
                }
                channelsFirst.putScalar(idx, 1.0);
            }
        }
        return layout.fromChannelsFirst(channelsFirst);
    }
}
