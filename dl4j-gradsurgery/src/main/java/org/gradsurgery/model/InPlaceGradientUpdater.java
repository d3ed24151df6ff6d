package org.gradsurgery.model;

import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.updater.graph.ComputationGraphUpdater;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * DL4J's {@link ComputationGraphUpdater} on the path DL4J meant for {@code fit}: the gradient that the graph's
 * backward pass wrote into its flattened gradient array, updated block by block through the views built once.
 *
 * <p>Why: {@code BaseMultiLayerUpdater.update} takes its fast path only when {@code gradient.gradient()} <em>is</em>
 * (by reference) the updater's flattened gradient view; otherwise it treats the gradient as "external" (computed by
 * another network) and, on every step, builds fresh views of it for the minibatch division, for each updater block
 * and, even with no regularisation configured, four per parameter for the regularisation hooks. In DL4J
 * 1.0.0-M2.1 {@code DefaultGradient.gradient()} returns {@code flattenedGradient.reshape(length)}, a new array on
 * every call, so every {@code ComputationGraph.fit} takes the external path: about 1,900 new arrays per step for the
 * 2D benchmark U-Net (each with its own shape buffer, a JavaCPP deallocator and a weak reference the GC must
 * process), more than half of all ND4J allocations of the step.
 *
 * <p>What: {@link #update} hands the parent a gradient whose {@code gradient()} is the updater's own view, when the
 * gradient's flattened array is that view's memory (same address and length) and the graph still holds the
 * gradient and parameter arrays this updater's blocks were built on. The parent then runs the same operations on
 * the same memory in the same order as on the external path (minibatch division of the same intervals, then per
 * block Adam's {@code m ← β₁m + (1−β₁)g}, {@code v ← β₂v + (1−β₂)g²},
 * {@code g ← α·√(1−β₂ᵗ)/(1−β₁ᵗ) · m/(√v + ε)}, or whichever {@code IUpdater} the layers configure), so the parameters
 * and the updater state are bit for bit those of DL4J's updater; a gradient from elsewhere still takes the
 * external path. The state array is DL4J's ({@link #getStateViewArray()}), so checkpoints (ModelSerializer) are
 * unchanged.
 *
 * <p>{@link #install(ComputationGraph)} puts one on a graph, keeping its updater state; {@link UNet#graph()} and the
 * {@code Trainer} do. A graph restored from a checkpoint or cloned gets DL4J's updater back until it is installed
 * again.
 */
public final class InPlaceGradientUpdater extends ComputationGraphUpdater {

    private final ComputationGraph graph;
    private final INDArray gradientView;
    private final long gradientAddress;
    private final long paramsAddress;

    private InPlaceGradientUpdater(ComputationGraph graph, INDArray updaterState) {
        super(graph, updaterState);
        this.graph = graph;
        this.gradientView = getFlattenedGradientsView();
        this.gradientAddress = address(gradientView);
        this.paramsAddress = address(graph.params());
    }

    /**
     * Gives {@code graph} this updater, with the updater state it has (DL4J creates and zero-fills a fresh one for
     * a graph that has none yet). Does nothing when the graph already has one built on its current arrays.
     *
     * @return {@code graph}
     */
    public static ComputationGraph install(ComputationGraph graph) {
        if (graph.getVertices() == null) {
            throw new IllegalStateException("the graph is not initialised: call init() before installing the updater");
        }
        ComputationGraphUpdater current = graph.getUpdater();
        if (current instanceof InPlaceGradientUpdater u && u.graph == graph && u.builtOnCurrentArrays()) {
            return graph;
        }
        graph.setUpdater(new InPlaceGradientUpdater(graph, current.getStateViewArray()));
        return graph;
    }

    @Override
    public synchronized void update(Gradient gradient, int iteration, int epoch, int batchSize,
                                    LayerWorkspaceMgr workspaceMgr) {
        INDArray flat = gradient.gradient();
        Gradient g = flat != gradientView && builtOnCurrentArrays() && flat.length() == gradientView.length()
                && contiguous(flat) && address(flat) == gradientAddress ? new ViewGradient(gradient, gradientView)
                : gradient;
        super.update(g, iteration, epoch, batchSize, workspaceMgr);
    }

    /** Whether the graph still holds the gradient and parameter arrays the blocks' views were built on. */
    private boolean builtOnCurrentArrays() {
        return getFlattenedGradientsView() == gradientView && address(graph.params()) == paramsAddress;
    }

    private static boolean contiguous(INDArray a) {
        return a.elementWiseStride() == 1 && !a.isEmpty();
    }

    private static long address(INDArray a) {
        return a == null || a.isEmpty() ? 0 : a.data().address() + a.offset() * a.data().getElementSize();
    }

    /** The same gradient, with {@link #gradient()} the updater's own flattened view (the same memory). */
    private record ViewGradient(Gradient delegate, INDArray flat) implements Gradient {
        @Override
        public Map<String, INDArray> gradientForVariable() {
            return delegate.gradientForVariable();
        }

        @Override
        public INDArray gradient(List<String> order) {
            return delegate.gradient(order);
        }

        @Override
        public INDArray gradient() {
            return flat;
        }

        @Override
        public void clear() {
            delegate.clear();
        }

        @Override
        public INDArray getGradientFor(String variable) {
            return delegate.getGradientFor(variable);
        }

        @Override
        public INDArray setGradientFor(String variable, INDArray gradient) {
            return delegate.setGradientFor(variable, gradient);
        }

        @Override
        public INDArray setGradientFor(String variable, INDArray gradient, Character flatteningOrder) {
            return delegate.setGradientFor(variable, gradient, flatteningOrder);
        }

        @Override
        public Character flatteningOrderForVariable(String variable) {
            return delegate.flatteningOrderForVariable(variable);
        }
    }
}
