package org.gradsurgery.model;

import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.api.TrainingConfig;
import org.deeplearning4j.nn.conf.GradientNormalization;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.updater.UpdaterBlock;
import org.deeplearning4j.nn.updater.graph.ComputationGraphUpdater;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.scalar.Pow;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.AdamUpdater;
import org.nd4j.linalg.learning.GradientUpdater;
import org.nd4j.linalg.learning.NoOpUpdater;
import org.nd4j.linalg.learning.config.Adam;

/**
 * DL4J's {@link ComputationGraphUpdater} on the path DL4J meant for {@code fit}: the gradient that the graph's
 * backward pass wrote into its flattened gradient array, updated block by block through the views built once.
 *
 * <p>Why: {@code BaseMultiLayerUpdater.update} takes its fast path only when {@code gradient.gradient()} <em>is</em>
 * (by reference) the updater's flattened gradient view; otherwise it treats the gradient as "external" (computed by
 * another network) and, on every step, builds fresh views of it for the minibatch division, for each updater block
 * and, even with no regularisation configured, four per parameter for the regularisation hooks. In DL4J
 * 1.0.0-M2.1 {@code DefaultGradient.gradient()} returns {@code flattenedGradient.reshape(length)}, a new array on
 * every call, so every {@code ComputationGraph.fit} takes the external path: for the 2D benchmark U-Net about 1,650
 * of the 3,120 ND4J buffers registered per step (each with a JavaCPP deallocator, a weak reference the GC must
 * process and a read of {@code /proc/self/statm}).
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
 * <p>Adam in one pass: when every block is {@link Adam} or no-op, in FLOAT, with no regularisation, gradient
 * normalisation or pretrain blocks (the U-Nets here), the update of a gradient that is the graph's own does not go
 * through one libnd4j {@code adam_updater} op per block (19 for the 2D bench U-Net, each a few ND4J arrays and a
 * kernel that ran at about 5 ns per parameter) but through one Java pass over the flat arrays, block by block, with
 * libnd4j's float arithmetic in its order: g ← g / N (minibatch division where DL4J divides),
 * m ← β₁·m + g·(1 − β₁), v ← β₂·v + g·g·(1 − β₂), g ← (m·ε_t) / (√v + ε) with
 * ε_t = (float) ((double) (α·√(float) (1 − β₂^(t+1))) / (1 − β₁^(t+1))), β^(t+1) by libnd4j's float pow
 * (as in its {@code adamUpdater_}); the no-op blocks (batch norm's running statistics) are left as they are. The
 * results are those of DL4J's updater bit for bit ({@code InPlaceGradientUpdaterTest}).
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
    /** The blocks for the one-pass Adam, or null when some block needs DL4J's own path. */
    private final List<Block> fused;
    /** Updates taken by the one-pass Adam (for tests). */
    private long fusedUpdates;

    private InPlaceGradientUpdater(ComputationGraph graph, INDArray updaterState) {
        super(graph, updaterState);
        this.graph = graph;
        this.gradientView = getFlattenedGradientsView();
        this.gradientAddress = address(gradientView);
        this.paramsAddress = address(graph.params());
        this.fused = fusable();
    }

    /**
     * One updater block of the one-pass Adam: its parameter range in the flat gradient, its m and v offsets in the
     * flat state (null config for a no-op block), and which parameter ranges DL4J divides by the minibatch size.
     */
    private record Block(Adam config, int start, int end, long mOffset, long vOffset, int[] divided) {
    }

    private List<Block> fusable() {
        INDArray state = getStateViewArray();
        if (gradientView.dataType() != DataType.FLOAT || !contiguous(gradientView) || gradientView.offset() != 0
                || (state != null && (state.dataType() != DataType.FLOAT || !contiguous(state)
                || state.offset() != 0))) {
            return null;
        }
        List<Block> blocks = new ArrayList<>();
        for (UpdaterBlock b : getUpdaterBlocks()) {
            GradientUpdater<?> u = b.getGradientUpdater();
            if (b.isPretrainUpdaterBlock() || !(u instanceof AdamUpdater || u instanceof NoOpUpdater)) {
                return null;
            }
            List<Integer> divided = new ArrayList<>();
            for (UpdaterBlock.ParamState p : b.getLayersAndVariablesInBlock()) {
                TrainingConfig c = p.getLayer().getConfig();
                if (c.getRegularizationByParam(p.getParamName()) != null
                        && !c.getRegularizationByParam(p.getParamName()).isEmpty()
                        || c.getGradientNormalization() != null
                        && c.getGradientNormalization() != GradientNormalization.None) {
                    return null;
                }
                if (isMiniBatch() && p.getLayer().updaterDivideByMinibatch(p.getParamName())) {
                    divided.add(p.getParamOffsetStart());
                    divided.add(p.getParamOffsetEnd());
                }
            }
            int[] d = divided.stream().mapToInt(Integer::intValue).toArray();
            if (u instanceof AdamUpdater a) {
                if (state == null || a.getConfig().getEpsilon() == 0 || a.getM() == null || a.getV() == null) {
                    return null;
                }
                long base = address(state);
                blocks.add(new Block(a.getConfig(), b.getParamOffsetStart(), b.getParamOffsetEnd(),
                        (address(a.getM()) - base) / Float.BYTES, (address(a.getV()) - base) / Float.BYTES, d));
            } else {
                blocks.add(new Block(null, b.getParamOffsetStart(), b.getParamOffsetEnd(), -1, -1, d));
            }
        }
        return blocks;
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
        boolean own = flat == gradientView || builtOnCurrentArrays() && flat.length() == gradientView.length()
                && contiguous(flat) && address(flat) == gradientAddress;
        if (own && fused != null) {
            adam(iteration, epoch, batchSize);
            fusedUpdates++;
            return;
        }
        super.update(own ? new ViewGradient(gradient, gradientView) : gradient, iteration, epoch, batchSize,
                workspaceMgr);
    }

    /** How many updates took the one-pass Adam. */
    long fusedUpdates() {
        return fusedUpdates;
    }

    private static final int CHUNK = 2048;

    /** The one-pass update of the graph's own gradient (see the class comment), in place. */
    private void adam(int iteration, int epoch, int batchSize) {
        FloatBuffer g = floats(gradientView);
        FloatBuffer s = floats(getStateViewArray());
        float divisor = batchSize;
        float[] gc = new float[CHUNK];
        float[] mc = new float[CHUNK];
        float[] vc = new float[CHUNK];
        for (Block b : fused) {
            for (int k = 0; k < b.divided().length; k += 2) {
                divide(g, b.divided()[k], b.divided()[k + 1], divisor, gc);
            }
            if (b.config() == null) {
                continue;
            }
            Adam c = b.config();
            float lr = (float) c.getLearningRate(iteration, epoch);
            float beta1 = (float) c.getBeta1();
            float beta2 = (float) c.getBeta2();
            float epsilon = (float) c.getEpsilon();
            float[] betaT = betaPowers(beta1, beta2, iteration + 1);
            float beta1T = betaT[0];
            float beta2T = betaT[1];
            float epsilonT = (float) ((lr * (float) Math.sqrt((float) (1.0 - beta2T))) / (1.0 - beta1T));
            if (Float.isNaN(epsilonT) || epsilonT == 0 || Float.isInfinite(epsilonT)) {
                epsilonT = epsilon;
            }
            float oneMinusBeta1 = 1 - beta1;
            float oneMinusBeta2 = 1 - beta2;
            for (int i = b.start(); i < b.end(); i += CHUNK) {
                int n = Math.min(CHUNK, b.end() - i);
                int m = (int) (b.mOffset() + i - b.start());
                int v = (int) (b.vOffset() + i - b.start());
                g.get(i, gc, 0, n);
                s.get(m, mc, 0, n);
                s.get(v, vc, 0, n);
                for (int j = 0; j < n; j++) {
                    float gj = gc[j];
                    float mj = beta1 * mc[j] + gj * oneMinusBeta1;
                    float vj = beta2 * vc[j] + gj * gj * oneMinusBeta2;
                    mc[j] = mj;
                    vc[j] = vj;
                    gc[j] = (mj * epsilonT) / ((float) Math.sqrt(vj) + epsilon);
                }
                s.put(m, mc, 0, n);
                s.put(v, vc, 0, n);
                g.put(i, gc, 0, n);
            }
        }
    }

    /**
     * β₁^t and β₂^t as libnd4j's kernel computes them: with its own float pow (glibc's {@code powf}, which differs
     * from the correctly rounded {@code (float) Math.pow} in the last bit for some t, e.g. 0.999^873), through its
     * Pow transform on two preallocated floats; once per step and pair of betas.
     */
    private float[] betaPowers(float beta1, float beta2, int t) {
        if (powerKey == null || powerKey[0] != beta1 || powerKey[1] != beta2 || powerKey[2] != t) {
            try (MemoryWorkspace ws = Nd4j.getMemoryManager().scopeOutOfWorkspaces()) {
                if (betas == null) {
                    betas = Nd4j.create(DataType.FLOAT, 2);
                    betaPowers = Nd4j.create(DataType.FLOAT, 2);
                }
                betas.putScalar(0, beta1);
                betas.putScalar(1, beta2);
                Nd4j.exec(new Pow(betas, betaPowers, t));
                powers = new float[] {betaPowers.getFloat(0), betaPowers.getFloat(1)};
                powerKey = new float[] {beta1, beta2, t};
            }
        }
        return powers;
    }

    private INDArray betas;
    private INDArray betaPowers;
    private float[] powers;
    private float[] powerKey;

    private static void divide(FloatBuffer g, int from, int to, float divisor, float[] chunk) {
        for (int i = from; i < to; i += CHUNK) {
            int n = Math.min(CHUNK, to - i);
            g.get(i, chunk, 0, n);
            for (int j = 0; j < n; j++) {
                chunk[j] = chunk[j] / divisor;
            }
            g.put(i, chunk, 0, n);
        }
    }

    private static FloatBuffer floats(INDArray a) {
        return a.data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer();
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
