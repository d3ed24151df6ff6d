package org.gradsurgery.data.nifti;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Decoded arrays on nd4j-native are {@link MallocArrays} arrays: not attached to a workspace, plain Fortran-order
 * arrays to every op, freed by {@code close()} at once (JavaCPP's count of live bytes falls back; a stock
 * pointer-backed buffer would keep counting them until a GC) and by the GC when dropped, and every voxel of them is
 * written by the decode (memory a freed array left full of NaN never shows through), on every route: the file
 * copy, the native cast and the Java loops, from the file and from memory.
 */
class NiftiMallocArrayTest {

    @TempDir
    Path tmp;

    /** Small enough (32 KiB of FLOAT, 64 KiB of DOUBLE) that malloc takes it from the heap and reuses freed blocks. */
    private static final long[] SHAPE = {32, 16, 16};
    private static final int N = 32 * 16 * 16;
    private static final double FIRST = -1000;

    @BeforeEach
    void settle() throws InterruptedException {
        assertTrue(VoxelCodec.nativeCpu(), "these tests run on nd4j-native");
        // let earlier tests' dead pointers go, so JavaCPP's byte count moves only with this test's arrays
        settledTotalBytes();
    }

    /** Voxel i (linear, x fastest) holds {@code first + i}. */
    private static INDArray ramp(double first, DataType type) {
        return Nd4j.linspace(DataType.DOUBLE, first, 1, N).reshape('f', SHAPE).castTo(type);
    }

    private Path file(String name, NiftiDataType type) throws IOException {
        INDArray v = ramp(type == NiftiDataType.UINT32 ? 0 : FIRST, DataType.DOUBLE);
        Path p = tmp.resolve(name);
        Nifti.write(p, type == NiftiDataType.FLOAT32 ? v.castTo(DataType.FLOAT) : v, null, type);
        return p;
    }

    /** The image of {@code p} read both ways: voxels left in the file, and held in memory. */
    private static List<NiftiImage> routes(Path p) throws IOException {
        NiftiImage inFile = Nifti.read(p, Nifti.SEGMENT_BYTES, Nifti.GZIP_CHUNK_BYTES, 0);
        NiftiImage inMemory = Nifti.read(p, Nifti.SEGMENT_BYTES, Nifti.GZIP_CHUNK_BYTES, Long.MAX_VALUE);
        assertTrue(inFile.readsFromFile());
        assertFalse(inMemory.readsFromFile());
        return List.of(inFile, inMemory);
    }

    private static boolean isMalloc(INDArray a) {
        return a.data().getClass().getEnclosingClass() == MallocArrays.class;
    }

    @Test
    void dataAndLabelsArePlainUnattachedMallocArrays() throws IOException {
        for (NiftiImage img : routes(file("f.nii", NiftiDataType.FLOAT32))) {
            for (INDArray a : new INDArray[]{img.data(DataType.FLOAT), img.data(DataType.DOUBLE), img.labels()}) {
                assertTrue(isMalloc(a), a.data().getClass().getName());
                assertFalse(a.isAttached());
                assertFalse(a.isView());
                assertEquals('f', a.ordering());
                assertEquals(0, a.offset());
                assertEquals(a.length(), a.data().length());
                assertArrayEquals(SHAPE, a.shape());
                a.close();
            }
        }
        // uint32 labels are INT64
        INDArray l = Nifti.read(file("u.nii", NiftiDataType.UINT32)).labels();
        assertTrue(isMalloc(l));
        assertEquals(DataType.INT64, l.dataType());
        l.close();
    }

    @Test
    void behavesAsAnyArray() throws Exception {
        INDArray a = Nifti.read(file("f.nii", NiftiDataType.FLOAT32)).data(DataType.FLOAT);
        INDArray ref = ramp(FIRST, DataType.FLOAT);
        assertEquals(ref, a);
        assertEquals(ref.dup('c'), a.dup('c'));
        assertEquals(ref.sumNumber().doubleValue(), a.sumNumber().doubleValue(), 0);
        // views and in-place ops write through to the same memory
        a.slice(3, 2).addi(1);
        assertEquals(ref.slice(3, 2).add(1), a.slice(3, 2));
        a.assign(ref);
        assertEquals(ref, a);
        assertEquals(ref.castTo(DataType.DOUBLE), a.castTo(DataType.DOUBLE));
        // ND4J's binary format and Java serialisation give ordinary arrays back
        assertEquals(ref, Nd4j.fromByteArray(Nd4j.toByteArray(a)));
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(a);
        }
        INDArray back;
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            back = (INDArray) in.readObject();
        }
        assertEquals(ref, back);
        // a copy outlives the original's close
        INDArray copy = a.dup();
        a.close();
        assertEquals(ref, copy);
    }

    @Test
    void closeFreesTheMemoryAtOnce() throws IOException {
        Path p = file("f.nii", NiftiDataType.INT16);
        // JavaCPP also counts ND4J's own small pointers, which wait for the GC (about 200 bytes per read): far less
        // than the smallest array here (32 KiB), so each step is checked against the count just before it, and one
        // array close() does not free fails
        long slack = 16 << 10;
        for (int i = 0; i < 50; i++) {
            for (NiftiImage img : routes(p)) {
                long mark = Pointer.totalBytes();
                INDArray a = img.data(DataType.DOUBLE);
                assertBetween((long) N * Double.BYTES, Pointer.totalBytes() - mark, slack, "DOUBLE counted");
                a.close();
                assertBetween(0, Pointer.totalBytes() - mark, slack, "DOUBLE freed by close(), read " + i);
                mark = Pointer.totalBytes();
                INDArray l = img.labels();
                assertBetween((long) N * Integer.BYTES, Pointer.totalBytes() - mark, slack, "labels counted");
                l.close();
                assertBetween(0, Pointer.totalBytes() - mark, slack, "labels freed by close(), read " + i);
                // HALF is cast from a FLOAT array, which data() frees itself
                mark = Pointer.totalBytes();
                INDArray h = img.data(DataType.HALF);
                assertBetween(0, Pointer.totalBytes() - mark, slack, "FLOAT step of HALF freed, read " + i);
                if (i == 0) {
                    assertEquals(ramp(FIRST, DataType.HALF), h);
                }
                h.close();
            }
        }
    }

    private static void assertBetween(long expected, long actual, long slack, String what) {
        assertTrue(Math.abs(actual - expected) <= slack,
                what + ": " + actual + " bytes, expected " + expected + " (± " + slack + ")");
    }

    @Test
    void theGcFreesArraysNobodyCloses() throws Exception {
        Path p = file("f.nii", NiftiDataType.FLOAT32);
        long before = Pointer.totalBytes();
        List<INDArray> kept = new ArrayList<>();
        for (int i = 0; i < 10; i++) {
            kept.add(Nifti.read(p).data(DataType.FLOAT));
        }
        long slack = 16 << 10;
        assertBetween(10L * N * Float.BYTES, Pointer.totalBytes() - before, slack, "ten arrays counted");
        kept.clear();
        long now = Pointer.totalBytes();
        for (int i = 0; i < 200 && now - before > slack; i++) {
            System.gc();
            Thread.sleep(50);
            now = Pointer.totalBytes();
        }
        assertBetween(0, now - before, slack, "dropped arrays freed by the GC");
    }

    @Test
    void everyVoxelIsWrittenOnEveryRoute() throws IOException {
        // FLOAT32 read as FLOAT: the copy; INT16: the native cast; INT64: the Java loops (to FLOAT/DOUBLE)
        for (NiftiDataType type : new NiftiDataType[]{NiftiDataType.FLOAT32, NiftiDataType.INT16,
                NiftiDataType.INT64}) {
            Path p = file(type + ".nii", type);
            for (NiftiImage img : routes(p)) {
                for (DataType t : new DataType[]{DataType.FLOAT, DataType.DOUBLE}) {
                    INDArray expected = ramp(FIRST, t);
                    for (int round = 0; round < 3; round++) {
                        // a freed array of the same size full of NaN: malloc hands its memory to the next one
                        INDArray dirty = MallocArrays.create(t, SHAPE, N).assign(Double.NaN);
                        dirty.close();
                        INDArray a = img.data(t);
                        assertEquals(0, a.isNaN().castTo(DataType.INT32).sumNumber().intValue(),
                                type + " -> " + t + ", " + (img.readsFromFile() ? "file" : "memory"));
                        assertEquals(expected, a);
                        a.close();
                    }
                }
            }
        }
    }

    @Test
    void insideAPointerScopeArraysAreLibnd4jsAndOutliveIt() throws IOException {
        Path p = file("f.nii", NiftiDataType.FLOAT32);
        INDArray a;
        try (org.bytedeco.javacpp.PointerScope ignored = new org.bytedeco.javacpp.PointerScope()) {
            a = Nifti.read(p).data(DataType.FLOAT);
        }
        assertFalse(isMalloc(a), "a scope would have freed a malloc'd array when it closed");
        assertEquals(ramp(FIRST, DataType.FLOAT), a);
        a.close();
    }

    /** JavaCPP's live bytes once the GC has collected what is unreachable and JavaCPP has freed it. */
    private static long settledTotalBytes() throws InterruptedException {
        long last = -1;
        for (int i = 0; i < 100; i++) {
            System.gc();
            Thread.sleep(50);
            long now = Pointer.totalBytes();
            if (now == last) {
                return now;
            }
            last = now;
        }
        return last;
    }
}
