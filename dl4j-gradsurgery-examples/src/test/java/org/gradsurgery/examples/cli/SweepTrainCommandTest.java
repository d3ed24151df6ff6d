package org.gradsurgery.examples.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.gradsurgery.arbiter.SweepCandidate;
import org.gradsurgery.arbiter.SweepReport;
import org.gradsurgery.arbiter.SweepRunner;
import org.gradsurgery.arbiter.SweepSpec;
import org.gradsurgery.loss.LossSpec;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * The {@code gradsurgery train} command a sweep prints for a candidate parses, and its flags give the candidate's
 * loss and U-Net again (nothing is trained: the flags are only parsed).
 */
class SweepTrainCommandTest {

    /** Parses {@code args} as the CLI does and returns the train command object. */
    private static TrainCommand parseTrain(List<String> args) {
        CommandLine.ParseResult pr = GradSurgeryCli.commandLine().parseArgs(args.toArray(new String[0]));
        assertTrue(pr.hasSubcommand(), args.toString());
        return (TrainCommand) pr.subcommand().commandSpec().userObject();
    }

    private static void assertRetrains(SweepCandidate c) {
        List<String> args = SweepReport.trainCommand(c, 8, 4, 43, 3, "dice", Map.of("downsample", 2));
        assertNotNull(args, "every LossSpace loss has train flags: " + c);
        TrainCommand t = parseTrain(args);
        LossSpec spec = t.loss.spec();
        assertEquals(LossSpec.describing(c.loss()).orElseThrow(), spec, String.join(" ", args));
        assertEquals(c.loss(), spec.create(), String.join(" ", args));
        assertEquals(c.unet(), t.model.spec(), String.join(" ", args));   // every U-Net setting, defaults included
        assertEquals(8, t.training.epochs);
        assertEquals(4, t.training.batchSize);
        assertEquals(43, t.training.seed);
        assertEquals(2, t.data.downsample);
    }

    /** The example sweep's candidates, including its best (no background), can be trained again by train. */
    @Test
    void exampleSweepCandidatesRetrainWithTrainFlags() throws Exception {
        SweepSpec s = SweepSpec.read(Path.of("examples", "sweeps", "surgery-exponent.json"));
        List<SweepCandidate> candidates = SweepRunner.candidates(s);
        assertEquals(4, candidates.size());
        for (SweepCandidate c : candidates) {
            assertFalse(LossSpec.describing(c.loss()).orElseThrow().includeBackground());
            assertRetrains(c);
        }
    }

    /** The command docs/SWEEPS.md shows for the example sweep's best candidate (1: no background, no surgery). */
    @Test
    void exampleSweepBestCandidateCommand() throws Exception {
        SweepSpec s = SweepSpec.read(Path.of("examples", "sweeps", "surgery-exponent.json"));
        SweepCandidate first = SweepRunner.candidates(s).get(0);
        // candidate index 0 trains with seed + 0; the constrained objective early-stops on validation Dice
        List<String> args = SweepReport.trainCommand(first, s.epochs(), s.batchSize(), s.trainingSeed(),
                s.patience(), "dice", Map.of("downsample", s.downsample()));
        assertEquals("train --loss dice --include-background false --levels 3 --filters 8 --norm INSTANCE "
                + "--dropout 0.0 --lr 0.003 --epochs 8 --batch-size 4 --seed 42 --early-stopping dice --patience 3 "
                + "--downsample 2", String.join(" ", args));
        assertEquals("dice:no-background", LossSpec.describing(first.loss()).orElseThrow().toString());
    }

    /** Every dimension a LossSpace varies, away from its default, has a train flag. */
    @Test
    void everyLossSpaceDimensionHasATrainFlag() {
        SweepSpec s = SweepSpec.parse("""
                {"search": {"strategy": "random", "candidates": 6, "seed": 3},
                 "space": {"loss": ["tversky", "focal_tversky", "jaccard", "mcxent"], "surgery": [false, true],
                           "exponent": {"min": 0.5, "max": 2}, "surgerySpace": ["logits", "probabilities"],
                           "includeBackground": [true, false], "reduction": ["sample", "BATCH"],
                           "ceWeight": [0, 0.5], "regionWeight": [1, 2],
                           "tverskyAlpha": [0.3, 0.5], "tverskyBeta": [0.7, 0.5], "levels": [2, 3],
                           "baseFilters": [4, 8], "normalization": ["batch", "none"], "dropout": [0, 0.1],
                           "learningRate": {"min": 1e-4, "max": 1e-2, "log": true}}}
                """, "all.json");
        List<SweepCandidate> candidates = SweepRunner.candidates(s);
        assertEquals(6, candidates.size());
        candidates.forEach(SweepTrainCommandTest::assertRetrains);
    }

    /** nnU-Net's batch Dice: a sweep can vary the reduction, and train's --reduction trains the same loss again. */
    @Test
    void batchReductionRetrainsWithTheReductionFlag() {
        SweepSpec s = SweepSpec.parse("""
                {"search": {"strategy": "grid", "candidates": 8},
                 "space": {"reduction": ["sample", "batch"], "includeBackground": false, "surgery": [false, true],
                           "ceWeight": [0, 1]}}
                """, "batch.json");
        List<SweepCandidate> candidates = SweepRunner.candidates(s);
        assertEquals(8, candidates.size());
        long batch = candidates.stream().filter(c -> LossSpec.describing(c.loss()).orElseThrow().reduction()
                == org.gradsurgery.loss.Reduction.BATCH).count();
        assertEquals(4, batch);
        candidates.forEach(SweepTrainCommandTest::assertRetrains);
        List<String> args = SweepReport.trainLossFlags(LossSpec.parse("dice:no-background:batch+surgery+ce:1"));
        assertEquals("--loss dice --include-background false --reduction batch --surgery --exponent 1.0 "
                + "--ce-weight 1.0 --region-weight 1.0", String.join(" ", args));
    }

    /** Every study arm's loss, the balanced weighting and the probability space included, has train flags. */
    @Test
    void studyArmsRetrainWithTrainFlags() {
        for (String arm : List.of("dice+surgery:balanced", "dice:no-background:batch+surgery:probabilities",
                "tversky:alpha=0.3:beta=0.7+surgery:0.5:probabilities:balanced+ce:1.0", "generalized-dice+surgery")) {
            LossSpec spec = LossSpec.parse(arm);
            List<String> args = new java.util.ArrayList<>(List.of("train"));
            args.addAll(SweepReport.trainLossFlags(spec));
            assertEquals(spec, parseTrain(args).loss.spec(), String.join(" ", args));
        }
        assertEquals("--loss dice --surgery --exponent 1.0 --surgery-weighting balanced",
                String.join(" ", SweepReport.trainLossFlags(LossSpec.parse("dice+surgery:balanced"))));
    }

    @Test
    void lossFlagErrorsNameTheFlag() {
        assertEquals("gradsurgery: error: --tversky-alpha -1 is out of range: it must be a finite number >= 0",
                CliRun.of("train", "--loss", "tversky", "--tversky-alpha", "-1").err().strip());
        assertTrue(CliRun.of("train", "--surgery", "--surgery-space", "grads").err().startsWith("gradsurgery: error: "
                + "Invalid value for option '--surgery-space': expected one of [LOGITS, PROBABILITIES]"));
        assertTrue(CliRun.of("train", "--include-background", "maybe").err().contains("--include-background"));
        String help = CliRun.of("train", "--help").out().replaceAll("\\s+", " ");
        assertTrue(help.contains("Loss: dice, jaccard, tversky, focal-tversky, generalized-dice, mcxent"), help);
    }
}
