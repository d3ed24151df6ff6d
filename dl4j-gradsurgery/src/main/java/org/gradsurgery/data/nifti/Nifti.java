package org.gradsurgery.data.nifti;

import java.io.BufferedOutputStream;
import org.gradsurgery.io.AtomicFiles;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;
import java.util.zip.ZipException;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Reads and writes NIfTI-1 and NIfTI-2 images with nibabel's semantics.
 *
 * <h2>Reading</h2>
 * {@link #read(Path)} accepts {@code .nii}, {@code .nii.gz} and {@code .hdr}/{@code .img} pairs given by either
 * file (each optionally gzipped); compression is detected from the gzip magic bytes, not the name. Byte order and
 * version come from {@code sizeof_hdr} (348 or 540 in either order); extensions are skipped via {@code vox_offset}.
 * Every header field that sizes memory is validated before anything is allocated: dims are checked for range and
 * 64-bit overflow, an uncompressed file's size is checked against the voxel byte count, and a gzip stream is
 * decompressed into chunks allocated only as data actually arrive, so a lying header can never cause a large
 * allocation.
 *
 * <h2>Uncompressed voxels stay in the file</h2>
 * Uncompressed voxel data of 1 MiB or more are not copied by {@code read}: like nibabel's array proxy, the image
 * keeps the file's name, offset, size and modification time, and every {@link NiftiImage#data}/{@link
 * NiftiImage#labels} call opens the file, reads the voxels and closes it. When no conversion is needed (float32 read
 * as FLOAT, float64 as DOUBLE, int32/int64 labels, unscaled, native byte order) the bytes go straight from the file
 * into the new array's memory; otherwise they are read in chunks into a small scratch array of the stored type and
 * converted by libnd4j's native cast (or, for the few conversions it cannot do exactly as Java does, by Java
 * loops; see {@code VoxelCodec}). A file replaced or cut after {@code read} is an error naming it, never silently
 * other voxels. On nd4j-native the new array's memory is a plain {@code malloc} the read itself faults in, not
 * libnd4j's allocation, which writes every page of it first ({@code MallocArrays}); {@code close()} frees it.
 * <p>Why not a memory map: a {@code MappedByteBuffer} can only be unmapped by the garbage collector, and while it is
 * mapped Windows refuses to delete or overwrite the file; a positional read into the destination is one copy, as a
 * mapped read is, without the page faults of the mapping. So no handle or mapping outlives a call on any platform.
 *
 * <h2>Writing</h2>
 * {@link #write(Path, INDArray, NiftiHeader)} writes a single-file {@code .nii} or, if the name ends in
 * {@code .gz}, a {@code .nii.gz}, carrying the reference header's geometry (qform/sform and codes, pixdim, units)
 * so predictions overlay their input in ITK-SNAP or 3D Slicer. The file is written to a temporary file in the same
 * directory and moved into place, so a failure never leaves a partial file behind.
 *
 * @see <a href="https://nifti.nimh.nih.gov/nifti-1">NIfTI-1 standard</a>
 * @see <a href="https://nifti.nimh.nih.gov/nifti-2">NIfTI-2 standard</a>
 */
public final class Nifti {

    /** Uncompressed voxel data at least this large are left in the file and read by each decode. */
    static final long FILE_THRESHOLD = 1L << 20;
    /** In-memory segment size: 768 MiB, a multiple of every voxel size (1, 2, 3, 4, 8), below 2 GiB. */
    static final int SEGMENT_BYTES = 3 << 28;
    /** Gzip decompression chunk: 12 MiB, a multiple of every voxel size. */
    static final int GZIP_CHUNK_BYTES = 3 << 22;
    /** First gzip chunk; later chunks double up to {@link #GZIP_CHUNK_BYTES}. */
    private static final int GZIP_FIRST_CHUNK = 1 << 16;
    /** Compressed-input buffer for the inflater. */
    private static final int GZIP_INPUT_BUFFER = 1 << 16;
    /** After the voxels, at most this much trailing gzip data is read to verify the CRC. */
    private static final int GZIP_TRAILER_CHECK = 1 << 20;

    private Nifti() {
    }

    /**
     * Reads a NIfTI-1/NIfTI-2 image.
     *
     * @param path a {@code .nii}, {@code .nii.gz}, {@code .hdr}, {@code .img} (the last two optionally {@code .gz})
     * @throws NiftiFormatException if the file is not a valid, complete NIfTI image (the message names the file
     *                              and the problem)
     * @throws IOException          if the file cannot be read at all (missing, permissions)
     */
    public static NiftiImage read(Path path) throws IOException {
        return read(path, SEGMENT_BYTES, GZIP_CHUNK_BYTES, FILE_THRESHOLD);
    }

    /** {@link #read(Path)} with explicit segment sizes, so tests can exercise segment boundaries on tiny files. */
    static NiftiImage read(Path path, int segmentBytes, int gzipChunkBytes, long fileThreshold) throws IOException {
        Objects.requireNonNull(path, "path");
        Layout layout = Layout.of(path);
        NiftiHeader header;
        NiftiHeaderCodec.Kind kind;
        try (Input in = Input.open(layout.header, segmentBytes, gzipChunkBytes, fileThreshold)) {
            byte[] head = new byte[NiftiHeader.NIFTI2_HEADER_SIZE];
            int got = in.readUpTo(head, 4);
            if (got < 4) {
                throw new NiftiFormatException(layout.header, got == 0 ? "empty file (no header)"
                        : "truncated header: only " + got + " bytes");
            }
            kind = NiftiHeaderCodec.detect(head, layout.header);
            int more = in.readInto(head, 4, kind.headerSize() - 4);
            if (4 + more < kind.headerSize()) {
                throw new NiftiFormatException(layout.header, "truncated header: only " + (4 + more) + " of "
                        + kind.headerSize() + " bytes (NIfTI-" + kind.version() + ")");
            }
            header = NiftiHeaderCodec.decode(head, kind, layout.header, !layout.pair);
            if (layout.pair && header.isSingleFile()) {
                // a .hdr whose magic says "n+1": its voxels follow the header in the same file
                return finish(path, header, in.voxels(header));
            }
            if (!layout.pair) {
                return finish(path, header, in.voxels(header));
            }
        }
        try (Input img = Input.open(layout.image, segmentBytes, gzipChunkBytes, fileThreshold)) {
            return finish(path, header, img.voxels(header));
        }
    }

    private static NiftiImage finish(Path path, NiftiHeader header, Input.Voxels v) throws NiftiFormatException {
        if (header.sformCode() == 0 && header.qformCode() > 0) {
            try {
                header.qform();
            } catch (IllegalStateException e) {
                throw new NiftiFormatException(path, e.getMessage() + " (qform_code " + header.qformCode()
                        + ", sform_code 0)");
            }
        }
        return new NiftiImage(path, header, v.raw(), v.inFile());
    }

    // ================================================================== layout

    /** Which file holds the header and which the voxels. */
    private record Layout(Path header, Path image, boolean pair) {
        static Layout of(Path path) throws NiftiFormatException {
            String name = path.getFileName().toString();
            boolean gz = name.toLowerCase(Locale.ROOT).endsWith(".gz");
            String base = gz ? name.substring(0, name.length() - 3) : name;
            String lower = base.toLowerCase(Locale.ROOT);
            boolean hdr = lower.endsWith(".hdr");
            if (!hdr && !lower.endsWith(".img")) {
                return new Layout(path, path, false);
            }
            String stem = base.substring(0, base.length() - 4);
            String ext = base.substring(base.length() - 4);
            String partnerExt = hdr ? swapCase(ext, ".img") : swapCase(ext, ".hdr");
            String gzSuffix = gz ? name.substring(name.length() - 3) : ".gz";
            List<Path> tried = new ArrayList<>();
            for (String candidate : gz ? new String[]{stem + partnerExt + gzSuffix, stem + partnerExt}
                    : new String[]{stem + partnerExt, stem + partnerExt + gzSuffix}) {
                Path p = path.resolveSibling(candidate);
                tried.add(p);
                if (Files.isRegularFile(p)) {
                    return hdr ? new Layout(path, p, true) : new Layout(p, path, true);
                }
            }
            throw new NiftiFormatException(path, "incomplete .hdr/.img pair: the " + (hdr ? "image" : "header")
                    + " file is missing (tried " + tried + ")");
        }

        /** {@code target} spelled with the letter case of {@code like} (".HDR" → ".IMG"). */
        private static String swapCase(String like, String target) {
            StringBuilder s = new StringBuilder(target.length());
            for (int i = 0; i < target.length(); i++) {
                char c = target.charAt(i);
                s.append(Character.isUpperCase(like.charAt(i)) ? Character.toUpperCase(c) : c);
            }
            return s.toString();
        }
    }

    // ================================================================== inputs

    /** A sequential reader over a plain or gzip-compressed file. */
    private abstract static class Input implements Closeable {
        final Path file;
        final int segmentBytes;
        long position;

        record Voxels(VoxelCodec.RawVoxels raw, boolean inFile) {
        }

        Input(Path file, int segmentBytes) {
            this.file = file;
            this.segmentBytes = segmentBytes;
        }

        static Input open(Path file, int segmentBytes, int gzipChunk, long fileThreshold) throws IOException {
            FileChannel ch = FileChannel.open(file, StandardOpenOption.READ);
            try {
                long size = ch.size();
                if (size == 0) {
                    throw new NiftiFormatException(file, "empty file (0 bytes)");
                }
                ByteBuffer magic = ByteBuffer.allocate(2);
                ch.read(magic, 0);
                boolean gz = magic.position() == 2 && (magic.get(0) & 0xFF) == 0x1F && (magic.get(1) & 0xFF) == 0x8B;
                if (gz) {
                    return new GzipInput(file, ch, segmentBytes, gzipChunk);
                }
                return new PlainInput(file, ch, size, segmentBytes, fileThreshold);
            } catch (IOException | RuntimeException e) {
                ch.close();
                throw e;
            }
        }

        /** Reads up to {@code n} bytes into {@code dst[0..n)}; fewer only at end of data. */
        final int readUpTo(byte[] dst, int n) throws IOException {
            return readInto(dst, 0, n);
        }

        abstract int readInto(byte[] dst, int off, int n) throws IOException;

        /** Positions at {@code vox_offset} and reads (or notes where to read) the voxel bytes the header describes. */
        abstract Voxels voxels(NiftiHeader h) throws IOException;

        /** Voxel byte count, already known not to overflow (the codec checked it). */
        static long voxelBytes(NiftiHeader h) {
            return h.voxelCount() * h.datatype().bytesPerVoxel();
        }

        /** Largest segment of whole voxels not above {@code limit} bytes. */
        static int wholeVoxels(int limit, int bytesPerVoxel) {
            return VoxelCodec.wholeVoxels(limit, bytesPerVoxel);
        }
    }

    private static final class PlainInput extends Input {
        private final FileChannel ch;
        private final long size;
        private final long fileThreshold;

        PlainInput(Path file, FileChannel ch, long size, int segmentBytes, long fileThreshold) {
            super(file, segmentBytes);
            this.ch = ch;
            this.size = size;
            this.fileThreshold = fileThreshold;
        }

        @Override
        int readInto(byte[] dst, int off, int n) throws IOException {
            ByteBuffer b = ByteBuffer.wrap(dst, off, n);
            while (b.hasRemaining()) {
                int r = ch.read(b, position);
                if (r < 0) {
                    break;
                }
                position += r;
            }
            return b.position() - off;
        }

        @Override
        Voxels voxels(NiftiHeader h) throws IOException {
            long offset = h.voxOffset();
            long need = voxelBytes(h);
            if (offset > size) {
                throw new NiftiFormatException(file, "vox_offset " + offset + " is past the end of the file ("
                        + size + " bytes)");
            }
            if (need > size - offset) {
                throw new NiftiFormatException(file, "truncated voxel data: the header needs " + need
                        + " bytes (dims " + Arrays.toString(h.dims()) + " × " + h.datatype().bytesPerVoxel()
                        + " bytes) from offset " + offset + ", but the file has only " + (size - offset));
            }
            if (need >= fileThreshold) {
                // left in the file: each decode reads it (straight into the output array when no conversion is
                // needed), so nothing is copied twice and no file handle or mapping outlives a call
                return new Voxels(new VoxelCodec.RawVoxels(new ByteBuffer[0], h.byteOrder(), need,
                        new VoxelCodec.FileRegion(file.toAbsolutePath(), offset, size,
                                Files.getLastModifiedTime(file))), true);
            }
            int seg = wholeVoxels(segmentBytes, h.datatype().bytesPerVoxel());
            List<ByteBuffer> segments = new ArrayList<>();
            for (long done = 0; done < need; ) {
                int len = (int) Math.min(seg, need - done);
                ByteBuffer b = ByteBuffer.allocate(len);
                while (b.hasRemaining()) {
                    if (ch.read(b, offset + done + b.position()) < 0) {
                        throw new NiftiFormatException(file, "file shrank while being read");
                    }
                }
                b.clear();
                segments.add(b);
                done += len;
            }
            return new Voxels(new VoxelCodec.RawVoxels(segments.toArray(ByteBuffer[]::new), h.byteOrder(), need),
                    false);
        }

        @Override
        public void close() throws IOException {
            ch.close();
        }
    }

    private static final class GzipInput extends Input {
        private final InputStream in;
        private final int chunk;

        GzipInput(Path file, FileChannel ch, int segmentBytes, int chunk) throws IOException {
            super(file, segmentBytes);
            this.chunk = chunk;
            InputStream raw = Channels.newInputStream(ch.position(0));
            try {
                this.in = new GZIPInputStream(raw, GZIP_INPUT_BUFFER);
            } catch (IOException e) {
                raw.close();
                throw corrupt(e);
            }
        }

        private NiftiFormatException corrupt(IOException e) {
            if (e instanceof NiftiFormatException nfe) {
                return nfe;
            }
            String why = e instanceof EOFException
                    ? "gzip stream is truncated (ends after " + position + " decompressed bytes)"
                    : "corrupt gzip stream after " + position + " decompressed bytes: " + e.getMessage();
            return new NiftiFormatException(file, why, e);
        }

        @Override
        int readInto(byte[] dst, int off, int n) throws IOException {
            int done = 0;
            try {
                while (done < n) {
                    int r = in.read(dst, off + done, n - done);
                    if (r < 0) {
                        break;
                    }
                    done += r;
                    position += r;
                }
            } catch (ZipException | EOFException e) {
                throw corrupt(e);
            } catch (IOException e) {
                if (e.getCause() instanceof java.util.zip.DataFormatException) {
                    throw corrupt(e);
                }
                throw e;
            }
            return done;
        }

        @Override
        Voxels voxels(NiftiHeader h) throws IOException {
            long offset = h.voxOffset();
            byte[] skip = new byte[8192];
            while (position < offset) {
                int want = (int) Math.min(skip.length, offset - position);
                if (readInto(skip, 0, want) < want) {
                    throw new NiftiFormatException(file, "vox_offset " + offset + " is past the end of the "
                            + "decompressed data (" + position + " bytes)");
                }
            }
            long need = voxelBytes(h);
            int bpv = h.datatype().bytesPerVoxel();
            int seg = wholeVoxels(Math.min(chunk, segmentBytes), bpv);
            List<ByteBuffer> segments = new ArrayList<>();
            // Chunks are allocated only as data arrive, growing from 64 KiB, so a header claiming terabytes costs
            // at most about twice the data the stream really holds.
            int next = wholeVoxels(Math.min(seg, GZIP_FIRST_CHUNK), bpv);
            for (long done = 0; done < need; ) {
                int len = (int) Math.min(next, need - done);
                next = wholeVoxels((int) Math.min(seg, 2L * next), bpv);
                byte[] b = new byte[len];
                int got = readInto(b, 0, len);
                if (got < len) {
                    throw new NiftiFormatException(file, "truncated voxel data: the header needs " + need
                            + " bytes (dims " + Arrays.toString(h.dims()) + " × " + h.datatype().bytesPerVoxel()
                            + " bytes) from offset " + offset + ", but the decompressed data end after "
                            + (done + got));
                }
                segments.add(ByteBuffer.wrap(b));
                done += len;
            }
            // Reading on to the end of the stream makes the inflater verify the gzip CRC and length.
            long extra = 0;
            while (extra < GZIP_TRAILER_CHECK) {
                int r = readInto(skip, 0, skip.length);
                if (r <= 0) {
                    break;
                }
                extra += r;
            }
            return new Voxels(new VoxelCodec.RawVoxels(segments.toArray(ByteBuffer[]::new), h.byteOrder(), need),
                    false);
        }

        @Override
        public void close() throws IOException {
            in.close();
        }
    }

    // ================================================================== writing

    /**
     * Writes {@code data} as a {@code .nii} or {@code .nii.gz} (chosen by the file name) with the on-disk
     * datatype of the array's type: FLOAT → float32, DOUBLE → float64, INT32 → int32, INT64 → int64, INT16 → int16,
     * UINT8/BOOL → uint8, INT8 → int8, UINT16 → uint16, UINT32 → uint32, HALF/BFLOAT16 → float32.
     *
     * @param data      array with 1..7 axes; element [i, j, k] becomes voxel (i, j, k)
     * @param reference the header whose geometry to carry (qform/sform and codes, pixdim, units, descrip), or
     *                  {@code null} for an identity affine with 1 mm voxels (sform and qform code 2, aligned)
     */
    public static void write(Path path, INDArray data, NiftiHeader reference) throws IOException {
        write(path, data, reference, WriteOptions.builder().build());
    }

    /** {@link #write(Path, INDArray, NiftiHeader)} with an explicit on-disk datatype (e.g. UINT8 label maps). */
    public static void write(Path path, INDArray data, NiftiHeader reference, NiftiDataType datatype)
            throws IOException {
        write(path, data, reference, WriteOptions.builder().datatype(datatype).build());
    }

    /**
     * Writes {@code data} with explicit options.
     *
     * @throws IllegalArgumentException if the name does not end in .nii/.nii.gz, the array has no or more than 7
     *                                  axes, its first axes disagree with the reference grid, or a value cannot be
     *                                  stored exactly in the chosen datatype (the message names the voxel)
     */
    public static void write(Path path, INDArray data, NiftiHeader reference, WriteOptions options)
            throws IOException {
        Objects.requireNonNull(path, "path");
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(options, "options");
        String lower = path.getFileName().toString().toLowerCase(Locale.ROOT);
        boolean gz = lower.endsWith(".nii.gz");
        if (!gz && !lower.endsWith(".nii")) {
            throw new IllegalArgumentException("Nifti.write: " + path + " must end in .nii or .nii.gz");
        }
        NiftiHeader header = headerFor(data, reference, options, path);
        byte[] head = NiftiHeaderCodec.encodeSingleFile(header);

        AtomicFiles.write(path, tmp -> {
            try (OutputStream file = Files.newOutputStream(tmp);
                 OutputStream out = gz ? new LevelledGzip(file, options.compressionLevel())
                         : new BufferedOutputStream(file, 1 << 20)) {
                out.write(head);
                VoxelCodec.encode(data, header.datatype(), header.byteOrder(),
                        block -> out.write(block.array(), 0, block.limit()), "Nifti.write " + path);
            }
        });
    }

    /** The header written for {@code data}: the reference's geometry with this array's shape and type. */
    static NiftiHeader headerFor(INDArray data, NiftiHeader reference, WriteOptions options, Path path) {
        long[] shape = data.shape();
        if (shape.length < 1 || shape.length > 7 || data.isEmpty()) {
            throw new IllegalArgumentException("Nifti.write " + path + ": NIfTI stores arrays with 1..7 non-empty "
                    + "axes, got shape " + Arrays.toString(shape));
        }
        NiftiDataType type = options.datatype() != null ? options.datatype() : defaultType(data.dataType());
        NiftiHeader.Builder b;
        if (reference == null) {
            b = NiftiHeader.builder().affine(new double[][]{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}}, 2);
        } else {
            long[] ref = reference.dims();
            for (int i = 0; i < Math.min(3, Math.min(ref.length, shape.length)); i++) {
                if (ref[i] != shape[i]) {
                    throw new IllegalArgumentException("Nifti.write " + path + ": data shape "
                            + Arrays.toString(shape) + " does not match the reference grid " + Arrays.toString(ref)
                            + " on axis " + i + "; its affine would misplace the voxels. Pass a reference describing "
                            + "this grid (NiftiHeader.withDims/withAffine) or null");
                }
            }
            b = reference.toBuilder().intent(0, 0, 0, 0, "").calRange(0, 0);
        }
        boolean large = Arrays.stream(shape).anyMatch(d -> d > NiftiHeader.NIFTI1_MAX_DIM);
        int version = options.version() != 0 ? options.version()
                : large ? 2 : reference != null ? reference.version() : 1;
        b.version(version)
                .byteOrder(options.byteOrder() != null ? options.byteOrder() : ByteOrder.LITTLE_ENDIAN)
                .dims(shape)
                .datatype(type)
                .scaling(1, 0)
                .voxOffset(version == 1 ? NiftiHeader.NIFTI1_HEADER_SIZE + 4 : NiftiHeader.NIFTI2_HEADER_SIZE + 4)
                .singleFile(true);
        if (options.descrip() != null) {
            b.descrip(options.descrip());
        }
        return b.build();
    }

    /** The on-disk datatype {@link #write(Path, INDArray, NiftiHeader)} uses for an array type. */
    public static NiftiDataType defaultType(DataType t) {
        return switch (t) {
            case FLOAT, HALF, BFLOAT16 -> NiftiDataType.FLOAT32;
            case DOUBLE -> NiftiDataType.FLOAT64;
            case INT -> NiftiDataType.INT32;
            case LONG -> NiftiDataType.INT64;
            case SHORT -> NiftiDataType.INT16;
            case BYTE -> NiftiDataType.INT8;
            case UBYTE, BOOL -> NiftiDataType.UINT8;
            case UINT16 -> NiftiDataType.UINT16;
            case UINT32 -> NiftiDataType.UINT32;
            default -> throw new IllegalArgumentException("Nifti.write: no NIfTI datatype for arrays of " + t);
        };
    }

    /** gzip output at a chosen deflate level (nibabel also defaults to level 1: fast, nearly as small). */
    private static final class LevelledGzip extends GZIPOutputStream {
        LevelledGzip(OutputStream out, int level) throws IOException {
            super(new BufferedOutputStream(out, 1 << 16), 1 << 16);
            def.setLevel(level);
        }
    }

    /**
     * Options for {@link #write(Path, INDArray, NiftiHeader, WriteOptions)}. Unset values: datatype from the array
     * type, version from the reference (NIfTI-2 if a dim exceeds 32767), little endian, gzip level 1, the
     * reference's descrip.
     */
    public static final class WriteOptions {
        private final NiftiDataType datatype;
        private final int version;
        private final ByteOrder byteOrder;
        private final int compressionLevel;
        private final String descrip;

        private WriteOptions(Builder b) {
            this.datatype = b.datatype;
            this.version = b.version;
            this.byteOrder = b.byteOrder;
            this.compressionLevel = b.compressionLevel;
            this.descrip = b.descrip;
        }

        public NiftiDataType datatype() {
            return datatype;
        }

        /** 0 = automatic, else 1 or 2. */
        public int version() {
            return version;
        }

        public ByteOrder byteOrder() {
            return byteOrder;
        }

        public int compressionLevel() {
            return compressionLevel;
        }

        public String descrip() {
            return descrip;
        }

        public static Builder builder() {
            return new Builder();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof WriteOptions w && datatype == w.datatype && version == w.version
                    && Objects.equals(byteOrder, w.byteOrder) && compressionLevel == w.compressionLevel
                    && Objects.equals(descrip, w.descrip);
        }

        @Override
        public int hashCode() {
            return Objects.hash(datatype, version, byteOrder, compressionLevel, descrip);
        }

        @Override
        public String toString() {
            return "WriteOptions{datatype=" + datatype + ", version=" + version + ", byteOrder=" + byteOrder
                    + ", compressionLevel=" + compressionLevel + ", descrip=" + descrip + "}";
        }

        /** Builds {@link WriteOptions}; a value left unset keeps the default listed on {@link WriteOptions}. */
        public static final class Builder {
            private NiftiDataType datatype;
            private int version;
            private ByteOrder byteOrder;
            private int compressionLevel = 1;
            private String descrip;

            private Builder() {
            }

            /** On-disk datatype (not RGB24/RGBA32); null = from the array type. */
            public Builder datatype(NiftiDataType t) {
                if (t != null && t.isColour()) {
                    throw new IllegalArgumentException("WriteOptions: writing " + t + " is not supported");
                }
                datatype = t;
                return this;
            }

            /** 1, 2, or 0 for automatic. */
            public Builder version(int v) {
                if (v < 0 || v > 2) {
                    throw new IllegalArgumentException("WriteOptions: version must be 0 (auto), 1 or 2, got " + v);
                }
                version = v;
                return this;
            }

            public Builder byteOrder(ByteOrder order) {
                byteOrder = order;
                return this;
            }

            /** Deflate level 0..9 for .nii.gz. */
            public Builder compressionLevel(int level) {
                if (level < 0 || level > 9) {
                    throw new IllegalArgumentException("WriteOptions: compression level must be 0..9, got " + level);
                }
                compressionLevel = level;
                return this;
            }

            /** Replaces the reference's descrip (at most 80 Latin-1 characters). */
            public Builder descrip(String text) {
                descrip = text;
                return this;
            }

            public WriteOptions build() {
                return new WriteOptions(this);
            }
        }
    }
}
