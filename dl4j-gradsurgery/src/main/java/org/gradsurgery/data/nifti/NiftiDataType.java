package org.gradsurgery.data.nifti;

import java.util.Optional;

/**
 * The NIfTI {@code datatype} codes this package reads and writes (NIfTI-1 standard, {@code nifti1.h}).
 *
 * <p>RGB24 and RGBA32 are packed colour voxels (3 or 4 unsigned bytes, interleaved per voxel); they are read as an
 * extra trailing channel axis of length {@link #channels()}. Complex and 128-bit float types are recognised by
 * {@link #describeCode(int)} for error messages but are not supported.
 */
public enum NiftiDataType {
    UINT8(2, 1, 1, true, false),
    INT16(4, 2, 1, true, true),
    INT32(8, 4, 1, true, true),
    FLOAT32(16, 4, 1, false, true),
    FLOAT64(64, 8, 1, false, true),
    RGB24(128, 1, 3, true, false),
    INT8(256, 1, 1, true, true),
    UINT16(512, 2, 1, true, false),
    UINT32(768, 4, 1, true, false),
    INT64(1024, 8, 1, true, true),
    UINT64(1280, 8, 1, true, false),
    RGBA32(2304, 1, 4, true, false);

    private final int code;
    private final int componentBytes;
    private final int channels;
    private final boolean integral;
    private final boolean signed;

    NiftiDataType(int code, int componentBytes, int channels, boolean integral, boolean signed) {
        this.code = code;
        this.componentBytes = componentBytes;
        this.channels = channels;
        this.integral = integral;
        this.signed = signed;
    }

    /** The NIfTI {@code datatype} field value. */
    public int code() {
        return code;
    }

    /** Bits per voxel, the value {@code bitpix} must hold (24 for RGB24). */
    public int bitpix() {
        return 8 * bytesPerVoxel();
    }

    /** Bytes per voxel on disk: {@code componentBytes() * channels()}. */
    public int bytesPerVoxel() {
        return componentBytes * channels;
    }

    /** Bytes of one scalar component (1 for the colour types). */
    public int componentBytes() {
        return componentBytes;
    }

    /** Values per voxel: 1, or 3 (RGB24) / 4 (RGBA32). */
    public int channels() {
        return channels;
    }

    /** Whether the stored components are integers. */
    public boolean isIntegral() {
        return integral;
    }

    /** Whether the stored components are signed. */
    public boolean isSigned() {
        return signed;
    }

    /** Whether this is a packed colour type (RGB24, RGBA32). */
    public boolean isColour() {
        return channels > 1;
    }

    /** The supported type with this code, if any. */
    public static Optional<NiftiDataType> fromCode(int code) {
        for (NiftiDataType t : values()) {
            if (t.code == code) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }

    /** A human-readable name for any code, including the standard types this package does not support. */
    public static String describeCode(int code) {
        Optional<NiftiDataType> t = fromCode(code);
        if (t.isPresent()) {
            return t.get().name().toLowerCase(java.util.Locale.ROOT) + " (" + code + ")";
        }
        return switch (code) {
            case 0 -> "unknown (0)";
            case 1 -> "binary (1)";
            case 32 -> "complex64 (32)";
            case 1536 -> "float128 (1536)";
            case 1792 -> "complex128 (1792)";
            case 2048 -> "complex256 (2048)";
            default -> "unrecognised code " + code;
        };
    }
}
