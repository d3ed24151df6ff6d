package org.gradsurgery.examples.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.apache.spark.api.java.JavaSparkContext;
import org.gradsurgery.InvalidSettingException;
import org.gradsurgery.experiment.DataSource;
import org.gradsurgery.experiment.ExperimentRunner;
import org.gradsurgery.experiment.ExperimentSpec;
import org.gradsurgery.spark.SparkSegmentationTrainer;
import org.gradsurgery.spark.SparkSettings;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * The {@code --spark-*} flags of {@code train}: the same experiment, trained on Apache Spark with DL4J's parameter
 * averaging ({@link SparkSegmentationTrainer#run}; docs/DISTRIBUTED.md).
 */
final class SparkOptions {
    /** Flag of each {@link SparkSettings} setting, to name the flag in errors. */
    private static final Map<String, String> FLAGS = Map.of("master", "--spark-master", "workers", "--spark-workers",
            "averagingFrequency", "--spark-averaging-frequency", "trainingMaster", "--spark-training-master");

    @Option(names = "--spark-master", paramLabel = "URL",
            description = "Train on Apache Spark with parameter averaging: local[N], spark://HOST:7077, yarn, ... "
                    + "(under spark-submit: the same master as its --master). Without it, training runs in this JVM.")
    String master;

    @Option(names = "--spark-workers", paramLabel = "N", defaultValue = "0",
            description = "Network copies trained in parallel, each on minibatches of --batch-size; their parameters "
                    + "are averaged every round; 0 = Spark's default parallelism (default: 0).")
    int workers;

    @Option(names = "--spark-averaging-frequency", paramLabel = "N", defaultValue = "1",
            description = "Minibatches each worker fits between two averagings, 1 or more (default: "
                    + "${DEFAULT-VALUE}).")
    int averagingFrequency;

    @Option(names = "--spark-training-master", paramLabel = "KIND", defaultValue = "parameter_averaging",
            description = "parameter_averaging, or gradient_sharing (refused: it did not train with DL4J 1.0.0-M2, "
                    + "see docs/DISTRIBUTED.md).")
    SparkSettings.TrainingMasterKind trainingMaster;

    @Option(names = "--spark-serializer", paramLabel = "NAME", defaultValue = "java",
            description = "Spark's serialiser: java or kryo (with ND4J's registrator) (default: ${DEFAULT-VALUE}).")
    SparkSettings.Serializer serializer;

    @Option(names = "--spark-export", paramLabel = "DIR",
            description = "Where each epoch's minibatches are written for the executors; every executor must read it "
                    + "at the same path (default: RUN_DIR/spark-batches, removed after training).")
    Path export;

    /** Whether {@code --spark-master} was given; other {@code --spark-*} flags without it are an error. */
    boolean active(CommandLine.ParseResult parsed) {
        if (master == null) {
            for (String flag : List.of("--spark-workers", "--spark-averaging-frequency", "--spark-training-master",
                    "--spark-serializer", "--spark-export")) {
                if (parsed.hasMatchedOption(flag)) {
                    throw new InvalidSettingException(null, flag, "needs --spark-master");
                }
            }
        }
        return master != null;
    }

    /** The settings of these flags; a bad value names its flag. */
    SparkSettings settings() {
        try {
            return SparkSettings.builder().master(master).workers(workers).averagingFrequency(averagingFrequency)
                    .trainingMaster(trainingMaster).serializer(serializer).build();
        } catch (InvalidSettingException e) {
            String flag = FLAGS.get(e.setting());
            throw flag == null ? e : new InvalidSettingException(null, flag, e.problem());
        }
    }

    /** Trains and evaluates {@code spec} on Spark, as {@link ExperimentRunner#run} does in this JVM. */
    ExperimentRunner.Outcome run(ExperimentSpec spec, DataSource source, PrintStream out,
                                 Map<String, Object> extraSections) throws IOException {
        SparkSettings s = settings();
        Path dir = export != null ? export.toAbsolutePath()
                : spec.training().runDirectory().resolve("spark-batches");
        try (JavaSparkContext sc = s.createContext("gradsurgery train")) {
            return SparkSegmentationTrainer.run(sc, spec, source, s, dir, out, extraSections);
        }
    }
}
