package org.gradsurgery.data.nifti;

import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Objects;

/**
 * An immutable NIfTI-1/NIfTI-2 header: geometry (dims, pixdim, qform, sform), datatype, scaling and the
 * descriptive fields. Obtain one from {@link NiftiImage#header()}, or build one with {@link #builder()} /
 * {@link #toBuilder()} / the {@code withX} methods to pass as the reference of {@link Nifti#write}.
 *
 * <h2>Affines</h2>
 * Voxel index (i, j, k) maps to world (x, y, z) = A·(i, j, k, 1). Three affines exist (NIfTI-1 standard, nibabel):
 * <ul>
 *   <li>{@link #sform()}: the rows {@code srow_x, srow_y, srow_z} as stored;</li>
 *   <li>{@link #qform()}: R·diag(pixdim[1], pixdim[2], qfac·pixdim[3]) plus {@code qoffset}, where R is the
 *       rotation of the unit quaternion (a, b, c, d), a = √(1 − b² − c² − d²), and qfac = pixdim[0];</li>
 *   <li>the fallback: diag(−pixdim[1], pixdim[2], pixdim[3]) with the origin at the volume centre,
 *       offset = −((dim − 1)/2)·zoom (nibabel's {@code get_base_affine}).</li>
 * </ul>
 * {@link #bestAffine()} follows nibabel's {@code get_best_affine}: sform if {@code sform_code > 0}, else qform if
 * {@code qform_code > 0}, else the fallback.
 *
 * <h2>Load-time normalisation</h2>
 * Like nibabel's {@code check_fix} on load, a header read from disk has negative spatial pixdims replaced by their
 * absolute value, zero spatial pixdims by 1, a qfac other than ±1 by 1, and xform codes outside 0..5 by 0.
 * Everything else is kept as stored (NIfTI-1 floats are widened exactly to double).
 */
public final class NiftiHeader {

    /** Spatial units, {@code xyzt_units & 0x07}. */
    public enum SpatialUnit {
        UNKNOWN(0), METER(1), MILLIMETER(2), MICRON(3);

        private final int code;

        SpatialUnit(int code) {
            this.code = code;
        }

        public int code() {
            return code;
        }

        static SpatialUnit of(int xyztUnits) {
            int c = xyztUnits & 0x07;
            for (SpatialUnit u : values()) {
                if (u.code == c) {
                    return u;
                }
            }
            return UNKNOWN;
        }
    }

    /** Temporal units, {@code xyzt_units & 0x38}. */
    public enum TemporalUnit {
        UNKNOWN(0), SECOND(8), MILLISECOND(16), MICROSECOND(24), HERTZ(32), PPM(40), RADIANS_PER_SECOND(48);

        private final int code;

        TemporalUnit(int code) {
            this.code = code;
        }

        public int code() {
            return code;
        }

        static TemporalUnit of(int xyztUnits) {
            int c = xyztUnits & 0x38;
            for (TemporalUnit u : values()) {
                if (u.code == c) {
                    return u;
                }
            }
            return UNKNOWN;
        }
    }

    /** Bytes of the NIfTI-1 and NIfTI-2 headers. */
    public static final int NIFTI1_HEADER_SIZE = 348;
    public static final int NIFTI2_HEADER_SIZE = 540;
    /** Largest dimension NIfTI-1 can store (dims are int16). */
    public static final long NIFTI1_MAX_DIM = Short.MAX_VALUE;
    /** Largest valid xform code (NIFTI_XFORM_TEMPLATE_OTHER). */
    public static final int MAX_XFORM_CODE = 5;

    private final int version;
    private final ByteOrder byteOrder;
    private final long[] dims;
    private final NiftiDataType datatype;
    private final double[] pixdim;
    private final long voxOffset;
    private final double sclSlope;
    private final double sclInter;
    private final double calMin;
    private final double calMax;
    private final double sliceDuration;
    private final double toffset;
    private final long sliceStart;
    private final long sliceEnd;
    private final int sliceCode;
    private final int dimInfo;
    private final int xyztUnits;
    private final int intentCode;
    private final double intentP1;
    private final double intentP2;
    private final double intentP3;
    private final String intentName;
    private final String descrip;
    private final String auxFile;
    private final int qformCode;
    private final int sformCode;
    private final double quaternB;
    private final double quaternC;
    private final double quaternD;
    private final double qoffsetX;
    private final double qoffsetY;
    private final double qoffsetZ;
    private final double[][] srow;
    private final boolean singleFile;

    private NiftiHeader(Builder b) {
        this.version = b.version;
        this.byteOrder = b.byteOrder;
        this.dims = b.dims.clone();
        this.datatype = b.datatype;
        this.pixdim = b.pixdim.clone();
        this.voxOffset = b.voxOffset;
        this.sclSlope = b.sclSlope;
        this.sclInter = b.sclInter;
        this.calMin = b.calMin;
        this.calMax = b.calMax;
        this.sliceDuration = b.sliceDuration;
        this.toffset = b.toffset;
        this.sliceStart = b.sliceStart;
        this.sliceEnd = b.sliceEnd;
        this.sliceCode = b.sliceCode;
        this.dimInfo = b.dimInfo;
        this.xyztUnits = b.xyztUnits;
        this.intentCode = b.intentCode;
        this.intentP1 = b.intentP1;
        this.intentP2 = b.intentP2;
        this.intentP3 = b.intentP3;
        this.intentName = b.intentName;
        this.descrip = b.descrip;
        this.auxFile = b.auxFile;
        this.qformCode = b.qformCode;
        this.sformCode = b.sformCode;
        this.quaternB = b.quaternB;
        this.quaternC = b.quaternC;
        this.quaternD = b.quaternD;
        this.qoffsetX = b.qoffsetX;
        this.qoffsetY = b.qoffsetY;
        this.qoffsetZ = b.qoffsetZ;
        this.srow = new double[][]{b.srow[0].clone(), b.srow[1].clone(), b.srow[2].clone()};
        this.singleFile = b.singleFile;
    }

    // ------------------------------------------------------------------ accessors

    /** 1 for NIfTI-1 (348-byte header), 2 for NIfTI-2 (540 bytes). */
    public int version() {
        return version;
    }

    /** Byte order of the file the header came from (and that the writer uses). */
    public ByteOrder byteOrder() {
        return byteOrder;
    }

    /** The array shape {@code dim[1..dim[0]]} (a copy). */
    public long[] dims() {
        return dims.clone();
    }

    /** {@code dim[0]}: the number of dimensions, 1..7. */
    public int rank() {
        return dims.length;
    }

    /** Number of voxels, the product of {@link #dims()}. */
    public long voxelCount() {
        long n = 1;
        for (long d : dims) {
            n = Math.multiplyExact(n, d);
        }
        return n;
    }

    public NiftiDataType datatype() {
        return datatype;
    }

    /** {@code bitpix}, as implied by the datatype (the reader rejects files where they disagree). */
    public int bitpix() {
        return datatype.bitpix();
    }

    /** All 8 {@code pixdim} entries (a copy); pixdim[0] is qfac, pixdim[1..3] the voxel spacing. */
    public double[] pixdim() {
        return pixdim.clone();
    }

    /** Voxel spacing {@code pixdim[1..3]} in {@link #spatialUnit()} units. */
    public double[] spacing() {
        return new double[]{pixdim[1], pixdim[2], pixdim[3]};
    }

    /** qfac = {@code pixdim[0]}, ±1: the sign of the third qform axis. */
    public double qfac() {
        return pixdim[0];
    }

    /** Byte offset of the voxel data in the image file ({@code vox_offset}). */
    public long voxOffset() {
        return voxOffset;
    }

    public double sclSlope() {
        return sclSlope;
    }

    public double sclInter() {
        return sclInter;
    }

    /**
     * Whether reading applies {@code y = scl_slope·x + scl_inter}: slope finite and non-zero (NIfTI-1 standard;
     * nibabel {@code get_slope_inter}). A slope of 0, NaN or ±∞ means "no scaling" and the intercept is ignored.
     * (slope, inter) = (1, 0) is no scaling either, so values pass through bit for bit (−0.0 stays −0.0, as in
     * nibabel's {@code apply_read_scaling}). Colour types are never scaled.
     */
    public boolean hasScaling() {
        return sclSlope != 0 && Double.isFinite(sclSlope) && !datatype.isColour()
                && !(sclSlope == 1 && sclInter == 0);
    }

    public double calMin() {
        return calMin;
    }

    public double calMax() {
        return calMax;
    }

    public double sliceDuration() {
        return sliceDuration;
    }

    public double toffset() {
        return toffset;
    }

    public long sliceStart() {
        return sliceStart;
    }

    public long sliceEnd() {
        return sliceEnd;
    }

    public int sliceCode() {
        return sliceCode;
    }

    public int dimInfo() {
        return dimInfo;
    }

    /** The raw {@code xyzt_units} byte. */
    public int xyztUnits() {
        return xyztUnits;
    }

    public SpatialUnit spatialUnit() {
        return SpatialUnit.of(xyztUnits);
    }

    public TemporalUnit temporalUnit() {
        return TemporalUnit.of(xyztUnits);
    }

    public int intentCode() {
        return intentCode;
    }

    public double intentP1() {
        return intentP1;
    }

    public double intentP2() {
        return intentP2;
    }

    public double intentP3() {
        return intentP3;
    }

    public String intentName() {
        return intentName;
    }

    /** The free-text {@code descrip} field (at most 80 bytes). */
    public String descrip() {
        return descrip;
    }

    public String auxFile() {
        return auxFile;
    }

    public int qformCode() {
        return qformCode;
    }

    public int sformCode() {
        return sformCode;
    }

    /** Quaternion parameters b, c, d (a is implied, a ≥ 0). */
    public double[] quaternion() {
        return new double[]{quaternB, quaternC, quaternD};
    }

    /** {@code qoffset_x, qoffset_y, qoffset_z}. */
    public double[] qoffset() {
        return new double[]{qoffsetX, qoffsetY, qoffsetZ};
    }

    /** Whether the magic says voxel data share the header's file ({@code n+1}/{@code n+2}) rather than a .img. */
    public boolean isSingleFile() {
        return singleFile;
    }

    /** The sform affine: rows srow_x, srow_y, srow_z, then (0, 0, 0, 1). */
    public double[][] sform() {
        return new double[][]{srow[0].clone(), srow[1].clone(), srow[2].clone(), {0, 0, 0, 1}};
    }

    /**
     * The qform affine R·diag(pixdim[1], pixdim[2], qfac·pixdim[3]) + qoffset (nibabel {@code get_qform}).
     *
     * @throws IllegalStateException if b² + c² + d² exceeds 1 by more than 3 float eps (not a unit quaternion)
     */
    public double[][] qform() {
        double[][] r = rotation(quaternB, quaternC, quaternD, version == 1 ? 3 * Math.ulp(1f) : 3 * Math.ulp(1d));
        double[] zoom = {pixdim[1], pixdim[2], pixdim[3] * qfac()};
        double[][] a = new double[4][4];
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                a[i][j] = r[i][j] * zoom[j];
            }
        }
        a[0][3] = qoffsetX;
        a[1][3] = qoffsetY;
        a[2][3] = qoffsetZ;
        a[3][3] = 1;
        return a;
    }

    /**
     * The affine a reader should use (nibabel {@code get_best_affine}): sform if sform_code &gt; 0, else qform if
     * qform_code &gt; 0, else diag(−pixdim[1], pixdim[2], pixdim[3]) centred on the volume.
     */
    public double[][] bestAffine() {
        if (sformCode > 0) {
            return sform();
        }
        if (qformCode > 0) {
            return qform();
        }
        return baseAffine();
    }

    /** nibabel's {@code shape_zoom_affine(shape, zooms, x_flip=True)} over the first three axes. */
    double[][] baseAffine() {
        double[][] a = new double[4][4];
        for (int i = 0; i < 3; i++) {
            long n = i < dims.length ? dims[i] : 1;
            double zoom = i < dims.length ? pixdim[i + 1] : 1;
            if (i == 0) {
                zoom = -zoom;
            }
            a[i][i] = zoom;
            a[i][3] = -((n - 1) / 2.0) * zoom;
        }
        a[3][3] = 1;
        return a;
    }

    /**
     * Rotation matrix of the unit quaternion (a, b, c, d) with a = √(1 − b² − c² − d²) (nibabel {@code fillpositive}
     * then {@code quat2mat}). A slightly negative 1 − b² − c² − d² (within {@code tolerance}) gives a = 0.
     */
    static double[][] rotation(double b, double c, double d, double tolerance) {
        double w2 = 1.0 - (b * b + c * c + d * d);
        double a;
        if (w2 < 0) {
            if (w2 < -tolerance) {
                throw new IllegalStateException("qform quaternion (b, c, d) = (" + b + ", " + c + ", " + d
                        + ") is not a unit quaternion: b² + c² + d² = " + (1 - w2) + " > 1");
            }
            a = 0;
        } else {
            a = Math.sqrt(w2);
        }
        double nq = a * a + b * b + c * c + d * d;
        if (nq < Math.ulp(1d)) {
            return new double[][]{{1, 0, 0}, {0, 1, 0}, {0, 0, 1}};
        }
        double s = 2.0 / nq;
        double x = b, y = c, z = d, w = a;
        double xs = x * s, ys = y * s, zs = z * s;
        double wx = w * xs, wy = w * ys, wz = w * zs;
        double xx = x * xs, xy = x * ys, xz = x * zs;
        double yy = y * ys, yz = y * zs, zz = z * zs;
        return new double[][]{
                {1.0 - (yy + zz), xy - wz, xz + wy},
                {xy + wz, 1.0 - (xx + zz), yz - wx},
                {xz - wy, yz + wx, 1.0 - (xx + yy)}};
    }

    // ------------------------------------------------------------------ copies with changes

    public Builder toBuilder() {
        return new Builder(this);
    }

    /** A copy with another shape (pixdim entries are kept as they are). */
    public NiftiHeader withDims(long... newDims) {
        return toBuilder().dims(newDims).build();
    }

    public NiftiHeader withDatatype(NiftiDataType type) {
        return toBuilder().datatype(type).build();
    }

    public NiftiHeader withDescrip(String text) {
        return toBuilder().descrip(text).build();
    }

    /** A copy whose reading scale is {@code y = slope·x + inter} (slope 0 or NaN: none). */
    public NiftiHeader withScaling(double slope, double inter) {
        return toBuilder().scaling(slope, inter).build();
    }

    /** A copy with {@code affine} as both sform and qform (see {@link Builder#affine(double[][], int)}). */
    public NiftiHeader withAffine(double[][] affine, int code) {
        return toBuilder().affine(affine, code).build();
    }

    /** A copy with spacing {@code pixdim[1..n]} replaced (the affines are not touched). */
    public NiftiHeader withSpacing(double... spacing) {
        return toBuilder().spacing(spacing).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    // ------------------------------------------------------------------ value semantics

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof NiftiHeader h)) {
            return false;
        }
        return version == h.version && byteOrder.equals(h.byteOrder) && Arrays.equals(dims, h.dims)
                && datatype == h.datatype && Arrays.equals(pixdim, h.pixdim) && voxOffset == h.voxOffset
                && same(sclSlope, h.sclSlope) && same(sclInter, h.sclInter) && same(calMin, h.calMin)
                && same(calMax, h.calMax) && same(sliceDuration, h.sliceDuration) && same(toffset, h.toffset)
                && sliceStart == h.sliceStart && sliceEnd == h.sliceEnd && sliceCode == h.sliceCode
                && dimInfo == h.dimInfo && xyztUnits == h.xyztUnits && intentCode == h.intentCode
                && same(intentP1, h.intentP1) && same(intentP2, h.intentP2) && same(intentP3, h.intentP3)
                && intentName.equals(h.intentName) && descrip.equals(h.descrip) && auxFile.equals(h.auxFile)
                && qformCode == h.qformCode && sformCode == h.sformCode && same(quaternB, h.quaternB)
                && same(quaternC, h.quaternC) && same(quaternD, h.quaternD) && same(qoffsetX, h.qoffsetX)
                && same(qoffsetY, h.qoffsetY) && same(qoffsetZ, h.qoffsetZ) && Arrays.deepEquals(srow, h.srow)
                && singleFile == h.singleFile;
    }

    private static boolean same(double a, double b) {
        return Double.compare(a, b) == 0;
    }

    @Override
    public int hashCode() {
        int h = Objects.hash(version, byteOrder, datatype, voxOffset, sclSlope, sclInter, qformCode, sformCode,
                quaternB, quaternC, quaternD, qoffsetX, qoffsetY, qoffsetZ, xyztUnits, descrip);
        h = 31 * h + Arrays.hashCode(dims);
        h = 31 * h + Arrays.hashCode(pixdim);
        return 31 * h + Arrays.deepHashCode(srow);
    }

    @Override
    public String toString() {
        return "NiftiHeader{nifti" + version + ", " + (byteOrder == ByteOrder.LITTLE_ENDIAN ? "LE" : "BE")
                + ", dims=" + Arrays.toString(dims) + ", " + datatype + ", pixdim=" + Arrays.toString(pixdim)
                + ", units=" + spatialUnit() + "/" + temporalUnit()
                + ", scl=" + sclSlope + "/" + sclInter + ", qform_code=" + qformCode + ", sform_code=" + sformCode
                + ", vox_offset=" + voxOffset + ", descrip='" + descrip + "'}";
    }

    // ------------------------------------------------------------------ builder

    /**
     * Builds headers. Defaults: NIfTI-1, little endian, float32, pixdim (qfac 1, spacing 1), millimetres and
     * seconds, no scaling (slope 1, intercept 0), qform and sform both the identity with code 0 (unknown).
     */
    public static final class Builder {
        private int version = 1;
        private ByteOrder byteOrder = ByteOrder.LITTLE_ENDIAN;
        private long[] dims = {1, 1, 1};
        private NiftiDataType datatype = NiftiDataType.FLOAT32;
        private double[] pixdim = {1, 1, 1, 1, 1, 1, 1, 1};
        private long voxOffset = 0;
        private double sclSlope = 1;
        private double sclInter = 0;
        private double calMin;
        private double calMax;
        private double sliceDuration;
        private double toffset;
        private long sliceStart;
        private long sliceEnd;
        private int sliceCode;
        private int dimInfo;
        private int xyztUnits = SpatialUnit.MILLIMETER.code() | TemporalUnit.SECOND.code();
        private int intentCode;
        private double intentP1;
        private double intentP2;
        private double intentP3;
        private String intentName = "";
        private String descrip = "";
        private String auxFile = "";
        private int qformCode;
        private int sformCode;
        private double quaternB;
        private double quaternC;
        private double quaternD;
        private double qoffsetX;
        private double qoffsetY;
        private double qoffsetZ;
        private double[][] srow = {{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}};
        private boolean singleFile = true;

        private Builder() {
        }

        private Builder(NiftiHeader h) {
            version = h.version;
            byteOrder = h.byteOrder;
            dims = h.dims.clone();
            datatype = h.datatype;
            pixdim = h.pixdim.clone();
            voxOffset = h.voxOffset;
            sclSlope = h.sclSlope;
            sclInter = h.sclInter;
            calMin = h.calMin;
            calMax = h.calMax;
            sliceDuration = h.sliceDuration;
            toffset = h.toffset;
            sliceStart = h.sliceStart;
            sliceEnd = h.sliceEnd;
            sliceCode = h.sliceCode;
            dimInfo = h.dimInfo;
            xyztUnits = h.xyztUnits;
            intentCode = h.intentCode;
            intentP1 = h.intentP1;
            intentP2 = h.intentP2;
            intentP3 = h.intentP3;
            intentName = h.intentName;
            descrip = h.descrip;
            auxFile = h.auxFile;
            qformCode = h.qformCode;
            sformCode = h.sformCode;
            quaternB = h.quaternB;
            quaternC = h.quaternC;
            quaternD = h.quaternD;
            qoffsetX = h.qoffsetX;
            qoffsetY = h.qoffsetY;
            qoffsetZ = h.qoffsetZ;
            srow = h.sform();
            singleFile = h.singleFile;
        }

        /** 1 or 2. */
        public Builder version(int v) {
            if (v != 1 && v != 2) {
                throw new IllegalArgumentException("NiftiHeader: version must be 1 or 2, got " + v);
            }
            version = v;
            return this;
        }

        public Builder byteOrder(ByteOrder order) {
            byteOrder = Objects.requireNonNull(order, "byteOrder");
            return this;
        }

        /** The shape, 1 to 7 axes, each ≥ 1. */
        public Builder dims(long... d) {
            if (d == null || d.length < 1 || d.length > 7) {
                throw new IllegalArgumentException("NiftiHeader: dims must have 1..7 entries, got "
                        + (d == null ? "null" : Arrays.toString(d)));
            }
            for (int i = 0; i < d.length; i++) {
                if (d[i] < 1) {
                    throw new IllegalArgumentException("NiftiHeader: dim[" + (i + 1) + "] must be >= 1, got "
                            + Arrays.toString(d));
                }
            }
            dims = d.clone();
            return this;
        }

        public Builder datatype(NiftiDataType t) {
            datatype = Objects.requireNonNull(t, "datatype");
            return this;
        }

        /** All 8 pixdim entries (pixdim[0] = qfac must be ±1). */
        public Builder pixdim(double... p) {
            if (p == null || p.length != 8) {
                throw new IllegalArgumentException("NiftiHeader: pixdim needs 8 entries, got "
                        + (p == null ? "null" : Arrays.toString(p)));
            }
            if (p[0] != 1 && p[0] != -1) {
                throw new IllegalArgumentException("NiftiHeader: pixdim[0] (qfac) must be 1 or -1, got " + p[0]);
            }
            pixdim = p.clone();
            return this;
        }

        /** Spacing of the first {@code s.length} axes, {@code pixdim[1..]}; each must be finite and &gt; 0. */
        public Builder spacing(double... s) {
            if (s == null || s.length < 1 || s.length > 7) {
                throw new IllegalArgumentException("NiftiHeader: spacing needs 1..7 entries");
            }
            for (int i = 0; i < s.length; i++) {
                if (!(s[i] > 0) || !Double.isFinite(s[i])) {
                    throw new IllegalArgumentException("NiftiHeader: spacing[" + i + "] must be finite and > 0, got "
                            + Arrays.toString(s));
                }
                pixdim[i + 1] = s[i];
            }
            return this;
        }

        public Builder voxOffset(long offset) {
            if (offset < 0) {
                throw new IllegalArgumentException("NiftiHeader: vox_offset must be >= 0, got " + offset);
            }
            voxOffset = offset;
            return this;
        }

        /** Reading scale {@code y = slope·x + inter}; slope 0 or non-finite disables it. */
        public Builder scaling(double slope, double inter) {
            sclSlope = slope;
            sclInter = inter;
            return this;
        }

        public Builder calRange(double min, double max) {
            calMin = min;
            calMax = max;
            return this;
        }

        public Builder slice(int code, long start, long end, double duration) {
            sliceCode = code;
            sliceStart = start;
            sliceEnd = end;
            sliceDuration = duration;
            return this;
        }

        public Builder dimInfo(int info) {
            dimInfo = info & 0xFF;
            return this;
        }

        public Builder toffset(double t) {
            toffset = t;
            return this;
        }

        public Builder units(SpatialUnit spatial, TemporalUnit temporal) {
            xyztUnits = spatial.code() | temporal.code();
            return this;
        }

        /** The raw {@code xyzt_units} byte. */
        public Builder xyztUnits(int units) {
            xyztUnits = units & 0xFF;
            return this;
        }

        public Builder intent(int code, double p1, double p2, double p3, String name) {
            intentCode = code;
            intentP1 = p1;
            intentP2 = p2;
            intentP3 = p3;
            intentName = checkText("intent_name", name, 16);
            return this;
        }

        /** Free text, at most 80 ASCII bytes. */
        public Builder descrip(String text) {
            descrip = checkText("descrip", text, 80);
            return this;
        }

        public Builder auxFile(String text) {
            auxFile = checkText("aux_file", text, 24);
            return this;
        }

        /** The sform: a 4×4 (last row ignored) or 3×4 matrix, and its code 0..5. */
        public Builder sform(double[][] affine, int code) {
            double[][] a = checkAffine(affine);
            srow = new double[][]{a[0].clone(), a[1].clone(), a[2].clone()};
            sformCode = checkCode("sform_code", code);
            return this;
        }

        /** The raw qform fields: quaternion b, c, d, offsets and code (qfac and spacing live in pixdim). */
        public Builder qform(double b, double c, double d, double x, double y, double z, int code) {
            quaternB = b;
            quaternC = c;
            quaternD = d;
            qoffsetX = x;
            qoffsetY = y;
            qoffsetZ = z;
            qformCode = checkCode("qform_code", code);
            return this;
        }

        /**
         * Sets the qform from an affine (nibabel {@code set_qform(strip_shears=True)}): spacing = column norms,
         * qfac = sign of det, the rotation is the nearest orthonormal matrix (polar decomposition), offsets the
         * translation. Updates {@code pixdim[0..3]}.
         */
        public Builder qform(double[][] affine, int code) {
            double[][] a = checkAffine(affine);
            double[] zoom = new double[3];
            double[][] r = new double[3][3];
            for (int j = 0; j < 3; j++) {
                zoom[j] = Math.sqrt(a[0][j] * a[0][j] + a[1][j] * a[1][j] + a[2][j] * a[2][j]);
                if (!(zoom[j] > 0) || !Double.isFinite(zoom[j])) {
                    throw new IllegalArgumentException("NiftiHeader: affine column " + j + " has norm " + zoom[j]
                            + "; a qform needs a non-singular, finite affine: " + Arrays.deepToString(affine));
                }
                for (int i = 0; i < 3; i++) {
                    r[i][j] = a[i][j] / zoom[j];
                }
            }
            double qfac = 1;
            if (det3(r) < 0) {
                qfac = -1;
                for (int i = 0; i < 3; i++) {
                    r[i][2] = -r[i][2];
                }
            }
            r = nearestRotation(r);
            double[] q = quaternionOf(r);
            pixdim[0] = qfac;
            pixdim[1] = zoom[0];
            pixdim[2] = zoom[1];
            pixdim[3] = zoom[2];
            return qform(q[1], q[2], q[3], a[0][3], a[1][3], a[2][3], code);
        }

        /** Sets both sform and qform from {@code affine} with the same code (what nibabel writes for an image). */
        public Builder affine(double[][] affine, int code) {
            return sform(affine, code).qform(affine, code);
        }

        Builder singleFile(boolean single) {
            singleFile = single;
            return this;
        }

        public NiftiHeader build() {
            if (version == 1) {
                for (long d : dims) {
                    if (d > NIFTI1_MAX_DIM) {
                        throw new IllegalArgumentException("NiftiHeader: NIfTI-1 dims are int16 (max 32767), got "
                                + Arrays.toString(dims) + "; use version(2)");
                    }
                }
            }
            return new NiftiHeader(this);
        }

        private static int checkCode(String field, int code) {
            if (code < 0 || code > MAX_XFORM_CODE) {
                throw new IllegalArgumentException("NiftiHeader: " + field + " must be 0..5, got " + code);
            }
            return code;
        }

        private static String checkText(String field, String text, int maxBytes) {
            String t = text == null ? "" : text;
            byte[] bytes = t.getBytes(StandardCharsets.ISO_8859_1);
            if (bytes.length > maxBytes || !new String(bytes, StandardCharsets.ISO_8859_1).equals(t)
                    || t.indexOf('\0') >= 0) {
                throw new IllegalArgumentException("NiftiHeader: " + field + " must be at most " + maxBytes
                        + " Latin-1 characters without NUL, got '" + t + "'");
            }
            return t;
        }

        private static double[][] checkAffine(double[][] a) {
            if (a == null || (a.length != 3 && a.length != 4)) {
                throw new IllegalArgumentException("NiftiHeader: an affine is a 4x4 or 3x4 matrix, got "
                        + (a == null ? "null" : a.length + " rows"));
            }
            for (int i = 0; i < 3; i++) {
                if (a[i] == null || a[i].length != 4) {
                    throw new IllegalArgumentException("NiftiHeader: affine row " + i + " needs 4 entries, got "
                            + Arrays.deepToString(a));
                }
            }
            return a;
        }
    }

    // ------------------------------------------------------------------ 3x3 helpers for qform decomposition

    static double det3(double[][] m) {
        return m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1])
                - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
                + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    }

    /** Orthonormal polar factor of a non-singular 3×3 matrix, by Newton iteration R ← (R + R⁻ᵀ)/2 (Higham 1986). */
    static double[][] nearestRotation(double[][] m) {
        double[][] r = new double[][]{m[0].clone(), m[1].clone(), m[2].clone()};
        for (int iter = 0; iter < 100; iter++) {
            double det = det3(r);
            // inverse transpose = cofactor matrix / det
            double[][] it = new double[3][3];
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++) {
                    int i1 = (i + 1) % 3, i2 = (i + 2) % 3, j1 = (j + 1) % 3, j2 = (j + 2) % 3;
                    it[i][j] = (r[i1][j1] * r[i2][j2] - r[i1][j2] * r[i2][j1]) / det;
                }
            }
            double change = 0;
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++) {
                    double v = 0.5 * (r[i][j] + it[i][j]);
                    change = Math.max(change, Math.abs(v - r[i][j]));
                    r[i][j] = v;
                }
            }
            if (change < 1e-15) {
                break;
            }
        }
        return r;
    }

    /** Unit quaternion (a, b, c, d), a ≥ 0, of a proper rotation matrix ({@code nifti_mat44_to_quatern}). */
    static double[] quaternionOf(double[][] r) {
        double a = r[0][0] + r[1][1] + r[2][2] + 1;
        double b, c, d;
        if (a > 0.5) {
            a = 0.5 * Math.sqrt(a);
            b = 0.25 * (r[2][1] - r[1][2]) / a;
            c = 0.25 * (r[0][2] - r[2][0]) / a;
            d = 0.25 * (r[1][0] - r[0][1]) / a;
        } else {
            double xd = 1 + r[0][0] - (r[1][1] + r[2][2]);
            double yd = 1 + r[1][1] - (r[0][0] + r[2][2]);
            double zd = 1 + r[2][2] - (r[0][0] + r[1][1]);
            if (xd > 1) {
                b = 0.5 * Math.sqrt(xd);
                c = 0.25 * (r[0][1] + r[1][0]) / b;
                d = 0.25 * (r[0][2] + r[2][0]) / b;
                a = 0.25 * (r[2][1] - r[1][2]) / b;
            } else if (yd > 1) {
                c = 0.5 * Math.sqrt(yd);
                b = 0.25 * (r[0][1] + r[1][0]) / c;
                d = 0.25 * (r[1][2] + r[2][1]) / c;
                a = 0.25 * (r[0][2] - r[2][0]) / c;
            } else {
                d = 0.5 * Math.sqrt(zd);
                b = 0.25 * (r[0][2] + r[2][0]) / d;
                c = 0.25 * (r[1][2] + r[2][1]) / d;
                a = 0.25 * (r[1][0] - r[0][1]) / d;
            }
            if (a < 0) {
                a = -a;
                b = -b;
                c = -c;
                d = -d;
            }
        }
        return new double[]{a, b, c, d};
    }
}
