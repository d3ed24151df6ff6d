package org.gradsurgery.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.ObjectMapper;

/**
 * One-call loaders for the prepared data sets in the repository's {@code datasets/} folder.
 *
 * <p>They take the {@code datasets/} folder as an argument; finding it from the working directory is the examples
 * module's business (its {@code DemoData}).
 */
public final class Datasets {
    /** Folder of the demo data set inside {@code datasets/}. */
    public static final String COLIN27_DEEPGM = "colin27-deepgm";

    private Datasets() {
    }

    /** {@link #colin27DeepGm(Path, int)} at full resolution (96 × 96 slices). */
    public static Colin27DeepGm colin27DeepGm(Path datasetsDir) throws IOException {
        return colin27DeepGm(datasetsDir, 1);
    }

    /**
     * The demo data: axial slices of the Colin27 T1 with 5 deep-grey-matter classes (see
     * {@code datasets/colin27-deepgm/README.md}). Steps: load {@code image.nii.gz}/{@code label.nii.gz}; z-score the
     * T1 over the whole crop (it has no background); optionally resample in-plane to {@code inPlaneDownsample} times
     * the spacing (linear image, nearest label); cut axial slices (axis 2); split by {@code split.json} into the
     * training slices and the held-out contiguous validation slab.
     *
     * @param datasetsDir       the {@code datasets/} folder
     * @param inPlaneDownsample 1 (96 × 96) or 2 (48 × 48, for smoke runs)
     */
    public static Colin27DeepGm colin27DeepGm(Path datasetsDir, int inPlaneDownsample) throws IOException {
        if (inPlaneDownsample != 1 && inPlaneDownsample != 2) {
            throw new IllegalArgumentException("colin27DeepGm: inPlaneDownsample must be 1 or 2, got " + inPlaneDownsample);
        }
        Path dir = datasetsDir.resolve(COLIN27_DEEPGM);
        for (String f : new String[]{"image.nii.gz", "label.nii.gz", "labels.json", "split.json"}) {
            if (!Files.isRegularFile(dir.resolve(f))) {
                throw new IllegalArgumentException("colin27DeepGm: missing " + dir.resolve(f)
                        + " (rebuild with datasets/colin27-deepgm/prepare.py)");
            }
        }
        ObjectMapper om = new ObjectMapper();
        JsonNode split = om.readTree(dir.resolve("split.json").toFile());
        JsonNode labels = om.readTree(dir.resolve("labels.json").toFile());
        int axis = split.get("axis").asInt();
        int first = split.get("validation").get("firstSlice").asInt();
        int last = split.get("validation").get("lastSlice").asInt();
        List<String> names = new ArrayList<>();
        for (JsonNode c : labels.get("classes")) {
            if (c.get("id").asInt() != names.size()) {
                throw new IllegalArgumentException(dir.resolve("labels.json") + ": class ids must be 0..K-1 in order");
            }
            names.add(c.get("name").asText());
        }
        Sample volume = Case.of("colin27", dir.resolve("image.nii.gz"), dir.resolve("label.nii.gz")).load();
        Transform prep = Preprocessing.zScore(Preprocessing.NormalizationRegion.ALL);
        if (inPlaneDownsample != 1) {
            double[] sp = volume.spacing();
            sp[(axis + 1) % 3] *= inPlaneDownsample;
            sp[(axis + 2) % 3] *= inPlaneDownsample;
            prep = prep.then(Preprocessing.resample(sp));
        }
        Sample s = prep.apply(volume, new java.util.SplittableRandom(0));
        int n = s.shape()[axis];
        if (first < 0 || last >= n || first > last) {
            throw new IllegalArgumentException(dir.resolve("split.json") + ": validation slab [" + first + ", " + last
                    + "] outside 0.." + (n - 1));
        }
        List<Sample> train = new ArrayList<>();
        List<Sample> val = new ArrayList<>();
        int[] trainIdx = new int[n - (last - first + 1)];
        int[] valIdx = new int[last - first + 1];
        int t = 0;
        int v = 0;
        for (Sample slice : Preprocessing.slices(s, axis)) {
            int z = train.size() + val.size();
            if (z >= first && z <= last) {
                val.add(slice);
                valIdx[v++] = z;
            } else {
                train.add(slice);
                trainIdx[t++] = z;
            }
        }
        DataSet tr = SegmentationDataSetIterator.toDataSet(train, names.size());
        DataSet va = SegmentationDataSetIterator.toDataSet(val, names.size());
        double[] sp = train.get(0).spacing();
        return new Colin27DeepGm(tr.getFeatures(), tr.getLabels(), va.getFeatures(), va.getLabels(), sp,
                List.copyOf(names), trainIdx, valIdx, axis, List.copyOf(train), List.copyOf(val));
    }

    /**
     * The demo data in memory: features float32 {@code [N, 1, H, W]} (z-scored T1), labels one-hot float32
     * {@code [N, 5, H, W]}, the in-plane spacing (mm, per H and W), class names, and which slice of the crop each
     * example is.
     */
    public record Colin27DeepGm(INDArray trainFeatures, INDArray trainLabels, INDArray validationFeatures,
                                INDArray validationLabels, double[] spacing, List<String> classNames,
                                int[] trainSlices, int[] validationSlices, int sliceAxis,
                                List<Sample> trainSamples, List<Sample> validationSamples) {
        public int numClasses() {
            return classNames.size();
        }

        /**
         * The training slices as a shuffling, seeded iterator with {@code augment} applied per example and epoch
         * (e.g. {@code Augmentation.randomFlip(0.5, 1)}; keep shapes square-safe: 96 × 96 slices may rotate).
         */
        public SegmentationDataSetIterator trainIterator(int batchSize, long seed, Transform augment) {
            return SegmentationDataSetIterator.builder().samples(trainSamples).numClasses(numClasses())
                    .batchSize(batchSize).seed(seed).augment(augment).build();
        }

        /** Training slices as one DataSet. */
        public DataSet train() {
            return new DataSet(trainFeatures, trainLabels);
        }

        /** Held-out slab as one DataSet. */
        public DataSet validation() {
            return new DataSet(validationFeatures, validationLabels);
        }

        @Override
        public double[] spacing() {
            return spacing.clone();
        }

        @Override
        public int[] trainSlices() {
            return trainSlices.clone();
        }

        @Override
        public int[] validationSlices() {
            return validationSlices.clone();
        }
    }
}
