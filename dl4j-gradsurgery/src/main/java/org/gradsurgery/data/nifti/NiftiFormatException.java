package org.gradsurgery.data.nifti;

import java.io.IOException;
import java.nio.file.Path;

/**
 * A file that is not a readable NIfTI-1/NIfTI-2 image: empty or truncated, wrong magic, impossible dimensions,
 * an unknown datatype, voxel data past the end of the file, a corrupt gzip stream, and so on.
 *
 * <p>The message always starts with the file and then says what is wrong, e.g.
 * {@code "/data/ct.nii.gz: truncated voxel data: header needs 8388608 bytes from offset 352, stream ended after 4096"}.
 */
public class NiftiFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    private final Path file;
    private final String reason;

    /** @param file the offending file (may be {@code null} for in-memory headers); @param reason what is wrong */
    public NiftiFormatException(Path file, String reason) {
        this(file, reason, null);
    }

    public NiftiFormatException(Path file, String reason, Throwable cause) {
        super((file == null ? "<header>" : file.toString()) + ": " + reason, cause);
        this.file = file;
        this.reason = reason;
    }

    /** The file that failed to parse, or {@code null} when a header was decoded from memory. */
    public Path file() {
        return file;
    }

    /** The reason alone, without the file name. */
    public String reason() {
        return reason;
    }
}
