package org.gradsurgery.experiment;

import java.io.IOException;
import java.nio.file.Path;

/** Opens the {@link DataSource} a {@link DataPlan.Source} records. */
public final class DataSources {
    private DataSources() {
    }

    /**
     * The source {@code spec} describes.
     *
     * @throws org.gradsurgery.InvalidSettingException on the setting {@code source} when its files cannot be read as
     *                                                 such a source
     */
    public static DataSource open(DataPlan.Source spec) throws IOException {
        if (spec instanceof DataPlan.Msd m) {
            return FileCasesSource.msd(Path.of(m.dir()));
        } else if (spec instanceof DataPlan.Folders f) {
            return FileCasesSource.folders(f);
        } else if (spec instanceof DataPlan.Manifest m) {
            return FileCasesSource.manifest(Path.of(m.csv()));
        } else if (spec instanceof DataPlan.Generated g) {
            return new GeneratedSource(g);
        } else if (spec instanceof DataPlan.Colin27 c) {
            return new Colin27Source(c);
        } else if (spec instanceof DataPlan.KnownProbability k) {
            return new KnownProbabilitySource(k);
        }
        throw new IllegalStateException("no DataSource for " + spec);
    }
}
