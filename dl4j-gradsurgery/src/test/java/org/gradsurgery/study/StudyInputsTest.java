package org.gradsurgery.study;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.gradsurgery.experiment.DataPlan;
import org.gradsurgery.experiment.FileCasesSource;
import org.gradsurgery.data.LabelMap;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Label grouping, name-pattern pairing, the case-level split and spec validation, with their bad inputs. */
class StudyInputsTest {

    private static final Map<String, List<Long>> DEEP_GM = Map.of("1", List.of(36L, 37L), "2", List.of(57L, 58L),
            "3", List.of(55L, 56L), "4", List.of(59L, 60L));

    @Test
    void groupingMergesLeftAndRightAndMakesEverythingElseBackground() {
        Grouping g = Grouping.of(DEEP_GM);
        assertEquals(5, g.numClasses());
        LabelMap m = g.labelMap();
        assertEquals(1, m.lookup(36).getAsInt());
        assertEquals(1, m.lookup(37).getAsInt());
        assertEquals(4, m.lookup(60).getAsInt());
        assertEquals(0, m.lookup(47).getAsInt());
        assertEquals(0, m.lookup(0).getAsInt());
        g.checkPresent(List.of(0L, 36L, 37L, 55L, 56L, 57L, 58L, 59L, 60L, 47L), "test");
    }

    @Test
    void badGroupingsAreNamed() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Grouping.of(DEEP_GM)
                .checkPresent(List.of(0L, 36L, 37L, 55L, 56L, 57L, 58L, 59L), "/data/x")).getMessage()
                .contains("code 60 (class 4) occurs in no label file of /data/x"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Grouping.of(Map.of("1", List.of(36L),
                "2", List.of(36L, 37L)))).getMessage().contains("code 36 is in class 1 and in class 2"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Grouping.of(Map.of("1", List.of(3L),
                "3", List.of(4L)))).getMessage().contains("classes must be 1..2 without gaps"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Grouping.of(Map.of("1", List.of(0L))))
                .getMessage().contains("codes must be >= 1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> Grouping.of(Map.of("x", List.of(1L))))
                .getMessage().contains("class 'x' is not a number"));
    }

    @Test
    void namePatternsPairImagesWithLabelsAndIgnoreOtherFiles(@TempDir Path dir) throws Exception {
        for (String f : new String[] {"1000_t1.nii.gz", "1000_labels.nii.gz", "1000_brainmask.nii.gz",
                "1001_t1.nii.gz", "1001_labels.nii.gz", ".hidden_t1.nii.gz"}) {
            Files.writeString(dir.resolve(f), "");
        }
        List<String> ids = FileCasesSource.folders(new DataPlan.Folders(dir.toString(), dir.toString(),
                "{id}_t1.nii.gz", "{id}_labels.nii.gz")).caseIds();
        assertEquals(List.of("1000", "1001"), ids);
    }

    @Test
    void anImageWithoutALabelIsAnError(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("1000_t1.nii.gz"), "");
        Files.writeString(dir.resolve("1001_t1.nii.gz"), "");
        Files.writeString(dir.resolve("1001_labels.nii.gz"), "");
        String m = assertThrows(IllegalArgumentException.class, () -> FileCasesSource.folders(new DataPlan.Folders(
                dir.toString(), dir.toString(), "{id}_t1.nii.gz", "{id}_labels.nii.gz"))).getMessage();
        assertTrue(m.contains("without a label") && m.contains("1000_labels.nii.gz"), m);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> new DataPlan.Folders(dir.toString(),
                dir.toString(), "t1.nii.gz", "{id}_labels.nii.gz")).getMessage().contains("{id} once"));
    }

    @Test
    void splitIsCaseLevelReproducibleAndRefusesACaseInTwoParts(@TempDir Path dir) throws Exception {
        List<String> ids = List.of("a", "b", "c", "d", "e", "f", "g");
        StudySplit s = StudySplit.draw(ids, 3, 2, 2, 4);
        assertEquals(s, StudySplit.draw(List.of("g", "f", "e", "d", "c", "b", "a"), 3, 2, 2, 4));
        assertEquals(7, s.train().size() + s.validation().size() + s.test().size());
        s.write(dir.resolve("split.json"));
        assertEquals(s, StudySplit.read(dir.resolve("split.json")));
        Files.writeString(dir.resolve("bad.json"), "{\"train\": [\"a\", \"b\"], \"validation\": [\"c\"], "
                + "\"test\": [\"b\"]}");
        String m = assertThrows(IllegalArgumentException.class, () -> StudySplit.read(dir.resolve("bad.json")))
                .getMessage();
        assertTrue(m.contains("case b is in train and in test"), m);
        assertTrue(assertThrows(IllegalArgumentException.class, () -> s.checkAgainst(java.util.Set.of("a"), "x"))
                .getMessage().contains("not found in x"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> StudySplit.draw(ids, 5, 2, 2, 0))
                .getMessage().contains("the data set has 7"));
    }

    @Test
    void specRoundTripsAndNamesBadSettings() {
        StudySpec s = StudySmokeTest.tiny(3, List.of(1L, 2L));
        assertEquals(s, StudySpec.parse(s.toJson()));
        String folder = """
                {"name": "m", "dataset": {"folder": "", "imagePattern": "{id}_t1.nii.gz",
                  "labelPattern": "{id}_labels.nii.gz", "grouping": {"1": [36, 37]}, "dims": 2},
                 "split": {"train": 2, "validation": 1, "test": 1}, "recipe": {"epochs": 1, "batchSize": 2,
                 "learningRate": 0.01}, "arms": ["dice"], "seeds": [1]}
                """;
        StudySpec f = StudySpec.parse(folder);
        assertEquals(f, StudySpec.parse(f.toJson()));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> f.dataset().root()).getMessage()
                .contains("give --data DIR"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> StudySpec.parse(folder.replace("\"dice\"",
                "\"dice\", \"dice\""))).getMessage().contains("study.arms lists a loss twice"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> StudySpec.parse(folder.replace("\"dice\"",
                "\"dize\""))).getMessage().contains("unknown loss 'dize'"));
    }
}
