package org.gradsurgery.training;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Objects;
import org.gradsurgery.InvalidSettingException;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonIgnore;
import org.nd4j.shade.jackson.annotation.JsonProperty;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.nd4j.shade.jackson.databind.SerializationFeature;

/**
 * What a {@link Trainer} does, immutable (build with {@link #builder()}; JSON round trip with {@link #toJson()} /
 * {@link #fromJson(String)}, which is how {@code config.json} of a run directory records it).
 *
 * <ul>
 *   <li>{@code epochs}: passes over the training data; {@code maxIterations} (0 = none) stops earlier, after that many
 *       parameter updates in total;</li>
 *   <li>{@code batchSize} and {@code seed}: handed to {@link TrainingData#training(int, long)}; the seed also fixes
 *       ND4J's random generator before every update (see {@link Trainer});</li>
 *   <li>{@code validateEvery}: validation Dice, ECE and loss every that many epochs (0 = never);</li>
 *   <li>{@code earlyStopping}: optional {@link EarlyStopping} rule on a validation metric;</li>
 *   <li>{@code checkpointEvery}: checkpoint every that many epochs (0 = only the final one), needed for resume;</li>
 *   <li>{@code runDirectory}: where {@code metrics.csv}, checkpoints and {@code model.zip} go (null = nothing written,
 *       no resume);</li>
 *   <li>{@code eceBins}: equal-width bins of the validation ECE (15, as Guo et al. 2017);</li>
 *   <li>{@code progress}: terminal progress display ({@link ProgressMode}), {@code progressIntervalSeconds} between
 *       plain lines.</li>
 * </ul>
 */
public final class TrainingConfig {

    /** How training progress is shown. */
    public enum ProgressMode {
        /** One updating line when stdout is a terminal ({@code System.console() != null}), plain lines otherwise. */
        AUTO,
        /** One line rewritten with carriage returns. */
        TTY,
        /** A full line every {@code progressIntervalSeconds} and at the end of every epoch (logs, CI). */
        PLAIN,
        /** Nothing. */
        OFF
    }

    private final int epochs;
    private final long maxIterations;
    private final int batchSize;
    private final long seed;
    private final int validateEvery;
    private final EarlyStopping earlyStopping;
    private final int checkpointEvery;
    private final String runDirectory;
    private final int eceBins;
    private final ProgressMode progress;
    private final double progressIntervalSeconds;

    @JsonCreator
    private TrainingConfig(@JsonProperty("epochs") int epochs, @JsonProperty("maxIterations") long maxIterations,
                           @JsonProperty("batchSize") int batchSize, @JsonProperty("seed") long seed,
                           @JsonProperty("validateEvery") int validateEvery,
                           @JsonProperty("earlyStopping") EarlyStopping earlyStopping,
                           @JsonProperty("checkpointEvery") int checkpointEvery,
                           @JsonProperty("runDirectory") String runDirectory, @JsonProperty("eceBins") int eceBins,
                           @JsonProperty("progress") ProgressMode progress,
                           @JsonProperty("progressIntervalSeconds") double progressIntervalSeconds) {
        this.epochs = epochs;
        this.maxIterations = maxIterations;
        this.batchSize = batchSize;
        this.seed = seed;
        this.validateEvery = validateEvery;
        this.earlyStopping = earlyStopping;
        this.checkpointEvery = checkpointEvery;
        this.runDirectory = runDirectory;
        this.eceBins = eceBins;
        this.progress = progress == null ? ProgressMode.AUTO : progress;
        this.progressIntervalSeconds = progressIntervalSeconds;
        check(epochs >= 1, "epochs", "must be >= 1, got " + epochs);
        check(maxIterations >= 0, "maxIterations", "must be >= 0 (0 = no limit), got " + maxIterations);
        check(batchSize >= 1, "batchSize", "must be >= 1, got " + batchSize);
        check(validateEvery >= 0, "validateEvery", "must be >= 0 epochs (0 = never), got " + validateEvery);
        check(checkpointEvery >= 0, "checkpointEvery", "must be >= 0 epochs (0 = final only), got " + checkpointEvery);
        check(eceBins >= 1, "eceBins", "must be >= 1, got " + eceBins);
        check(progressIntervalSeconds > 0, "progressIntervalSeconds", "must be > 0, got " + progressIntervalSeconds);
        check(earlyStopping == null || validateEvery > 0, "earlyStopping", "needs validation (validateEvery >= 1)");
    }

    private static void check(boolean ok, String setting, String problem) {
        if (!ok) {
            throw new InvalidSettingException("TrainingConfig", setting, problem);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder starting from this configuration. */
    public Builder toBuilder() {
        Builder b = new Builder();
        b.epochs = epochs;
        b.maxIterations = maxIterations;
        b.batchSize = batchSize;
        b.seed = seed;
        b.validateEvery = validateEvery;
        b.earlyStopping = earlyStopping;
        b.checkpointEvery = checkpointEvery;
        b.runDirectory = runDirectory;
        b.eceBins = eceBins;
        b.progress = progress;
        b.progressIntervalSeconds = progressIntervalSeconds;
        return b;
    }

    @JsonProperty("epochs")
    public int epochs() {
        return epochs;
    }

    @JsonProperty("maxIterations")
    public long maxIterations() {
        return maxIterations;
    }

    @JsonProperty("batchSize")
    public int batchSize() {
        return batchSize;
    }

    @JsonProperty("seed")
    public long seed() {
        return seed;
    }

    @JsonProperty("validateEvery")
    public int validateEvery() {
        return validateEvery;
    }

    /** The early stopping rule, or null. */
    @JsonProperty("earlyStopping")
    public EarlyStopping earlyStopping() {
        return earlyStopping;
    }

    @JsonProperty("checkpointEvery")
    public int checkpointEvery() {
        return checkpointEvery;
    }

    /** The run directory, or null. */
    @JsonIgnore
    public Path runDirectory() {
        return runDirectory == null ? null : Path.of(runDirectory);
    }

    @JsonProperty("runDirectory")
    private String runDirectoryString() {
        return runDirectory;
    }

    @JsonProperty("eceBins")
    public int eceBins() {
        return eceBins;
    }

    @JsonProperty("progress")
    public ProgressMode progress() {
        return progress;
    }

    @JsonProperty("progressIntervalSeconds")
    public double progressIntervalSeconds() {
        return progressIntervalSeconds;
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    /** This configuration as JSON (indented). */
    public String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (IOException e) {
            throw new IllegalStateException("TrainingConfig: cannot write JSON", e);
        }
    }

    /** Parses {@link #toJson()} output; a malformed document is an IllegalArgumentException naming the problem. */
    public static TrainingConfig fromJson(String json) {
        try {
            return JSON.readValue(json, TrainingConfig.class);
        } catch (IOException e) {
            throw new IllegalArgumentException("TrainingConfig: cannot parse JSON: " + e.getMessage(), e);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof TrainingConfig c && epochs == c.epochs && maxIterations == c.maxIterations
                && batchSize == c.batchSize && seed == c.seed && validateEvery == c.validateEvery
                && Objects.equals(earlyStopping, c.earlyStopping) && checkpointEvery == c.checkpointEvery
                && Objects.equals(runDirectory, c.runDirectory) && eceBins == c.eceBins && progress == c.progress
                && Double.compare(progressIntervalSeconds, c.progressIntervalSeconds) == 0;
    }

    @Override
    public int hashCode() {
        return Objects.hash(epochs, maxIterations, batchSize, seed, validateEvery, earlyStopping, checkpointEvery,
                runDirectory, eceBins, progress, progressIntervalSeconds);
    }

    @Override
    public String toString() {
        return "TrainingConfig{epochs " + epochs + ", maxIterations " + maxIterations + ", batch " + batchSize
                + ", seed " + seed + ", validateEvery " + validateEvery + ", " + earlyStopping + ", checkpointEvery "
                + checkpointEvery + ", run " + runDirectory + "}";
    }

    /** Default epochs. */
    public static final int DEFAULT_EPOCHS = 10;
    /** Default batch size. */
    public static final int DEFAULT_BATCH_SIZE = 8;
    /** Default seed. */
    public static final long DEFAULT_SEED = 42;

    /** Builder; defaults: 10 epochs, no iteration limit, batch 8, seed 42, validate and checkpoint every epoch. */
    public static final class Builder {
        private int epochs = DEFAULT_EPOCHS;
        private long maxIterations;
        private int batchSize = DEFAULT_BATCH_SIZE;
        private long seed = DEFAULT_SEED;
        private int validateEvery = 1;
        private EarlyStopping earlyStopping;
        private int checkpointEvery = 1;
        private String runDirectory;
        private int eceBins = 15;
        private ProgressMode progress = ProgressMode.AUTO;
        private double progressIntervalSeconds = 10;

        public Builder epochs(int epochs) {
            this.epochs = epochs;
            return this;
        }

        /** Stop after this many parameter updates in total (0 = no limit). */
        public Builder maxIterations(long maxIterations) {
            this.maxIterations = maxIterations;
            return this;
        }

        public Builder batchSize(int batchSize) {
            this.batchSize = batchSize;
            return this;
        }

        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Validate every {@code n} epochs (0 = never). */
        public Builder validateEvery(int n) {
            this.validateEvery = n;
            return this;
        }

        /** Early stopping rule (null = none). */
        public Builder earlyStopping(EarlyStopping rule) {
            this.earlyStopping = rule;
            return this;
        }

        /** Checkpoint every {@code n} epochs (0 = only when training ends). */
        public Builder checkpointEvery(int n) {
            this.checkpointEvery = n;
            return this;
        }

        /** The run directory (null = write nothing). */
        public Builder runDirectory(Path dir) {
            this.runDirectory = dir == null ? null : dir.toAbsolutePath().normalize().toString();
            return this;
        }

        public Builder eceBins(int bins) {
            this.eceBins = bins;
            return this;
        }

        public Builder progress(ProgressMode mode) {
            this.progress = Objects.requireNonNull(mode, "progress mode");
            return this;
        }

        public Builder progressIntervalSeconds(double seconds) {
            this.progressIntervalSeconds = seconds;
            return this;
        }

        public TrainingConfig build() {
            return new TrainingConfig(epochs, maxIterations, batchSize, seed, validateEvery, earlyStopping,
                    checkpointEvery, runDirectory, eceBins, progress, progressIntervalSeconds);
        }
    }
}
