package org.gradsurgery.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import javax.imageio.ImageIO;
import org.gradsurgery.experiment.DataPlan;
import org.gradsurgery.experiment.DataSources;
import org.gradsurgery.experiment.ExperimentData;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.dataset.DataSet;

/**
 * {@code sweep} on validation cases of different sizes: each case's examples are scored at their own size (one part
 * per shape), never padded to a common size or concatenated across sizes.
 */
class SweepValidationSetTest {

    private static void png(Path images, Path labels, String id, int w, int h) throws IOException {
        BufferedImage im = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        BufferedImage lb = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        for (int x = 0; x < w; x++) {
            for (int y = 0; y < h; y++) {
                boolean fg = Math.abs(x - w / 2) < 3 && Math.abs(y - h / 2) < 3;
                im.getRaster().setSample(x, y, 0, fg ? 200 : 30 + (x * 7 + y * 3) % 20);
                lb.getRaster().setSample(x, y, 0, fg ? 1 : 0);
            }
        }
        ImageIO.write(im, "png", images.resolve(id + ".png").toFile());
        ImageIO.write(lb, "png", labels.resolve(id + ".png").toFile());
    }

    @Test
    void validationCasesOfDifferentSizesAreScoredEachAtItsOwnSize(@TempDir Path tmp) throws IOException {
        Path images = Files.createDirectories(tmp.resolve("images"));
        Path labels = Files.createDirectories(tmp.resolve("labels"));
        png(images, labels, "a", 16, 12);
        png(images, labels, "b", 16, 12);
        png(images, labels, "c", 20, 10);
        png(images, labels, "d", 16, 12);
        DataPlan plan = DataPlan.builder(new DataPlan.Folders(images.toString(), labels.toString(), null, null))
                .numClasses(2).split(DataPlan.Split.of(List.of("b"), List.of("a", "c", "d"), null)).build();
        ExperimentData prepared = ExperimentData.prepare(plan, DataSources.open(plan.source()), 1, 2, null);
        List<DataSet> parts = SweepCommand.validationSet(prepared);
        assertEquals(2, parts.size(), "one part per size");
        assertEquals(Set.of(2, 1), parts.stream().map(DataSet::numExamples).collect(Collectors.toSet()));
        for (DataSet p : parts) {
            long[] s = p.getFeatures().shape();
            long voxels = s[2] * s[3];
            assertEquals(p.numExamples() == 2 ? 16 * 12 : 20 * 10, voxels, "no padding: " + java.util.Arrays.toString(s));
            // one-hot labels: one class per real voxel, nothing else
            assertEquals(p.numExamples() * voxels, p.getLabels().sumNumber().longValue());
        }
    }
}
