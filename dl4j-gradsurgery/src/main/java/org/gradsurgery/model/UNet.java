package org.gradsurgery.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.dropout.Dropout;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.Upsampling2D;
import org.deeplearning4j.nn.conf.layers.Upsampling3D;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.weights.WeightInit;
import org.gradsurgery.InvalidSettingException;
import org.gradsurgery.experiment.UNetSpec;
import org.gradsurgery.layers.ChannelConcatVertex;
import org.gradsurgery.layers.NativeConvolution2D;
import org.gradsurgery.layers.NativeConvolution3D;
import org.gradsurgery.layers.InstanceNormalization;
import org.gradsurgery.layers.BlockMaxPooling2D;
import org.gradsurgery.layers.BlockMaxPooling3D;
import org.gradsurgery.layers.SegmentationLossLayer;
import org.gradsurgery.layers.SpatialBatchNormalization;
import org.gradsurgery.layers.TransposedConvolution2D;
import org.gradsurgery.layers.TransposedConvolution3D;
import org.gradsurgery.loss.LossDice;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * A configurable 2D or 3D U-Net as a DL4J {@link ComputationGraph} (Ronneberger, Fischer, Brox, "U-Net", MICCAI 2015;
 * Çiçek et al., "3D U-Net", MICCAI 2016), ending in the project's {@link SegmentationLossLayer} so that region losses
 * (and {@link org.gradsurgery.loss.GradientSurgery}) get per-example groups.
 *
 * <p>With L = {@code levels}, f_i = {@code baseFilters}·2^(i−1) filters at level i = 1 … L and k =
 * {@code convsPerLevel}:
 * <pre>
 *   encoder, level i:   k × [3×3(×3) conv, same padding → norm → ReLU]          ("enc{i}_conv{j}", "enc{i}_norm{j}")
 *                       then 2×2(×2) max-pool, stride 2 (i &lt; L)                ("down{i}")
 *   bottleneck:         level L's block, at 1/2^(L−1) of the input size
 *   decoder, level i:   up ×2 to f_i channels (2×2(×2) transposed conv, stride 2;  ("up{i}")
 *                       or nearest upsampling → 3×3(×3) conv), concatenation with
 *                       the encoder's level-i output (channels 2·f_i),              ("skip{i}")
 *                       k × [conv → norm → ReLU] with f_i filters                   ("dec{i}_conv{j}", "dec{i}_norm{j}")
 *   head:               1×1(×1) conv to numClasses logits ("logits") → SegmentationLossLayer with softmax or
 *                       sigmoid over the channel axis and the chosen loss (vertex {@value #OUTPUT})
 * </pre>
 * With {@link Normalization#NONE} the ReLU sits on the convolution. Dropout p (a drop probability, unlike DL4J's
 * retain-probability {@code dropOut}) applies to the input of every 3×3 convolution except those reading the image.
 * In 3D everything is NCDHW and uses the project's rank-5 blocks ({@link InstanceNormalization},
 * {@link SpatialBatchNormalization}, {@link ChannelConcatVertex}), because DL4J 1.0.0-M2.1's
 * {@code BatchNormalization} and {@code MergeVertex} fail on rank 5; 2D uses the same blocks in NCHW or NHWC.
 *
 * <p>Unlike DL4J's zoo {@code UNet} (2D only, ignores {@code numClasses}, sigmoid output fed to a softmax-style loss,
 * deeplearning4j#6955), every option is configurable and validated:
 * <pre>{@code
 * UNet unet = UNet.builder().spatialDims(3).inputChannels(1).numClasses(3)
 *         .levels(4).baseFilters(16).normalization(UNet.Normalization.INSTANCE)
 *         .loss(GradientSurgery.wrap(new LossDice())).inputSize(64, 64, 64).build();
 * ComputationGraph net = unet.graph();          // initialised, ready to fit
 * System.out.println(unet.summary());           // layer table and parameter count
 * }</pre>
 * Spatial sizes fed to the network must be multiples of {@link #sizeDivisor()} = 2^(L−1) (otherwise pooled and
 * upsampled sizes disagree at a skip). Without {@code inputSize} the configuration's input type uses that smallest
 * valid size; any multiple of it works at run time. Immutable.
 */
public final class UNet {

    /** Name of the graph's input vertex. */
    public static final String INPUT = "input";
    /** Name of the graph's output vertex (the {@link SegmentationLossLayer}). */
    public static final String OUTPUT = "output";
    /** Name of the 1×1 convolution producing the logits, the input of {@link #OUTPUT}. */
    public static final String LOGITS = "logits";

    /** Normalisation after each 3×3 convolution. */
    public enum Normalization {
        /** Per-example, per-channel statistics ({@link InstanceNormalization}); nnU-Net's and MONAI's default. */
        INSTANCE,
        /** Per-channel statistics over the batch and space ({@link SpatialBatchNormalization}, decay 0.9). */
        BATCH,
        /** No normalisation; the ReLU is on the convolution. */
        NONE
    }

    /** How the decoder doubles the resolution. */
    public enum Upsampling {
        /** 2×2(×2) transposed convolution with stride 2 (Ronneberger's "up-conv"). */
        TRANSPOSED_CONV,
        /** Nearest-neighbour ×2 upsampling followed by a 3×3(×3) convolution (no checkerboard artefacts). */
        UPSAMPLE_CONV
    }

    /** Activation of the output layer, applied over the channel axis by the loss. */
    public enum OutputActivation {
        /** Mutually exclusive classes; {@code numClasses} ≥ 2 channels, channel 0 usually background. */
        SOFTMAX(Activation.SOFTMAX),
        /** Independent (multi-label) channels; {@code numClasses} ≥ 1 foreground channels, no background channel. */
        SIGMOID(Activation.SIGMOID);

        private final Activation activation;

        OutputActivation(Activation activation) {
            this.activation = activation;
        }

        /** The DL4J activation. */
        public Activation activation() {
            return activation;
        }
    }

    private final UNetSpec options;
    private final ILossFunction loss;
    private final ComputationGraphConfiguration configuration;
    private final List<String[]> vertexOrder;

    private UNet(UNetSpec spec, ILossFunction loss, ComputationGraphConfiguration configuration,
                 List<String[]> vertexOrder) {
        this.options = spec;
        this.loss = loss;
        this.configuration = configuration;
        this.vertexOrder = vertexOrder;
    }

    /** Every setting but the loss: {@code UNet.builder().from(spec()).loss(loss()).build()} builds this network again. */
    public UNetSpec spec() {
        return options;
    }

    /** A builder with the defaults of {@link UNetSpec#DEFAULTS}. */
    public static Builder builder() {
        return new Builder();
    }

    /** A copy of the configuration (JSON-serialisable; {@code ComputationGraphConfiguration.fromJson} restores it). */
    public ComputationGraphConfiguration configuration() {
        return configuration.clone();
    }

    /**
     * A new, initialised graph with parameters drawn from the seed: every call returns an identical network. Its
     * updater is an {@link InPlaceGradientUpdater} (DL4J's updates, without the per-step views DL4J M2.1 builds).
     */
    public ComputationGraph graph() {
        Natives.warnIfSlow();
        ComputationGraph net = new ComputationGraph(configuration.clone());
        net.init();
        return InPlaceGradientUpdater.install(net);
    }

    /** The DL4J input type of {@link #INPUT} (with the configured or the smallest valid spatial size). */
    public InputType inputType() {
        return inputType(options);
    }

    /** Spatial sizes fed to the network must be multiples of this: 2^(levels−1). */
    public int sizeDivisor() {
        return options.sizeDivisor();
    }

    public int spatialDims() {
        return options.spatialDims();
    }

    public int inputChannels() {
        return options.inputChannels();
    }

    public int numClasses() {
        return options.numClasses();
    }

    public int levels() {
        return options.levels();
    }

    public int baseFilters() {
        return options.baseFilters();
    }

    public int convsPerLevel() {
        return options.convsPerLevel();
    }

    public Normalization normalization() {
        return options.normalization();
    }

    public double dropout() {
        return options.dropout();
    }

    public Upsampling upsampling() {
        return options.upsampling();
    }

    public OutputActivation activation() {
        return options.activation();
    }

    /** The loss (a copy is in the configuration; this is the instance given to the builder). */
    public ILossFunction loss() {
        return loss;
    }

    /** NCHW or NHWC in 2D; null in 3D (always NCDHW). */
    public CNN2DFormat dataFormat() {
        return options.dataFormat();
    }

    /** The configured spatial size, or null when none was given. */
    public int[] inputSize() {
        return options.inputSize();
    }

    public long seed() {
        return options.seed();
    }

    public IUpdater updater() {
        return options.updater();
    }

    public DataType dataType() {
        return options.dataType();
    }

    /** Total number of parameters (including running statistics of batch normalisation). */
    public long numParams() {
        long total = 0;
        for (GraphVertex v : configuration.getVertices().values()) {
            total += v.numParams(false);
        }
        return total;
    }

    /**
     * A table with one row per vertex in build order (name, type, activation, inputs, output shape for the
     * configured input type, parameters) and the total parameter count.
     */
    public String summary() {
        Map<String, InputType> types = configuration.clone().getLayerActivationTypes(false, inputType());
        List<String[]> rows = new ArrayList<>();
        rows.add(new String[] {"vertex", "type", "activation", "inputs", "output shape (per example)", "params"});
        rows.add(new String[] {INPUT, "Input", "", "", shape(inputType()), "0"});
        for (String[] nameAndInputs : vertexOrder) {
            String name = nameAndInputs[0];
            GraphVertex v = configuration.getVertices().get(name);
            Layer layer = v instanceof LayerVertex ? ((LayerVertex) v).getLayerConf().getLayer() : null;
            String type = layer != null ? layer.getClass().getSimpleName() : v.getClass().getSimpleName();
            String activation = layer instanceof BaseLayer && ((BaseLayer) layer).getActivationFn() != null
                    ? ((BaseLayer) layer).getActivationFn().toString() : "";
            String inputs = String.join(", ", Arrays.copyOfRange(nameAndInputs, 1, nameAndInputs.length));
            rows.add(new String[] {name, type, activation, inputs, shape(types.get(name)),
                    Long.toString(v.numParams(false))});
        }
        int[] width = new int[rows.get(0).length];
        for (String[] r : rows) {
            for (int i = 0; i < r.length; i++) {
                width[i] = Math.max(width[i], r[i].length());
            }
        }
        StringBuilder sb = new StringBuilder();
        sb.append(this).append('\n');
        for (String[] r : rows) {
            for (int i = 0; i < r.length; i++) {
                String cell = i == r.length - 1 ? String.format("%" + width[i] + "s", r[i])
                        : String.format("%-" + width[i] + "s  ", r[i]);
                sb.append(cell);
            }
            sb.append('\n');
        }
        sb.append(String.format("Total parameters: %,d%n", numParams()));
        return sb.toString();
    }

    private static String shape(InputType t) {
        if (t instanceof InputType.InputTypeConvolutional) {
            InputType.InputTypeConvolutional c = (InputType.InputTypeConvolutional) t;
            return c.getFormat() == CNN2DFormat.NHWC
                    ? "[" + c.getHeight() + ", " + c.getWidth() + ", " + c.getChannels() + "] HWC"
                    : "[" + c.getChannels() + ", " + c.getHeight() + ", " + c.getWidth() + "] CHW";
        }
        if (t instanceof InputType.InputTypeConvolutional3D) {
            // M2.1 mislabels several NCDHW outputs as NDHWC; every array here is NCDHW.
            InputType.InputTypeConvolutional3D c = (InputType.InputTypeConvolutional3D) t;
            return "[" + c.getChannels() + ", " + c.getDepth() + ", " + c.getHeight() + ", " + c.getWidth() + "] CDHW";
        }
        return String.valueOf(t);
    }

    @Override
    public String toString() {
        return "UNet(" + options.toString().substring("UNetSpec(".length(), options.toString().length() - 1)
                + ", loss=" + loss + ")";
    }

    /**
     * Options: a {@link UNetSpec} (every setting but the loss, with its defaults and validation) and the loss;
     * {@link #build()} validates them together and throws {@link InvalidSettingException} naming the option, its
     * value and what is allowed. Not reusable across threads; each {@code build()} takes a snapshot.
     */
    public static final class Builder {
        private UNetSpec.Builder spec = UNetSpec.builder();
        private ILossFunction loss = new LossDice();

        private Builder() {
        }

        /** Every setting of {@code spec} (the loss stays as it is): {@code UNet.builder().from(spec).loss(l)}. */
        public Builder from(UNetSpec spec) {
            this.spec = spec.toBuilder();
            return this;
        }

        /** 2 (default) or 3. */
        public Builder spatialDims(int spatialDims) {
            spec.spatialDims(spatialDims);
            return this;
        }

        /** Image channels (modalities), ≥ 1; default 1. */
        public Builder inputChannels(int inputChannels) {
            spec.inputChannels(inputChannels);
            return this;
        }

        /** Output channels: classes incl. background for softmax (≥ 2), independent labels for sigmoid (≥ 1); default 2. */
        public Builder numClasses(int numClasses) {
            spec.numClasses(numClasses);
            return this;
        }

        /** Resolutions, ≥ 1 (levels − 1 poolings); default 4. */
        public Builder levels(int levels) {
            spec.levels(levels);
            return this;
        }

        /** Filters at the first level, doubled per level; default 16. */
        public Builder baseFilters(int baseFilters) {
            spec.baseFilters(baseFilters);
            return this;
        }

        /** Conv → norm → ReLU steps per block, ≥ 1; default 2. */
        public Builder convsPerLevel(int convsPerLevel) {
            spec.convsPerLevel(convsPerLevel);
            return this;
        }

        /** Default {@link Normalization#INSTANCE}. */
        public Builder normalization(Normalization normalization) {
            spec.normalization(normalization);
            return this;
        }

        /** Drop probability in [0, 1) on the input of each inner 3×3 convolution; default 0. */
        public Builder dropout(double dropout) {
            spec.dropout(dropout);
            return this;
        }

        /** Default {@link Upsampling#TRANSPOSED_CONV}. */
        public Builder upsampling(Upsampling upsampling) {
            spec.upsampling(upsampling);
            return this;
        }

        /** Default {@link OutputActivation#SOFTMAX}. */
        public Builder activation(OutputActivation activation) {
            spec.activation(activation);
            return this;
        }

        /** Any {@link ILossFunction}, e.g. {@code GradientSurgery.wrap(new LossDice())}; default {@link LossDice}. */
        public Builder loss(ILossFunction loss) {
            this.loss = Objects.requireNonNull(loss, "loss");
            return this;
        }

        /** 2D layout, NCHW (default) or NHWC; not allowed in 3D (always NCDHW). */
        public Builder dataFormat(CNN2DFormat dataFormat) {
            spec.dataFormat(dataFormat);
            return this;
        }

        /** Spatial size (H, W) or (D, H, W), each a multiple of 2^(levels−1); optional. */
        public Builder inputSize(int... inputSize) {
            spec.inputSize(inputSize);
            return this;
        }

        /** Seed of the weight initialisation (and dropout); default 42. */
        public Builder seed(long seed) {
            spec.seed(seed);
            return this;
        }

        /** Default {@code new Adam(1e-3)}. */
        public Builder updater(IUpdater updater) {
            spec.updater(updater);
            return this;
        }

        /** Network data type, default FLOAT (DOUBLE for gradient checks). */
        public Builder dataType(DataType dataType) {
            spec.dataType(dataType);
            return this;
        }

        /**
         * Validates the options and builds the configuration.
         *
         * @throws InvalidSettingException for an invalid option or combination, naming it
         */
        public UNet build() {
            UNetSpec s = spec.build();
            List<String[]> order = new ArrayList<>();
            ComputationGraphConfiguration conf = new Wiring(s, loss, order).build();
            return new UNet(s, loss, conf, Collections.unmodifiableList(order));
        }
    }

    private static InputType inputType(UNetSpec o) {
        int[] size = o.inputSize();
        if (size == null) {
            size = new int[o.spatialDims()];
            Arrays.fill(size, o.sizeDivisor());
        }
        return o.spatialDims() == 2 ? InputType.convolutional(size[0], size[1], o.inputChannels(), o.dataFormat())
                : InputType.convolutional3D(Convolution3D.DataFormat.NCDHW, size[0], size[1], size[2],
                o.inputChannels());
    }

    /** Adds the vertices; one method per building block so 2D and 3D differ only in the layer factories. */
    private static final class Wiring {
        private final UNetSpec o;
        private final ILossFunction loss;
        private final List<String[]> order;
        private final ComputationGraphConfiguration.GraphBuilder g;

        Wiring(UNetSpec o, ILossFunction loss, List<String[]> order) {
            this.o = o;
            this.loss = loss;
            this.order = order;
            this.g = new NeuralNetConfiguration.Builder()
                    .seed(o.seed())
                    .dataType(o.dataType())
                    .updater(o.updater())
                    .weightInit(WeightInit.RELU)
                    .graphBuilder()
                    .addInputs(INPUT)
                    .setInputTypes(inputType(o));
        }

        ComputationGraphConfiguration build() {
            String[] skips = new String[o.levels() + 1];
            String x = INPUT;
            for (int i = 1; i <= o.levels(); i++) {
                if (i > 1) {
                    x = layer("down" + (i - 1), pool(), x);
                }
                x = block("enc" + i, filters(i), x);
                skips[i] = x;
            }
            for (int i = o.levels() - 1; i >= 1; i--) {
                String up = up("up" + i, filters(i), x);
                x = vertex("skip" + i, new ChannelConcatVertex(o.spatialDims() == 2 ? fmt() : CNN2DFormat.NCHW),
                        up, skips[i]);
                x = block("dec" + i, filters(i), x);
            }
            x = layer(LOGITS, conv(1, o.numClasses(), Activation.IDENTITY, false, true), x);
            layer(OUTPUT, new SegmentationLossLayer.Builder().lossFunction(loss)
                    .activation(o.activation().activation()).dataFormat(fmt()).build(), x);
            return g.setOutputs(OUTPUT).build();
        }

        /** The 2D layout; NCHW stands in for 3D (where the 2D-or-3D blocks ignore it). */
        private CNN2DFormat fmt() {
            return o.dataFormat() == null ? CNN2DFormat.NCHW : o.dataFormat();
        }

        private int filters(int level) {
            return o.baseFilters() << (level - 1);
        }

        private String block(String prefix, int nOut, String input) {
            String x = input;
            for (int j = 1; j <= o.convsPerLevel(); j++) {
                boolean norm = o.normalization() != Normalization.NONE;
                boolean drop = o.dropout() > 0 && !INPUT.equals(x);
                // the network's input needs no gradient: its convolution computes only the parameter gradients
                x = layer(prefix + "_conv" + j, conv(3, nOut, norm ? Activation.IDENTITY : Activation.RELU, drop,
                        !INPUT.equals(x)), x);
                if (norm) {
                    x = layer(prefix + "_norm" + j, norm(), x);
                }
            }
            return x;
        }

        private String up(String name, int nOut, String input) {
            if (o.upsampling() == Upsampling.TRANSPOSED_CONV) {
                Layer l = o.spatialDims() == 2
                        ? new TransposedConvolution2D.Builder().kernelSize(2, 2).stride(2, 2).nOut(nOut)
                        .convolutionMode(ConvolutionMode.Same).dataFormat(fmt())
                        .activation(Activation.IDENTITY).build()
                        : new TransposedConvolution3D.Builder().kernelSize(2, 2, 2).stride(2, 2, 2).nOut(nOut)
                        .convolutionMode(ConvolutionMode.Same).dataFormat(Convolution3D.DataFormat.NCDHW)
                        .activation(Activation.IDENTITY).build();
                return layer(name, l, input);
            }
            Layer upsample = o.spatialDims() == 2
                    ? new Upsampling2D.Builder(2).dataFormat(fmt()).build()
                    : new Upsampling3D.Builder(Convolution3D.DataFormat.NCDHW, 2).build();
            String u = layer(name + "_upsample", upsample, input);
            return layer(name, conv(3, nOut, Activation.IDENTITY, false, true), u);
        }

        private Layer pool() {
            if (o.spatialDims() == 2) {
                return new BlockMaxPooling2D.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2)
                        .convolutionMode(ConvolutionMode.Same).dataFormat(fmt()).build();
            }
            return new BlockMaxPooling3D.Builder(PoolingType.MAX, new int[] {2, 2, 2}, new int[] {2, 2, 2})
                    .convolutionMode(ConvolutionMode.Same).dataFormat(Convolution3D.DataFormat.NCDHW).build();
        }

        private Layer conv(int kernel, int nOut, Activation activation, boolean dropout, boolean inputGradient) {
            Layer l = o.spatialDims() == 2
                    ? new NativeConvolution2D.Builder(kernel, kernel).inputGradient(inputGradient).nOut(nOut)
                    .activation(activation)
                    .convolutionMode(ConvolutionMode.Same).dataFormat(fmt()).build()
                    : new NativeConvolution3D.Builder(kernel, kernel, kernel).inputGradient(inputGradient).nOut(nOut)
                    .activation(activation)
                    .convolutionMode(ConvolutionMode.Same).dataFormat(Convolution3D.DataFormat.NCDHW).build();
            if (dropout) {
                // DL4J's Dropout takes the retain probability
                l.setIDropout(new Dropout(1.0 - o.dropout()));
            }
            return l;
        }

        private Layer norm() {
            // Channels and the 2D format come from the input types.
            return o.normalization() == Normalization.BATCH
                    ? new SpatialBatchNormalization.Builder().decay(0.9).activation(Activation.RELU).build()
                    : new InstanceNormalization.Builder().activation(Activation.RELU).build();
        }

        private String layer(String name, Layer layer, String input) {
            g.addLayer(name, layer, input);
            order.add(new String[] {name, input});
            return name;
        }

        private String vertex(String name, GraphVertex vertex, String... inputs) {
            g.addVertex(name, vertex, inputs);
            String[] row = new String[inputs.length + 1];
            row[0] = name;
            System.arraycopy(inputs, 0, row, 1, inputs.length);
            order.add(row);
            return name;
        }
    }
}
