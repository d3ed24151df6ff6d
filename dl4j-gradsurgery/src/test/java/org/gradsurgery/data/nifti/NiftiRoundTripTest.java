package org.gradsurgery.data.nifti;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.shade.jackson.databind.JsonNode;

/** Writing then reading gives back the data and the reference geometry exactly; bad writes leave nothing behind. */
class NiftiRoundTripTest {

    @TempDir
    Path tmp;

    /** A reference with a rotated qform (qfac −1), a sheared sform with another code, and mm/s units. */
    private static NiftiHeader reference() throws IOException {
        return Nifti.read(NiftiFixtures.file("form_both_sform_wins")).header();
    }

    private static INDArray randomFloats(long... shape) {
        Random r = new Random(42);
        INDArray a = Nd4j.create(DataType.FLOAT, shape, 'c');
        for (long i = 0; i < a.length(); i++) {
            a.putScalar(i, r.nextFloat());
        }
        return a;
    }

    @ParameterizedTest
    @ValueSource(strings = {"prob.nii", "prob.nii.gz"})
    void float32ProbabilityMapKeepsDataAndGeometry(String name) throws IOException {
        NiftiHeader ref = reference();
        INDArray probs = randomFloats(3, 4, 5);
        Path p = tmp.resolve(name);
        Nifti.write(p, probs, ref);
        NiftiImage back = Nifti.read(p);
        assertEquals(probs, back.data(DataType.FLOAT));
        NiftiHeader h = back.header();
        assertEquals(NiftiDataType.FLOAT32, h.datatype());
        assertEquals(ref.qformCode(), h.qformCode());
        assertEquals(ref.sformCode(), h.sformCode());
        assertArrayEquals(ref.quaternion(), h.quaternion(), 0.0);
        assertArrayEquals(ref.qoffset(), h.qoffset(), 0.0);
        assertArrayEquals(ref.pixdim(), h.pixdim(), 0.0);
        assertEquals(ref.xyztUnits(), h.xyztUnits());
        assertEquals(ref.descrip(), h.descrip());
        assertArrayEquals(ref.sform()[0], h.sform()[0], 0.0);
        assertArrayEquals(ref.sform()[2], h.sform()[2], 0.0);
        for (int i = 0; i < 4; i++) {
            assertArrayEquals(ref.bestAffine()[i], back.affine()[i], 0.0);
            assertArrayEquals(ref.qform()[i], h.qform()[i], 0.0);
        }
        assertFalse(h.hasScaling());
        assertEquals(352, h.voxOffset());
    }

    @Test
    void labelMapsAsUint8AndInt16() throws IOException {
        INDArray labels = Nd4j.create(DataType.INT32, new long[]{3, 4, 5}, 'c');
        for (long i = 0; i < labels.length(); i++) {
            labels.putScalar(i, i % 7);
        }
        Nifti.write(tmp.resolve("seg.nii.gz"), labels, reference(), NiftiDataType.UINT8);
        NiftiImage u8 = Nifti.read(tmp.resolve("seg.nii.gz"));
        assertEquals(NiftiDataType.UINT8, u8.header().datatype());
        assertEquals(labels, u8.labels());

        INDArray shorts = labels.castTo(DataType.SHORT).subi(3);
        Nifti.write(tmp.resolve("seg16.nii"), shorts, null);
        NiftiImage i16 = Nifti.read(tmp.resolve("seg16.nii"));
        assertEquals(NiftiDataType.INT16, i16.header().datatype());
        assertEquals(shorts.castTo(DataType.INT32), i16.labels());
    }

    @ParameterizedTest
    @EnumSource(value = NiftiDataType.class, names = {"RGB24", "RGBA32"}, mode = EnumSource.Mode.EXCLUDE)
    void everyWritableDatatypeRoundTripsExactly(NiftiDataType type) throws IOException {
        long min = type.isIntegral() ? VoxelCodec.minOf(type) : -(1L << 24);
        long max = type.isIntegral() ? VoxelCodec.maxOf(type) : 1L << 24;
        long[] values = {min, max, 0, 1, min / 3, max / 3, max / 2 + 1};
        INDArray data = Nd4j.createFromArray(values).reshape('c', 7, 1);
        Path p = tmp.resolve(type + ".nii");
        Nifti.write(p, data, null, type);
        NiftiImage back = Nifti.read(p);
        assertEquals(type, back.header().datatype());
        INDArray got = type.isIntegral() ? back.labels() : back.data(DataType.DOUBLE);
        for (int i = 0; i < values.length; i++) {
            assertEquals(values[i], type.isIntegral() ? got.getLong(i, 0) : (long) got.getDouble(i, 0),
                    type + " value " + i);
        }
    }

    @Test
    void nifti2AndBigEndianOnRequest() throws IOException {
        INDArray probs = randomFloats(3, 4, 5, 2); // a channel axis after the reference's grid
        Path p = tmp.resolve("v2be.nii.gz");
        Nifti.write(p, probs, reference(), Nifti.WriteOptions.builder().version(2).byteOrder(ByteOrder.BIG_ENDIAN)
                .descrip("prediction").compressionLevel(9).build());
        NiftiImage back = Nifti.read(p);
        assertEquals(2, back.header().version());
        assertEquals(ByteOrder.BIG_ENDIAN, back.header().byteOrder());
        assertEquals(544, back.header().voxOffset());
        assertEquals("prediction", back.header().descrip());
        assertEquals(probs, back.data(DataType.FLOAT));
        assertEquals(reference().sformCode(), back.header().sformCode());
    }

    @Test
    void nifti2ChosenAutomaticallyForDimsPastInt16() throws IOException {
        INDArray line = randomFloats(40_000);
        Path p = tmp.resolve("long.nii");
        Nifti.write(p, line, null);
        NiftiImage back = Nifti.read(p);
        assertEquals(2, back.header().version());
        assertArrayEquals(new long[]{40_000}, back.shape());
        assertEquals(line, back.data(DataType.FLOAT));
        assertThrows(IllegalArgumentException.class,
                () -> Nifti.write(tmp.resolve("v1.nii"), line, null, Nifti.WriteOptions.builder().version(1).build()));
    }

    @Test
    void nullReferenceIsIdentityAffineWithMillimetreVoxels() throws IOException {
        Nifti.write(tmp.resolve("id.nii"), randomFloats(2, 3, 4), null);
        NiftiImage back = Nifti.read(tmp.resolve("id.nii"));
        double[][] id = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}};
        for (int i = 0; i < 4; i++) {
            assertArrayEquals(id[i], back.affine()[i], 0.0);
            assertArrayEquals(id[i], back.header().qform()[i], 0.0);
        }
        assertEquals(2, back.header().sformCode());
        assertEquals(2, back.header().qformCode());
        assertArrayEquals(new double[]{1, 1, 1}, back.spacing(), 0.0);
        assertEquals(NiftiHeader.SpatialUnit.MILLIMETER, back.header().spatialUnit());
    }

    @Test
    void nonContiguousArraysAreWrittenByIndex() throws IOException {
        INDArray big = randomFloats(6, 7, 8);
        INDArray view = big.get(NDArrayIndex.interval(1, 4), NDArrayIndex.all(), NDArrayIndex.interval(2, 7));
        INDArray fOrder = big.dup('f');
        Nifti.write(tmp.resolve("view.nii"), view, null);
        Nifti.write(tmp.resolve("f.nii"), fOrder, null);
        INDArray v = Nifti.read(tmp.resolve("view.nii")).data(DataType.FLOAT);
        INDArray f = Nifti.read(tmp.resolve("f.nii")).data(DataType.FLOAT);
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 7; j++) {
                for (int k = 0; k < 5; k++) {
                    assertEquals(big.getFloat(i + 1, j, k + 2), v.getFloat(i, j, k), 0f);
                }
            }
        }
        assertEquals(big, f);
    }

    @Test
    void volumesSpanningSeveralConversionBlocks() throws IOException {
        long n = 3L * VoxelCodec.BLOCK + 123;
        INDArray data = Nd4j.create(DataType.SHORT, new long[]{n / 3 + 1, 3}, 'c');
        for (long i = 0; i < data.length(); i++) {
            data.putScalar(i, (i * 7919) % 65536 - 32768);
        }
        Path p = tmp.resolve("blocks.nii.gz");
        Nifti.write(p, data, null);
        NiftiImage back = Nifti.read(p);
        assertEquals(data.castTo(DataType.INT32), back.labels());
        assertEquals(data.castTo(DataType.DOUBLE), back.data(DataType.DOUBLE));
    }

    @Test
    void valuesThatDoNotFitAreRejectedAndLeaveNothingBehind() throws IOException {
        Path p = tmp.resolve("seg.nii.gz");
        Files.write(p, new byte[]{42});
        INDArray frac = Nd4j.createFromArray(new float[][][]{{{0, 1}, {2, 2.5f}}});
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Nifti.write(p, frac, null, NiftiDataType.UINT8));
        assertTrue(e.getMessage().contains("2.5") && e.getMessage().contains("[0, 1, 1]"), e.getMessage());
        INDArray big = Nd4j.createFromArray(new int[]{1, 300});
        e = assertThrows(IllegalArgumentException.class, () -> Nifti.write(p, big, null, NiftiDataType.UINT8));
        assertTrue(e.getMessage().contains("300") && e.getMessage().contains("[1]"), e.getMessage());
        INDArray nan = Nd4j.createFromArray(new double[]{Double.NaN});
        assertThrows(IllegalArgumentException.class, () -> Nifti.write(p, nan, null, NiftiDataType.INT16));
        INDArray huge = Nd4j.createFromArray(new long[]{(1L << 24) + 1});
        assertThrows(IllegalArgumentException.class, () -> Nifti.write(p, huge, null, NiftiDataType.FLOAT32));
        // the earlier file is untouched and no temporary file is left
        assertArrayEquals(new byte[]{42}, Files.readAllBytes(p));
        try (Stream<Path> files = Files.list(tmp)) {
            List<String> names = files.map(f -> f.getFileName().toString()).collect(Collectors.toList());
            assertEquals(List.of("seg.nii.gz"), names);
        }
    }

    @Test
    void misuseIsAnIllegalArgument() throws IOException {
        INDArray data = randomFloats(3, 4, 5);
        assertThrows(IllegalArgumentException.class, () -> Nifti.write(tmp.resolve("x.png"), data, null));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Nifti.write(tmp.resolve("x.nii"), randomFloats(3, 4, 6), reference()));
        assertTrue(e.getMessage().contains("[3, 4, 6]") && e.getMessage().contains("[3, 4, 5]"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> Nifti.write(tmp.resolve("x.nii"), Nd4j.scalar(1f), null));
        assertThrows(IllegalArgumentException.class,
                () -> Nifti.WriteOptions.builder().datatype(NiftiDataType.RGB24));
        assertFalse(Files.exists(tmp.resolve("x.nii")));
    }

    @Test
    void withDimsLetsAReferenceDescribeACrop() throws IOException {
        NiftiHeader ref = reference().withDims(3, 4, 2);
        INDArray crop = randomFloats(3, 4, 2);
        Nifti.write(tmp.resolve("crop.nii"), crop, ref);
        assertArrayEquals(new long[]{3, 4, 2}, Nifti.read(tmp.resolve("crop.nii")).shape());
    }

    @Test
    void qformFromAnAffineMatchesNibabelsQuaternion() throws IOException {
        // form_qform_only holds nibabel's set_qform() of a rotated affine with det < 0
        JsonNode f = NiftiFixtures.named("form_qform_only");
        NiftiHeader nib = Nifti.read(NiftiFixtures.file(f)).header();
        double[][] affine = NiftiFixtures.matrix(f.get("qform"));
        NiftiHeader ours = NiftiHeader.builder().qform(affine, 1).build();
        assertArrayEquals(nib.quaternion(), ours.quaternion(), 1e-6);
        assertEquals(-1.0, ours.qfac());
        assertArrayEquals(nib.spacing(), ours.spacing(), 1e-6);
        double[][] back = ours.qform();
        for (int i = 0; i < 4; i++) {
            assertArrayEquals(affine[i], back[i], 1e-12);
        }
    }

    @Test
    void segmentAndChunkBoundariesDoNotChangeValues() throws IOException {
        // tiny segments force voxels to be decoded across many file blocks/heap buffers and gzip chunks
        for (JsonNode f : NiftiFixtures.all()) {
            Path p = NiftiFixtures.file(f);
            NiftiImage normal = Nifti.read(p);
            NiftiImage mapped = Nifti.read(p, 7, 7, 0);
            NiftiImage heap = Nifti.read(p, 5, 5, Long.MAX_VALUE);
            boolean gz = p.getFileName().toString().endsWith(".gz");
            assertEquals(!gz, mapped.readsFromFile(), p.toString());
            assertFalse(heap.readsFromFile());
            // compared as raw buffers (same shape and 'f' order) so NaN voxels compare equal
            INDArray expected = normal.data(DataType.DOUBLE);
            for (INDArray other : new INDArray[]{mapped.data(DataType.DOUBLE), heap.data(DataType.DOUBLE)}) {
                assertArrayEquals(expected.shape(), other.shape(), p.toString());
                assertArrayEquals(expected.data().asDouble(), other.data().asDouble(), 0.0, p.toString());
            }
        }
    }

    @Test
    void dataIsFortranOrderedAndFreshOnEachCall() throws IOException {
        NiftiImage img = Nifti.read(NiftiFixtures.file("layout_nii"));
        INDArray a = img.data(DataType.FLOAT);
        assertEquals('f', a.ordering());
        a.assign(0);
        assertFalse(img.data(DataType.FLOAT).equals(a), "data() must not hand out shared state");
        assertThrows(IllegalArgumentException.class, () -> img.data(DataType.INT32));
        assertEquals(DataType.HALF, img.data(DataType.HALF).dataType());
    }
}
