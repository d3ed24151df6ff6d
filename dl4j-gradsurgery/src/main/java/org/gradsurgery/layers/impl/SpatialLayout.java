package org.gradsurgery.layers.impl;

import java.util.Arrays;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.shape.Shape;

/**
 * Where the channel axis of a segmentation tensor lies, and the permutations between that layout, channels-first
 * ({@code [N, C, spatial...]}) and channel-rows ({@code [N·spatial, C]}).
 *
 * <p>Rank 4 is {@code NCHW} or {@code NHWC}; rank 5 is {@code NCDHW} or {@code NDHWC}. The project's layers accept
 * channels-last only at rank 4 ({@link #of(INDArray, CNN2DFormat, String)}); the concatenation vertex accepts it at
 * both ranks. Immutable.
 */
public final class SpatialLayout {

    private final int rank;
    private final boolean channelsLast;

    private SpatialLayout(int rank, boolean channelsLast) {
        this.rank = rank;
        this.channelsLast = channelsLast;
    }

    /**
     * The layout of a rank-4 or rank-5 array for a layer whose rank-4 format is {@code format2d} and whose rank-5
     * format is always NCDHW.
     *
     * @param owner names the layer in error messages
     * @throws IllegalArgumentException for any other rank
     */
    public static SpatialLayout of(INDArray x, CNN2DFormat format2d, String owner) {
        int r = x.rank();
        if (r == 4) {
            return new SpatialLayout(4, format2d == CNN2DFormat.NHWC);
        }
        if (r == 5) {
            return new SpatialLayout(5, false);
        }
        throw new IllegalArgumentException(owner + ": expected a rank-4 " + format2d.dimensionNames()
                + " or rank-5 [minibatch, channels, depth, height, width] (NCDHW) array, got rank " + r
                + " with shape " + Arrays.toString(x.shape()));
    }

    /** A layout of the given rank (2, 4 or 5); rank 2 is always {@code [N, C]}. */
    public static SpatialLayout of(int rank, boolean channelsLast) {
        if (rank != 2 && rank != 4 && rank != 5) {
            throw new IllegalArgumentException("SpatialLayout: rank must be 2, 4 or 5, got " + rank);
        }
        return new SpatialLayout(rank, rank != 2 && channelsLast);
    }

    /**
     * {@link #of(INDArray, CNN2DFormat, String)}, and checks the channel axis holds {@code expectedChannels} (when
     * &gt; 0). At rank 5 this is what catches NDHWC data: its axis 1 is the depth.
     *
     * @throws IllegalArgumentException for another rank or channel count
     */
    public static SpatialLayout of(INDArray x, CNN2DFormat format2d, long expectedChannels, String owner) {
        SpatialLayout layout = of(x, format2d, owner);
        if (expectedChannels > 0 && layout.channels(x) != expectedChannels) {
            throw new IllegalArgumentException(owner + ": expected " + expectedChannels + " channels on axis "
                    + layout.channelAxis() + " of " + layout.dimensionNames() + ", got input shape "
                    + Arrays.toString(x.shape()) + (layout.rank == 5 ? "; rank-5 data must be NCDHW (channels"
                    + " first), NDHWC is not supported" : ""));
        }
        return layout;
    }

    /**
     * Checks a configuration-time input type for a layer that takes rank 4 in either 2D format and rank 5 as NCDHW,
     * and returns its channel count.
     *
     * <p>The format label of a 3D input type is not checked: in DL4J 1.0.0-M2.1, {@code Upsampling3D},
     * {@code ZeroPadding3DLayer}, {@code Cropping3D} and {@code Convolution3D}/{@code Subsampling3DLayer} in
     * {@code Truncate} mode label their output NDHWC whatever the data's layout (they call the format-less
     * {@code InputType.convolutional3D}), so rejecting the label would reject valid NCDHW graphs. The layers check the
     * channel axis at run time instead ({@link #of(INDArray, CNN2DFormat, long, String)}).
     *
     * @param owner names the layer in error messages
     * @throws IllegalArgumentException for null or non-convolutional input types
     */
    public static long channelsOf(InputType inputType, String owner) {
        if (inputType instanceof InputType.InputTypeConvolutional) {
            return ((InputType.InputTypeConvolutional) inputType).getChannels();
        }
        if (inputType instanceof InputType.InputTypeConvolutional3D) {
            return ((InputType.InputTypeConvolutional3D) inputType).getChannels();
        }
        throw new IllegalArgumentException(owner + ": expected a CNN (rank 4: NCHW/NHWC) or CNN3D (rank 5: NCDHW)"
                + " input type, got " + inputType);
    }

    /**
     * The output type of a layer that keeps its input's shape: the input type, with a 3D type relabelled NCDHW (the
     * only 3D layout the layers accept), which repairs DL4J's mislabelled 3D types for the layers downstream.
     */
    public static InputType sameShapeOutputType(InputType inputType, String owner) {
        channelsOf(inputType, owner);
        if (inputType instanceof InputType.InputTypeConvolutional3D) {
            InputType.InputTypeConvolutional3D t = (InputType.InputTypeConvolutional3D) inputType;
            return InputType.convolutional3D(Convolution3D.DataFormat.NCDHW, t.getDepth(), t.getHeight(), t.getWidth(),
                    t.getChannels());
        }
        return inputType;
    }

    public int rank() {
        return rank;
    }

    public boolean channelsLast() {
        return channelsLast;
    }

    /** Index of the channel axis. */
    public int channelAxis() {
        return channelsLast ? rank - 1 : 1;
    }

    /** Indices of the spatial axes (empty at rank 2). */
    public int[] spatialAxes() {
        int[] axes = new int[Math.max(0, rank - 2)];
        int first = channelsLast ? 1 : 2;
        for (int i = 0; i < axes.length; i++) {
            axes[i] = first + i;
        }
        return axes;
    }

    /** All axes except the channel axis: the reduction axes of batch normalisation. */
    public int[] nonChannelAxes() {
        int[] axes = new int[rank - 1];
        int k = 0;
        for (int i = 0; i < rank; i++) {
            if (i != channelAxis()) {
                axes[k++] = i;
            }
        }
        return axes;
    }

    /** Channel count of {@code x} in this layout. */
    public long channels(INDArray x) {
        return x.size(channelAxis());
    }

    /** Product of the spatial sizes of {@code x} in this layout. */
    public long spatialSize(INDArray x) {
        long s = 1;
        for (int a : spatialAxes()) {
            s *= x.size(a);
        }
        return s;
    }

    /** Shape with size 1 everywhere except the channel axis, for broadcasting a per-channel vector. */
    public long[] channelBroadcastShape(long channels) {
        long[] s = new long[rank];
        Arrays.fill(s, 1);
        s[channelAxis()] = channels;
        return s;
    }

    /** A channels-first view of {@code x} (no copy). */
    public INDArray toChannelsFirst(INDArray x) {
        return channelsLast ? x.permute(lastToFirst(rank)) : x;
    }

    /** The inverse of {@link #toChannelsFirst}: a view of channels-first {@code x} in this layout (no copy). */
    public INDArray fromChannelsFirst(INDArray x) {
        return channelsLast ? x.permute(firstToLast(rank)) : x;
    }

    /**
     * A fresh c-ordered {@code [N·spatial, C]} copy of {@code x}, with the rows of example n contiguous (rows
     * {@code n·spatial … (n+1)·spatial−1}), as DL4J's stock loss layers pass to rank-2 losses. Always a copy: DL4J
     * activations overwrite their input.
     */
    public INDArray toRows(INDArray x) {
        INDArray last = channelsLast ? x : x.permute(firstToLast(rank));
        INDArray copy = last.dup('c');
        return copy.reshape('c', x.length() / x.size(channelAxis()), x.size(channelAxis()));
    }

    /**
     * The inverse of {@link #toRows}: rows {@code [N·spatial, C]} back to an array of {@code shape} in this layout
     * (a view of {@code rows} when possible).
     */
    public INDArray fromRows(INDArray rows, long[] shape) {
        if (rows.ordering() != 'c' || !Shape.hasDefaultStridesForShape(rows)) {
            rows = rows.dup('c');
        }
        long[] lastShape = channelsLast ? shape : channelsLastShape(shape);
        INDArray last = rows.reshape('c', lastShape);
        return channelsLast ? last : last.permute(lastToFirst(rank));
    }

    /**
     * Moves {@code x} into the workspace of {@code type}, as a c-ordered array when it is a permuted view so that
     * downstream layers get plain strides.
     */
    public static INDArray materialize(INDArray x, LayerWorkspaceMgr workspaceMgr, ArrayType type) {
        if (x.ordering() == 'c' && Shape.hasDefaultStridesForShape(x) && !x.isView()) {
            return workspaceMgr.leverageTo(type, x);
        }
        return workspaceMgr.dup(type, x, 'c');
    }

    /** Permutation taking {@code [N, C, s1..sk]} to {@code [N, s1..sk, C]}. */
    private static int[] firstToLast(int rank) {
        int[] p = new int[rank];
        for (int i = 1; i < rank - 1; i++) {
            p[i] = i + 1;
        }
        p[rank - 1] = 1;
        return p;
    }

    /** Permutation taking {@code [N, s1..sk, C]} to {@code [N, C, s1..sk]}. */
    private static int[] lastToFirst(int rank) {
        int[] p = new int[rank];
        p[1] = rank - 1;
        for (int i = 2; i < rank; i++) {
            p[i] = i - 1;
        }
        return p;
    }

    private long[] channelsLastShape(long[] channelsFirstShape) {
        long[] s = new long[rank];
        s[0] = channelsFirstShape[0];
        for (int i = 1; i < rank - 1; i++) {
            s[i] = channelsFirstShape[i + 1];
        }
        s[rank - 1] = channelsFirstShape[1];
        return s;
    }

    /** A human-readable axis list, e.g. {@code [minibatch, channels, depth, height, width]}. */
    public String dimensionNames() {
        switch (rank) {
            case 2:
                return "[minibatch, channels]";
            case 4:
                return channelsLast ? "[minibatch, height, width, channels]" : "[minibatch, channels, height, width]";
            default:
                return channelsLast ? "[minibatch, depth, height, width, channels]"
                        : "[minibatch, channels, depth, height, width]";
        }
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof SpatialLayout)) {
            return false;
        }
        SpatialLayout that = (SpatialLayout) o;
        return rank == that.rank && channelsLast == that.channelsLast;
    }

    @Override
    public int hashCode() {
        return 31 * rank + (channelsLast ? 1 : 0);
    }

    @Override
    public String toString() {
        return "SpatialLayout(rank=" + rank + ", " + (channelsLast ? "channels-last" : "channels-first") + ")";
    }
}
