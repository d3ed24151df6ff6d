package org.gradsurgery.layers;

import java.util.Objects;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * Batch normalisation (Ioffe and Szegedy, "Batch Normalization: Accelerating Deep Network Training by Reducing
 * Internal Covariate Shift", ICML 2015) over the batch and all spatial axes, for rank-4 ({@code NCHW}/{@code NHWC})
 * and rank-5 ({@code NCDHW}) activations. DL4J 1.0.0-M2.1's {@code BatchNormalization} accepts a 3D input type but
 * throws at run time on rank 5.
 *
 * <p><b>Training</b> (per channel c, over the m = N·spatial elements of the minibatch B):
 * <pre>
 *   μ_B = mean x,   σ²_B = mean (x − μ_B)²,   y = γ_c · (x − μ_B) / sqrt(σ²_B + ε) + β_c
 * </pre>
 * with backprop (g = γ_c·∂L/∂y, x̂ the normalised input)
 * {@code ∂L/∂x = (g − mean_B g − x̂ · mean_B(g·x̂)) / sqrt(σ²_B + ε)}, {@code ∂L/∂γ_c = Σ ∂L/∂y · x̂},
 * {@code ∂L/∂β_c = Σ ∂L/∂y}.
 *
 * <p><b>Inference</b> uses the running estimates: {@code y = γ_c · (x − μ_run) / sqrt(σ²_run + ε) + β_c}.
 *
 * <p><b>Running estimates</b> (initially μ_run = 0, σ²_run = 1) are updated once per training iteration
 * ({@code fit}), with decay d (default 0.9; PyTorch's {@code momentum} is 1 − d):
 * <pre>
 *   μ_run ← d · μ_run + (1 − d) · μ_B,      σ²_run ← d · σ²_run + (1 − d) · σ²_B · m/(m − 1)
 * </pre>
 * using the unbiased batch variance as Ioffe and Szegedy's Algorithm 2 and PyTorch do (the biased one when m = 1).
 * As in DL4J's own {@code BatchNormalization}, the estimates are the non-trainable parameters {@code mean} and
 * {@code var} ({@link SpatialNormalizationParamInitializer}), and the update is delivered as their "gradient"
 * {@code (1 − d)·(μ_run − μ_B)} (resp. for σ²), which a {@code NoOp} updater passes unscaled to the step
 * {@code θ ← θ − gradient}, without division by the minibatch size. So the estimates are saved with the model,
 * averaged by parameter averaging, and change only in {@code fit}: a forward pass in training mode (e.g.
 * {@code output(true, x)}) uses batch statistics but leaves the estimates unchanged. Do not configure gradient
 * normalisation/clipping on this layer: it would rescale the update of the estimates too (as for DL4J's layer).
 *
 * <pre>{@code
 * new SpatialBatchNormalization.Builder().decay(0.9).eps(1e-5).build()
 * }</pre>
 */
public class SpatialBatchNormalization extends AbstractSpatialNormalization {

    @JsonProperty("decay")
    private double decay = 0.9;

    /** For JSON deserialisation; prefer the {@link Builder}. */
    public SpatialBatchNormalization() {
        this(new Builder());
    }

    private SpatialBatchNormalization(Builder builder) {
        super(builder);
        this.decay = builder.decay;
        initializeConstraints(builder);
    }

    @Override
    public boolean hasRunningStatistics() {
        return true;
    }

    @Override
    protected org.deeplearning4j.nn.api.Layer createLayer(NeuralNetConfiguration conf, DataType dataType) {
        return new org.gradsurgery.layers.impl.SpatialBatchNormalization(conf, dataType);
    }

    /** Decay d of the running estimates (default 0.9 = PyTorch momentum 0.1). */
    public double getDecay() {
        return decay;
    }

    public void setDecay(double decay) {
        this.decay = decay;
    }

    @Override
    public SpatialBatchNormalization clone() {
        return (SpatialBatchNormalization) super.clone();
    }

    @Override
    public boolean equals(Object o) {
        return super.equals(o) && Double.compare(decay, ((SpatialBatchNormalization) o).decay) == 0;
    }

    @Override
    public int hashCode() {
        return Objects.hash(super.hashCode(), decay);
    }

    @Override
    protected String fieldsToString() {
        return super.fieldsToString() + ", decay=" + decay;
    }

    /** Builder: {@code decay}, {@code eps}, {@code affine}, {@code dataFormat}, and {@code nIn} without input types. */
    public static class Builder extends AbstractSpatialNormalization.Builder<Builder> {

        private double decay = 0.9;

        /** Decay d ∈ [0, 1) of the running estimates; default 0.9 (PyTorch momentum 0.1). */
        public Builder decay(double decay) {
            if (!(decay >= 0 && decay < 1)) {
                throw new IllegalArgumentException("SpatialBatchNormalization: decay must be in [0, 1), got " + decay);
            }
            this.decay = decay;
            return this;
        }

        @Override
        @SuppressWarnings("unchecked")
        public SpatialBatchNormalization build() {
            return new SpatialBatchNormalization(this);
        }
    }
}
