package org.gradsurgery.study;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.gradsurgery.data.Sample;
import org.gradsurgery.experiment.ExperimentData;
import org.gradsurgery.experiment.KnownProbabilitySource;

/**
 * The cases a study scores, as {@link ExperimentData} preprocessed them (label grouping, crop, normalisation,
 * resampling of the study's {@link org.gradsurgery.experiment.DataPlan}), each on its own grid: metrics never see
 * the padding the network was trained with. With the known-probability source each case also carries q.
 *
 * @param description the data source, for the report
 * @param classNames  K names, background first
 * @param cases       the cases by id
 * @param dims        2 or 3
 * @param sliceAxis   the slice axis for 2D on volumes
 * @param paddedSize  the common size the network's training cases were padded to (and every scored case is)
 */
record StudyData(String description, List<String> classNames, Map<String, StudyCase> cases, int dims,
                 int sliceAxis, int[] paddedSize) {

    /**
     * One case.
     *
     * @param sample  the preprocessed case on its own grid
     * @param spacing its voxel size in mm per spatial axis
     * @param q       the true foreground probability per voxel (known-probability source), else null
     */
    record StudyCase(String id, Sample sample, double[] spacing, float[] q) {
    }

    /** The cases {@code ids} of {@code data}. */
    static StudyData of(ExperimentData data, Collection<String> ids) throws IOException {
        Map<String, StudyCase> cases = new LinkedHashMap<>();
        KnownProbabilitySource known = data.source() instanceof KnownProbabilitySource k ? k : null;
        for (String id : ids) {
            Sample s = data.preprocessed(id);
            cases.put(id, new StudyCase(id, s, s.spacing(), known != null ? known.q(id) : null));
        }
        Integer axis = data.plan().sliceAxis();
        return new StudyData(data.source().describe(), data.classNames(), cases, data.dims(),
                axis != null ? axis : 0, data.plan().paddedSize());
    }

    /** Number of classes K. */
    int numClasses() {
        return classNames.size();
    }

    /** The cases with these ids, in the given order. */
    List<StudyCase> select(List<String> ids) {
        List<StudyCase> out = new ArrayList<>();
        for (String id : ids) {
            out.add(cases.get(id));
        }
        return out;
    }
}
