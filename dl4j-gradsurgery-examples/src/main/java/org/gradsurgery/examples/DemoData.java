package org.gradsurgery.examples;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.gradsurgery.InvalidSettingException;
import org.gradsurgery.data.Datasets;

/**
 * Where the repository's {@code datasets/} folder (with the Colin27 demo slices) is, for the CLI and the notebooks run
 * from a checkout: the system property {@value #PROPERTY}, else the environment variable {@value #ENV}, else a
 * {@code datasets/} folder holding {@code colin27-deepgm/} in the working directory or one of its parents. The library
 * takes folders as arguments ({@link Datasets#colin27DeepGm(Path, int)},
 * {@link org.gradsurgery.experiment.DataPlan.Colin27}) and never searches.
 */
public final class DemoData {
    /** System property naming the datasets folder. */
    public static final String PROPERTY = "gradsurgery.datasets";
    /** Environment variable naming the datasets folder. */
    public static final String ENV = "GRADSURGERY_DATASETS";

    private DemoData() {
    }

    /** The datasets folder (see the class documentation). */
    public static Path locate() {
        String prop = System.getProperty(PROPERTY);
        if (prop != null && !prop.isBlank()) {
            return check(Path.of(prop), "system property " + PROPERTY);
        }
        String env = System.getenv(ENV);
        if (env != null && !env.isBlank()) {
            return check(Path.of(env), "environment variable " + ENV);
        }
        return locate(Path.of("").toAbsolutePath());
    }

    /** The first {@code datasets/} folder holding {@code colin27-deepgm/} in {@code start} or its parents. */
    public static Path locate(Path start) {
        List<Path> tried = new ArrayList<>();
        for (Path p = start.toAbsolutePath().normalize(); p != null; p = p.getParent()) {
            Path d = p.resolve("datasets");
            tried.add(d);
            if (Files.isDirectory(d.resolve(Datasets.COLIN27_DEEPGM))) {
                return d;
            }
        }
        throw InvalidSettingException.unreadable("datasets", "datasets/ folder not found (looked for datasets/"
                + Datasets.COLIN27_DEEPGM + " in " + tried + "); run from the repository checkout, give --datasets "
                + "DIR, or set -D" + PROPERTY + "=PATH or " + ENV + "=PATH");
    }

    /** {@code given} (checked) if not null, else {@link #locate()}. */
    public static Path locate(Path given, String what) {
        return given != null ? check(given, what) : locate();
    }

    private static Path check(Path p, String source) {
        if (!Files.isDirectory(p.resolve(Datasets.COLIN27_DEEPGM))) {
            throw InvalidSettingException.unreadable("datasets", source + " points at " + p + ", which has no "
                    + Datasets.COLIN27_DEEPGM + "/ folder");
        }
        return p.toAbsolutePath().normalize();
    }
}
