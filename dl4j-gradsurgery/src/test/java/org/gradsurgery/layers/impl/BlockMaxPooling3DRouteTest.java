package org.gradsurgery.layers.impl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * {@link BlockMaxPooling3D#route2x2x2} (a tree of selects, no branch on the data) against the general
 * {@link BlockMaxPooling3D#route} (the comparisons it replaces, which {@code BlockMaxPooling3DTest} checks against
 * DL4J's {@code Subsampling3DLayer}): the same gradient, bit for bit, on slabs drawn to hit every case where a select
 * could pick another element than the comparisons: ties (exact repeats and zeros of both signs), NaN anywhere in a
 * window, both infinities.
 */
class BlockMaxPooling3DRouteTest {

    private static final float[] SPECIAL = BlockMaxPooling2DRouteTest.SPECIAL;

    @Test
    void sameGradientAsTheGeneralRoute() {
        Random random = new Random(7);
        int h = 8;
        int w = 10;
        int oh = h / 2;
        int ow = w / 2;
        int slab = 2 * h * w;
        for (int trial = 0; trial < 3000; trial++) {
            // few distinct values per trial, so windows hold ties often, sometimes several NaNs
            int kinds = 1 + random.nextInt(SPECIAL.length);
            float[] p = new float[slab];
            for (int i = 0; i < p.length; i++) {
                p[i] = random.nextInt(4) == 0 ? (float) random.nextGaussian() : SPECIAL[random.nextInt(kinds)];
            }
            float[] q = new float[oh * ow];
            for (int i = 0; i < q.length; i++) {
                q[i] = (float) random.nextGaussian();
            }
            float[] expected = new float[slab];
            float[] actual = new float[slab];
            Arrays.fill(actual, 7f);   // every element is written, whatever was there
            BlockMaxPooling3D.route(p, q, expected, slab, h, w, new int[] {2, 2, 2}, 1, oh, ow);
            BlockMaxPooling3D.route2x2x2(p, q, actual, h, w, oh, ow);
            assertArrayEquals(bits(expected), bits(actual), "trial " + trial);
        }
    }

    @Test
    void eachPositionOfTheMaximumAndOfANan() {
        // one window (h = w = 2): the maximum at every position m, a NaN at every other position n
        for (int m = 0; m < 8; m++) {
            for (int n = -1; n < 8; n++) {
                if (n == m) {
                    continue;
                }
                float[] p = {1f, 1f, 1f, 1f, 1f, 1f, 1f, 1f};
                p[m] = 3f;
                if (n >= 0) {
                    p[n] = Float.NaN;
                }
                float[] expected = new float[8];
                float[] actual = new float[8];
                BlockMaxPooling3D.route(p, new float[] {5f}, expected, 8, 2, 2, new int[] {2, 2, 2}, 1, 1, 1);
                BlockMaxPooling3D.route2x2x2(p, new float[] {5f}, actual, 2, 2, 1, 1);
                assertArrayEquals(bits(expected), bits(actual), "maximum at " + m + ", NaN at " + n);
            }
        }
    }

    @Test
    void aNanAfterTheFirstElementDoesNotHideALaterMaximum() {
        // route compares the later elements with p0 (NaN > p0 is false); a max including p1 = NaN would compare
        // them with NaN and keep the first element
        float[] p = {1f, Float.NaN, 2f, 1f, 1f, 3f, 1f, 1f};
        float[] r = new float[8];
        BlockMaxPooling3D.route2x2x2(p, new float[] {5f}, r, 2, 2, 1, 1);
        assertArrayEquals(new float[] {0f, 0f, 0f, 0f, 0f, 5f, 0f, 0f}, r);
        assertEquals(0, Float.floatToRawIntBits(r[0]), "non-maxima get +0");
    }

    private static int[] bits(float[] a) {
        return BlockMaxPooling2DRouteTest.bits(a);
    }
}
