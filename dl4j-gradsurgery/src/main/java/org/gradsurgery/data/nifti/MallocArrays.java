package org.gradsurgery.data.nifti;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.indexer.DoubleIndexer;
import org.bytedeco.javacpp.indexer.FloatIndexer;
import org.bytedeco.javacpp.indexer.IntIndexer;
import org.bytedeco.javacpp.indexer.LongIndexer;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Fortran-order ND4J arrays (FLOAT, DOUBLE, INT32, INT64) whose memory is a plain {@code malloc} made through
 * JavaCPP ({@code new FloatPointer(n)} etc.), for the CPU backend (nd4j-native) only.
 *
 * <p>Why: libnd4j's own allocation ({@code Nd4j.createUninitialized}) writes every page of a fresh buffer, one
 * whole pass over memory (64–128 MiB for a 256³ volume) before the decoder overwrites it; a {@code malloc}'d block
 * is left untouched, so its pages are faulted in by the decoder's own writes, as numpy's {@code np.empty} leaves
 * them to {@code readinto}. Blocks of at least {@link HugePages#MIN_BYTES} are advised to take transparent huge
 * pages ({@link HugePages}), as numpy does for its arrays.
 *
 * <p>Ownership: the buffer is nd4j-native's own class for the type (so every op, {@code dup}, view and
 * serialisation treats it as any other CPU buffer) wrapping the pointer, which it alone references, outside any
 * workspace. {@link INDArray#close()} frees the memory at once (the subclass below deallocates the pointer when the
 * buffer is released; a stock pointer-backed buffer would only drop its reference and leave the block to the GC,
 * and reading volumes in a loop then grows the process by a volume per read); otherwise JavaCPP frees it when the
 * GC collects the buffer, and counts it in {@code Pointer.totalBytes} against {@code Pointer.maxBytes} (reaching
 * that makes JavaCPP run the GC), which libnd4j's own buffers are not.
 *
 * <p>This is the only class of the library compiled against nd4j-native (a {@code provided} dependency); it is
 * loaded only when that backend runs ({@code VoxelCodec.allocate} checks), so applications on another backend never need it.
 */
final class MallocArrays {

    private MallocArrays() {
    }

    /**
     * A new array of {@code type} and {@code shape} in Fortran order, its {@code n = ∏ shape} elements not
     * initialised (n ≥ 1).
     *
     * @throws OutOfMemoryError when JavaCPP cannot allocate {@code n} elements (after it has run the GC)
     */
    static INDArray create(DataType type, long[] shape, long n) {
        DataBuffer buf = switch (type) {
            case FLOAT -> new OwnedFloat(advised(new FloatPointer(n)), n);
            case DOUBLE -> new OwnedDouble(advised(new DoublePointer(n)), n);
            case INT -> new OwnedInt(advised(new IntPointer(n)), n);
            case LONG -> new OwnedLong(advised(new LongPointer(n)), n);
            default -> throw new IllegalStateException("no malloc'd arrays of " + type);
        };
        return Nd4j.create(buf, shape, Nd4j.getStrides(shape, 'f'), 0, 'f');
    }

    /** {@code p}, a fresh malloc, after asking for huge pages on it if it is large ({@link HugePages}). */
    private static <P extends Pointer> P advised(P p) {
        HugePages.advise(p.address(), p.capacity() * p.sizeof());
        return p;
    }

    /**
     * Deallocates {@code owned} (if set and still allocated; JavaCPP then no longer counts or frees it) and returns
     * {@code null}, for the field that held it.
     */
    private static Pointer free(Pointer owned) {
        if (owned != null && !owned.isNull()) {
            owned.deallocate();
        }
        return null;
    }

    // One subclass per type, alike but for the class they extend (nd4j-native's buffer class decides the data
    // type). Each frees its pointer when the buffer is released (INDArray.close()); `owned` is transient, so a
    // deserialised copy (which has libnd4j memory of its own) frees nothing here.

    private static final class OwnedFloat extends org.nd4j.linalg.cpu.nativecpu.buffer.FloatBuffer {
        private transient Pointer owned;

        OwnedFloat(FloatPointer p, long n) {
            super(p, FloatIndexer.create(p), n);
            owned = p;
        }

        @Override
        protected void release() {
            super.release();
            owned = free(owned);
        }
    }

    private static final class OwnedDouble extends org.nd4j.linalg.cpu.nativecpu.buffer.DoubleBuffer {
        private transient Pointer owned;

        OwnedDouble(DoublePointer p, long n) {
            super(p, DoubleIndexer.create(p), n);
            owned = p;
        }

        @Override
        protected void release() {
            super.release();
            owned = free(owned);
        }
    }

    private static final class OwnedInt extends org.nd4j.linalg.cpu.nativecpu.buffer.IntBuffer {
        private transient Pointer owned;

        OwnedInt(IntPointer p, long n) {
            super(p, IntIndexer.create(p), n);
            owned = p;
        }

        @Override
        protected void release() {
            super.release();
            owned = free(owned);
        }
    }

    private static final class OwnedLong extends org.nd4j.linalg.cpu.nativecpu.buffer.LongBuffer {
        private transient Pointer owned;

        OwnedLong(LongPointer p, long n) {
            super(p, LongIndexer.create(p), n);
            owned = p;
        }

        @Override
        protected void release() {
            super.release();
            owned = free(owned);
        }
    }
}
