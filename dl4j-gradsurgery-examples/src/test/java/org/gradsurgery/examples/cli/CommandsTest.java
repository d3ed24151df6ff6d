package org.gradsurgery.examples.cli;

import org.gradsurgery.examples.DemoData;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;
import org.gradsurgery.data.Datasets;
import org.gradsurgery.data.nifti.Nifti;
import org.gradsurgery.data.nifti.NiftiImage;
import org.gradsurgery.training.EpochMetrics;
import org.gradsurgery.training.RunDirectory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * The subcommands end to end on the bundled data: {@code demo --smoke} (the CI variant of the README's demo), then
 * {@code evaluate} and {@code predict} on the model it trained, {@code train} with resume, and one-line errors for
 * missing files, bad flag values and unknown losses.
 */
class CommandsTest {
    @TempDir
    static Path tmp;
    private static CliRun demo;

    static CliRun run(String... args) {
        return CliRun.of(args);
    }

    @BeforeAll
    static void smokeDemo() {
        demo = run("demo", "--smoke", "--progress", "off", "--out", tmp.resolve("demo").toString());
    }

    @Test
    void smokeDemoPrintsTheTableAndWritesTheReport() throws IOException {
        assertEquals(0, demo.exit(), demo.err());
        List<String> lines = demo.out().lines().toList();
        int head = lines.indexOf(lines.stream().filter(l -> l.startsWith("model ")).findFirst().orElseThrow());
        for (int i = 1; i <= 2; i++) {
            String[] cells = lines.get(head + i).split("\\s{2,}");
            assertEquals(i == 1 ? "dice" : "dice + surgery", cells[0], lines.get(head + i));
            for (String c : Arrays.copyOfRange(cells, 1, cells.length)) {
                Double.parseDouble(c);
            }
        }
        Path report = tmp.resolve("demo").resolve(RunDirectory.REPORT);
        assertTrue(demo.out().contains("report: " + report), demo.out());
        String md = Files.readString(report);
        assertTrue(md.contains("| metric | dice | dice + TS | dice + surgery | dice + surgery + TS |"), md);
        for (String png : List.of("reliability_top.png", "reliability_class1.png", "reliability_class4.png")) {
            assertNotNull(ImageIO.read(tmp.resolve("demo").resolve(png).toFile()), png);
        }
        for (String run : List.of("dice", "dice-surgery")) {
            Path dir = tmp.resolve("demo").resolve(run);
            assertTrue(Files.isRegularFile(dir.resolve(RunDirectory.MODEL)), run);
            assertEquals("dice" + (run.equals("dice") ? "" : "+surgery"),
                    RunDirectory.readConfig(dir).get("loss").asText());
            List<EpochMetrics> m = RunDirectory.readMetrics(dir);
            assertEquals(1, m.size());
            assertEquals(3, m.get(0).iteration());
        }
    }

    @Test
    void evaluateAndPredictUseTheSavedModel() throws IOException {
        Path model = tmp.resolve("demo").resolve("dice").resolve(RunDirectory.MODEL);
        CliRun e = run("evaluate", "--model", model.toString(), "--out", tmp.resolve("eval").toString());
        assertEquals(0, e.exit(), e.err());
        assertTrue(Files.readString(tmp.resolve("eval").resolve(RunDirectory.REPORT)).contains("| Dice (mean fg) |"));

        Path image = DemoData.locate().resolve(Datasets.COLIN27_DEEPGM).resolve("image.nii.gz");
        CliRun p = run("predict", "--model", model.toString(), "--input", image.toString(), "--out",
                tmp.resolve("pred").toString());
        assertEquals(0, p.exit(), p.err());
        NiftiImage in = Nifti.read(image);
        NiftiImage labels = Nifti.read(tmp.resolve("pred").resolve("labels.nii.gz"));
        NiftiImage probs = Nifti.read(tmp.resolve("pred").resolve("probabilities.nii.gz"));
        assertTrue(Arrays.equals(in.shape(), labels.shape()), Arrays.toString(labels.shape()));
        assertEquals(5, probs.shape()[3]);
        assertEquals(in.shape()[2], probs.shape()[2]);
        // the probabilities sum to one per voxel
        assertEquals(1.0, probs.data().sum(3).meanNumber().doubleValue(), 1e-4);
        assertTrue(labels.labels().maxNumber().intValue() < 5);

        Path png = DemoData.locate().resolve("itk-cthead").resolve("cthead1.png");
        CliRun q = run("predict", "--model", model.toString(), "--input", png.toString(), "--out",
                tmp.resolve("pred2d").toString());
        assertEquals(0, q.exit(), q.err());
        for (String f : List.of("labels.png", "probability_class0.png", "probability_class4.png")) {
            java.awt.image.BufferedImage img = ImageIO.read(tmp.resolve("pred2d").resolve(f).toFile());
            assertEquals(256, img.getWidth(), f);
            assertEquals(256, img.getHeight(), f);
        }
    }

    /**
     * {@code predict --mirror} with the demo model on four slices of the bundled volume: 4 passes per slice, the input's
     * shape, probabilities that sum to one and differ from the plain prediction (a U-Net is not mirror-symmetric).
     */
    @Test
    void predictWithTestTimeMirroring() throws IOException {
        Path model = tmp.resolve("demo").resolve("dice").resolve(RunDirectory.MODEL);
        NiftiImage volume = Nifti.read(DemoData.locate().resolve(Datasets.COLIN27_DEEPGM).resolve("image.nii.gz"));
        Path image = tmp.resolve("four-slices.nii.gz");
        Nifti.write(image, volume.data().get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(20, 24))
                .dup(), null);
        INDArray[] probs = new INDArray[2];
        for (int i = 0; i < 2; i++) {
            Path out = tmp.resolve("pred-mirror" + i);
            List<String> args = new java.util.ArrayList<>(List.of("predict", "--model", model.toString(), "--input",
                    image.toString(), "--out", out.toString()));
            if (i == 1) {
                args.add("--mirror");
            }
            CliRun p = run(args.toArray(new String[0]));
            assertEquals(0, p.exit(), p.err());
            assertEquals(i == 1, p.out().contains("(4 slices, 5 classes, mirrored: 4 passes per slice)"), p.out());
            NiftiImage pr = Nifti.read(out.resolve("probabilities.nii.gz"));
            long[] s = volume.shape();
            assertTrue(Arrays.equals(new long[] {s[0], s[1], 4, 5}, pr.shape()), Arrays.toString(pr.shape()));
            assertTrue(Arrays.equals(new long[] {s[0], s[1], 4}, Nifti.read(out.resolve("labels.nii.gz")).shape()));
            probs[i] = pr.data();
            assertEquals(0, probs[i].sum(3).sub(1.0).amaxNumber().doubleValue(), 1e-4, "sums to one per voxel");
            assertTrue(probs[i].minNumber().doubleValue() >= 0);
        }
        assertTrue(probs[1].sub(probs[0]).amaxNumber().doubleValue() > 1e-4, "mirroring changes the probabilities");
        // one axis only (the demo's training flips): 2 passes, between neither; a 3rd axis is a one-line error
        Path one = tmp.resolve("pred-mirror-axis1");
        CliRun a = run("predict", "--mirror-axes", "1", "--model", model.toString(), "--input", image.toString(),
                "--out", one.toString());
        assertEquals(0, a.exit(), a.err());
        assertTrue(a.out().contains("mirrored: 2 passes per slice"), a.out());
        INDArray p1 = Nifti.read(one.resolve("probabilities.nii.gz")).data();
        assertTrue(p1.sub(probs[0]).amaxNumber().doubleValue() > 1e-4 && p1.sub(probs[1]).amaxNumber()
                .doubleValue() > 1e-4);
        assertOneLineError(run("predict", "--mirror-axes", "0,2", "--model", model.toString(), "--input",
                image.toString(), "--out", tmp.resolve("pred-bad").toString()), "--mirror-axes 0,2: each axis once, "
                + "from 0 to 1 for a 2D model");
        assertFalse(Files.exists(tmp.resolve("pred-bad").resolve("probabilities.nii.gz")), "nothing written");
        for (String cmd : List.of("predict", "evaluate")) {
            assertTrue(run(cmd, "--help").out().contains("--mirror"), cmd);
        }
    }

    @Test
    void trainWritesARunAndResumesIt() throws IOException {
        Path dir = tmp.resolve("train");
        String[] common = {"--downsample", "2", "--levels", "2", "--filters", "4", "--progress", "off"};
        CliRun t = run(concat(new String[] {"train", "--loss", "jaccard", "--surgery", "--epochs", "2", "--max-iterations",
                "2", "--out", dir.toString()}, common));
        assertEquals(0, t.exit(), t.err());
        assertTrue(t.out().contains("jaccard + surgery"), t.out());
        assertEquals("jaccard+surgery", RunDirectory.readConfig(dir).get("loss").asText());
        CliRun r = run("train", "--resume", dir.toString(), "--max-iterations", "6", "--progress", "off");
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().contains("report: "), r.out());
        List<EpochMetrics> m = RunDirectory.readMetrics(dir);
        assertEquals(List.of(5L, 6L), m.stream().map(EpochMetrics::iteration).toList(), "epoch 1 ends at update 5");
    }

    private static String[] concat(String[] a, String[] b) {
        String[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    private static void assertOneLineError(CliRun r, String expected) {
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit(), r.err());
        String first = r.err().lines().findFirst().orElse("");
        assertTrue(first.startsWith("gradsurgery: error: ") && first.contains(expected), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
    }

    @Test
    void userErrorsAreOneLineForEverySubcommand() {
        assertOneLineError(run("train", "--loss", "dcie"),
                "--loss: unknown loss 'dcie' (known: dice, jaccard, tversky, focal-tversky, generalized-dice, mcxent)");
        assertOneLineError(run("train", "--batch-size", "0"), "--batch-size 0 is out of range: it must be an integer >= 1");
        assertOneLineError(run("train", "--epochs", "many"), "'--epochs'");
        assertOneLineError(run("train", "--surgery", "--exponent", "-1"), "--exponent");
        assertOneLineError(run("train", "--early-stopping", "accuracy"), "unknown early-stopping metric 'accuracy'");
        // a loss flag the chosen loss would ignore is named, not dropped (LossSpec resets such settings)
        assertOneLineError(run("train", "--exponent", "2"), "--exponent applies with --surgery only");
        assertOneLineError(run("train", "--surgery-space", "probabilities"), "--surgery-space applies with --surgery");
        assertOneLineError(run("train", "--surgery-weighting", "balanced"), "--surgery-weighting applies with --surgery");
        assertOneLineError(run("train", "--loss", "mcxent", "--surgery", "--surgery-weighting", "balanced"),
                "--surgery-weighting");
        assertOneLineError(run("train", "--loss", "dice", "--tversky-alpha", "0.3"),
                "--tversky-alpha applies to tversky and focal-tversky only, not to dice");
        assertOneLineError(run("train", "--region-weight", "2"), "--region-weight applies with --ce-weight > 0 only");
        assertOneLineError(run("train", "--loss", "mcxent", "--include-background", "false"),
                "--include-background applies to region losses only, not to mcxent");
        assertOneLineError(run("train", "--loss", "mcxent", "--reduction", "batch"),
                "--reduction applies to region losses only, not to mcxent");
        assertOneLineError(run("train", "--patience", "3"), "--patience applies with --early-stopping METRIC only");
        assertOneLineError(run("train", "--resume", tmp.resolve("nothing").toString()), "no such file");
        assertOneLineError(run("train", "--downsample", "3", "--epochs", "1"), "--downsample 3 is out of range: it must be an integer from 1 to 2");
        assertOneLineError(run("compare", "--losses", "dice,dcie+surgery"), "--losses: unknown loss 'dcie'");
        assertOneLineError(run("compare", "--losses", "dice,dice+magic"), "NAME+surgery");
        assertOneLineError(run("evaluate", "--model", "/nowhere/model.zip"), "no such file: /nowhere/model.zip");
        assertOneLineError(run("evaluate"), "Missing required option: '--model=FILE'");
        assertOneLineError(run("evaluate", "--model", "/nowhere/model.zip", "--bins", "0"), "--bins 0 is out of range: it must be an integer >= 1");
        assertOneLineError(run("predict", "--model", "m.zip", "--input", "scan.txt", "--out", "o"),
                "must be a .nii, .nii.gz or .png file");
        assertOneLineError(run("predict", "--model", "m.zip", "--input", "/nowhere/scan.nii.gz", "--out", "o"),
                "no such file: /nowhere/scan.nii.gz");
        assertOneLineError(run("demo", "--progress", "fancy"), "'--progress'");
        for (String cmd : List.of("train", "evaluate", "predict", "compare", "demo")) {
            CliRun h = run(cmd, "--help");
            assertEquals(0, h.exit(), cmd);
            assertTrue(h.out().startsWith("Usage: gradsurgery " + cmd), h.out());
        }
    }
}
