package org.gradsurgery.study;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class StatisticsTest {

    @Test
    void meanAndSampleSdByHand() {
        // 1,2,3,4: mean 2.5, squared deviations 2.25+0.25+0.25+2.25 = 5, s = sqrt(5/3)
        Statistics.MeanSd m = Statistics.meanSd(1, 2, Double.NaN, 3, 4);
        assertEquals(2.5, m.mean(), 1e-12);
        assertEquals(Math.sqrt(5.0 / 3), m.sd(), 1e-12);
        assertEquals(4, m.n());
        assertEquals(1, m.missing());
        assertEquals("2.50 ± 1.29", m.format(2));
        assertEquals(0, Statistics.meanSd(7).sd());
        assertEquals("n/a", Statistics.meanSd(Double.NaN).format(3));
    }

    @Test
    void pairedDifferenceOfTwoCasesMatchesTheExactBootstrapDistribution() {
        // differences 0 and 2: a resample of 2 has mean 0 (p 1/4), 1 (p 1/2) or 2 (p 1/4), so the 2.5 % and
        // 97.5 % percentiles of many resamples are exactly 0 and 2, and the estimate is 1
        Statistics.PairedDifference p = Statistics.paired(new double[] {0.5, 3.0}, new double[] {0.5, 1.0}, 20_000,
                7);
        assertEquals(1.0, p.mean(), 1e-12);
        assertEquals(0.0, p.lo(), 1e-12);
        assertEquals(2.0, p.hi(), 1e-12);
        assertEquals(2, p.n());
        assertFalse(p.significant());
    }

    @Test
    void identicalDifferencesGiveADegenerateIntervalAndNaNPairsAreDropped() {
        double[] with = {0.9, 0.8, Double.NaN, 0.7};
        double[] without = {0.8, 0.7, 0.1, 0.6};
        Statistics.PairedDifference p = Statistics.paired(with, without);
        assertEquals(3, p.n());
        assertEquals(0.1, p.mean(), 1e-12);
        assertEquals(0.1, p.lo(), 1e-12);
        assertEquals(0.1, p.hi(), 1e-12);
        assertTrue(p.significant());
    }

    @Test
    void intervalOfALargerSampleIsNearTheNormalApproximation() {
        // 200 differences: 100 of +1, 100 of -1: mean 0, se = 1/sqrt(200) (population sd 1); 95 % ~ ±1.96·se
        double[] with = new double[200];
        double[] without = new double[200];
        for (int i = 0; i < 200; i++) {
            with[i] = i % 2 == 0 ? 1 : -1;
        }
        Statistics.PairedDifference p = Statistics.paired(with, without, 20_000, 1);
        double half = 1.96 / Math.sqrt(200);
        assertEquals(-half, p.lo(), 0.02);
        assertEquals(half, p.hi(), 0.02);
    }

    @Test
    void mismatchedLengthsAreRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Statistics.paired(new double[2], new double[3]));
        assertTrue(e.getMessage().contains("same cases"), e.getMessage());
    }
}
