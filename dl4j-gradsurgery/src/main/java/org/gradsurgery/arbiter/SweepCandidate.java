package org.gradsurgery.arbiter;

import java.io.Serializable;
import java.util.Objects;
import org.gradsurgery.experiment.UNetSpec;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * One point of a {@link SweepSpace}: the loss to train with and the U-Net options ({@link UNetSpec}). Serializable, because Arbiter
 * hands candidates to its tasks through a serialising supplier.
 */
public final class SweepCandidate implements Serializable {
    private static final long serialVersionUID = 1L;

    private final ILossFunction loss;
    private final UNetSpec unet;

    public SweepCandidate(ILossFunction loss, UNetSpec unet) {
        this.loss = Objects.requireNonNull(loss, "loss");
        this.unet = Objects.requireNonNull(unet, "unet");
    }

    public ILossFunction loss() {
        return loss;
    }

    /** The U-Net settings the sweep chose (dims, channels, classes and size come from the data). */
    public UNetSpec unet() {
        return unet;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SweepCandidate && loss.equals(((SweepCandidate) o).loss)
                && unet.equals(((SweepCandidate) o).unet);
    }

    @Override
    public int hashCode() {
        return Objects.hash(loss, unet);
    }

    @Override
    public String toString() {
        return "SweepCandidate(loss=" + loss + ", unet=" + unet + ")";
    }
}
