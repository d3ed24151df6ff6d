package org.gradsurgery.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.SplittableRandom;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.AsyncDataSetIterator;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Turns image/label cases into mini-batches for a segmentation network: features float32 {@code [N, C, H, W]} (2D)
 * or {@code [N, C, D, H, W]} (3D, spatial axes in file order), labels one-hot float32 {@code [N, K, spatial…]} —
 * the input of a U-Net ending in a softmax {@code SegmentationLossLayer} / {@code CnnLossLayer}.
 *
 * <p>Per case: load ({@link Case#load()}), remap labels ({@link LabelMap}), run the deterministic
 * {@code preprocess} transform (cached in memory by default), then per example and epoch cut the example and run the
 * random {@code augment} transform. Examples are
 * <ul>
 *   <li>{@link Mode#WHOLE}: one per case (cases in a batch must end up with the same shape);</li>
 *   <li>{@link Mode#SLICES}: every 2D slice along an axis of every case (optionally only slices with foreground);</li>
 *   <li>{@link Mode#PATCHES}: {@code patchesPerCase} random patches per case and epoch from a {@link PatchSampler}
 *       (the last ⅓ of each batch on foreground, as nnU-Net).</li>
 * </ul>
 *
 * <p>Reproducibility: example j of epoch e draws from {@code SplittableRandom(mix(seed, e, j))} and the epoch's order
 * from {@code SplittableRandom(mix(seed, e, −1))}, so a run is fully determined by the seed, whatever thread
 * prefetches it. {@link #reset()} starts the next epoch.
 *
 * <p>Prefetch: {@link #async()} wraps the iterator in DL4J's {@link AsyncDataSetIterator} with a queue of
 * {@link #DEFAULT_PREFETCH} batches (workspaces off, so batches stay valid after the next call). DL4J's
 * {@code fit(DataSetIterator)} also prefetches on its own since {@link #asyncSupported()} is true.
 */
public final class SegmentationDataSetIterator implements DataSetIterator {
    private static final long serialVersionUID = 1L;
    private static final Logger LOG = LoggerFactory.getLogger(SegmentationDataSetIterator.class);

    /**
     * Default prefetch queue length of {@link #async()}: 4 batches. DL4J's own default is 8; segmentation batches are
     * large (a 3D batch of 2 × 128³ patches with 4 classes is about 100 MB), and 4 already hides loading behind a
     * training step of the same order of cost.
     */
    public static final int DEFAULT_PREFETCH = 4;

    /** How cases become examples. */
    public enum Mode { WHOLE, SLICES, PATCHES }

    private final List<Case> cases;
    private final List<Sample> inMemory;
    private final LabelMap labelMap;
    private final Transform preprocess;
    private final Transform augment;
    private final int numClasses;
    private final int batchSize;
    private final Mode mode;
    private final int sliceAxis;
    private final boolean foregroundSlicesOnly;
    private final PatchSampler patchSampler;
    private final int patchesPerCase;
    private final boolean shuffle;
    private final long seed;
    private final boolean cache;

    private final Sample[] prepared;
    private final List<long[]> examples = new ArrayList<>(); // {case, slice or patch number}
    private int[] order;
    private int cursor;
    private int epoch;
    private DataSetPreProcessor preProcessor;
    private int lastCase = -1;
    private Sample lastSample;

    private SegmentationDataSetIterator(Builder b) {
        this.cases = b.cases;
        this.inMemory = b.samples;
        this.labelMap = b.labelMap;
        this.preprocess = b.preprocess;
        this.augment = b.augment;
        this.batchSize = b.batchSize;
        this.mode = b.mode;
        this.sliceAxis = b.sliceAxis;
        this.foregroundSlicesOnly = b.foregroundSlicesOnly;
        this.patchSampler = b.patchSampler;
        this.patchesPerCase = b.patchesPerCase;
        this.shuffle = b.shuffle;
        this.seed = b.seed;
        this.cache = b.cache || b.samples != null;
        this.numClasses = b.numClasses > 0 ? b.numClasses : labelMap != null ? labelMap.numClasses() : 0;
        if (numClasses < 1) {
            throw new IllegalArgumentException("SegmentationDataSetIterator: set numClasses (or a LabelMap)");
        }
        int n = size();
        this.prepared = new Sample[n];
        for (int c = 0; c < n; c++) {
            Sample s = null;
            if (cache || mode == Mode.SLICES) {
                s = prepare(c);
                if (cache) {
                    prepared[c] = s;
                }
                if ((c + 1) % 10 == 0 || c + 1 == n) {
                    LOG.info("prepared {}/{} cases", c + 1, n);
                }
            }
            addExamples(c, s);
        }
        if (examples.isEmpty()) {
            throw new IllegalArgumentException("SegmentationDataSetIterator: no examples (" + n + " cases, mode " + mode
                    + (foregroundSlicesOnly ? ", foreground slices only" : "") + ")");
        }
        startEpoch();
    }

    private int size() {
        return inMemory != null ? inMemory.size() : cases.size();
    }

    private String caseName(int c) {
        return inMemory != null ? inMemory.get(c).id() : cases.get(c).id();
    }

    private void addExamples(int c, Sample s) {
        switch (mode) {
            case WHOLE -> examples.add(new long[]{c, 0});
            case PATCHES -> {
                for (int p = 0; p < patchesPerCase; p++) {
                    examples.add(new long[]{c, p});
                }
            }
            case SLICES -> {
                if (s.spatialRank() != 3) {
                    throw new IllegalArgumentException("SLICES mode needs 3D cases; " + caseName(c) + " has shape "
                            + Arrays.toString(s.shape()));
                }
                int[] shape = s.rawShape();
                int[] st = Grid.strides(shape);
                for (int z = 0; z < shape[sliceAxis]; z++) {
                    if (foregroundSlicesOnly && !sliceHasForeground(s, shape, st, z)) {
                        continue;
                    }
                    examples.add(new long[]{c, z});
                }
            }
            default -> throw new IllegalStateException();
        }
    }

    private boolean sliceHasForeground(Sample s, int[] shape, int[] st, int z) {
        int a = sliceAxis == 0 ? 1 : 0;
        int b = sliceAxis == 2 ? 1 : 2;
        int[] lab = s.rawLabel();
        for (int i = 0; i < shape[a]; i++) {
            for (int j = 0; j < shape[b]; j++) {
                if (lab[z * st[sliceAxis] + i * st[a] + j * st[b]] > 0) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Load, remap and preprocess case c. */
    private Sample prepare(int c) {
        if (prepared != null && prepared[c] != null) {
            return prepared[c];
        }
        if (c == lastCase) {
            return lastSample;
        }
        Sample s;
        if (inMemory != null) {
            s = inMemory.get(c);
        } else {
            try {
                s = cases.get(c).load();
            } catch (IOException e) {
                throw new UncheckedIOException("cannot load case " + cases.get(c).id() + ": " + e.getMessage(), e);
            }
        }
        if (!s.hasLabel()) {
            throw new IllegalArgumentException("case " + s.id() + " has no label map");
        }
        String what = inMemory == null && cases.get(c).label() != null ? cases.get(c).label().toString()
                : "case " + s.id();
        if (labelMap != null) {
            s = s.withLabel(labelMap.apply(s.rawLabel(), what));
        }
        Labels.checkClassRange(s.rawLabel(), s.rawShape(), numClasses, what);
        s = preprocess.apply(s, new SplittableRandom(mix(seed, -1, c)));
        lastCase = c;
        lastSample = s;
        return s;
    }

    static long mix(long seed, long a, long b) {
        long h = seed * 0x9E3779B97F4A7C15L + a * 0xC2B2AE3D27D4EB4FL + b * 0x165667B19E3779F9L;
        h ^= h >>> 31;
        h *= 0xBF58476D1CE4E5B9L;
        return h ^ (h >>> 29);
    }

    private void startEpoch() {
        order = new int[examples.size()];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        if (shuffle) {
            SplittableRandom r = new SplittableRandom(mix(seed, epoch, -1));
            for (int i = order.length - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                int t = order[i];
                order[i] = order[j];
                order[j] = t;
            }
        }
        cursor = 0;
    }

    /** The example at position j of the current epoch, before batching. */
    private Sample example(int j, int positionInBatch, int batchLength) {
        long[] ex = examples.get(order[j]);
        int c = (int) ex[0];
        Sample s = prepare(c);
        SplittableRandom rng = new SplittableRandom(mix(seed, epoch, j));
        Sample out = switch (mode) {
            case WHOLE -> s;
            case SLICES -> Preprocessing.slices(s, sliceAxis, (int) ex[1], (int) ex[1] + 1).get(0);
            case PATCHES -> patchSampler.sample(s, rng, patchSampler.isForeground(positionInBatch, batchLength));
        };
        return augment.apply(out, rng);
    }

    @Override
    public boolean hasNext() {
        return cursor < order.length;
    }

    @Override
    public DataSet next() {
        return next(batchSize);
    }

    @Override
    public DataSet next(int num) {
        if (!hasNext()) {
            throw new NoSuchElementException("epoch " + epoch + " is over; call reset()");
        }
        int n = Math.min(num, order.length - cursor);
        List<Sample> batch = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            batch.add(example(cursor + i, i, n));
        }
        cursor += n;
        DataSet ds = toDataSet(batch, numClasses);
        if (preProcessor != null) {
            preProcessor.preProcess(ds);
        }
        return ds;
    }

    /**
     * Stacks samples into features {@code [N, C, spatial…]} and one-hot labels {@code [N, K, spatial…]}. Samples of
     * different sizes (2D slices of volumes with different in-plane sizes) are padded, centred, to the largest size
     * in the batch along each axis by edge replication ({@link Preprocessing.Padding#EDGE}); the padded border is
     * trained on, never scored (evaluation works per case on its own grid).
     *
     * @throws IllegalArgumentException naming two samples whose channel counts or spatial ranks differ
     */
    public static DataSet toDataSet(List<Sample> batch, int numClasses) {
        Sample first = batch.get(0);
        int[] shape = first.rawShape().clone();
        int c = first.channels();
        for (Sample s : batch) {
            if (s.spatialRank() != shape.length || s.channels() != c) {
                throw new IllegalArgumentException("cannot batch " + first.id() + " (" + c + " x "
                        + Arrays.toString(first.rawShape()) + ") with " + s.id() + " (" + s.channels() + " x "
                        + Arrays.toString(s.rawShape()) + "): every case needs the same number of channels and "
                        + "spatial axes");
            }
            for (int d = 0; d < shape.length; d++) {
                shape[d] = Math.max(shape[d], s.rawShape()[d]);
            }
        }
        List<Sample> same = new ArrayList<>(batch.size());
        for (Sample s : batch) {
            same.add(Preprocessing.padTo(s, shape, Preprocessing.Padding.EDGE));
        }
        batch = same;
        first = batch.get(0);
        int n = first.voxels();
        for (Sample s : batch) {
            if (!s.hasLabel()) {
                throw new IllegalArgumentException("sample " + s.id() + " has no label map");
            }
        }
        float[] f = new float[batch.size() * c * n];
        float[] l = new float[batch.size() * numClasses * n];
        for (int e = 0; e < batch.size(); e++) {
            Sample s = batch.get(e);
            System.arraycopy(s.rawImage(), 0, f, e * c * n, c * n);
            Labels.oneHotInto(s.rawLabel(), numClasses, l, e * numClasses * n, s.id());
        }
        long[] fs = new long[shape.length + 2];
        long[] ls = new long[shape.length + 2];
        fs[0] = batch.size();
        ls[0] = batch.size();
        fs[1] = c;
        ls[1] = numClasses;
        for (int d = 0; d < shape.length; d++) {
            fs[d + 2] = shape[d];
            ls[d + 2] = shape[d];
        }
        INDArray features = Nd4j.create(f, fs, 'c');
        INDArray labels = Nd4j.create(l, ls, 'c');
        return new DataSet(features, labels);
    }

    /** Number of examples per epoch. */
    public int numExamples() {
        return examples.size();
    }

    /** Ids of the cases, in input order. */
    public List<String> caseIds() {
        List<String> ids = new ArrayList<>();
        for (int c = 0; c < size(); c++) {
            ids.add(caseName(c));
        }
        return ids;
    }

    /** The current epoch (0 until the first {@link #reset()}). */
    public int epoch() {
        return epoch;
    }

    /** This iterator behind DL4J's {@link AsyncDataSetIterator} with {@link #DEFAULT_PREFETCH} batches queued. */
    public DataSetIterator async() {
        return async(DEFAULT_PREFETCH);
    }

    /** This iterator behind DL4J's {@link AsyncDataSetIterator} with {@code queueSize} batches queued (≥ 2). */
    public DataSetIterator async(int queueSize) {
        return new AsyncDataSetIterator(this, checkQueueSize(queueSize), false);
    }

    static int checkQueueSize(int queueSize) {
        if (queueSize < 2) {
            throw new IllegalArgumentException("async: queue size must be >= 2, got " + queueSize);
        }
        return queueSize;
    }

    /** Channels of the first prepared case. */
    @Override
    public int inputColumns() {
        return prepare(0).channels();
    }

    @Override
    public int totalOutcomes() {
        return numClasses;
    }

    @Override
    public boolean resetSupported() {
        return true;
    }

    @Override
    public boolean asyncSupported() {
        return true;
    }

    /** Starts the next epoch (a new shuffle and new augmentation draws). */
    @Override
    public void reset() {
        epoch++;
        startEpoch();
    }

    @Override
    public int batch() {
        return batchSize;
    }

    @Override
    public void setPreProcessor(DataSetPreProcessor preProcessor) {
        this.preProcessor = preProcessor;
    }

    @Override
    public DataSetPreProcessor getPreProcessor() {
        return preProcessor;
    }

    @Override
    public List<String> getLabels() {
        return null;
    }

    @Override
    public String toString() {
        return "SegmentationDataSetIterator{" + size() + " cases, " + examples.size() + " examples, mode " + mode
                + ", batch " + batchSize + ", classes " + numClasses + ", seed " + seed + "}";
    }

    public static Builder builder() {
        return new Builder();
    }

    /** Builder; {@code cases} (or {@code samples}) and {@code numClasses} (or a label map) are required. */
    public static final class Builder {
        private List<Case> cases;
        private List<Sample> samples;
        private LabelMap labelMap;
        private Transform preprocess = Transform.identity();
        private Transform augment = Transform.identity();
        private int numClasses;
        private int batchSize = 1;
        private Mode mode = Mode.WHOLE;
        private int sliceAxis = 2;
        private boolean foregroundSlicesOnly;
        private PatchSampler patchSampler;
        private int patchesPerCase;
        private boolean shuffle = true;
        private long seed = 42;
        private boolean cache = true;

        /** Cases to load from disk. */
        public Builder cases(List<Case> cases) {
            this.cases = List.copyOf(cases);
            this.samples = null;
            return this;
        }

        /** Samples already in memory (label maps required). */
        public Builder samples(List<Sample> samples) {
            this.samples = List.copyOf(samples);
            this.cases = null;
            return this;
        }

        /** Raw label codes → classes; also sets {@code numClasses} unless given. */
        public Builder labelMap(LabelMap map) {
            this.labelMap = map;
            return this;
        }

        /** Deterministic per-case preprocessing (run once per case when cached). */
        public Builder preprocess(Transform t) {
            this.preprocess = Objects.requireNonNull(t);
            return this;
        }

        /** Random per-example augmentation (run on every example of every epoch). */
        public Builder augment(Transform t) {
            this.augment = Objects.requireNonNull(t);
            return this;
        }

        public Builder numClasses(int k) {
            this.numClasses = k;
            return this;
        }

        public Builder batchSize(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("batchSize must be >= 1, got " + n);
            }
            this.batchSize = n;
            return this;
        }

        /** One example per case (the default). */
        public Builder wholeVolumes() {
            this.mode = Mode.WHOLE;
            return this;
        }

        /** 2D slices along {@code axis} of 3D cases; {@code foregroundOnly} drops slices without label &gt; 0. */
        public Builder slices(int axis, boolean foregroundOnly) {
            if (axis < 0 || axis > 2) {
                throw new IllegalArgumentException("slice axis must be 0, 1 or 2, got " + axis);
            }
            this.mode = Mode.SLICES;
            this.sliceAxis = axis;
            this.foregroundSlicesOnly = foregroundOnly;
            return this;
        }

        /** {@code perCase} random patches per case and epoch. */
        public Builder patches(PatchSampler sampler, int perCase) {
            if (perCase < 1) {
                throw new IllegalArgumentException("patches per case must be >= 1, got " + perCase);
            }
            this.mode = Mode.PATCHES;
            this.patchSampler = Objects.requireNonNull(sampler);
            this.patchesPerCase = perCase;
            return this;
        }

        public Builder shuffle(boolean s) {
            this.shuffle = s;
            return this;
        }

        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        /**
         * Keep preprocessed cases in memory (default true). With false a case is loaded again for each example (the
         * last one is remembered), which suits large 3D data sets in PATCHES mode.
         */
        public Builder cache(boolean c) {
            this.cache = c;
            return this;
        }

        /** Loads (when caching) and indexes the cases. */
        public SegmentationDataSetIterator build() {
            if (cases == null && samples == null) {
                throw new IllegalArgumentException("SegmentationDataSetIterator: set cases(...) or samples(...)");
            }
            if ((cases != null && cases.isEmpty()) || (samples != null && samples.isEmpty())) {
                throw new IllegalArgumentException("SegmentationDataSetIterator: no cases");
            }
            return new SegmentationDataSetIterator(this);
        }
    }
}
