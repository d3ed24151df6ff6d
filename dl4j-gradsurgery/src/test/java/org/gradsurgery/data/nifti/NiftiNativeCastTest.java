package org.gradsurgery.data.nifti;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * The native-cast route of {@link VoxelCodec} gives the Java loops' values to the bit, and both give the stored
 * values (scaled as nibabel does: y = slope·x + inter in double, then rounded): every writable datatype, both byte
 * orders, scaled and not, read from the file, from in-memory segments and from gzip, as FLOAT, DOUBLE and integer
 * labels, on a volume whose voxel count (13·7·5 = 455) is not a multiple of the chunk (64), so chunks end inside
 * segments and a last partial chunk is converted.
 */
class NiftiNativeCastTest {

    @TempDir
    Path tmp;

    private static final long[] SHAPE = {13, 7, 5};
    private static final int N = 13 * 7 * 5;
    private static final int CHUNK = 64;
    /** NIfTI-1 header offset of scl_slope (scl_inter follows), float32 in file byte order. */
    private static final int SCL_SLOPE = 112;
    private static final float SLOPE = 0.37f;
    private static final float INTER = -12.5f;

    /** Stored values spanning the type's range, extremes included (and values float32 must round). */
    private static double[] values(NiftiDataType type) {
        SplittableRandom r = new SplittableRandom(type.code());
        double[] v = new double[N];
        for (int i = 0; i < N; i++) {
            v[i] = switch (type) {
                case UINT8 -> r.nextInt(256);
                case INT8 -> r.nextInt(-128, 128);
                case INT16 -> r.nextInt(-32768, 32768);
                case UINT16 -> r.nextInt(65536);
                case INT32 -> r.nextInt();
                case UINT32 -> r.nextLong(1L << 32);
                case INT64, UINT64 -> r.nextLong(1L << 53);
                case FLOAT32 -> (float) (r.nextGaussian() * 1000);
                case FLOAT64 -> r.nextGaussian() * Math.pow(10, r.nextInt(-300, 300));
                default -> throw new IllegalArgumentException(type.toString());
            };
        }
        double[] edges = switch (type) {
            case UINT8 -> new double[]{0, 255};
            case INT8 -> new double[]{-128, 127};
            case INT16 -> new double[]{-32768, 32767};
            case UINT16 -> new double[]{0, 65535};
            // 2^24 + 1 and 2^31 - 1 round in float32
            case INT32 -> new double[]{Integer.MIN_VALUE, Integer.MAX_VALUE, (1 << 24) + 1, -(1 << 24) - 1};
            case UINT32 -> new double[]{0, 4294967295.0, (1 << 24) + 1};
            case INT64, UINT64 -> new double[]{0, (1L << 53) - 1, (1 << 24) + 1};
            case FLOAT32 -> new double[]{Float.MIN_VALUE, -Float.MAX_VALUE, -0.0, Double.NaN,
                    Double.POSITIVE_INFINITY};
            // subnormal and overflowing in float32, and a value halfway between two floats
            case FLOAT64 -> new double[]{1e-40, -1e300, Double.MIN_VALUE, -0.0, Double.NaN, 1 + 0x1p-24,
                    Float.MAX_VALUE * 2.0};
            default -> new double[0];
        };
        System.arraycopy(edges, 0, v, N - 1 - edges.length, edges.length);
        return v;
    }

    private Path write(NiftiDataType type, ByteOrder order, boolean scaled, boolean gz, double[] v)
            throws IOException {
        INDArray a = Nd4j.create(v, SHAPE, 'f');
        if (type == NiftiDataType.INT64 || type == NiftiDataType.UINT64) {
            // written from longs, so the writer's exactness check sees integers (all below 2^53: exact in both)
            a = Nd4j.create(DataType.INT64, SHAPE, 'f');
            for (int i = 0; i < N; i++) {
                a.data().put(i, (long) v[i]);
            }
        }
        String name = type + "-" + order + (scaled ? "-scaled" : "");
        Path nii = tmp.resolve(name + ".nii");
        Nifti.write(nii, a, null, Nifti.WriteOptions.builder().datatype(type).byteOrder(order).build());
        if (scaled) {
            try (FileChannel ch = FileChannel.open(nii, StandardOpenOption.WRITE)) {
                ch.write(ByteBuffer.allocate(8).order(order).putFloat(SLOPE).putFloat(INTER).flip(), SCL_SLOPE);
            }
        }
        if (!gz) {
            return nii;
        }
        Path p = tmp.resolve(name + ".nii.gz");
        try (var out = new GZIPOutputStream(Files.newOutputStream(p))) {
            out.write(Files.readAllBytes(nii));
        }
        return p;
    }

    @ParameterizedTest
    @EnumSource(value = NiftiDataType.class, names = {"RGB24", "RGBA32"}, mode = EnumSource.Mode.EXCLUDE)
    void nativeCastGivesTheJavaLoopsValuesToTheBit(NiftiDataType type) throws IOException {
        double[] stored = values(type);
        for (ByteOrder order : new ByteOrder[]{ByteOrder.LITTLE_ENDIAN, ByteOrder.BIG_ENDIAN}) {
            for (boolean scaled : new boolean[]{false, true}) {
                for (boolean gz : new boolean[]{false, true}) {
                    Path p = write(type, order, scaled, gz, stored);
                    List<NiftiImage> routes = new ArrayList<>();
                    routes.add(Nifti.read(p, Nifti.SEGMENT_BYTES, Nifti.GZIP_CHUNK_BYTES, gz ? Long.MAX_VALUE : 0));
                    // segments of 1,000 bytes: several chunks per segment, chunks cut by segment ends
                    routes.add(Nifti.read(p, 1000, 1000, Long.MAX_VALUE));
                    for (NiftiImage img : routes) {
                        String what = p.getFileName() + (img.readsFromFile() ? " (file)" : " (memory)");
                        assertEquals(!gz && img == routes.get(0), img.readsFromFile(), what);
                        assertEquals(order, img.header().byteOrder(), what);
                        assertEquals(scaled, img.header().hasScaling(), what);
                        check(img, type, stored, scaled, what);
                    }
                }
            }
        }
    }

    private static void check(NiftiImage img, NiftiDataType type, double[] stored, boolean scaled, String what) {
        INDArray dNative = img.decode(VoxelCodec.Target.DOUBLE, CHUNK);
        INDArray dJava = img.decode(VoxelCodec.Target.DOUBLE, 0);
        INDArray fNative = img.decode(VoxelCodec.Target.FLOAT, CHUNK);
        INDArray fJava = img.decode(VoxelCodec.Target.FLOAT, 0);
        for (INDArray a : new INDArray[]{dNative, dJava, fNative, fJava}) {
            assertArrayEquals(SHAPE, a.shape(), what);
            assertEquals('f', a.ordering(), what);
        }
        assertArrayEquals(bits(dJava.data().asDouble()), bits(dNative.data().asDouble()), what + " DOUBLE");
        assertArrayEquals(bits(fJava.data().asFloat()), bits(fNative.data().asFloat()), what + " FLOAT");
        // the default chunk (one partial chunk here) too
        assertArrayEquals(bits(dJava.data().asDouble()), bits(img.data(DataType.DOUBLE).data().asDouble()), what);
        assertArrayEquals(bits(fJava.data().asFloat()), bits(img.data(DataType.FLOAT).data().asFloat()), what);
        // and both are the stored values, scaled in double precision, then rounded once to float
        double[] d = dNative.data().asDouble();
        float[] f = fNative.data().asFloat();
        for (int i = 0; i < N; i++) {
            double x = type == NiftiDataType.FLOAT32 ? (float) stored[i] : stored[i];
            double want = scaled ? x * SLOPE + INTER : x;
            assertEquals(Double.doubleToLongBits(want), Double.doubleToLongBits(d[i]), what + " voxel " + i);
            assertEquals(Float.floatToIntBits((float) want), Float.floatToIntBits(f[i]), what + " voxel " + i);
        }
        if (type.isIntegral()) {
            VoxelCodec.Target t = VoxelCodec.labelTarget(type);
            long[] lNative = img.decode(t, CHUNK).data().asLong();
            long[] lJava = img.decode(t, 0).data().asLong();
            assertArrayEquals(lJava, lNative, what + " labels");
            for (int i = 0; i < N; i++) {
                assertEquals((long) stored[i], lNative[i], what + " label " + i);
            }
        }
    }

    private static long[] bits(double[] a) {
        long[] b = new long[a.length];
        for (int i = 0; i < a.length; i++) {
            b[i] = Double.doubleToRawLongBits(a[i]);
        }
        return b;
    }

    private static int[] bits(float[] a) {
        int[] b = new int[a.length];
        for (int i = 0; i < a.length; i++) {
            b[i] = Float.floatToRawIntBits(a[i]);
        }
        return b;
    }

    @ParameterizedTest
    @EnumSource(value = NiftiDataType.class, names = {"RGB24", "RGBA32"}, mode = EnumSource.Mode.EXCLUDE)
    void theNativeRouteCoversTheCommonTypes(NiftiDataType type) {
        // what the route table promises: 8/16/32-bit and float types are cast natively; 64-bit integers to
        // floating point stay in Java (libnd4j's rounding of them is not checked), as do float labels (checked)
        boolean wide = type == NiftiDataType.INT64 || type == NiftiDataType.UINT64;
        assertEquals(!wide, VoxelCodec.NativeCast.applies(type, VoxelCodec.Target.FLOAT), type.toString());
        assertEquals(!wide, VoxelCodec.NativeCast.applies(type, VoxelCodec.Target.DOUBLE), type.toString());
        VoxelCodec.Target label = VoxelCodec.labelTarget(type);
        boolean nativeLabels = type.isIntegral() && type != NiftiDataType.UINT64;
        assertEquals(nativeLabels, VoxelCodec.NativeCast.applies(type, label), type + " labels");
        assertFalse(VoxelCodec.NativeCast.applies(NiftiDataType.RGB24, VoxelCodec.Target.FLOAT));
    }
}
