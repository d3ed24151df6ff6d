package org.gradsurgery.examples.cli;

import static org.gradsurgery.examples.cli.UserDataCommandsTest.TINY;
import static org.gradsurgery.examples.cli.UserDataCommandsTest.assertError;
import static org.gradsurgery.examples.cli.UserDataCommandsTest.run;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import javax.imageio.ImageIO;
import org.gradsurgery.data.Case;
import org.gradsurgery.data.CtNormalization;
import org.gradsurgery.data.MsdDataset;
import org.gradsurgery.data.Sample;
import org.gradsurgery.data.nifti.Nifti;
import org.gradsurgery.training.RunDirectory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.nd4j.shade.jackson.databind.node.ObjectNode;

/**
 * {@code --intensity}, {@code --spacing} and {@code --augment} on the user-data path: CT statistics fitted on the
 * training foreground, saved in config.json and reused by {@code evaluate}, {@code predict} and {@code --resume}; training at a spacing
 * with predictions written back on the input's grid; one-line errors naming the flag.
 */
class UserDataPreprocessingTest {
    @TempDir
    static Path tmp;
    private static Path msd;
    private static Path pngImages;
    private static Path pngLabels;

    @BeforeAll
    static void fabricate() throws IOException {
        msd = UserDataCommandsTest.fakeMsd(tmp);
        pngImages = Files.createDirectories(tmp.resolve("png/images"));
        pngLabels = Files.createDirectories(tmp.resolve("png/labels"));
        UserDataCommandsTest.fakePngs(pngImages, pngLabels, true);
    }

    @Test
    void ctStatisticsAreFittedOnTrainingForegroundSavedAndReusedByResumeEvaluateAndPredict() throws IOException {
        Path dir = tmp.resolve("ct");
        CliRun r = run(TINY, "--msd", msd.toString(), "--dims", "3", "--patch-size", "8", "--val-fraction", "0.25",
                "--intensity", "ct", "--spacing", "2,2,2", "--augment", "nnunet-lite", "--out", dir.toString());
        assertEquals(0, r.exit(), r.err() + r.out());
        assertTrue(r.out().contains("intensity ct: fitting the statistics on the foreground of 3 training case(s)"),
                r.out());
        JsonNode data = RunDirectory.readConfig(dir).path("data");
        assertEquals("ct", data.path("intensity").asText());
        assertEquals("nnunet-lite", data.path("augmentation").asText());
        assertEquals(List.of(2.0, 2.0, 2.0), doubles(data.path("spacing")));

        // the saved numbers are nnU-Net's fit over the training cases (seed 42, 10,000 draws per case), nothing else
        Map<String, Case> byId = MsdDataset.open(msd).trainingCases().stream()
                .collect(Collectors.toMap(Case::id, Function.identity()));
        List<Sample> training = new ArrayList<>();
        for (JsonNode id : data.path("split").path("training")) {
            training.add(byId.get(id.asText()).load());
        }
        CtNormalization.Channel expected = CtNormalization.fit(training, CtNormalization.NNUNET_SAMPLES_PER_CASE,
                42).channels().get(0);
        JsonNode saved = data.path("intensityStatistics").get(0);
        assertEquals(expected.mean(), saved.path("mean").asDouble(), 0);
        assertEquals(expected.std(), saved.path("std").asDouble(), 0);
        assertEquals(expected.percentile005(), saved.path("percentile_00_5").asDouble(), 0);
        assertEquals(expected.percentile995(), saved.path("percentile_99_5").asDouble(), 0);
        // foreground is 100 (shell) or 200 (core) plus N(0, 10) noise
        assertTrue(expected.mean() > 100 && expected.mean() < 200, expected.toString());
        assertTrue(expected.percentile005() > 60 && expected.percentile995() < 240, expected.toString());
        String md = Files.readString(dir.resolve(RunDirectory.REPORT));
        assertTrue(md.contains("resampled to [2.0, 2.0, 2.0] mm") && md.contains("gamma U[0.7, 1.5]"), md);

        // resume continues with the saved statistics: no second fit, the same numbers in config.json
        CliRun resumed = CliRun.of("train", "--resume", dir.toString(), "--epochs", "2", "--progress", "off");
        assertEquals(0, resumed.exit(), resumed.err() + resumed.out());
        assertFalse(resumed.out().contains("fitting"), resumed.out());
        assertEquals(saved, RunDirectory.readConfig(dir).path("data").path("intensityStatistics").get(0));

        // a copy of the run whose config.json says other statistics: evaluate and predict use those
        Path edited = Files.createDirectories(tmp.resolve("ct-edited"));
        Files.copy(dir.resolve(RunDirectory.MODEL), edited.resolve(RunDirectory.MODEL));
        ObjectMapper json = new ObjectMapper();
        JsonNode cfg = json.readTree(dir.resolve(RunDirectory.CONFIG).toFile());
        ObjectNode stats = (ObjectNode) cfg.path("data").path("intensityStatistics").get(0);
        stats.put("mean", 150.0).put("std", 50.0).put("percentile_00_5", 0.0).put("percentile_99_5", 300.0);
        json.writeValue(edited.resolve(RunDirectory.CONFIG).toFile(), cfg);

        CliRun e = CliRun.of("evaluate", "--model", edited.resolve(RunDirectory.MODEL).toString(), "--out",
                tmp.resolve("ct-eval").toString());
        assertEquals(0, e.exit(), e.err());
        String emd = Files.readString(tmp.resolve("ct-eval").resolve(RunDirectory.REPORT));
        assertTrue(emd.contains("channel 0: clip to [0, 300], then (x - 150) / 50"), emd);
        CliRun eo = CliRun.of("evaluate", "--model", dir.resolve(RunDirectory.MODEL).toString(), "--out",
                tmp.resolve("ct-eval-original").toString());
        assertEquals(0, eo.exit(), eo.err());
        assertTrue(Files.readString(tmp.resolve("ct-eval-original").resolve(RunDirectory.REPORT))
                .contains(String.format("(x - %s) / %s", number(expected.mean()),
                        number(expected.std()))));

        // predict: trained at 2 mm, written back on the input's 12x10x8 grid at 1.5x1.5x2 mm
        INDArray original = predict(dir, "pred-ct");
        INDArray other = predict(edited, "pred-ct-edited");
        assertArrayEquals(new long[] {12, 10, 8, 3}, original.shape());
        assertEquals(0, original.sum(3).sub(1.0).amaxNumber().doubleValue(), 1e-3);
        assertTrue(original.sub(other).amaxNumber().doubleValue() > 1e-4, "other statistics, other probabilities");
    }

    private static INDArray predict(Path run, String out) throws IOException {
        Path pred = tmp.resolve(out);
        CliRun p = CliRun.of("predict", "--model", run.resolve(RunDirectory.MODEL).toString(), "--input",
                msd.resolve("imagesTr/fake_000.nii.gz").toString(), "--out", pred.toString());
        assertEquals(0, p.exit(), p.err());
        assertTrue(p.out().contains("at [2.0, 2.0, 2.0] mm, resampled back onto the input's grid"), p.out());
        assertArrayEquals(new long[] {12, 10, 8}, Nifti.read(pred.resolve("labels.nii.gz")).labels().shape());
        return Nifti.read(pred.resolve("probabilities.nii.gz")).data(DataType.FLOAT);
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** As the report prints numbers: 6 significant digits, no trailing zeros. */
    private static String number(double x) {
        return new java.math.BigDecimal(x).round(new java.math.MathContext(6)).stripTrailingZeros().toPlainString();
    }

    private static List<Double> doubles(JsonNode a) {
        List<Double> out = new ArrayList<>();
        a.forEach(v -> out.add(v.asDouble()));
        return out;
    }

    @Test
    void percentileNormalisationAndA2dSpacingPredictOnTheInputsOwnGrid() throws IOException {
        Path dir = tmp.resolve("pct2d");
        CliRun r = run(TINY, "--images", pngImages.toString(), "--labels", pngLabels.toString(), "--classes", "2",
                "--intensity", "percentile", "--spacing", "0.5,0.5", "--augment", "flips", "--out", dir.toString());
        assertEquals(0, r.exit(), r.err() + r.out());
        JsonNode data = RunDirectory.readConfig(dir).path("data");
        assertEquals("percentile", data.path("intensity").asText());
        assertFalse(data.has("intensityStatistics"));
        String md = Files.readString(dir.resolve(RunDirectory.REPORT));
        assertTrue(md.contains("clipped to its own [0.5, 99.5] percentiles") && md.contains("mirrored"), md);

        Path pred = tmp.resolve("pct2d-pred");
        CliRun p = CliRun.of("predict", "--model", dir.resolve(RunDirectory.MODEL).toString(), "--input",
                pngImages.resolve("s0.png").toString(), "--out", pred.toString());
        assertEquals(0, p.exit(), p.err());
        assertTrue(p.out().contains("at [0.5, 0.5] mm, resampled back onto the input's grid"), p.out());
        BufferedImage labels = ImageIO.read(pred.resolve("labels.png").toFile());
        assertEquals(16, labels.getWidth());
        assertEquals(12, labels.getHeight());
    }

    @Test
    void aCtChannelInDatasetJsonSuggestsIntensityCtWithoutChangingTheDefault() throws IOException {
        Path ct = tmp.resolve("ctTask");
        Files.createDirectories(ct.resolve("imagesTs"));
        for (String sub : List.of("imagesTr", "labelsTr")) {
            Path dst = Files.createDirectories(ct.resolve(sub));
            try (var files = Files.list(msd.resolve(sub))) {
                for (Path f : files.toList()) {
                    Files.copy(f, dst.resolve(f.getFileName()));
                }
            }
        }
        Files.writeString(ct.resolve("dataset.json"), Files.readString(msd.resolve("dataset.json"))
                .replace("\"0\":\"MRI\"", "\"0\":\"CT\""));
        // stops at a patch size that does not fit the levels, found when the plan meets the data after the notes:
        // no training needed to see the note
        String[] badPatch = {"--dims", "3", "--patch-size", "6", "--levels", "3"};
        CliRun r = CliRun.of(concat(new String[] {"train", "--msd", ct.toString()}, badPatch));
        assertTrue(r.out().contains("names a CT channel; nnU-Net would normalise it with intensity ct (used here: "
                + "zscore per case)"), r.out() + r.err());
        assertTrue(r.err().contains("--patch-size 6,6,6: every size must be a positive multiple"), r.err());
        CliRun mri = CliRun.of(concat(new String[] {"train", "--msd", msd.toString()}, badPatch));
        assertFalse(mri.out().contains("CT channel"), mri.out());
    }

    @Test
    void badValuesFailWithOneLineNamingTheFlag() throws IOException {
        assertError("--intensity must be one of zscore, ct, percentile, none, got foo", "train", "--msd", msd.toString(),
                "--intensity", "foo");
        assertError("--augment must be one of none, flips, nnunet-lite, got rotate", "train", "--msd",
                msd.toString(), "--augment", "rotate");
        assertError("--spacing needs 3 values for 3D volumes, got 2", "train", "--msd", msd.toString(), "--dims", "3",
                "--patch-size", "8", "--spacing", "1,1");
        assertError("--spacing 0,1,1 is out of range: it must be a finite number of mm > 0 (each value)", "train",
                "--msd", msd.toString(), "--spacing", "0,1,1");
        assertError("--spacing needs 2 or 3 positive numbers of mm", "train", "--msd", msd.toString(),
                "--spacing", "1,1,1,1");
        assertError("--downsample applies to the demo data", "train", "--msd", msd.toString(), "--downsample", "2");
        Path images = Files.createDirectories(tmp.resolve("empty/images"));
        Path labels = Files.createDirectories(tmp.resolve("empty/labels"));
        UserDataCommandsTest.fakePngs(images, labels, false);
        assertError("--intensity ct: no foreground voxel (label > 0) in the 2 training case(s)", "train",
                "--images", images.toString(), "--labels", labels.toString(), "--classes", "2", "--intensity", "ct");
    }
}
