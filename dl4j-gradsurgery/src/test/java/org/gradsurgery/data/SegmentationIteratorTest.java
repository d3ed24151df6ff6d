package org.gradsurgery.data;

import static org.gradsurgery.data.TestVolumes.AFFINE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.model.UNet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;
import org.nd4j.linalg.learning.config.Adam;

class SegmentationIteratorTest {
    static final int[] SHAPE = {8, 6, 4};

    @TempDir
    Path tmp;

    /** Folder layout (b): imagesTr/case_i.nii.gz, labelsTr/case_i.nii (different extension on purpose). */
    private Path folders(int n) throws IOException {
        Path img = Files.createDirectories(tmp.resolve("imgs"));
        Path lab = Files.createDirectories(tmp.resolve("labs"));
        for (int c = 0; c < n; c++) {
            TestVolumes.writeImage(img.resolve("case_" + c + ".nii.gz"), c, 1, SHAPE, AFFINE);
            TestVolumes.writeLabel(lab.resolve("case_" + c + ".nii"), c, SHAPE, AFFINE);
        }
        Files.writeString(img.resolve("._case_0.nii.gz"), "macOS resource fork");
        Files.writeString(img.resolve("notes.txt"), "not an image");
        return tmp;
    }

    /**
     * Checks features/labels of batch element e against the generator for case c. The files are LAS
     * ({@link TestVolumes#AFFINE}); cases are loaded in RAS order, so canonical voxel (i, j, k) is stored voxel
     * (n0 − 1 − i, j, k).
     */
    private static void assertCase(DataSet ds, int e, int c, int channels) {
        INDArray f = ds.getFeatures();
        INDArray l = ds.getLabels();
        for (int i = 0; i < SHAPE[0]; i++) {
            int si = SHAPE[0] - 1 - i;
            for (int j = 0; j < SHAPE[1]; j++) {
                for (int k = 0; k < SHAPE[2]; k++) {
                    for (int ch = 0; ch < channels; ch++) {
                        assertEquals(TestVolumes.value(c, ch, si, j, k), f.getFloat(e, ch, i, j, k), 1e-3f);
                    }
                    int cls = TestVolumes.classOf(TestVolumes.code(c, si, j, k));
                    for (int k2 = 0; k2 < 3; k2++) {
                        assertEquals(k2 == cls ? 1f : 0f, l.getFloat(e, k2, i, j, k));
                    }
                }
            }
        }
    }

    @Test
    void folderLayoutWholeVolumes() throws IOException {
        Path root = folders(3);
        List<Case> cases = Cases.fromFolders(root.resolve("imgs"), root.resolve("labs"));
        assertEquals(List.of("case_0", "case_1", "case_2"), cases.stream().map(Case::id).toList());
        SegmentationDataSetIterator it = SegmentationDataSetIterator.builder().cases(cases)
                .labelMap(TestVolumes.map()).batchSize(2).shuffle(false).build();
        assertEquals(3, it.totalOutcomes());
        assertEquals(1, it.inputColumns());
        DataSet a = it.next();
        assertArrayEquals(new long[]{2, 1, 8, 6, 4}, a.getFeatures().shape());
        assertArrayEquals(new long[]{2, 3, 8, 6, 4}, a.getLabels().shape());
        assertEquals(DataType.FLOAT, a.getFeatures().dataType());
        assertEquals(DataType.FLOAT, a.getLabels().dataType());
        assertCase(a, 0, 0, 1);
        assertCase(a, 1, 1, 1);
        DataSet b = it.next();
        assertEquals(1, b.getFeatures().size(0));
        assertCase(b, 0, 2, 1);
        assertFalse(it.hasNext());
        it.reset();
        assertTrue(it.hasNext());
    }

    @Test
    void foldersThatDoNotPairAreAnError() throws IOException {
        Path root = folders(2);
        Files.delete(root.resolve("labs/case_1.nii"));
        TestVolumes.writeLabel(root.resolve("labs/other.nii.gz"), 0, SHAPE, AFFINE);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Cases.fromFolders(root.resolve("imgs"), root.resolve("labs")));
        assertTrue(e.getMessage().contains("case_1.nii.gz") && e.getMessage().contains("other.nii.gz"), e.getMessage());
    }

    @Test
    void nnUnetChannelFilesBecomeChannels() throws IOException {
        Path img = Files.createDirectories(tmp.resolve("i"));
        Path lab = Files.createDirectories(tmp.resolve("l"));
        // channel 1 of case 0 written as a separate file with the values of channel 1
        TestVolumes.writeImage(img.resolve("p_0000.nii.gz"), 0, 1, SHAPE, AFFINE);
        TestVolumes.writeImage(tmp.resolve("two.nii.gz"), 0, 2, SHAPE, AFFINE);
        Sample two = Case.of("two", tmp.resolve("two.nii.gz"), null).loadStored();
        INDArray ch1 = two.image().get(org.nd4j.linalg.indexing.NDArrayIndex.point(1)).dup('c')
                .reshape(SHAPE[0], SHAPE[1], SHAPE[2]).dup('f');
        org.gradsurgery.data.nifti.Nifti.write(img.resolve("p_0001.nii.gz"), ch1,
                TestVolumes.header(new long[]{SHAPE[0], SHAPE[1], SHAPE[2]}, AFFINE,
                        org.gradsurgery.data.nifti.NiftiDataType.FLOAT32));
        TestVolumes.writeLabel(lab.resolve("p.nii.gz"), 0, SHAPE, AFFINE);
        List<Case> cases = Cases.fromFolders(img, lab);
        assertEquals(1, cases.size());
        assertEquals(2, cases.get(0).images().size());
        DataSet ds = SegmentationDataSetIterator.builder().cases(cases).labelMap(TestVolumes.map()).build().next();
        assertArrayEquals(new long[]{1, 2, 8, 6, 4}, ds.getFeatures().shape());
        assertCase(ds, 0, 0, 2);
    }

    @Test
    void slicesOfDifferentInPlaneSizesBatchByEdgePadding() {
        Sample a = Sample.of("a", new float[]{1, 2, 3, 4, 5, 6, 7, 8}, 1, new int[]{2, 4}, new int[]{0, 1, 1, 0, 0, 1, 1, 0},
                null, new double[]{1, 1}, null);
        Sample b = Sample.of("b", new float[16], 1, new int[]{4, 4}, new int[16], null, new double[]{1, 1}, null);
        DataSet ds = SegmentationDataSetIterator.toDataSet(List.of(a, b), 2);
        assertArrayEquals(new long[]{2, 1, 4, 4}, ds.getFeatures().shape());
        // a (2 rows) is centred in 4 rows: rows 0 and 3 repeat its rows 0 and 1
        assertEquals(1f, ds.getFeatures().getFloat(0, 0, 0, 0));
        assertEquals(1f, ds.getFeatures().getFloat(0, 0, 1, 0));
        assertEquals(8f, ds.getFeatures().getFloat(0, 0, 3, 3));
        assertEquals(1f, ds.getLabels().getFloat(0, 1, 0, 1));
        Sample twoChannels = Sample.of("c", new float[32], 2, new int[]{4, 4}, new int[16], null, new double[]{1, 1},
                null);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SegmentationDataSetIterator.toDataSet(List.of(a, twoChannels), 2));
        assertTrue(e.getMessage().contains("same number of channels"), e.getMessage());
    }

    @Test
    void csvManifest() throws IOException {
        Path root = folders(3);
        Path csv = root.resolve("manifest.csv");
        Files.writeString(csv, "id,image,label\nsecond,imgs/case_1.nii.gz,\"labs/case_1.nii\"\nfirst,imgs/case_0.nii.gz,labs/case_0.nii\n");
        List<Case> cases = Cases.fromCsv(csv);
        assertEquals(List.of("second", "first"), cases.stream().map(Case::id).toList());
        DataSet ds = SegmentationDataSetIterator.builder().cases(cases).labelMap(TestVolumes.map()).batchSize(2)
                .shuffle(false).build().next();
        assertCase(ds, 0, 1, 1);
        assertCase(ds, 1, 0, 1);
        Files.writeString(csv, "image,label\nimgs/missing.nii.gz,labs/case_0.nii\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Cases.fromCsv(csv));
        assertTrue(e.getMessage().contains("line 2") && e.getMessage().contains("missing.nii.gz"), e.getMessage());
        Files.writeString(csv, "path,label\nimgs/case_0.nii.gz,labs/case_0.nii\n");
        assertThrows(IllegalArgumentException.class, () -> Cases.fromCsv(csv));
    }

    /** MSD layout (a) with two modalities stored as one 4D image per case. */
    static Path writeMsd(Path root, String task, int nTrain, int nTest, int modalities) throws IOException {
        Path dir = root.resolve(task);
        Files.createDirectories(dir.resolve("imagesTr"));
        Files.createDirectories(dir.resolve("labelsTr"));
        Files.createDirectories(dir.resolve("imagesTs"));
        StringBuilder training = new StringBuilder();
        StringBuilder test = new StringBuilder();
        for (int c = 0; c < nTrain; c++) {
            String f = "case_" + String.format("%03d", c) + ".nii.gz";
            TestVolumes.writeImage(dir.resolve("imagesTr/" + f), c, modalities, SHAPE, AFFINE);
            writeClassLabel(dir.resolve("labelsTr/" + f), c);
            training.append(c == 0 ? "" : ",").append("{\"image\":\"./imagesTr/").append(f)
                    .append("\",\"label\":\"./labelsTr/").append(f).append("\"}");
        }
        for (int c = 0; c < nTest; c++) {
            String f = "case_" + String.format("%03d", 100 + c) + ".nii.gz";
            TestVolumes.writeImage(dir.resolve("imagesTs/" + f), c, modalities, SHAPE, AFFINE);
            test.append(c == 0 ? "" : ",").append("\"./imagesTs/").append(f).append("\"");
        }
        StringBuilder mod = new StringBuilder();
        for (int m = 0; m < modalities; m++) {
            mod.append(m == 0 ? "" : ",").append("\"").append(m).append("\":\"MRI").append(m).append("\"");
        }
        Files.writeString(dir.resolve("dataset.json"), "{\"name\":\"Fake\",\"description\":\"fabricated\","
                + "\"licence\":\"CC-BY-SA 4.0\",\"tensorImageSize\":\"" + (modalities > 1 ? "4D" : "3D") + "\","
                + "\"modality\":{" + mod + "},\"labels\":{\"0\":\"background\",\"1\":\"anterior\",\"2\":\"posterior\"},"
                + "\"numTraining\":" + nTrain + ",\"numTest\":" + nTest + ",\"training\":[" + training + "],"
                + "\"test\":[" + test + "]}");
        return dir;
    }

    /** MSD labels hold class ids directly. */
    static void writeClassLabel(Path p, int c) throws IOException {
        INDArray a = org.nd4j.linalg.factory.Nd4j.create(DataType.INT32, SHAPE[0], SHAPE[1], SHAPE[2]);
        for (int i = 0; i < SHAPE[0]; i++) {
            for (int j = 0; j < SHAPE[1]; j++) {
                for (int k = 0; k < SHAPE[2]; k++) {
                    a.putScalar(new long[]{i, j, k}, TestVolumes.classOf(TestVolumes.code(c, i, j, k)));
                }
            }
        }
        org.gradsurgery.data.nifti.Nifti.write(p, a, TestVolumes.header(new long[]{SHAPE[0], SHAPE[1], SHAPE[2]},
                AFFINE, org.gradsurgery.data.nifti.NiftiDataType.UINT8), org.gradsurgery.data.nifti.NiftiDataType.UINT8);
    }

    @Test
    void msdLayoutWithModalityChannels() throws IOException {
        Path dir = writeMsd(tmp, "Task99_Fake", 3, 1, 2);
        MsdDataset msd = MsdDataset.open(dir);
        assertEquals(List.of("MRI0", "MRI1"), msd.modalities());
        assertEquals(List.of("background", "anterior", "posterior"), msd.labelNames());
        assertEquals(1, msd.testImages().size());
        SegmentationDataSetIterator it = SegmentationDataSetIterator.builder().cases(msd.trainingCases())
                .numClasses(msd.labelNames().size()).batchSize(3).shuffle(false).build();
        DataSet ds = it.next();
        assertArrayEquals(new long[]{3, 2, 8, 6, 4}, ds.getFeatures().shape());
        for (int c = 0; c < 3; c++) {
            assertCase(ds, c, c, 2);
        }
        SegmentationMultiDataSetIterator multi = new SegmentationMultiDataSetIterator(
                SegmentationDataSetIterator.builder().cases(msd.trainingCases()).numClasses(3).batchSize(3)
                        .shuffle(false).build());
        MultiDataSet m = multi.next();
        assertEquals(ds.getFeatures(), m.getFeatures(0));
        assertEquals(ds.getLabels(), m.getLabels(0));
    }

    @Test
    void shapeOrAffineMismatchNamesBothFiles() throws IOException {
        Path img = tmp.resolve("a.nii.gz");
        Path lab = tmp.resolve("a_label.nii.gz");
        TestVolumes.writeImage(img, 0, 1, SHAPE, AFFINE);
        TestVolumes.writeLabel(lab, 0, new int[]{8, 6, 5}, AFFINE);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Case.of("a", img, lab).load());
        assertTrue(e.getMessage().contains("a.nii.gz") && e.getMessage().contains("a_label.nii.gz")
                && e.getMessage().contains("[8, 6, 4]") && e.getMessage().contains("[8, 6, 5]"), e.getMessage());
        double[][] moved = {{-1.5, 0, 0, 30}, {0, 1.5, 0, -12}, {0, 0, 2, 9}, {0, 0, 0, 1}};
        TestVolumes.writeLabel(lab, 0, SHAPE, moved);
        e = assertThrows(IllegalArgumentException.class, () -> Case.of("a", img, lab).load());
        assertTrue(e.getMessage().contains("a.nii.gz") && e.getMessage().contains("a_label.nii.gz")
                && e.getMessage().contains("affine"), e.getMessage());
        // Through the iterator, the same message surfaces.
        e = assertThrows(IllegalArgumentException.class, () -> SegmentationDataSetIterator.builder()
                .cases(List.of(Case.of("a", img, lab))).numClasses(3).build());
        assertTrue(e.getMessage().contains("a_label.nii.gz"), e.getMessage());
    }

    @Test
    void slicesPatchesAndForegroundOnly() throws IOException {
        Path root = folders(3);
        List<Case> cases = Cases.fromFolders(root.resolve("imgs"), root.resolve("labs"));
        SegmentationDataSetIterator sl = SegmentationDataSetIterator.builder().cases(cases).labelMap(TestVolumes.map())
                .slices(2, false).batchSize(5).seed(3).build();
        assertEquals(3 * 4, sl.numExamples());
        int seen = 0;
        while (sl.hasNext()) {
            DataSet ds = sl.next();
            assertArrayEquals(new long[]{ds.getFeatures().size(0), 1, 8, 6}, ds.getFeatures().shape());
            assertArrayEquals(new long[]{ds.getFeatures().size(0), 3, 8, 6}, ds.getLabels().shape());
            // one-hot: classes sum to 1 at every pixel
            assertEquals(ds.getLabels().size(0) * 48, ds.getLabels().sumNumber().longValue());
            seen += (int) ds.getFeatures().size(0);
        }
        assertEquals(12, seen);
        // A label volume whose foreground is on slices k = 1, 2 only.
        Path img = Files.createDirectories(tmp.resolve("fg/i"));
        Path lab = Files.createDirectories(tmp.resolve("fg/l"));
        TestVolumes.writeImage(img.resolve("x.nii.gz"), 0, 1, SHAPE, AFFINE);
        INDArray l = org.nd4j.linalg.factory.Nd4j.create(DataType.INT32, SHAPE[0], SHAPE[1], SHAPE[2]);
        l.putScalar(new long[]{3, 3, 1}, 1);
        l.putScalar(new long[]{4, 2, 2}, 2);
        org.gradsurgery.data.nifti.Nifti.write(lab.resolve("x.nii.gz"), l, null, org.gradsurgery.data.nifti.NiftiDataType.UINT8);
        TestVolumes.writeImage(img.resolve("x.nii.gz"), 0, 1, SHAPE, new double[][]{{1, 0, 0, 0}, {0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}});
        SegmentationDataSetIterator fg = SegmentationDataSetIterator.builder().cases(Cases.fromFolders(img, lab))
                .numClasses(3).slices(2, true).shuffle(false).batchSize(10).build();
        assertEquals(2, fg.numExamples());
        DataSet both = fg.next();
        assertEquals(1f, both.getLabels().getFloat(0, 1, 3, 3));
        assertEquals(1f, both.getLabels().getFloat(1, 2, 4, 2));

        PatchSampler ps = PatchSampler.of(1.0 / 3.0, 4, 4, 4);
        SegmentationDataSetIterator pt = SegmentationDataSetIterator.builder().cases(Cases.fromFolders(img, lab))
                .numClasses(3).patches(ps, 6).batchSize(3).seed(11).build();
        int batches = 0;
        while (pt.hasNext()) {
            DataSet ds = pt.next();
            assertArrayEquals(new long[]{3, 1, 4, 4, 4}, ds.getFeatures().shape());
            // the last of each batch of 3 (round(3/3) = 1) is forced onto foreground
            double fgVoxels = ds.getLabels().get(org.nd4j.linalg.indexing.NDArrayIndex.point(2),
                    org.nd4j.linalg.indexing.NDArrayIndex.interval(1, 3)).sumNumber().doubleValue();
            assertTrue(fgVoxels > 0, "forced foreground patch without foreground");
            batches++;
        }
        assertEquals(2, batches);
    }

    private static List<DataSet> epoch(DataSetIterator it) {
        List<DataSet> out = new ArrayList<>();
        while (it.hasNext()) {
            DataSet d = it.next();
            out.add(new DataSet(d.getFeatures().dup(), d.getLabels().dup()));
        }
        return out;
    }

    @Test
    void seededAugmentationIsReproducibleAndAsyncGivesTheSameBatches() throws IOException {
        Path root = folders(3);
        List<Case> cases = Cases.fromFolders(root.resolve("imgs"), root.resolve("labs"));
        Transform aug = Transform.compose(Augmentation.randomFlip(0.5), Augmentation.randomRotate90(0.5, 0, 1),
                Augmentation.randomGamma(0.5, 0.7, 1.5));
        SegmentationDataSetIterator.Builder b = SegmentationDataSetIterator.builder().cases(cases)
                .labelMap(TestVolumes.map()).slices(2, false).augment(aug).batchSize(4).seed(7);
        // rot90 in the (8 x 6) plane changes shape; pad to square so batches stack
        b.augment(aug.then(Preprocessing.cropOrPad(8, 8)));
        List<DataSet> a = epoch(b.build());
        List<DataSet> sync = epoch(b.build());
        List<DataSet> async = epoch(b.build().async());
        assertEquals(a.size(), async.size());
        for (int i = 0; i < a.size(); i++) {
            assertEquals(a.get(i).getFeatures(), sync.get(i).getFeatures());
            assertEquals(a.get(i).getFeatures(), async.get(i).getFeatures());
            assertEquals(a.get(i).getLabels(), async.get(i).getLabels());
        }
        SegmentationDataSetIterator it = b.build();
        List<DataSet> e0 = epoch(it);
        it.reset();
        assertEquals(1, it.epoch());
        List<DataSet> e1 = epoch(it);
        assertNotEquals(e0.get(0).getFeatures(), e1.get(0).getFeatures(), "a new epoch must reshuffle/redraw");
        List<DataSet> other = epoch(b.seed(8).build());
        assertNotEquals(a.get(0).getFeatures(), other.get(0).getFeatures());
        MultiDataSetIterator masync = new SegmentationMultiDataSetIterator(b.seed(7).build()).async();
        assertTrue(masync.hasNext()); // DL4J's async iterators fetch in hasNext(); next() alone returns null
        assertEquals(a.get(0).getFeatures(), masync.next().getFeatures(0).dup());
    }

    @Test
    void pngPairsFromFolders() throws IOException {
        Path img = Files.createDirectories(tmp.resolve("png/images"));
        Path lab = Files.createDirectories(tmp.resolve("png/labels"));
        for (int c = 0; c < 2; c++) {
            BufferedImage im = new BufferedImage(6, 4, BufferedImage.TYPE_BYTE_GRAY);
            BufferedImage lb = new BufferedImage(6, 4, BufferedImage.TYPE_BYTE_GRAY);
            for (int y = 0; y < 4; y++) {
                for (int x = 0; x < 6; x++) {
                    im.getRaster().setSample(x, y, 0, 40 * c + 10 * y + x);
                    lb.getRaster().setSample(x, y, 0, (x + y + c) % 2 == 0 ? 0 : 255);
                }
            }
            ImageIO.write(im, "png", img.resolve("s" + c + ".png").toFile());
            ImageIO.write(lb, "png", lab.resolve("s" + c + ".png").toFile());
        }
        SegmentationDataSetIterator it = SegmentationDataSetIterator.builder().cases(Cases.fromFolders(img, lab))
                .labelMap(LabelMap.of(java.util.Map.of(0L, 0, 255L, 1))).batchSize(2).shuffle(false).build();
        DataSet ds = it.next();
        assertArrayEquals(new long[]{2, 1, 4, 6}, ds.getFeatures().shape());
        assertArrayEquals(new long[]{2, 2, 4, 6}, ds.getLabels().shape());
        assertEquals(40 + 10 * 3 + 5, ds.getFeatures().getFloat(1, 0, 3, 5), 0f);
        assertEquals((5 + 3 + 1) % 2 == 0 ? 0f : 1f, ds.getLabels().getFloat(1, 1, 3, 5), 0f);
    }

    @Test
    void batchesFeedTwoAndThreeDimensionalSegmentationNetworks() throws IOException {
        Path root = folders(2);
        List<Case> cases = Cases.fromFolders(root.resolve("imgs"), root.resolve("labs"));
        // The project's U-Nets (instance norm, pooling, skip concatenation, per-sample Dice): 3D NCDHW on the
        // [8,6,4] volumes, 2D NCHW on their [8,6] slices.
        ComputationGraph g3 = tinyUNet(3);
        SegmentationMultiDataSetIterator m3 = new SegmentationMultiDataSetIterator(SegmentationDataSetIterator.builder()
                .cases(cases).labelMap(TestVolumes.map()).preprocess(Preprocessing.zScore(Preprocessing.NormalizationRegion.ALL))
                .batchSize(2).build());
        MultiDataSet b3 = m3.next();
        g3.fit(b3);
        assertArrayEquals(b3.getLabels(0).shape(), g3.outputSingle(b3.getFeatures(0)).shape());
        assertTrue(Double.isFinite(g3.score()));

        ComputationGraph g2 = tinyUNet(2);
        SegmentationDataSetIterator s2 = SegmentationDataSetIterator.builder().cases(cases).labelMap(TestVolumes.map())
                .preprocess(Preprocessing.zScore(Preprocessing.NormalizationRegion.ALL)).slices(2, false).batchSize(4).build();
        g2.fit(s2.async());
        DataSet one = SegmentationDataSetIterator.builder().cases(cases).labelMap(TestVolumes.map())
                .slices(2, false).batchSize(4).build().next();
        assertArrayEquals(one.getLabels().shape(), g2.outputSingle(one.getFeatures()).shape());
        assertTrue(Double.isFinite(g2.score()));
    }

    private static ComputationGraph tinyUNet(int dims) {
        return UNet.builder().spatialDims(dims).inputChannels(1).numClasses(3).levels(2).baseFilters(2)
                .convsPerLevel(1).normalization(UNet.Normalization.INSTANCE).updater(new Adam(1e-2)).seed(1)
                .build().graph();
    }
}
