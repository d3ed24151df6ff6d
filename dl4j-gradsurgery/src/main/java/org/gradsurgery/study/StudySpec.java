package org.gradsurgery.study;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import org.gradsurgery.InvalidInputException;
import org.gradsurgery.experiment.DataPlan;
import org.gradsurgery.experiment.ExperimentData;
import org.gradsurgery.experiment.ExperimentSpec;
import org.gradsurgery.experiment.UNetSpec;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.training.TrainingConfig;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.schedule.PolySchedule;
import org.nd4j.linalg.schedule.ScheduleType;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonProperty;
import org.nd4j.shade.jackson.databind.DeserializationFeature;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.nd4j.shade.jackson.databind.SerializationFeature;
import org.nd4j.shade.jackson.databind.node.ObjectNode;

/**
 * A whole comparison as one JSON document, made of the typed descriptions a single run uses plus what only the study
 * has. Every run of the study is one (arm, seed) pair, an {@link org.gradsurgery.experiment.ExperimentSpec} with the
 * arm's loss and the seed, trained on the same data order, augmentation and budget for that seed; see
 * {@code docs/STUDY.md} for the format.
 *
 * <pre>
 * { "name": "...",
 *   "data": DataPlan (source, dims, split by counts or lists, label grouping, augmentation, ...; commonPadding),
 *   "model": UNetSpec (levels, baseFilters, updater = Adam at the initial learning rate, "learningRate": x short for
 *            it; dims, channels and classes come from the data),
 *   "training": TrainingConfig (epochs, batchSize, ...; seed and run folder are set per run),
 *   "polyPower": 0.9,       lr_t = lr·(1 − t/T)^polyPower over the T updates of a run (nnU-Net's schedule)
 *   "arms": ["dice", "dice+surgery", ...],     (LossSpec text, e.g. "dice+surgery+ce:1", "mcxent")
 *   "seeds": [1, 2, 3], "temperatureScaling": true, "bins": 15, "boundaryBandMm": 2 }
 * </pre>
 * A section given in part takes its type's defaults for the rest ({@link UNetSpec#DEFAULTS},
 * {@link TrainingConfig#builder()}); the study's own settings default to polyPower 0.9, 15 bins, a 2 mm band. Data
 * folders are never defaults: they are spec fields or the command line's {@code --data DIR}. A spec in the shape
 * written before the study used these types ({@code dataset}, {@code network}, {@code recipe}) is read through
 * {@link LegacyStudySpec}.
 */
public record StudySpec(@JsonProperty("name") String name, @JsonProperty("data") DataPlan data,
                        @JsonProperty("model") UNetSpec model, @JsonProperty("training") TrainingConfig training,
                        @JsonProperty("polyPower") double polyPower, @JsonProperty("arms") List<String> arms,
                        @JsonProperty("seeds") List<Long> seeds,
                        @JsonProperty("temperatureScaling") boolean temperatureScaling,
                        @JsonProperty("bins") int bins, @JsonProperty("boundaryBandMm") double boundaryBandMm) {

    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
    /** Default power of the polynomial learning-rate decay (nnU-Net's). */
    public static final double DEFAULT_POLY_POWER = 0.9;
    /** Default calibration bins (Guo et al.'s 15). */
    public static final int DEFAULT_BINS = 15;
    /** Default half-width of the boundary band in mm. */
    public static final double DEFAULT_BOUNDARY_BAND_MM = 2.0;

    /** Checks every setting; errors name it as {@code study.<setting>}. */
    @JsonCreator
    public StudySpec {
        require(name != null && name.matches("[A-Za-z0-9._-]+"), "name", "must be letters, digits, '.', '_' or '-'",
                name);
        require(data != null, "data", "is required", null);
        require(data.split() != null && (data.split().byCounts() || data.split().listed()), "data.split",
                "needs trainingCases, validationCases and testCases (or the case lists)", null);
        model = model == null ? UNetSpec.DEFAULTS : model;
        require(model.updater() instanceof Adam, "model.updater", "must be Adam (the study decays its learning rate "
                + "polynomially)", model.updater().getClass().getSimpleName());
        training = training == null ? TrainingConfig.builder().build() : training;
        polyPower = polyPower == 0 ? DEFAULT_POLY_POWER : polyPower;
        require(polyPower > 0 && polyPower <= 10, "polyPower", "must be in (0, 10]", polyPower);
        require(arms != null && !arms.isEmpty(), "arms", "needs at least one loss", arms);
        require(new LinkedHashSet<>(arms).size() == arms.size(), "arms", "lists a loss twice", arms);
        for (String a : arms) {
            try {
                LossSpec.parse(a);
            } catch (IllegalArgumentException e) {
                throw new InvalidInputException("study.arms: '" + a + "': " + e.getMessage(), e);
            }
        }
        require(seeds != null && !seeds.isEmpty(), "seeds", "needs at least one seed", seeds);
        require(new LinkedHashSet<>(seeds).size() == seeds.size(), "seeds", "lists a seed twice", seeds);
        bins = bins == 0 ? DEFAULT_BINS : bins;
        require(bins >= 2 && bins <= 1000, "bins", "must be in 2..1000", bins);
        boundaryBandMm = boundaryBandMm == 0 ? DEFAULT_BOUNDARY_BAND_MM : boundaryBandMm;
        require(boundaryBandMm > 0 && !Double.isInfinite(boundaryBandMm), "boundaryBandMm", "must be > 0",
                boundaryBandMm);
        arms = List.copyOf(arms);
        seeds = List.copyOf(seeds);
    }

    static void require(boolean ok, String setting, String what, Object value) {
        if (!ok) {
            throw new InvalidInputException("study." + setting + " " + what + (value == null ? "" : ", got " + value));
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

    /**
     * The updater of a run of {@code updates} updates: the model's Adam with its learning rate decayed as
     * lr·(1 − t/T)^polyPower.
     */
    public IUpdater updater(long updates) {
        Adam a = (Adam) model.updater();
        Adam out = new Adam(new PolySchedule(ScheduleType.ITERATION, a.getLearningRate(), polyPower,
                Math.toIntExact(updates)));
        out.setBeta1(a.getBeta1());
        out.setBeta2(a.getBeta2());
        out.setEpsilon(a.getEpsilon());
        return out;
    }

    /**
     * Run ({@code loss}, {@code seed}) of this study as an experiment on {@code data} (this spec's plan resolved):
     * the study's network completed for the data (dims, channels, classes) with Adam decayed over the run's
     * T = batches per epoch × epochs updates ({@link #updater}); the study's training settings with the run's seed,
     * folder ({@code runDir}, may be null) and progress display; the resolved data plan. What {@code study} trains
     * and {@code bench pipeline} times.
     */
    public ExperimentSpec experiment(LossSpec loss, long seed, Path runDir, TrainingConfig.ProgressMode progress,
                                     ExperimentData data) {
        TrainingConfig cfg = training.toBuilder().seed(seed).runDirectory(runDir).eceBins(bins).progress(progress)
                .build();
        long updates = (long) data.trainingData().batchesPerEpoch(cfg.batchSize()) * cfg.epochs();
        UNetSpec unet = data.complete(model).toBuilder().updater(updater(updates)).build();
        return new ExperimentSpec(unet, loss, cfg, data.plan(), seed);
    }

    /**
     * Reads a spec file (the current shape, or the older one through {@link LegacyStudySpec}); {@code dataFolder}
     * (the command line's {@code --data}, may be null) names the source's folder.
     */
    public static StudySpec read(Path file, Path dataFolder) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new InvalidInputException("--spec " + file + ": no such file");
        }
        JsonNode tree;
        try {
            tree = JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new InvalidInputException(file + ": not valid JSON: " + e.getMessage().replace('\n', ' '), e);
        }
        return bind(tree, dataFolder, file + ": ");
    }

    /** Parses a spec document (either shape). */
    public static StudySpec parse(String json) {
        try {
            return bind(JSON.readTree(json), null, "study spec: ");
        } catch (IOException e) {
            throw new InvalidInputException("study spec: not valid JSON: " + e.getMessage().replace('\n', ' '), e);
        }
    }

    private static StudySpec bind(JsonNode tree, Path dataFolder, String where) {
        if (!tree.isObject()) {
            throw new InvalidInputException(where + "expected a JSON object");
        }
        ObjectNode o = LegacyStudySpec.isLegacy(tree) ? LegacyStudySpec.convert(tree) : ((ObjectNode) tree).deepCopy();
        // a section given in part takes its type's defaults for the rest; "learningRate" is short for Adam's
        if (o.path("model").has("learningRate") && !o.path("model").has("updater")) {
            ObjectNode m = (ObjectNode) o.get("model");
            m.set("updater", JSON.valueToTree(new Adam(m.remove("learningRate").asDouble())));
        }
        o.set("model", merged(JSON.valueToTree(UNetSpec.DEFAULTS), o.get("model")));
        o.set("training", merged(readTree(TrainingConfig.builder().build().toJson()), o.get("training")));
        if (o.path("data").path("source").isObject()) {
            dataFolder((ObjectNode) o.path("data").path("source"), dataFolder);
        }
        try {
            return JSON.treeToValue(o, StudySpec.class);
        } catch (IOException e) {
            for (Throwable t = e; t != null; t = t.getCause()) {
                if (t instanceof IllegalArgumentException iae && t != e) {
                    throw new InvalidInputException(where + iae.getMessage(), e);
                }
            }
            throw new InvalidInputException(where + e.getMessage().replace('\n', ' '), e);
        }
    }

    private static JsonNode readTree(String json) {
        try {
            return JSON.readTree(json);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static JsonNode merged(JsonNode defaults, JsonNode given) {
        if (given == null || given.isNull()) {
            return defaults;
        }
        if (!given.isObject()) {
            return given;
        }
        ObjectNode out = ((ObjectNode) defaults).deepCopy();
        given.fields().forEachRemaining(e -> out.set(e.getKey(), e.getValue()));
        return out;
    }

    /**
     * Sets or checks the folder of an msd, folders or colin27 source (for colin27 the {@code datasets/} folder):
     * {@code --data}, else the spec's own (never blank).
     */
    private static void dataFolder(ObjectNode source, Path folder) {
        String type = source.path("type").asText();
        List<String> fields = switch (type) {
            case "msd" -> List.of("dir");
            case "folders" -> List.of("images", "labels");
            case "colin27" -> List.of("datasets");
            default -> List.of();
        };
        if (folder != null) {
            if (fields.isEmpty()) {
                throw new InvalidInputException("--data applies to msd, folders and colin27 sources, not " + type);
            }
            fields.forEach(f -> source.put(f, folder.toAbsolutePath().normalize().toString()));
        }
        for (String f : fields) {
            if (source.path(f).asText("").isBlank()) {
                throw new InvalidInputException("the study's data folder is not set: give --data DIR (or "
                        + "data.source." + f + " in the spec)");
            }
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

    /**
     * A tiny version to check that everything runs: the first seed, 1 epoch; a known-probability source cut to 24
     * images and a split by counts cut to at most 12 / 4 / 8 cases.
     */
    public StudySpec smoke() {
        DataPlan.Builder d = data.toBuilder();
        if (data.source() instanceof DataPlan.KnownProbability k) {
            d.source(k.atMost(24));
        }
        DataPlan.Split s = data.split();
        if (s.byCounts()) {
            d.split(DataPlan.Split.byCounts(Math.min(12, s.trainingCases()), Math.min(4, s.validationCases()),
                    Math.min(8, s.testCases()), s.seed()));
        }
        return new StudySpec(name + "-smoke", d.build(), model, training.toBuilder().epochs(1).build(), polyPower,
                arms, seeds.subList(0, 1), temperatureScaling, bins, boundaryBandMm);
    }

    /**
     * This spec with only the listed arms (each as written in {@link #arms()}), in the spec's order: how a study is
     * run in priority order, the rest added later into the same folder.
     */
    public StudySpec withArms(List<String> only) {
        for (String a : only) {
            require(arms.contains(a), "arms", "has no arm '" + a + "' (--arms); the spec's arms are " + arms, null);
        }
        return new StudySpec(name, data, model, training, polyPower, arms.stream().filter(only::contains).toList(),
                seeds, temperatureScaling, bins, boundaryBandMm);
    }

    /** This spec with only the listed seeds (each one of {@link #seeds()}): e.g. one run retrained alone. */
    public StudySpec withSeeds(List<Long> only) {
        for (Long seed : only) {
            require(seeds.contains(seed), "seeds", "has no seed " + seed + " (--seeds); the spec's seeds are "
                    + seeds, null);
        }
        return new StudySpec(name, data, model, training, polyPower, arms, seeds.stream().filter(only::contains)
                .toList(), temperatureScaling, bins, boundaryBandMm);
    }

    /** Whether two specs describe the same runs apart from which arms and seeds are listed (a study may grow). */
    public boolean sameRunsAs(StudySpec other) {
        return data.equals(other.data) && model.equals(other.model) && training.equals(other.training)
                && polyPower == other.polyPower && bins == other.bins && boundaryBandMm == other.boundaryBandMm
                && temperatureScaling == other.temperatureScaling;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof StudySpec s && sameRunsAs(s) && name.equals(s.name) && arms.equals(s.arms)
                && seeds.equals(s.seeds);
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, data, model, arms, seeds);
    }
}
