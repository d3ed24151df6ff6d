package org.gradsurgery.data.nifti;

import java.nio.file.Path;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A NIfTI image read by {@link Nifti#read(Path)}: the header plus the raw voxel bytes (in memory, or, for large
 * uncompressed files, where they are in the file: each decode then reads the file and closes it again). Voxel values are decoded on each call into a new array, so callers may modify
 * what they get; its memory is freed by {@code close()} or, if nobody closes it, when the GC collects it.
 *
 * <h2>Layout</h2>
 * Arrays have shape {@code dim[1..dim[0]]} and element [i, j, k, …] is the file's voxel (i, j, k, …): NIfTI stores
 * x fastest, so the arrays are created in Fortran ('f') order, whose buffer is the file's voxel order (no
 * transpose). {@code dup('c')} gives a C-order copy. RGB24/RGBA32 images get one more, <b>last</b> axis of length
 * 3/4 holding R, G, B(, A): shape {@code dim[1..dim[0]] + [3]} (nibabel's {@code arr[i,j,k]['R']} is
 * {@code [i,j,k,0]}).
 */
public final class NiftiImage {

    private final Path path;
    private final NiftiHeader header;
    private final VoxelCodec.RawVoxels raw;
    private final boolean inFile;

    NiftiImage(Path path, NiftiHeader header, VoxelCodec.RawVoxels raw, boolean inFile) {
        this.path = path;
        this.header = header;
        this.raw = raw;
        this.inFile = inFile;
    }

    /**
     * The voxel values as nibabel's {@code get_fdata()} returns them: y = scl_slope·x + scl_inter when the slope is
     * finite and non-zero (integer and float data alike; colour data are never scaled), else y = x. Scaling is
     * computed in double precision and then rounded to {@code type}.
     *
     * @param type FLOAT or DOUBLE (HALF and BFLOAT16 are converted from FLOAT)
     */
    public INDArray data(DataType type) {
        return switch (type) {
            case FLOAT -> decode(VoxelCodec.Target.FLOAT, header.hasScaling());
            case DOUBLE -> decode(VoxelCodec.Target.DOUBLE, header.hasScaling());
            case HALF, BFLOAT16 -> {
                // the FLOAT array is only a step: freed now rather than when the GC finds it
                try (INDArray f = decode(VoxelCodec.Target.FLOAT, header.hasScaling())) {
                    yield f.castTo(type);
                }
            }
            default -> throw new IllegalArgumentException("NiftiImage.data: type must be FLOAT, DOUBLE, HALF or "
                    + "BFLOAT16, got " + type + " (use labels() for integer label maps)");
        };
    }

    /** {@code data(DataType.FLOAT)}. */
    public INDArray data() {
        return data(DataType.FLOAT);
    }

    /**
     * The raw stored integers, unscaled (scl_slope/scl_inter are ignored) and exact: INT32 for uint8, int8, int16,
     * uint16, int32, RGB24 and RGBA32 images; INT64 for uint32, int64 and uint64. Float32/float64 label maps (some
     * tools store labels as floats) are returned as INT32 if every voxel is a whole number in int32 range.
     *
     * @throws IllegalStateException naming the voxel, for a float image holding a fraction, NaN or a value outside
     *                               int32, or a uint64 value above 2⁶³ − 1
     */
    public INDArray labels() {
        NiftiDataType t = header.datatype();
        return decode(VoxelCodec.labelTarget(t), false);
    }

    /** The ND4J type {@link #labels()} returns for this image: INT32 or INT64. */
    public DataType labelType() {
        return VoxelCodec.labelTarget(header.datatype()).type;
    }

    private INDArray decode(VoxelCodec.Target target, boolean scale) {
        return VoxelCodec.decode(raw, header, target, scale, path);
    }

    /**
     * What {@link #data(DataType)} (FLOAT, DOUBLE) or {@link #labels()} (INT, LONG) returns, decoded with an
     * explicit native-cast chunk (0: the Java loops), so tests can compare the two routes.
     */
    INDArray decode(VoxelCodec.Target target, int castChunk) {
        boolean scale = (target == VoxelCodec.Target.FLOAT || target == VoxelCodec.Target.DOUBLE)
                && header.hasScaling();
        return VoxelCodec.decode(raw, header, target, scale, path, castChunk);
    }

    /** nibabel's best affine (a fresh 4×4 copy): see {@link NiftiHeader#bestAffine()}. */
    public double[][] affine() {
        return header.bestAffine();
    }

    public NiftiHeader header() {
        return header;
    }

    /** {@code dim[1..dim[0]]} (without the colour channel axis). */
    public long[] shape() {
        return header.dims();
    }

    /** Voxel spacing {@code pixdim[1..3]}, in {@link NiftiHeader#spatialUnit()} units (usually mm). */
    public double[] spacing() {
        return header.spacing();
    }

    /** The path given to {@link Nifti#read(Path)}. */
    public Path path() {
        return path;
    }

    /**
     * Whether the voxel bytes stay in the file (large uncompressed images) and each decode reads them, rather than
     * being held in memory; see {@link Nifti} on why this is not a memory map.
     */
    public boolean readsFromFile() {
        return inFile;
    }

    @Override
    public String toString() {
        return "NiftiImage{" + path + ", " + header + (inFile ? ", voxels read from the file" : "") + "}";
    }
}
