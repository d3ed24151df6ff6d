package org.gradsurgery.arbiter;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.gradsurgery.data.Sample;
import org.gradsurgery.data.SegmentationDataSetIterator;
import org.gradsurgery.data.SegmentationMultiDataSetIterator;
import org.gradsurgery.training.TrainingData;

/**
 * Tiny 2D segmentation data for sweep tests: 16 × 16 images with a square (class 1) and a disc (class 2) at random
 * places on background, intensities 0 / 1 / 2 plus Gaussian noise (σ = 0.3).
 */
final class SyntheticSweepData {
    static final int SIZE = 16;
    static final int CLASSES = 3;

    private SyntheticSweepData() {
    }

    static List<Sample> samples(int n, long seed) {
        Random r = new Random(seed);
        List<Sample> out = new ArrayList<>();
        for (int s = 0; s < n; s++) {
            float[] img = new float[SIZE * SIZE];
            int[] lab = new int[SIZE * SIZE];
            int sx = r.nextInt(SIZE - 6);
            int sy = r.nextInt(SIZE / 2 - 5);
            int cx = 3 + r.nextInt(SIZE - 6);
            int cy = SIZE / 2 + 3 + r.nextInt(SIZE / 2 - 6);
            for (int y = 0; y < SIZE; y++) {
                for (int x = 0; x < SIZE; x++) {
                    int c = 0;
                    if (x >= sx && x < sx + 5 && y >= sy && y < sy + 5) {
                        c = 1;
                    } else if ((x - cx) * (x - cx) + (y - cy) * (y - cy) <= 6) {
                        c = 2;
                    }
                    lab[y * SIZE + x] = c;
                    img[y * SIZE + x] = c + (float) (0.3 * r.nextGaussian());
                }
            }
            out.add(Sample.of("s" + s, img, 1, new int[]{SIZE, SIZE}, lab, null, new double[]{1, 1}, null));
        }
        return out;
    }

    /** The same data through the single-input iterator constructor (what notebooks use). */
    static SweepData dataFromIterators() {
        List<Sample> train = samples(8, 1);
        return new SweepData((batch, seed) -> SegmentationDataSetIterator.builder().samples(train)
                .numClasses(CLASSES).batchSize(batch).seed(seed).build(),
                SegmentationDataSetIterator.toDataSet(samples(4, 2), CLASSES), new double[]{1, 1});
    }

    /** 8 training and 4 validation images. */
    static SweepData data() {
        List<Sample> train = samples(8, 1);
        List<Sample> val = samples(4, 2);
        return new SweepData(TrainingData.of((batch, seed) -> new SegmentationMultiDataSetIterator(
                SegmentationDataSetIterator.builder().samples(train).numClasses(CLASSES).batchSize(batch).seed(seed)
                        .build()), null), SegmentationDataSetIterator.toDataSet(val, CLASSES), new double[]{1, 1});
    }
}
