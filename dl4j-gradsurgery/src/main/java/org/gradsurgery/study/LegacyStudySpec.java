package org.gradsurgery.study;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import org.gradsurgery.InvalidInputException;
import org.gradsurgery.experiment.DataPlan;
import org.gradsurgery.experiment.UNetSpec;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.node.ObjectNode;

/**
 * The one converter from the study spec of commit 952c146 and before ({@code dataset}, {@code split},
 * {@code network}, {@code recipe}) to the current shape ({@link StudySpec}), so that study folders written then still
 * resume and report. The old settings and their old defaults map as
 * <pre>
 *   dataset.synthetic {...}              → data.source {"type": "known-probability", ...}
 *   dataset.msd DIR                      → data.source {"type": "msd", "dir": DIR}
 *   dataset.folder DIR + patterns        → data.source {"type": "folders", "images": DIR, "labels": DIR, patterns}
 *   dataset.grouping {"k": [codes]}      → data.labelGrouping {code: k}, data.unlistedLabels 0
 *   dataset.classNames, spacing, cropToNonzero → data.classNames, spacing, cropToNonzero
 *   dataset.dims (2 synthetic, else 3)   → data.dims; dataset.sliceAxis (0) → data.sliceAxis for 2D on files
 *   split {train, validation, test, seed (0)} → data.split {trainingCases, validationCases, testCases, seed}
 *   split.file F                         → data.split with F's case lists
 *   recipe.augment (flips)               → data.augmentation;            always data.commonPadding true
 *   network {levels (3), baseFilters (8)}, recipe.learningRate → model {levels, baseFilters, updater Adam(lr)}
 *   recipe {epochs, batchSize}           → training; recipe.polyPower (0.9) → polyPower
 *   name, arms, seeds, temperatureScaling, bins, boundaryBandMm → the same
 * </pre>
 * The old checks of the label grouping are kept: classes 1..K−1 without gaps, codes ≥ 1, each in one class.
 */
final class LegacyStudySpec {
    private LegacyStudySpec() {
    }

    /** Whether {@code tree} is in the old shape. */
    static boolean isLegacy(JsonNode tree) {
        return tree.has("dataset") || tree.has("recipe") || tree.has("network");
    }

    /** The old document as a document of the current shape (not yet validated: {@link StudySpec} does that). */
    static ObjectNode convert(JsonNode old) {
        ObjectNode out = StudySpec.JSON.createObjectNode();
        copy(old, out, "name");
        JsonNode d = old.path("dataset");
        ObjectNode data = out.putObject("data");
        ObjectNode source = data.putObject("source");
        int sources = (d.has("synthetic") ? 1 : 0) + (d.has("msd") ? 1 : 0) + (d.has("folder") ? 1 : 0);
        if (sources != 1) {
            throw new InvalidInputException("study.dataset needs exactly one of synthetic, msd, folder, got "
                    + sources);
        }
        boolean synthetic = d.has("synthetic");
        if (synthetic) {
            source.put("type", "known-probability");
            source.setAll((ObjectNode) d.get("synthetic"));
        } else if (d.has("msd")) {
            source.put("type", "msd");
            source.set("dir", d.get("msd"));
        } else {
            source.put("type", "folders");
            source.set("images", d.get("folder"));
            source.set("labels", d.get("folder"));
            copy(d, source, "imagePattern");
            copy(d, source, "labelPattern");
        }
        int dims = d.path("dims").asInt(0) == 0 ? (synthetic ? 2 : 3) : d.path("dims").asInt();
        data.put("dims", dims);
        if (dims == 2 && !synthetic) {
            data.put("sliceAxis", d.path("sliceAxis").asInt(0));
        }
        copy(d, data, "spacing");
        if (d.has("grouping") && !d.get("grouping").isNull()) {
            ObjectNode g = data.putObject("labelGrouping");
            grouping(d.get("grouping")).forEach((code, k) -> g.put(Long.toString(code), k));
            data.put("unlistedLabels", 0);
        }
        copy(d, data, "classNames");
        if (d.path("cropToNonzero").asBoolean(false)) {
            data.put("cropToNonzero", true);
        }
        data.put("commonPadding", true);
        JsonNode r = old.path("recipe");
        data.put("augmentation", r.path("augment").asText("flips"));
        data.set("split", split(old.path("split")));

        JsonNode n = old.path("network");
        int levels = n.path("levels").asInt(0) == 0 ? 3 : n.path("levels").asInt();
        int baseFilters = n.path("baseFilters").asInt(0) == 0 ? 8 : n.path("baseFilters").asInt();
        if (!r.has("learningRate")) {
            throw new InvalidInputException("study.recipe.learningRate is required");
        }
        UNetSpec model = UNetSpec.builder().levels(levels).baseFilters(baseFilters)
                .learningRate(r.get("learningRate").asDouble()).build();
        ObjectNode m = out.putObject("model");
        m.put("levels", model.levels());
        m.put("baseFilters", model.baseFilters());
        m.set("updater", StudySpec.JSON.valueToTree(model.updater()));
        ObjectNode training = out.putObject("training");
        copy(r, training, "epochs");
        copy(r, training, "batchSize");
        copy(r, out, "polyPower");
        for (String f : new String[] {"arms", "seeds", "temperatureScaling", "bins", "boundaryBandMm"}) {
            copy(old, out, f);
        }
        return out;
    }

    private static void copy(JsonNode from, ObjectNode to, String field) {
        if (from.has(field) && !from.get(field).isNull()) {
            to.set(field, from.get(field));
        }
    }

    /** {@code {"k": [codes]}} as code → k, checked as the old format was. */
    private static Map<Long, Integer> grouping(JsonNode g) {
        if (!g.isObject() || g.size() == 0) {
            throw new InvalidInputException("study.dataset.grouping: no classes");
        }
        Map<Long, Integer> owner = new TreeMap<>();
        TreeSet<Integer> classes = new TreeSet<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = g.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            int k;
            try {
                k = Integer.parseInt(e.getKey().trim());
            } catch (NumberFormatException ex) {
                throw new InvalidInputException("study.dataset.grouping: class '" + e.getKey() + "' is not a number");
            }
            if (!e.getValue().isArray() || e.getValue().size() == 0) {
                throw new InvalidInputException("study.dataset.grouping: class " + k + " has no codes");
            }
            classes.add(k);
            for (JsonNode c : e.getValue()) {
                long code = c.asLong();
                if (code < 1) {
                    throw new InvalidInputException("study.dataset.grouping: class " + k + " lists code " + code
                            + "; codes must be >= 1 (unlisted codes, 0 included, are background)");
                }
                Integer prev = owner.put(code, k);
                if (prev != null && prev != k) {
                    throw new InvalidInputException("study.dataset.grouping: code " + code + " is in class " + prev
                            + " and in class " + k);
                }
            }
        }
        if (classes.first() != 1 || classes.last() != classes.size()) {
            throw new InvalidInputException("study.dataset.grouping: classes must be 1.." + classes.size()
                    + " without gaps, got " + classes);
        }
        return owner;
    }

    private static ObjectNode split(JsonNode s) {
        ObjectNode out = StudySpec.JSON.createObjectNode();
        if (s.has("file") && !s.get("file").isNull()) {
            // the old runner read the file relative to the working directory
            Path file = Path.of(s.get("file").asText());
            if (!Files.isRegularFile(file)) {
                throw new InvalidInputException("study.split.file " + file + ": no such file");
            }
            try {
                DataPlan.Split listed = DataPlan.Split.read(file);
                out.set("training", StudySpec.JSON.valueToTree(listed.training()));
                out.set("validation", StudySpec.JSON.valueToTree(listed.validation()));
                out.set("test", StudySpec.JSON.valueToTree(listed.test()));
            } catch (IOException e) {
                throw new InvalidInputException("study.split.file " + file + ": " + e.getMessage(), e);
            }
            return out;
        }
        out.put("trainingCases", s.path("train").asInt(0));
        out.put("validationCases", s.path("validation").asInt(0));
        out.put("testCases", s.path("test").asInt(0));
        out.put("seed", s.path("seed").asLong(0));
        return out;
    }

}
