package org.gradsurgery.experiment;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.gradsurgery.InvalidSettingException;
import org.gradsurgery.data.Sample;

/**
 * A source whose cases are held in memory (generated, or read once): the case list and lookup the in-memory sources
 * share. Subclasses add their cases with {@link #add} in their constructor, in their fixed order.
 */
abstract class InMemorySource implements DataSource {
    private final Map<String, Sample> samples = new LinkedHashMap<>();
    private final String name;

    /** @param name how errors name the source, e.g. {@code the Colin27 demo data} */
    InMemorySource(String name) {
        this.name = name;
    }

    /** Adds case {@code id}. */
    final void add(String id, Sample sample) {
        samples.put(id, sample);
    }

    /**
     * {@code plan} with the defaults of 2D images already on a fixed intensity scale (generated, or normalised when
     * the data set was made): dims 2 and intensity none where unset.
     */
    static DataPlan.Builder imagesAsGiven(DataPlan plan) {
        DataPlan.Builder b = plan.toBuilder();
        if (plan.dims() == null) {
            b.dims(2);
        }
        if (plan.intensity() == null) {
            b.intensity(DataPlan.Intensity.NONE);
        }
        return b;
    }

    @Override
    public List<String> caseIds() {
        return List.copyOf(samples.keySet());
    }

    @Override
    public Sample load(String id) {
        Sample s = samples.get(id);
        if (s == null) {
            throw InvalidSettingException.unreadable("split", name + " has no case " + id);
        }
        return s;
    }
}
