package org.gradsurgery.data.nifti;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The two ways an uncompressed image's voxels are read agree to the bit: left in the file and read by each decode
 * (straight into the array, or through the reused block buffer) and copied into memory by {@code read}; for int16,
 * float32 and uint8, scaled and not, little- and big-endian. A file cut before or after {@code read} is a one-line
 * error naming it, and no handle to the file outlives a decode.
 */
class NiftiFileReadTest {

    @TempDir
    Path tmp;

    /** NIfTI-1 header offsets of scl_slope and scl_inter (float32, file byte order). */
    private static final int SCL_SLOPE = 112;
    private static final int SCL_INTER = 116;

    private Path write(NiftiDataType type, ByteOrder order, boolean scaled) throws IOException {
        long[] shape = {17, 9, 11};
        int n = 17 * 9 * 11;
        float[] v = new float[n];
        SplittableRandom r = new SplittableRandom(type.ordinal() * 31L + (order == ByteOrder.BIG_ENDIAN ? 7 : 0));
        for (int i = 0; i < n; i++) {
            v[i] = switch (type) {
                case UINT8 -> r.nextInt(256);
                case INT16 -> r.nextInt(-32768, 32768);
                default -> (float) r.nextGaussian() * 1000f;
            };
        }
        INDArray a = Nd4j.create(v, shape, 'f');
        Path p = tmp.resolve(type + "-" + order + (scaled ? "-scaled" : "") + ".nii");
        Nifti.write(p, a, null, Nifti.WriteOptions.builder().datatype(type).byteOrder(order).build());
        if (scaled) {
            try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.allocate(8).order(order).putFloat(0.37f).putFloat(-12.5f).flip();
                ch.write(b, SCL_SLOPE);
            }
        }
        return p;
    }

    @Test
    void fileAndMemoryPathsGiveIdenticalArrays() throws IOException {
        for (NiftiDataType type : new NiftiDataType[]{NiftiDataType.INT16, NiftiDataType.FLOAT32,
                NiftiDataType.UINT8}) {
            for (ByteOrder order : new ByteOrder[]{ByteOrder.LITTLE_ENDIAN, ByteOrder.BIG_ENDIAN}) {
                for (boolean scaled : new boolean[]{false, true}) {
                    Path p = write(type, order, scaled);
                    String what = p.getFileName().toString();
                    NiftiImage inFile = Nifti.read(p, Nifti.SEGMENT_BYTES, Nifti.GZIP_CHUNK_BYTES, 0);
                    NiftiImage inMemory = Nifti.read(p, 5, 5, Long.MAX_VALUE);
                    assertTrue(inFile.readsFromFile(), what);
                    assertFalse(inMemory.readsFromFile(), what);
                    assertEquals(order, inFile.header().byteOrder(), what);
                    assertEquals(scaled, inFile.header().hasScaling(), what);
                    for (DataType t : new DataType[]{DataType.FLOAT, DataType.DOUBLE}) {
                        INDArray a = inFile.data(t);
                        INDArray b = inMemory.data(t);
                        assertArrayEquals(b.shape(), a.shape(), what);
                        assertArrayEquals(b.data().asDouble(), a.data().asDouble(), 0.0, what + " " + t);
                    }
                    INDArray la = type == NiftiDataType.FLOAT32 ? null : inFile.labels();
                    if (la != null) {
                        assertArrayEquals(inMemory.labels().data().asLong(), la.data().asLong(), what);
                    }
                    // and both are the stored values, scaled as nibabel does (double precision, then rounded)
                    double[] raw = inMemory.data(DataType.DOUBLE).data().asDouble();
                    double[] unscaled = Nifti.read(write(type, order, false)).data(DataType.DOUBLE).data().asDouble();
                    for (int i = 0; i < raw.length; i += 97) {
                        double want = scaled ? (double) 0.37f * unscaled[i] + (double) -12.5f : unscaled[i];
                        assertEquals(want, raw[i], 1e-9 * Math.max(1, Math.abs(want)), what + " voxel " + i);
                    }
                }
            }
        }
    }

    @Test
    void aFileCutBeforeOrAfterReadIsOneLineNamingIt() throws IOException {
        Path p = write(NiftiDataType.FLOAT32, ByteOrder.LITTLE_ENDIAN, false);
        byte[] whole = Files.readAllBytes(p);
        Path cut = tmp.resolve("cut.nii");
        Files.write(cut, java.util.Arrays.copyOf(whole, whole.length - 100));
        NiftiFormatException before = assertThrows(NiftiFormatException.class,
                () -> Nifti.read(cut, Nifti.SEGMENT_BYTES, Nifti.GZIP_CHUNK_BYTES, 0));
        assertTrue(before.getMessage().startsWith(cut.toString() + ": truncated voxel data"), before.getMessage());
        assertFalse(before.getMessage().contains("\n"));

        NiftiImage img = Nifti.read(p, Nifti.SEGMENT_BYTES, Nifti.GZIP_CHUNK_BYTES, 0);
        Files.write(p, java.util.Arrays.copyOf(whole, whole.length - 100));
        UncheckedIOException after = assertThrows(UncheckedIOException.class, () -> img.data(DataType.FLOAT));
        NiftiFormatException cause = (NiftiFormatException) after.getCause();
        assertEquals(p.toAbsolutePath(), cause.file());
        assertTrue(cause.getMessage().contains("changed since its header was read"), cause.getMessage());
        assertFalse(cause.getMessage().contains("\n"));
    }

    @Test
    void noHandleOutlivesADecode() throws IOException {
        Path p = write(NiftiDataType.INT16, ByteOrder.LITTLE_ENDIAN, false);
        NiftiImage img = Nifti.read(p, Nifti.SEGMENT_BYTES, Nifti.GZIP_CHUNK_BYTES, 0);
        img.data(DataType.FLOAT).close();
        img.labels().close();
        Path fds = Path.of("/proc/self/fd");
        if (Files.isDirectory(fds)) {
            try (var s = Files.list(fds)) {
                for (Path fd : s.toList()) {
                    try {
                        assertFalse(Files.readSymbolicLink(fd).equals(p.toAbsolutePath()), "still open: " + fd);
                    } catch (IOException gone) {
                        // the listing's own descriptor, closed meanwhile
                    }
                }
            }
        }
        // what Windows refuses while a file is open or mapped: deleting it
        Files.delete(p);
        assertFalse(Files.exists(p));
    }
}
