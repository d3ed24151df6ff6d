package org.gradsurgery.evaluation;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.data.Case;
import org.gradsurgery.data.Orientation;
import org.gradsurgery.data.Sample;
import org.gradsurgery.metrics.CaseMetrics;
import org.gradsurgery.model.Inference;
import org.gradsurgery.model.UNet;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.ObjectMapper;

/**
 * The same scan stored RAS, LPS and LSA (nibabel's as_reoriented, {@code resources/orientation}) is loaded into the
 * same RAS arrays, scored identically, and a prediction maps back onto each file's own voxel order.
 */
class OrientationInvarianceTest {
    private static final List<String> CODES = List.of("RAS", "LPS", "LSA");

    private static Path resource(String name) throws URISyntaxException {
        return Path.of(OrientationInvarianceTest.class.getResource("/orientation/" + name).toURI());
    }

    private static Case scan(String codes) throws URISyntaxException {
        return Case.of(codes, resource("scan_" + codes + ".nii.gz"), resource("scan_" + codes + "_label.nii.gz"));
    }

    @Test
    void threeStoredOrientationsGiveTheSameCanonicalCaseMetricsAndStoredPredictions() throws Exception {
        JsonNode expected;
        try (InputStream in = getClass().getResourceAsStream("/orientation/expected.json")) {
            expected = new ObjectMapper().readTree(in);
        }
        Sample ras = scan("RAS").load();
        List<Sample> loaded = new ArrayList<>();
        for (String codes : CODES) {
            Case c = scan(codes);
            Orientation o = c.orientation();
            assertEquals(expected.path(codes).path("codes").asText(), o.codes(), "nibabel's aff2axcodes");
            assertEquals(codes.equals("RAS"), o.isCanonical());
            Sample s = c.load();
            assertArrayEquals(ras.shape(), s.shape(), codes);
            assertArrayEquals(ras.imageData(), s.imageData(), codes);
            assertArrayEquals(ras.labelData(), s.labelData(), codes);
            assertArrayEquals(ras.spacing(), s.spacing(), 1e-6, codes);
            for (int r = 0; r < 4; r++) {
                assertArrayEquals(ras.affine()[r], s.affine()[r], 1e-5, codes + " affine row " + r);
            }
            // a prediction on the canonical grid goes back to the file's own voxel order
            Sample stored = c.loadStored();
            assertArrayEquals(stored.labelData(), o.toStored(s.labelData()), codes);
            assertArrayEquals(stored.imageData(), o.toStored(s.imageData(), 1), codes);
            if (!codes.equals("RAS")) {
                assertFalse(java.util.Arrays.equals(stored.labelData(), s.labelData()), "the fixture is reordered");
            }
            loaded.add(s);
        }
        // identical metrics, anisotropic spacing included (prediction: image above 100, the ellipsoid plus a slab at high i)
        ComputationGraph net = UNet.builder().numClasses(2).levels(2).baseFilters(2).build().graph();
        Inference threshold = (n, x) -> {
            INDArray z1 = x.castTo(DataType.FLOAT).sub(100).divi(10);
            return Nd4j.concat(1, Nd4j.zerosLike(z1), z1);
        };
        List<Case> cases = new ArrayList<>();
        for (String codes : CODES) {
            cases.add(scan(codes));
        }
        CaseEvaluation r = CaseEvaluator.builder().numClasses(2).whole(1).inference(threshold)
                .temperatureScaling(false).build().evaluate(net, cases, null, null);
        CaseMetrics first = r.metricsOf(0).get(0);
        assertTrue(first.dice() > 0.2 && first.dice() < 0.9 && first.hd95() > 2, first.toString());
        for (int i = 1; i < CODES.size(); i++) {
            CaseMetrics m = r.metricsOf(i).get(0);
            assertEquals(first.dice(), m.dice(), 0, CODES.get(i));
            assertEquals(first.hd95(), m.hd95(), 0, CODES.get(i));
            assertEquals(first.assd(), m.assd(), 0, CODES.get(i));
            assertArrayEquals(r.cases().get(0).spacing(), r.cases().get(i).spacing(), 1e-6);
        }
        assertEquals(3, loaded.size());
    }
}
