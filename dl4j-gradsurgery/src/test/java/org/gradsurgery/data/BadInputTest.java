package org.gradsurgery.data;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.gradsurgery.data.nifti.Nifti;
import org.gradsurgery.data.nifti.NiftiDataType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Bad inputs are reported with the file (and voxel) at load time, not as a network or metric NaN later. */
class BadInputTest {
    @TempDir
    Path tmp;

    @Test
    void aNanIntensityNamesTheFileAndVoxel() throws IOException {
        int[] shape = {4, 5, 6};
        Path img = tmp.resolve("nan.nii.gz");
        TestVolumes.writeImage(img, 0, 1, shape, TestVolumes.AFFINE);
        INDArray a = Nifti.read(img).data(DataType.FLOAT);
        a.putScalar(new long[]{1, 2, 3}, Float.NaN);
        Nifti.write(img, a, TestVolumes.header(new long[]{4, 5, 6}, TestVolumes.AFFINE, NiftiDataType.FLOAT32));
        Path lab = tmp.resolve("lab.nii.gz");
        TestVolumes.writeLabel(lab, 0, shape, TestVolumes.AFFINE);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Case.of("x", img, lab).load());
        String m = e.getMessage();
        assertTrue(m.startsWith(img.toString()), m);
        assertTrue(m.contains("NaN at voxel (1, 2, 3)") && m.contains("1 non-finite"), m);
    }

    @Test
    void labelValuesOutsideTheClassesNameTheFileAndTheLabelMapFlag() throws IOException {
        int[] shape = {4, 5, 6};
        Path img = tmp.resolve("a.nii.gz");
        Path lab = tmp.resolve("a_label.nii.gz");
        TestVolumes.writeImage(img, 0, 1, shape, TestVolumes.AFFINE);
        TestVolumes.writeLabel(lab, 0, shape, TestVolumes.AFFINE); // raw codes 0, 10, 20
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SegmentationDataSetIterator
                .builder().cases(List.of(Case.of("a", img, lab))).numClasses(3).build().next());
        String m = e.getMessage();
        assertTrue(m.startsWith(lab.toString()), m);
        assertTrue(m.contains("is not a class in 0..2") && m.contains("--label-map") && m.contains("[10, 20]"), m);
        assertTrue(!m.contains("\n"), m);
    }

    @Test
    void unknownCodesInALabelMapNameTheFile() throws IOException {
        int[] shape = {4, 5, 6};
        Path img = tmp.resolve("b.nii.gz");
        Path lab = tmp.resolve("b_label.nii.gz");
        TestVolumes.writeImage(img, 0, 1, shape, TestVolumes.AFFINE);
        TestVolumes.writeLabel(lab, 0, shape, TestVolumes.AFFINE);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SegmentationDataSetIterator
                .builder().cases(List.of(Case.of("b", img, lab))).labelMap(LabelMap.of(java.util.Map.of(0L, 0, 10L, 1)))
                .numClasses(2).build().next());
        assertTrue(e.getMessage().startsWith(lab.toString()) && e.getMessage().contains("code 20"), e.getMessage());
    }

    @Test
    void aTruncatedGzipIsAFormatErrorNamingTheFile() throws IOException {
        int[] shape = {16, 16, 16};
        Path img = tmp.resolve("cut.nii.gz");
        TestVolumes.writeImage(img, 0, 1, shape, TestVolumes.AFFINE);
        byte[] all = java.nio.file.Files.readAllBytes(img);
        java.nio.file.Files.write(img, java.util.Arrays.copyOf(all, all.length / 2));
        org.gradsurgery.data.nifti.NiftiFormatException e = assertThrows(
                org.gradsurgery.data.nifti.NiftiFormatException.class, () -> Case.of("cut", img, null).load());
        assertTrue(e.getMessage().contains(img.toString()) && !e.getMessage().contains("\n"), e.getMessage());
    }
}
