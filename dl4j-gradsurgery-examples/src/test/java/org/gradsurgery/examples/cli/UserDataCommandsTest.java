package org.gradsurgery.examples.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import javax.imageio.ImageIO;
import org.gradsurgery.data.nifti.Nifti;
import org.gradsurgery.data.nifti.NiftiDataType;
import org.gradsurgery.data.nifti.NiftiHeader;
import org.gradsurgery.data.nifti.NiftiImage;
import org.gradsurgery.training.RunDirectory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.shade.jackson.databind.JsonNode;

/**
 * {@code train}, {@code evaluate} and {@code predict} on the user's own data: a fabricated Decathlon task trained for
 * two updates in 3D (patches, sliding-window evaluation and prediction), a PNG folder pair in 2D with resume, slices
 * of volumes listed in a CSV manifest with a label map, and one-line errors for bad flag combinations.
 */
class UserDataCommandsTest {
    private static final int[] SHAPE = {12, 10, 8};

    @TempDir
    static Path tmp;
    private static Path msd;
    private static Path pngImages;
    private static Path pngLabels;

    /** A bright ellipsoid (label 1) with a dimmer core (label 2), shifted per case, on a noisy background. */
    private static void writeCase(Path image, Path label, int c) throws IOException {
        INDArray img = Nd4j.create(DataType.FLOAT, SHAPE[0], SHAPE[1], SHAPE[2]);
        INDArray lab = Nd4j.create(DataType.INT32, SHAPE[0], SHAPE[1], SHAPE[2]);
        java.util.Random rng = new java.util.Random(c);
        for (int i = 0; i < SHAPE[0]; i++) {
            for (int j = 0; j < SHAPE[1]; j++) {
                for (int k = 0; k < SHAPE[2]; k++) {
                    double r2 = Math.pow((i - 6 - c % 2) / 4.0, 2) + Math.pow((j - 5) / 3.5, 2)
                            + Math.pow((k - 4) / 3.0, 2);
                    int cls = r2 < 0.25 ? 2 : r2 < 1 ? 1 : 0;
                    lab.putScalar(new long[] {i, j, k}, cls);
                    img.putScalar(new long[] {i, j, k}, 100 * cls + 10 * rng.nextGaussian());
                }
            }
        }
        NiftiHeader h = NiftiHeader.builder().dims(SHAPE[0], SHAPE[1], SHAPE[2]).datatype(NiftiDataType.FLOAT32)
                .spacing(1.5, 1.5, 2).build();
        Nifti.write(image, img, h);
        Nifti.write(label, lab, h.toBuilder().datatype(NiftiDataType.UINT8).build(), NiftiDataType.UINT8);
    }

    /** A fabricated 4-case Decathlon task in {@code root}/Task99_Fake (also used by {@link UserDataPreprocessingTest}). */
    static Path fakeMsd(Path root) throws IOException {
        Path msd = root.resolve("Task99_Fake");
        Files.createDirectories(msd.resolve("imagesTr"));
        Files.createDirectories(msd.resolve("labelsTr"));
        Files.createDirectories(msd.resolve("imagesTs"));
        StringBuilder training = new StringBuilder();
        for (int c = 0; c < 4; c++) {
            String f = String.format("fake_%03d.nii.gz", c);
            writeCase(msd.resolve("imagesTr").resolve(f), msd.resolve("labelsTr").resolve(f), c);
            training.append(c == 0 ? "" : ",").append("{\"image\":\"./imagesTr/").append(f)
                    .append("\",\"label\":\"./labelsTr/").append(f).append("\"}");
        }
        Files.writeString(msd.resolve("dataset.json"), "{\"name\":\"Fake\",\"tensorImageSize\":\"3D\","
                + "\"modality\":{\"0\":\"MRI\"},\"labels\":{\"0\":\"background\",\"1\":\"shell\",\"2\":\"core\"},"
                + "\"numTraining\":4,\"numTest\":0,\"training\":[" + training + "],\"test\":[]}");
        return msd;
    }

    @BeforeAll
    static void fabricate() throws IOException {
        msd = fakeMsd(tmp);

        pngImages = Files.createDirectories(tmp.resolve("png/images"));
        pngLabels = Files.createDirectories(tmp.resolve("png/labels"));
        fakePngs(pngImages, pngLabels, true);
    }

    /** Three 16x12 grey PNGs with a bright box (label 1, or 0 everywhere without {@code foreground}). */
    static void fakePngs(Path images, Path labels, boolean foreground) throws IOException {
        for (int c = 0; c < 3; c++) {
            BufferedImage im = new BufferedImage(16, 12, BufferedImage.TYPE_BYTE_GRAY);
            BufferedImage lb = new BufferedImage(16, 12, BufferedImage.TYPE_BYTE_GRAY);
            for (int x = 0; x < 16; x++) {
                for (int y = 0; y < 12; y++) {
                    boolean fg = Math.abs(x - 8 - c) < 4 && Math.abs(y - 6) < 3;
                    im.getRaster().setSample(x, y, 0, fg ? 200 : 30 + (x * 7 + y * 3) % 20);
                    lb.getRaster().setSample(x, y, 0, fg && foreground ? 1 : 0);
                }
            }
            ImageIO.write(im, "png", images.resolve("s" + c + ".png").toFile());
            ImageIO.write(lb, "png", labels.resolve("s" + c + ".png").toFile());
        }
    }

    static final List<String> TINY = List.of("--levels", "2", "--filters", "2", "--epochs", "1",
            "--max-iterations", "2", "--batch-size", "2", "--progress", "off");

    static CliRun run(List<String> base, String... args) {
        List<String> all = new java.util.ArrayList<>(List.of("train"));
        all.addAll(base);
        all.addAll(List.of(args));
        return CliRun.of(all.toArray(new String[0]));
    }

    @Test
    void trainsA3dUNetOnAnMsdFolderAndEvaluatesHeldOutCasesBySlidingWindow() throws IOException {
        Path dir = tmp.resolve("run3d");
        CliRun r = run(TINY, "--msd", msd.toString(), "--dims", "3", "--patch-size", "8", "--val-fraction", "0.25",
                "--out", dir.toString());
        assertEquals(0, r.exit(), r.err() + r.out());
        assertTrue(r.out().contains("3D U-Net"), r.out());
        String md = Files.readString(dir.resolve(RunDirectory.REPORT));
        assertTrue(md.contains("3 training cases") || md.contains("Training: 3 cases"), md);
        assertTrue(md.contains("sliding-window"), md);
        assertTrue(md.contains("shell") && md.contains("core"), md);
        JsonNode data = RunDirectory.readConfig(dir).path("data");
        assertEquals("msd", data.path("source").path("type").asText());
        assertEquals(3, data.path("dims").asInt());
        assertEquals(1, data.path("split").path("validation").size());
        assertEquals(3, data.path("split").path("training").size());
        assertTrue(Files.isRegularFile(dir.resolve(RunDirectory.MODEL)));

        // evaluate rebuilds the same held-out case from config.json, with no data flags
        Path evalDir = tmp.resolve("eval3d");
        CliRun e = CliRun.of("evaluate", "--model", dir.resolve(RunDirectory.MODEL).toString(), "--out",
                evalDir.toString());
        assertEquals(0, e.exit(), e.err());
        String emd = Files.readString(evalDir.resolve(RunDirectory.REPORT));
        assertTrue(emd.contains(data.path("split").path("validation").get(0).asText()), emd);

        // predict on a whole volume by sliding window with the recorded patch size
        Path pred = tmp.resolve("pred3d");
        CliRun p = CliRun.of("predict", "--model", dir.resolve(RunDirectory.MODEL).toString(), "--input",
                msd.resolve("imagesTr/fake_000.nii.gz").toString(), "--out", pred.toString());
        assertEquals(0, p.exit(), p.err());
        assertTrue(p.out().contains("3D sliding window [8, 8, 8]"), p.out());
        NiftiImage probs = Nifti.read(pred.resolve("probabilities.nii.gz"));
        assertArrayEquals(new long[] {12, 10, 8, 3}, probs.data(DataType.FLOAT).shape());
        INDArray sum = probs.data(DataType.FLOAT).sum(3);
        assertEquals(1.0, sum.minNumber().doubleValue(), 1e-3);
        assertEquals(1.0, sum.maxNumber().doubleValue(), 1e-3);
        assertArrayEquals(new long[] {12, 10, 8}, Nifti.read(pred.resolve("labels.nii.gz")).labels()
                .shape());

        // --mirror: 8 passes per window, a different but still normalised probability field of the same shape
        Path mirrored = tmp.resolve("pred3d-mirror");
        CliRun m = CliRun.of("predict", "--mirror", "--model", dir.resolve(RunDirectory.MODEL).toString(), "--input",
                msd.resolve("imagesTr/fake_000.nii.gz").toString(), "--out", mirrored.toString());
        assertEquals(0, m.exit(), m.err());
        assertTrue(m.out().contains("3D sliding window [8, 8, 8], 3 classes, mirrored: 8 passes per window"), m.out());
        INDArray mp = Nifti.read(mirrored.resolve("probabilities.nii.gz")).data(DataType.FLOAT);
        assertArrayEquals(new long[] {12, 10, 8, 3}, mp.shape());
        assertEquals(0, mp.sum(3).sub(1.0).amaxNumber().doubleValue(), 1e-3);
        assertTrue(mp.sub(probs.data(DataType.FLOAT)).amaxNumber().doubleValue() > 1e-4, "mirroring changes it");

        // evaluate --mirror: sliding windows with 8 passes each, said so in the report
        CliRun em = CliRun.of("evaluate", "--mirror", "--model", dir.resolve(RunDirectory.MODEL).toString(), "--out",
                tmp.resolve("eval3d-mirror").toString());
        assertEquals(0, em.exit(), em.err());
        String mmd = Files.readString(tmp.resolve("eval3d-mirror").resolve(RunDirectory.REPORT));
        assertTrue(mmd.contains("test-time mirroring (--mirror)") && mmd.contains("3 spatial axes (8 passes)"), mmd);
    }

    @Test
    void trainsA2dUNetOnAPngFolderPairAndResumes() throws IOException {
        Path dir = tmp.resolve("run2d");
        CliRun ok = run(TINY, "--images", pngImages.toString(), "--labels", pngLabels.toString(), "--classes", "2",
                "--out", dir.toString());
        assertEquals(0, ok.exit(), ok.err() + ok.out());
        String md = Files.readString(dir.resolve(RunDirectory.REPORT));
        assertTrue(md.contains("2D (whole images)"), md);
        assertEquals("folders", RunDirectory.readConfig(dir).path("data").path("source").path("type").asText());
        assertTrue(md.contains("1 epochs, 1 updates"), md);

        // resume rebuilds the data and split from config.json alone
        CliRun resumed = CliRun.of("train", "--resume", dir.toString(), "--epochs", "2", "--progress", "off");
        assertEquals(0, resumed.exit(), resumed.err() + resumed.out());
        md = Files.readString(dir.resolve(RunDirectory.REPORT));
        assertTrue(md.contains("2 epochs, 2 updates"), md);

        // evaluate --mirror on whole 2D images: each image and its 3 flips
        CliRun em = CliRun.of("evaluate", "--mirror", "--model", dir.resolve(RunDirectory.MODEL).toString(), "--out",
                tmp.resolve("eval2d-mirror").toString());
        assertEquals(0, em.exit(), em.err());
        String mmd = Files.readString(tmp.resolve("eval2d-mirror").resolve(RunDirectory.REPORT));
        assertTrue(mmd.contains("2 spatial axes (4 passes)") && mmd.contains("| Dice (mean fg) |"), mmd);
    }

    @Test
    void trainsOnSlicesOfVolumesListedInAManifestWithALabelMap() throws IOException {
        Path csv = tmp.resolve("manifest.csv");
        StringBuilder m = new StringBuilder("id,image,label\n");
        for (int c = 0; c < 3; c++) {
            String f = String.format("fake_%03d.nii.gz", c);
            m.append("v").append(c).append(',').append(msd.resolve("imagesTr").resolve(f)).append(',')
                    .append(msd.resolve("labelsTr").resolve(f)).append('\n');
        }
        Files.writeString(csv, m);
        Path map = tmp.resolve("map.csv");
        Files.writeString(map, "source,target\n0,0\n1,1\n2,1\n");
        Path dir = tmp.resolve("runSlices");
        CliRun r = run(TINY, "--manifest", csv.toString(), "--dims", "2", "--slice-axis", "0", "--label-map",
                map.toString(), "--val-fraction", "0.3", "--out", dir.toString());
        assertEquals(0, r.exit(), r.err() + r.out());
        String md = Files.readString(dir.resolve(RunDirectory.REPORT));
        assertTrue(md.contains("2D (slices along axis 0)"), md);
        JsonNode data = RunDirectory.readConfig(dir).path("data");
        assertEquals(2, data.path("numClasses").asInt());
        assertEquals(0, data.path("sliceAxis").asInt());
        assertEquals(1, data.path("split").path("validation").size());
        assertEquals(1, RunDirectory.readConfig(dir).path("model").path("inputChannels").asInt());
        assertEquals(2, RunDirectory.readConfig(dir).path("model").path("spatialDims").asInt());
    }

    @Test
    void badCombinationsFailWithOneLine() {
        assertError("--images needs --labels", "train", "--images", pngImages.toString());
        assertError("--dims 3 needs 3D volumes", "train", "--images", pngImages.toString(), "--labels",
                pngLabels.toString(), "--classes", "2", "--dims", "3");
        assertError("multiple of 2^(levels-1) = 4", "train", "--msd", msd.toString(), "--dims", "3",
                "--patch-size", "6", "--levels", "3");
        assertError("--classes is needed with images", "train", "--images", pngImages.toString(),
                "--labels", pngLabels.toString());
        assertError("name one data source", "train", "--msd", msd.toString(), "--manifest", "x.csv");
        assertError("--dims 3 needs 3D volumes", "train", "--dims", "3");
        assertError("--patch-size applies to dims 3", "train", "--msd", msd.toString(), "--dims", "2",
                "--patch-size", "8");
    }

    static void assertError(String expected, String... args) {
        CliRun r = CliRun.of(args);
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit(), r.err());
        assertFalse(r.err().isBlank());
        // one line; a flag combination picocli reports adds its "Try ... --help" line
        assertTrue(r.err().strip().lines().count() <= 2, r.err());
        assertTrue(r.err().contains(expected), "expected '" + expected + "' in: " + r.err());
        assertFalse(r.err().contains("\tat "), r.err());
    }
}
