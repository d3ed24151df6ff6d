package org.gradsurgery.experiment;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.InvalidSettingException;
import org.gradsurgery.data.nifti.Nifti;
import org.gradsurgery.data.nifti.NiftiDataType;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.model.UNet;
import org.gradsurgery.training.RunDirectory;
import org.gradsurgery.training.TrainingConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/** A run saved by the one training path is rebuilt exactly from its config.json; sources resolve the same way. */
class ExperimentRunnerTest {
    private static final PrintStream QUIET = new PrintStream(OutputStream.nullOutputStream());

    @TempDir
    Path tmp;

    static ExperimentSpec tiny(DataPlan plan, Path run) {
        return new ExperimentSpec(UNetSpec.builder().levels(2).baseFilters(2).build(), LossSpec.parse("dice+surgery"),
                TrainingConfig.builder().epochs(1).maxIterations(2).batchSize(2).runDirectory(run)
                        .progress(TrainingConfig.ProgressMode.OFF).build(), plan, 3);
    }

    @Test
    void aSavedRunRebuildsTheSameNetwork() throws IOException {
        Path run = tmp.resolve("run");
        DataPlan plan = DataPlan.builder(new DataPlan.Generated(5, new int[] {12, 16}, 3, 9))
                .augmentation(DataPlan.Augmentation.FLIPS).build();
        ExperimentRunner.Outcome o = ExperimentRunner.run(tiny(plan, run), DataSources.open(plan.source()), QUIET,
                Map.of("command", List.of("test")));
        ExperimentSpec saved = ExperimentSpec.read(run);
        assertEquals(o.spec(), saved);
        UNetSpec s = saved.model();
        assertEquals(2, s.spatialDims());
        assertEquals(3, s.numClasses());
        assertEquals(1, s.inputChannels());
        assertEquals(3, s.seed());
        assertEquals(4, saved.data().split().training().size());
        assertEquals(1, saved.data().split().validation().size());
        ComputationGraph trained = RunDirectory.loadModel(run.resolve(RunDirectory.MODEL), false);
        ComputationGraph rebuilt = UNet.builder().from(s).loss(saved.loss().create()).build().graph();
        assertEquals(trained.numParams(), rebuilt.numParams());
        // same architecture: the trained parameters fit the rebuilt graph and give the same output
        rebuilt.setParams(trained.params());
        INDArray x = Nd4j.rand(DataType.FLOAT, 1, 1, 12, 16);
        assertEquals(trained.outputSingle(x), rebuilt.outputSingle(x));
        // a fresh network from the spec is the initial one of the run: same seed, same parameters
        ComputationGraph initial = UNet.builder().from(s).loss(saved.loss().create()).build().graph();
        assertEquals(initial.params(), UNet.builder().from(o.spec().model()).loss(o.spec().loss().create()).build()
                .graph().params());

        ExperimentRunner.Saved again = ExperimentRunner.open(run, QUIET);
        assertEquals(trained.params(), again.loadModel(run.resolve(RunDirectory.MODEL)).params());
        ComputationGraph other = UNet.builder().from(s.toBuilder().baseFilters(3).build()).build().graph();
        assertThrows(org.gradsurgery.InvalidInputException.class, () -> ExperimentRunner.checked(saved, other,
                run.resolve("other.zip")));
        assertEquals(o.evaluation().meanDice(), again.data().evaluate(trained, ExperimentRunner.BINS, null)
                .meanDice(), 1e-6);

        ExperimentRunner.Outcome resumed = ExperimentRunner.resume(run, QUIET,
                c -> c.toBuilder().epochs(2).maxIterations(4).build());
        assertEquals(4, resumed.training().iterations());
    }

    @Test
    void foldersPairByNamePatternAndThe3dPlanResolves() throws IOException {
        Path images = Files.createDirectories(tmp.resolve("images"));
        Path labels = Files.createDirectories(tmp.resolve("labels"));
        GeneratedSource g = new GeneratedSource(new DataPlan.Generated(3, new int[] {8, 8, 8}, 2, 1));
        for (String id : g.caseIds()) {
            INDArray img = g.load(id).image().reshape(8, 8, 8);
            Nifti.write(images.resolve(id + "_t1.nii.gz"), img, null);
            Nifti.write(labels.resolve(id + "_labels.nii.gz"), g.load(id).label().castTo(DataType.FLOAT), null,
                    NiftiDataType.UINT8);
        }
        Files.writeString(images.resolve("notes.txt"), "not an image");
        DataPlan.Folders spec = new DataPlan.Folders(images.toString(), labels.toString(), "{id}_t1.nii.gz",
                "{id}_labels.nii.gz");
        DataSource src = DataSources.open(spec);
        assertEquals(g.caseIds(), src.caseIds());
        DataPlan plan = DataPlan.builder(spec).numClasses(2).patchSize(8).build();
        ExperimentData d = ExperimentData.prepare(plan, src, 5, 2, null);
        assertEquals(3, d.dims());
        assertEquals(1, d.plan().split().validation().size());
        assertEquals(4, d.plan().patchesPerCase());
        assertEquals(src.spec(), d.plan().source());
        InvalidSettingException e = assertThrows(InvalidSettingException.class, () -> ExperimentData.prepare(
                DataPlan.builder(spec).numClasses(2).patchSize(5).build(), src, 5, 2, null));
        assertEquals("patchSize", e.setting());
        e = assertThrows(InvalidSettingException.class, () -> ExperimentData.prepare(DataPlan.of(spec), src, 5, 2,
                null));
        assertEquals("numClasses", e.setting());
        e = assertThrows(InvalidSettingException.class, () -> DataSources.open(new DataPlan.Folders(
                images.toString(), labels.toString(), "{id}_t2.nii.gz", "{id}_labels.nii.gz")));
        assertEquals("source", e.setting());
    }
}
