package org.gradsurgery.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.model.UNet;
import org.gradsurgery.training.TrainingConfig;
import org.gradsurgery.training.TrainingResult;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Adam;

/**
 * Two executor JVMs ({@code local-cluster[2,1,1536]}: Spark's standalone master and worker in this JVM, each executor
 * a separate process on this host): the broadcast and the minibatch files cross process boundaries, the score falls.
 * Tagged {@code slow} (not in the default run; two extra JVMs load ND4J):
 * {@code mvn -B -o test -pl dl4j-gradsurgery/dl4j-gradsurgery-spark -am -Dgroups=slow -DexcludedGroups=
 * -Dtest=LocalClusterTest -Dsurefire.failIfNoSpecifiedTests=false}.
 */
@Tag("slow")
class LocalClusterTest {

    @Test
    void twoExecutorJvmsTrain(@TempDir Path tmp) throws Exception {
        DataSet train = TinySpark.cases(16, 51, DataType.FLOAT);
        ComputationGraph net = TinySpark.unet(new Adam(3e-2), DataType.FLOAT, UNet.Normalization.INSTANCE, 3);
        double start = net.score(train);
        SparkSettings settings = SparkSettings.builder().master("local-cluster[2,1,1536]").workers(2).build();
        SparkConf conf = settings.sparkConf("gradsurgery-local-cluster")
                // the executors run this test's class path (surefire's manifest jar) and native build
                .set("spark.executor.extraClassPath", System.getProperty("java.class.path"))
                .set("spark.executor.extraJavaOptions", "-Dorg.bytedeco.javacpp.platform.extension="
                        + System.getProperty("org.bytedeco.javacpp.platform.extension", ""))
                .set("spark.executorEnv.OMP_NUM_THREADS", "1")
                // without a Spark distribution (SPARK_HOME/jars), Spark's launcher builds the executor's class path
                // only in its testing mode, from extraClassPath alone
                .set("spark.executorEnv.SPARK_SCALA_VERSION", "2.12")
                .set("spark.executorEnv.SPARK_TESTING", "1");
        TrainingConfig config = TrainingConfig.builder().epochs(3).batchSize(4).validateEvery(0)
                .progress(TrainingConfig.ProgressMode.PLAIN).build();
        TrainingResult r;
        try (JavaSparkContext sc = new JavaSparkContext(conf)) {
            SparkData data = TinySpark.export(TinySpark.data(train, null), 4, tmp.resolve("batches"));
            r = SparkSegmentationTrainer.builder(config, settings).build().fit(sc, net, data);
            data.close();
            assertEquals(2, sc.sc().getExecutorIds().size(), "executors: " + sc.sc().getExecutorIds());
        }
        double end = r.network().score(train);
        System.out.printf("local-cluster: training score %.4f -> %.4f after %d rounds%n", start, end, r.iterations());
        assertEquals(6, r.iterations());
        assertTrue(end < 0.8 * start, start + " -> " + end);
    }
}
