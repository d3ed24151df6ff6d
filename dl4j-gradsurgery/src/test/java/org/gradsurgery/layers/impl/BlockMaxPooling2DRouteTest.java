package org.gradsurgery.layers.impl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;

import org.junit.jupiter.api.Test;

/**
 * {@link BlockMaxPooling2D#route2x2} (selects, no branch on the data) against the general {@link BlockMaxPooling2D#route}
 * (the comparisons it replaces, which {@code BlockMaxPooling2DTest} checks against DL4J's {@code SubsamplingLayer}):
 * the same gradient, bit for bit, on values drawn to hit every case where a select could pick another element than
 * the comparisons: ties (exact repeats and zeros of both signs), NaN anywhere in a window, both infinities.
 */
class BlockMaxPooling2DRouteTest {

    /** Values where a max-pooling route can go wrong: ties, signed zeros, NaN, infinities, extremes (the 3D test too). */
    static final float[] SPECIAL = {0f, -0f, 1f, -1f, 0.5f, Float.NaN, Float.POSITIVE_INFINITY,
        Float.NEGATIVE_INFINITY, Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_VALUE};

    @Test
    void sameGradientAsTheGeneralRoute() {
        Random random = new Random(5);
        int h = 12;
        int w = 10;
        int oh = h / 2;
        int ow = w / 2;
        for (int trial = 0; trial < 2000; trial++) {
            float[] p = new float[h * w];
            for (int i = 0; i < p.length; i++) {
                // mostly special values (ties, NaN, infinities); some random ones
                p[i] = random.nextInt(3) == 0 ? (float) random.nextGaussian() : SPECIAL[random.nextInt(SPECIAL.length)];
            }
            float[] q = new float[oh * ow];
            for (int i = 0; i < q.length; i++) {
                q[i] = (float) random.nextGaussian();
            }
            float[] expected = new float[h * w];
            float[] actual = new float[h * w];
            java.util.Arrays.fill(actual, 7f);   // every element is written, whatever was there
            BlockMaxPooling2D.route(p, q, expected, h, w, 2, 2, oh, ow);
            BlockMaxPooling2D.route2x2(p, q, actual, w, oh, ow);
            assertArrayEquals(bits(expected), bits(actual), "trial " + trial);
        }
    }

    @Test
    void aNanAfterTheFirstElementDoesNotHideALaterMaximum() {
        // route compares c and d with a (NaN > a is false); a max including b = NaN would compare them with NaN
        float[] p = {1f, Float.NaN, 3f, 2f};
        float[] r = new float[4];
        BlockMaxPooling2D.route2x2(p, new float[] {5f}, r, 2, 1, 1);
        assertArrayEquals(new float[] {0f, 0f, 5f, 0f}, r);
        assertEquals(0, Float.floatToRawIntBits(r[0]), "non-maxima get +0");
    }

    /** The raw bits of each value, so that -0 vs 0 and NaN payloads count (the 3D test too). */
    static int[] bits(float[] a) {
        int[] b = new int[a.length];
        for (int i = 0; i < a.length; i++) {
            b[i] = Float.floatToRawIntBits(a[i]);
        }
        return b;
    }
}
