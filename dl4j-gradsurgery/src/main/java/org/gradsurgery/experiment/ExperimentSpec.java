package org.gradsurgery.experiment;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import org.gradsurgery.InvalidInputException;
import org.gradsurgery.io.AtomicFiles;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.training.RunDirectory;
import org.gradsurgery.training.TrainingConfig;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonIgnoreProperties;
import org.nd4j.shade.jackson.annotation.JsonProperty;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.node.ObjectNode;

/**
 * One run, completely: the network ({@link UNetSpec}), the loss ({@link LossSpec}), the training
 * ({@link TrainingConfig}), the data ({@link DataPlan}) and one seed. Immutable; its JSON is a run folder's
 * {@code config.json} (sections {@code model}, {@code loss}, {@code training}, {@code data}, {@code seed}; the trainer
 * adds {@code gitRevision}, {@code java}, {@code created}, the CLI {@code command}, which reading ignores).
 *
 * <p>One seed: the network's initialisation ({@code model.seed}), the data order, augmentation and dropout
 * ({@code training.seed}) and a drawn split (unless the plan's split names its own) are all {@link #seed()}; the
 * constructor sets the first two from it.
 *
 * <p>Run folders written before this type existed hold an untyped {@code model} section; they cannot be read and must
 * be trained again (docs/TRAINING.md).
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ExperimentSpec(@JsonProperty("model") UNetSpec model, @JsonProperty("loss") LossSpec loss,
                             @JsonProperty("training") TrainingConfig training, @JsonProperty("data") DataPlan data,
                             @JsonProperty("seed") long seed) {

    /** Sets the seeds of {@code model} and {@code training} to {@code seed}. */
    @JsonCreator
    public ExperimentSpec {
        Objects.requireNonNull(model, "model");
        Objects.requireNonNull(loss, "loss");
        Objects.requireNonNull(training, "training");
        Objects.requireNonNull(data, "data");
        if (model.seed() != seed) {
            model = model.toBuilder().seed(seed).build();
        }
        if (training.seed() != seed) {
            training = training.toBuilder().seed(seed).build();
        }
    }

    /** The same experiment with another data plan (e.g. the resolved one). */
    public ExperimentSpec withData(DataPlan plan) {
        return new ExperimentSpec(model, loss, training, plan, seed);
    }

    /** The same experiment with another network spec. */
    public ExperimentSpec withModel(UNetSpec unet) {
        return new ExperimentSpec(unet, loss, training, data, seed);
    }

    /** The same experiment with another training configuration (its seed is replaced by this one's). */
    public ExperimentSpec withTraining(TrainingConfig config) {
        return new ExperimentSpec(model, loss, config, data, seed);
    }

    /** This spec as JSON (indented). */
    public String toJson() {
        return Specs.toJson(this);
    }

    /** Parses {@link #toJson()}; a bad setting is an {@code InvalidSettingException}, bad JSON an IllegalArgumentException. */
    public static ExperimentSpec fromJson(String json) {
        return Specs.fromJson(json, ExperimentSpec.class);
    }

    /**
     * Reads a spec: a JSON file, or a run folder's {@code config.json}.
     *
     * @throws NoSuchFileException      if there is no such file
     * @throws IllegalArgumentException naming the file and the problem (an older run folder: "train it again")
     */
    public static ExperimentSpec read(Path fileOrRunFolder) throws IOException {
        Path file = Files.isDirectory(fileOrRunFolder) ? fileOrRunFolder.resolve(RunDirectory.CONFIG)
                : fileOrRunFolder;
        if (!Files.isRegularFile(file)) {
            throw new NoSuchFileException(file + (Files.isDirectory(fileOrRunFolder) ? " (not a run folder)" : ""));
        }
        JsonNode tree;
        try {
            tree = Specs.JSON.readTree(file.toFile());
        } catch (IOException e) {
            throw new InvalidInputException(file + ": not valid JSON: " + e.getMessage(), e);
        }
        if (tree.path("model").isObject() && !tree.path("model").has("spatialDims")) {
            throw new InvalidInputException(file + " was written by an earlier version of gradsurgery (its model "
                    + "section has no spatialDims); train the run again (docs/TRAINING.md)");
        }
        if (!tree.has("seed") && tree.path("training").has("seed") && tree instanceof ObjectNode o) {
            o.set("seed", tree.path("training").path("seed"));     // one seed: the training's when none is recorded
        }
        try {
            return Specs.JSON.treeToValue(tree, ExperimentSpec.class);
        } catch (IOException e) {
            throw Specs.unreadable(file, e);
        }
    }

    /** Writes {@link #toJson()} to {@code file} atomically. */
    public void write(Path file) throws IOException {
        AtomicFiles.writeString(file, toJson() + "\n");
    }

    /**
     * The sections of {@code config.json} a {@link org.gradsurgery.training.Trainer} writes besides its own
     * {@code training} section (pass each with {@code Trainer.Builder.metadata}): model, loss, data, seed.
     */
    public Map<String, Object> sections() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", Specs.JSON.valueToTree(model));
        m.put("loss", loss.toString());
        m.put("data", Specs.JSON.valueToTree(data));
        m.put("seed", seed);
        return m;
    }
}
