package org.gradsurgery.data;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.gradsurgery.InvalidInputException;
import org.gradsurgery.data.nifti.Nifti;
import org.gradsurgery.data.nifti.NiftiDataType;
import org.gradsurgery.data.nifti.NiftiHeader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Files that are not what they should be, found late (while a case is paired or loaded): each is an
 * {@link InvalidInputException} naming the file, so the CLI reports one line (exit 2) instead of a bug.
 */
class BadCaseFilesTest {

    private static void nifti(Path p, long... shape) throws Exception {
        Nifti.write(p, Nd4j.zeros(DataType.FLOAT, shape), NiftiHeader.builder().dims(shape)
                .datatype(NiftiDataType.FLOAT32).build());
    }

    @Test
    void anImageAndALabelOnDifferentGridsNameBothFiles(@TempDir Path tmp) throws Exception {
        Path image = tmp.resolve("a_img.nii.gz");
        Path label = tmp.resolve("a_lab.nii.gz");
        nifti(image, 6, 5, 4);
        nifti(label, 6, 5, 3);
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> Case.of("a", image, label)
                .load());
        assertTrue(e.getMessage().contains("grid mismatch") && e.getMessage().contains("a_img.nii.gz")
                && e.getMessage().contains("a_lab.nii.gz"), e.getMessage());
    }

    @Test
    void aLabelWithSeveralValuesPerVoxelIsNamed(@TempDir Path tmp) throws Exception {
        Path image = tmp.resolve("b_img.nii.gz");
        Path label = tmp.resolve("b_lab.nii.gz");
        nifti(image, 6, 5, 4);
        nifti(label, 6, 5, 4, 2);
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> Case.of("b", image, label)
                .load());
        assertTrue(e.getMessage().contains("b_lab.nii.gz") && e.getMessage().contains("one value per voxel"),
                e.getMessage());
    }

    @Test
    void aFileThatIsNoPngIsNamed(@TempDir Path tmp) throws Exception {
        Path p = Files.writeString(tmp.resolve("fake.png"), "this is text");
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> Png.readImage(p));
        assertTrue(e.getMessage().contains("fake.png"), e.getMessage());
    }

    @Test
    void unpairedFoldersAndAFolderWithoutDatasetJsonAreNamed(@TempDir Path tmp) throws Exception {
        Path images = Files.createDirectories(tmp.resolve("images"));
        Path labels = Files.createDirectories(tmp.resolve("labels"));
        nifti(images.resolve("x.nii.gz"), 4, 4, 4);
        InvalidInputException e = assertThrows(InvalidInputException.class, () -> Cases.fromFolders(images,
                labels));
        assertTrue(e.getMessage().contains("x.nii.gz"), e.getMessage());
        InvalidInputException m = assertThrows(InvalidInputException.class, () -> MsdDataset.open(tmp));
        assertTrue(m.getMessage().contains("no dataset.json"), m.getMessage());
        Path csv = Files.writeString(tmp.resolve("m.csv"), "image,label\n" + images.resolve("x.nii.gz") + ",\n");
        InvalidInputException c = assertThrows(InvalidInputException.class, () -> Cases.fromCsv(csv));
        assertTrue(c.getMessage().contains("m.csv"), c.getMessage());
    }
}
