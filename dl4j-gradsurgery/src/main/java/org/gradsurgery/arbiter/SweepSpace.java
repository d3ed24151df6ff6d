package org.gradsurgery.arbiter;

import java.util.Objects;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * The joint space a sweep searches: a {@link LossSpace} and a {@link UNetSpace}, yielding {@link SweepCandidate}s.
 * Use it with Arbiter's {@code RandomSearchGenerator} or {@code GridSearchCandidateGenerator} and a
 * {@link SweepTaskCreator}.
 */
public final class SweepSpace extends CompositeSpace<SweepCandidate> {

    @JsonProperty("loss")
    private LossSpace loss;
    @JsonProperty("unet")
    private UNetSpace unet;

    /** For Jackson. */
    private SweepSpace() {
    }

    public SweepSpace(LossSpace loss, UNetSpace unet) {
        this.loss = Objects.requireNonNull(loss, "loss");
        this.unet = Objects.requireNonNull(unet, "unet");
    }

    public LossSpace loss() {
        return loss;
    }

    public UNetSpace unet() {
        return unet;
    }

    @Override
    public SweepCandidate getValue(double[] values) {
        return new SweepCandidate(loss.getValue(values), unet.getValue(values));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SweepSpace && loss.equals(((SweepSpace) o).loss) && unet.equals(((SweepSpace) o).unet);
    }

    @Override
    public int hashCode() {
        return Objects.hash(loss, unet);
    }

    @Override
    public String toString() {
        return "SweepSpace(" + loss + ", " + unet + ")";
    }
}
