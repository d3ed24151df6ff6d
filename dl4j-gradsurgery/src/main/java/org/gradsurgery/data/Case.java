package org.gradsurgery.data;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import org.gradsurgery.InvalidInputException;
import org.gradsurgery.data.nifti.Nifti;
import org.gradsurgery.data.nifti.NiftiImage;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * One training or test case: image file(s), an optional label map and an optional mask, loaded into a {@link Sample}.
 *
 * <p>Files: NIfTI ({@code .nii}, {@code .nii.gz}, {@code .hdr}/{@code .img}) or PNG. Channels come from either one
 * file with a channel axis (a 4D NIfTI {@code [X, Y, Z, C]} as the Medical Segmentation Decathlon stores its
 * modalities, an RGB NIfTI, an RGB PNG) or from several single-channel files (nnU-Net's {@code _0000},
 * {@code _0001}, …), concatenated in order. A 2D NIfTI {@code [X, Y]} gives a 2D sample.
 *
 * <p>Every file of a case must share the image grid: same spatial shape, and for NIfTI the same affine within
 * {@link #AFFINE_TOLERANCE} mm per entry. A disagreement is an {@link IllegalArgumentException} naming both files.
 */
public record Case(String id, List<Path> images, Path label, Path mask) {
    /** Largest per-entry difference between two affines still taken as the same grid (mm). */
    public static final double AFFINE_TOLERANCE = 1e-3;

    public Case {
        Objects.requireNonNull(id, "id");
        images = List.copyOf(images);
        if (images.isEmpty()) {
            throw new IllegalArgumentException("Case " + id + ": no image file");
        }
    }

    /** A case with one image file and a label (or null). */
    public static Case of(String id, Path image, Path label) {
        return new Case(id, List.of(image), label, null);
    }

    /**
     * Loads image(s), label and mask in RAS canonical axis order ({@link Orientation}): 3D NIfTI cases stored in any
     * other axis order (LAS, LPS, LSA, ...) are flipped/permuted exactly, with the affine updated, so that array axis
     * 2 is the inferior-superior axis whatever the scanner wrote and a model sees every case the same way round. 2D
     * images keep their order. Labels are raw codes (apply a {@link LabelMap} to get classes).
     */
    public Sample load() throws IOException {
        Sample s = loadStored();
        return s.spatialRank() == 3 ? Orientation.of(s).toCanonical(s) : s;
    }

    /**
     * The orientation of this case's stored grid (its first image file), or null for a 2D case. Its
     * {@link Orientation#toStored(int[])} turns a prediction made on {@link #load()}'s grid back into the file's own
     * voxel order, to be written with the file's own affine.
     */
    public Orientation orientation() throws IOException {
        Sample s = loadStored();
        return s.spatialRank() == 3 ? Orientation.of(s) : null;
    }

    /** Loads image(s), label and mask in the files' own voxel order (no reorientation). */
    public Sample loadStored() throws IOException {
        Loaded first = Loaded.read(images.get(0), false);
        List<float[]> channels = new ArrayList<>();
        int total = 0;
        Loaded ref = first;
        for (Path p : images) {
            Loaded l = p == images.get(0) ? first : Loaded.read(p, false);
            ref.checkSameGrid(l);
            channels.add(l.values);
            total += l.channels;
        }
        int n = Grid.product(first.shape);
        float[] img = new float[total * n];
        int off = 0;
        for (float[] c : channels) {
            System.arraycopy(c, 0, img, off, c.length);
            off += c.length;
        }
        int[] lab = null;
        if (label != null) {
            Loaded l = Loaded.read(label, true);
            first.checkSameGrid(l);
            lab = l.labels;
        }
        boolean[] msk = null;
        if (mask != null) {
            Loaded m = Loaded.read(mask, true);
            first.checkSameGrid(m);
            msk = new boolean[n];
            for (int i = 0; i < n; i++) {
                msk[i] = m.labels[i] != 0;
            }
        }
        return new Sample(id, img, total, first.shape, lab, msk, first.spacing, first.affine);
    }

    static boolean isPng(Path p) {
        return p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".png");
    }

    /** One file's content on its grid. */
    private static final class Loaded {
        final Path path;
        final int[] shape;
        final int channels;
        final float[] values;
        final int[] labels;
        final double[] spacing;
        final double[][] affine;
        final boolean png;

        private Loaded(Path path, int[] shape, int channels, float[] values, int[] labels, double[] spacing,
                       double[][] affine, boolean png) {
            this.path = path;
            this.shape = shape;
            this.channels = channels;
            this.values = values;
            this.labels = labels;
            this.spacing = spacing;
            this.affine = affine;
            this.png = png;
        }

        static Loaded read(Path p, boolean asLabels) throws IOException {
            if (isPng(p)) {
                if (asLabels) {
                    Png.Info info = Png.info(p);
                    int[] lab = Png.readLabels(p);
                    return new Loaded(p, new int[]{info.height(), info.width()}, 1, null, lab, new double[]{1, 1},
                            Sample.scaling(new double[]{1, 1}), true);
                }
                Sample s = Png.readImage(p);
                return new Loaded(p, s.rawShape(), s.channels(), s.rawImage(), null, s.rawSpacing(), s.rawAffine(),
                        true);
            }
            NiftiImage img = Nifti.read(p);
            long[] dims = img.shape();
            // the decoded array is only a step to the Java arrays below: freed on return rather than at the next GC
            try (INDArray arr = asLabels ? img.labels() : img.data(DataType.FLOAT)) {
                return fromNifti(p, img, dims, arr, asLabels);
            }
        }

        private static Loaded fromNifti(Path p, NiftiImage img, long[] dims, INDArray arr, boolean asLabels) {
            int spatial = Math.min(dims.length, 3);
            int[] shape = new int[spatial];
            for (int d = 0; d < spatial; d++) {
                shape[d] = Math.toIntExact(dims[d]);
            }
            if (spatial < 2) {
                throw new InvalidInputException(p + ": a 1D NIfTI image (shape " + Arrays.toString(dims)
                        + ") is not an image");
            }
            // Axes past the spatial ones are channels: dims[3..] (MSD modalities) and the RGB axis.
            int n = Grid.product(shape);
            long total = arr.length();
            if (total % n != 0) {
                throw new InvalidInputException(p + ": " + total + " values do not tile the grid " + Arrays.toString(shape));
            }
            int channels = Math.toIntExact(total / n);
            if (asLabels && channels != 1) {
                throw new InvalidInputException(p + ": a label map must have one value per voxel, got shape "
                        + Arrays.toString(arr.shape()));
            }
            double[] sp = Arrays.copyOf(img.spacing(), spatial);
            for (int d = 0; d < spatial; d++) {
                sp[d] = Math.abs(sp[d]) > 0 ? Math.abs(sp[d]) : 1.0;
            }
            // C order over [spatial..., channels...] puts the channels of a voxel next to each other.
            float[] values = null;
            int[] labs = null;
            if (asLabels) {
                labs = Labels.toClassIds(arr, p.toString());
            } else {
                float[] buf;
                // arr is FLOAT (data(FLOAT)), so the C-order copy is the only new array here; made outside any
                // workspace so it can be closed
                try (org.nd4j.linalg.api.memory.MemoryWorkspace ws = org.nd4j.linalg.factory.Nd4j
                        .getWorkspaceManager().scopeOutOfWorkspaces();
                     INDArray cOrder = arr.dup('c')) {
                    buf = cOrder.data().asFloat();
                }
                values = new float[buf.length];
                for (int v = 0; v < n; v++) {
                    for (int c = 0; c < channels; c++) {
                        values[c * n + v] = buf[v * channels + c];
                    }
                }
            }
            if (values != null) {
                checkFinite(values, shape, channels, p);
            }
            return new Loaded(p, shape, channels, values, labs, sp, img.affine(), false);
        }

        /** An image intensity that is NaN or infinite is an error naming the file, voxel and channel. */
        static void checkFinite(float[] values, int[] shape, int channels, Path p) {
            int n = values.length / channels;
            long bad = 0;
            int first = -1;
            for (int i = 0; i < values.length; i++) {
                if (!Float.isFinite(values[i])) {
                    bad++;
                    if (first < 0) {
                        first = i;
                    }
                }
            }
            if (bad > 0) {
                throw new org.gradsurgery.InvalidInputException(p + ": intensity " + values[first] + " at voxel "
                        + Labels.voxel(first % n, shape) + (channels > 1 ? " of channel " + first / n : "")
                        + " is not a finite number (" + bad + " non-finite value(s)); fix or exclude this file");
            }
        }

        void checkSameGrid(Loaded o) {
            if (!Arrays.equals(shape, o.shape)) {
                throw new InvalidInputException("grid mismatch: " + path + " has spatial shape "
                        + Arrays.toString(shape) + " but " + o.path + " has " + Arrays.toString(o.shape));
            }
            if (png != o.png) {
                return; // PNGs carry no geometry to compare
            }
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 4; j++) {
                    if (Math.abs(affine[i][j] - o.affine[i][j]) > AFFINE_TOLERANCE) {
                        throw new InvalidInputException("grid mismatch: " + path + " and " + o.path
                                + " have different affines (entry [" + i + "][" + j + "]: " + affine[i][j] + " vs "
                                + o.affine[i][j] + ")\n  " + Arrays.deepToString(affine) + "\n  "
                                + Arrays.deepToString(o.affine));
                    }
                }
            }
        }
    }
}
