package org.gradsurgery.spark;

import java.io.IOException;
import java.util.Locale;
import java.util.Objects;
import org.apache.spark.SparkConf;
import org.gradsurgery.InvalidSettingException;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.storage.StorageLevel;
import org.deeplearning4j.spark.api.RDDTrainingApproach;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonProperty;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.nd4j.shade.jackson.databind.SerializationFeature;

/**
 * The Spark side of a distributed run, immutable (build with {@link #builder()}; JSON round trip with
 * {@link #toJson()} / {@link #fromJson(String)}, which is how a run's {@code config.json} records it). What is trained
 * (network, loss, data, epochs, batch size, seed) stays in the experiment's own description.
 *
 * <p>Parameter averaging (DL4J's {@code ParameterAveragingTrainingMaster}): in every averaging round each of the
 * {@code workers} copies of the network fits {@code averagingFrequency} minibatches of the experiment's batch size
 * {@code b} on its own, from the same parameters θ; then the driver sets
 * <pre>θ ← (1/W) Σ_w θ_w        (and the updater state, e.g. Adam's moments, the same way)</pre>
 * One round therefore consumes {@code W · averagingFrequency · b} examples. With plain SGD, {@code averagingFrequency
 * = 1} and a loss that is a mean over examples, one round equals one local step on the union of the W minibatches
 * (tested to 1e-12 in DOUBLE, {@code ParameterAveragingEquivalenceTest}).
 *
 * <ul>
 *   <li>{@code master}: Spark master URL ({@code local[2]}, {@code spark://host:7077}, {@code yarn}); null = the one
 *       {@code spark-submit} sets;</li>
 *   <li>{@code workers}: W, the number of network copies trained in parallel (0 = Spark's default parallelism);</li>
 *   <li>{@code averagingFrequency}: minibatches each worker fits between averagings;</li>
 *   <li>{@code trainingMaster}: only {@link TrainingMasterKind#PARAMETER_AVERAGING}; gradient sharing is refused
 *       (docs/DISTRIBUTED.md says why);</li>
 *   <li>{@code rddTrainingApproach} and {@code storageLevel}: how DL4J handles an RDD of in-memory minibatches
 *       (export to files first, or use directly; how it persists them). The trainer hands DL4J file paths, which
 *       are loaded on the executors and persisted with {@code storageLevel};</li>
 *   <li>{@code serializer}: Spark's serialiser for tasks and broadcasts: Java, or Kryo with ND4J's registrator.</li>
 * </ul>
 */
public final class SparkSettings {

    /** DL4J's two training masters. */
    public enum TrainingMasterKind {
        /** Synchronous parameter averaging ({@code ParameterAveragingTrainingMaster}). */
        PARAMETER_AVERAGING,
        /**
         * Asynchronous quantised gradient sharing ({@code SharedTrainingMaster}, dl4j-spark-parameterserver): refused,
         * because with DL4J 1.0.0-M2 it did not train here (issue 14): in one JVM only one node joins the Aeron mesh,
         * and with two executor JVMs on one host it ran with 0 iterations and no exception.
         */
        GRADIENT_SHARING
    }

    /** Spark's serialiser. */
    public enum Serializer {
        /** {@code org.apache.spark.serializer.JavaSerializer} (Spark's default). */
        JAVA,
        /** {@code org.apache.spark.serializer.KryoSerializer} with {@code org.nd4j.kryo.Nd4jRegistrator}. */
        KRYO
    }

    private final String master;
    private final int workers;
    private final int averagingFrequency;
    private final TrainingMasterKind trainingMaster;
    private final RDDTrainingApproach rddTrainingApproach;
    private final String storageLevel;
    private final Serializer serializer;

    @JsonCreator
    private SparkSettings(@JsonProperty("master") String master, @JsonProperty("workers") int workers,
                          @JsonProperty("averagingFrequency") int averagingFrequency,
                          @JsonProperty("trainingMaster") TrainingMasterKind trainingMaster,
                          @JsonProperty("rddTrainingApproach") RDDTrainingApproach rddTrainingApproach,
                          @JsonProperty("storageLevel") String storageLevel,
                          @JsonProperty("serializer") Serializer serializer) {
        this.master = master;
        this.workers = workers;
        this.averagingFrequency = averagingFrequency;
        this.trainingMaster = trainingMaster == null ? TrainingMasterKind.PARAMETER_AVERAGING : trainingMaster;
        this.rddTrainingApproach = rddTrainingApproach == null ? RDDTrainingApproach.Export : rddTrainingApproach;
        this.storageLevel = storageLevel;
        this.serializer = serializer == null ? Serializer.JAVA : serializer;
        check(master == null || !master.isBlank(), "master", "must be a Spark master URL (e.g. local[2]) or unset");
        check(workers >= 0, "workers", "must be >= 0 (0 = Spark's default parallelism), got " + workers);
        check(averagingFrequency >= 1, "averagingFrequency", "must be >= 1 minibatch, got " + averagingFrequency);
        check(this.trainingMaster == TrainingMasterKind.PARAMETER_AVERAGING, "trainingMaster", "GRADIENT_SHARING is "
                + "not supported: DL4J 1.0.0-M2's SharedTrainingMaster did not train (in one JVM only one node joins "
                + "the mesh; with two executor JVMs on one host it ran 0 iterations without an error); use "
                + "PARAMETER_AVERAGING (docs/DISTRIBUTED.md)");
        if (storageLevel != null) {
            storageLevel();
        }
    }

    private static void check(boolean ok, String setting, String problem) {
        if (!ok) {
            throw new InvalidSettingException("SparkSettings", setting, problem);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        Builder b = new Builder();
        b.master = master;
        b.workers = workers;
        b.averagingFrequency = averagingFrequency;
        b.trainingMaster = trainingMaster;
        b.rddTrainingApproach = rddTrainingApproach;
        b.storageLevel = storageLevel;
        b.serializer = serializer;
        return b;
    }

    /** The master URL, or null for the one spark-submit sets. */
    @JsonProperty("master")
    public String master() {
        return master;
    }

    /** Network copies trained in parallel (0 = Spark's default parallelism). */
    @JsonProperty("workers")
    public int workers() {
        return workers;
    }

    @JsonProperty("averagingFrequency")
    public int averagingFrequency() {
        return averagingFrequency;
    }

    @JsonProperty("trainingMaster")
    public TrainingMasterKind trainingMaster() {
        return trainingMaster;
    }

    @JsonProperty("rddTrainingApproach")
    public RDDTrainingApproach rddTrainingApproach() {
        return rddTrainingApproach;
    }

    /** Spark's storage level by name (e.g. MEMORY_ONLY), or null for none. */
    @JsonProperty("storageLevel")
    public String storageLevelName() {
        return storageLevel;
    }

    /** {@link #storageLevelName()} as Spark's object (null when unset). */
    public StorageLevel storageLevel() {
        if (storageLevel == null) {
            return null;
        }
        try {
            return StorageLevel.fromString(storageLevel.toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new InvalidSettingException("SparkSettings", "storageLevel", "'" + storageLevel + "' is not one "
                    + "of Spark's (NONE, MEMORY_ONLY, MEMORY_ONLY_SER, MEMORY_AND_DISK, MEMORY_AND_DISK_SER, DISK_ONLY, "
                    + "OFF_HEAP, ...)");
        }
    }

    @JsonProperty("serializer")
    public Serializer serializer() {
        return serializer;
    }

    /**
     * The Spark configuration of these settings: the master (when set), {@code appName}, the serialiser and, for a
     * local master, no web UI and the loopback interface (each unless set otherwise, e.g. by {@code -Dspark.*}).
     */
    public SparkConf sparkConf(String appName) {
        SparkConf conf = new SparkConf().setAppName(appName);
        if (master != null) {
            conf.setMaster(master);
        }
        if (master != null && master.startsWith("local")) {
            // one machine: no web UI, and the driver stays on the loopback interface (Spark's default is the first
            // non-loopback address)
            conf.setIfMissing("spark.ui.enabled", "false");
            conf.setIfMissing("spark.driver.host", "127.0.0.1");
            conf.setIfMissing("spark.driver.bindAddress", "127.0.0.1");
        }
        if (serializer == Serializer.KRYO) {
            conf.set("spark.serializer", "org.apache.spark.serializer.KryoSerializer");
            conf.set("spark.kryo.registrator", "org.nd4j.kryo.Nd4jRegistrator");
        }
        return conf;
    }

    /** A Spark context for {@link #sparkConf(String)}; the caller stops it. */
    public JavaSparkContext createContext(String appName) {
        return new JavaSparkContext(sparkConf(appName));
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public String toJson() {
        try {
            return JSON.writeValueAsString(this);
        } catch (IOException e) {
            throw new IllegalStateException("SparkSettings: cannot write JSON", e);
        }
    }

    /**
     * Parses {@link #toJson()} output; a refused setting is an {@link InvalidSettingException}, malformed JSON an
     * IllegalArgumentException.
     */
    public static SparkSettings fromJson(String json) {
        try {
            return JSON.readValue(json, SparkSettings.class);
        } catch (IOException e) {
            if (e.getCause() instanceof InvalidSettingException s) {
                throw s;
            }
            throw new IllegalArgumentException("SparkSettings: cannot parse JSON: " + e.getMessage(), e);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof SparkSettings s && Objects.equals(master, s.master) && workers == s.workers
                && averagingFrequency == s.averagingFrequency && trainingMaster == s.trainingMaster
                && rddTrainingApproach == s.rddTrainingApproach && Objects.equals(storageLevel, s.storageLevel)
                && serializer == s.serializer;
    }

    @Override
    public int hashCode() {
        return Objects.hash(master, workers, averagingFrequency, trainingMaster, rddTrainingApproach, storageLevel,
                serializer);
    }

    @Override
    public String toString() {
        return "SparkSettings{master " + master + ", workers " + workers + ", averagingFrequency " + averagingFrequency
                + ", " + trainingMaster + ", " + rddTrainingApproach + ", storage " + storageLevel + ", " + serializer
                + "}";
    }

    /**
     * Builder; defaults: master from spark-submit, Spark's default parallelism, averaging after every minibatch,
     * parameter averaging, DL4J's {@code Export} approach, no storage level, Java serialisation.
     */
    public static final class Builder {
        private String master;
        private int workers;
        private int averagingFrequency = 1;
        private TrainingMasterKind trainingMaster = TrainingMasterKind.PARAMETER_AVERAGING;
        private RDDTrainingApproach rddTrainingApproach = RDDTrainingApproach.Export;
        private String storageLevel;
        private Serializer serializer = Serializer.JAVA;

        public Builder master(String master) {
            this.master = master;
            return this;
        }

        public Builder workers(int workers) {
            this.workers = workers;
            return this;
        }

        public Builder averagingFrequency(int minibatches) {
            this.averagingFrequency = minibatches;
            return this;
        }

        /** PARAMETER_AVERAGING; GRADIENT_SHARING is refused by {@link #build()} with the reason. */
        public Builder trainingMaster(TrainingMasterKind kind) {
            this.trainingMaster = kind;
            return this;
        }

        public Builder rddTrainingApproach(RDDTrainingApproach approach) {
            this.rddTrainingApproach = approach;
            return this;
        }

        /** Spark storage level by name (e.g. MEMORY_ONLY), or null. */
        public Builder storageLevel(String level) {
            this.storageLevel = level;
            return this;
        }

        public Builder serializer(Serializer serializer) {
            this.serializer = serializer;
            return this;
        }

        public SparkSettings build() {
            return new SparkSettings(master, workers, averagingFrequency, trainingMaster, rddTrainingApproach,
                    storageLevel, serializer);
        }
    }
}
