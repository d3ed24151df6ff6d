package org.gradsurgery.examples.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import org.gradsurgery.InvalidSettingException;
import org.gradsurgery.data.Datasets;

/**
 * The CLI's {@code --datasets DIR}: the folder given (checked), or the one {@link Datasets#locate()} finds from the
 * working directory; the library's data sources take the folder as an argument
 * ({@link org.gradsurgery.experiment.DataPlan.Colin27}).
 */
final class DemoData {
    private DemoData() {
    }

    /** {@code given}, or the datasets folder found from the working directory. */
    static Path locate(Path given) {
        try {
            if (given == null) {
                return Datasets.locate();
            }
        } catch (IllegalArgumentException e) {
            throw InvalidSettingException.unreadable("datasets", e.getMessage() + "; or give --datasets DIR");
        }
        if (!Files.isDirectory(given.resolve(Datasets.COLIN27_DEEPGM))) {
            throw InvalidSettingException.unreadable("datasets", "--datasets " + given + " has no "
                    + Datasets.COLIN27_DEEPGM + "/ folder");
        }
        return given.toAbsolutePath().normalize();
    }
}
