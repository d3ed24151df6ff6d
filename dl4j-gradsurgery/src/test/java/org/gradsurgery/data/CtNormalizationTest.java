package org.gradsurgery.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** nnU-Net's CT normalisation against hand computations on tiny samples. */
class CtNormalizationTest {
    private static Sample sample(String id, float[] img, int[] lab) {
        return Sample.of(id, img, 1, new int[] {1, img.length}, lab, null, new double[] {1, 1}, null);
    }

    /** Foreground {2, 3} of case a and {10, 30} of case b (labels 1 and 2 are both foreground). */
    private static final List<Sample> CASES = List.of(
            sample("a", new float[] {1, 2, 3, 4}, new int[] {0, 1, 1, 0}),
            sample("b", new float[] {10, 20, 30}, new int[] {1, 0, 2}));

    @Test
    void fitsMeanStdAndPercentilesOfAllForegroundVoxels() {
        CtNormalization.Channel c = CtNormalization.fit(CASES, 0, 1).channels().get(0);
        // {2, 3, 10, 30}: mean 11.25; squared deviations 85.5625 + 68.0625 + 1.5625 + 351.5625 = 506.75
        assertEquals(11.25, c.mean(), 1e-9);
        assertEquals(Math.sqrt(506.75 / 4), c.std(), 1e-9);
        // numpy linear: position p/100 * 3 → 0.015 between 2 and 3, 2.985 between 10 and 30
        assertEquals(2.015, c.percentile005(), 1e-6);
        assertEquals(29.7, c.percentile995(), 1e-6);
    }

    @Test
    void appliesClipThenDatasetWideZScore() {
        CtNormalization ct = CtNormalization.fit(CASES, 0, 1);
        double sd = Math.sqrt(506.75 / 4);
        float[] out = ct.transform().apply(CASES.get(1), new SplittableRandom(0)).imageData();
        assertArrayEquals(new float[] {(float) ((10 - 11.25) / sd), (float) ((20 - 11.25) / sd),
                (float) ((29.7 - 11.25) / sd)}, out, 1e-5f);
        // below p0.5: clipped up to 2.015
        float[] low = ct.transform().apply(CASES.get(0), new SplittableRandom(0)).imageData();
        assertEquals((2.015 - 11.25) / sd, low[0], 1e-5);
    }

    @Test
    void drawingAFixedNumberPerCaseWeighsEveryCaseEqually() {
        // case a: one foreground voxel of 0; case b: three of 10. All voxels: mean 7.5; equal weight: mean 5.
        List<Sample> cases = List.of(sample("a", new float[] {0, 99}, new int[] {1, 0}),
                sample("b", new float[] {10, 10, 10}, new int[] {1, 1, 1}));
        assertEquals(7.5, CtNormalization.fit(cases, 0, 3).channels().get(0).mean(), 1e-9);
        CtNormalization.Channel drawn = CtNormalization.fit(cases, 50, 3).channels().get(0);
        assertEquals(5.0, drawn.mean(), 1e-9);
        assertEquals(5.0, drawn.std(), 1e-9);
    }

    @Test
    void zeroSpreadDividesByTheFloorAndErrorsNameTheProblem() {
        CtNormalization flat = CtNormalization.of(List.of(new CtNormalization.Channel(5, 0, 5, 5)));
        float[] out = flat.transform().apply(sample("f", new float[] {1, 9}, null), new SplittableRandom(0))
                .imageData();
        assertArrayEquals(new float[] {0, 0}, out);
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class, () -> CtNormalization.fit(
                List.of(sample("bg", new float[] {1, 2}, new int[] {0, 0})), 0, 1));
        assertTrue(none.getMessage().contains("no foreground voxel (label > 0) in the 1 training case(s)"),
                none.getMessage());
        IllegalArgumentException channels = assertThrows(IllegalArgumentException.class, () -> flat.transform()
                .apply(Sample.of("two", new float[] {1, 2, 3, 4}, 2, new int[] {1, 2}, null, null,
                        new double[] {1, 1}, null), new SplittableRandom(0)));
        assertTrue(channels.getMessage().contains("2 channel(s) but the statistics have 1"), channels.getMessage());
    }
}
