package org.gradsurgery.study;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.gradsurgery.calibration.KnownProbabilityCalibration;
import org.gradsurgery.data.KnownProbabilityImages;
import org.junit.jupiter.api.Test;

class KnownProbabilityTest {

    @Test
    void labelsFollowQAndEdgeWidthSetsTheAmbiguousBand() {
        KnownProbabilityImages narrow = new KnownProbabilityImages(48, 0.5, 0.5, 0.1);
        KnownProbabilityImages wide = new KnownProbabilityImages(48, 4, 4, 0.1);
        long[] ones = new long[5];
        long[] all = new long[5];
        double[] sumQ = new double[5];
        long ambiguousNarrow = 0;
        long ambiguousWide = 0;
        for (KnownProbabilityImages.Item it : wide.generate(3, 40)) {
            int[] y = it.sample().labelData();
            for (int i = 0; i < y.length; i++) {
                int b = Math.min(4, (int) (it.q()[i] * 5));
                all[b]++;
                ones[b] += y[i];
                sumQ[b] += it.q()[i];
                if (it.q()[i] > 0.1 && it.q()[i] < 0.9) {
                    ambiguousWide++;
                }
            }
        }
        for (KnownProbabilityImages.Item it : narrow.generate(3, 40)) {
            for (float q : it.q()) {
                if (q > 0.1 && q < 0.9) {
                    ambiguousNarrow++;
                }
            }
        }
        for (int b = 0; b < 5; b++) {
            assertTrue(all[b] > 500, "bin " + b + " has " + all[b] + " pixels");
            // the label frequency in each q bin is the bin's mean q (binomial se < 0.02 with > 500 pixels)
            assertEquals(sumQ[b] / all[b], (double) ones[b] / all[b], 0.05, "q bin " + b);
        }
        assertTrue(ambiguousWide > 4 * ambiguousNarrow, ambiguousWide + " vs " + ambiguousNarrow);
    }

    @Test
    void casesDependOnlyOnSeedAndIndex() {
        KnownProbabilityImages g = new KnownProbabilityImages(16, 1, 2, 0.2);
        List<KnownProbabilityImages.Item> five = g.generate(9, 5);
        assertArrayEquals(five.get(3).q(), g.item(9, 3).q());
        assertArrayEquals(five.get(3).sample().imageData(), g.item(9, 3).sample().imageData());
        assertThrows(IllegalArgumentException.class, () -> new KnownProbabilityImages(16, 2, 1, 0.2));
    }

    @Test
    void calibrationAgainstQByHand() {
        KnownProbabilityCalibration c = new KnownProbabilityCalibration(2);
        // q = 0.5 everywhere; an over-confident model says 0 or 1: |p - q| = 0.5; bins: [0, .5] mean p 0, mean q .5;
        // (.5, 1] mean p 1, mean q .5: ECE = .5
        c.add(new float[] {0, 1, 1, 0}, new float[] {0.5f, 0.5f, 0.5f, 0.5f}, null);
        assertEquals(0.5, c.meanAbsoluteError(), 1e-12);
        assertEquals(0.5, c.ece(), 1e-12);
        KnownProbabilityCalibration perfect = new KnownProbabilityCalibration(10);
        perfect.add(new float[] {0.2f, 0.7f, 0.9f}, new float[] {0.2f, 0.7f, 0.9f}, new boolean[] {true, true, true});
        assertEquals(0, perfect.meanAbsoluteError(), 1e-7);
        assertEquals(0, perfect.ece(), 1e-7);
        c.add(perfect.bins().bins() == 10 ? new KnownProbabilityCalibration(2) : perfect);
        assertEquals(4, c.count());
        assertThrows(IllegalArgumentException.class, () -> c.add(new float[] {1.5f}, new float[] {0.5f}, null));
    }
}
