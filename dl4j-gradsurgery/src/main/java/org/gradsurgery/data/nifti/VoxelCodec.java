package org.gradsurgery.data.nifti;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Conversion between NIfTI voxel bytes (file byte order, x fastest) and ND4J arrays in Fortran order, whose linear
 * buffer is exactly the file's voxel order, so element [i, j, k] of the array is voxel (i, j, k).
 *
 * <p>Reading takes one of three routes, by what the conversion needs:
 * <ul>
 *   <li><b>copy</b>: stored type = target type, unscaled, native byte order: the bytes go straight into the array
 *       (from the file by positional reads, or from the in-memory segments).</li>
 *   <li><b>native cast</b> ({@link NativeCast}): every conversion libnd4j does exactly as Java would (all scalar
 *       types but int64/uint64 to FLOAT/DOUBLE, and integer labels that fit): chunks of {@link #CAST_CHUNK}
 *       voxels are put, in native byte order (the JDK's bulk put swaps), into a scratch array of the stored type
 *       and assigned into a window of the output, a vectorised native cast; y = slope·x + inter is two in-place
 *       native scalar ops in DOUBLE, then rounded to the target, the same operations in the same order as the
 *       Java loop, so the values are identical to the bit.</li>
 *   <li><b>Java loops</b> ({@link Decoder}) for the rest (64-bit integers to floating point, uint64 and
 *       floating-point labels, which are checked voxel by voxel, and colour): blocks of {@link #BLOCK} voxels,
 *       a bulk get into a primitive array (which also byte-swaps), a tight loop, a bulk put.</li>
 * </ul>
 * Windows keep every {@link ByteBuffer} under 2 GiB, so arrays larger than a Java array (more than 2³¹ bytes) are
 * handled.
 */
final class VoxelCodec {

    /** Voxels per conversion block of the Java loops. */
    static final int BLOCK = 1 << 15;

    /**
     * Voxels per chunk of the native cast: large enough that the per-op overhead of ND4J (about 10 µs) is under
     * 1 %, small enough that the scratch (at most 1 MiB of stored voxels, 2 MiB of DOUBLE) stays in cache. 32 K
     * voxels cost a third more CPU time on a 256³ int16 read; 256 K and 1 M the same.
     */
    static final int CAST_CHUNK = 1 << 18;

    /** What an INDArray produced from voxels holds. */
    enum Target {
        FLOAT(DataType.FLOAT), DOUBLE(DataType.DOUBLE), INT(DataType.INT32), LONG(DataType.INT64);

        final DataType type;

        Target(DataType type) {
            this.type = type;
        }
    }

    /**
     * Raw voxel bytes in file order: either in memory, split into segments that each hold whole voxels, or (when
     * {@code region} is set, {@code segments} empty) left in an uncompressed file and read by each decode.
     */
    record RawVoxels(ByteBuffer[] segments, ByteOrder order, long bytes, FileRegion region) {
        RawVoxels(ByteBuffer[] segments, ByteOrder order, long bytes) {
            this(segments, order, bytes, null);
        }
    }

    /**
     * Voxel bytes at {@code offset} of an uncompressed file, as they were when the header was read: its size and
     * modification time then, so a decode notices a file replaced or cut since.
     */
    record FileRegion(java.nio.file.Path file, long offset, long fileSize, java.nio.file.attribute.FileTime modified) {
    }

    /** Bytes read per {@code FileChannel.read} straight into the output array (below 2 GiB, whole voxels). */
    static final int DIRECT_READ_BYTES = 1 << 26;

    /**
     * One direct scratch buffer per thread for converting blocks read from a file, reused across reads (so a read
     * allocates nothing but its output array); grown on demand to {@link #BLOCK} voxels of the widest type.
     */
    private static final ThreadLocal<ByteBuffer> SCRATCH = new ThreadLocal<>();

    private VoxelCodec() {
    }

    /** The integer type {@link NiftiImage#labels()} returns for a datatype. */
    static Target labelTarget(NiftiDataType t) {
        return switch (t) {
            case UINT32, INT64, UINT64 -> Target.LONG;
            default -> Target.INT;
        };
    }

    // ================================================================== reading

    /**
     * Decodes all voxels into a new Fortran-order array of shape {@code dims} (plus a trailing channel axis for
     * colour types), applying {@code y = slope·x + inter} in double precision when {@code scale} is set.
     *
     * @throws IllegalStateException for labels of floating voxels that are not whole numbers within int range, or
     *                               uint64 values above 2⁶³ − 1
     */
    static INDArray decode(RawVoxels raw, NiftiHeader h, Target target, boolean scale, java.nio.file.Path file) {
        return decode(raw, h, target, scale, file, CAST_CHUNK);
    }

    /**
     * {@link #decode(RawVoxels, NiftiHeader, Target, boolean, java.nio.file.Path)} with an explicit native-cast
     * chunk; 0 turns the native cast off (the Java loops convert), so tests can compare the two routes and
     * exercise chunk boundaries on tiny images.
     */
    static INDArray decode(RawVoxels raw, NiftiHeader h, Target target, boolean scale, java.nio.file.Path file,
                           int castChunk) {
        NiftiDataType type = h.datatype();
        long voxels = h.voxelCount();
        long[] dims = h.dims();
        long[] shape = type.isColour() ? append(dims, type.channels()) : dims;
        INDArray out = allocate(target.type, shape);
        if (raw.region() != null) {
            try {
                readRegion(raw, h, target, scale, out, file, castChunk);
            } catch (java.io.IOException e) {
                out.close();
                throw new java.io.UncheckedIOException(e instanceof NiftiFormatException ? e
                        : new NiftiFormatException(file, "cannot read the voxel data: " + e.getMessage(), e));
            }
            return out;
        }
        long v = 0;
        int bpv = type.bytesPerVoxel();
        if (isCopy(type, target, scale, raw.order())) {
            // same type, native order, unscaled: one bulk copy per segment, no conversion
            for (ByteBuffer seg : raw.segments()) {
                window(out, v * bpv, seg.capacity()).put(0, seg, 0, seg.capacity());
                v += seg.capacity() / bpv;
            }
            return out;
        }
        if (castChunk > 0 && NativeCast.applies(type, target)) {
            try (NativeCast c = new NativeCast(type, target, scale, h.sclSlope(), h.sclInter(), out, castChunk)) {
                for (ByteBuffer seg : raw.segments()) {
                    int segVoxels = seg.capacity() / bpv;
                    for (int b = 0; b < segVoxels; b += castChunk) {
                        int n = Math.min(castChunk, segVoxels - b);
                        c.fill(seg.slice(b * bpv, n * bpv).order(raw.order()), n);
                        c.convert(v + b, n);
                    }
                    v += segVoxels;
                }
            }
            checkCount(v, voxels);
            return out;
        }
        Decoder d = new Decoder(type, target, scale, h.sclSlope(), h.sclInter(), raw.order(), out, voxels, dims,
                file);
        for (ByteBuffer seg : raw.segments()) {
            int segVoxels = seg.capacity() / bpv;
            for (int b = 0; b < segVoxels; b += BLOCK) {
                int n = Math.min(BLOCK, segVoxels - b);
                d.block(seg.slice(b * bpv, n * bpv).order(raw.order()), v + b, n);
            }
            v += segVoxels;
        }
        checkCount(v, voxels);
        return out;
    }

    /**
     * A new Fortran-order array for decoded voxels, outside any workspace, its memory not yet written: on
     * nd4j-native a {@link MallocArrays} array (a plain malloc, which the decode's writes fault in, instead of
     * libnd4j's allocation, which writes every page first), on other backends {@code Nd4j.createUninitialized}.
     * Inside a JavaCPP {@code PointerScope} as well: the scope would take the new pointer and free it when it
     * closes, under an array that may live on.
     */
    static INDArray allocate(DataType type, long[] shape) {
        long n = 1;
        for (long d : shape) {
            n = Math.multiplyExact(n, d);
        }
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            return n > 0 && nativeCpu() && org.bytedeco.javacpp.PointerScope.getInnerScope() == null
                    ? MallocArrays.create(type, shape, n)
                    : Nd4j.createUninitialized(type, shape, 'f');
        }
    }

    /**
     * Whether the running backend is nd4j-native, whose buffer classes {@link MallocArrays} extends (checked by
     * name, so that class is never loaded on another backend).
     */
    static boolean nativeCpu() {
        return "org.nd4j.linalg.cpu.nativecpu.buffer.DefaultDataBufferFactory"
                .equals(Nd4j.getDataBufferFactory().getClass().getName());
    }

    private static void checkCount(long decoded, long voxels) {
        if (decoded != voxels) {
            throw new IllegalStateException("decoded " + decoded + " voxels, expected " + voxels);
        }
    }

    /** Whether decoding is a plain byte copy: the stored type is the target's, unscaled, in native byte order. */
    static boolean isCopy(NiftiDataType type, Target target, boolean scale, ByteOrder order) {
        if (scale || order != ByteOrder.nativeOrder()) {
            return false;
        }
        return switch (type) {
            case FLOAT32 -> target == Target.FLOAT;
            case FLOAT64 -> target == Target.DOUBLE;
            case INT32 -> target == Target.INT;
            case INT64 -> target == Target.LONG;
            default -> false;
        };
    }

    /**
     * Reads the voxels of an uncompressed file into {@code out}: a plain copy goes straight from the file into the
     * array's memory; a native cast reads each chunk straight into its scratch array (through the thread's reused
     * direct buffer when the bytes must be swapped); the Java loops read block by block through that buffer.
     * The file is open only for this call (no mapping survives it), so on Windows it can be replaced or deleted as
     * soon as the call returns.
     */
    private static void readRegion(RawVoxels raw, NiftiHeader h, Target target, boolean scale, INDArray out,
                                   java.nio.file.Path file, int castChunk) throws java.io.IOException {
        FileRegion r = raw.region();
        NiftiDataType type = h.datatype();
        int bpv = type.bytesPerVoxel();
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(r.file(),
                java.nio.file.StandardOpenOption.READ)) {
            long size = ch.size();
            java.nio.file.attribute.FileTime modified = java.nio.file.Files.getLastModifiedTime(r.file());
            if (size != r.fileSize() || !modified.equals(r.modified())) {
                throw new NiftiFormatException(r.file(), "the file changed since its header was read (size "
                        + r.fileSize() + " -> " + size + " bytes, modified " + r.modified() + " -> " + modified
                        + "); read it again");
            }
            if (isCopy(type, target, scale, raw.order())) {
                int chunk = wholeVoxels(DIRECT_READ_BYTES, bpv);
                for (long done = 0; done < raw.bytes(); ) {
                    int len = (int) Math.min(chunk, raw.bytes() - done);
                    readFully(ch, window(out, done, len), r.offset() + done, r.file());
                    done += len;
                }
                return;
            }
            long voxels = h.voxelCount();
            if (castChunk > 0 && NativeCast.applies(type, target)) {
                boolean swap = raw.order() != ByteOrder.nativeOrder();
                try (NativeCast c = new NativeCast(type, target, scale, h.sclSlope(), h.sclInter(), out,
                        castChunk)) {
                    for (long v = 0; v < voxels; v += castChunk) {
                        int n = (int) Math.min(castChunk, voxels - v);
                        if (swap) {
                            // read in file order, then the bulk put swaps into the scratch array
                            ByteBuffer b = scratch(n * bpv).limit(n * bpv);
                            readFully(ch, b, r.offset() + v * bpv, r.file());
                            c.fill(b.flip().slice().order(raw.order()), n);
                        } else {
                            readFully(ch, c.bytes(n), r.offset() + v * bpv, r.file());
                        }
                        c.convert(v, n);
                    }
                }
                return;
            }
            Decoder d = new Decoder(type, target, scale, h.sclSlope(), h.sclInter(), raw.order(), out,
                    h.voxelCount(), h.dims(), file);
            ByteBuffer scratch = scratch(BLOCK * bpv);
            for (long v = 0; v < voxels; v += BLOCK) {
                int n = (int) Math.min(BLOCK, voxels - v);
                ByteBuffer b = scratch.clear().limit(n * bpv);
                readFully(ch, b, r.offset() + v * bpv, r.file());
                d.block(b.flip().slice().order(raw.order()), v, n);
            }
        }
    }

    /** The thread's reused direct buffer, cleared, with at least {@code bytes} capacity. */
    private static ByteBuffer scratch(int bytes) {
        ByteBuffer scratch = SCRATCH.get();
        if (scratch == null || scratch.capacity() < bytes) {
            scratch = ByteBuffer.allocateDirect(Math.max(bytes, BLOCK * 8));
            SCRATCH.set(scratch);
        }
        return scratch.clear();
    }

    /**
     * The native-cast route: a scratch array of the stored type (and, to scale into FLOAT, one of DOUBLE) of
     * {@code chunk} voxels, closed with this object; each chunk is {@link #fill filled} (or read into
     * {@link #bytes}) and then {@link #convert converted} into its window of the output. See the class comment.
     */
    static final class NativeCast implements AutoCloseable {
        private final Target target;
        private final boolean scale;
        private final double slope;
        private final double inter;
        private final INDArray out;
        private final INDArray stored;
        private final INDArray wide;
        private final int componentBytes;

        NativeCast(NiftiDataType type, Target target, boolean scale, double slope, double inter, INDArray out,
                   int chunk) {
            this.target = target;
            this.scale = scale;
            this.slope = slope;
            this.inter = inter;
            this.out = out;
            this.componentBytes = type.componentBytes();
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                this.stored = Nd4j.createUninitialized(storedType(type), new long[]{chunk}, 'c');
                this.wide = scale && target == Target.FLOAT
                        ? Nd4j.createUninitialized(DataType.DOUBLE, new long[]{chunk}, 'c') : null;
            }
        }

        /**
         * Whether libnd4j's cast from the stored type to {@code target} gives exactly what the Java loops give:
         * every scalar type to FLOAT/DOUBLE except int64/uint64 (exact, or one IEEE rounding from a value a double
         * holds exactly), and integer labels that fit their target without a check.
         */
        static boolean applies(NiftiDataType type, Target target) {
            return switch (target) {
                case FLOAT, DOUBLE -> !type.isColour() && type != NiftiDataType.INT64
                        && type != NiftiDataType.UINT64;
                case INT -> type == NiftiDataType.UINT8 || type == NiftiDataType.INT8 || type == NiftiDataType.INT16
                        || type == NiftiDataType.UINT16 || type == NiftiDataType.INT32;
                case LONG -> type == NiftiDataType.UINT32 || type == NiftiDataType.INT64;
            };
        }

        /** The ND4J type holding a stored component unchanged. */
        static DataType storedType(NiftiDataType type) {
            return switch (type) {
                case UINT8 -> DataType.UINT8;
                case INT8 -> DataType.INT8;
                case INT16 -> DataType.INT16;
                case UINT16 -> DataType.UINT16;
                case INT32 -> DataType.INT32;
                case UINT32 -> DataType.UINT32;
                case INT64 -> DataType.INT64;
                case FLOAT32 -> DataType.FLOAT;
                case FLOAT64 -> DataType.DOUBLE;
                default -> throw new IllegalStateException("no native cast from " + type);
            };
        }

        /** A native-order view of the scratch's first {@code n} voxels, to read stored bytes into. */
        ByteBuffer bytes(int n) {
            return window(stored, 0, n * componentBytes);
        }

        /** Copies {@code n} voxels from {@code src} (in the file's byte order, set on it) into the scratch. */
        void fill(ByteBuffer src, int n) {
            ByteBuffer dst = bytes(n);
            switch (componentBytes) {
                case 1 -> dst.put(0, src, 0, n);
                // typed bulk puts between buffers of different order swap bytes (an intrinsic copy-swap)
                case 2 -> dst.asShortBuffer().put(src.asShortBuffer().limit(n));
                case 4 -> dst.asIntBuffer().put(src.asIntBuffer().limit(n));
                case 8 -> dst.asLongBuffer().put(src.asLongBuffer().limit(n));
                default -> throw new IllegalStateException("component of " + componentBytes + " bytes");
            }
        }

        /** Converts the scratch's first {@code n} voxels into output voxels {@code v0 .. v0 + n}. */
        void convert(long v0, int n) {
            INDArray src = prefix(stored, n);
            INDArray dst = Nd4j.create(out.data(), new long[]{n}, new long[]{1}, v0, 'c');
            if (!scale) {
                dst.assign(src);
            } else if (target == Target.DOUBLE) {
                // y = x·slope + inter, each op rounded to double, as the Java loop computes it
                dst.assign(src).muli(slope).addi(inter);
            } else {
                // in DOUBLE, then rounded to FLOAT once
                dst.assign(prefix(wide, n).assign(src).muli(slope).addi(inter));
            }
        }

        private static INDArray prefix(INDArray a, int n) {
            return n == a.length() ? a : Nd4j.create(a.data(), new long[]{n}, new long[]{1}, 0, 'c');
        }

        @Override
        public void close() {
            stored.close();
            if (wide != null) {
                wide.close();
            }
        }
    }

    private static void readFully(java.nio.channels.FileChannel ch, ByteBuffer dst, long position,
                                  java.nio.file.Path file) throws java.io.IOException {
        long at = position;
        while (dst.hasRemaining()) {
            int got = ch.read(dst, at);
            if (got < 0) {
                throw new NiftiFormatException(file, "truncated voxel data: the file ends at byte " + at
                        + " while voxels were being read");
            }
            at += got;
        }
    }

    /** Largest byte count of whole voxels not above {@code limit}. */
    static int wholeVoxels(int limit, int bytesPerVoxel) {
        return Math.max(bytesPerVoxel, limit / bytesPerVoxel * bytesPerVoxel);
    }

    private static final class Decoder {
        final NiftiDataType type;
        final Target target;
        final boolean scale;
        final double slope;
        final double inter;
        final INDArray out;
        final long voxels;
        final long[] dims;
        final java.nio.file.Path file;
        final int dsz;
        byte[] bytes;
        short[] shorts;
        int[] ints;
        long[] longs;
        float[] floats;
        double[] doubles;
        float[] fOut;
        double[] dOut;
        int[] iOut;
        long[] lOut;

        Decoder(NiftiDataType type, Target target, boolean scale, double slope, double inter, ByteOrder order,
                INDArray out, long voxels, long[] dims, java.nio.file.Path file) {
            this.type = type;
            this.target = target;
            this.scale = scale;
            this.slope = slope;
            this.inter = inter;
            this.out = out;
            this.voxels = voxels;
            this.dims = dims;
            this.file = file;
            this.dsz = out.dataType().width();
            switch (target) {
                case FLOAT -> fOut = new float[BLOCK];
                case DOUBLE -> dOut = new double[BLOCK];
                case INT -> iOut = new int[BLOCK];
                case LONG -> lOut = new long[BLOCK];
            }
        }

        void block(ByteBuffer src, long v0, int n) {
            switch (type) {
                case UINT8, INT8 -> {
                    bytes = bytes == null ? new byte[BLOCK] : bytes;
                    ints = ints == null ? new int[BLOCK] : ints;
                    src.get(0, bytes, 0, n);
                    if (type == NiftiDataType.UINT8) {
                        for (int i = 0; i < n; i++) {
                            ints[i] = bytes[i] & 0xFF;
                        }
                    } else {
                        for (int i = 0; i < n; i++) {
                            ints[i] = bytes[i];
                        }
                    }
                    fromInts(n, v0);
                }
                case INT16, UINT16 -> {
                    shorts = shorts == null ? new short[BLOCK] : shorts;
                    ints = ints == null ? new int[BLOCK] : ints;
                    src.asShortBuffer().get(0, shorts, 0, n);
                    if (type == NiftiDataType.UINT16) {
                        for (int i = 0; i < n; i++) {
                            ints[i] = shorts[i] & 0xFFFF;
                        }
                    } else {
                        for (int i = 0; i < n; i++) {
                            ints[i] = shorts[i];
                        }
                    }
                    fromInts(n, v0);
                }
                case INT32 -> {
                    ints = ints == null ? new int[BLOCK] : ints;
                    src.asIntBuffer().get(0, ints, 0, n);
                    fromInts(n, v0);
                }
                case UINT32 -> {
                    ints = ints == null ? new int[BLOCK] : ints;
                    longs = longs == null ? new long[BLOCK] : longs;
                    src.asIntBuffer().get(0, ints, 0, n);
                    for (int i = 0; i < n; i++) {
                        longs[i] = ints[i] & 0xFFFFFFFFL;
                    }
                    fromLongs(n, v0, false);
                }
                case INT64, UINT64 -> {
                    longs = longs == null ? new long[BLOCK] : longs;
                    src.asLongBuffer().get(0, longs, 0, n);
                    fromLongs(n, v0, type == NiftiDataType.UINT64);
                }
                case FLOAT32 -> {
                    floats = floats == null ? new float[BLOCK] : floats;
                    src.asFloatBuffer().get(0, floats, 0, n);
                    fromFloats(n, v0);
                }
                case FLOAT64 -> {
                    doubles = doubles == null ? new double[BLOCK] : doubles;
                    src.asDoubleBuffer().get(0, doubles, 0, n);
                    fromDoubles(n, v0);
                }
                case RGB24, RGBA32 -> {
                    int ch = type.channels();
                    bytes = bytes == null || bytes.length < n * ch ? new byte[BLOCK * ch] : bytes;
                    ints = ints == null ? new int[BLOCK] : ints;
                    src.get(0, bytes, 0, n * ch);
                    for (int c = 0; c < ch; c++) {
                        for (int i = 0; i < n; i++) {
                            ints[i] = bytes[i * ch + c] & 0xFF;
                        }
                        // channel c is the slowest Fortran axis: its plane starts at c·voxels
                        fromInts(n, c * voxels + v0);
                    }
                }
            }
        }

        private void fromInts(int n, long at) {
            int[] x = ints;
            switch (target) {
                case FLOAT -> {
                    if (scale) {
                        for (int i = 0; i < n; i++) {
                            fOut[i] = (float) (x[i] * slope + inter);
                        }
                    } else {
                        for (int i = 0; i < n; i++) {
                            fOut[i] = x[i];
                        }
                    }
                    window(out, at * dsz, n * dsz).asFloatBuffer().put(0, fOut, 0, n);
                }
                case DOUBLE -> {
                    if (scale) {
                        for (int i = 0; i < n; i++) {
                            dOut[i] = x[i] * slope + inter;
                        }
                    } else {
                        for (int i = 0; i < n; i++) {
                            dOut[i] = x[i];
                        }
                    }
                    window(out, at * dsz, n * dsz).asDoubleBuffer().put(0, dOut, 0, n);
                }
                case INT -> window(out, at * dsz, n * dsz).asIntBuffer().put(0, x, 0, n);
                case LONG -> {
                    for (int i = 0; i < n; i++) {
                        lOut[i] = x[i];
                    }
                    window(out, at * dsz, n * dsz).asLongBuffer().put(0, lOut, 0, n);
                }
            }
        }

        private void fromLongs(int n, long at, boolean unsigned) {
            long[] x = longs;
            switch (target) {
                case FLOAT -> {
                    for (int i = 0; i < n; i++) {
                        if (scale) {
                            fOut[i] = (float) ((unsigned ? unsignedToDouble(x[i]) : (double) x[i]) * slope + inter);
                        } else {
                            fOut[i] = unsigned ? unsignedToFloat(x[i]) : (float) x[i];
                        }
                    }
                    window(out, at * dsz, n * dsz).asFloatBuffer().put(0, fOut, 0, n);
                }
                case DOUBLE -> {
                    for (int i = 0; i < n; i++) {
                        double d = unsigned ? unsignedToDouble(x[i]) : (double) x[i];
                        dOut[i] = scale ? d * slope + inter : d;
                    }
                    window(out, at * dsz, n * dsz).asDoubleBuffer().put(0, dOut, 0, n);
                }
                case LONG -> {
                    if (unsigned) {
                        for (int i = 0; i < n; i++) {
                            if (x[i] < 0) {
                                throw new IllegalStateException(file + ": uint64 voxel " + index(at + i)
                                        + " = " + Long.toUnsignedString(x[i]) + " does not fit a signed 64-bit label");
                            }
                        }
                    }
                    window(out, at * dsz, n * dsz).asLongBuffer().put(0, x, 0, n);
                }
                case INT -> throw new IllegalStateException("64-bit voxels decode to LONG labels");
            }
        }

        private void fromFloats(int n, long at) {
            float[] x = floats;
            switch (target) {
                case FLOAT -> {
                    if (scale) {
                        for (int i = 0; i < n; i++) {
                            fOut[i] = (float) (x[i] * slope + inter);
                        }
                        window(out, at * dsz, n * dsz).asFloatBuffer().put(0, fOut, 0, n);
                    } else {
                        window(out, at * dsz, n * dsz).asFloatBuffer().put(0, x, 0, n);
                    }
                }
                case DOUBLE -> {
                    if (scale) {
                        for (int i = 0; i < n; i++) {
                            dOut[i] = x[i] * slope + inter;
                        }
                    } else {
                        for (int i = 0; i < n; i++) {
                            dOut[i] = x[i];
                        }
                    }
                    window(out, at * dsz, n * dsz).asDoubleBuffer().put(0, dOut, 0, n);
                }
                case INT -> {
                    for (int i = 0; i < n; i++) {
                        iOut[i] = wholeInt(x[i], at + i);
                    }
                    window(out, at * dsz, n * dsz).asIntBuffer().put(0, iOut, 0, n);
                }
                case LONG -> throw new IllegalStateException("float voxels decode to INT labels");
            }
        }

        private void fromDoubles(int n, long at) {
            double[] x = doubles;
            switch (target) {
                case FLOAT -> {
                    for (int i = 0; i < n; i++) {
                        fOut[i] = (float) (scale ? x[i] * slope + inter : x[i]);
                    }
                    window(out, at * dsz, n * dsz).asFloatBuffer().put(0, fOut, 0, n);
                }
                case DOUBLE -> {
                    if (scale) {
                        for (int i = 0; i < n; i++) {
                            dOut[i] = x[i] * slope + inter;
                        }
                        window(out, at * dsz, n * dsz).asDoubleBuffer().put(0, dOut, 0, n);
                    } else {
                        window(out, at * dsz, n * dsz).asDoubleBuffer().put(0, x, 0, n);
                    }
                }
                case INT -> {
                    for (int i = 0; i < n; i++) {
                        iOut[i] = wholeInt(x[i], at + i);
                    }
                    window(out, at * dsz, n * dsz).asIntBuffer().put(0, iOut, 0, n);
                }
                case LONG -> throw new IllegalStateException("float voxels decode to INT labels");
            }
        }

        private int wholeInt(double v, long linear) {
            if (v != Math.rint(v) || v < Integer.MIN_VALUE || v > Integer.MAX_VALUE) {
                throw new IllegalStateException(file + ": " + type.name().toLowerCase(java.util.Locale.ROOT)
                        + " voxel " + index(linear) + " = " + v + " is not a whole number in int32 range,"
                        + " so the image is not a label map (use data() instead of labels())");
            }
            return (int) v;
        }

        private String index(long linear) {
            return Arrays.toString(unravel(linear, dims));
        }
    }

    // ================================================================== writing

    /**
     * Streams the voxels of {@code data} (any order; read as Fortran order) encoded as {@code type} in
     * {@code order}, block by block, to {@code sink}.
     *
     * @throws IllegalArgumentException if a value cannot be stored exactly as {@code type} (fraction, out of range,
     *                                  NaN for an integer type, or an integer that float32/float64 would round)
     */
    static void encode(INDArray data, NiftiDataType type, ByteOrder order, BlockSink sink, String where)
            throws java.io.IOException {
        if (type.isColour()) {
            throw new IllegalArgumentException(where + ": writing " + type + " is not supported; write the "
                    + "channels as a scalar datatype");
        }
        INDArray src = canonicalSource(data);
        long n = src.length();
        long[] dims = data.shape();
        int ssz = src.dataType().width();
        DataType st = src.dataType();
        ByteBuffer block = ByteBuffer.allocate(BLOCK * type.bytesPerVoxel()).order(order);
        double[] d = st == DataType.DOUBLE || st == DataType.FLOAT ? new double[BLOCK] : null;
        float[] f = st == DataType.FLOAT ? new float[BLOCK] : null;
        long[] l = d == null ? new long[BLOCK] : null;
        int[] iv = st == DataType.INT32 ? new int[BLOCK] : null;
        for (long v0 = 0; v0 < n; v0 += BLOCK) {
            int m = (int) Math.min(BLOCK, n - v0);
            ByteBuffer win = window(src, v0 * ssz, m * ssz);
            if (st == DataType.FLOAT) {
                win.asFloatBuffer().get(0, f, 0, m);
                for (int i = 0; i < m; i++) {
                    d[i] = f[i];
                }
            } else if (st == DataType.DOUBLE) {
                win.asDoubleBuffer().get(0, d, 0, m);
            } else if (st == DataType.INT32) {
                win.asIntBuffer().get(0, iv, 0, m);
                for (int i = 0; i < m; i++) {
                    l[i] = iv[i];
                }
            } else {
                win.asLongBuffer().get(0, l, 0, m);
            }
            block.clear();
            if (d != null) {
                putDoubles(block, type, d, m, v0, dims, where);
            } else {
                putLongs(block, type, l, m, v0, dims, where);
            }
            block.flip();
            sink.accept(block);
        }
    }

    /** Receives encoded blocks (the buffer is reused after the call returns). */
    interface BlockSink {
        void accept(ByteBuffer block) throws java.io.IOException;
    }

    /** A Fortran-contiguous FLOAT, DOUBLE, INT32 or INT64 array with the same values as {@code data}. */
    private static INDArray canonicalSource(INDArray data) {
        DataType t = data.dataType();
        INDArray a = data;
        if (t == DataType.HALF || t == DataType.BFLOAT16) {
            a = data.castTo(DataType.FLOAT);
        } else if (t == DataType.BOOL || t == DataType.INT8 || t == DataType.UINT8 || t == DataType.INT16
                || t == DataType.UINT16) {
            a = data.castTo(DataType.INT32);
        } else if (t == DataType.UINT32) {
            a = data.castTo(DataType.INT64);
        } else if (t != DataType.FLOAT && t != DataType.DOUBLE && t != DataType.INT32 && t != DataType.INT64) {
            throw new IllegalArgumentException("Nifti.write: arrays of " + t + " are not supported; cast to "
                    + "FLOAT, DOUBLE, INT32 or INT64");
        }
        boolean contiguousF = a.ordering() == 'f' && Shape.hasDefaultStridesForShape(a) && a.offset() == 0
                && a.data().length() == a.length() && !a.isView();
        return contiguousF ? a : a.dup('f');
    }

    private static void putDoubles(ByteBuffer b, NiftiDataType type, double[] x, int m, long v0, long[] dims,
                                   String where) {
        switch (type) {
            case FLOAT32 -> {
                for (int i = 0; i < m; i++) {
                    b.putFloat((float) x[i]);
                }
            }
            case FLOAT64 -> {
                for (int i = 0; i < m; i++) {
                    b.putDouble(x[i]);
                }
            }
            default -> {
                long min = minOf(type);
                long max = maxOf(type);
                for (int i = 0; i < m; i++) {
                    double v = x[i];
                    // max of uint64/int64 is not exact in double; compare against the exact 2^63 bound
                    if (v != Math.rint(v) || v < min || v >= (double) max + 1.0 || v >= 0x1p63) {
                        throw new IllegalArgumentException(where + ": value " + v + " at voxel "
                                + Arrays.toString(unravel(v0 + i, dims)) + " cannot be stored exactly as "
                                + type.name().toLowerCase(java.util.Locale.ROOT) + " [" + min + ", " + max + "]");
                    }
                    putInteger(b, type, (long) v);
                }
            }
        }
    }

    private static void putLongs(ByteBuffer b, NiftiDataType type, long[] x, int m, long v0, long[] dims,
                                 String where) {
        long min = type.isIntegral() ? minOf(type) : Long.MIN_VALUE;
        long max = type.isIntegral() ? maxOf(type) : Long.MAX_VALUE;
        for (int i = 0; i < m; i++) {
            long v = x[i];
            boolean ok = switch (type) {
                case FLOAT32 -> (long) (float) v == v && v != Long.MAX_VALUE;
                case FLOAT64 -> (long) (double) v == v && v != Long.MAX_VALUE;
                default -> v >= min && v <= max;
            };
            if (!ok) {
                throw new IllegalArgumentException(where + ": value " + v + " at voxel "
                        + Arrays.toString(unravel(v0 + i, dims)) + " cannot be stored exactly as "
                        + type.name().toLowerCase(java.util.Locale.ROOT));
            }
            switch (type) {
                case FLOAT32 -> b.putFloat(v);
                case FLOAT64 -> b.putDouble(v);
                default -> putInteger(b, type, v);
            }
        }
    }

    private static void putInteger(ByteBuffer b, NiftiDataType type, long v) {
        switch (type) {
            case UINT8, INT8 -> b.put((byte) v);
            case INT16, UINT16 -> b.putShort((short) v);
            case INT32, UINT32 -> b.putInt((int) v);
            case INT64, UINT64 -> b.putLong(v);
            default -> throw new IllegalStateException("not an integer type: " + type);
        }
    }

    /** Smallest storable value of an integer datatype. */
    static long minOf(NiftiDataType t) {
        return switch (t) {
            case INT8 -> Byte.MIN_VALUE;
            case INT16 -> Short.MIN_VALUE;
            case INT32 -> Integer.MIN_VALUE;
            case INT64 -> Long.MIN_VALUE;
            default -> 0;
        };
    }

    /** Largest storable value of an integer datatype (uint64 is limited to 2⁶³ − 1, the range of a Java long). */
    static long maxOf(NiftiDataType t) {
        return switch (t) {
            case UINT8 -> 0xFF;
            case INT8 -> Byte.MAX_VALUE;
            case INT16 -> Short.MAX_VALUE;
            case UINT16 -> 0xFFFF;
            case INT32 -> Integer.MAX_VALUE;
            case UINT32 -> 0xFFFFFFFFL;
            case INT64, UINT64 -> Long.MAX_VALUE;
            default -> throw new IllegalStateException("not an integer type: " + t);
        };
    }

    // ================================================================== helpers

    /**
     * A native-order view of {@code byteLength} bytes of {@code arr}'s buffer starting at {@code byteOffset}.
     * Works past 2 GiB because the address arithmetic is done in {@code long}; the view must not outlive
     * {@code arr}.
     */
    static ByteBuffer window(INDArray arr, long byteOffset, int byteLength) {
        Pointer p = arr.data().addressPointer();
        final long start = p.address() + p.position() * p.sizeof() + byteOffset;
        final long bytes = byteLength;
        // (the locals must not be named like Pointer's fields, which would shadow them here)
        BytePointer bp = new BytePointer() {
            {
                address = start;
                position = 0;
                limit = bytes;
                capacity = bytes;
            }
        };
        return bp.asByteBuffer().order(ByteOrder.nativeOrder());
    }

    /** Fortran-order (x fastest) multi-index of a linear voxel index. */
    static long[] unravel(long linear, long[] dims) {
        long[] idx = new long[dims.length];
        long r = linear;
        for (int i = 0; i < dims.length; i++) {
            idx[i] = r % dims[i];
            r /= dims[i];
        }
        return idx;
    }

    static long[] append(long[] a, long v) {
        long[] r = Arrays.copyOf(a, a.length + 1);
        r[a.length] = v;
        return r;
    }

    /** Correctly rounded double of an unsigned 64-bit value. */
    static double unsignedToDouble(long x) {
        if (x >= 0) {
            return x;
        }
        // halve keeping a sticky bit so the final rounding is the correct one, then double
        return ((double) ((x >>> 1) | (x & 1))) * 2.0;
    }

    /** Correctly rounded float of an unsigned 64-bit value. */
    static float unsignedToFloat(long x) {
        if (x >= 0) {
            return x;
        }
        return ((float) ((x >>> 1) | (x & 1))) * 2.0f;
    }
}
