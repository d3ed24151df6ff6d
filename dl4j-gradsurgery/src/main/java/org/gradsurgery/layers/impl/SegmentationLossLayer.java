package org.gradsurgery.layers.impl;

import java.util.Arrays;
import java.util.List;

import org.deeplearning4j.nn.api.MaskState;
import org.deeplearning4j.nn.api.layers.IOutputLayer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.BaseLayer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.gradsurgery.loss.SpatialLossFunction;
import org.nd4j.common.primitives.Pair;
import org.nd4j.evaluation.classification.Evaluation;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * Runtime implementation of {@link org.gradsurgery.layers.SegmentationLossLayer}; see there for the contract.
 *
 * <p>Every loss call goes through {@link #operands()}, which validates the shapes once and produces either
 * channels-first tensors (for a {@link SpatialLossFunction}) or {@code [N·spatial, C]} rows grouped by example (for
 * any other loss), so score, per-example score and gradient always see the same arrays.
 */
public class SegmentationLossLayer extends BaseLayer<org.gradsurgery.layers.SegmentationLossLayer>
        implements IOutputLayer {

    private INDArray labels;

    /**
     * The score sum that the last {@link #backpropGradient} computed with its gradient
     * ({@code ILossFunction.computeGradientAndScore}), and the input, labels and mask it belongs to: DL4J's
     * {@code fit} calls {@link #computeScore} right after the backward pass on the same arrays, and a region loss
     * evaluates activation and sums once for both (for Dice at 2 × 2 × 44 × 60 × 48 that saved 10 ms of the 30 a
     * step spent in the loss). Used once, and only for the very same input, labels and mask objects (DL4J sets the
     * mask again before scoring, often the same null or array; every forward pass makes a new input array); a new
     * input and {@link #clear()} drop it.
     */
    private Double pendingScoreSum;
    private INDArray pendingInput;
    private INDArray pendingLabels;
    private INDArray pendingMask;

    public SegmentationLossLayer(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    /** Labels, pre-output and mask ready for one loss call, in the form the configured loss expects. */
    private static final class Operands {
        final SpatialLayout layout;
        final boolean spatial;
        final INDArray labels;
        final INDArray preOutput;
        final INDArray mask;
        final long examples;

        Operands(SpatialLayout layout, boolean spatial, INDArray labels, INDArray preOutput, INDArray mask,
                 long examples) {
            this.layout = layout;
            this.spatial = spatial;
            this.labels = labels;
            this.preOutput = preOutput;
            this.mask = mask;
            this.examples = examples;
        }
    }

    private Operands operands() {
        assertInputSet(true);
        if (labels == null) {
            throw new IllegalStateException(layerId() + ": labels are not set");
        }
        INDArray z = input.castTo(dataType);
        SpatialLayout layout = layout(z);
        if (!Arrays.equals(z.shape(), labels.shape())) {
            throw new IllegalArgumentException(layerId() + ": labels shape " + Arrays.toString(labels.shape())
                    + " differs from the input (pre-output) shape " + Arrays.toString(z.shape()) + "; both must be "
                    + layout.dimensionNames());
        }
        INDArray y = labels.castTo(dataType);
        INDArray maskChannelsFirst = channelsFirstMask(layout, z);
        if (layerConf().getLossFn() instanceof SpatialLossFunction) {
            // dup: DL4J activations overwrite their input, and the loss must never touch the layer's input.
            return new Operands(layout, true, layout.toChannelsFirst(y), layout.toChannelsFirst(z).dup('c'),
                    maskChannelsFirst, z.size(0));
        }
        INDArray maskRows = maskChannelsFirst == null ? null
                : SpatialLayout.of(layout.rank(), false).toRows(maskChannelsFirst);
        return new Operands(layout, false, layout.toRows(y), layout.toRows(z), maskRows, z.size(0));
    }

    /**
     * The label mask as channels-first {@code [N, 1|C, spatial...]}. Accepted: that shape in the input layout, or a
     * per-example {@code [N, 1]} mask, which is broadcast over space.
     */
    private INDArray channelsFirstMask(SpatialLayout layout, INDArray z) {
        if (maskArray == null) {
            return null;
        }
        INDArray m = maskArray.castTo(dataType);
        long n = z.size(0);
        long c = layout.channels(z);
        long[] zFirst = layout.toChannelsFirst(z).shape();
        if (m.rank() == 2 && m.size(0) == n && m.size(1) == 1) {
            long[] maskShape = zFirst.clone();
            maskShape[1] = 1;
            long[] perExample = new long[zFirst.length];
            Arrays.fill(perExample, 1);
            perExample[0] = n;
            return Nd4j.ones(dataType, maskShape).muli(m.reshape(perExample));
        }
        if (m.rank() == z.rank()) {
            INDArray mFirst = layout.toChannelsFirst(m);
            boolean fits = mFirst.size(0) == n && (mFirst.size(1) == 1 || mFirst.size(1) == c);
            for (int i = 2; i < zFirst.length && fits; i++) {
                fits = mFirst.size(i) == zFirst[i];
            }
            if (fits) {
                return mFirst;
            }
        }
        throw new IllegalArgumentException(layerId() + ": label mask shape " + Arrays.toString(maskArray.shape())
                + " does not fit input shape " + Arrays.toString(z.shape()) + " " + layout.dimensionNames()
                + "; expected the input shape with 1 or " + c + " channels, or a per-example mask [" + n + ", 1]");
    }

    /** The layout of {@code x}, with its channel count checked when the graph's input types gave one. */
    private SpatialLayout layout(INDArray x) {
        return SpatialLayout.of(x, layerConf().getDataFormat(), layerConf().getNIn(), layerId());
    }

    private ILossFunction loss() {
        return layerConf().getLossFn();
    }

    private IActivation activationFn() {
        return layerConf().getActivationFn();
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        Operands o = operands();
        Pair<Double, INDArray> scoreAndGradient = loss().computeGradientAndScore(o.labels, o.preOutput,
                activationFn(), o.mask, false);
        INDArray grad = scoreAndGradient.getSecond();
        pendingScoreSum = scoreAndGradient.getFirst();
        pendingInput = input;
        pendingLabels = labels;
        pendingMask = maskArray;
        INDArray inLayout = o.spatial ? o.layout.fromChannelsFirst(grad) : o.layout.fromRows(grad, input.shape());
        if (!Arrays.equals(inLayout.shape(), input.shape())) {
            throw new IllegalStateException(layerId() + ": loss " + loss() + " returned a gradient of shape "
                    + Arrays.toString(grad.shape()) + " for input shape " + Arrays.toString(input.shape()));
        }
        return new Pair<>(new DefaultGradient(),
                SpatialLayout.materialize(inLayout, workspaceMgr, ArrayType.ACTIVATION_GRAD));
    }

    @Override
    public double computeScore(double fullNetRegTerm, boolean training, LayerWorkspaceMgr workspaceMgr) {
        double sum;
        long examples;
        if (pendingScoreSum != null && pendingInput == input && pendingLabels == labels && pendingMask == maskArray) {
            sum = pendingScoreSum;
            examples = input.size(0);
        } else {
            Operands o = operands();
            sum = loss().computeScore(o.labels, o.preOutput, activationFn(), o.mask, false);
            examples = o.examples;
        }
        forgetPendingScore();
        this.score = sum / examples + fullNetRegTerm;
        return score;
    }

    private void forgetPendingScore() {
        pendingScoreSum = null;
        pendingInput = null;
        pendingLabels = null;
        pendingMask = null;
    }

    @Override
    public void setInput(INDArray input, LayerWorkspaceMgr workspaceMgr) {
        forgetPendingScore();
        super.setInput(input, workspaceMgr);
    }

    /**
     * Per-example scores {@code [N, 1]}: a spatial loss's own values; for a row-wise loss the sum of the example's
     * per-voxel scores (the rows of example n are contiguous).
     */
    @Override
    public INDArray computeScoreForExamples(double fullNetRegTerm, LayerWorkspaceMgr workspaceMgr) {
        Operands o = operands();
        INDArray arr = loss().computeScoreArray(o.labels, o.preOutput, activationFn(), o.mask);
        if (arr.ordering() != 'c' || arr.isView()) {
            arr = arr.dup('c');
        }
        long n = o.examples;
        INDArray perExample;
        if (o.spatial) {
            if (arr.length() != n) {
                throw new IllegalStateException(layerId() + ": spatial loss " + loss() + " returned computeScoreArray"
                        + " of shape " + Arrays.toString(arr.shape()) + ", expected [" + n + ", 1]");
            }
            perExample = arr.reshape(n, 1);
        } else {
            perExample = arr.reshape('c', n, arr.length() / n).sum(true, 1);
        }
        if (fullNetRegTerm != 0.0) {
            perExample.addi(fullNetRegTerm);
        }
        return workspaceMgr.leverageTo(ArrayType.ACTIVATIONS, perExample);
    }

    /** σ(z) over the channel axis, in the input layout. */
    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        INDArray z = input.castTo(dataType);
        SpatialLayout layout = layout(z);
        INDArray out = activationFn().getActivation(layout.toRows(z), training);
        return SpatialLayout.materialize(layout.fromRows(out, z.shape()), workspaceMgr, ArrayType.ACTIVATIONS);
    }

    @Override
    public double calcRegularizationScore(boolean backpropParamsOnly) {
        return 0;
    }

    @Override
    public boolean needsLabels() {
        return true;
    }

    @Override
    public void setLabels(INDArray labels) {
        this.labels = labels;
    }

    @Override
    public INDArray getLabels() {
        return labels;
    }

    @Override
    public void setMaskArray(INDArray maskArray) {
        this.maskArray = maskArray;
    }

    @Override
    public Pair<INDArray, MaskState> feedForwardMaskArray(INDArray maskArray, MaskState currentMaskState,
                                                          int minibatchSize) {
        this.maskArray = maskArray;
        return null; // last layer: nothing downstream
    }

    @Override
    public boolean isPretrainLayer() {
        return false;
    }

    @Override
    public Type type() {
        return input != null && input.rank() == 5 ? Type.CONVOLUTIONAL3D : Type.CONVOLUTIONAL;
    }

    @Override
    public void clear() {
        super.clear();
        forgetPendingScore();
        labels = null;
    }

    /** Unmasked voxel-wise F1 of σ(examples) against {@code labels} (macro-averaged over classes for C &gt; 1). */
    @Override
    public double f1Score(INDArray examples, INDArray labels) {
        INDArray out = activate(examples, false, LayerWorkspaceMgr.noWorkspaces());
        SpatialLayout layout = SpatialLayout.of(out, layerConf().getDataFormat(), layerId());
        Evaluation eval = new Evaluation();
        eval.eval(layout.toRows(labels.castTo(out.dataType())), layout.toRows(out));
        return eval.f1();
    }

    @Override
    public double f1Score(DataSet data) {
        return f1Score(data.getFeatures(), data.getLabels());
    }

    @Override
    public int numLabels() {
        if (labels == null) {
            throw new IllegalStateException(layerId() + ": labels are not set");
        }
        return (int) SpatialLayout.of(labels, layerConf().getDataFormat(), layerId()).channels(labels);
    }

    @Override
    public void fit(DataSetIterator iter) {
        throw unsupported();
    }

    @Override
    public int[] predict(INDArray examples) {
        throw unsupported();
    }

    @Override
    public List<String> predict(DataSet dataSet) {
        throw unsupported();
    }

    @Override
    public void fit(INDArray examples, INDArray labels) {
        throw unsupported();
    }

    @Override
    public void fit(DataSet data) {
        throw unsupported();
    }

    @Override
    public void fit(INDArray examples, int[] labels) {
        throw unsupported();
    }

    private UnsupportedOperationException unsupported() {
        return new UnsupportedOperationException(layerId() + ": a loss layer is trained and queried through its"
                + " network (ComputationGraph/MultiLayerNetwork fit and output; argmax over the channel axis for"
                + " labels)");
    }
}
