package org.gradsurgery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The backend the build configured loads and computes. The library itself depends on nd4j-api only; its tests run on
 * the backend artifact the parent POM's {@code nd4j.backend} names (nd4j-native by default, nd4j-cuda-11.6 with
 * -Pcuda), which surefire passes as {@code gradsurgery.nd4j.backend}. The loaded backend class must come from that
 * artifact's jar, so a second backend on the test class path, or a profile that fails to switch it, fails here.
 */
class BackendTest {
    @Test
    void configuredBackendLoadsAndComputesAMatrixProduct() throws Exception {
        INDArray a = Nd4j.createFromArray(new double[][]{{1, 2}, {3, 4}});
        INDArray b = Nd4j.createFromArray(new double[][]{{5, 6}, {7, 8}});
        assertEquals(Nd4j.createFromArray(new double[][]{{19, 22}, {43, 50}}), a.mmul(b));

        String artifact = System.getProperty("gradsurgery.nd4j.backend", "nd4j-native");
        Class<?> backend = Nd4j.getBackend().getClass();
        Path jar = Path.of(backend.getProtectionDomain().getCodeSource().getLocation().toURI());
        String name = jar.getFileName().toString();
        // e.g. nd4j-native-1.0.0-M2.1.jar, nd4j-cuda-11.6-1.0.0-M2.1.jar (the backend classes, not a natives jar)
        assertTrue(name.matches("\\Q" + artifact + "\\E-\\d.*\\.jar") && !name.contains("linux"),
                backend.getName() + " was loaded from " + jar + ", not from the configured backend " + artifact);
    }
}
