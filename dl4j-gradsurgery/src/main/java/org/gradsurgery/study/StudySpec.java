package org.gradsurgery.study;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import org.gradsurgery.loss.LossSpec;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonInclude;
import org.nd4j.shade.jackson.annotation.JsonProperty;
import org.nd4j.shade.jackson.databind.DeserializationFeature;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.nd4j.shade.jackson.databind.SerializationFeature;

/**
 * A whole comparison as one JSON document: the data, its case-level split, the network, the training recipe, the
 * arms (one loss each), the seeds, and post-hoc temperature scaling. Every run of the study is one (arm, seed) pair
 * trained on the same data order, augmentation and budget for that seed; see {@code docs/STUDY.md} for the format.
 *
 * <pre>
 * { "name": "...",
 *   "dataset": {"synthetic": {...}} | {"msd": DIR} | {"folder": DIR, "imagePattern": "{id}_t1.nii.gz",
 *               "labelPattern": "{id}_labels.nii.gz"}, plus "grouping", "classNames", "dims", "sliceAxis",
 *               "spacing", "cropToNonzero",
 *   "split": {"train": 150, "validation": 23, "test": 50, "seed": 0},
 *   "network": {"levels": 4, "baseFilters": 16},
 *   "recipe": {"epochs": 50, "batchSize": 4, "learningRate": 0.003, "polyPower": 0.9, "augment": "nnunet-lite"},
 *   "arms": ["dice", "dice+surgery", ...],     (LossSpec text, e.g. "dice+surgery+ce:1", "mcxent")
 *   "seeds": [1, 2, 3], "temperatureScaling": true, "bins": 15, "boundaryBandMm": 2 }
 * </pre>
 * Data folders are never defaults: they are spec fields or the command line's {@code --data DIR}.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record StudySpec(@JsonProperty("name") String name, @JsonProperty("dataset") Dataset dataset,
                        @JsonProperty("split") Split split, @JsonProperty("network") Network network,
                        @JsonProperty("recipe") Recipe recipe, @JsonProperty("arms") List<String> arms,
                        @JsonProperty("seeds") List<Long> seeds,
                        @JsonProperty("temperatureScaling") boolean temperatureScaling,
                        @JsonProperty("bins") int bins, @JsonProperty("boundaryBandMm") double boundaryBandMm) {

    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /** Checks every setting; errors name it as {@code study.<section>.<setting>}. */
    @JsonCreator
    public StudySpec {
        require(name != null && name.matches("[A-Za-z0-9._-]+"), "name", "must be letters, digits, '.', '_' or '-'",
                name);
        require(dataset != null, "dataset", "is required", null);
        require(split != null, "split", "is required", null);
        network = network == null ? new Network(0, 0) : network;
        require(recipe != null, "recipe", "is required", null);
        require(arms != null && !arms.isEmpty(), "arms", "needs at least one loss", arms);
        require(new LinkedHashSet<>(arms).size() == arms.size(), "arms", "lists a loss twice", arms);
        for (String a : arms) {
            try {
                LossSpec.parse(a);
            } catch (IllegalArgumentException e) {
                throw new org.gradsurgery.InvalidInputException("study.arms: '" + a + "': " + e.getMessage(), e);
            }
        }
        require(seeds != null && !seeds.isEmpty(), "seeds", "needs at least one seed", seeds);
        require(new LinkedHashSet<>(seeds).size() == seeds.size(), "seeds", "lists a seed twice", seeds);
        bins = bins == 0 ? 15 : bins;
        require(bins >= 2 && bins <= 1000, "bins", "must be in 2..1000", bins);
        boundaryBandMm = boundaryBandMm == 0 ? 2.0 : boundaryBandMm;
        require(boundaryBandMm > 0 && !Double.isInfinite(boundaryBandMm), "boundaryBandMm", "must be > 0",
                boundaryBandMm);
        arms = List.copyOf(arms);
        seeds = List.copyOf(seeds);
    }

    static void require(boolean ok, String setting, String what, Object value) {
        if (!ok) {
            throw new org.gradsurgery.InvalidInputException("study." + setting + " " + what + (value == null ? "" : ", got "
                    + value));
        }
    }

    /** The arms as loss specs, in the spec's order. */
    public List<LossSpec> losses() {
        List<LossSpec> out = new ArrayList<>();
        for (String a : arms) {
            out.add(LossSpec.parse(a));
        }
        return out;
    }

    /** Reads a spec file; a malformed or invalid document is an IllegalArgumentException naming the file. */
    public static StudySpec read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new org.gradsurgery.InvalidInputException("--spec " + file + ": no such file");
        }
        try {
            return JSON.readValue(file.toFile(), StudySpec.class);
        } catch (org.nd4j.shade.jackson.core.JsonProcessingException e) {
            Throwable cause = e.getCause() instanceof IllegalArgumentException ? e.getCause() : e;
            String msg = cause == e ? e.getOriginalMessage() : cause.getMessage();
            throw new org.gradsurgery.InvalidInputException(file + ": " + msg, e);
        }
    }

    /** Parses a spec document. */
    public static StudySpec parse(String json) {
        try {
            return JSON.readValue(json, StudySpec.class);
        } catch (IOException e) {
            Throwable cause = e.getCause() instanceof IllegalArgumentException ? e.getCause() : e;
            throw new org.gradsurgery.InvalidInputException("study spec: " + cause.getMessage(), e);
        }
    }

    /** This spec as indented JSON. */
    public String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (IOException e) {
            throw new IllegalStateException("StudySpec: cannot write JSON", e);
        }
    }

    /** This spec with the dataset's folder replaced (the command line's {@code --data DIR}). */
    public StudySpec withDataFolder(Path folder) {
        return new StudySpec(name, dataset.withFolder(folder), split, network, recipe, arms, seeds, temperatureScaling,
                bins, boundaryBandMm);
    }

    /**
     * A tiny version to check that everything runs: the first seed, 1 epoch; the synthetic testbed cut to 24 images
     * split 12 / 4 / 8.
     */
    public StudySpec smoke() {
        Dataset d = dataset;
        Split s = split;
        if (d.synthetic() != null) {
            Synthetic y = d.synthetic();
            d = new Dataset(new Synthetic(Math.min(24, y.cases()), y.size(), y.edgeMin(), y.edgeMax(), y.noise(),
                    y.seed()), null, null, null, null, d.grouping(), d.classNames(), d.dims(), d.sliceAxis(),
                    d.spacing(), d.cropToNonzero());
            s = new Split(12, 4, 8, split.seed(), null);
        }
        return new StudySpec(name + "-smoke", d, s, network, new Recipe(1, recipe.batchSize(), recipe.learningRate(),
                recipe.polyPower(), recipe.augment()), arms, seeds.subList(0, 1), temperatureScaling, bins,
                boundaryBandMm);
    }

    /**
     * This spec with only the listed arms (each as written in {@link #arms()}), in the spec's order: how a study is
     * run in priority order, the rest added later into the same folder.
     */
    public StudySpec withArms(List<String> only) {
        for (String a : only) {
            require(arms.contains(a), "arms", "has no arm '" + a + "' (--arms); the spec's arms are " + arms, null);
        }
        return new StudySpec(name, dataset, split, network, recipe, arms.stream().filter(only::contains).toList(),
                seeds, temperatureScaling, bins, boundaryBandMm);
    }

    /** This spec with only the listed seeds (each one of {@link #seeds()}): e.g. one run retrained alone. */
    public StudySpec withSeeds(List<Long> only) {
        for (Long seed : only) {
            require(seeds.contains(seed), "seeds", "has no seed " + seed + " (--seeds); the spec's seeds are "
                    + seeds, null);
        }
        return new StudySpec(name, dataset, split, network, recipe, arms, seeds.stream().filter(only::contains)
                .toList(), temperatureScaling, bins, boundaryBandMm);
    }

    /** Whether two specs describe the same runs apart from which arms and seeds are listed (a study may grow). */
    public boolean sameRunsAs(StudySpec other) {
        return dataset.equals(other.dataset) && split.equals(other.split) && network.equals(other.network)
                && recipe.equals(other.recipe) && bins == other.bins && boundaryBandMm == other.boundaryBandMm
                && temperatureScaling == other.temperatureScaling;
    }

    /**
     * The known-probability testbed ({@link org.gradsurgery.data.KnownProbabilityImages}): {@code cases} square
     * images of {@code size} pixels, edge widths in [edgeMin, edgeMax], intensity noise sd {@code noise}, drawn from
     * {@code seed}.
     */
    public record Synthetic(@JsonProperty("cases") int cases, @JsonProperty("size") int size,
                            @JsonProperty("edgeMin") double edgeMin, @JsonProperty("edgeMax") double edgeMax,
                            @JsonProperty("noise") double noise, @JsonProperty("seed") long seed) {
        @JsonCreator
        public Synthetic {
            require(cases >= 3, "dataset.synthetic.cases", "must be >= 3", cases);
        }
    }

    /**
     * Where the cases come from (exactly one of {@code synthetic}, {@code msd}, {@code folder}) and how they are
     * shaped.
     *
     * @param synthetic    the known-probability testbed
     * @param msd          an MSD task folder ({@code imagesTr/}, {@code labelsTr/} paired by file name); "" = from
     *                     the command line
     * @param folder       one folder holding image and label files named by {@code imagePattern}/{@code labelPattern}
     *                     (e.g. {@code {id}_t1.nii.gz}, paired by {@link org.gradsurgery.experiment.FileCasesSource});
     *                     "" = from the command line
     * @param grouping     class index (1..K−1, as text) → raw label codes; every other code is background. Null =
     *                     labels are already 0..K−1
     * @param classNames   names of the K classes (background first); required with folders, read from MSD otherwise
     * @param dims         2 = slices along {@code sliceAxis} (or 2D images), 3 = whole volumes
     * @param sliceAxis    the file axis slices are taken along (2D on volumes)
     * @param spacing      resample every case to this voxel size in mm (image linear, label nearest), or null
     * @param cropToNonzero crop each case to the bounding box of its non-zero image voxels (skull-stripped data)
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Dataset(@JsonProperty("synthetic") Synthetic synthetic, @JsonProperty("msd") String msd,
                          @JsonProperty("folder") String folder, @JsonProperty("imagePattern") String imagePattern,
                          @JsonProperty("labelPattern") String labelPattern,
                          @JsonProperty("grouping") Map<String, List<Long>> grouping,
                          @JsonProperty("classNames") List<String> classNames, @JsonProperty("dims") int dims,
                          @JsonProperty("sliceAxis") int sliceAxis, @JsonProperty("spacing") double[] spacing,
                          @JsonProperty("cropToNonzero") boolean cropToNonzero) {
        @JsonCreator
        public Dataset {
            int sources = (synthetic != null ? 1 : 0) + (msd != null ? 1 : 0) + (folder != null ? 1 : 0);
            require(sources == 1, "dataset", "needs exactly one of synthetic, msd, folder", sources + " given");
            dims = dims == 0 ? (synthetic != null ? 2 : 3) : dims;
            require(dims == 2 || dims == 3, "dataset.dims", "must be 2 or 3", dims);
            require(synthetic == null || dims == 2, "dataset.dims", "must be 2 for the synthetic testbed", dims);
            require(sliceAxis >= 0 && sliceAxis <= 2, "dataset.sliceAxis", "must be 0, 1 or 2", sliceAxis);
            if (folder != null) {
                require(imagePattern != null && labelPattern != null, "dataset.imagePattern/labelPattern",
                        "are required with a folder", null);
                // the patterns themselves are checked by DataPlan.Folders when the folder is opened
            }
            if (grouping != null) {
                grouping = new TreeMap<>(Grouping.of(grouping).asSpec());
            }
            if (spacing != null) {
                require(spacing.length == 3 && java.util.Arrays.stream(spacing).allMatch(s -> s > 0
                        && !Double.isInfinite(s)), "dataset.spacing", "needs 3 positive values in mm",
                        java.util.Arrays.toString(spacing));
                spacing = spacing.clone();
            }
            classNames = classNames == null ? null : List.copyOf(classNames);
        }

        Dataset withFolder(Path dir) {
            if (synthetic != null) {
                throw new org.gradsurgery.InvalidInputException("--data applies to msd and folder datasets, not synthetic");
            }
            String d = dir.toAbsolutePath().normalize().toString();
            return new Dataset(null, msd != null ? d : null, folder != null ? d : null, imagePattern, labelPattern,
                    grouping, classNames, dims, sliceAxis, spacing, cropToNonzero);
        }

        /** The data folder named by the spec or the command line. */
        Path root() {
            String r = msd != null ? msd : folder;
            if (r == null || r.isBlank()) {
                throw new org.gradsurgery.InvalidInputException("the study's data folder is not set: give --data DIR (or "
                        + "dataset." + (msd != null ? "msd" : "folder") + " in the spec)");
            }
            return Path.of(r);
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Dataset d && Objects.equals(synthetic, d.synthetic) && Objects.equals(msd, d.msd)
                    && Objects.equals(folder, d.folder) && Objects.equals(imagePattern, d.imagePattern)
                    && Objects.equals(labelPattern, d.labelPattern) && Objects.equals(grouping, d.grouping)
                    && Objects.equals(classNames, d.classNames) && dims == d.dims && sliceAxis == d.sliceAxis
                    && java.util.Arrays.equals(spacing, d.spacing) && cropToNonzero == d.cropToNonzero;
        }

        @Override
        public int hashCode() {
            return Objects.hash(synthetic, msd, folder, imagePattern, labelPattern, grouping, classNames, dims,
                    sliceAxis, java.util.Arrays.hashCode(spacing), cropToNonzero);
        }
    }

    /**
     * Case-level split: the first {@code train}, then {@code validation}, then {@code test} cases of a seeded
     * shuffle of the case ids (the rest unused), unless a split file is given ({@code --split FILE} or
     * {@code file}, relative to the spec).
     */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    public record Split(@JsonProperty("train") int train, @JsonProperty("validation") int validation,
                        @JsonProperty("test") int test, @JsonProperty("seed") long seed,
                        @JsonProperty("file") String file) {
        @JsonCreator
        public Split {
            require(file != null || (train >= 1 && validation >= 1 && test >= 1), "split",
                    "needs train, validation and test >= 1 (or a file)", train + "/" + validation + "/" + test);
        }
    }

    /** The U-Net: levels and base filters (0 = the defaults 3 and 8 of the CLI's small network). */
    public record Network(@JsonProperty("levels") int levels, @JsonProperty("baseFilters") int baseFilters) {
        @JsonCreator
        public Network {
            levels = levels == 0 ? 3 : levels;
            baseFilters = baseFilters == 0 ? 8 : baseFilters;
            require(levels >= 1 && levels <= 6, "network.levels", "must be in 1..6", levels);
            require(baseFilters >= 1 && baseFilters <= 256, "network.baseFilters", "must be in 1..256", baseFilters);
        }
    }

    /**
     * The training recipe, the same for every arm: Adam at {@code learningRate} with polynomial decay
     * lr_t = lr·(1 − t/T)^polyPower over the T updates of the run (nnU-Net's schedule, power 0.9), {@code epochs}
     * epochs of batches of {@code batchSize}, augmentation {@code none}, {@code flips} (every spatial axis mirrored
     * with p 0.5) or {@code nnunet-lite} (flips, brightness ×U[0.75, 1.25] with p 0.15, gamma U[0.7, 1.5] with p 0.3).
     * The model evaluated is the last epoch's (no selection on validation data, which temperature scaling uses).
     */
    public record Recipe(@JsonProperty("epochs") int epochs, @JsonProperty("batchSize") int batchSize,
                         @JsonProperty("learningRate") double learningRate, @JsonProperty("polyPower") double polyPower,
                         @JsonProperty("augment") String augment) {
        @JsonCreator
        public Recipe {
            require(epochs >= 1, "recipe.epochs", "must be >= 1", epochs);
            require(batchSize >= 1, "recipe.batchSize", "must be >= 1", batchSize);
            require(learningRate > 0 && learningRate < 1, "recipe.learningRate", "must be in (0, 1)", learningRate);
            polyPower = polyPower == 0 ? 0.9 : polyPower;
            require(polyPower > 0 && polyPower <= 10, "recipe.polyPower", "must be in (0, 10]", polyPower);
            augment = augment == null ? "flips" : augment.toLowerCase(Locale.ROOT);
            require(List.of("none", "flips", "nnunet-lite").contains(augment), "recipe.augment",
                    "must be none, flips or nnunet-lite", augment);
        }
    }
}
