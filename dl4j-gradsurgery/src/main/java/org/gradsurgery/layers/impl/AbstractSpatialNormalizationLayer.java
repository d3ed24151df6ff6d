package org.gradsurgery.layers.impl;

import java.util.Arrays;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.BaseLayer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.gradsurgery.layers.AbstractSpatialNormalization;
import org.gradsurgery.layers.SpatialNormalizationParamInitializer;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Runtime part shared by {@link InstanceNormalization} and {@link SpatialBatchNormalization}: normalisation over
 * the subclass's group axes, the per-channel affine map and the analytic backprop documented on
 * {@link AbstractSpatialNormalization}.
 *
 * <p>On the fused path ({@link NormalizationKernels}) a training-mode forward pass keeps its group statistics (μ_g and
 * σ²_g, a few doubles per group on the Java heap, never workspace memory, which the next iteration reuses) for the
 * backprop of the same pass, which then reads the input twice instead of three times. They are used only while the
 * layer's input is the very array object they were computed from, with the same shape, in the same iteration and
 * epoch; otherwise (a new input set, an inference pass in between, {@link #clear()}) backprop recomputes them from the
 * input, as the ND4J path always does.
 */
public abstract class AbstractSpatialNormalizationLayer<C extends AbstractSpatialNormalization> extends BaseLayer<C> {

    /** The statistics of the last training-mode fused forward pass and what they were computed from. */
    private ForwardCarry<NormalizationKernels.Moments> carried;

    /** How many backprop calls used carried statistics (tests check that a network's training step does). */
    long carriedUses;

    protected AbstractSpatialNormalizationLayer(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    /** The axes one group of statistics is taken over, for training-mode statistics. */
    protected abstract int[] groupAxes(SpatialLayout layout);

    /**
     * Inference-mode mean and variance shaped to broadcast against the input, or null to use the input's own
     * statistics (instance norm).
     */
    protected abstract INDArray[] inferenceMoments(SpatialLayout layout);

    /** Called in backprop with the batch statistics (one value per group) and the group size m. */
    protected void recordStatistics(double[] mean, double[] biasedVar, long groupSize, Gradient gradient) {
    }

    protected SpatialLayout layout(INDArray x) {
        return SpatialLayout.of(x, layerConf().getDataFormat(), layerConf().getNOut(), layerId());
    }

    private INDArray perChannel(String key, SpatialLayout layout) {
        return getParam(key).reshape(layout.channelBroadcastShape(layerConf().getNOut()));
    }

    private INDArray invStd(INDArray var) {
        return Transforms.pow(var.add(layerConf().getEps()), -0.5, false);
    }

    /** {x̂, μ, σ², 1/sqrt(σ² + ε)} over the group axes (biased σ²; keep-dims shapes). */
    private INDArray[] standardise(INDArray x, int[] axes) {
        INDArray mean = x.mean(true, axes);
        INDArray xHat = x.sub(mean);
        INDArray var = xHat.mul(xHat).mean(true, axes);
        INDArray invStd = invStd(var);
        xHat.muli(invStd);
        return new INDArray[] {xHat, mean, var, invStd};
    }

    /** γ·x̂ + β when affine (overwriting {@code xHat} if {@code inPlace}), else x̂. */
    private INDArray affine(INDArray xHat, SpatialLayout layout, boolean inPlace) {
        if (!layerConf().isAffine()) {
            return xHat;
        }
        INDArray gamma = perChannel(SpatialNormalizationParamInitializer.GAMMA, layout);
        INDArray y = inPlace ? xHat.muli(gamma) : xHat.mul(gamma);
        return y.addi(perChannel(SpatialNormalizationParamInitializer.BETA, layout));
    }

    /**
     * The block structure for {@link NormalizationKernels}, or null when they do not apply (channels-last layout,
     * an activation other than identity or plain ReLU, a data type other than FLOAT).
     */
    private NormalizationKernels.Blocks fusedBlocks(INDArray x, SpatialLayout layout) {
        IActivation act = layerConf().getActivationFn();
        boolean supported = NormalizationKernels.enabled && !layout.channelsLast()
                && (act instanceof ActivationIdentity || plainRelu(act))
                && dataType == DataType.FLOAT && x.dataType() == dataType;
        if (!supported) {
            return null;
        }
        // Statistics per example when the group axes leave out the batch axis (instance norm).
        boolean perExample = Arrays.stream(groupAxes(layout)).noneMatch(a -> a == 0);
        return NormalizationKernels.Blocks.of(x, perExample);
    }

    private static boolean plainRelu(IActivation act) {
        return act instanceof ActivationReLU r && r.getMax() == null && r.getThreshold() == null
                && r.getNegativeSlope() == null;
    }

    private static INDArray whole(INDArray a) {
        return NormalizationKernels.whole(a) ? a : a.dup('c');
    }

    private double[] perChannelValues(String key, double otherwise) {
        if (!layerConf().isAffine()) {
            double[] v = new double[(int) layerConf().getNOut()];
            Arrays.fill(v, otherwise);
            return v;
        }
        return values(getParam(key));
    }

    /** The elements of a parameter or gradient vector, read in place (no ND4J op, no native copy). */
    static double[] values(INDArray vector) {
        double[] v = new double[(int) vector.length()];
        for (int i = 0; i < v.length; i++) {
            v[i] = vector.getDouble(i);
        }
        return v;
    }

    /** Writes {@code values} into a parameter-gradient view in place and registers it in {@code gradient}. */
    protected void setGradient(Gradient gradient, String key, double[] values) {
        INDArray view = gradientViews.get(key);
        for (int i = 0; i < values.length; i++) {
            view.putScalar(i, values[i]);
        }
        gradient.setGradientFor(key, view);
    }

    /** The carried statistics if they belong to the current input (see the class comment), else null. */
    private NormalizationKernels.Moments carriedMoments() {
        return ForwardCarry.validFor(carried, this);
    }

    @Override
    public void clear() {
        super.clear();
        carried = null;
    }

    private double[] invStd(double[] var) {
        return NormalizationKernels.invStd(var, layerConf().getEps());
    }

    private boolean relu() {
        return !(layerConf().getActivationFn() instanceof ActivationIdentity);
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        carried = null;
        applyDropOutIfNecessary(training, workspaceMgr);
        INDArray x = input.castTo(dataType);
        SpatialLayout layout = layout(x);
        INDArray[] moments = training ? null : inferenceMoments(layout);
        NormalizationKernels.Blocks blocks = fusedBlocks(x, layout);
        if (blocks != null) {
            x = whole(x);
            INDArray y = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, dataType, x.shape(), 'c');
            double[] gamma = perChannelValues(SpatialNormalizationParamInitializer.GAMMA, 1);
            double[] beta = perChannelValues(SpatialNormalizationParamInitializer.BETA, 0);
            if (moments == null) {
                NormalizationKernels.Moments m = NormalizationKernels.trainingForward(x, blocks,
                        layerConf().getEps(), gamma, beta, relu(), y);
                carried = ForwardCarry.of(this, m);
            } else {
                double[] mean = moments[0].reshape(moments[0].length()).toDoubleVector();
                double[] var = moments[1].reshape(moments[1].length()).toDoubleVector();
                NormalizationKernels.forward(x, blocks, mean, invStd(var), gamma, beta, relu(), y);
            }
            return y;
        }
        INDArray xHat = moments == null ? standardise(x, groupAxes(layout))[0]
                : x.sub(moments[0]).muli(invStd(moments[1]));
        INDArray y = layerConf().getActivationFn().getActivation(affine(xHat, layout, true), training);
        return workspaceMgr.leverageTo(ArrayType.ACTIVATIONS, y);
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(true);
        INDArray x = input.castTo(dataType);
        SpatialLayout layout = layout(x);
        if (!Arrays.equals(epsilon.shape(), x.shape())) {
            throw new IllegalArgumentException(layerId() + ": epsilon shape " + Arrays.toString(epsilon.shape())
                    + " differs from input shape " + Arrays.toString(x.shape()));
        }
        int[] axes = groupAxes(layout);
        long groupSize = 1;
        for (int a : axes) {
            groupSize *= x.size(a);
        }
        NormalizationKernels.Blocks blocks = fusedBlocks(x, layout);
        if (blocks != null) {
            return fusedBackprop(whole(x), whole(epsilon.castTo(dataType)), blocks, groupSize, workspaceMgr);
        }
        INDArray[] st = standardise(x, axes);
        INDArray xHat = st[0];
        INDArray invStd = st[3];

        INDArray dy = epsilon.castTo(dataType);
        IActivation activation = layerConf().getActivationFn();
        if (!(activation instanceof ActivationIdentity)) {
            // ∂L/∂(γ·x̂ + β) through the activation, from the recomputed pre-activation (a fresh array)
            INDArray preActivation = layerConf().isAffine() ? affine(xHat, layout, false) : xHat.dup();
            dy = activation.backprop(preActivation, dy.dup()).getFirst();
        }
        Gradient gradient = new DefaultGradient();
        INDArray g = dy;
        if (layerConf().isAffine()) {
            int[] nonChannel = layout.nonChannelAxes();
            INDArray dGamma = gradientViews.get(SpatialNormalizationParamInitializer.GAMMA);
            INDArray dBeta = gradientViews.get(SpatialNormalizationParamInitializer.BETA);
            dGamma.assign(dy.mul(xHat).sum(nonChannel));
            dBeta.assign(dy.sum(nonChannel));
            gradient.setGradientFor(SpatialNormalizationParamInitializer.GAMMA, dGamma);
            gradient.setGradientFor(SpatialNormalizationParamInitializer.BETA, dBeta);
            g = dy.mul(perChannel(SpatialNormalizationParamInitializer.GAMMA, layout));
        }
        // ∂L/∂x = (g − mean_G g − x̂ · mean_G(g·x̂)) / sqrt(σ² + ε)
        INDArray dx = g.sub(g.mean(true, axes))
                .subi(xHat.mul(g.mul(xHat).mean(true, axes)))
                .muli(invStd);
        recordStatistics(values(st[1].reshape(st[1].length())), values(st[2].reshape(st[2].length())), groupSize,
                gradient);
        dx = backpropDropOutIfPresent(dx);
        return new Pair<>(gradient, workspaceMgr.leverageTo(ArrayType.ACTIVATION_GRAD, dx));
    }

    private Pair<Gradient, INDArray> fusedBackprop(INDArray x, INDArray dy, NormalizationKernels.Blocks blocks,
                                                   long groupSize, LayerWorkspaceMgr workspaceMgr) {
        NormalizationKernels.Moments m = carriedMoments();
        if (m == null) {
            m = NormalizationKernels.moments(x, blocks);
        } else {
            carriedUses++;
        }
        boolean affine = layerConf().isAffine();
        int c = (int) layerConf().getNOut();
        double[] dGamma = affine ? new double[c] : null;
        double[] dBeta = affine ? new double[c] : null;
        INDArray dx = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, dataType, x.shape(), 'c');
        NormalizationKernels.backward(x, dy, blocks, m.mean(), invStd(m.var()),
                perChannelValues(SpatialNormalizationParamInitializer.GAMMA, 1),
                perChannelValues(SpatialNormalizationParamInitializer.BETA, 0), relu(), dx, dGamma, dBeta);
        Gradient gradient = new DefaultGradient();
        if (affine) {
            setGradient(gradient, SpatialNormalizationParamInitializer.GAMMA, dGamma);
            setGradient(gradient, SpatialNormalizationParamInitializer.BETA, dBeta);
        }
        recordStatistics(m.mean(), m.var(), groupSize, gradient);
        dx = backpropDropOutIfPresent(dx);
        return new Pair<>(gradient, dx);
    }

    @Override
    public boolean isPretrainLayer() {
        return false;
    }

    @Override
    public Type type() {
        return Type.NORMALIZATION;
    }

    @Override
    public void fit(INDArray input, LayerWorkspaceMgr workspaceMgr) {
        throw new UnsupportedOperationException(layerId() + ": not a pretrain layer; train it through its network");
    }
}
