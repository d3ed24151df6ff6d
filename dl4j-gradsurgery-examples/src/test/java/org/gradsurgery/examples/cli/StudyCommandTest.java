package org.gradsurgery.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.gradsurgery.data.nifti.Nifti;
import org.gradsurgery.data.nifti.NiftiDataType;
import org.gradsurgery.data.nifti.NiftiHeader;
import org.gradsurgery.examples.DemoData;
import org.gradsurgery.experiment.ExperimentSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

/**
 * {@code gradsurgery study --smoke} on the committed synthetic and Colin27 specs (each a report with finite metrics for
 * every arm), a study run re-scored by {@code evaluate} on another folder, and the bad-input messages.
 */
class StudyCommandTest {
    private static final Path SPECS = Path.of("examples", "studies");

    @Test
    void smokeOfTheCommittedSyntheticSpecWritesTheReport(@TempDir Path dir) throws Exception {
        CliRun r = CliRun.of("study", "--spec", SPECS.resolve("synthetic.json").toString(), "--out",
                dir.toString(), "--smoke", "--progress", "off");
        assertEquals(0, r.exit(), r.err());
        checkReport(dir, List.of("mcxent", "dice", "dice + surgery", "dice + surgery (balanced)",
                "dice + surgery (probabilities)"), 8);
        assertTrue(Files.readString(dir.resolve("study.md")).contains("mean abs(p − q)"));
    }

    @Test
    void smokeOfTheCommittedColin27SpecOnTheBundledSlicesWritesTheReport(@TempDir Path dir) throws Exception {
        CliRun r = CliRun.of("study", "--spec", SPECS.resolve("colin27-deepgm-2d.json").toString(), "--data",
                DemoData.locate().toString(), "--out", dir.toString(), "--smoke", "--progress", "off");
        assertEquals(0, r.exit(), r.err());
        checkReport(dir, List.of("dice", "dice + surgery"), 8);
    }

    /** study.md has its sections and every arm; study.csv has a row per arm and test case, calibration finite. */
    private static void checkReport(Path dir, List<String> labels, int testCases) throws Exception {
        String md = Files.readString(dir.resolve("study.md"));
        for (String part : new String[] {"## Test metrics per arm", "## Per class", "## With surgery − without",
                "Runs finished: " + labels.size() + " of " + labels.size() + "."}) {
            assertTrue(md.contains(part), part + " missing in\n" + md);
        }
        for (String label : labels) {
            assertTrue(md.contains("| " + label + " |"), label + " missing in\n" + md);
        }
        List<String> csv = Files.readAllLines(dir.resolve("study.csv"));
        assertEquals(1 + labels.size() * testCases, csv.size(), String.join("\n", csv));
        List<String> head = Arrays.asList(csv.get(0).split(","));
        for (String line : csv.subList(1, csv.size())) {
            String[] f = line.split(",");
            for (String col : new String[] {"dice_mean", "ece", "ece_ts", "brier", "nll", "nll_ts"}) {
                double v = Double.parseDouble(f[head.indexOf(col)]);
                assertTrue(Double.isFinite(v), col + " is not finite in " + line);
            }
        }
    }

    @Test
    void aStudyRunIsReScoredOnAnotherFolderWithItsRecordedPreprocessingAndGrouping(@TempDir Path tmp)
            throws Exception {
        Path msd = UserDataCommandsTest.fakeMsd(Files.createDirectories(tmp.resolve("train")));
        // shell and core grouped into one structure: evaluate must apply the same grouping to the other folder
        Path spec = Files.writeString(tmp.resolve("spec.json"), """
                {"name": "fake", "data": {"source": {"type": "msd", "dir": ""}, "dims": 3, "commonPadding": true,
                  "labelGrouping": {"1": 1, "2": 1}, "unlistedLabels": 0, "classNames": ["background", "whole"],
                  "augmentation": "flips",
                  "split": {"trainingCases": 2, "validationCases": 1, "testCases": 1, "seed": 0}},
                 "model": {"levels": 2, "baseFilters": 4, "learningRate": 0.01},
                 "training": {"epochs": 3, "batchSize": 2},
                 "arms": ["dice", "dice+surgery"], "seeds": [1, 2]}
                """);
        Path study = tmp.resolve("study");
        CliRun s = CliRun.of("study", "--spec", spec.toString(), "--data", msd.toString(), "--out", study.toString(),
                "--smoke", "--progress", "off");
        assertEquals(0, s.exit(), s.err() + s.out());
        Path run = study.resolve("runs/dice-surgery/seed-1");
        ExperimentSpec recorded = ExperimentSpec.read(run);
        assertEquals(2, recorded.model().numClasses());
        assertEquals(3, recorded.model().spatialDims());
        assertTrue(recorded.data().padsToCommonSize());
        assertEquals(3, recorded.data().paddedSize().length);
        Path ext = UserDataCommandsTest.fakeMsd(Files.createDirectories(tmp.resolve("external")));
        CliRun e = CliRun.of("evaluate", "--model", run.resolve("model.zip").toString(), "--msd", ext.toString(),
                "--all-cases", "--out", tmp.resolve("eval").toString());
        assertEquals(0, e.exit(), e.err() + e.out());
        assertTrue(e.out().contains("scored 4 case(s)"), e.out());
        List<String> rows = Files.readAllLines(tmp.resolve("eval/cases.csv"));
        assertEquals(1 + 4, rows.size(), "four cases, one (grouped) foreground class: " + rows);
        // the study's own test case, scored again by evaluate on the same cases: the same Dice
        String testCase = recorded.data().split().test().get(0);
        List<String> studyRows = Files.readAllLines(run.resolve("cases.csv"));
        List<String> studyHead = Arrays.asList(studyRows.get(0).split(","));
        String[] studyRow = studyRows.stream().filter(l -> l.startsWith(testCase + ",")).findFirst().orElseThrow()
                .split(",");
        List<String> head = Arrays.asList(rows.get(0).split(","));
        String[] row = rows.stream().filter(l -> l.startsWith(testCase + ",")).findFirst().orElseThrow().split(",");
        assertEquals(Double.parseDouble(studyRow[studyHead.indexOf("dice_1")]),
                Double.parseDouble(row[head.indexOf("dice")]), 1e-6, "Dice of " + testCase);

        // a label on another grid than its image, found when the case is loaded: one line naming the files, exit 2
        Path images = Files.createDirectories(tmp.resolve("bad/images"));
        Path labels = Files.createDirectories(tmp.resolve("bad/labels"));
        Files.copy(ext.resolve("imagesTr/fake_000.nii.gz"), images.resolve("y.nii.gz"));
        Nifti.write(labels.resolve("y.nii.gz"), Nd4j.zeros(DataType.FLOAT, 12, 10, 7), NiftiHeader.builder()
                .dims(12, 10, 7).datatype(NiftiDataType.FLOAT32).build());
        CliRun bad = CliRun.of("evaluate", "--model", run.resolve("model.zip").toString(), "--images",
                images.toString(), "--labels", labels.toString(), "--all-cases", "--out",
                tmp.resolve("eval-bad").toString());
        assertEquals(GradSurgeryCli.EXIT_USAGE, bad.exit(), bad.err());
        assertTrue(bad.err().contains("grid mismatch") && bad.err().contains("y.nii.gz"), bad.err());
        assertEquals(1, bad.err().strip().lines().count(), bad.err());
    }

    @Test
    void committedSpecsParseAndAMissingDataFolderIsNamed(@TempDir Path dir) {
        CliRun r = CliRun.of("study", "--spec", SPECS.resolve("msd-hippocampus-3d.json").toString(), "--out",
                dir.toString(), "--smoke");
        assertEquals(GradSurgeryCli.EXIT_USAGE, r.exit(), r.out() + r.err());
        assertTrue(r.err().contains("give --data DIR"), r.err());
        CliRun arms = CliRun.of("study", "--spec", SPECS.resolve("miccai2012-deepgm-2d.json").toString(), "--data",
                dir.toString(), "--out", dir.toString(), "--arms", "dice,dize");
        assertEquals(GradSurgeryCli.EXIT_USAGE, arms.exit(), arms.err());
        assertTrue(arms.err().contains("has no arm 'dize'"), arms.err());
        CliRun seeds = CliRun.of("study", "--spec", SPECS.resolve("synthetic.json").toString(), "--out",
                dir.toString(), "--seeds", "7");
        assertEquals(GradSurgeryCli.EXIT_USAGE, seeds.exit(), seeds.err());
        assertTrue(seeds.err().contains("has no seed 7"), seeds.err());
        CliRun data = CliRun.of("study", "--spec", SPECS.resolve("synthetic.json").toString(), "--data",
                dir.toString(), "--out", dir.toString());
        assertEquals(GradSurgeryCli.EXIT_USAGE, data.exit(), data.err());
        assertTrue(data.err().contains("--data applies to msd, folders and colin27 sources"), data.err());
        assertFalse(Files.exists(dir.resolve("study-spec.json")));
    }
}
