package org.gradsurgery.data;

import java.util.Arrays;
import java.util.Objects;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * One image with its optional label map and optional mask, in memory, with its geometry. Immutable.
 *
 * <p>Layout: the image is channels-first {@code [C, s0, s1]} (2D) or {@code [C, s0, s1, s2]} (3D), C-order, float32;
 * the label is {@code [s0, s1(, s2)]} of integer class ids (or raw atlas codes before a {@link LabelMap}); the mask is
 * the same spatial shape, boolean. Spatial axes keep the file's voxel order: for NIfTI {@code (i, j, k)} as nibabel
 * indexes it (MONAI does the same), for PNG {@code (row, column)}.
 *
 * <p>Geometry: {@code spacing[d]} is the voxel size along spatial axis d in mm, and {@code affine} the 4×4 matrix
 * taking the homogeneous voxel index {@code (i, j, k, 1)} of <em>this</em> array to world coordinates. A 2D sample
 * cut from a volume keeps a 4×4 affine whose third column is the direction of the cut axis, with index k = 0 being
 * the cut position, so every transform can keep geometry exact.
 *
 * <p>Transforms in this package work on the arrays directly (package-private access, no copies); public accessors
 * return copies.
 */
public final class Sample {
    private final String id;
    private final float[] image;
    private final int channels;
    private final int[] shape;
    private final int[] label;
    private final boolean[] mask;
    private final double[] spacing;
    private final double[][] affine;

    Sample(String id, float[] image, int channels, int[] shape, int[] label, boolean[] mask, double[] spacing,
           double[][] affine) {
        this.id = Objects.requireNonNull(id, "id");
        if (shape.length != 2 && shape.length != 3) {
            throw new IllegalArgumentException("Sample " + id + ": spatial rank must be 2 or 3, got shape "
                    + Arrays.toString(shape));
        }
        long n = 1;
        for (int s : shape) {
            if (s <= 0) {
                throw new IllegalArgumentException("Sample " + id + ": non-positive size in shape " + Arrays.toString(shape));
            }
            n *= s;
        }
        if (channels <= 0 || (long) channels * n != image.length) {
            throw new IllegalArgumentException("Sample " + id + ": image has " + image.length + " values, expected "
                    + channels + " channels x " + Arrays.toString(shape) + " = " + channels * n);
        }
        if (label != null && label.length != n) {
            throw new IllegalArgumentException("Sample " + id + ": label has " + label.length + " values, expected "
                    + Arrays.toString(shape) + " = " + n);
        }
        if (mask != null && mask.length != n) {
            throw new IllegalArgumentException("Sample " + id + ": mask has " + mask.length + " values, expected "
                    + Arrays.toString(shape) + " = " + n);
        }
        if (spacing.length != shape.length) {
            throw new IllegalArgumentException("Sample " + id + ": spacing " + Arrays.toString(spacing)
                    + " does not match spatial rank " + shape.length);
        }
        for (double s : spacing) {
            if (!(s > 0) || Double.isInfinite(s)) {
                throw new IllegalArgumentException("Sample " + id + ": spacing must be positive and finite, got "
                        + Arrays.toString(spacing));
            }
        }
        if (affine.length != 4 || Arrays.stream(affine).anyMatch(r -> r.length != 4)) {
            throw new IllegalArgumentException("Sample " + id + ": affine must be 4x4");
        }
        this.image = image;
        this.channels = channels;
        this.shape = shape;
        this.label = label;
        this.mask = mask;
        this.spacing = spacing;
        this.affine = affine;
    }

    /**
     * A sample from copies of the given arrays.
     *
     * @param image   channels-first values, C-order over {@code [channels, shape...]}
     * @param label   class ids over {@code shape}, or null
     * @param mask    mask over {@code shape}, or null
     * @param spacing voxel size per spatial axis (mm)
     * @param affine  4×4 voxel-to-world matrix, or null for {@code diag(spacing, 1)}
     */
    public static Sample of(String id, float[] image, int channels, int[] shape, int[] label, boolean[] mask,
                            double[] spacing, double[][] affine) {
        return new Sample(id, image.clone(), channels, shape.clone(), label == null ? null : label.clone(),
                mask == null ? null : mask.clone(), spacing.clone(),
                affine == null ? scaling(spacing) : deepCopy(affine));
    }

    /**
     * A sample from ND4J arrays: image {@code [C, spatial...]}, label {@code [spatial...]} (integer-valued, any
     * data type) or null. Spacing defaults to 1 and the affine to {@code diag(spacing, 1)} when null.
     */
    public static Sample of(String id, INDArray image, INDArray label, double[] spacing, double[][] affine) {
        if (image.rank() != 3 && image.rank() != 4) {
            throw new IllegalArgumentException("Sample " + id + ": image must be [C, H, W] or [C, D, H, W], got shape "
                    + Arrays.toString(image.shape()));
        }
        int[] shape = new int[image.rank() - 1];
        for (int d = 0; d < shape.length; d++) {
            shape[d] = Math.toIntExact(image.size(d + 1));
        }
        int[] lab = null;
        if (label != null) {
            if (!Arrays.equals(label.shape(), Arrays.stream(shape).asLongStream().toArray())) {
                throw new IllegalArgumentException("Sample " + id + ": label shape " + Arrays.toString(label.shape())
                        + " does not match image spatial shape " + Arrays.toString(shape));
            }
            lab = Labels.toClassIds(label, id);
        }
        double[] sp = spacing == null ? ones(shape.length) : spacing.clone();
        return new Sample(id, image.castTo(DataType.FLOAT).dup('c').data().asFloat(), Math.toIntExact(image.size(0)),
                shape, lab, null, sp, affine == null ? scaling(sp) : deepCopy(affine));
    }

    static double[] ones(int n) {
        double[] d = new double[n];
        Arrays.fill(d, 1.0);
        return d;
    }

    static double[][] scaling(double[] spacing) {
        double[][] a = new double[4][4];
        for (int d = 0; d < 3; d++) {
            a[d][d] = d < spacing.length ? spacing[d] : 1.0;
        }
        a[3][3] = 1;
        return a;
    }

    static double[][] deepCopy(double[][] a) {
        double[][] c = new double[a.length][];
        for (int i = 0; i < a.length; i++) {
            c[i] = a[i].clone();
        }
        return c;
    }

    /** Identifier (usually the case name, with a slice or patch suffix once cut). */
    public String id() {
        return id;
    }

    public int channels() {
        return channels;
    }

    /** Spatial shape (copy). */
    public int[] shape() {
        return shape.clone();
    }

    public int spatialRank() {
        return shape.length;
    }

    /** Number of voxels per channel. */
    public int voxels() {
        return image.length / channels;
    }

    public boolean hasLabel() {
        return label != null;
    }

    public boolean hasMask() {
        return mask != null;
    }

    public double[] spacing() {
        return spacing.clone();
    }

    public double[][] affine() {
        return deepCopy(affine);
    }

    /** Image values (copy), C-order over {@code [C, shape...]}. */
    public float[] imageData() {
        return image.clone();
    }

    /** Label class ids (copy), or null. */
    public int[] labelData() {
        return label == null ? null : label.clone();
    }

    /** Mask (copy), or null. */
    public boolean[] maskData() {
        return mask == null ? null : mask.clone();
    }

    /** The image as a new float32 array {@code [C, shape...]}. */
    public INDArray image() {
        long[] s = new long[shape.length + 1];
        s[0] = channels;
        for (int d = 0; d < shape.length; d++) {
            s[d + 1] = shape[d];
        }
        return Nd4j.create(image.clone(), s, 'c');
    }

    /** The label as a new int32 array {@code [shape...]}; throws if there is none. */
    public INDArray label() {
        if (label == null) {
            throw new IllegalStateException("Sample " + id + " has no label");
        }
        return Nd4j.createFromArray(label.clone()).reshape('c', Arrays.stream(shape).asLongStream().toArray());
    }

    float[] rawImage() {
        return image;
    }

    int[] rawLabel() {
        return label;
    }

    boolean[] rawMask() {
        return mask;
    }

    double[][] rawAffine() {
        return affine;
    }

    double[] rawSpacing() {
        return spacing;
    }

    int[] rawShape() {
        return shape;
    }

    /** Same geometry, new image (no copy), possibly with another channel count. */
    Sample withImage(float[] newImage, int newChannels) {
        return new Sample(id, newImage, newChannels, shape, label, mask, spacing, affine);
    }

    /** Same geometry and image, new label (no copy). */
    Sample withLabel(int[] newLabel) {
        return new Sample(id, image, channels, shape, newLabel, mask, spacing, affine);
    }

    /** Same geometry, image and label, new mask (no copy). */
    Sample withMask(boolean[] newMask) {
        return new Sample(id, image, channels, shape, label, newMask, spacing, affine);
    }

    /** A new sample on a new grid (no copies). */
    Sample withGrid(String newId, float[] newImage, int[] newShape, int[] newLabel, boolean[] newMask,
                    double[] newSpacing, double[][] newAffine) {
        return new Sample(newId, newImage, channels, newShape, newLabel, newMask, newSpacing, newAffine);
    }

    /** A copy with a new id. */
    public Sample withId(String newId) {
        return new Sample(newId, image, channels, shape, label, mask, spacing, affine);
    }

    @Override
    public String toString() {
        return "Sample{" + id + ", channels=" + channels + ", shape=" + Arrays.toString(shape) + ", spacing="
                + Arrays.toString(spacing) + (label != null ? ", label" : "") + (mask != null ? ", mask" : "") + "}";
    }
}
