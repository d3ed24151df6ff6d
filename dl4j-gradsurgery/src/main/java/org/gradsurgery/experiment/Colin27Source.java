package org.gradsurgery.experiment;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.gradsurgery.InvalidSettingException;
import org.gradsurgery.data.Datasets;
import org.gradsurgery.data.Sample;

/**
 * The bundled demo data as a source ({@link Datasets#colin27DeepGm}): each axial slice of the Colin27 T1 crop is a 2D
 * case {@code z<k>}, already z-scored over the whole crop, with 5 deep-grey-matter classes; the held-out contiguous
 * slab of {@code split.json} is its fixed validation set. Its defaults ({@link #withDefaults}): dims 2, intensity
 * none, left-right flips (axis 1) for training, that split. Where the {@code datasets/} folder is, is the caller's
 * business (the CLI finds it from the working directory).
 */
public final class Colin27Source extends InMemorySource {
    private final DataPlan.Colin27 spec;
    private final Datasets.Colin27DeepGm data;
    private final List<String> training = new ArrayList<>();
    private final List<String> validation = new ArrayList<>();

    public Colin27Source(DataPlan.Colin27 spec) throws IOException {
        super("the Colin27 demo data");
        this.spec = spec;
        try {
            this.data = Datasets.colin27DeepGm(Path.of(spec.datasets()), spec.downsample());
        } catch (IllegalArgumentException e) {
            throw InvalidSettingException.unreadable("source", e.getMessage());
        }
        addSlices(data.trainSamples(), data.trainSlices(), training);
        addSlices(data.validationSamples(), data.validationSlices(), validation);
    }

    private void addSlices(List<Sample> samples, int[] index, List<String> ids) {
        for (int i = 0; i < samples.size(); i++) {
            String id = "z" + index[i];
            add(id, samples.get(i).withId(id));
            ids.add(id);
        }
    }

    /** The loaded demo data (arrays, class names, slice indices). */
    public Datasets.Colin27DeepGm data() {
        return data;
    }

    @Override
    public List<String> classNames() {
        return data.classNames();
    }

    @Override
    public DataPlan withDefaults(DataPlan plan) {
        DataPlan.Builder b = imagesAsGiven(plan);
        if (plan.augmentation() == null) {
            b.augmentation(DataPlan.Augmentation.FLIPS).flipAxes(1);
        }
        if (plan.split() == null) {
            b.split(DataPlan.Split.of(training, validation, null));
        }
        return b.build();
    }

    @Override
    public String describe() {
        int[] v = data.validationSlices();
        return String.format(Locale.ROOT, "Colin27 T1, axial slices %d x %d at %.1f x %.1f mm, classes %s; the "
                        + "held-out contiguous slab of %d slices (k = %d..%d) is never trained on "
                        + "(datasets/colin27-deepgm/split.json)", data.trainFeatures().size(2),
                data.trainFeatures().size(3), data.spacing()[0], data.spacing()[1],
                String.join(", ", data.classNames()), v.length, v[0], v[v.length - 1]);
    }

    @Override
    public DataPlan.Source spec() {
        return spec;
    }
}
