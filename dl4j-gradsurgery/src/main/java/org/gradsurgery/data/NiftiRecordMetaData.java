package org.gradsurgery.data;

import java.net.URI;
import java.util.Arrays;
import java.util.Objects;
import org.datavec.api.records.metadata.RecordMetaData;

/**
 * Where a {@link NiftiRecordReader} record came from and its geometry: the 4×4 voxel-to-world affine (nibabel's best
 * affine), the voxel spacing {@code pixdim[1..3]} and the array shape (spatial dims for labels, channels first for
 * images). Immutable.
 */
public final class NiftiRecordMetaData implements RecordMetaData {
    private static final long serialVersionUID = 1L;

    private final URI uri;
    private final double[][] affine;
    private final double[] spacing;
    private final long[] shape;

    public NiftiRecordMetaData(URI uri, double[][] affine, double[] spacing, long[] shape) {
        this.uri = Objects.requireNonNull(uri, "uri");
        this.affine = Sample.deepCopy(affine);
        this.spacing = spacing.clone();
        this.shape = shape.clone();
    }

    public double[][] getAffine() {
        return Sample.deepCopy(affine);
    }

    public double[] getSpacing() {
        return spacing.clone();
    }

    public long[] getShape() {
        return shape.clone();
    }

    @Override
    public String getLocation() {
        return uri.toString();
    }

    @Override
    public URI getURI() {
        return uri;
    }

    @Override
    public Class<?> getReaderClass() {
        return NiftiRecordReader.class;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NiftiRecordMetaData m && uri.equals(m.uri) && Arrays.deepEquals(affine, m.affine)
                && Arrays.equals(spacing, m.spacing) && Arrays.equals(shape, m.shape);
    }

    @Override
    public int hashCode() {
        return Objects.hash(uri, Arrays.deepHashCode(affine), Arrays.hashCode(spacing), Arrays.hashCode(shape));
    }

    @Override
    public String toString() {
        return "NiftiRecordMetaData{" + uri + ", shape=" + Arrays.toString(shape) + ", spacing="
                + Arrays.toString(spacing) + ", affine=" + Arrays.deepToString(affine) + "}";
    }
}
