package org.gradsurgery.experiment;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.gradsurgery.data.Sample;
import org.gradsurgery.data.SegmentationDataSetIterator;

/**
 * Labelled cases for an experiment, whatever holds them (a folder of NIfTI files, a manifest, generated arrays, the
 * bundled demo data). A source lists its cases, loads one, hands a set of them to the batch iterator, describes
 * itself for reports and records itself as a {@link DataPlan.Source}, from which {@link DataSources#open} opens it
 * again. Everything else (which cases train, validate or test, how they are normalised, sliced or patched) is the
 * {@link DataPlan}'s, applied by {@link ExperimentData}, the same for every source.
 *
 * <p>Implementations: {@link FileCasesSource} (MSD folders, image/label folders, manifests), {@link GeneratedSource},
 * {@link Colin27Source}.
 */
public interface DataSource {

    /** Every labelled case, in a fixed order; ids are unique. */
    List<String> caseIds() throws IOException;

    /** Case {@code id} as stored: raw label codes, the source's own intensities and grid. */
    Sample load(String id) throws IOException;

    /**
     * A batch-iterator builder over the cases {@code ids}, in that order; the caller sets everything else. The
     * default loads each case with {@link #load} and hands the samples over as they are, which is right for sources
     * held in memory; a source of files overrides it to read them lazily.
     */
    default SegmentationDataSetIterator.Builder examples(List<String> ids) throws IOException {
        List<Sample> out = new ArrayList<>(ids.size());
        for (String id : ids) {
            out.add(load(id));
        }
        return SegmentationDataSetIterator.builder().samples(out);
    }

    /** Class names if the source knows them (e.g. dataset.json), otherwise empty. */
    default List<String> classNames() {
        return List.of();
    }

    /**
     * {@code plan} with this source's own defaults in the settings it leaves unset (e.g. a source whose cases are
     * already normalised sets intensity {@code none}, one with a fixed held-out set its split); the default changes
     * nothing.
     */
    default DataPlan withDefaults(DataPlan plan) {
        return plan;
    }

    /** Remarks for the user about running {@code plan} on this source (e.g. a CT channel under z-scoring). */
    default List<String> notes(DataPlan plan) {
        return List.of();
    }

    /** One line for reports, e.g. {@code MSD Task04_Hippocampus (/data/Task04), 260 labelled cases}. */
    String describe();

    /** How a {@link DataPlan} records this source. */
    DataPlan.Source spec();
}
