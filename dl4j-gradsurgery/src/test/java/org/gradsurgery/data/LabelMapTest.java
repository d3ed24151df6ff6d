package org.gradsurgery.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

class LabelMapTest {
    @TempDir
    Path tmp;

    @Test
    void readsCsvAndRemapsAtlasCodes() throws IOException {
        Path f = tmp.resolve("map.csv");
        Files.writeString(f, "# AAL deep grey matter\nsource,target\n0,0\n71,1\n72,1\n\n73, 2\n");
        LabelMap m = LabelMap.read(f);
        assertEquals(3, m.numClasses());
        assertArrayEquals(new int[]{0, 1, 1, 2, 0}, m.apply(new int[]{0, 71, 72, 73, 0}, "t"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> m.apply(new int[]{0, 5}, "case7"));
        assertTrue(e.getMessage().contains("case7") && e.getMessage().contains("code 5"), e.getMessage());
        assertArrayEquals(new int[]{0, 0, 1}, m.withDefault(0).apply(new int[]{0, 5, 71}, "t"));
    }

    @Test
    void rejectsBadFiles() throws IOException {
        Path f = tmp.resolve("bad.csv");
        Files.writeString(f, "source,target\n1,2\n1,3\n");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> LabelMap.read(f));
        assertTrue(e.getMessage().contains("line 3") && e.getMessage().contains("mapped twice"), e.getMessage());
        Files.writeString(f, "1;2\n");
        assertThrows(IllegalArgumentException.class, () -> LabelMap.read(f));
        Files.writeString(f, "1,-2\n");
        assertThrows(IllegalArgumentException.class, () -> LabelMap.read(f));
    }

    @Test
    void committedLabelMapsCoverTheCommittedCodes() throws IOException {
        Path d = RepositoryData.datasets();
        LabelMap kmeans = LabelMap.read(d.resolve("itk-kmeans/label_map.csv"));
        assertEquals(Map.of(0L, 0, 4L, 1, 5L, 1, 6L, 1), kmeans.pairs());
        LabelMap inia = LabelMap.read(d.resolve("inia19/label_map.csv"));
        assertEquals(5, inia.numClasses());
        for (Map.Entry<Long, Integer> e : inia.pairs().entrySet()) {
            if (e.getKey() >= 1000) {
                assertEquals(inia.lookup(e.getKey() - 1000).getAsInt(), e.getValue(), "left/right share a class");
            }
        }
    }

    @Test
    void colourMapFileWithGreyAndRgbKeys() throws IOException {
        Path f = tmp.resolve("c.csv");
        Files.writeString(f, "colour,class,name\n#FF0000,1,tumour\n176,0,background\n#000000,0\n");
        ColourMap c = ColourMap.read(f);
        assertEquals(1, c.lookupRgb(0xFF0000).getAsInt());
        assertEquals(0, c.lookupRgb(0xB0B0B0).getAsInt()); // grey 176 as RGB
        assertEquals(0, c.lookupGrey(0).getAsInt()); // #000000 as grey
        assertTrue(c.lookupGrey(5).isEmpty());
        assertEquals("tumour", c.names().get(1));
        Files.writeString(f, "colour,class\n#FF00,1\n");
        assertThrows(IllegalArgumentException.class, () -> ColourMap.read(f));
    }

    @Test
    void oneHotMatchesAReferenceLoop() {
        int[][] lab = {{0, 2, 1}, {1, 1, 0}};
        INDArray l = Nd4j.createFromArray(lab).reshape(1, 2, 3);
        INDArray oh = Labels.oneHot(l, 3);
        assertArrayEquals(new long[]{1, 3, 2, 3}, oh.shape());
        for (int c = 0; c < 3; c++) {
            for (int i = 0; i < 2; i++) {
                for (int j = 0; j < 3; j++) {
                    assertEquals(lab[i][j] == c ? 1.0 : 0.0, oh.getDouble(0, c, i, j), 0.0);
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> Labels.oneHot(l, 2));
        assertThrows(IllegalArgumentException.class, () -> Labels.toClassIds(Nd4j.createFromArray(0.5f, 1f), "x"));
    }

    /**
     * toClassIds frees its own intermediates at once but never the caller's array (a DOUBLE array is its own cast,
     * which must not be closed), also for an array in a workspace; reading a closed array would throw.
     */
    @Test
    void classIdsFreeOnlyTheirOwnIntermediates() {
        INDArray d = Nd4j.createFromArray(0.0, 2.0, 1.0);
        assertArrayEquals(new int[]{0, 2, 1}, Labels.toClassIds(d, "x"));
        assertEquals(2.0, d.getDouble(1), 0.0);
        INDArray i = Nd4j.createFromArray(new int[][]{{3, 1}, {0, 2}}).dup('f');
        assertArrayEquals(new int[]{3, 1, 0, 2}, Labels.toClassIds(i, "x"));
        assertEquals(2, i.getInt(1, 1));
        org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration conf =
                org.nd4j.linalg.api.memory.conf.WorkspaceConfiguration.builder().initialSize(1 << 20).build();
        try (org.nd4j.linalg.api.memory.MemoryWorkspace ws =
                     Nd4j.getWorkspaceManager().getAndActivateWorkspace(conf, "LabelMapTest")) {
            INDArray w = Nd4j.createFromArray(1, 4, 2);
            assertTrue(w.isAttached());
            assertArrayEquals(new int[]{1, 4, 2}, Labels.toClassIds(w, "x"));
            assertEquals(4, w.getInt(1));
        }
    }
}
