package org.gradsurgery;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** The native backend this build ships (nd4j-native, linux-x86_64) loads and computes. */
class BackendTest {
    @Test
    void nativeBackendComputesAMatrixProduct() {
        INDArray a = Nd4j.createFromArray(new double[][]{{1, 2}, {3, 4}});
        INDArray b = Nd4j.createFromArray(new double[][]{{5, 6}, {7, 8}});
        assertEquals(Nd4j.createFromArray(new double[][]{{19, 22}, {43, 50}}), a.mmul(b));
        assertEquals("CpuBackend", Nd4j.getBackend().getClass().getSimpleName());
    }
}
