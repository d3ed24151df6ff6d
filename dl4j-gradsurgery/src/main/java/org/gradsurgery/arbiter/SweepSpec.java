package org.gradsurgery.arbiter;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.deeplearning4j.arbiter.optimize.api.ParameterSpace;
import org.deeplearning4j.arbiter.optimize.distribution.LogUniformDistribution;
import org.deeplearning4j.arbiter.optimize.parameter.FixedValue;
import org.deeplearning4j.arbiter.optimize.parameter.continuous.ContinuousParameterSpace;
import org.deeplearning4j.arbiter.optimize.parameter.discrete.DiscreteParameterSpace;
import org.deeplearning4j.arbiter.optimize.parameter.integer.IntegerParameterSpace;
import org.gradsurgery.loss.GradientSurgery;
import org.gradsurgery.experiment.DataPlan;
import org.gradsurgery.experiment.UNetSpec;
import org.gradsurgery.loss.LossKind;
import org.gradsurgery.loss.Reduction;
import org.nd4j.shade.jackson.core.JsonProcessingException;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.ObjectMapper;

/**
 * A sweep specification, parsed from JSON and validated completely before anything trains. Format (every section
 * and key optional except {@code space}; defaults shown):
 * <pre>
 * {
 *   "search":   {"strategy": "random", "candidates": 4, "maxMinutes": 60, "gridPoints": 3, "seed": 42},
 *   "training": {"epochs": 10, "patience": 3, "batchSize": 8, "seed": 42},
 *   "score":    {"objective": "constrained", "ece": "ece_classwise", "delta": 0.02, "bandWidth": 2.0},
 *   "data":     {"dataset": "colin27-deepgm", "downsample": 2}    or    {"plan": {DataPlan JSON}},
 *   "space":    {"loss": ["dice"], "surgery": [false, true], "exponent": {"min": 0.5, "max": 2.0}, ...}
 * }
 * </pre>
 * A {@code space} value is a constant ({@code 0.5}, {@code "dice"}, {@code true}), a list of choices
 * ({@code [1, 2]}) or a range ({@code {"min": 1e-4, "max": 1e-2, "log": true}}; integer parameters take integer
 * ranges). Parameters: loss ({@link LossKind} names), surgery, exponent, surgerySpace (logits, probabilities),
 * includeBackground, reduction (sample, batch), regionWeight, ceWeight, tverskyAlpha, tverskyBeta (the
 * {@link LossSpace}) and levels, baseFilters, normalization (instance, batch, none), dropout, learningRate (the
 * {@link UNetSpace}).
 *
 * <p>{@code strategy}: {@code random} draws {@code candidates} points uniformly (log-uniformly for
 * {@code "log": true}); {@code grid} walks the grid of all list values and {@code gridPoints} evenly spaced values
 * per range (endpoints included), up to {@code candidates} points. {@code maxMinutes} bounds the whole sweep
 * (a running candidate stops at the deadline). {@code patience}: a candidate stops after that many epochs without
 * improving the monitored metric (see {@link SweepObjective#monitored()}) and keeps its best epoch's weights.
 * {@code objective}: one of the {@link ValidationMetrics.Metric} names or {@code constrained} (the lowest
 * {@code ece} among candidates with Dice ≥ best Dice − {@code delta}). {@code bandWidth}: half-width of the
 * boundary band for {@code ece_boundary}, in mm.
 *
 * <p>Errors are {@link IllegalArgumentException}s naming the file and the key, e.g.
 * {@code sweep.json: space.exponent: min 2.0 > max 0.5}.
 */
public final class SweepSpec {
    /** Search strategies. */
    public enum Strategy { RANDOM, GRID }

    /**
     * The short names of bundled data sets ({@code "dataset"}); any other data is a {@code "plan"}: a
     * {@link DataPlan} (its JSON as in a run's config.json, e.g. {@code {"source": {"type": "msd", "dir": "/data/Task04"},
     * "numClasses": 3}}) over any data source.
     */
    public static final Set<String> DATASETS = Set.of("colin27-deepgm");

    private static final List<String> SECTIONS = List.of("search", "training", "score", "data", "space");
    private static final List<String> SEARCH_KEYS = List.of("strategy", "candidates", "maxMinutes", "gridPoints",
            "seed");
    private static final List<String> TRAINING_KEYS = List.of("epochs", "patience", "batchSize", "seed");
    private static final List<String> SCORE_KEYS = List.of("objective", "ece", "delta", "bandWidth");
    private static final List<String> DATA_KEYS = List.of("dataset", "downsample", "plan");
    private static final List<String> SPACE_KEYS = List.of("loss", "surgery", "exponent", "surgerySpace",
            "includeBackground", "reduction", "regionWeight", "ceWeight", "tverskyAlpha", "tverskyBeta", "levels",
            "baseFilters", "normalization", "dropout", "learningRate");

    private final String source;
    private final Strategy strategy;
    private final int candidates;
    private final double maxMinutes;
    private final int gridPoints;
    private final long searchSeed;
    private final int epochs;
    private final int patience;
    private final int batchSize;
    private final long trainingSeed;
    private final SweepObjective objective;
    private final double bandWidth;
    private final String dataset;
    private final int downsample;
    private final DataPlan plan;
    private final int maxLevels;
    private final SweepSpace space;
    private final String json;

    private SweepSpec(String source, JsonNode root, String json) {
        this.source = source;
        this.json = json;
        if (root == null || !root.isObject()) {
            throw error("", "the spec must be a JSON object with sections " + SECTIONS);
        }
        checkKeys(root, "", SECTIONS, "key");
        JsonNode search = section(root, "search");
        strategy = Strategy.valueOf(choice(search, "search.strategy", "random", List.of("random", "grid"))
                .toUpperCase(Locale.ROOT));
        candidates = intAtLeast(search, "search.candidates", 4, 1);
        maxMinutes = positive(search, "search.maxMinutes", 60);
        gridPoints = intAtLeast(search, "search.gridPoints", 3, 2);
        searchSeed = integer(search, "search.seed", 42);
        JsonNode training = section(root, "training");
        epochs = intAtLeast(training, "training.epochs", 10, 1);
        patience = intAtLeast(training, "training.patience", 3, 1);
        batchSize = intAtLeast(training, "training.batchSize", 8, 1);
        trainingSeed = integer(training, "training.seed", 42);
        JsonNode score = section(root, "score");
        List<String> metrics = new ArrayList<>();
        for (ValidationMetrics.Metric m : ValidationMetrics.Metric.values()) {
            metrics.add(m.specName());
        }
        List<String> objectives = new ArrayList<>(metrics);
        objectives.add("constrained");
        String obj = choice(score, "score.objective", "constrained", objectives);
        List<String> eces = List.of("ece_classwise", "ece_top_label", "ece_boundary", "nll", "brier");
        ValidationMetrics.Metric ece = ValidationMetrics.Metric.valueOf(
                choice(score, "score.ece", "ece_classwise", eces).toUpperCase(Locale.ROOT));
        double delta = nonNegative(score, "score.delta", 0.02);
        objective = obj.equals("constrained") ? SweepObjective.constrained(ece, delta)
                : SweepObjective.of(ValidationMetrics.Metric.valueOf(obj.toUpperCase(Locale.ROOT)));
        bandWidth = positive(score, "score.bandWidth", 2.0);
        JsonNode data = section(root, "data");
        if (data.has("plan") && (data.has("dataset") || data.has("downsample"))) {
            throw error("data.plan", "names the data itself; leave out dataset and downsample");
        }
        if (data.has("plan")) {
            try {
                plan = DataPlan.fromJson(data.get("plan").toString());
            } catch (IllegalArgumentException e) {
                throw error("data.plan", e.getMessage());
            }
        } else {
            plan = null;
        }
        dataset = plan != null ? "plan" : choice(data, "data.dataset", "colin27-deepgm", List.copyOf(DATASETS));
        downsample = intAtLeast(data, "data.downsample", 2, 1);
        if (downsample > 2) {
            throw error("data.downsample", "must be 1 (96 x 96 slices) or 2 (48 x 48), got " + downsample);
        }
        if (!root.has("space") || !root.get("space").isObject()) {
            throw error("space", "missing: the spec needs a \"space\" object with the parameters to sweep");
        }
        space = parseSpace(root.get("space"));
        maxLevels = maxLevels(root.get("space").get("levels"));
    }

    /** The largest value of a levels space (already validated): a constant, a list or a range. */
    private static int maxLevels(JsonNode v) {
        if (v == null) {
            return UNetSpec.DEFAULT_LEVELS;
        }
        if (v.isObject()) {
            return v.get("max").asInt();
        }
        if (v.isArray()) {
            int max = 1;
            for (JsonNode n : v) {
                max = Math.max(max, n.asInt());
            }
            return max;
        }
        return v.asInt();
    }

    /** Parses and validates a spec file. */
    public static SweepSpec read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file.toString());
        }
        return parse(Files.readString(file), file.getFileName().toString());
    }

    /** Parses and validates spec JSON; {@code source} names it in errors. */
    public static SweepSpec parse(String json, String source) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json);
        } catch (JsonProcessingException e) {
            throw new org.gradsurgery.InvalidInputException(source + ": not valid JSON: " + e.getOriginalMessage() + " (line "
                    + e.getLocation().getLineNr() + ", column " + e.getLocation().getColumnNr() + ")");
        }
        return new SweepSpec(source, root, json);
    }

    // ---------------------------------------------------------------------------------------------------- space

    private SweepSpace parseSpace(JsonNode s) {
        checkKeys(s, "space", SPACE_KEYS, "parameter");
        LossSpace.Builder loss = LossSpace.builder();
        UNetSpace.Builder unet = UNetSpace.builder();
        set(s, "loss", this::lossKind, loss::kind);
        set(s, "surgery", this::bool, loss::surgery);
        set(s, "exponent", (p, v) -> real(p, v, 0, Double.POSITIVE_INFINITY, false), loss::exponent);
        set(s, "surgerySpace", (p, v) -> enumName(p, v, GradientSurgery.Space.class), loss::surgerySpace);
        set(s, "includeBackground", this::bool, loss::includeBackground);
        set(s, "reduction", (p, v) -> enumName(p, v, Reduction.class), loss::reduction);
        set(s, "regionWeight", (p, v) -> real(p, v, 0, Double.POSITIVE_INFINITY, false), loss::regionWeight);
        set(s, "ceWeight", (p, v) -> real(p, v, 0, Double.POSITIVE_INFINITY, false), loss::ceWeight);
        set(s, "tverskyAlpha", (p, v) -> real(p, v, 0, Double.POSITIVE_INFINITY, false), loss::tverskyAlpha);
        set(s, "tverskyBeta", (p, v) -> real(p, v, 0, Double.POSITIVE_INFINITY, false), loss::tverskyBeta);
        setInt(s, "levels", 1, 8, unet::levels);
        setInt(s, "baseFilters", 1, 1024, unet::baseFilters);
        set(s, "normalization", this::normalization, unet::normalization);
        set(s, "dropout", (p, v) -> real(p, v, 0, 1, true), unet::dropout);
        set(s, "learningRate", (p, v) -> {
            double d = real(p, v, 0, Double.POSITIVE_INFINITY, false);
            if (d == 0) {
                throw error(p, "must be > 0, got 0");
            }
            return d;
        }, unet::learningRate);
        return new SweepSpace(loss.build(), unet.build());
    }

    /** Checks one value of a parameter and returns it in the type the space holds. */
    private interface ValueParser<T> {
        T parse(String path, JsonNode value);
    }

    /** Constant, list or (numeric) range of {@code key}, handed to {@code sink}. */
    private <T> void set(JsonNode s, String key, ValueParser<T> parser, Consumer<ParameterSpace<T>> sink) {
        if (!s.has(key)) {
            return;
        }
        String path = "space." + key;
        JsonNode v = s.get(key);
        if (v.isArray()) {
            sink.accept(choices(path, v, parser));
        } else if (v.isObject()) {
            double[] r = range(path, v);
            T lo = parser.parse(path + ".min", v.get("min"));
            parser.parse(path + ".max", v.get("max"));
            if (!(lo instanceof Double)) {
                throw error(path, "a range needs a numeric parameter; give a list of choices instead");
            }
            @SuppressWarnings("unchecked")
            ParameterSpace<T> space = (ParameterSpace<T>) (r[0] == r[1] ? new FixedValue<>(lo)
                    : v.path("log").asBoolean(false) ? new ContinuousParameterSpace(new LogUniformDistribution(r[0], r[1]))
                    : new ContinuousParameterSpace(r[0], r[1]));
            sink.accept(space);
        } else {
            sink.accept(new FixedValue<>(parser.parse(path, v)));
        }
    }

    private void setInt(JsonNode s, String key, int min, int max, Consumer<ParameterSpace<Integer>> sink) {
        if (!s.has(key)) {
            return;
        }
        String path = "space." + key;
        JsonNode v = s.get(key);
        ValueParser<Integer> parser = (p, n) -> {
            if (n == null || !n.canConvertToInt() || !n.isIntegralNumber()) {
                throw error(p, "expected an integer, got " + n);
            }
            int i = n.asInt();
            if (i < min || i > max) {
                throw error(p, "must be in [" + min + ", " + max + "], got " + i);
            }
            return i;
        };
        if (v.isObject()) {
            range(path, v);
            if (v.has("log")) {
                throw error(path + ".log", "log ranges are for real parameters");
            }
            int lo = parser.parse(path + ".min", v.get("min"));
            int hi = parser.parse(path + ".max", v.get("max"));
            sink.accept(new IntegerParameterSpace(lo, hi));
        } else if (v.isArray()) {
            sink.accept(choices(path, v, parser));
        } else {
            sink.accept(new FixedValue<>(parser.parse(path, v)));
        }
    }

    /** A list of choices (one choice is fixed, see {@code CompositeSpace.orFixed}). */
    private <T> ParameterSpace<T> choices(String path, JsonNode v, ValueParser<T> parser) {
        if (v.isEmpty()) {
            throw error(path, "empty list: give at least one value");
        }
        List<T> values = new ArrayList<>();
        for (int i = 0; i < v.size(); i++) {
            T t = parser.parse(path + "[" + i + "]", v.get(i));
            if (values.contains(t)) {
                throw error(path + "[" + i + "]", "duplicate value " + t);
            }
            values.add(t);
        }
        return new DiscreteParameterSpace<>(values);
    }

    /** {min, max} of a range object, checked. */
    private double[] range(String path, JsonNode v) {
        checkKeys(v, path, List.of("min", "max", "log"), "key");
        for (String k : new String[]{"min", "max"}) {
            if (!v.has(k) || !v.get(k).isNumber()) {
                throw error(path, "a range needs numeric \"min\" and \"max\", e.g. {\"min\": 0.5, \"max\": 2}");
            }
        }
        double lo = v.get("min").asDouble();
        double hi = v.get("max").asDouble();
        if (lo > hi) {
            throw error(path, "empty range: min " + lo + " > max " + hi);
        }
        if (v.has("log")) {
            if (!v.get("log").isBoolean()) {
                throw error(path + ".log", "expected true or false, got " + v.get("log"));
            }
            if (v.get("log").asBoolean() && !(lo > 0)) {
                throw error(path, "a log range needs min > 0, got " + lo);
            }
        }
        return new double[]{lo, hi};
    }

    private String lossKind(String path, JsonNode v) {
        if (v == null || !v.isTextual()) {
            throw error(path, "expected a loss name (" + LossKind.knownNames() + "), got " + v);
        }
        try {
            return LossKind.parse(v.asText()).specName();
        } catch (IllegalArgumentException e) {
            throw error(path, e.getMessage());
        }
    }

    /** The constant of {@code type} named by {@code v} (any case), as its name. */
    private <E extends Enum<E>> String enumName(String path, JsonNode v, Class<E> type) {
        List<String> names = new ArrayList<>();
        for (E e : type.getEnumConstants()) {
            if (v != null && v.isTextual() && e.name().equalsIgnoreCase(v.asText())) {
                return e.name();
            }
            names.add(e.name().toLowerCase(Locale.ROOT));
        }
        throw error(path, "expected " + String.join(" or ", names) + ", got " + v);
    }

    private String normalization(String path, JsonNode v) {
        List<String> names = java.util.Arrays.stream(org.gradsurgery.model.UNet.Normalization.values()).map(Enum::name)
                .toList();
        if (v != null && v.isTextual() && names.contains(v.asText().toUpperCase(Locale.ROOT))) {
            return v.asText().toUpperCase(Locale.ROOT);
        }
        throw error(path, "expected one of " + names + " (any case), got " + v);
    }

    private Boolean bool(String path, JsonNode v) {
        if (v == null || !v.isBoolean()) {
            throw error(path, "expected true or false, got " + v);
        }
        return v.asBoolean();
    }

    private Double real(String path, JsonNode v, double min, double max, boolean maxExclusive) {
        if (v == null || !v.isNumber()) {
            throw error(path, "expected a number, got " + v);
        }
        double d = v.asDouble();
        if (!(d >= min) || (maxExclusive ? !(d < max) : !(d <= max)) || Double.isInfinite(d)) {
            throw error(path, "must be in [" + min + ", " + max + (maxExclusive ? ")" : "]") + ", got " + d);
        }
        return d;
    }

    // ------------------------------------------------------------------------------------------------ sections

    private JsonNode section(JsonNode root, String name) {
        JsonNode n = root.get(name);
        if (n == null || n.isNull()) {
            return new ObjectMapper().createObjectNode();
        }
        if (!n.isObject()) {
            throw error(name, "must be a JSON object, got " + n);
        }
        List<String> known = name.equals("search") ? SEARCH_KEYS : name.equals("training") ? TRAINING_KEYS
                : name.equals("score") ? SCORE_KEYS : DATA_KEYS;
        checkKeys(n, name, known, "key");
        return n;
    }

    private void checkKeys(JsonNode n, String path, List<String> known, String what) {
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!known.contains(k)) {
                throw error(path.isEmpty() ? k : path + "." + k, "unknown " + what + " (known: "
                        + String.join(", ", known) + ")");
            }
        }
    }

    /** The allowed value {@code n.key} names (case, '-' and '_' ignored), or {@code dflt} if absent. */
    private String choice(JsonNode n, String path, String dflt, List<String> allowed) {
        JsonNode v = n.get(leaf(path));
        if (v == null) {
            return dflt;
        }
        if (v.isTextual()) {
            for (String a : allowed) {
                if (normalise(a).equals(normalise(v.asText()))) {
                    return a;
                }
            }
        }
        throw error(path, "expected one of " + String.join(", ", allowed) + ", got " + v);
    }

    private static String normalise(String s) {
        return s.trim().toLowerCase(Locale.ROOT).replace('-', '_');
    }

    private int intAtLeast(JsonNode n, String path, int dflt, int min) {
        JsonNode v = n.get(leaf(path));
        if (v == null) {
            return dflt;
        }
        if (!v.isIntegralNumber() || !v.canConvertToInt() || v.asInt() < min) {
            throw error(path, "expected an integer >= " + min + ", got " + v);
        }
        return v.asInt();
    }

    private long integer(JsonNode n, String path, long dflt) {
        JsonNode v = n.get(leaf(path));
        if (v == null) {
            return dflt;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw error(path, "expected an integer, got " + v);
        }
        return v.asLong();
    }

    private double positive(JsonNode n, String path, double dflt) {
        JsonNode v = n.get(leaf(path));
        if (v == null) {
            return dflt;
        }
        if (!v.isNumber() || !(v.asDouble() > 0) || Double.isInfinite(v.asDouble())) {
            throw error(path, "expected a number > 0, got " + v);
        }
        return v.asDouble();
    }

    private double nonNegative(JsonNode n, String path, double dflt) {
        JsonNode v = n.get(leaf(path));
        if (v == null) {
            return dflt;
        }
        if (!v.isNumber() || !(v.asDouble() >= 0) || Double.isInfinite(v.asDouble())) {
            throw error(path, "expected a number >= 0, got " + v);
        }
        return v.asDouble();
    }

    private static String leaf(String path) {
        return path.substring(path.lastIndexOf('.') + 1);
    }

    private IllegalArgumentException error(String path, String message) {
        return new org.gradsurgery.InvalidInputException(source + ": " + (path.isEmpty() ? "" : path + ": ") + message);
    }

    // ------------------------------------------------------------------------------------------------- getters

    public Strategy strategy() {
        return strategy;
    }

    /** The candidate budget (a grid search also stops when the grid is exhausted). */
    public int candidates() {
        return candidates;
    }

    /** The time budget of the whole sweep, in minutes. */
    public double maxMinutes() {
        return maxMinutes;
    }

    /** Values per range in a grid search. */
    public int gridPoints() {
        return gridPoints;
    }

    public long searchSeed() {
        return searchSeed;
    }

    /** Maximum epochs per candidate. */
    public int epochs() {
        return epochs;
    }

    /** Early stopping: epochs without improvement of the monitored metric before a candidate stops. */
    public int patience() {
        return patience;
    }

    public int batchSize() {
        return batchSize;
    }

    public long trainingSeed() {
        return trainingSeed;
    }

    public SweepObjective objective() {
        return objective;
    }

    /** Half-width of the boundary band for ECE in the band, in mm. */
    public double bandWidth() {
        return bandWidth;
    }

    /** The bundled data set's short name, or {@code plan} when {@link #plan()} names the data. */
    public String dataset() {
        return dataset;
    }

    /** The data plan of a spec that names its data with one, else null (the bundled {@link #dataset()}). */
    public DataPlan plan() {
        return plan;
    }

    /**
     * The most levels any candidate can have (the largest value the space's {@code levels} allows): 2D examples are
     * padded to a multiple of 2^(maxLevels−1) so that every candidate fits them.
     */
    public int maxLevels() {
        return maxLevels;
    }

    /** In-plane downsampling of the demo data (1 or 2). */
    public int downsample() {
        return downsample;
    }

    public SweepSpace space() {
        return space;
    }

    /** The spec as given. */
    public String json() {
        return json;
    }

    /** Where the spec came from (file name), for messages. */
    public String source() {
        return source;
    }

    /** The settings that are not the space, for reports. */
    public Map<String, Object> settings() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("strategy", strategy.name().toLowerCase(Locale.ROOT));
        m.put("candidates", candidates);
        m.put("maxMinutes", maxMinutes);
        m.put("gridPoints", gridPoints);
        m.put("searchSeed", searchSeed);
        m.put("epochs", epochs);
        m.put("patience", patience);
        m.put("batchSize", batchSize);
        m.put("trainingSeed", trainingSeed);
        m.put("objective", objective.describe());
        m.put("bandWidth", bandWidth);
        m.put("dataset", dataset);
        m.put("downsample", downsample);
        return m;
    }
}
