package org.gradsurgery.model;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.custom.Reverse;
import org.nd4j.linalg.dataset.api.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Sliding-window inference for volumes (and images) larger than the network's training patch, as nnU-Net does it
 * (Isensee et al., "nnU-Net", Nature Methods 18, 2021): overlapping windows, each prediction weighted by a Gaussian
 * importance map, stitched by the weighted average.
 *
 * <p>For an input {@code [N, C, spatial...]} (channels first; each example is one volume) and patch size p:
 * <ul>
 *   <li><b>Windows.</b> Along an axis of size s ≥ p, with target step t = max(1, p·(1 − overlap)), there are
 *       n = ⌈(s − p)/t⌉ + 1 windows at origins round(i·(s − p)/(n − 1)), i = 0 … n − 1: the first starts at 0, the
 *       last ends at s, none leaves the volume, and neighbours overlap by at least {@code overlap}·p. An axis with
 *       s &lt; p is padded with {@code padValue} (half before, half after) to p, and the result cropped back.</li>
 *   <li><b>Weights.</b> w(x) = Π_a exp(−(x_a − c_a)² / (2σ_a²)) with c_a = (p_a − 1)/2 (the exact centre; nnU-Net uses
 *       ⌊p_a/2⌋) and σ_a = {@code sigmaScale}·p_a (default 1/8, nnU-Net's), scaled to max 1; values below the
 *       smallest positive normal float are raised to it, so no voxel has zero weight.
 *       {@link Weighting#CONSTANT} uses w ≡ 1 (a plain average).</li>
 *   <li><b>Stitching.</b> P(x) = Σ_windows w(x − o)·f(patch_o)(x − o) / Σ_windows w(x − o), where f is the
 *       network's output (its probabilities: the {@link org.gradsurgery.layers.SegmentationLossLayer} applies the
 *       softmax/sigmoid). Since every voxel lies in a window and w &gt; 0, the denominator is positive everywhere.</li>
 *   <li><b>Test-time mirroring</b> (off by default; {@link Builder#mirroring}, {@link Builder#mirrorAxes}). With
 *       mirror axes A, each window's prediction is replaced by the mean over every subset s ⊆ A (the empty one
 *       included, |S| = 2^|A| passes: 4 for both axes in 2D, 8 for all three in 3D) of the prediction on the window
 *       flipped along s, flipped back: p̂ = (1/|S|) Σ_{s∈S} F_s⁻¹ f(F_s x), with F_s the reversal of the axes in s
 *       (an involution, F_s⁻¹ = F_s). Then p̂ is stitched as above. As in nnU-Net (Isensee et al. 2021;
 *       {@code nnUNetPredictor} with {@code use_mirroring} and {@code allowed_mirroring_axes}) the flips are per window
 *       and over all subsets; unlike nnU-Net v2, which averages the logits, the probabilities f are averaged (as
 *       nnU-Net v1 and MONAI's {@code TestTimeAugmentation} mean do), since the network's output layer applies the
 *       softmax. The mean of probabilities is again a probability field. A network with f(F_s x) = F_s f(x) (e.g. a
 *       pointwise one, or convolutions with mirror-symmetric kernels and symmetric padding) gives the plain result.</li>
 *   <li><b>Memory.</b> At most {@code maxPatchesInFlight} patches (and their outputs) exist at a time: windows (and,
 *       when mirroring, their flipped copies, which count as patches) are run in batches of that size and added into
 *       one accumulator of the output's size plus one weight map. {@link #predictEach} hands over one volume at a
 *       time, so a whole data set never is in memory.</li>
 * </ul>
 * 2D networks in NHWC get channels-first input here too; the layout is taken from the first convolution reading
 * the network input (or {@link Builder#dataFormat}). Immutable and thread-safe (the network is not).
 *
 * <pre>{@code
 * SlidingWindowInference swi = SlidingWindowInference.builder().patchSize(64, 64, 64).overlap(0.5).build();
 * INDArray probs = swi.predict(net, volume);               // [1, C, D, H, W] -> [1, K, D, H, W]
 * INDArray tta = SlidingWindowInference.builder().patchSize(64, 64, 64).mirroring(true).build()
 *         .predict(net, volume);                          // the mean over 8 mirrored passes per window
 * swi.predictEach(net, testIterator, (i, p, labels, mask) -> calibration.update(p, labels, null));
 * SegmentationEvaluator.builder()...inference(Inference.fromProbabilities(swi::predict))   // the evaluator's 3D hook
 * }</pre>
 */
public final class SlidingWindowInference {

    /** How windows are weighted when stitched. */
    public enum Weighting {
        /** Gaussian importance map (nnU-Net): the centre of a window counts more than its border. */
        GAUSSIAN,
        /** Every window voxel counts equally. */
        CONSTANT
    }

    /** Receives one stitched volume at a time from {@link #predictEach}. */
    @FunctionalInterface
    public interface VolumeConsumer {
        /**
         * @param index         running index of the volume (0, 1, …) over the whole iteration
         * @param probabilities stitched output {@code [1, K, spatial...]} (channels first)
         * @param labels        the volume's labels {@code [1, ...]} from the data set, or null
         * @param labelsMask    the volume's label mask {@code [1, ...]}, or null
         */
        void accept(long index, INDArray probabilities, INDArray labels, INDArray labelsMask);
    }

    private static final String OWNER = "SlidingWindowInference";

    private final int[] patchSize;
    private final double overlap;
    private final double sigmaScale;
    private final int maxPatchesInFlight;
    private final Weighting weighting;
    private final double padValue;
    private final CNN2DFormat dataFormat;
    /** Spatial mirror axes (0-based), ascending; empty = no mirroring. */
    private final int[] mirrorAxes;
    /** Axis lists, for one patch {@code [C, spatial...]}, of every subset of {@link #mirrorAxes}; the first is empty. */
    private final int[][] flips;

    private SlidingWindowInference(Builder b, int[] mirrorAxes) {
        this.patchSize = b.patchSize.clone();
        this.overlap = b.overlap;
        this.sigmaScale = b.sigmaScale;
        this.maxPatchesInFlight = b.maxPatchesInFlight;
        this.weighting = b.weighting;
        this.padValue = b.padValue;
        this.dataFormat = b.dataFormat;
        this.mirrorAxes = mirrorAxes;
        this.flips = new int[1 << mirrorAxes.length][];
        for (int subset = 0; subset < flips.length; subset++) {
            flips[subset] = new int[Integer.bitCount(subset)];
            for (int i = 0, j = 0; i < mirrorAxes.length; i++) {
                if ((subset & (1 << i)) != 0) {
                    flips[subset][j++] = mirrorAxes[i] + 1;   // + 1: past the channel axis of a patch
                }
            }
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    public int[] patchSize() {
        return patchSize.clone();
    }

    public double overlap() {
        return overlap;
    }

    public double sigmaScale() {
        return sigmaScale;
    }

    public int maxPatchesInFlight() {
        return maxPatchesInFlight;
    }

    public Weighting weighting() {
        return weighting;
    }

    /** Spatial axes (0-based: 0 = D or H) mirrored at test time, ascending; empty when mirroring is off. */
    public int[] mirrorAxes() {
        return mirrorAxes.clone();
    }

    /** Network passes per window: 2^|mirror axes| (1 without mirroring). */
    public int passesPerWindow() {
        return flips.length;
    }

    /**
     * Window origins along one axis of size {@code size} (≥ 1) for a window of {@code patch} voxels; a single origin
     * 0 when {@code size ≤ patch} (the axis is then padded to the patch).
     */
    public static int[] axisOrigins(long size, int patch, double overlap) {
        if (size <= patch) {
            return new int[] {0};
        }
        // at least one voxel, so that tiny patches with large overlaps do not repeat an origin
        double targetStep = Math.max(1, patch * (1 - overlap));
        // the epsilon keeps an exact multiple (e.g. (s − p)/t = 2) from rounding up to an extra window
        int n = (int) Math.ceil((size - patch) / targetStep - 1e-9) + 1;
        double actualStep = (double) (size - patch) / (n - 1);
        int[] o = new int[n];
        for (int i = 0; i < n; i++) {
            o[i] = (int) Math.round(actualStep * i);
        }
        return o;
    }

    /** All window origins (one row per window, one column per spatial axis) for a volume of the given spatial size. */
    public int[][] windowOrigins(long... spatialShape) {
        checkSpatial(spatialShape);
        int[][] perAxis = new int[spatialShape.length][];
        int total = 1;
        for (int a = 0; a < spatialShape.length; a++) {
            perAxis[a] = axisOrigins(spatialShape[a], patchSize[a], overlap);
            total *= perAxis[a].length;
        }
        int[][] out = new int[total][spatialShape.length];
        for (int w = 0; w < total; w++) {
            int rem = w;
            for (int a = spatialShape.length - 1; a >= 0; a--) {
                out[w][a] = perAxis[a][rem % perAxis[a].length];
                rem /= perAxis[a].length;
            }
        }
        return out;
    }

    /** The importance map w over one patch, {@code [patch...]}, max 1, strictly positive. */
    public INDArray importanceMap(DataType dataType) {
        long[] shape = Arrays.stream(patchSize).asLongStream().toArray();
        if (weighting == Weighting.CONSTANT) {
            return Nd4j.ones(dataType, shape);
        }
        double[][] axis = new double[patchSize.length][];
        for (int a = 0; a < patchSize.length; a++) {
            int p = patchSize[a];
            double c = (p - 1) / 2.0;
            double sigma = sigmaScale * p;
            axis[a] = new double[p];
            for (int i = 0; i < p; i++) {
                axis[a][i] = Math.exp(-(i - c) * (i - c) / (2 * sigma * sigma));
            }
        }
        int total = Arrays.stream(patchSize).reduce(1, (x, y) -> x * y);
        double[] w = new double[total];
        double max = 0;
        for (int v = 0; v < total; v++) {
            int rem = v;
            double value = 1;
            for (int a = patchSize.length - 1; a >= 0; a--) {
                value *= axis[a][rem % patchSize[a]];
                rem /= patchSize[a];
            }
            w[v] = value;
            max = Math.max(max, value);
        }
        for (int v = 0; v < total; v++) {
            w[v] = Math.max(w[v] / max, Float.MIN_NORMAL);
        }
        INDArray exact = Nd4j.create(w, shape, 'c');
        INDArray map = exact.castTo(dataType);
        release(exact, map);
        return map;
    }

    /**
     * Stitched prediction of every example of {@code input}.
     *
     * @param input {@code [N, C, H, W]} or {@code [N, C, D, H, W]}, channels first, with as many spatial axes as the
     *              patch size
     * @return {@code [N, K, spatial...]} with K the network's output channels, in the network's data type
     * @throws IllegalArgumentException for a wrong rank, a channel count the network does not take, or a network
     *                                  whose output is not patch-sized
     */
    public INDArray predict(ComputationGraph net, INDArray input) {
        Objects.requireNonNull(net, "net");
        checkInput(net, input);
        long n = input.size(0);
        if (n == 1) {
            return predictVolume(net, input);
        }
        INDArray[] outs = new INDArray[(int) n];
        for (int i = 0; i < n; i++) {
            outs[i] = predictVolume(net, input.get(NDArrayIndex.interval(i, i + 1)));
        }
        return Nd4j.concat(0, outs);
    }

    /**
     * Streams a data set through the network one volume at a time: each example of each {@link DataSet} is stitched
     * and handed to {@code consumer} with its labels and label mask, then dropped, so memory holds one volume's
     * output plus at most {@code maxPatchesInFlight} patches whatever the data set size. Typical consumers update
     * {@link org.gradsurgery.calibration.CalibrationMetrics} and {@link org.gradsurgery.metrics.SegmentationMetrics}.
     *
     * @return the number of volumes processed
     */
    public long predictEach(ComputationGraph net, Iterator<? extends DataSet> data, VolumeConsumer consumer) {
        Objects.requireNonNull(net, "net");
        Objects.requireNonNull(data, "data");
        Objects.requireNonNull(consumer, "consumer");
        long index = 0;
        while (data.hasNext()) {
            DataSet ds = data.next();
            INDArray x = ds.getFeatures();
            checkInput(net, x);
            for (long i = 0; i < x.size(0); i++) {
                INDArrayIndex one = NDArrayIndex.interval(i, i + 1);
                INDArray probs = predictVolume(net, x.get(one));
                consumer.accept(index++, probs, example(ds.getLabels(), one), example(ds.getLabelsMaskArray(), one));
            }
        }
        return index;
    }

    private static INDArray example(INDArray a, INDArrayIndex one) {
        return a == null ? null : a.get(one);
    }

    /** One volume [1, C, spatial...] → [1, K, spatial...]. */
    private INDArray predictVolume(ComputationGraph net, INDArray volume) {
        int dims = patchSize.length;
        long channels = volume.size(1);
        long[] spatial = Arrays.copyOfRange(volume.shape(), 2, volume.rank());
        long[] padded = new long[dims];
        long[] padBefore = new long[dims];
        boolean needsPad = false;
        for (int a = 0; a < dims; a++) {
            padded[a] = Math.max(spatial[a], patchSize[a]);
            padBefore[a] = (padded[a] - spatial[a]) / 2;
            needsPad |= padded[a] != spatial[a];
        }
        DataType dt = net.getConfiguration().getDataType() == null ? volume.dataType()
                : net.getConfiguration().getDataType();
        INDArray source = volume.castTo(dt);
        if (needsPad) {
            INDArray p = Nd4j.valueArrayOf(prepend(1, channels, padded), padValue, dt);
            p.get(window(padBefore, spatial, true)).assign(source);
            release(source, volume);
            source = p;
        }
        INDArray weights = importanceMap(dt);
        int[][] origins = windowOrigins(padded);
        INDArray acc = null;
        INDArray weightsPerChannel = null;
        INDArray weightSum = Nd4j.zeros(dt, padded);
        long[] patchLong = Arrays.stream(patchSize).asLongStream().toArray();
        long[] origin = new long[dims];
        // job j is window j / |S| flipped by flips[j % |S|]: a window's copies share batches with other windows
        int copies = flips.length;
        int jobs = origins.length * copies;
        for (int start = 0; start < jobs; start += maxPatchesInFlight) {
            int b = Math.min(maxPatchesInFlight, jobs - start);
            INDArray batch = Nd4j.create(dt, prepend(b, channels, patchLong));
            for (int k = 0; k < b; k++) {
                int job = start + k;
                toLong(origins[job / copies], origin);
                INDArray patch = source.get(prependPoint(0, window(origin, patchLong, false)));
                INDArray flipped = flip(patch, flips[job % copies]);
                batch.get(NDArrayIndex.point(k)).assign(flipped);
                release(flipped, patch);
            }
            INDArray out = run(net, batch);
            if (out.rank() != dims + 2 || out.size(0) != b
                    || !Arrays.equals(Arrays.copyOfRange(out.shape(), 2, out.rank()), patchLong)) {
                throw new IllegalArgumentException(OWNER + ": the network maps a patch batch " + shapeOf(batch)
                        + " to " + shapeOf(out) + "; sliding windows need a patch-sized output [" + b
                        + ", K, " + join(patchLong) + "] (a fully convolutional segmentation network)");
            }
            release(batch, null);
            if (acc == null) {
                acc = Nd4j.zeros(dt, prepend(1, out.size(1), padded));
                // each copy carries w/|S|: Σ_s (w/|S|)·F_s⁻¹ f(F_s x) = w·p̂, the window's weight counted once
                weightsPerChannel = weights.reshape(prepend(1, patchLong)).repeat(0, out.size(1));
                if (copies > 1) {
                    weightsPerChannel.divi(copies);
                }
            }
            for (int k = 0; k < b; k++) {
                int job = start + k;
                toLong(origins[job / copies], origin);
                INDArrayIndex[] spatialWindow = window(origin, patchLong, false);
                INDArray own = out.get(NDArrayIndex.point(k));
                // o is out's own slice or a flipped copy: weighted in place (out is used no further)
                INDArray o = flip(own, flips[job % copies]);
                acc.get(prependPoint(0, spatialWindow)).addi(o.muli(weightsPerChannel));
                release(o, own);
                if (job % copies == 0) {
                    weightSum.get(spatialWindow).addi(weights);
                }
            }
            release(out, null);
        }
        // every voxel lies in at least one window and w > 0, so the sum is positive
        INDArray result = acc;
        for (long c = 0; c < acc.size(1); c++) {
            result.get(NDArrayIndex.point(0), NDArrayIndex.point(c)).divi(weightSum);
        }
        release(weightSum, null);
        release(weights, null);
        release(weightsPerChannel, null);
        release(source, volume);
        if (needsPad) {
            result = result.get(window(padBefore, spatial, true)).dup();
            release(acc, null);
        }
        return result;
    }

    /**
     * Frees {@code a} now (unless it is null, {@code keep}, a view or attached to a workspace): the per-window and
     * per-pass arrays of {@link #predictVolume} live outside workspaces, where ND4J frees their native memory only
     * when the garbage collector collects them; inference makes little heap garbage, so without this they piled up
     * to hundreds of MiB (one thread, 128³ volumes, 64³ windows: 674 → 1,145 MiB peak RSS once the normalisation
     * kernels stopped making garbage of their own).
     */
    private static void release(INDArray a, INDArray keep) {
        if (a != null && a != keep && a.closeable()) {
            a.close();
        }
    }

    /** {@code a} ({@code [C, spatial...]}) reversed along {@code axes}; {@code a} itself when there are none. */
    private static INDArray flip(INDArray a, int[] axes) {
        if (axes.length == 0) {
            return a;
        }
        INDArray copy = a.dup('c');
        INDArray flipped = Nd4j.exec(new Reverse(copy, axes))[0];
        release(copy, flipped);
        return flipped;
    }

    /** Runs the network on a channels-first batch, permuting for NHWC networks. */
    private INDArray run(ComputationGraph net, INDArray batch) {
        boolean nhwc = batch.rank() == 4 && layoutOf(net) == CNN2DFormat.NHWC;
        if (!nhwc) {
            return net.output(batch)[0];
        }
        INDArray channelsLast = batch.permute(0, 2, 3, 1).dup('c');
        INDArray out = net.output(channelsLast)[0];
        release(channelsLast, null);
        return out.permute(0, 3, 1, 2);
    }

    private CNN2DFormat layoutOf(ComputationGraph net) {
        if (dataFormat != null) {
            return dataFormat;
        }
        Layer first = firstLayer(net);
        if (first instanceof ConvolutionLayer && ((ConvolutionLayer) first).getCnn2dDataFormat() != null) {
            return ((ConvolutionLayer) first).getCnn2dDataFormat();
        }
        return CNN2DFormat.NCHW;
    }

    /** The layer reading the (single) network input, or null. */
    private static Layer firstLayer(ComputationGraph net) {
        List<String> inputs = net.getConfiguration().getNetworkInputs();
        if (inputs.size() != 1) {
            throw new IllegalArgumentException(OWNER + ": the network must have exactly one input, it has " + inputs);
        }
        for (String name : net.getConfiguration().getVertexInputs().keySet()) {
            List<String> in = net.getConfiguration().getVertexInputs().get(name);
            GraphVertex v = net.getConfiguration().getVertices().get(name);
            if (in.contains(inputs.get(0)) && v instanceof LayerVertex) {
                return ((LayerVertex) v).getLayerConf().getLayer();
            }
        }
        return null;
    }

    private void checkInput(ComputationGraph net, INDArray input) {
        if (input == null) {
            throw new IllegalArgumentException(OWNER + ": input must not be null");
        }
        int dims = patchSize.length;
        if (input.rank() != dims + 2) {
            throw new IllegalArgumentException(OWNER + ": patch size [" + join(patchSize) + "] is " + dims
                    + "D, so the input must be rank " + (dims + 2) + " " + (dims == 2 ? "[N, C, H, W]"
                    : "[N, C, D, H, W]") + " (channels first), got shape " + shapeOf(input));
        }
        if (input.size(0) < 1 || input.length() == 0) {
            throw new IllegalArgumentException(OWNER + ": empty input " + shapeOf(input));
        }
        Layer first = firstLayer(net);
        if (first instanceof Convolution3D && dims == 3
                && ((Convolution3D) first).getDataFormat() != Convolution3D.DataFormat.NCDHW) {
            throw new IllegalArgumentException(OWNER + ": 3D networks must be NCDHW, the first layer is "
                    + ((Convolution3D) first).getDataFormat());
        }
        if (first instanceof org.deeplearning4j.nn.conf.layers.FeedForwardLayer) {
            long nIn = ((org.deeplearning4j.nn.conf.layers.FeedForwardLayer) first).getNIn();
            if (nIn > 0 && nIn != input.size(1)) {
                throw new IllegalArgumentException(OWNER + ": the network takes " + nIn + " input channels, the"
                        + " input has " + input.size(1) + " on axis 1 (shape " + shapeOf(input) + ", channels first"
                        + (dims == 3 ? "; NDHWC volumes must be permuted to NCDHW" : "") + ")");
            }
        }
    }

    private void checkSpatial(long[] spatialShape) {
        if (spatialShape == null || spatialShape.length != patchSize.length) {
            throw new IllegalArgumentException(OWNER + ": spatial shape " + Arrays.toString(spatialShape)
                    + " does not have the " + patchSize.length + " axes of patch size [" + join(patchSize) + "]");
        }
        for (long s : spatialShape) {
            if (s < 1) {
                throw new IllegalArgumentException(OWNER + ": spatial shape " + Arrays.toString(spatialShape)
                        + " has an empty axis");
            }
        }
    }

    /** Index over the spatial window [origin, origin + size) (optionally with leading all() for N and C). */
    private static INDArrayIndex[] window(long[] origin, long[] size, boolean withBatchAndChannels) {
        int off = withBatchAndChannels ? 2 : 0;
        INDArrayIndex[] idx = new INDArrayIndex[origin.length + off];
        for (int i = 0; i < off; i++) {
            idx[i] = NDArrayIndex.all();
        }
        for (int a = 0; a < origin.length; a++) {
            idx[off + a] = NDArrayIndex.interval(origin[a], origin[a] + size[a]);
        }
        return idx;
    }

    /** point(k), all() for the channels, then the spatial window. */
    private static INDArrayIndex[] prependPoint(long k, INDArrayIndex[] spatialWindow) {
        INDArrayIndex[] idx = new INDArrayIndex[spatialWindow.length + 2];
        idx[0] = NDArrayIndex.point(k);
        idx[1] = NDArrayIndex.all();
        System.arraycopy(spatialWindow, 0, idx, 2, spatialWindow.length);
        return idx;
    }

    private static long[] prepend(long first, long... rest) {
        long[] s = new long[rest.length + 1];
        s[0] = first;
        System.arraycopy(rest, 0, s, 1, rest.length);
        return s;
    }

    private static long[] prepend(long a, long b, long[] rest) {
        return prepend(a, prepend(b, rest));
    }

    private static void toLong(int[] in, long[] out) {
        for (int i = 0; i < in.length; i++) {
            out[i] = in[i];
        }
    }

    private static String shapeOf(INDArray a) {
        return Arrays.toString(a.shape());
    }

    private static String join(long[] v) {
        return Arrays.toString(v).replaceAll("[\\[\\]]", "");
    }

    private static String join(int[] v) {
        return Arrays.toString(v).replaceAll("[\\[\\]]", "");
    }

    @Override
    public String toString() {
        return OWNER + "(patchSize=" + Arrays.toString(patchSize) + ", overlap=" + overlap + ", weighting="
                + weighting + (weighting == Weighting.GAUSSIAN ? ", sigmaScale=" + sigmaScale : "")
                + ", maxPatchesInFlight=" + maxPatchesInFlight + ", padValue=" + padValue
                + (dataFormat == null ? "" : ", dataFormat=" + dataFormat)
                + (mirrorAxes.length == 0 ? "" : ", mirrorAxes=" + Arrays.toString(mirrorAxes)) + ")";
    }

    /** Builder; {@code patchSize} is required, the rest have nnU-Net's defaults. */
    public static final class Builder {
        private int[] patchSize;
        private double overlap = 0.5;
        private double sigmaScale = 1.0 / 8;
        private int maxPatchesInFlight = 4;
        private Weighting weighting = Weighting.GAUSSIAN;
        private double padValue = 0;
        private CNN2DFormat dataFormat;
        /** null = every spatial axis of the patch (resolved in build()). */
        private int[] mirrorAxes = new int[0];

        private Builder() {
        }

        /** Window size (H, W) or (D, H, W): the network's training patch, e.g. a multiple of {@link UNet#sizeDivisor()}. */
        public Builder patchSize(int... patchSize) {
            if (patchSize == null || (patchSize.length != 2 && patchSize.length != 3)) {
                throw new IllegalArgumentException(OWNER + ": patchSize needs 2 (H, W) or 3 (D, H, W) values, got "
                        + Arrays.toString(patchSize));
            }
            for (int p : patchSize) {
                if (p < 1) {
                    throw new IllegalArgumentException(OWNER + ": patchSize values must be >= 1, got "
                            + Arrays.toString(patchSize));
                }
            }
            this.patchSize = patchSize.clone();
            return this;
        }

        /** Fraction of a window shared with its neighbour, in [0, 1); default 0.5 (nnU-Net's step 0.5). */
        public Builder overlap(double overlap) {
            if (!(overlap >= 0 && overlap < 1)) {
                throw new IllegalArgumentException(OWNER + ": overlap must be in [0, 1), got " + overlap);
            }
            this.overlap = overlap;
            return this;
        }

        /** σ of the Gaussian as a fraction of the patch size, &gt; 0; default 1/8 (nnU-Net). */
        public Builder sigmaScale(double sigmaScale) {
            if (!(sigmaScale > 0) || Double.isInfinite(sigmaScale)) {
                throw new IllegalArgumentException(OWNER + ": sigmaScale must be a finite value > 0, got "
                        + sigmaScale);
            }
            this.sigmaScale = sigmaScale;
            return this;
        }

        /**
         * Patches run through the network at once (and the most held in memory), ≥ 1; default 4. Mirrored copies
         * count: with 2^k passes per window, a batch holds maxPatchesInFlight (window, flip) pairs.
         */
        public Builder maxPatchesInFlight(int maxPatchesInFlight) {
            if (maxPatchesInFlight < 1) {
                throw new IllegalArgumentException(OWNER + ": maxPatchesInFlight must be >= 1, got "
                        + maxPatchesInFlight);
            }
            this.maxPatchesInFlight = maxPatchesInFlight;
            return this;
        }

        /** Default {@link Weighting#GAUSSIAN}. */
        public Builder weighting(Weighting weighting) {
            this.weighting = Objects.requireNonNull(weighting, "weighting");
            return this;
        }

        /** Value of the padding when the input is smaller than the patch; default 0 (the mean of z-scored images). */
        public Builder padValue(double padValue) {
            this.padValue = padValue;
            return this;
        }

        /** Layout a 2D network expects; default: taken from its first convolution (NCHW when unknown). */
        public Builder dataFormat(CNN2DFormat dataFormat) {
            this.dataFormat = Objects.requireNonNull(dataFormat, "dataFormat");
            return this;
        }

        /**
         * Test-time mirroring along every spatial axis of the patch (true: 4 passes per window in 2D, 8 in 3D), or
         * none (false, the default). See the class doc; {@link #mirrorAxes} picks a subset of the axes instead.
         */
        public Builder mirroring(boolean on) {
            this.mirrorAxes = on ? null : new int[0];
            return this;
        }

        /**
         * Test-time mirroring along these spatial axes only (0-based, not counting N and C: 0..1 in 2D (H, W), 0..2
         * in 3D (D, H, W)); 2^k passes per window for k axes; none = off. Checked against the patch size in
         * {@link #build}.
         */
        public Builder mirrorAxes(int... axes) {
            this.mirrorAxes = Objects.requireNonNull(axes, "axes").clone();
            return this;
        }

        public SlidingWindowInference build() {
            if (patchSize == null) {
                throw new IllegalArgumentException(OWNER + ": patchSize is required (the network's training patch)");
            }
            return new SlidingWindowInference(this, resolveMirrorAxes());
        }

        private int[] resolveMirrorAxes() {
            int dims = patchSize.length;
            if (mirrorAxes == null) {
                return java.util.stream.IntStream.range(0, dims).toArray();
            }
            boolean[] seen = new boolean[dims];
            for (int a : mirrorAxes) {
                if (a < 0 || a >= dims) {
                    throw new IllegalArgumentException(OWNER + ": mirror axis " + a + " is not a spatial axis: patch "
                            + "size [" + join(patchSize) + "] is " + dims + "D, so inputs are rank " + (dims + 2) + " "
                            + (dims == 2 ? "[N, C, H, W]" : "[N, C, D, H, W]") + " and mirror axes are 0.." + (dims - 1)
                            + " (spatial, not counting N and C)");
                }
                if (seen[a]) {
                    throw new IllegalArgumentException(OWNER + ": mirror axis " + a + " is listed twice in "
                            + Arrays.toString(mirrorAxes));
                }
                seen[a] = true;
            }
            return java.util.stream.IntStream.range(0, dims).filter(a -> seen[a]).toArray();
        }
    }
}
