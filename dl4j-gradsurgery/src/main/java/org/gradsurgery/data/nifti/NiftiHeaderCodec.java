package org.gradsurgery.data.nifti;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * Binary layout of the NIfTI-1 (348 bytes) and NIfTI-2 (540 bytes) headers: byte-order detection, validation of
 * everything that could make reading crash or allocate absurdly, and encoding for the writer.
 * Offsets follow {@code nifti1.h} / {@code nifti2.h} (and nibabel's {@code header_dtype}).
 */
final class NiftiHeaderCodec {

    private static final byte[] NIFTI2_EOL = {0x0D, 0x0A, 0x1A, 0x0A};

    private NiftiHeaderCodec() {
    }

    /** Version and byte order read from the first four bytes ({@code sizeof_hdr}). */
    record Kind(int version, ByteOrder order) {
        int headerSize() {
            return version == 1 ? NiftiHeader.NIFTI1_HEADER_SIZE : NiftiHeader.NIFTI2_HEADER_SIZE;
        }

        /** Where single-file voxel data may start at the earliest: header plus the 4-byte extension flag. */
        int minSingleFileOffset() {
            return headerSize() + 4;
        }
    }

    static Kind detect(byte[] first4, Path file) throws NiftiFormatException {
        int le = ByteBuffer.wrap(first4, 0, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        int be = Integer.reverseBytes(le);
        if (le == NiftiHeader.NIFTI1_HEADER_SIZE) {
            return new Kind(1, ByteOrder.LITTLE_ENDIAN);
        }
        if (be == NiftiHeader.NIFTI1_HEADER_SIZE) {
            return new Kind(1, ByteOrder.BIG_ENDIAN);
        }
        if (le == NiftiHeader.NIFTI2_HEADER_SIZE) {
            return new Kind(2, ByteOrder.LITTLE_ENDIAN);
        }
        if (be == NiftiHeader.NIFTI2_HEADER_SIZE) {
            return new Kind(2, ByteOrder.BIG_ENDIAN);
        }
        boolean text = true;
        for (int i = 0; i < 4; i++) {
            byte b = first4[i];
            text &= (b >= 0x20 && b < 0x7F) || b == '\n' || b == '\r' || b == '\t';
        }
        throw new NiftiFormatException(file, "not a NIfTI file: sizeof_hdr is " + le + " (0x"
                + String.format("%08x", be) + (text ? ", looks like text \""
                + new String(first4, 0, 4, StandardCharsets.ISO_8859_1).replaceAll("\\s", " ") + "\"" : "")
                + "); expected 348 (NIfTI-1) or 540 (NIfTI-2) in either byte order");
    }

    /**
     * Decodes and validates a header. {@code b} holds at least {@code kind.headerSize()} bytes from offset 0.
     *
     * @param singleFileExpected true when the path is a .nii (data in the same file), false for .hdr/.img
     */
    static NiftiHeader decode(byte[] bytes, Kind kind, Path file, boolean singleFileExpected)
            throws NiftiFormatException {
        ByteBuffer b = ByteBuffer.wrap(bytes, 0, kind.headerSize()).order(kind.order());
        boolean v1 = kind.version() == 1;
        // --- magic
        byte[] magic = new byte[4];
        b.get(v1 ? 344 : 4, magic);
        String m = new String(magic, 0, 3, StandardCharsets.ISO_8859_1);
        String single = v1 ? "n+1" : "n+2";
        String pair = v1 ? "ni1" : "ni2";
        if (magic[3] != 0 || !(m.equals(single) || m.equals(pair))) {
            throw new NiftiFormatException(file, "wrong magic " + printable(magic) + " for NIfTI-" + kind.version()
                    + " (expected \"" + single + "\\0\" or \"" + pair + "\\0\")"
                    + (v1 && magic[0] == 0 ? "; an Analyze 7.5 header is not supported" : ""));
        }
        boolean singleFile = m.equals(single);
        if (!v1) {
            byte[] eol = new byte[4];
            b.get(8, eol);
            if (!Arrays.equals(eol, NIFTI2_EOL)) {
                throw new NiftiFormatException(file, "NIfTI-2 end-of-line check bytes are " + Arrays.toString(eol)
                        + " instead of [13, 10, 26, 10]: the file was altered by a text-mode transfer");
            }
        }
        if (singleFileExpected && !singleFile) {
            throw new NiftiFormatException(file, "magic \"" + m + "\" marks a .hdr/.img pair header, but the file "
                    + "is read as a single-file .nii; rename it to .hdr with its voxel data in a .img");
        }

        // --- dims, validated before anything is sized from them
        long[] dim = new long[8];
        for (int i = 0; i < 8; i++) {
            dim[i] = v1 ? b.getShort(40 + 2 * i) : b.getLong(16 + 8 * i);
        }
        if (dim[0] < 1 || dim[0] > 7) {
            throw new NiftiFormatException(file, "dim[0] = " + dim[0] + " is outside 1..7");
        }
        int rank = (int) dim[0];
        long[] dims = Arrays.copyOfRange(dim, 1, rank + 1);
        for (int i = 0; i < rank; i++) {
            if (dims[i] < 1) {
                throw new NiftiFormatException(file, "dim[" + (i + 1) + "] = " + dims[i]
                        + " (dims " + Arrays.toString(dims) + "): every used dimension must be >= 1");
            }
        }

        // --- datatype and bitpix
        int code = v1 ? b.getShort(70) : b.getShort(12);
        int bitpix = v1 ? b.getShort(72) : b.getShort(14);
        NiftiDataType type = NiftiDataType.fromCode(code).orElseThrow(() -> new NiftiFormatException(file,
                "datatype " + NiftiDataType.describeCode(code) + " is not supported (supported: "
                        + Arrays.toString(NiftiDataType.values()).toLowerCase(java.util.Locale.ROOT) + ")"));
        if (bitpix != type.bitpix()) {
            throw new NiftiFormatException(file, "bitpix " + bitpix + " disagrees with datatype "
                    + NiftiDataType.describeCode(code) + ", which has " + type.bitpix() + " bits per voxel");
        }
        try {
            Math.multiplyExact(voxelCount(dims), type.bytesPerVoxel());
        } catch (ArithmeticException e) {
            throw new NiftiFormatException(file, "dims " + Arrays.toString(dims) + " of " + type.bytesPerVoxel()
                    + "-byte voxels overflow a 64-bit byte count");
        }

        // --- vox_offset
        long voxOffset;
        if (v1) {
            float f = b.getFloat(108);
            if (!Float.isFinite(f) || f < 0 || f != Math.rint(f)) {
                throw new NiftiFormatException(file, "vox_offset " + f + " is not a non-negative whole number");
            }
            voxOffset = (long) f;
        } else {
            voxOffset = b.getLong(168);
            if (voxOffset < 0) {
                throw new NiftiFormatException(file, "vox_offset " + voxOffset + " is negative");
            }
        }
        if (singleFile && voxOffset < kind.minSingleFileOffset()) {
            throw new NiftiFormatException(file, "vox_offset " + voxOffset + " lies inside the "
                    + kind.headerSize() + "-byte header; a single-file NIfTI-" + kind.version()
                    + " needs vox_offset >= " + kind.minSingleFileOffset());
        }

        // --- scaling: a valid slope with an invalid intercept is an error in nibabel too
        double slope = v1 ? b.getFloat(112) : b.getDouble(176);
        double inter = v1 ? b.getFloat(116) : b.getDouble(184);
        if (slope != 0 && Double.isFinite(slope) && !Double.isFinite(inter) && !type.isColour()) {
            throw new NiftiFormatException(file, "scl_slope " + slope + " is valid but scl_inter is " + inter);
        }

        // --- the rest, with nibabel's load-time fixes (check_fix) for pixdim and xform codes
        double[] pixdim = new double[8];
        for (int i = 0; i < 8; i++) {
            pixdim[i] = v1 ? b.getFloat(76 + 4 * i) : b.getDouble(104 + 8 * i);
        }
        if (pixdim[0] != 1 && pixdim[0] != -1) {
            pixdim[0] = 1;
        }
        for (int i = 1; i <= 3; i++) {
            pixdim[i] = pixdim[i] == 0 ? 1 : Math.abs(pixdim[i]);
        }
        int qformCode = v1 ? b.getShort(252) : b.getInt(344);
        int sformCode = v1 ? b.getShort(254) : b.getInt(348);
        double[][] srow = new double[3][4];
        for (int r = 0; r < 3; r++) {
            for (int c = 0; c < 4; c++) {
                srow[r][c] = v1 ? b.getFloat(280 + 16 * r + 4 * c) : b.getDouble(400 + 32 * r + 8 * c);
            }
        }
        NiftiHeader.Builder h = NiftiHeader.builder()
                .version(kind.version())
                .byteOrder(kind.order())
                .datatype(type)
                .voxOffset(voxOffset)
                .scaling(slope, inter)
                .calRange(v1 ? b.getFloat(128) : b.getDouble(200), v1 ? b.getFloat(124) : b.getDouble(192))
                .slice(v1 ? b.get(122) & 0xFF : b.getInt(496),
                        v1 ? b.getShort(74) : b.getLong(224),
                        v1 ? b.getShort(120) : b.getLong(232),
                        v1 ? b.getFloat(132) : b.getDouble(208))
                .toffset(v1 ? b.getFloat(136) : b.getDouble(216))
                .xyztUnits(v1 ? b.get(123) : b.getInt(500))
                .dimInfo(v1 ? b.get(39) : b.get(524))
                .intent(v1 ? b.getShort(68) : b.getInt(504),
                        v1 ? b.getFloat(56) : b.getDouble(80),
                        v1 ? b.getFloat(60) : b.getDouble(88),
                        v1 ? b.getFloat(64) : b.getDouble(96),
                        text(b, v1 ? 328 : 508, 16))
                .descrip(text(b, v1 ? 148 : 240, 80))
                .auxFile(text(b, v1 ? 228 : 320, 24))
                .sform(srow, validCode(sformCode))
                .qform(v1 ? b.getFloat(256) : b.getDouble(352),
                        v1 ? b.getFloat(260) : b.getDouble(360),
                        v1 ? b.getFloat(264) : b.getDouble(368),
                        v1 ? b.getFloat(268) : b.getDouble(376),
                        v1 ? b.getFloat(272) : b.getDouble(384),
                        v1 ? b.getFloat(276) : b.getDouble(392),
                        validCode(qformCode))
                .pixdim(pixdim)
                .singleFile(singleFile)
                .dims(dims);
        return h.build();
    }

    static long voxelCount(long[] dims) {
        long n = 1;
        for (long d : dims) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    /** nibabel resets unrecognised xform codes to 0 (unknown) on load. */
    private static int validCode(int code) {
        return code >= 0 && code <= NiftiHeader.MAX_XFORM_CODE ? code : 0;
    }

    /** A NUL-terminated field; bytes that are not printable Latin-1 become '?'. */
    private static String text(ByteBuffer b, int offset, int length) {
        StringBuilder s = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            int c = b.get(offset + i) & 0xFF;
            if (c == 0) {
                break;
            }
            s.append(c < 0x20 || (c >= 0x7F && c < 0xA0) ? '?' : (char) c);
        }
        return s.toString();
    }

    private static String printable(byte[] magic) {
        StringBuilder s = new StringBuilder("\"");
        for (byte x : magic) {
            int c = x & 0xFF;
            s.append(c >= 0x20 && c < 0x7F ? String.valueOf((char) c) : String.format("\\x%02x", c));
        }
        return s.append('"').toString();
    }

    /**
     * Encodes {@code h} as a single-file header of its version, followed by the 4-byte extension flag (no
     * extensions), so voxel data start at {@code headerSize + 4}.
     */
    static byte[] encodeSingleFile(NiftiHeader h) {
        boolean v1 = h.version() == 1;
        int size = v1 ? NiftiHeader.NIFTI1_HEADER_SIZE : NiftiHeader.NIFTI2_HEADER_SIZE;
        byte[] out = new byte[size + 4];
        ByteBuffer b = ByteBuffer.wrap(out).order(h.byteOrder());
        long[] dims = h.dims();
        double[] pixdim = h.pixdim();
        double[][] sform = h.sform();
        double[] q = h.quaternion();
        double[] qo = h.qoffset();
        b.putInt(0, size);
        if (v1) {
            b.put(38, (byte) 'r');
            b.put(39, (byte) h.dimInfo());
            b.putShort(40, (short) dims.length);
            for (int i = 0; i < dims.length; i++) {
                b.putShort(42 + 2 * i, (short) dims[i]);
            }
            for (int i = dims.length + 1; i < 8; i++) {
                b.putShort(40 + 2 * i, (short) 1);
            }
            b.putFloat(56, (float) h.intentP1());
            b.putFloat(60, (float) h.intentP2());
            b.putFloat(64, (float) h.intentP3());
            b.putShort(68, (short) h.intentCode());
            b.putShort(70, (short) h.datatype().code());
            b.putShort(72, (short) h.bitpix());
            b.putShort(74, (short) h.sliceStart());
            for (int i = 0; i < 8; i++) {
                b.putFloat(76 + 4 * i, (float) pixdim[i]);
            }
            b.putFloat(108, size + 4);
            b.putFloat(112, (float) h.sclSlope());
            b.putFloat(116, (float) h.sclInter());
            b.putShort(120, (short) h.sliceEnd());
            b.put(122, (byte) h.sliceCode());
            b.put(123, (byte) h.xyztUnits());
            b.putFloat(124, (float) h.calMax());
            b.putFloat(128, (float) h.calMin());
            b.putFloat(132, (float) h.sliceDuration());
            b.putFloat(136, (float) h.toffset());
            putText(b, 148, h.descrip());
            putText(b, 228, h.auxFile());
            b.putShort(252, (short) h.qformCode());
            b.putShort(254, (short) h.sformCode());
            b.putFloat(256, (float) q[0]);
            b.putFloat(260, (float) q[1]);
            b.putFloat(264, (float) q[2]);
            b.putFloat(268, (float) qo[0]);
            b.putFloat(272, (float) qo[1]);
            b.putFloat(276, (float) qo[2]);
            for (int r = 0; r < 3; r++) {
                for (int c = 0; c < 4; c++) {
                    b.putFloat(280 + 16 * r + 4 * c, (float) sform[r][c]);
                }
            }
            putText(b, 328, h.intentName());
            putText(b, 344, "n+1");
        } else {
            putText(b, 4, "n+2");
            b.put(8, NIFTI2_EOL);
            b.putShort(12, (short) h.datatype().code());
            b.putShort(14, (short) h.bitpix());
            b.putLong(16, dims.length);
            for (int i = 0; i < dims.length; i++) {
                b.putLong(24 + 8 * i, dims[i]);
            }
            for (int i = dims.length + 1; i < 8; i++) {
                b.putLong(16 + 8 * i, 1);
            }
            b.putDouble(80, h.intentP1());
            b.putDouble(88, h.intentP2());
            b.putDouble(96, h.intentP3());
            for (int i = 0; i < 8; i++) {
                b.putDouble(104 + 8 * i, pixdim[i]);
            }
            b.putLong(168, size + 4);
            b.putDouble(176, h.sclSlope());
            b.putDouble(184, h.sclInter());
            b.putDouble(192, h.calMax());
            b.putDouble(200, h.calMin());
            b.putDouble(208, h.sliceDuration());
            b.putDouble(216, h.toffset());
            b.putLong(224, h.sliceStart());
            b.putLong(232, h.sliceEnd());
            putText(b, 240, h.descrip());
            putText(b, 320, h.auxFile());
            b.putInt(344, h.qformCode());
            b.putInt(348, h.sformCode());
            b.putDouble(352, q[0]);
            b.putDouble(360, q[1]);
            b.putDouble(368, q[2]);
            b.putDouble(376, qo[0]);
            b.putDouble(384, qo[1]);
            b.putDouble(392, qo[2]);
            for (int r = 0; r < 3; r++) {
                for (int c = 0; c < 4; c++) {
                    b.putDouble(400 + 32 * r + 8 * c, sform[r][c]);
                }
            }
            b.putInt(496, h.sliceCode());
            b.putInt(500, h.xyztUnits());
            b.putInt(504, h.intentCode());
            putText(b, 508, h.intentName());
            b.put(524, (byte) h.dimInfo());
        }
        return out;
    }

    private static void putText(ByteBuffer b, int offset, String s) {
        b.put(offset, s.getBytes(StandardCharsets.ISO_8859_1));
    }
}
