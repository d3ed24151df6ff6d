package org.gradsurgery.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** {@link Cases#split}: case-level, deterministic by seed, sizes by fraction, clear errors. */
class CasesSplitTest {
    private static List<Case> cases(int n) {
        List<Case> l = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            l.add(Case.of("c" + i, Path.of("img" + i + ".nii.gz"), Path.of("lab" + i + ".nii.gz")));
        }
        return l;
    }

    @Test
    void partitionsCasesDeterministicallyBySeed() {
        List<Case> all = cases(20);
        Cases.Split a = Cases.split(all, 0.2, 7);
        assertEquals(4, a.validation().size());
        assertEquals(16, a.training().size());
        Set<Case> union = new HashSet<>(a.training());
        union.addAll(a.validation());
        assertEquals(new HashSet<>(all), union);
        assertTrue(a.training().stream().noneMatch(a.validation()::contains));
        assertEquals(a, Cases.split(all, 0.2, 7));
        // input order is kept within each part
        assertEquals(a.training().stream().sorted((x, y) -> Integer.compare(all.indexOf(x), all.indexOf(y))).toList(),
                a.training());
        boolean differs = false;
        for (long seed = 8; seed < 13 && !differs; seed++) {
            differs = !Cases.split(all, 0.2, seed).validation().equals(a.validation());
        }
        assertTrue(differs, "five other seeds all chose the same validation cases");
    }

    @Test
    void smallFractionsHoldOutAtLeastOneCaseAndZeroHoldsOutNone() {
        assertEquals(1, Cases.split(cases(3), 0.01, 1).validation().size());
        assertEquals(0, Cases.split(cases(3), 0, 1).validation().size());
        assertNotEquals(0, Cases.split(cases(2), 0.5, 1).training().size());
    }

    @Test
    void rejectsFractionsLeavingNoTrainingCase() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Cases.split(cases(1), 0.2, 1));
        assertTrue(e.getMessage().contains("leaves no training case"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Cases.split(cases(5), 1.0, 1));
        assertTrue(e.getMessage().contains("[0, 1)"), e.getMessage());
    }
}
