package org.gradsurgery.data;

import java.io.IOException;
import java.nio.file.Path;
import org.gradsurgery.data.nifti.Nifti;
import org.gradsurgery.data.nifti.NiftiDataType;
import org.gradsurgery.data.nifti.NiftiHeader;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** Small synthetic NIfTI volumes written with the project's writer, with values known voxel by voxel. */
final class TestVolumes {
    private TestVolumes() {
    }

    static final double[][] AFFINE = {{-1.5, 0, 0, 30}, {0, 1.5, 0, -12}, {0, 0, 2, 7}, {0, 0, 0, 1}};

    /** Image value of case {@code c}, channel {@code ch} at voxel (i, j, k). */
    static float value(int c, int ch, int i, int j, int k) {
        return 1000 * c + 100 * ch + 10 * i + j + 0.25f * k;
    }

    /** Raw label code of case {@code c} at voxel (i, j, k): 0, 10 or 20 (classes 0, 1, 2 through {@link #map()}). */
    static int code(int c, int i, int j, int k) {
        int v = (i + 2 * j + 3 * k + c) % 5;
        return v < 3 ? 0 : v == 3 ? 10 : 20;
    }

    static int classOf(int code) {
        return code / 10;
    }

    static LabelMap map() {
        return LabelMap.of(java.util.Map.of(0L, 0, 10L, 1, 20L, 2));
    }

    static NiftiHeader header(long[] dims, double[][] affine, NiftiDataType type) {
        return NiftiHeader.builder().dims(dims).datatype(type).spacing(1.5, 1.5, 2).affine(affine, 1).build();
    }

    /** Writes case c's image with {@code channels} channels (a 4D file when more than one). */
    static void writeImage(Path p, int c, int channels, int[] shape, double[][] affine) throws IOException {
        long[] dims = channels == 1 ? new long[]{shape[0], shape[1], shape[2]}
                : new long[]{shape[0], shape[1], shape[2], channels};
        INDArray a = Nd4j.create(DataType.FLOAT, dims);
        for (int i = 0; i < shape[0]; i++) {
            for (int j = 0; j < shape[1]; j++) {
                for (int k = 0; k < shape[2]; k++) {
                    for (int ch = 0; ch < channels; ch++) {
                        if (channels == 1) {
                            a.putScalar(new long[]{i, j, k}, value(c, ch, i, j, k));
                        } else {
                            a.putScalar(new long[]{i, j, k, ch}, value(c, ch, i, j, k));
                        }
                    }
                }
            }
        }
        Nifti.write(p, a, header(dims, affine, NiftiDataType.FLOAT32));
    }

    /** Writes case c's raw label codes (uint8). */
    static void writeLabel(Path p, int c, int[] shape, double[][] affine) throws IOException {
        long[] dims = {shape[0], shape[1], shape[2]};
        INDArray a = Nd4j.create(DataType.INT32, dims);
        for (int i = 0; i < shape[0]; i++) {
            for (int j = 0; j < shape[1]; j++) {
                for (int k = 0; k < shape[2]; k++) {
                    a.putScalar(new long[]{i, j, k}, code(c, i, j, k));
                }
            }
        }
        Nifti.write(p, a, header(dims, affine, NiftiDataType.UINT8), NiftiDataType.UINT8);
    }
}
