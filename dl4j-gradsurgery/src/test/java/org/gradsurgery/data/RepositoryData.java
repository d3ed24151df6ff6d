package org.gradsurgery.data;

import java.nio.file.Files;
import java.nio.file.Path;

/** The repository's {@code datasets/} folder for the library's tests (surefire runs in the module directory). */
final class RepositoryData {
    private RepositoryData() {
    }

    static Path datasets() {
        Path d = Path.of("..", "datasets").toAbsolutePath().normalize();
        if (!Files.isDirectory(d.resolve(Datasets.COLIN27_DEEPGM))) {
            throw new IllegalStateException(d + " has no " + Datasets.COLIN27_DEEPGM + "/: run the tests from the module "
                    + "directory of a checkout");
        }
        return d;
    }
}
