package org.gradsurgery.experiment;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.InvalidSettingException;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.loss.Reduction;
import org.gradsurgery.model.UNet;
import org.gradsurgery.training.EarlyStopping;
import org.gradsurgery.training.TrainingConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Nesterovs;

/** One JSON round trip per spec record, and a U-Net rebuilt from its spec is the same network. */
class ExperimentSpecTest {
    @TempDir
    Path tmp;

    /** Every UNetSpec field away from its default. */
    static UNetSpec unusualUNet() {
        return UNetSpec.builder().spatialDims(2).inputChannels(2).numClasses(3).levels(3).baseFilters(4)
                .convsPerLevel(1).normalization(UNet.Normalization.BATCH).dropout(0.25)
                .upsampling(UNet.Upsampling.UPSAMPLE_CONV).activation(UNet.OutputActivation.SIGMOID)
                .dataFormat(CNN2DFormat.NHWC).inputSize(8, 12).seed(7).updater(new Nesterovs(0.05, 0.8))
                .dataType(DataType.DOUBLE).build();
    }

    static DataPlan fullPlan() {
        return DataPlan.builder(new DataPlan.Folders("imgs", "labs", "{id}_t1.nii.gz", "{id}_labels.nii.gz"))
                .dims(3).patchSize(16, 32, 16).patchesPerCase(2).sliceAxis(1).intensity(DataPlan.Intensity.CT)
                .intensityStatistics(List.of(new DataPlan.IntensityStatistics(1, 2, -3, 4)))
                .spacing(1.5, 1.5, 3).augmentation(DataPlan.Augmentation.NNUNET_LITE).flipAxes(0, 2)
                .labelGrouping(Map.of(0L, 0, 17L, 1, 53L, 1)).numClasses(2).classNames(List.of("bg", "hippocampus"))
                .split(DataPlan.Split.of(List.of("a", "b"), List.of("c"), List.of("d"))).build();
    }

    @Test
    void everyUNetSpecFieldSurvivesJsonAndTheBuilder() {
        UNetSpec s = unusualUNet();
        assertEquals(s, Specs.fromJson(Specs.toJson(s), UNetSpec.class));
        UNet unet = UNet.builder().from(s).build();
        assertEquals(s, unet.spec());
        assertEquals(s, UNet.builder().from(unet.spec()).build().spec());
        assertNotEquals(UNetSpec.DEFAULTS, s);
        // every field differs from the default, so the equality above compares each one
        UNetSpec d = UNetSpec.DEFAULTS;
        assertTrue(d.spatialDims() == s.spatialDims() // 2D both: NHWC and the size only exist in 2D
                && d.inputChannels() != s.inputChannels() && d.numClasses() != s.numClasses()
                && d.levels() != s.levels() && d.baseFilters() != s.baseFilters()
                && d.convsPerLevel() != s.convsPerLevel() && d.normalization() != s.normalization()
                && d.dropout() != s.dropout() && d.upsampling() != s.upsampling() && d.activation() != s.activation()
                && d.dataFormat() != s.dataFormat() && d.inputSize() == null && d.seed() != s.seed()
                && !d.updater().equals(s.updater()) && d.dataType() != s.dataType());
        UNetSpec threeD = UNetSpec.builder().spatialDims(3).inputSize(8, 16, 8).build();
        assertEquals(threeD, Specs.fromJson(Specs.toJson(threeD), UNetSpec.class));
        assertEquals(null, threeD.dataFormat());
    }

    @Test
    void dataPlanAndExperimentSpecRoundTrip() throws IOException {
        DataPlan p = fullPlan();
        assertEquals(p, Specs.fromJson(Specs.toJson(p), DataPlan.class));
        for (DataPlan.Source s : List.of(new DataPlan.Msd("task"), new DataPlan.Manifest("m.csv"),
                new DataPlan.Generated(4, new int[] {8, 8}, 3, 5), new DataPlan.Colin27("datasets", 2))) {
            DataPlan q = DataPlan.of(s);
            assertEquals(q, Specs.fromJson(Specs.toJson(q), DataPlan.class), Specs.toJson(q));
        }
        ExperimentSpec e = new ExperimentSpec(unusualUNet(), LossSpec.parse("tversky:alpha=0.3:beta=0.7+surgery:2.0"
                + "+ce:0.5"), TrainingConfig.builder().epochs(3).batchSize(2).maxIterations(9).validateEvery(1)
                .earlyStopping(EarlyStopping.on(EarlyStopping.Metric.DICE, 2)).runDirectory(tmp).build(), p, 11);
        assertEquals(11, e.model().seed());
        assertEquals(11, e.training().seed());
        assertEquals(e, ExperimentSpec.fromJson(e.toJson()));
        Path f = tmp.resolve("spec.json");
        e.write(f);
        assertEquals(e, ExperimentSpec.read(f));
        assertTrue(e.toJson().contains("\"loss\" : \"tversky:alpha=0.3:beta=0.7+surgery:2.0+ce:0.5\""), e.toJson());
    }

    /**
     * A batch-Dice loss survives config.json, and a config.json written before the reduction existed (its loss
     * string has no {@code :batch}) reads back as the per-sample loss it trained with and writes the same string.
     */
    @Test
    void lossReductionSurvivesConfigJsonAndOldConfigsStaySample() {
        ExperimentSpec e = new ExperimentSpec(unusualUNet(), LossSpec.parse("dice:no-background:batch+surgery+ce:1.0"),
                TrainingConfig.builder().epochs(2).batchSize(2).build(), DataPlan.of(new DataPlan.Msd("task")), 5);
        String json = e.toJson();
        assertTrue(json.contains("\"loss\" : \"dice:no-background:batch+surgery+ce:1.0\""), json);
        ExperimentSpec back = ExperimentSpec.fromJson(json);
        assertEquals(e, back);
        assertEquals(Reduction.BATCH, back.loss().reduction());
        assertEquals(e.loss().create(), back.loss().create());

        String old = json.replace("dice:no-background:batch+surgery+ce:1.0", "dice:no-background+surgery+ce:1.0");
        ExperimentSpec earlier = ExperimentSpec.fromJson(old);
        assertEquals(Reduction.SAMPLE, earlier.loss().reduction());
        assertEquals(LossSpec.builder().includeBackground(false).surgery(true).ceWeight(1).build(), earlier.loss());
        assertEquals(old, earlier.toJson(), "an earlier run's config.json writes back unchanged");
    }

    @Test
    void aRebuiltNetworkHasTheSameParametersAndOutput() throws IOException {
        UNetSpec s = UNetSpec.builder().levels(2).baseFilters(3).numClasses(3).seed(5).build();
        ExperimentSpec e = new ExperimentSpec(s, LossSpec.parse("dice+surgery"), TrainingConfig.builder().build(),
                DataPlan.of(new DataPlan.Generated(3, new int[] {8, 8}, 3, 1)), 5);
        Path f = tmp.resolve("config.json");
        e.write(f);
        ExperimentSpec back = ExperimentSpec.read(tmp);
        ComputationGraph a = UNet.builder().from(e.model()).loss(e.loss().create()).build().graph();
        ComputationGraph b = UNet.builder().from(back.model()).loss(back.loss().create()).build().graph();
        assertEquals(a.numParams(), b.numParams());
        INDArray x = Nd4j.rand(DataType.FLOAT, 2, 1, 8, 8);
        assertEquals(a.outputSingle(x), b.outputSingle(x));
        assertEquals(a.params(), b.params());
    }

    @Test
    void badSettingsNameTheSetting() {
        InvalidSettingException e = assertThrows(InvalidSettingException.class,
                () -> UNetSpec.builder().levels(0).build());
        assertEquals("levels", e.setting());
        assertEquals("--levels must be >= 1 (1 = no pooling), got 0", e.messageFor("--levels"));
        e = assertThrows(InvalidSettingException.class, () -> TrainingConfig.builder().batchSize(0).build());
        assertEquals("batchSize", e.setting());
        assertEquals("TrainingConfig: batchSize must be >= 1, got 0", e.getMessage());
        e = assertThrows(InvalidSettingException.class, () -> LossSpec.builder().surgery(true).exponent(-1).build());
        assertEquals("exponent", e.setting());
        e = assertThrows(InvalidSettingException.class, () -> LossSpec.parse("dcie"));
        assertEquals("--loss: unknown loss 'dcie' (known: dice, jaccard, tversky, focal-tversky, generalized-dice, "
                + "mcxent)", e.messageFor("--loss"));
        e = assertThrows(InvalidSettingException.class, () -> DataPlan.builder(new DataPlan.Msd("x"))
                .patchSize(8, 8).build());
        assertEquals("patchSize", e.setting());
        e = assertThrows(InvalidSettingException.class, () -> DataPlan.Intensity.parse("minmax"));
        assertEquals("--intensity must be one of zscore, ct, percentile, none, got minmax",
                e.messageFor("--intensity"));
        // from JSON: the record's own error, naming the setting
        e = assertThrows(InvalidSettingException.class, () -> Specs.fromJson("{\"spatialDims\": 4}", UNetSpec.class));
        assertEquals("spatialDims", e.setting());
    }

    @Test
    void olderRunFoldersAreRefusedWithAHint() throws IOException {
        Files.writeString(tmp.resolve("config.json"), "{\"model\": {\"architecture\": \"UNet 2D\", \"levels\": 3}}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ExperimentSpec.read(tmp));
        assertTrue(e.getMessage().contains("earlier version") && e.getMessage().contains("train the run again"),
                e.getMessage());
    }

    @Test
    void patchSizeOfOneValueIsACube() {
        assertArrayEquals(new int[] {16, 16, 16}, DataPlan.builder(new DataPlan.Msd("x")).patchSize(16).build()
                .patchSize());
    }
}
