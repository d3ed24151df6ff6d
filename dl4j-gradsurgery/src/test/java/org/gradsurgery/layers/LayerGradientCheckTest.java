package org.gradsurgery.layers;

import static org.gradsurgery.layers.SegmentationGraphs.IN_CHANNELS;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;
import java.util.stream.Stream;

import org.deeplearning4j.gradientcheck.GradientCheckUtil;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.layers.SegmentationGraphs.Layout;
import org.gradsurgery.layers.SegmentationGraphs.Norm;
import org.gradsurgery.loss.LossDice;
import org.gradsurgery.loss.LossFocalTversky;
import org.gradsurgery.loss.LossGeneralizedDice;
import org.gradsurgery.loss.LossJaccard;
import org.gradsurgery.loss.LossTversky;
import org.gradsurgery.loss.LossWeightedSum;
import org.gradsurgery.loss.Reduction;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossBinaryXENT;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;
import org.nd4j.linalg.lossfunctions.impl.LossMSE;

/**
 * {@link GradientCheckUtil} on tiny 2D (NCHW, NHWC) and 3D (NCDHW) graphs conv → norm → tanh → channel concat →
 * 1×1 conv → loss layer: central differences of the network score against backprop for every parameter, in double
 * precision, NoOp updater, ε = 1e-6, max relative error 1e-5. This checks the loss layers' gradients and scale, the
 * normalisation layers' analytic backprop and the concat vertex's gradient split together.
 *
 * <p>Adding a loss to the checks is one line in {@link #ourLosses()}.
 */
@ExtendWith(DoublePrecisionTinyArrays.class)
class LayerGradientCheckTest {


    /** Label mask kinds: none, {@code [N,1,sp…]}, {@code [N,C,sp…]}, per example {@code [N,1]}. */
    enum Mask {
        NONE, BROADCAST, PER_CLASS, PER_EXAMPLE
    }

    /** A loss with the output activation it is checked with and the label masks it supports. */
    static final class LossCase {
        final String name;
        final Supplier<ILossFunction> loss;
        final Activation activation;
        final List<Mask> masks;

        LossCase(String name, Supplier<ILossFunction> loss, Activation activation, Mask... masks) {
            this.name = name;
            this.loss = loss;
            this.activation = activation;
            this.masks = Collections.unmodifiableList(Arrays.asList(masks));
        }

        @Override
        public String toString() {
            return name + "/" + activation;
        }
    }

    static final long CLASSES = 3;

    /**
     * Losses checked behind {@link SegmentationLossLayer} in every layout. MCXENT + softmax rejects per-class masks
     * (DL4J: "Per output masking for MCXENT + softmax: not supported").
     */
    static List<LossCase> ourLosses() {
        List<LossCase> cases = new ArrayList<>();
        cases.add(new LossCase("MCXENT", () -> new LossMCXENT(0.0, null), Activation.SOFTMAX,
                Mask.NONE, Mask.BROADCAST, Mask.PER_EXAMPLE));
        cases.add(new LossCase("BinaryXENT", () -> new LossBinaryXENT(0.0), Activation.SIGMOID,
                Mask.NONE, Mask.PER_CLASS));
        cases.add(new LossCase("MSE", LossMSE::new, Activation.SIGMOID, Mask.NONE, Mask.BROADCAST));
        cases.add(new LossCase("GroupErrorLoss", GroupErrorLoss::new, Activation.SOFTMAX,
                Mask.NONE, Mask.BROADCAST, Mask.PER_CLASS));
        // Region losses: the loss math is checked by the loss tests; here one masked configuration per activation
        // checks the layer's plumbing (whole tensors, mask layout) in every layout.
        addRegionLoss(cases, "Dice", LossDice::new);
        addRegionLoss(cases, "Jaccard", LossJaccard::new);
        addRegionLoss(cases, "Tversky", LossTversky::new);
        addRegionLoss(cases, "FocalTversky", LossFocalTversky::new);
        addRegionLoss(cases, "GeneralizedDice", LossGeneralizedDice::new);
        cases.add(new LossCase("Dice(BATCH)+0.5*MCXENT", () -> LossWeightedSum.builder()
                .add(1.0, LossDice.builder().reduction(Reduction.BATCH).build())
                .add(0.5, new LossMCXENT(0.0, null)).build(), Activation.SOFTMAX, Mask.NONE, Mask.BROADCAST));
        return cases;
    }

    private static void addRegionLoss(List<LossCase> cases, String name, Supplier<ILossFunction> loss) {
        cases.add(new LossCase(name, loss, Activation.SOFTMAX, Mask.BROADCAST));
        cases.add(new LossCase(name, loss, Activation.SIGMOID, Mask.PER_CLASS));
    }

    /**
     * Stock DL4J losses and every project region loss behind DL4J's own CnnLossLayer (NCHW) and Cnn3DLossLayer
     * (NCDHW). Stock NHWC is left out: CnnLossLayer scores NHWC through an NCHW reshape, so its score is wrong.
     */
    static List<LossCase> stockLosses() {
        List<LossCase> cases = new ArrayList<>();
        cases.add(new LossCase("MCXENT", () -> new LossMCXENT(0.0, null), Activation.SOFTMAX,
                Mask.NONE, Mask.BROADCAST));
        cases.add(new LossCase("BinaryXENT", () -> new LossBinaryXENT(0.0), Activation.SIGMOID,
                Mask.NONE, Mask.PER_CLASS));
        cases.add(new LossCase("MSE", LossMSE::new, Activation.SIGMOID, Mask.NONE));
        // The project's region losses behind the stock layers: they see [N·spatial, C] rows (BATCH groups) and
        // must still give the exact gradient of the score those layers report (README, "use it in your own graph").
        addStockRegionLoss(cases, "Dice", LossDice::new);
        addStockRegionLoss(cases, "Jaccard", LossJaccard::new);
        addStockRegionLoss(cases, "Tversky", LossTversky::new);
        addStockRegionLoss(cases, "FocalTversky", LossFocalTversky::new);
        addStockRegionLoss(cases, "GeneralizedDice", LossGeneralizedDice::new);
        return cases;
    }

    private static void addStockRegionLoss(List<LossCase> cases, String name, Supplier<ILossFunction> loss) {
        cases.add(new LossCase(name, loss, Activation.SOFTMAX, Mask.NONE));
        cases.add(new LossCase(name, loss, Activation.SIGMOID, Mask.PER_CLASS));
    }

    static Stream<Arguments> ourLossLayerCases() {
        List<Arguments> args = new ArrayList<>();
        for (Layout layout : Layout.values()) {
            for (LossCase c : ourLosses()) {
                for (Mask m : c.masks) {
                    args.add(Arguments.of(layout, c, m));
                }
            }
        }
        return args.stream();
    }

    static Stream<Arguments> stockLossLayerCases() {
        List<Arguments> args = new ArrayList<>();
        for (Layout layout : new Layout[] {Layout.NCHW, Layout.NCDHW}) {
            for (LossCase c : stockLosses()) {
                for (Mask m : c.masks) {
                    args.add(Arguments.of(layout, c, m));
                }
            }
        }
        return args.stream();
    }

    static Stream<Arguments> normCases() {
        List<Arguments> args = new ArrayList<>();
        for (Layout layout : Layout.values()) {
            for (Norm norm : new Norm[] {Norm.BATCH, Norm.INSTANCE_NO_AFFINE, Norm.INSTANCE_WITH_ACTIVATION,
                    Norm.BATCH_WITH_ACTIVATION}) {
                args.add(Arguments.of(layout, norm));
            }
        }
        return args.stream();
    }

    /**
     * The loss-layer matrix checks the parameters after the concat (the 1×1 conv that produces the logits, and the
     * norm): each of those gradients contracts the layer's dL/dz with a different input, so a wrong or mis-laid
     * gradient shows. The first convolution, whose gradient reaches it through norm and concat, is checked in
     * {@link #normalisationLayers} and {@link #stockLossLayers}; skipping it here halves the cost of ~100 checks.
     */
    @ParameterizedTest(name = "{0} {1} mask={2}")
    @MethodSource("ourLossLayerCases")
    void segmentationLossLayer(Layout layout, LossCase c, Mask mask) {
        ComputationGraph net = SegmentationGraphs.graph(layout, Norm.INSTANCE,
                SegmentationGraphs.ourLossLayer(layout, c.loss, c.activation), CLASSES);
        check(net, layout, c, mask, new HashSet<>(Arrays.asList("conv1_W", "conv1_b")));
    }

    @ParameterizedTest(name = "stock {0} {1} mask={2}")
    @MethodSource("stockLossLayerCases")
    void stockLossLayers(Layout layout, LossCase c, Mask mask) {
        ComputationGraph net = SegmentationGraphs.graph(layout, Norm.INSTANCE,
                layout.stockLossLayer(c.loss.get(), c.activation), CLASSES);
        check(net, layout, c, mask, Collections.emptySet());
    }

    /**
     * Batch norm (training-mode statistics; its running estimates are not gradients and are excluded, as in DL4J's
     * own batch-norm checks), instance norm without affine parameters, and both with a fused activation.
     */
    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("normCases")
    void normalisationLayers(Layout layout, Norm norm) {
        LossCase c = ourLosses().get(0);
        ComputationGraph net = SegmentationGraphs.graph(layout, norm,
                SegmentationGraphs.ourLossLayer(layout, c.loss, c.activation), CLASSES);
        Set<String> exclude = norm == Norm.BATCH || norm == Norm.BATCH_WITH_ACTIVATION
                ? new HashSet<>(Arrays.asList("norm_" + SpatialNormalizationParamInitializer.GLOBAL_MEAN,
                "norm_" + SpatialNormalizationParamInitializer.GLOBAL_VAR))
                : Collections.emptySet();
        check(net, layout, c, Mask.NONE, exclude);
    }

    static INDArray labels(Layout layout, LossCase c, long seed) {
        return c.activation == Activation.SOFTMAX ? SegmentationGraphs.oneHot(layout, CLASSES, seed)
                : SegmentationGraphs.binary(layout.shape(CLASSES), 0.4, seed);
    }

    static INDArray mask(Layout layout, Mask kind, long seed) {
        switch (kind) {
            case BROADCAST:
                return SegmentationGraphs.binary(layout.shape(1), 0.7, seed);
            case PER_CLASS:
                return SegmentationGraphs.binary(layout.shape(CLASSES), 0.7, seed);
            case PER_EXAMPLE:
                return Nd4j.createFromArray(new double[][] {{1}, {0}});
            default:
                return null;
        }
    }

    /** The harness is not vacuous: a gradient off by 0.1 % fails. */
    @Test
    void harnessRejectsAWrongGradient() {
        LossCase skewed = new LossCase("MCXENT with gradient x1.001", () -> new LossMCXENT(0.0, null) {
            @Override
            public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation activationFn,
                                            INDArray mask) {
                return super.computeGradient(labels, preOutput, activationFn, mask).muli(1.001);
            }
        }, Activation.SOFTMAX, Mask.NONE);
        ComputationGraph net = SegmentationGraphs.graph(Layout.NCHW, Norm.INSTANCE,
                SegmentationGraphs.ourLossLayer(Layout.NCHW, skewed.loss, skewed.activation), CLASSES);
        assertFalse(passes(net, Layout.NCHW, skewed, Mask.NONE, Collections.emptySet(), true));
    }

    private static void check(ComputationGraph net, Layout layout, LossCase c, Mask maskKind, Set<String> exclude) {
        assertTrue(passes(net, layout, c, maskKind, exclude, false),
                "gradient check failed: " + layout + " " + c + " mask=" + maskKind + " (see log for parameters)");
    }

    private static boolean passes(ComputationGraph net, Layout layout, LossCase c, Mask maskKind,
                                  Set<String> exclude, boolean exitOnFirstError) {
        INDArray x = SegmentationGraphs.uniform(layout.shape(IN_CHANNELS), -1, 1, 7);
        INDArray y = labels(layout, c, 11);
        INDArray m = mask(layout, maskKind, 13);
        GradientCheckUtil.GraphConfig config = new GradientCheckUtil.GraphConfig()
                .net(net)
                .inputs(new INDArray[] {x})
                .labels(new INDArray[] {y})
                .labelMask(m == null ? null : new INDArray[] {m})
                .epsilon(1e-6)
                .maxRelError(1e-5)
                // A parameter whose true gradient is 0 (the bias of a convolution followed by a normalisation)
                // gets central-difference noise of a few ulps of the score over 2ε: about 1e-8 for the summed
                // BinaryXENT score (~35) of the stock layers. Anything larger is a real error.
                .minAbsoluteError(5e-8)
                .print(GradientCheckUtil.PrintMode.FAILURES_ONLY)
                .exitOnFirstError(exitOnFirstError)
                .excludeParams(exclude);
        return GradientCheckUtil.checkGradients(config);
    }
}
