package org.gradsurgery.study;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.gradsurgery.experiment.DataPlan;
import org.gradsurgery.experiment.DataSources;
import org.gradsurgery.experiment.ExperimentData;
import org.gradsurgery.experiment.FileCasesSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The study spec's one JSON form, the converter from the older shape (tested on copies of the specs committed at
 * 952c146 and of study-spec.json files that commit wrote), label grouping, name-pattern pairing and the case-level
 * split, with their bad inputs.
 */
class StudyInputsTest {
    private static final Path COMMITTED = Path.of("..", "dl4j-gradsurgery-examples", "examples", "studies");

    static String legacy(String name) throws Exception {
        try (InputStream in = StudyInputsTest.class.getResourceAsStream("legacy/" + name)) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void theOlderCommittedSpecsConvertToTheCommittedSpecsOfTheCurrentShape(@TempDir Path dir) throws Exception {
        for (String name : new String[] {"synthetic", "msd-hippocampus-3d", "miccai2012-deepgm-2d"}) {
            Path old = dir.resolve(name + "-old.json");
            Files.writeString(old, legacy(name + ".json"));
            Path data = name.equals("synthetic") ? null : dir;
            StudySpec converted = StudySpec.read(old, data);
            StudySpec current = StudySpec.read(COMMITTED.resolve(name + ".json"), data);
            assertEquals(current, converted, name + ":\n" + converted.toJson() + "\nvs\n" + current.toJson());
            assertEquals(converted, StudySpec.parse(converted.toJson()), name + " round trip");
        }
    }

    @Test
    void studySpecFilesWrittenBy952c146ConvertToTheCommittedSpecs(@TempDir Path dir) throws Exception {
        // the study folders of that commit: runs resume and report under the committed spec
        StudySpec synthetic = StudySpec.parse(legacy("synthetic-study-spec-952c146.json"));
        assertTrue(synthetic.sameRunsAs(StudySpec.read(COMMITTED.resolve("synthetic.json"), null)));
        assertEquals(List.of(1L, 2L, 3L), synthetic.seeds());
        StudySpec msd = StudySpec.parse(legacy("msd-study-spec-952c146.json"));
        assertTrue(msd.sameRunsAs(StudySpec.read(COMMITTED.resolve("msd-hippocampus-3d.json"),
                Path.of("/data/msd-task04-hippocampus"))));
        assertEquals(List.of("dice", "dice+surgery"), msd.arms());
        assertEquals(0.003, msd.model().learningRate(), 0);
        assertEquals(3, msd.model().levels());
        assertEquals(15, msd.training().epochs());
    }

    @Test
    void groupingMergesLeftAndRightAndMakesEverythingElseBackground() {
        StudySpec s = StudySpec.parse(folderSpec("{\"1\": [36, 37], \"2\": [57, 58]}"));
        assertEquals(Map.of(36L, 1, 37L, 1, 57L, 2, 58L, 2), s.data().labelGrouping());
        assertEquals(0, s.data().unlistedLabels());
    }

    private static String folderSpec(String grouping) {
        return """
                {"name": "m", "dataset": {"folder": "/data/m", "imagePattern": "{id}_t1.nii.gz",
                  "labelPattern": "{id}_labels.nii.gz", "grouping": %s, "dims": 2},
                 "split": {"train": 2, "validation": 1, "test": 1}, "recipe": {"epochs": 1, "batchSize": 2,
                 "learningRate": 0.01}, "arms": ["dice"], "seeds": [1]}
                """.formatted(grouping);
    }

    @Test
    void badGroupingsAreNamed() {
        assertTrue(assertThrows(IllegalArgumentException.class, () -> StudySpec.parse(folderSpec(
                "{\"1\": [36], \"2\": [36, 37]}"))).getMessage().contains("code 36 is in class 1 and in class 2"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> StudySpec.parse(folderSpec(
                "{\"1\": [3], \"3\": [4]}"))).getMessage().contains("classes must be 1..2 without gaps"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> StudySpec.parse(folderSpec("{\"1\": [0]}")))
                .getMessage().contains("codes must be >= 1"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> StudySpec.parse(folderSpec("{\"x\": [1]}")))
                .getMessage().contains("class 'x' is not a number"));
    }

    @Test
    void aGroupedCodeThatOccursInNoLabelIsNamed() {
        // generated labels hold codes 0, 1, 2: code 7 is a typo that would leave a structure in the background
        DataPlan plan = DataPlan.builder(new DataPlan.Generated(4, new int[] {8, 8}, 3, 1)).commonPadding(true)
                .labelGrouping(Map.of(1L, 1, 2L, 1, 7L, 2)).unlistedLabels(0)
                .split(DataPlan.Split.byCounts(2, 1, 1, 0L)).build();
        String m = assertThrows(IllegalArgumentException.class, () -> ExperimentData.prepare(plan,
                DataSources.open(plan.source()), 0, 2, null)).getMessage();
        assertTrue(m.contains("code 7 (class 2) occurs in no label file"), m);
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
    void aSplitByCountsIsCaseLevelAndReproducibleAndOlderSplitFilesStillRead(@TempDir Path dir) throws Exception {
        DataPlan plan = DataPlan.builder(new DataPlan.KnownProbability(7, 8, 0.5, 2, 0.3, 1))
                .split(DataPlan.Split.byCounts(3, 2, 2, 4L)).build();
        DataPlan.Split s = ExperimentData.prepare(plan, DataSources.open(plan.source()), 0, 2, null).plan().split();
        assertEquals(s, ExperimentData.prepare(plan, DataSources.open(plan.source()), 9, 2, null).plan().split());
        assertEquals(7, s.training().size() + s.validation().size() + s.test().size());
        // java.util.Random(4) over the sorted ids, as the study always drew
        List<String> sorted = new java.util.ArrayList<>(s.training());
        sorted.addAll(s.validation());
        sorted.addAll(s.test());
        List<String> expected = new java.util.ArrayList<>(sorted.stream().sorted().toList());
        java.util.Collections.shuffle(expected, new java.util.Random(4));
        assertEquals(expected, sorted);
        Files.writeString(dir.resolve("split.json"), "{\"train\": [\"a\", \"b\"], \"validation\": [\"c\"], "
                + "\"test\": [\"d\"]}");
        assertEquals(List.of("a", "b"), DataPlan.Split.read(dir.resolve("split.json")).training());
        Files.writeString(dir.resolve("bad.json"), "{\"train\": [\"a\", \"b\"], \"validation\": [\"c\"], "
                + "\"test\": [\"b\"]}");
        String m = assertThrows(IllegalArgumentException.class, () -> DataPlan.Split.read(dir.resolve("bad.json")))
                .getMessage();
        assertTrue(m.contains("names case b twice"), m);
        DataPlan tooMany = plan.toBuilder().split(DataPlan.Split.byCounts(5, 2, 2, 0L)).build();
        assertTrue(assertThrows(IllegalArgumentException.class, () -> ExperimentData.prepare(tooMany,
                DataSources.open(tooMany.source()), 0, 2, null)).getMessage().contains("the data source has 7"));
    }

    @Test
    void specRoundTripsAndNamesBadSettings() {
        StudySpec s = StudySmokeTest.tiny(3, List.of(1L, 2L));
        assertEquals(s, StudySpec.parse(s.toJson()));
        String folder = """
                {"name": "m", "data": {"source": {"type": "folders", "images": "", "labels": "",
                  "imagePattern": "{id}_t1.nii.gz", "labelPattern": "{id}_labels.nii.gz"},
                  "labelGrouping": {"36": 1, "37": 1}, "unlistedLabels": 0, "dims": 2, "commonPadding": true,
                  "split": {"trainingCases": 2, "validationCases": 1, "testCases": 1}},
                 "training": {"epochs": 1, "batchSize": 2}, "arms": ["dice"], "seeds": [1]}
                """;
        assertTrue(assertThrows(IllegalArgumentException.class, () -> StudySpec.parse(folder)).getMessage()
                .contains("give --data DIR"));
        String given = folder.replace("\"images\": \"\", \"labels\": \"\"", "\"images\": \"/d\", \"labels\": \"/d\"");
        StudySpec f = StudySpec.parse(given);
        assertEquals(f, StudySpec.parse(f.toJson()));
        assertEquals(org.gradsurgery.experiment.UNetSpec.DEFAULT_LEVELS, f.model().levels());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> StudySpec.parse(given.replace("\"dice\"",
                "\"dice\", \"dice\""))).getMessage().contains("study.arms lists a loss twice"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> StudySpec.parse(given.replace("\"dice\"",
                "\"dize\""))).getMessage().contains("unknown loss 'dize'"));
        assertTrue(assertThrows(IllegalArgumentException.class, () -> StudySpec.parse(given.replace("\"dims\": 2",
                "\"dims\": 4"))).getMessage().contains("dims must be 2 or 3"));
    }

}
