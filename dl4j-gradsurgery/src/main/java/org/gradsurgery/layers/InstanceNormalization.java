package org.gradsurgery.layers;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.nd4j.linalg.api.buffer.DataType;

/**
 * Instance normalisation (Ulyanov, Vedaldi, Lempitsky, "Instance Normalization: The Missing Ingredient for Fast
 * Stylization", arXiv:1607.08022, 2016) for rank-4 ({@code NCHW}/{@code NHWC}) and rank-5 ({@code NCDHW})
 * activations: the default normalisation of nnU-Net and MONAI's U-Nets.
 *
 * <p>Per example n and channel c, over the spatial positions s (m = H·W or D·H·W of them):
 * <pre>
 *   μ_{n,c} = mean_s x_{n,c,s},   σ²_{n,c} = mean_s (x_{n,c,s} − μ_{n,c})²        (biased)
 *   y_{n,c,s} = γ_c · (x_{n,c,s} − μ_{n,c}) / sqrt(σ²_{n,c} + ε) + β_c
 * </pre>
 * Training and inference are identical (no running statistics, as PyTorch's {@code InstanceNorm3d} default
 * {@code track_running_stats=False}). Backprop, with x̂ the normalised input and g = γ_c·∂L/∂y:
 * {@code ∂L/∂x_{n,c,s} = (g − mean_s g − x̂ · mean_s(g·x̂)) / sqrt(σ²_{n,c} + ε)},
 * {@code ∂L/∂γ_c = Σ_{n,s} ∂L/∂y · x̂}, {@code ∂L/∂β_c = Σ_{n,s} ∂L/∂y}.
 *
 * <p>Defaults: ε = 1e-5, affine (γ init 1, β init 0) as nnU-Net. Parameters: {@code gamma}, {@code beta}
 * ({@link SpatialNormalizationParamInitializer}). A single spatial position gives x̂ = 0 (the output is β).
 *
 * <pre>{@code
 * new InstanceNormalization.Builder().build()                 // channels from the graph's input types
 * new InstanceNormalization.Builder().nIn(16).affine(false).eps(1e-5).build()
 * new InstanceNormalization.Builder().activation(new ActivationLReLU(0.01)).build()   // nnU-Net's norm + nonlinearity
 * }</pre>
 */
public class InstanceNormalization extends AbstractSpatialNormalization {

    /** For JSON deserialisation; prefer the {@link Builder}. */
    public InstanceNormalization() {
        this(new Builder());
    }

    private InstanceNormalization(Builder builder) {
        super(builder);
        initializeConstraints(builder);
    }

    @Override
    public boolean hasRunningStatistics() {
        return false;
    }

    @Override
    protected org.deeplearning4j.nn.api.Layer createLayer(NeuralNetConfiguration conf, DataType dataType) {
        return new org.gradsurgery.layers.impl.InstanceNormalization(conf, dataType);
    }

    @Override
    public InstanceNormalization clone() {
        return (InstanceNormalization) super.clone();
    }

    /** Builder: {@code eps}, {@code affine}, {@code dataFormat}, and {@code nIn} when the graph has no input types. */
    public static class Builder extends AbstractSpatialNormalization.Builder<Builder> {

        @Override
        @SuppressWarnings("unchecked")
        public InstanceNormalization build() {
            return new InstanceNormalization(this);
        }
    }
}
