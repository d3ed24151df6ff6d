package org.gradsurgery.experiment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.gradsurgery.InvalidSettingException;
import org.gradsurgery.data.nifti.Nifti;
import org.gradsurgery.data.nifti.NiftiDataType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Training refuses bad data up front, one line per file, and prints the data summary. */
class PreflightCheckTest {
    @TempDir
    Path tmp;

    private DataPlan.Folders write(int badLabelCase) throws IOException {
        Path images = Files.createDirectories(tmp.resolve("images"));
        Path labels = Files.createDirectories(tmp.resolve("labels"));
        GeneratedSource g = new GeneratedSource(new DataPlan.Generated(3, new int[]{8, 8, 8}, 2, 1));
        int i = 0;
        for (String id : g.caseIds()) {
            Nifti.write(images.resolve(id + ".nii.gz"), g.load(id).image().reshape(8, 8, 8), null);
            INDArray lab = g.load(id).label().castTo(DataType.FLOAT);
            if (i++ == badLabelCase) {
                lab.putScalar(new long[]{1, 2, 3}, 5);
            }
            Nifti.write(labels.resolve(id + ".nii.gz"), lab, null, NiftiDataType.UINT8);
        }
        return new DataPlan.Folders(images.toString(), labels.toString(), null, null);
    }

    @Test
    void everyBadFileIsListedBeforeTrainingAndTheSummaryIsPrinted() throws IOException {
        DataPlan.Folders spec = write(1);
        DataSource src = DataSources.open(spec);
        ExperimentData d = ExperimentData.prepare(DataPlan.builder(spec).numClasses(2).patchSize(8).build(), src, 5, 2,
                null);
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> d.check(new PrintStream(buf, true, StandardCharsets.UTF_8)));
        assertTrue(e.getMessage().startsWith("1 problem(s) in the data:"), e.getMessage());
        assertTrue(e.getMessage().contains(src.caseIds().get(1) + ".nii.gz: label value(s) [5] (first at voxel"),
                e.getMessage());
        String summary = buf.toString(StandardCharsets.UTF_8);
        assertTrue(summary.contains("cases       : 3 (3 readable)") && summary.contains("8 x 8 x 8"), summary);
    }

    @Test
    void aPatchFarLargerThanTheCasesIsRefusedNamingTheSetting() throws IOException {
        DataPlan.Folders spec = write(-1);
        DataSource src = DataSources.open(spec);
        ExperimentData ok = ExperimentData.prepare(DataPlan.builder(spec).numClasses(2).patchSize(16).build(), src, 5,
                2, null);
        ok.check(null);
        ExperimentData d = ExperimentData.prepare(DataPlan.builder(spec).numClasses(2).patchSize(64).build(), src, 5,
                2, null);
        InvalidSettingException e = assertThrows(InvalidSettingException.class, () -> d.check(null));
        assertEquals("patchSize", e.setting());
        assertTrue(e.getMessage().contains("more than twice the largest case"), e.getMessage());
    }
}
