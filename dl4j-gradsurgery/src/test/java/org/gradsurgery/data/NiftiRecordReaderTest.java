package org.gradsurgery.data;

import static org.gradsurgery.data.TestVolumes.AFFINE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.datavec.api.records.Record;
import org.datavec.api.split.FileSplit;
import org.datavec.api.writable.NDArrayWritable;
import org.datavec.api.writable.Writable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

class NiftiRecordReaderTest {
    static final int[] SHAPE = {5, 4, 3};

    @TempDir
    Path tmp;

    @Test
    void readsImagesWithGeometryInTheMetadata() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("split"));
        TestVolumes.writeImage(dir.resolve("a.nii.gz"), 0, 1, SHAPE, AFFINE);
        TestVolumes.writeImage(dir.resolve("b.nii"), 1, 2, SHAPE, AFFINE);
        Files.writeString(dir.resolve("readme.txt"), "skipped");
        NiftiRecordReader rr = new NiftiRecordReader();
        rr.initialize(new FileSplit(dir.toFile()));
        assertEquals(2, rr.size());
        int seen = 0;
        while (rr.hasNext()) {
            Record r = rr.nextRecord();
            NiftiRecordMetaData meta = (NiftiRecordMetaData) r.getMetaData();
            boolean isA = meta.getURI().getPath().endsWith("a.nii.gz");
            int c = isA ? 0 : 1;
            int channels = isA ? 1 : 2;
            INDArray arr = ((NDArrayWritable) r.getRecord().get(0)).get();
            assertArrayEquals(new long[]{1, channels, 5, 4, 3}, arr.shape());
            assertEquals(DataType.FLOAT, arr.dataType());
            for (int ch = 0; ch < channels; ch++) {
                for (int i = 0; i < 5; i++) {
                    for (int k = 0; k < 3; k++) {
                        assertEquals(TestVolumes.value(c, ch, i, 2, k), arr.getFloat(0, ch, i, 2, k), 1e-3f);
                    }
                }
            }
            assertArrayEquals(AFFINE[2], meta.getAffine()[2], 1e-6);
            assertArrayEquals(new double[]{1.5, 1.5, 2}, meta.getSpacing(), 1e-6);
            assertEquals(NiftiRecordReader.class, meta.getReaderClass());
            Record again = rr.loadFromMetaData(meta);
            assertEquals(arr, ((NDArrayWritable) again.getRecord().get(0)).get());
            seen++;
        }
        assertEquals(2, seen);
        assertThrows(java.util.NoSuchElementException.class, rr::next);
        rr.reset();
        assertTrue(rr.hasNext());
    }

    @Test
    void readsRawLabelCodesAndStreams() throws Exception {
        Path f = tmp.resolve("lab.nii.gz");
        TestVolumes.writeLabel(f, 2, SHAPE, AFFINE);
        NiftiRecordReader rr = new NiftiRecordReader(NiftiRecordReader.Kind.LABELS);
        rr.initialize(new FileSplit(tmp.toFile()));
        List<Writable> rec = rr.next();
        INDArray lab = ((NDArrayWritable) rec.get(0)).get();
        assertArrayEquals(new long[]{1, 1, 5, 4, 3}, lab.shape());
        assertFalse(lab.dataType().isFPType());
        for (int i = 0; i < 5; i++) {
            for (int j = 0; j < 4; j++) {
                for (int k = 0; k < 3; k++) {
                    assertEquals(TestVolumes.code(2, i, j, k), lab.getInt(0, 0, i, j, k));
                }
            }
        }
        try (InputStream in = Files.newInputStream(f)) {
            List<Writable> viaStream = rr.record(f.toUri(), new DataInputStream(in));
            assertEquals(lab, ((NDArrayWritable) viaStream.get(0)).get());
        }
    }

    @Test
    void brokenFileNamesTheFile() throws Exception {
        Path f = tmp.resolve("broken.nii");
        Files.writeString(f, "not a nifti file");
        NiftiRecordReader rr = new NiftiRecordReader();
        rr.initialize(new FileSplit(tmp.toFile()));
        RuntimeException e = assertThrows(RuntimeException.class, rr::next);
        assertTrue(e.getMessage().contains("broken.nii"), e.getMessage());
    }
}
