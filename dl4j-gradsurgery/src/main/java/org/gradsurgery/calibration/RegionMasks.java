package org.gradsurgery.calibration;

import java.util.Arrays;
import java.util.BitSet;
import org.gradsurgery.metrics.DistanceTransform;
import org.gradsurgery.metrics.SegmentationTensors;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Region masks for reporting calibration where it matters, in the {@code regionMask} format of
 * {@link CalibrationMetrics#update(INDArray, INDArray, INDArray)}: FLOAT 0/1 arrays {@code [N, spatial...]}.
 *
 * <p>Input is a ground-truth class map {@code [N, spatial...]} (2D: {@code [N, H, W]}, 3D: {@code [N, D, H, W]};
 * integer class indices, 0 = background, any numeric type). For one-hot labels pass {@code Nd4j.argMax(oneHot, 1)}.
 *
 * <p><b>Distances.</b> k is a distance between voxel centres in the units of {@code spacing} (e.g. mm, one value per
 * spatial axis in array order); with {@code spacing == null} it is in voxels (spacing 1). Distances are exact
 * Euclidean ({@link DistanceTransform}), and "within k" means d ≤ k up to a relative 1e-9, so that k = 3 × spacing
 * includes the voxel three steps away despite rounding. Let F be the structure and d(v, A) the distance from voxel
 * v to the nearest voxel of A:
 * <ul>
 *   <li>{@link #dilatedForeground}: {v : d(v, F) ≤ k}, F plus every voxel within k of it;</li>
 *   <li>{@link #boundaryBand}: {v ∉ F : d(v, F) ≤ k} ∪ {v ∈ F : d(v, ∁F) ≤ k}, the voxels within k of the
 *       boundary on either side — the ±k band around the ground-truth surface where a resection margin is
 *       decided. With k equal to one voxel spacing it is the layer of voxels on each side that touch the
 *       boundary through a face; k below the smallest spacing gives an empty band. Each listed structure
 *       contributes its own band, so boundaries between two structures count, while the image border is not
 *       a boundary;</li>
 *   <li>{@link #wholeVolume}: every voxel.</li>
 * </ul>
 * An example without the structure gets an all-zero mask for it.
 */
public final class RegionMasks {
    private static final String OWNER = "RegionMasks";
    private static final double TOLERANCE = 1e-9;

    private RegionMasks() {
    }

    /** All ones, shaped like the class map: calibration over the whole volume. */
    public static INDArray wholeVolume(INDArray classMap) {
        checkClassMap(classMap);
        return Nd4j.ones(DataType.FLOAT, classMap.shape());
    }

    /**
     * Foreground dilated by k.
     *
     * @param classMap ground truth {@code [N, spatial...]}
     * @param k dilation radius (units of spacing; voxels if spacing is null), ≥ 0
     * @param spacing voxel size per spatial axis, or null
     * @param classes the classes forming the foreground; none = every class except 0
     */
    public static INDArray dilatedForeground(INDArray classMap, double k, double[] spacing, int... classes) {
        return build(classMap, k, spacing, classes, false);
    }

    /**
     * The ±k band around the surface of each listed class (see the class documentation).
     *
     * @param classMap ground truth {@code [N, spatial...]}
     * @param k half-width of the band (units of spacing; voxels if spacing is null), ≥ 0
     * @param spacing voxel size per spatial axis, or null
     * @param classes the structures whose surfaces count; none = every class except 0
     */
    public static INDArray boundaryBand(INDArray classMap, double k, double[] spacing, int... classes) {
        return build(classMap, k, spacing, classes, true);
    }

    private static INDArray build(INDArray classMap, double k, double[] spacing, int[] classes, boolean band) {
        checkClassMap(classMap);
        if (!(k >= 0) || Double.isInfinite(k)) {
            throw new IllegalArgumentException(OWNER + ": k must be finite and >= 0, got " + k);
        }
        for (int c : classes) {
            if (c < 0) {
                throw new IllegalArgumentException(OWNER + ": class " + c + " is negative");
            }
        }
        long[] shape = classMap.shape();
        long[] ref = new long[shape.length + 1];
        ref[0] = shape[0];
        ref[1] = 1;
        System.arraycopy(shape, 1, ref, 2, shape.length - 1);
        int[] grid = SegmentationTensors.spatialShape(ref, OWNER);
        double[] s = DistanceTransform.checkSpacing(spacing, grid.length, OWNER);
        double limit = k * k * (1 + TOLERANCE);
        int voxels = Arrays.stream(grid).reduce(1, (a, b) -> a * b);
        float[] out = new float[(int) shape[0] * voxels];
        for (int n = 0; n < shape[0]; n++) {
            int[] y = SegmentationTensors.classIndices(classMap, SegmentationTensors.LabelFormat.CLASS_MAP, n,
                    Integer.MAX_VALUE, OWNER);
            int offset = n * voxels;
            if (band) {
                for (int c : structures(y, classes)) {
                    boolean[] f = new boolean[voxels];
                    boolean[] rest = new boolean[voxels];
                    for (int i = 0; i < voxels; i++) {
                        f[i] = y[i] == c;
                        rest[i] = !f[i];
                    }
                    double[] toF = DistanceTransform.squaredDistance(f, grid, s);
                    double[] toRest = DistanceTransform.squaredDistance(rest, grid, s);
                    for (int i = 0; i < voxels; i++) {
                        if ((f[i] ? toRest[i] : toF[i]) <= limit) {
                            out[offset + i] = 1f;
                        }
                    }
                }
            } else {
                BitSet wanted = wanted(classes);
                boolean[] f = new boolean[voxels];
                for (int i = 0; i < voxels; i++) {
                    f[i] = wanted == null ? y[i] != 0 : wanted.get(y[i]);
                }
                double[] toF = DistanceTransform.squaredDistance(f, grid, s);
                for (int i = 0; i < voxels; i++) {
                    if (toF[i] <= limit) {
                        out[offset + i] = 1f;
                    }
                }
            }
        }
        return Nd4j.create(out, shape, DataType.FLOAT);
    }

    /** The listed classes, or every non-zero class present in y. */
    private static int[] structures(int[] y, int[] classes) {
        if (classes.length > 0) {
            return Arrays.stream(classes).distinct().toArray();
        }
        return Arrays.stream(y).filter(v -> v != 0).distinct().sorted().toArray();
    }

    private static BitSet wanted(int[] classes) {
        if (classes.length == 0) {
            return null;
        }
        BitSet b = new BitSet();
        for (int c : classes) {
            b.set(c);
        }
        return b;
    }

    private static void checkClassMap(INDArray classMap) {
        if (classMap == null) {
            throw new IllegalArgumentException(OWNER + ": classMap must not be null");
        }
        if (classMap.rank() < 2 || classMap.length() == 0) {
            throw new IllegalArgumentException(OWNER + ": classMap must be [N, spatial...] with at least one spatial "
                    + "axis, got shape " + Arrays.toString(classMap.shape()));
        }
    }
}
