package org.gradsurgery.data.nifti;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Consumer;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Each kind of broken file the issue lists (and a few more) is rejected with a {@link NiftiFormatException} that
 * names the file and the problem, quickly and without large allocations. The broken files are made by patching
 * the committed nibabel fixtures at the documented header offsets (nifti1.h / nifti2.h).
 */
@Timeout(20)
class NiftiBadFileTest {

    @TempDir
    Path tmp;

    /** layout_nii: int16, 3×4×5, little-endian NIfTI-1, vox_offset 352, 472 bytes. */
    private byte[] nifti1() throws IOException {
        return Files.readAllBytes(NiftiFixtures.file("layout_nii"));
    }

    private byte[] nifti2() throws IOException {
        return Files.readAllBytes(NiftiFixtures.file("layout_nifti2"));
    }

    private static byte[] patch(byte[] bytes, Consumer<ByteBuffer> edit) {
        byte[] copy = bytes.clone();
        edit.accept(ByteBuffer.wrap(copy).order(ByteOrder.LITTLE_ENDIAN));
        return copy;
    }

    private static byte[] gzip(byte[] bytes) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(bytes);
        }
        return out.toByteArray();
    }

    private Path file(String name, byte[] bytes) throws IOException {
        Path p = tmp.resolve(name);
        Files.write(p, bytes);
        return p;
    }

    /** Reads {@code p}, expecting a NiftiFormatException naming {@code p} whose reason contains each fragment. */
    private static NiftiFormatException rejects(Path p, String... fragments) {
        return rejects(p, p, fragments);
    }

    /** As above, where the file at fault ({@code blamed}) is the other half of a .hdr/.img pair. */
    private static NiftiFormatException rejects(Path p, Path blamed, String... fragments) {
        long before = allocated();
        NiftiFormatException e = assertThrows(NiftiFormatException.class, () -> Nifti.read(p));
        long used = allocated() - before;
        assertTrue(e.getMessage().startsWith(blamed.toString() + ": "), e.getMessage());
        assertEquals(blamed, e.file());
        for (String f : fragments) {
            assertTrue(e.reason().contains(f), "expected '" + f + "' in: " + e.getMessage());
        }
        // gzip chunks start at 64 KiB and grow only as data arrive; nothing here should need 4 MiB
        assertTrue(used < 4L << 20, "allocated " + used + " bytes rejecting " + p);
        return e;
    }

    private static long allocated() {
        return ((com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    @Test
    void emptyFile() throws IOException {
        rejects(file("empty.nii", new byte[0]), "empty file");
        rejects(file("empty.nii.gz", gzip(new byte[0])), "empty file");
    }

    @Test
    void truncatedHeader() throws IOException {
        rejects(file("short.nii", Arrays.copyOf(nifti1(), 100)), "truncated header", "100 of 348");
        rejects(file("tiny.nii", Arrays.copyOf(nifti1(), 2)), "truncated header", "2 bytes");
        rejects(file("short2.nii", Arrays.copyOf(nifti2(), 300)), "truncated header", "300 of 540");
        rejects(file("short.nii.gz", gzip(Arrays.copyOf(nifti1(), 200))), "truncated header", "200 of 348");
    }

    @Test
    void truncatedData() throws IOException {
        byte[] b = nifti1();
        rejects(file("cut.nii", Arrays.copyOf(b, b.length - 10)), "truncated voxel data", "needs 120 bytes",
                "only 110");
        rejects(file("cut.nii.gz", gzip(Arrays.copyOf(b, b.length - 10))), "truncated voxel data", "after 110");
    }

    @Test
    void gzipCutInHalf() throws IOException {
        byte[] gz = Files.readAllBytes(NiftiFixtures.file("layout_niigz"));
        rejects(file("half.nii.gz", Arrays.copyOf(gz, gz.length / 2)), "gzip stream is truncated");
        rejects(file("header-only.nii.gz", Arrays.copyOf(gz, 12)), "gzip");
    }

    @Test
    void corruptGzip() throws IOException {
        byte[] gz = Files.readAllBytes(NiftiFixtures.file("layout_niigz"));
        byte[] crcFlipped = gz.clone();
        crcFlipped[gz.length - 6] ^= 0x5A; // inside the CRC32 trailer: the data inflate fine, the check fails
        rejects(file("crc.nii.gz", crcFlipped), "corrupt gzip stream");
        byte[] garbage = gz.clone();
        for (int i = 10; i < gz.length - 8; i++) {
            garbage[i] = (byte) 0xFF; // 0xFF... is an invalid deflate block type
        }
        rejects(file("garbage.nii.gz", garbage), "gzip");
    }

    @Test
    void wrongMagic() throws IOException {
        rejects(file("magic.nii", patch(nifti1(), b -> b.put(345, (byte) 'x'))), "wrong magic", "\"nx1\\x00\"");
        rejects(file("analyze.nii", patch(nifti1(), b -> b.putInt(344, 0))), "wrong magic", "Analyze");
        rejects(file("magic2.nii", patch(nifti2(), b -> b.put(4, (byte) 'N'))), "wrong magic");
        rejects(file("eol.nii", patch(nifti2(), b -> b.put(9, (byte) 0x0D))), "end-of-line");
    }

    @Test
    void dim0OutsideOneToSeven() throws IOException {
        rejects(file("d0.nii", patch(nifti1(), b -> b.putShort(40, (short) 0))), "dim[0] = 0 is outside 1..7");
        rejects(file("d8.nii", patch(nifti1(), b -> b.putShort(40, (short) 8))), "dim[0] = 8 is outside 1..7");
        rejects(file("dneg.nii", patch(nifti1(), b -> b.putShort(40, (short) -3))), "dim[0] = -3");
        rejects(file("d0-2.nii", patch(nifti2(), b -> b.putLong(16, 9))), "dim[0] = 9");
    }

    @Test
    void negativeOrZeroDims() throws IOException {
        rejects(file("neg.nii", patch(nifti1(), b -> b.putShort(44, (short) -4))), "dim[2] = -4");
        rejects(file("zero.nii", patch(nifti1(), b -> b.putShort(46, (short) 0))), "dim[3] = 0");
        rejects(file("neg2.nii", patch(nifti2(), b -> b.putLong(24, -1))), "dim[1] = -1");
    }

    @Test
    void dimsWhoseProductOverflows() throws IOException {
        // NIfTI-1: 32767^7 float64 voxels is ~4e31 bytes, past 2^63
        rejects(file("ovf.nii", patch(nifti1(), b -> {
            b.putShort(40, (short) 7);
            for (int i = 1; i <= 7; i++) {
                b.putShort(40 + 2 * i, Short.MAX_VALUE);
            }
            b.putShort(70, (short) 64);
            b.putShort(72, (short) 64);
        })), "overflow");
        // NIfTI-2: 2^32 × 2^32 voxels wraps a long to 0 if multiplied naively
        rejects(file("ovf2.nii", patch(nifti2(), b -> {
            b.putLong(24, 1L << 32);
            b.putLong(32, 1L << 32);
            b.putLong(40, 1);
        })), "overflow");
    }

    @Test
    void productPastTwoToThe31DoesNotWrap() throws IOException {
        // uint8 32767×32767×3 = 3,221,028,867 voxels: an int product would wrap to a negative number
        long expected = 32767L * 32767L * 3L;
        byte[] big = patch(nifti1(), b -> {
            b.putShort(42, Short.MAX_VALUE);
            b.putShort(44, Short.MAX_VALUE);
            b.putShort(46, (short) 3);
            b.putShort(70, (short) 2);
            b.putShort(72, (short) 8);
        });
        rejects(file("big.nii", big), "needs " + expected + " bytes", "only 120");
        // compressed: the reader must not allocate the 3.2 GB the header claims before finding the stream short
        rejects(file("big.nii.gz", gzip(big)), "needs " + expected + " bytes", "after 120");
    }

    @Test
    void unknownOrUnsupportedDatatype() throws IOException {
        rejects(file("dt3.nii", patch(nifti1(), b -> b.putShort(70, (short) 3))), "unrecognised code 3");
        rejects(file("complex.nii", patch(nifti1(), b -> {
            b.putShort(70, (short) 32);
            b.putShort(72, (short) 64);
        })), "complex64 (32) is not supported");
    }

    @Test
    void bitpixDisagreeingWithDatatype() throws IOException {
        rejects(file("bitpix.nii", patch(nifti1(), b -> b.putShort(72, (short) 8))),
                "bitpix 8 disagrees with datatype int16 (4)", "16 bits");
    }

    @Test
    void voxOffsetPastEndOfFile() throws IOException {
        rejects(file("off.nii", patch(nifti1(), b -> b.putFloat(108, 100_000f))),
                "vox_offset 100000 is past the end of the file (472 bytes)");
        rejects(file("off.nii.gz", gzip(patch(nifti1(), b -> b.putFloat(108, 100_000f)))),
                "vox_offset 100000 is past the end of the decompressed data");
        rejects(file("off2.nii", patch(nifti2(), b -> b.putLong(168, Long.MAX_VALUE))), "past the end");
    }

    @Test
    void voxOffsetInvalid() throws IOException {
        rejects(file("off0.nii", patch(nifti1(), b -> b.putFloat(108, 0f))), "inside the 348-byte header");
        rejects(file("offfrac.nii", patch(nifti1(), b -> b.putFloat(108, 352.5f))), "not a non-negative whole");
        rejects(file("offneg.nii", patch(nifti1(), b -> b.putFloat(108, -16f))), "not a non-negative whole");
        rejects(file("offnan.nii", patch(nifti1(), b -> b.putFloat(108, Float.NaN))), "not a non-negative whole");
    }

    @Test
    void textFileRenamedNii() throws IOException {
        byte[] text = ("This is not an image, just a README that someone saved with the wrong extension.\n"
                .repeat(10)).getBytes(StandardCharsets.US_ASCII);
        rejects(file("readme.nii", text), "not a NIfTI file", "looks like text \"This\"");
        rejects(file("readme.nii.gz", gzip(text)), "not a NIfTI file");
    }

    @Test
    void binaryGarbage() throws IOException {
        byte[] junk = new byte[4096];
        new java.util.Random(7).nextBytes(junk);
        junk[0] = 0x7F; // not a gzip magic
        rejects(file("junk.nii", junk), "not a NIfTI file");
    }

    @Test
    void qformThatIsNotAUnitQuaternion() throws IOException {
        rejects(file("quat.nii", patch(nifti1(), b -> {
            b.putShort(252, (short) 1);
            b.putShort(254, (short) 0);
            b.putFloat(256, 0.9f);
            b.putFloat(260, 0.9f);
            b.putFloat(264, 0.9f);
        })), "not a unit quaternion");
    }

    @Test
    void validSlopeWithInvalidIntercept() throws IOException {
        rejects(file("inter.nii", patch(nifti1(), b -> {
            b.putFloat(112, 2f);
            b.putFloat(116, Float.NaN);
        })), "scl_slope 2.0 is valid but scl_inter is NaN");
    }

    @Test
    void pairProblems() throws IOException {
        Path hdr = tmp.resolve("lonely.hdr");
        Files.copy(NiftiFixtures.dir().resolve("layout_pair.hdr"), hdr);
        rejects(hdr, "incomplete .hdr/.img pair", "lonely.img");
        Path img = tmp.resolve("orphan.img");
        Files.copy(NiftiFixtures.dir().resolve("layout_pair.img"), img);
        rejects(img, "incomplete .hdr/.img pair", "orphan.hdr");
        // a pair header ("ni1") renamed .nii
        Path nii = tmp.resolve("pairmagic.nii");
        Files.copy(NiftiFixtures.dir().resolve("layout_pair.hdr"), nii);
        rejects(nii, "marks a .hdr/.img pair header");
        // the .img is too short for the header's dims
        Path h2 = tmp.resolve("short.hdr");
        Files.copy(NiftiFixtures.dir().resolve("layout_pair.hdr"), h2);
        Path i2 = file("short.img", new byte[50]);
        rejects(h2, i2, "truncated voxel data", "only 50");
    }

    @Test
    void missingFileIsAPlainIOException() {
        Path p = tmp.resolve("nope.nii");
        IOException e = assertThrows(IOException.class, () -> Nifti.read(p));
        assertTrue(e instanceof java.nio.file.NoSuchFileException, e.toString());
    }
}
