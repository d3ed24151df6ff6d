package org.gradsurgery.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.gradsurgery.data.nifti.Nifti;
import org.gradsurgery.data.nifti.NiftiDataType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

class DataCheckTest {
    @TempDir
    Path tmp;

    private Case write(String id, int[] imageShape, int[] labelShape, int channels) throws IOException {
        Path img = tmp.resolve(id + ".nii.gz");
        Path lab = tmp.resolve(id + "_label.nii.gz");
        TestVolumes.writeImage(img, 0, channels, imageShape, TestVolumes.AFFINE);
        TestVolumes.writeLabel(lab, 0, labelShape, TestVolumes.AFFINE);
        return Case.of(id, img, lab);
    }

    @Test
    void everyProblemIsOneLineNamingItsFileAndTheSummaryFitsAScreen() throws IOException {
        int[] shape = {4, 5, 6};
        Case good = write("good", shape, shape, 1);
        Case other = write("other", new int[]{4, 5, 7}, new int[]{4, 5, 7}, 1);
        Case nan = write("nan", shape, shape, 1);
        INDArray a = Nifti.read(nan.images().get(0)).data(DataType.FLOAT);
        a.putScalar(new long[]{3, 0, 2}, Float.POSITIVE_INFINITY);
        Nifti.write(nan.images().get(0), a, TestVolumes.header(new long[]{4, 5, 6}, TestVolumes.AFFINE,
                NiftiDataType.FLOAT32));
        Case mismatch = write("mismatch", shape, new int[]{4, 5, 5}, 1);
        Case rgb = write("twochannels", shape, shape, 2);
        Case unreadable = Case.of("broken", Files.writeString(tmp.resolve("broken.nii.gz"), "not a nifti"), null);
        DataCheck.Result r = DataCheck.run(List.of(good, other, nan, mismatch, rgb, unreadable), TestVolumes.map(), 3,
                0, true, null);
        List<String> p = r.problems();
        assertEquals(4, p.size(), String.join("\n", p));
        assertTrue(p.get(0).startsWith(nan.images().get(0).toString()) && p.get(0).contains("(3, 0, 2)"), p.get(0));
        assertTrue(p.get(1).contains("grid mismatch") && p.get(1).contains("mismatch_label"), p.get(1));
        assertTrue(p.get(2).startsWith(rgb.images().get(0).toString()) && p.get(2).contains("2 channel(s)"), p.get(2));
        assertTrue(p.get(3).contains("broken.nii.gz"), p.get(3));
        for (String line : p) {
            assertTrue(!line.contains("\n"), line);
        }
        String summary = r.summary();
        assertTrue(summary.contains("cases       : 6 (3 readable)"), summary);
        assertTrue(summary.contains("4 x 5 x 6 .. 4 x 5 x 7"), summary);
        assertTrue(summary.contains("LAS x3"), summary);
        assertTrue(summary.contains("class 1:") && summary.contains("class 2:"), summary);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::requireValid);
        assertTrue(e.getMessage().startsWith("4 problem(s) in the data:"), e.getMessage());
    }

    @Test
    void labelCodesOutsideTheClassesOrTheMapAreNamedWithTheFlag() throws IOException {
        int[] shape = {4, 5, 6};
        Case c = write("codes", shape, shape, 1); // raw codes 0, 10, 20
        DataCheck.Result noMap = DataCheck.run(List.of(c), null, 3, 0, true, null);
        assertEquals(1, noMap.problems().size());
        String m = noMap.problems().get(0);
        assertTrue(m.startsWith(c.label().toString()) && m.contains("[10, 20]") && m.contains("--label-map"), m);
        DataCheck.Result partial = DataCheck.run(List.of(c), LabelMap.of(java.util.Map.of(0L, 0, 10L, 1)), 2, 0,
                true, null);
        assertTrue(partial.problems().get(0).contains("[20]") && partial.problems().get(0).contains("label map"),
                partial.problems().get(0));
        assertTrue(DataCheck.run(List.of(c), TestVolumes.map(), 3, 1, true, null).ok());
    }
}
