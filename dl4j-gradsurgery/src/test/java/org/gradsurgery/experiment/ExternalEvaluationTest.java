package org.gradsurgery.experiment;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.evaluation.CaseEvaluation;
import org.gradsurgery.model.UNet;
import org.junit.jupiter.api.Test;

/**
 * A 2D model of a run scores an external set of volumes case by case: every case once, on its own 12 × 9 × 10 grid
 * (10 slices, not the 12 a padded slice axis would give), with the run's preprocessing and without a split.
 */
class ExternalEvaluationTest {
    @Test
    void aTwoDimensionalRunScoresEveryCaseOfAnotherSourceOnItsOwnGrid() throws IOException {
        GeneratedSource train = new GeneratedSource(new DataPlan.Generated(3, new int[]{12, 9, 10}, 2, 1));
        DataPlan plan = DataPlan.builder(train.spec()).numClasses(2).dims(2).build();
        ExperimentData run = ExperimentData.prepare(plan, train, 5, 3, null);
        UNetSpec model = run.complete(UNetSpec.builder().levels(3).baseFilters(2).build());
        ExperimentSpec saved = new ExperimentSpec(model, org.gradsurgery.loss.LossSpec.parse("dice"),
                org.gradsurgery.training.TrainingConfig.builder().build(), run.plan(), 5);
        ComputationGraph net = UNet.builder().from(model).build().graph();
        GeneratedSource external = new GeneratedSource(new DataPlan.Generated(2, new int[]{12, 9, 10}, 2, 7));
        CaseEvaluation r = ExperimentData.onSource(saved, external).evaluateCases(net, 15, null,
                external.caseIds(), null);
        assertEquals(2, r.caseCount());
        assertEquals(2, r.result().examples());
        for (CaseEvaluation.CaseInfo c : r.cases()) {
            assertArrayEquals(new int[]{12, 9, 10}, c.shape(), c.id());
        }
        assertEquals(2L * 12 * 9 * 10, r.result().calibration().voxelCount());
        assertEquals(external.caseIds(), r.cases().stream().map(CaseEvaluation.CaseInfo::id).toList());
    }
}
