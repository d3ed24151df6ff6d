package org.gradsurgery.data;

import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * A step of a preprocessing or augmentation pipeline: {@code Sample → Sample}.
 *
 * <p>Deterministic steps ignore {@code rng}. Random steps draw only from {@code rng}, so a pipeline run with a
 * generator seeded from (seed, epoch, example) gives the same output whatever thread or order it runs in. Geometric
 * steps move image, label and mask together and keep the affine exact.
 */
@FunctionalInterface
public interface Transform {
    /** Applies the step. Never modifies {@code sample}. */
    Sample apply(Sample sample, SplittableRandom rng);

    /** This step, then {@code next}. */
    default Transform then(Transform next) {
        Objects.requireNonNull(next, "next");
        return (s, rng) -> next.apply(apply(s, rng), rng);
    }

    /** The steps in order; no steps is the identity. */
    static Transform compose(List<? extends Transform> steps) {
        List<Transform> copy = List.copyOf(steps);
        return (s, rng) -> {
            Sample out = s;
            for (Transform t : copy) {
                out = t.apply(out, rng);
            }
            return out;
        };
    }

    /** The steps in order. */
    static Transform compose(Transform... steps) {
        return compose(List.of(steps));
    }

    /** The identity. */
    static Transform identity() {
        return (s, rng) -> s;
    }
}
