package org.gradsurgery.experiment;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.gradsurgery.InvalidSettingException;
import org.nd4j.shade.jackson.annotation.JsonAlias;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonInclude;
import org.nd4j.shade.jackson.annotation.JsonProperty;
import org.nd4j.shade.jackson.annotation.JsonSubTypes;
import org.nd4j.shade.jackson.annotation.JsonTypeInfo;
import org.nd4j.shade.jackson.annotation.JsonValue;

/**
 * How a run gets its examples: where the cases come from ({@link Source}), how they become network inputs and which
 * of them train, validate and test. Immutable and validated; its JSON is the {@code data} section of a run's
 * {@code config.json}. A null setting means "from the data or the default" and is filled in when the plan is
 * resolved against its data ({@code ExperimentData.prepare}); the resolved plan, with the split's case ids and any
 * fitted intensity statistics, is what a run records, so {@code evaluate}, {@code predict} and {@code train --resume}
 * see the same cases, preprocessed the same way.
 *
 * <p>Per case, in order (nnU-Net's): raw label codes → classes ({@code labelGrouping}, k ↦ g(k), a code it does not
 * list ↦ {@code unlistedLabels}, or an error when that is unset); with {@code cropToNonzero}, the bounding box of the
 * non-zero image voxels (and z-scoring over those voxels only); intensity normalisation ({@link Intensity});
 * resampling to {@code spacing} (image linear, label nearest); then per example either a 2D slice along
 * {@code sliceAxis} (padded to a multiple of 2^(levels−1)), the whole 2D image, or (3D) a random {@code patchSize}
 * patch, ⅓ of them centred on foreground; training examples get the {@link Augmentation}. With {@code commonPadding}
 * (a study's layout) every case is instead padded at the high end of each axis the network sees, with its minimum
 * intensity and label 0, to one common size: the largest case of the source rounded up to a multiple of
 * 2^(levels−1) ({@code paddedSize}, recorded when the plan is resolved); 3D then trains on whole padded volumes, 2D
 * on the slices or images of the padded cases, and every evaluated case is padded the same way (to at least
 * {@code paddedSize}) and the padding cut off before scoring.
 *
 * <p>Defaults (here only): dims = the images' rank, patchSize {@value #DEFAULT_PATCH}³, {@value #DEFAULT_PATCHES_PER_CASE}
 * patches per case, sliceAxis {@value #DEFAULT_SLICE_AXIS}, intensity zscore, no resampling, augmentation none,
 * labels used as they are, no cropping, no common padding, validation fraction {@value #DEFAULT_VALIDATION_FRACTION}
 * drawn with the experiment's seed.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record DataPlan(@JsonProperty("source") Source source,
                       @JsonProperty("dims") Integer dims,
                       @JsonProperty("patchSize") int[] patchSize,
                       @JsonProperty("patchesPerCase") Integer patchesPerCase,
                       @JsonProperty("sliceAxis") Integer sliceAxis,
                       @JsonProperty("intensity") Intensity intensity,
                       @JsonProperty("intensityStatistics") List<IntensityStatistics> intensityStatistics,
                       @JsonProperty("spacing") double[] spacing,
                       @JsonProperty("augmentation") Augmentation augmentation,
                       @JsonProperty("flipAxes") int[] flipAxes,
                       @JsonProperty("labelGrouping") Map<Long, Integer> labelGrouping,
                       @JsonProperty("unlistedLabels") Integer unlistedLabels,
                       @JsonProperty("numClasses") Integer numClasses,
                       @JsonProperty("classNames") List<String> classNames,
                       @JsonProperty("cropToNonzero") Boolean cropToNonzero,
                       @JsonProperty("commonPadding") Boolean commonPadding,
                       @JsonProperty("paddedSize") int[] paddedSize,
                       @JsonProperty("split") Split split) {
    public static final int DEFAULT_PATCH = 64;
    public static final int DEFAULT_PATCHES_PER_CASE = 4;
    public static final int DEFAULT_SLICE_AXIS = 2;
    public static final double DEFAULT_VALIDATION_FRACTION = 0.2;
    private static final String OWNER = "DataPlan";

    /** Intensity normalisation per case and channel. */
    public enum Intensity {
        /** (x − mean) / std over all voxels of the case. */
        ZSCORE,
        /**
         * nnU-Net's CT scheme: clip to the 0.5/99.5 percentiles of the training cases' foreground, subtract its mean,
         * divide by its std; the statistics are fitted once and recorded ({@code intensityStatistics}).
         */
        CT,
        /** Per case: clip to its own 0.5/99.5 percentiles, then z-score. */
        PERCENTILE,
        /** As the source gives it (a source that normalises itself, e.g. the bundled demo data). */
        NONE;

        /** The JSON and command-line name: {@code zscore}, {@code ct}, {@code percentile}, {@code none}. */
        @JsonValue
        public String specName() {
            return name().toLowerCase(Locale.ROOT);
        }

        /** The scheme named {@code name} (any case). */
        @JsonCreator
        public static Intensity parse(String name) {
            return parseEnum(Intensity.class, "intensity", name);
        }
    }

    /** Random training augmentation per example and epoch. */
    public enum Augmentation {
        NONE,
        /** Each flip axis (all spatial axes unless {@code flipAxes}) mirrored with probability 0.5. */
        FLIPS,
        /** FLIPS, brightness × U[0.75, 1.25] (p 0.15) and gamma U[0.7, 1.5] (p 0.3), as nnU-Net's defaults. */
        NNUNET_LITE;

        /** The JSON and command-line name: {@code none}, {@code flips}, {@code nnunet-lite}. */
        @JsonValue
        public String specName() {
            return name().toLowerCase(Locale.ROOT).replace('_', '-');
        }

        @JsonCreator
        public static Augmentation parse(String name) {
            return parseEnum(Augmentation.class, "augmentation", name);
        }
    }

    static <E extends Enum<E>> E parseEnum(Class<E> type, String setting, String name) {
        String n = name == null ? "" : name.trim().toUpperCase(Locale.ROOT).replace('-', '_');
        for (E e : type.getEnumConstants()) {
            if (e.name().equals(n)) {
                return e;
            }
        }
        throw new InvalidSettingException(null, setting, "must be one of " + String.join(", ",
                Arrays.stream(type.getEnumConstants()).map(e -> e.name().toLowerCase(Locale.ROOT).replace('_', '-'))
                        .toList()) + ", got " + name);
    }

    /** Fitted statistics of one channel for {@link Intensity#CT}, under nnU-Net's names. */
    public record IntensityStatistics(@JsonProperty("mean") double mean, @JsonProperty("std") double std,
                                      @JsonProperty("percentile_00_5") double percentile005,
                                      @JsonProperty("percentile_99_5") double percentile995) {
        @JsonCreator
        public IntensityStatistics {
        }
    }

    /**
     * Which cases train, validate and test. Given lists (e.g. read from a split file with {@link #read}) are used as
     * they are. Otherwise, with counts, the sorted case ids are shuffled by {@code java.util.Random(seed)} and the
     * first {@code trainingCases}, the next {@code validationCases}, then {@code testCases} are taken (the rest
     * unused; a study's split); without counts the cases are shuffled with {@code seed} and
     * ⌈{@code validationFraction}·n⌉ of them validate, the rest train. {@code seed} null = the experiment's;
     * {@code test} lists cases that neither train nor validate (for a final evaluation). Split files may name the
     * training list {@code train} (a study's older split.json).
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Split(@JsonProperty("validationFraction") Double validationFraction,
                        @JsonProperty("trainingCases") Integer trainingCases,
                        @JsonProperty("validationCases") Integer validationCases,
                        @JsonProperty("testCases") Integer testCases,
                        @JsonProperty("seed") Long seed,
                        @JsonAlias("train") @JsonProperty("training") List<String> training,
                        @JsonProperty("validation") List<String> validation,
                        @JsonProperty("test") List<String> test) {
        @JsonCreator
        public Split {
            if ((trainingCases == null) != (validationCases == null) || (trainingCases == null) != (testCases == null)) {
                throw new InvalidSettingException(OWNER, "split", "counts go together: trainingCases, "
                        + "validationCases and testCases");
            }
            if (trainingCases != null && (trainingCases < 1 || validationCases < 1 || testCases < 1)) {
                throw new InvalidSettingException(OWNER, "split", "needs trainingCases, validationCases and testCases "
                        + ">= 1, got " + trainingCases + "/" + validationCases + "/" + testCases);
            }
            if (trainingCases != null && validationFraction != null) {
                throw new InvalidSettingException(OWNER, "validationFraction", "and case counts exclude each other");
            }
            if (validationFraction != null && !(validationFraction > 0 && validationFraction < 1)) {
                throw new InvalidSettingException(OWNER, "validationFraction", "must be in (0, 1): the run is "
                        + "evaluated on the held-out cases, got " + validationFraction);
            }
            training = training == null ? null : List.copyOf(training);
            validation = validation == null ? null : List.copyOf(validation);
            test = test == null ? null : List.copyOf(test);
            if ((training == null) != (validation == null)) {
                throw new InvalidSettingException(OWNER, "split", "lists training and validation cases together "
                        + "or neither");
            }
            if (training != null) {
                if (training.isEmpty() || validation.isEmpty()) {
                    throw new InvalidSettingException(OWNER, "split", "needs at least one training and one "
                            + "validation case");
                }
                java.util.Set<String> seen = new java.util.HashSet<>();
                for (List<String> l : test == null ? List.of(training, validation)
                        : List.of(training, validation, test)) {
                    for (String id : l) {
                        if (!seen.add(id)) {
                            throw new InvalidSettingException(OWNER, "split", "names case " + id + " twice");
                        }
                    }
                }
            }
        }

        /** A split drawn by fraction and seed. */
        public static Split byFraction(double validationFraction, Long seed) {
            return new Split(validationFraction, null, null, null, seed, null, null, null);
        }

        /** A split drawn by case counts and seed (see the record's documentation). */
        public static Split byCounts(int training, int validation, int test, Long seed) {
            return new Split(null, training, validation, test, seed, null, null, null);
        }

        /** The given case lists. */
        public static Split of(List<String> training, List<String> validation, List<String> test) {
            return new Split(null, null, null, null, null, training, validation, test);
        }

        /** This split's drawing rule (fraction or counts, seed) with the drawn lists. */
        public Split withLists(List<String> training, List<String> validation, List<String> test) {
            return new Split(validationFraction, trainingCases, validationCases, testCases, seed, training, validation,
                    test);
        }

        /** Whether cases are drawn by counts. */
        public boolean byCounts() {
            return trainingCases != null;
        }

        /** Whether the case lists are given (rather than drawn). */
        public boolean listed() {
            return training != null;
        }

        /** The validation fraction to draw with (the default when none is set). */
        public double fraction() {
            return validationFraction != null ? validationFraction : DEFAULT_VALIDATION_FRACTION;
        }

        /** A split file: this record's JSON ({@code {"training": [...], "validation": [...], "test": [...]}}). */
        public static Split read(Path file) throws IOException {
            if (!Files.isRegularFile(file)) {
                throw new NoSuchFileException(file.toString());
            }
            try {
                return Specs.JSON.readValue(file.toFile(), Split.class);
            } catch (IOException e) {
                throw Specs.unreadable(file, e);
            }
        }
    }

    /**
     * Where the cases come from; each kind is opened by {@code DataSources.open} and a {@code DataSource} records
     * itself as one of these. Paths are absolute.
     */
    @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "type")
    @JsonSubTypes({@JsonSubTypes.Type(value = Msd.class, name = "msd"),
            @JsonSubTypes.Type(value = Folders.class, name = "folders"),
            @JsonSubTypes.Type(value = Manifest.class, name = "manifest"),
            @JsonSubTypes.Type(value = Generated.class, name = "generated"),
            @JsonSubTypes.Type(value = Colin27.class, name = "colin27"),
            @JsonSubTypes.Type(value = KnownProbability.class, name = "known-probability")})
    public sealed interface Source permits Msd, Folders, Manifest, Generated, Colin27, KnownProbability {
    }

    /**
     * The known-probability testbed ({@link org.gradsurgery.data.KnownProbabilityImages}): {@code cases} square
     * images of {@code size} pixels whose foreground probability q per pixel is known, edge widths in
     * [{@code edgeMin}, {@code edgeMax}] pixels, intensity noise sd {@code noise}, drawn from {@code seed}.
     */
    public record KnownProbability(@JsonProperty("cases") int cases, @JsonProperty("size") int size,
                                   @JsonProperty("edgeMin") double edgeMin, @JsonProperty("edgeMax") double edgeMax,
                                   @JsonProperty("noise") double noise, @JsonProperty("seed") long seed)
            implements Source {
        @JsonCreator
        public KnownProbability {
            if (cases < 3) {
                throw new InvalidSettingException(OWNER, "source.cases", "must be >= 3, got " + cases);
            }
            if (size < 4) {
                throw new InvalidSettingException(OWNER, "source.size", "must be >= 4, got " + size);
            }
        }

        /** The same testbed with at most {@code n} cases. */
        public KnownProbability atMost(int n) {
            return new KnownProbability(Math.min(n, cases), size, edgeMin, edgeMax, noise, seed);
        }
    }

    /** A Medical Segmentation Decathlon task folder (dataset.json, imagesTr/, labelsTr/). */
    public record Msd(@JsonProperty("dir") String dir) implements Source {
        @JsonCreator
        public Msd {
            dir = absolute("source.dir", dir);
        }
    }

    /**
     * An image folder and a label folder. Without patterns, files pair by name (see
     * {@code org.gradsurgery.data.Cases#fromFolders}); with patterns such as {@code {id}_t1.nii.gz} and
     * {@code {id}_labels.nii.gz}, an image matching {@code imagePattern} pairs with the label named by
     * {@code labelPattern} with the same {@code {id}}.
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Folders(@JsonProperty("images") String images, @JsonProperty("labels") String labels,
                          @JsonProperty("imagePattern") String imagePattern,
                          @JsonProperty("labelPattern") String labelPattern) implements Source {
        @JsonCreator
        public Folders {
            images = absolute("source.images", images);
            labels = absolute("source.labels", labels);
            if ((imagePattern == null) != (labelPattern == null)) {
                throw new InvalidSettingException(OWNER, "source.imagePattern", "and labelPattern go together");
            }
            for (String p : imagePattern == null ? List.<String>of() : List.of(imagePattern, labelPattern)) {
                if (p.indexOf("{id}") < 0 || p.indexOf("{id}") != p.lastIndexOf("{id}") || p.contains("/")) {
                    throw new InvalidSettingException(OWNER, "source.imagePattern", "and labelPattern must be file "
                            + "names with {id} once, e.g. {id}_t1.nii.gz, got " + p);
                }
            }
        }
    }

    /** A CSV manifest: columns image (or image*, one per channel), label, optional id and mask. */
    public record Manifest(@JsonProperty("csv") String csv) implements Source {
        @JsonCreator
        public Manifest {
            csv = absolute("source.csv", csv);
        }
    }

    /**
     * Generated cases (no files): {@code cases} images of {@code size} with {@code numClasses − 1} blobs each, drawn
     * from {@code seed} (for tests, examples and smoke runs).
     */
    public record Generated(@JsonProperty("cases") int cases, @JsonProperty("size") int[] size,
                            @JsonProperty("numClasses") int numClasses, @JsonProperty("seed") long seed)
            implements Source {
        @JsonCreator
        public Generated {
            if (cases < 2) {
                throw new InvalidSettingException(OWNER, "source.cases", "must be >= 2, got " + cases);
            }
            if (size == null || size.length < 2 || size.length > 3 || Arrays.stream(size).anyMatch(s -> s < 4)) {
                throw new InvalidSettingException(OWNER, "source.size", "needs 2 or 3 sizes >= 4, got "
                        + Arrays.toString(size));
            }
            if (numClasses < 2) {
                throw new InvalidSettingException(OWNER, "source.numClasses", "must be >= 2, got " + numClasses);
            }
            size = size.clone();
        }

        @Override
        public int[] size() {
            return size.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Generated g && cases == g.cases && Arrays.equals(size, g.size)
                    && numClasses == g.numClasses && seed == g.seed;
        }

        @Override
        public int hashCode() {
            return Objects.hash(cases, Arrays.hashCode(size), numClasses, seed);
        }
    }

    /**
     * The bundled demo data: Colin27 T1 axial slices with 5 deep-grey-matter classes and a held-out slab
     * ({@code datasets/colin27-deepgm}), {@code downsample} 1 (96 × 96) or 2 (48 × 48); {@code datasets} is the
     * folder holding {@code colin27-deepgm/}.
     */
    public record Colin27(@JsonProperty("datasets") String datasets, @JsonProperty("downsample") int downsample)
            implements Source {
        @JsonCreator
        public Colin27 {
            datasets = absolute("source.datasets", datasets);
            if (downsample != 1 && downsample != 2) {
                throw new InvalidSettingException(OWNER, "downsample", "must be 1 (96x96) or 2 (48x48), got "
                        + downsample);
            }
        }
    }

    private static String absolute(String setting, String path) {
        if (path == null || path.isBlank()) {
            throw new InvalidSettingException(OWNER, setting, "is required");
        }
        return Path.of(path).toAbsolutePath().normalize().toString();
    }

    /** Validates each setting on its own (checks against the data are made when it is resolved). */
    @JsonCreator
    public DataPlan {
        Objects.requireNonNull(source, "source");
        if (dims != null && dims != 2 && dims != 3) {
            throw new InvalidSettingException(OWNER, "dims", "must be 2 or 3, got " + dims);
        }
        if (patchSize != null) {
            if (patchSize.length == 1) {
                patchSize = new int[] {patchSize[0], patchSize[0], patchSize[0]};
            }
            if (patchSize.length != 3 || Arrays.stream(patchSize).anyMatch(p -> p < 1)) {
                throw new InvalidSettingException(OWNER, "patchSize", "needs 1 or 3 positive values, got "
                        + Arrays.toString(patchSize));
            }
            patchSize = patchSize.clone();
            if (dims != null && dims != 3) {
                throw new InvalidSettingException(OWNER, "patchSize", "applies to dims 3; 2D trains on whole slices "
                        + "padded to a multiple of 2^(levels-1)");
            }
        }
        if (patchesPerCase != null) {
            if (patchesPerCase < 1) {
                throw new InvalidSettingException(OWNER, "patchesPerCase", "must be >= 1, got " + patchesPerCase);
            }
            if (dims != null && dims != 3) {
                throw new InvalidSettingException(OWNER, "patchesPerCase", "applies to dims 3");
            }
        }
        if (sliceAxis != null && (sliceAxis < 0 || sliceAxis > 2)) {
            throw new InvalidSettingException(OWNER, "sliceAxis", "must be 0, 1 or 2, got " + sliceAxis);
        }
        if (spacing != null) {
            if (spacing.length < 2 || spacing.length > 3 || Arrays.stream(spacing).anyMatch(v -> !(v > 0)
                    || Double.isInfinite(v))) {
                throw new InvalidSettingException(OWNER, "spacing", "needs 2 or 3 positive numbers of mm, got "
                        + Arrays.toString(spacing));
            }
            spacing = spacing.clone();
        }
        if (flipAxes != null) {
            flipAxes = flipAxes.clone();
        }
        if (intensityStatistics != null) {
            intensityStatistics = List.copyOf(intensityStatistics);
        }
        if (labelGrouping != null) {
            for (Map.Entry<Long, Integer> e : labelGrouping.entrySet()) {
                if (e.getValue() == null || e.getValue() < 0) {
                    throw new InvalidSettingException(OWNER, "labelGrouping", "maps code " + e.getKey() + " to "
                            + e.getValue() + "; classes are 0..K-1");
                }
            }
            labelGrouping = java.util.Collections.unmodifiableMap(new TreeMap<>(labelGrouping));
        }
        if (unlistedLabels != null && unlistedLabels < 0) {
            throw new InvalidSettingException(OWNER, "unlistedLabels", "is a class (>= 0), got " + unlistedLabels);
        }
        if (unlistedLabels != null && labelGrouping == null) {
            throw new InvalidSettingException(OWNER, "unlistedLabels", "applies with a labelGrouping");
        }
        // false and unset are the same setting: one form, so equal plans are equal records
        cropToNonzero = Boolean.TRUE.equals(cropToNonzero) ? Boolean.TRUE : null;
        commonPadding = Boolean.TRUE.equals(commonPadding) ? Boolean.TRUE : null;
        if (paddedSize != null) {
            if (commonPadding == null || Arrays.stream(paddedSize).anyMatch(v -> v < 1)) {
                throw new InvalidSettingException(OWNER, "paddedSize", "is the positive common size of commonPadding, "
                        + "got " + Arrays.toString(paddedSize));
            }
            paddedSize = paddedSize.clone();
        }
        if (commonPadding != null && (patchSize != null || patchesPerCase != null)) {
            throw new InvalidSettingException(OWNER, "commonPadding", "trains on whole padded cases; it excludes "
                    + "patchSize and patchesPerCase");
        }
        if (numClasses != null && numClasses < 2) {
            throw new InvalidSettingException(OWNER, "numClasses", "must be >= 2 (background + one structure), got "
                    + numClasses);
        }
        if (classNames != null) {
            classNames = List.copyOf(classNames);
            if (numClasses != null && classNames.size() != numClasses) {
                throw new InvalidSettingException(OWNER, "classNames", "has " + classNames.size() + " names for "
                        + numClasses + " classes");
            }
        }
    }

    /** Parses a plan's JSON (as in a run's config.json); a bad setting is an InvalidSettingException naming it. */
    public static DataPlan fromJson(String json) {
        return Specs.fromJson(json, DataPlan.class);
    }

    /** A plan reading {@code source} with every other setting at its default. */
    public static DataPlan of(Source source) {
        return builder(source).build();
    }

    public static Builder builder(Source source) {
        return new Builder(source);
    }

    public Builder toBuilder() {
        Builder b = new Builder(source);
        b.dims = dims;
        b.patchSize = patchSize;
        b.patchesPerCase = patchesPerCase;
        b.sliceAxis = sliceAxis;
        b.intensity = intensity;
        b.intensityStatistics = intensityStatistics;
        b.spacing = spacing;
        b.augmentation = augmentation;
        b.flipAxes = flipAxes;
        b.labelGrouping = labelGrouping;
        b.unlistedLabels = unlistedLabels;
        b.numClasses = numClasses;
        b.classNames = classNames;
        b.cropToNonzero = cropToNonzero;
        b.commonPadding = commonPadding;
        b.paddedSize = paddedSize;
        b.split = split;
        return b;
    }

    /** The intensity scheme (zscore when unset). */
    public Intensity intensityOrDefault() {
        return intensity != null ? intensity : Intensity.ZSCORE;
    }

    /** The augmentation (none when unset). */
    public Augmentation augmentationOrDefault() {
        return augmentation != null ? augmentation : Augmentation.NONE;
    }

    /** Whether cases are cropped to their non-zero image box. */
    public boolean cropsToNonzero() {
        return Boolean.TRUE.equals(cropToNonzero);
    }

    /** Whether cases are padded to one common size (a study's layout). */
    public boolean padsToCommonSize() {
        return Boolean.TRUE.equals(commonPadding);
    }

    /** The split (drawn by the default fraction when unset). */
    public Split splitOrDefault() {
        return split != null ? split : Split.byFraction(DEFAULT_VALIDATION_FRACTION, null);
    }

    @Override
    public int[] patchSize() {
        return patchSize == null ? null : patchSize.clone();
    }

    @Override
    public double[] spacing() {
        return spacing == null ? null : spacing.clone();
    }

    @Override
    public int[] paddedSize() {
        return paddedSize == null ? null : paddedSize.clone();
    }

    @Override
    public int[] flipAxes() {
        return flipAxes == null ? null : flipAxes.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DataPlan p && source.equals(p.source) && Objects.equals(dims, p.dims)
                && Arrays.equals(patchSize, p.patchSize) && Objects.equals(patchesPerCase, p.patchesPerCase)
                && Objects.equals(sliceAxis, p.sliceAxis) && intensity == p.intensity
                && Objects.equals(intensityStatistics, p.intensityStatistics) && Arrays.equals(spacing, p.spacing)
                && augmentation == p.augmentation && Arrays.equals(flipAxes, p.flipAxes)
                && Objects.equals(labelGrouping, p.labelGrouping) && Objects.equals(unlistedLabels, p.unlistedLabels)
                && Objects.equals(numClasses, p.numClasses) && Objects.equals(classNames, p.classNames)
                && Objects.equals(cropToNonzero, p.cropToNonzero) && Objects.equals(commonPadding, p.commonPadding)
                && Arrays.equals(paddedSize, p.paddedSize) && Objects.equals(split, p.split);
    }

    @Override
    public int hashCode() {
        return Objects.hash(source, dims, Arrays.hashCode(patchSize), patchesPerCase, sliceAxis, intensity,
                intensityStatistics, Arrays.hashCode(spacing), augmentation, Arrays.hashCode(flipAxes),
                labelGrouping, unlistedLabels, numClasses, classNames, cropToNonzero, commonPadding,
                Arrays.hashCode(paddedSize), split);
    }

    @Override
    public String toString() {
        return Specs.toJson(this);
    }

    /** Mutable settings; {@link #build()} validates. */
    public static final class Builder {
        private Source source;
        private Integer dims;
        private int[] patchSize;
        private Integer patchesPerCase;
        private Integer sliceAxis;
        private Intensity intensity;
        private List<IntensityStatistics> intensityStatistics;
        private double[] spacing;
        private Augmentation augmentation;
        private int[] flipAxes;
        private Map<Long, Integer> labelGrouping;
        private Integer unlistedLabels;
        private Integer numClasses;
        private List<String> classNames;
        private Boolean cropToNonzero;
        private Boolean commonPadding;
        private int[] paddedSize;
        private Split split;

        private Builder(Source source) {
            this.source = source;
        }

        public Builder source(Source source) {
            this.source = source;
            return this;
        }

        public Builder dims(Integer dims) {
            this.dims = dims;
            return this;
        }

        public Builder patchSize(int... patchSize) {
            this.patchSize = patchSize;
            return this;
        }

        public Builder patchesPerCase(Integer patchesPerCase) {
            this.patchesPerCase = patchesPerCase;
            return this;
        }

        public Builder sliceAxis(Integer sliceAxis) {
            this.sliceAxis = sliceAxis;
            return this;
        }

        public Builder intensity(Intensity intensity) {
            this.intensity = intensity;
            return this;
        }

        public Builder intensityStatistics(List<IntensityStatistics> statistics) {
            this.intensityStatistics = statistics;
            return this;
        }

        public Builder spacing(double... spacing) {
            this.spacing = spacing;
            return this;
        }

        public Builder augmentation(Augmentation augmentation) {
            this.augmentation = augmentation;
            return this;
        }

        public Builder flipAxes(int... flipAxes) {
            this.flipAxes = flipAxes;
            return this;
        }

        public Builder labelGrouping(Map<Long, Integer> labelGrouping) {
            this.labelGrouping = labelGrouping;
            return this;
        }

        /** The class of every code {@code labelGrouping} does not list (e.g. 0: "everything else is background"). */
        public Builder unlistedLabels(Integer unlistedLabels) {
            this.unlistedLabels = unlistedLabels;
            return this;
        }

        public Builder cropToNonzero(Boolean cropToNonzero) {
            this.cropToNonzero = cropToNonzero;
            return this;
        }

        public Builder commonPadding(Boolean commonPadding) {
            this.commonPadding = commonPadding;
            return this;
        }

        public Builder paddedSize(int... paddedSize) {
            this.paddedSize = paddedSize;
            return this;
        }

        public Builder numClasses(Integer numClasses) {
            this.numClasses = numClasses;
            return this;
        }

        public Builder classNames(List<String> classNames) {
            this.classNames = classNames;
            return this;
        }

        public Builder split(Split split) {
            this.split = split;
            return this;
        }

        public DataPlan build() {
            return new DataPlan(source, dims, patchSize, patchesPerCase, sliceAxis, intensity, intensityStatistics,
                    spacing, augmentation, flipAxes, labelGrouping, unlistedLabels, numClasses, classNames, cropToNonzero,
                    commonPadding, paddedSize, split);
        }
    }
}
