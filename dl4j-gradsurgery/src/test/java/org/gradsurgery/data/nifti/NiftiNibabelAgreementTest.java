package org.gradsurgery.data.nifti;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.jackson.databind.JsonNode;

/**
 * Every committed fixture (each datatype × byte order, scaling case, form code, file layout, rank, colour type and
 * two real scans) read by {@link Nifti#read} agrees with nibabel 5.0's reading of the same file, recorded in
 * {@code expected.json} by {@code make_fixtures.py}.
 */
class NiftiNibabelAgreementTest {

    static Stream<Arguments> fixtures() {
        return NiftiFixtures.all().stream().map(f -> Arguments.of(f.get("name").asText(), f));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void headerAndAffineMatchNibabel(String name, JsonNode f) throws IOException {
        NiftiImage img = Nifti.read(NiftiFixtures.file(f));
        NiftiHeader h = img.header();
        assertEquals(f.get("version").asInt(), h.version(), "version");
        assertEquals(f.get("byteorder").asText().equals("big") ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN,
                h.byteOrder(), "byte order");
        assertArrayEquals(NiftiFixtures.longs(f.get("shape")), img.shape(), "shape");
        assertEquals(f.get("datatype").asInt(), h.datatype().code(), "datatype");
        assertEquals(f.get("qform_code").asInt(), h.qformCode(), "qform_code");
        assertEquals(f.get("sform_code").asInt(), h.sformCode(), "sform_code");
        assertArrayEquals(NiftiFixtures.numbers(f.get("pixdim")), h.pixdim(), 0.0, "pixdim");
        double[] pixdim = NiftiFixtures.numbers(f.get("pixdim"));
        assertArrayEquals(new double[]{pixdim[1], pixdim[2], pixdim[3]}, img.spacing(), 0.0, "spacing");
        assertEquals(f.get("xyzt_units").asInt(), h.xyztUnits(), "xyzt_units");
        assertEquals(f.get("descrip").asText(), h.descrip(), "descrip");
        assertEquals(f.get("vox_offset").asLong(), h.voxOffset(), "vox_offset");
        assertEquals(NiftiFixtures.number(f.get("scl_slope")), h.sclSlope(), 0.0, "scl_slope");
        assertEquals(NiftiFixtures.number(f.get("scl_inter")), h.sclInter(), 0.0, "scl_inter");

        assertMatrix(NiftiFixtures.matrix(f.get("affine")), img.affine(), 1e-9, "best affine");
        assertMatrix(NiftiFixtures.matrix(f.get("sform")), h.sform(), 0.0, "sform");
        if (f.has("qform")) {
            // nibabel reconstructs the quaternion's a in float32 arithmetic for NIfTI-1; we use double
            assertMatrix(NiftiFixtures.matrix(f.get("qform")), h.qform(), 1e-6, "qform");
        }
        assertEquals(NiftiFixtures.file(f), img.path());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void dataMatchesGetFdata(String name, JsonNode f) throws IOException {
        NiftiImage img = Nifti.read(NiftiFixtures.file(f));
        double[] raw = NiftiFixtures.numbers(f.get("raw"));
        if (f.has("raw_shape")) { // colour: channels on the last axis, never scaled
            long[] shape = NiftiFixtures.longs(f.get("raw_shape"));
            assertElements(raw, img.data(DataType.DOUBLE), shape, 0.0, name + " colour");
            assertElements(raw, img.labels(), shape, 0.0, name + " colour labels");
            return;
        }
        long[] shape = NiftiFixtures.longs(f.get("shape"));
        double[] fdata = NiftiFixtures.numbers(f.get("fdata"));
        boolean scaled = f.get("scaled").asBoolean();
        INDArray d = img.data(DataType.DOUBLE);
        assertEquals(DataType.DOUBLE, d.dataType());
        assertArrayEquals(shape, d.shape());
        if (!scaled) {
            assertElements(fdata, d, shape, 0.0, name + " get_fdata");
        } else {
            // nibabel scales integers in float32 when the header slope is float32; we scale in double
            assertElements(fdata, d, shape, 1e-6, name + " get_fdata");
            double slope = f.get("nib_slope").asDouble();
            double inter = f.get("nib_inter").asDouble();
            double[] exact = new double[raw.length];
            for (int i = 0; i < raw.length; i++) {
                exact[i] = raw[i] * slope + inter;
            }
            assertElements(exact, d, shape, 0.0, name + " raw*slope+inter in double");
        }
        // FLOAT is the double result rounded once
        INDArray fl = img.data(DataType.FLOAT);
        assertEquals(DataType.FLOAT, fl.dataType());
        double[] rounded = new double[raw.length];
        for (int p = 0; p < raw.length; p++) {
            rounded[p] = (float) d.getDouble(NiftiFixtures.fortranIndex(p, shape));
        }
        assertElements(rounded, fl, shape, 0.0, name + " float");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("fixtures")
    void labelsAreTheRawStoredIntegers(String name, JsonNode f) throws IOException {
        NiftiImage img = Nifti.read(NiftiFixtures.file(f));
        NiftiDataType t = img.header().datatype();
        if (f.has("raw_shape")) {
            return; // covered above
        }
        long[] shape = NiftiFixtures.longs(f.get("shape"));
        JsonNode raw = f.get("raw");
        boolean wide = t == NiftiDataType.UINT32 || t == NiftiDataType.INT64 || t == NiftiDataType.UINT64;
        if (!t.isIntegral()) {
            boolean whole = true;
            for (double v : NiftiFixtures.numbers(raw)) {
                whole &= v == Math.rint(v) && Math.abs(v) <= Integer.MAX_VALUE;
            }
            if (!whole) {
                IllegalStateException e = assertThrows(IllegalStateException.class, img::labels);
                assertTrue(e.getMessage().contains(img.path().toString()), e.getMessage());
                return;
            }
        }
        boolean fitsLong = true;
        for (JsonNode v : raw) {
            fitsLong &= v.bigIntegerValue().bitLength() < 64;
        }
        if (!fitsLong) {
            IllegalStateException e = assertThrows(IllegalStateException.class, img::labels);
            assertTrue(e.getMessage().contains("18446744073709551615") || e.getMessage().contains("9223372036854775808"),
                    e.getMessage());
            return;
        }
        INDArray labels = img.labels();
        assertEquals(wide ? DataType.INT64 : DataType.INT32, labels.dataType(), "label type");
        assertEquals(labels.dataType(), img.labelType());
        assertArrayEquals(shape, labels.shape());
        for (int p = 0; p < raw.size(); p++) {
            long expected = t.isIntegral() ? raw.get(p).bigIntegerValue().longValueExact() : (long) raw.get(p).asDouble();
            assertEquals(expected, labels.getLong(NiftiFixtures.fortranIndex(p, shape)), name + " voxel " + p);
        }
    }

    @Test
    void pairsReadTheSameFromEitherFile() throws IOException {
        for (JsonNode f : NiftiFixtures.all()) {
            if (!f.has("other_file")) {
                continue;
            }
            NiftiImage viaHdr = Nifti.read(NiftiFixtures.file(f));
            NiftiImage viaImg = Nifti.read(NiftiFixtures.dir().resolve(f.get("other_file").asText()));
            assertEquals(viaHdr.header(), viaImg.header());
            assertEquals(viaHdr.data(DataType.DOUBLE), viaImg.data(DataType.DOUBLE));
            assertFalse(viaHdr.header().isSingleFile());
        }
    }

    @Test
    void uint64AboveInt64IsExactInGetFdata() throws IOException {
        // an independent check of the unsigned conversion: 2^64 - 1 rounds to 2^64, 2^63 is exact
        NiftiImage img = Nifti.read(NiftiFixtures.file("dt_uint64_above_int64"));
        INDArray d = img.data(DataType.DOUBLE);
        assertEquals(new BigInteger("18446744073709551616").doubleValue(), d.getDouble(0, 0, 0), 0.0);
        assertEquals(0x1p63, d.getDouble(1, 0, 0), 0.0);
        assertEquals(7.0, d.getDouble(2, 0, 0), 0.0);
    }

    @Test
    void realCropsHaveTheirScannersGeometry() throws IOException {
        // nibabel's affine for the Colin27 crop: 1 mm MNI grid, origin moved by the crop start (80, 100, 80)
        NiftiImage img = Nifti.read(NiftiFixtures.file("real_colin27_ch2_crop"));
        double[][] a = img.affine();
        assertEquals(NiftiDataType.UINT8, img.header().datatype());
        assertArrayEquals(new long[]{16, 16, 8}, img.shape());
        assertArrayEquals(new double[]{1, 1, 1}, img.spacing(), 1e-6);
        assertTrue(Math.abs(a[0][0]) == 1.0 && a[1][1] == 1.0 && a[2][2] == 1.0, java.util.Arrays.deepToString(a));
    }

    private static void assertMatrix(double[][] expected, double[][] actual, double tol, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertArrayEquals(expected[i], actual[i], tol, what + " row " + i);
        }
    }

    /** Compares element by element through INDArray indexing (so layout and values are both checked). */
    private static void assertElements(double[] expectedF, INDArray actual, long[] shape, double relTol, String what) {
        assertArrayEquals(shape, actual.shape(), what + " shape");
        List<String> bad = new ArrayList<>();
        for (int p = 0; p < expectedF.length; p++) {
            long[] idx = NiftiFixtures.fortranIndex(p, shape);
            double e = expectedF[p];
            double a = actual.getDouble(idx);
            boolean ok = relTol == 0 ? Double.compare(e, a) == 0 || (e == 0 && a == 0 && actual.dataType().isIntType())
                    : (Double.isNaN(e) ? Double.isNaN(a) : Math.abs(e - a) <= relTol * Math.max(1, Math.abs(e)));
            if (!ok) {
                bad.add(java.util.Arrays.toString(idx) + ": expected " + e + " got " + a);
            }
        }
        assertTrue(bad.isEmpty(), what + ": " + bad.size() + " mismatches, first " + bad.subList(0, Math.min(5, bad.size())));
    }
}
