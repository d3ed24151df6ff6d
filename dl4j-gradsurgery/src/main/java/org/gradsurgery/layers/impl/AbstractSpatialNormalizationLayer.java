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
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Runtime part shared by {@link InstanceNormalization} and {@link SpatialBatchNormalization}: normalisation over
 * the subclass's group axes, the per-channel affine map and the analytic backprop documented on
 * {@link AbstractSpatialNormalization}. Statistics are recomputed from the (cached) input in backprop rather than
 * carried across workspaces from the forward pass.
 */
public abstract class AbstractSpatialNormalizationLayer<C extends AbstractSpatialNormalization> extends BaseLayer<C> {

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

    /** Called in backprop with the batch statistics (keep-dims shapes) and the group size m. */
    protected void recordStatistics(INDArray mean, INDArray biasedVar, long groupSize, Gradient gradient) {
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

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        applyDropOutIfNecessary(training, workspaceMgr);
        INDArray x = input.castTo(dataType);
        SpatialLayout layout = layout(x);
        INDArray[] moments = training ? null : inferenceMoments(layout);
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
        recordStatistics(st[1], st[2], groupSize, gradient);
        dx = backpropDropOutIfPresent(dx);
        return new Pair<>(gradient, workspaceMgr.leverageTo(ArrayType.ACTIVATION_GRAD, dx));
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
