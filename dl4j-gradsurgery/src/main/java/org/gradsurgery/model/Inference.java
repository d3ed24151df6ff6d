package org.gradsurgery.model;

import java.util.List;
import java.util.Map;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * How an evaluation turns a batch of features into softmax logits {@code [N, C, spatial…]} (channels first).
 *
 * <p>Temperature scaling needs logits, not probabilities. {@link #graph()} takes them from the graph itself: when the
 * single output is a parameter-free softmax loss layer ({@code SegmentationLossLayer}, {@code CnnLossLayer}), the logits
 * are the activations of the vertex feeding it. {@link #fromProbabilities(Probabilities)} wraps anything that returns
 * softmax probabilities p (e.g. sliding-window inference) with z = ln max(p, 1e-30): softmax is invariant to adding a
 * constant per voxel, and ln p differs from the true logits by exactly −ln Σ exp z, so softmax(z / T) is the same
 * temperature-scaled distribution (up to the floor).
 */
@FunctionalInterface
public interface Inference {

    /** Smallest probability kept by {@link #fromProbabilities}; ln(1e-30) = −69.1. */
    double PROBABILITY_FLOOR = 1e-30;

    /** Softmax logits of {@code features}. */
    INDArray logits(ComputationGraph net, INDArray features);

    /** Softmax probabilities of a batch. */
    @FunctionalInterface
    interface Probabilities {
        INDArray probabilities(ComputationGraph net, INDArray features);
    }

    /** Logits from a softmax probability function (see class doc). */
    static Inference fromProbabilities(Probabilities p) {
        return (net, features) -> Transforms.log(Transforms.max(p.probabilities(net, features), PROBABILITY_FLOOR,
                false), false);
    }

    /** The graph's own logits (see class doc); any other output layer falls back to ln p. */
    static Inference graph() {
        return (net, features) -> {
            List<String> outputs = net.getConfiguration().getNetworkOutputs();
            if (outputs.size() != 1) {
                throw new IllegalArgumentException("evaluation needs a graph with one output, got " + outputs);
            }
            String out = outputs.get(0);
            GraphVertex v = net.getVertex(out);
            boolean softmax = v.hasLayer() && v.getLayer().conf().getLayer() instanceof BaseLayer bl
                    && bl.getActivationFn() instanceof ActivationSoftmax;
            if (!softmax) {
                throw new IllegalArgumentException("evaluation needs a softmax output layer; output '" + out
                        + "' is " + (v.hasLayer() ? v.getLayer().conf().getLayer() : v));
            }
            if (v.getLayer().numParams() == 0) {
                String in = net.getConfiguration().getVertexInputs().get(out).get(0);
                Map<String, INDArray> acts = net.feedForward(new INDArray[] {features}, false, true);
                return acts.get(in);
            }
            INDArray p = net.outputSingle(false, features);
            return Transforms.log(Transforms.max(p, PROBABILITY_FLOOR, false), false);
        };
    }
}
