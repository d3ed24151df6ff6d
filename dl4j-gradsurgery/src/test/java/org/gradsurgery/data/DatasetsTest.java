package org.gradsurgery.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.ObjectMapper;

/** The demo loader on the committed data, checked against what the prepare script measured with nibabel. */
class DatasetsTest {
    @TempDir
    Path tmp;

    @Test
    void colin27DeepGmShapesSplitAndClassCounts() throws IOException {
        Path datasets = RepositoryData.datasets();
        Datasets.Colin27DeepGm d = Datasets.colin27DeepGm(datasets);
        assertEquals(List.of("background", "caudate", "putamen", "pallidum", "thalamus"), d.classNames());
        assertArrayEquals(new long[]{38, 1, 96, 96}, d.trainFeatures().shape());
        assertArrayEquals(new long[]{38, 5, 96, 96}, d.trainLabels().shape());
        assertArrayEquals(new long[]{10, 1, 96, 96}, d.validationFeatures().shape());
        assertArrayEquals(new long[]{10, 5, 96, 96}, d.validationLabels().shape());
        assertEquals(DataType.FLOAT, d.trainFeatures().dataType());
        assertArrayEquals(new int[]{20, 21, 22, 23, 24, 25, 26, 27, 28, 29}, d.validationSlices());
        assertEquals(0, d.trainSlices()[0]);
        assertEquals(47, d.trainSlices()[37]);
        assertArrayEquals(new double[]{1, 1}, d.spacing(), 0);

        // Per-class voxel counts: one-hot sums against stats.json (computed with nibabel by prepare.py).
        JsonNode counts = new ObjectMapper().readTree(datasets.resolve("colin27-deepgm/stats.json").toFile())
                .get("voxelsPerClass");
        INDArray trainPerClass = d.trainLabels().sum(0, 2, 3);
        INDArray valPerClass = d.validationLabels().sum(0, 2, 3);
        for (int c = 0; c < 5; c++) {
            long tr = counts.get("train").get(String.valueOf(c)).asLong();
            long va = counts.get("validation").get(String.valueOf(c)).asLong();
            assertTrue(tr > 0 && va > 0, "class " + c + " must occur in both parts");
            assertEquals(tr, trainPerClass.getLong(c), "train voxels of class " + c);
            assertEquals(va, valPerClass.getLong(c), "validation voxels of class " + c);
        }
        // One-hot: exactly one class per pixel.
        assertEquals(48L * 96 * 96, d.trainLabels().sumNumber().longValue() + d.validationLabels().sumNumber().longValue());
        // z-scored over the whole crop: mean 0, population sd 1 over train and validation together.
        double n = 48.0 * 96 * 96;
        double sum = d.trainFeatures().sumNumber().doubleValue() + d.validationFeatures().sumNumber().doubleValue();
        double sq = d.trainFeatures().castTo(DataType.DOUBLE).mul(d.trainFeatures().castTo(DataType.DOUBLE)).sumNumber().doubleValue()
                + d.validationFeatures().castTo(DataType.DOUBLE).mul(d.validationFeatures().castTo(DataType.DOUBLE)).sumNumber().doubleValue();
        assertEquals(0.0, sum / n, 1e-4);
        assertEquals(1.0, sq / n, 1e-4);
    }

    @Test
    void colin27DeepGmDownsampledForSmokeRuns() throws IOException {
        Datasets.Colin27DeepGm d = Datasets.colin27DeepGm(RepositoryData.datasets(), 2);
        assertArrayEquals(new long[]{38, 1, 48, 48}, d.trainFeatures().shape());
        assertArrayEquals(new long[]{10, 5, 48, 48}, d.validationLabels().shape());
        assertArrayEquals(new double[]{2, 2}, d.spacing(), 0);
        INDArray perClass = d.validationLabels().sum(0, 2, 3);
        for (int c = 0; c < 5; c++) {
            assertTrue(perClass.getLong(c) > 0, "class " + c + " lost by downsampling");
        }
        assertThrows(IllegalArgumentException.class, () -> Datasets.colin27DeepGm(RepositoryData.datasets(), 3));
        // The augmented training iterator: all 38 slices per epoch, same seed same batches.
        SegmentationDataSetIterator it = d.trainIterator(16, 5, Augmentation.randomFlip(0.5, 1));
        SegmentationDataSetIterator again = d.trainIterator(16, 5, Augmentation.randomFlip(0.5, 1));
        long n = 0;
        while (it.hasNext()) {
            org.nd4j.linalg.dataset.DataSet b = it.next();
            assertEquals(b.getFeatures(), again.next().getFeatures());
            assertArrayEquals(new long[]{b.getFeatures().size(0), 5, 48, 48}, b.getLabels().shape());
            n += b.getFeatures().size(0);
        }
        assertEquals(38, n);
    }

    /** The committed files are the ones their SHA256SUMS (written by the prepare scripts) describe. */
    @Test
    void committedFilesMatchTheirChecksums() throws IOException, NoSuchAlgorithmException {
        Path datasets = RepositoryData.datasets();
        for (String set : new String[]{"colin27-deepgm", "inia19", "itk-kmeans", "itk-cthead"}) {
            List<String> lines = Files.readAllLines(datasets.resolve(set).resolve("SHA256SUMS"));
            assertTrue(lines.size() >= 3, set);
            for (String line : lines) {
                String[] parts = line.split("  ", 2);
                byte[] digest = MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(datasets.resolve(set).resolve(parts[1])));
                assertEquals(parts[0], HexFormat.of().formatHex(digest), set + "/" + parts[1]);
            }
        }
    }

    /** The two small 3D sets load through the generic path with their label maps. */
    @Test
    void threeDimensionalSetsLoadWithTheirLabelMaps() throws IOException {
        Path datasets = RepositoryData.datasets();
        Sample kmeans = Case.of("kmeans", datasets.resolve("itk-kmeans/image.nii.gz"), datasets.resolve("itk-kmeans/label.nii.gz")).load();
        // stored LSA 40 x 40 x 60 at 4 x 4 x 3 mm; loaded in RAS order
        assertArrayEquals(new int[]{40, 60, 40}, kmeans.shape());
        assertArrayEquals(new double[]{4, 3, 4}, kmeans.spacing(), 1e-9);
        JsonNode ks = new ObjectMapper().readTree(datasets.resolve("itk-kmeans/stats.json").toFile()).get("voxelsPerCode");
        long[] k = Labels.classCounts(LabelMap.read(datasets.resolve("itk-kmeans/label_map.csv")).apply(kmeans.labelData(), "kmeans"), 2, "kmeans");
        assertEquals(ks.get("0").asLong(), k[0]);
        assertEquals(ks.get("4").asLong() + ks.get("5").asLong() + ks.get("6").asLong(), k[1]);
        Sample inia = Case.of("inia19", datasets.resolve("inia19/image.nii.gz"), datasets.resolve("inia19/label.nii.gz")).load();
        assertArrayEquals(new int[]{64, 80, 64}, inia.shape());
        long[] ic = Labels.classCounts(LabelMap.read(datasets.resolve("inia19/label_map.csv")).apply(inia.labelData(), "inia19"), 5, "inia19");
        for (long c : ic) {
            assertTrue(c > 0);
        }
    }
}
