package org.gradsurgery.spark;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.apache.spark.SparkConf;
import org.deeplearning4j.spark.api.RDDTrainingApproach;
import org.gradsurgery.InvalidSettingException;
import org.junit.jupiter.api.Test;

/** The typed Spark settings: one JSON round trip, gradient sharing refused with its reason, bad values named. */
class SparkSettingsTest {

    @Test
    void jsonRoundTripAndSparkConf() {
        SparkSettings s = SparkSettings.builder().master("local[2]").workers(2).averagingFrequency(3)
                .rddTrainingApproach(RDDTrainingApproach.Direct).storageLevel("memory_and_disk")
                .serializer(SparkSettings.Serializer.KRYO).build();
        assertEquals(s, SparkSettings.fromJson(s.toJson()));
        SparkConf conf = s.sparkConf("app");
        assertEquals("local[2]", conf.get("spark.master"));
        assertEquals("org.nd4j.kryo.Nd4jRegistrator", conf.get("spark.kryo.registrator"));
        assertEquals("127.0.0.1", conf.get("spark.driver.bindAddress"));
        assertEquals(org.apache.spark.storage.StorageLevel.MEMORY_AND_DISK(), s.storageLevel());
    }

    @Test
    void gradientSharingIsRefusedWithTheReason() {
        InvalidSettingException e = assertThrows(InvalidSettingException.class, () -> SparkSettings.builder()
                .trainingMaster(SparkSettings.TrainingMasterKind.GRADIENT_SHARING).build());
        assertEquals("trainingMaster", e.setting());
        assertTrue(e.getMessage().contains("0 iterations") && e.getMessage().contains("DISTRIBUTED.md"),
                e.getMessage());
        String json = SparkSettings.builder().build().toJson().replace("PARAMETER_AVERAGING", "GRADIENT_SHARING");
        assertThrows(InvalidSettingException.class, () -> SparkSettings.fromJson(json));
    }

    @Test
    void badValuesNameTheSetting() {
        assertEquals("workers", assertThrows(InvalidSettingException.class,
                () -> SparkSettings.builder().workers(-1).build()).setting());
        assertEquals("averagingFrequency", assertThrows(InvalidSettingException.class,
                () -> SparkSettings.builder().averagingFrequency(0).build()).setting());
        assertEquals("storageLevel", assertThrows(InvalidSettingException.class,
                () -> SparkSettings.builder().storageLevel("SOMEWHERE").build()).setting());
    }
}
