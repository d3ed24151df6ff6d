package org.gradsurgery.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.serializer.JavaSerializer;
import org.apache.spark.serializer.KryoSerializer;
import org.apache.spark.serializer.SerializerInstance;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.spark.api.worker.NetBroadcastTuple;
import org.gradsurgery.model.UNet;
import org.gradsurgery.training.TrainingConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.Sgd;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;

/**
 * What parameter averaging broadcasts to the workers (DL4J's {@link NetBroadcastTuple}: the graph configuration with
 * the project's layers, vertex and loss, the parameters and the updater state) survives Spark's Java and Kryo
 * serialisers: the network rebuilt from the round trip gives the same outputs to the last bit. And a training round
 * under Kryo gives the same parameters as under Java serialisation.
 */
class BroadcastSerializationTest {

    @ParameterizedTest(name = "{0}, {1} normalisation")
    @CsvSource({"JAVA, INSTANCE", "JAVA, BATCH", "KRYO, INSTANCE", "KRYO, BATCH"})
    void broadcastRoundTripGivesIdenticalOutputs(SparkSettings.Serializer serializer, UNet.Normalization norm)
            throws Exception {
        ComputationGraph net = TinySpark.unet(new Adam(1e-2), DataType.FLOAT, norm, 9);
        DataSet data = TinySpark.cases(4, 31, DataType.FLOAT);
        net.fit(data); // non-trivial updater state and batch-norm statistics
        NetBroadcastTuple tuple = new NetBroadcastTuple(net.getConfiguration(), net.params(),
                net.getUpdater().getStateViewArray());

        SparkConf conf = TinySpark.settings(2, serializer).sparkConf("broadcast-test");
        SerializerInstance s = serializer == SparkSettings.Serializer.KRYO
                ? new KryoSerializer(conf).newInstance() : new JavaSerializer(conf).newInstance();
        ClassTag<NetBroadcastTuple> tag = ClassTag$.MODULE$.apply(NetBroadcastTuple.class);
        ByteBuffer bytes = s.serialize(tuple, tag);
        int size = bytes.remaining();
        NetBroadcastTuple back = s.deserialize(bytes, tag);
        assertNotSame(tuple, back);

        assertEquals(net.getConfiguration().toJson(), back.getGraphConfiguration().toJson());
        ComputationGraph rebuilt = new ComputationGraph(back.getGraphConfiguration());
        rebuilt.init(back.getParameters(), true);
        rebuilt.getUpdater().getStateViewArray().assign(back.getUpdaterState());
        assertEquals(net.params(), rebuilt.params());
        assertEquals(net.getUpdater().getStateViewArray(), rebuilt.getUpdater().getStateViewArray());
        assertEquals(net.outputSingle(data.getFeatures()), rebuilt.outputSingle(data.getFeatures()));
        System.out.printf("broadcast %s %s: %d bytes%n", serializer, norm, size);
    }

    @Test
    void kryoAndJavaSerialisationTrainTheSameParameters(@TempDir Path tmp) throws Exception {
        DataSet train = TinySpark.cases(8, 41, DataType.DOUBLE);
        TrainingConfig config = TrainingConfig.builder().epochs(1).batchSize(4).validateEvery(0)
                .progress(TrainingConfig.ProgressMode.OFF).build();
        ComputationGraph[] trained = new ComputationGraph[2];
        for (SparkSettings.Serializer serializer : SparkSettings.Serializer.values()) {
            ComputationGraph net = TinySpark.unet(new Sgd(0.5), DataType.DOUBLE, UNet.Normalization.INSTANCE, 13);
            try (JavaSparkContext sc = TinySpark.local(2, serializer)) {
                assertEquals(serializer == SparkSettings.Serializer.KRYO, sc.getConf().get("spark.serializer", "")
                        .endsWith("KryoSerializer"));
                SparkData data = TinySpark.export(TinySpark.data(train, null), 4, tmp.resolve(serializer.name()));
                trained[serializer.ordinal()] = SparkSegmentationTrainer.builder(config,
                        TinySpark.settings(2, serializer)).build().fit(sc, net, data).network();
                data.close();
            }
        }
        assertEquals(trained[0].params(), trained[1].params());
    }
}
