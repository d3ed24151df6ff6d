package org.gradsurgery.experiment;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.gradsurgery.data.KnownProbabilityImages;

/**
 * The known-probability testbed as a source ({@link DataPlan.KnownProbability}, {@link KnownProbabilityImages}):
 * 2D images with a sampled label y ~ Bernoulli(q) and the true foreground probability q per pixel, which
 * {@link #q(String)} gives for the metrics against q (|p − q|, reliability against q). Its defaults
 * ({@link #withDefaults}): dims 2, intensity none (the images are generated on a fixed scale), 2 classes
 * (background, foreground).
 */
public final class KnownProbabilitySource extends InMemorySource {
    private final DataPlan.KnownProbability spec;
    private final Map<String, float[]> q = new LinkedHashMap<>();

    public KnownProbabilitySource(DataPlan.KnownProbability spec) {
        super("the known-probability testbed");
        this.spec = spec;
        KnownProbabilityImages g = new KnownProbabilityImages(spec.size(), spec.edgeMin(), spec.edgeMax(),
                spec.noise());
        for (KnownProbabilityImages.Item it : g.generate(spec.seed(), spec.cases())) {
            add(it.sample().id(), it.sample());
            q.put(it.sample().id(), it.q());
        }
    }

    /** The true foreground probability of each pixel of case {@code id}, in the sample's order. */
    public float[] q(String id) {
        load(id);       // an unknown id is named
        return q.get(id);
    }

    @Override
    public List<String> classNames() {
        return List.of("background", "foreground");
    }

    @Override
    public DataPlan withDefaults(DataPlan plan) {
        return imagesAsGiven(plan).build();
    }

    @Override
    public String describe() {
        return String.format(Locale.ROOT, "known-probability testbed, %d images of %d², edge width %.2g–%.2g px, "
                + "noise sd %.2g", spec.cases(), spec.size(), spec.edgeMin(), spec.edgeMax(), spec.noise());
    }

    @Override
    public DataPlan.Source spec() {
        return spec;
    }
}
