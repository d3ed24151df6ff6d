package org.gradsurgery.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.gradsurgery.training.RunDirectory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 15, points 8 and 10: a model trained on RGB PNGs predicts RGB PNGs (3 channels, as in training) and names a
 * grey input as the wrong channel count; a model.zip without its run's config.json still predicts, but says what it
 * assumes instead of silently z-scoring.
 */
class PredictInputsTest {

    /** Three 16x12 colour PNGs whose red and blue channels differ, with a box (label 1). */
    private static void rgbPngs(Path images, Path labels) throws IOException {
        for (int c = 0; c < 3; c++) {
            BufferedImage im = new BufferedImage(16, 12, BufferedImage.TYPE_INT_RGB);
            BufferedImage lb = new BufferedImage(16, 12, BufferedImage.TYPE_BYTE_GRAY);
            for (int x = 0; x < 16; x++) {
                for (int y = 0; y < 12; y++) {
                    boolean fg = Math.abs(x - 8 - c) < 4 && Math.abs(y - 6) < 3;
                    im.setRGB(x, y, fg ? 0xC83214 : (20 + x) << 16 | 40 << 8 | (60 + 3 * y));
                    lb.getRaster().setSample(x, y, 0, fg ? 1 : 0);
                }
            }
            ImageIO.write(im, "png", images.resolve("c" + c + ".png").toFile());
            ImageIO.write(lb, "png", labels.resolve("c" + c + ".png").toFile());
        }
    }

    @Test
    void rgbModelsPredictRgbAndNameAGreyInputAndABareModelSaysWhatItAssumes(@TempDir Path tmp) throws IOException {
        Path images = Files.createDirectories(tmp.resolve("images"));
        Path labels = Files.createDirectories(tmp.resolve("labels"));
        rgbPngs(images, labels);
        Path run = tmp.resolve("run");
        CliRun t = UserDataCommandsTest.run(UserDataCommandsTest.TINY, "--images", images.toString(), "--labels",
                labels.toString(), "--classes", "2", "--out", run.toString());
        assertEquals(0, t.exit(), t.err() + t.out());
        assertEquals(3, RunDirectory.readConfig(run).path("model").path("inputChannels").asInt());
        String model = run.resolve(RunDirectory.MODEL).toString();

        CliRun rgb = CliRun.of("predict", "--model", model, "--input", images.resolve("c1.png").toString(), "--out",
                tmp.resolve("pred").toString());
        assertEquals(0, rgb.exit(), rgb.err());
        assertTrue(Files.isRegularFile(tmp.resolve("pred").resolve("labels.png")));
        assertFalse(rgb.out().contains("warning"), rgb.out());

        Path grey = tmp.resolve("grey.png");
        ImageIO.write(new BufferedImage(16, 12, BufferedImage.TYPE_BYTE_GRAY), "png", grey.toFile());
        CliRun g = CliRun.of("predict", "--model", model, "--input", grey.toString(), "--out",
                tmp.resolve("pred-grey").toString());
        assertEquals(GradSurgeryCli.EXIT_USAGE, g.exit(), g.err());
        assertTrue(g.err().startsWith("gradsurgery: error: --input: " + grey + " has 1 channel(s) but " + model
                + " was trained on 3"), g.err());

        // the same network without its config.json: predicted, with a warning naming what it assumes
        Path bare = Files.createDirectories(tmp.resolve("bare")).resolve("model.zip");
        Path greyModelRun = tmp.resolve("grey-run");
        Path gi = Files.createDirectories(tmp.resolve("gi"));
        Path gl = Files.createDirectories(tmp.resolve("gl"));
        UserDataCommandsTest.fakePngs(gi, gl, true);
        CliRun gt = UserDataCommandsTest.run(UserDataCommandsTest.TINY, "--images", gi.toString(), "--labels",
                gl.toString(), "--classes", "2", "--out", greyModelRun.toString());
        assertEquals(0, gt.exit(), gt.err() + gt.out());
        Files.copy(greyModelRun.resolve(RunDirectory.MODEL), bare);
        CliRun b = CliRun.of("predict", "--model", bare.toString(), "--input", gi.resolve("s0.png").toString(),
                "--out", tmp.resolve("pred-bare").toString());
        assertEquals(0, b.exit(), b.err());
        assertTrue(b.out().contains("warning: " + bare + " has no config.json beside it: the input is z-scored"),
                b.out());
    }
}
