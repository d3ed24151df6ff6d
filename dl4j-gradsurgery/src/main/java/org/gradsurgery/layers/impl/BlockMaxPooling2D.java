package org.gradsurgery.layers.impl;

import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.convolution.subsampling.SubsamplingLayer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Runtime part of {@link org.gradsurgery.layers.BlockMaxPooling2D}: a plane-by-plane Java kernel for max-pooling over
 * non-overlapping windows of FLOAT {@code NCHW} arrays, DL4J's {@link SubsamplingLayer} for everything else.
 */
public class BlockMaxPooling2D extends SubsamplingLayer {

    public BlockMaxPooling2D(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
        // DL4J's helpers (cuDNN, oneDNN) would take over the fallback path's ops; the fallback is DL4J's plain path.
        helper = null;
    }

    /** Max over kernel = stride windows that tile the input exactly, no padding or dilation, NCHW, FLOAT. */
    private boolean planeCase(INDArray x) {
        int[] k = layerConf().getKernelSize();
        int[] d = layerConf().getDilation();
        int[] p = layerConf().getPadding();
        boolean noPadding = convolutionMode == ConvolutionMode.Same || (p[0] == 0 && p[1] == 0);
        return layerConf().getPoolingType() == PoolingType.MAX && Arrays.equals(k, layerConf().getStride())
                && d[0] == 1 && d[1] == 1 && noPadding && layerConf().getCnn2dDataFormat() == CNN2DFormat.NCHW
                && dataType == DataType.FLOAT && x.rank() == 4 && x.size(2) % k[0] == 0 && x.size(3) % k[1] == 0;
    }

    static INDArray whole(INDArray a) {
        return NormalizationKernels.whole(a) ? a : a.dup('c');
    }

    static FloatBuffer floats(INDArray a) {
        return a.data().asNio().order(ByteOrder.nativeOrder()).asFloatBuffer();
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        INDArray x = input.castTo(dataType);
        if (!planeCase(x)) {
            return super.activate(training, workspaceMgr);
        }
        x = whole(x);
        int kh = layerConf().getKernelSize()[0];
        int kw = layerConf().getKernelSize()[1];
        int h = (int) x.size(2);
        int w = (int) x.size(3);
        int oh = h / kh;
        int ow = w / kw;
        INDArray out = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, dataType,
                new long[] {x.size(0), x.size(1), oh, ow}, 'c');
        FloatBuffer in = floats(x);
        FloatBuffer o = floats(out);
        forPlanes((int) (x.size(0) * x.size(1)), h * w, oh * ow, (plane, p, q, unused) -> {
            in.get(plane * h * w, p, 0, h * w);
            if (kh == 2 && kw == 2) {
                pool2x2(p, q, w, oh, ow);
            } else {
                pool(p, q, w, kh, kw, oh, ow);
            }
            o.put(plane * oh * ow, q, 0, oh * ow);
        });
        return out;
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(true);
        INDArray x = input.castTo(dataType);
        if (!planeCase(x)) {
            return super.backpropGradient(epsilon, workspaceMgr);
        }
        x = whole(x);
        INDArray eps = whole(epsilon.castTo(dataType));
        int kh = layerConf().getKernelSize()[0];
        int kw = layerConf().getKernelSize()[1];
        int h = (int) x.size(2);
        int w = (int) x.size(3);
        int oh = h / kh;
        int ow = w / kw;
        INDArray dx = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, dataType, x.shape(), 'c');
        FloatBuffer in = floats(x);
        FloatBuffer g = floats(eps);
        FloatBuffer d = floats(dx);
        forPlanes((int) (x.size(0) * x.size(1)), h * w, oh * ow, (plane, p, q, r) -> {
            in.get(plane * h * w, p, 0, h * w);
            g.get(plane * oh * ow, q, 0, oh * ow);
            if (kh == 2 && kw == 2) {
                route2x2(p, q, r, w, oh, ow);
            } else {
                route(p, q, r, h, w, kh, kw, oh, ow);
            }
            d.put(plane * h * w, r, 0, h * w);
        });
        return new Pair<>(new DefaultGradient(), dx);
    }

    /** q ← the maxima of the kh×kw windows of the h×w plane p (row length w). */
    private static void pool(float[] p, float[] q, int w, int kh, int kw, int oh, int ow) {
        for (int i = 0; i < oh; i++) {
            for (int j = 0; j < ow; j++) {
                float m = p[i * kh * w + j * kw];
                for (int u = 0; u < kh; u++) {
                    int row = (i * kh + u) * w + j * kw;
                    for (int v = 0; v < kw; v++) {
                        m = Math.max(m, p[row + v]);
                    }
                }
                q[i * ow + j] = m;
            }
        }
    }

    /**
     * {@link #pool} for 2×2 windows, the U-Net's case, spelled out: the general loops with their variable bounds took
     * several times as long (per-thread CPU time of the U-Net's three poolings, measured under load).
     */
    private static void pool2x2(float[] p, float[] q, int w, int oh, int ow) {
        for (int i = 0; i < oh; i++) {
            int top = 2 * i * w;
            int bottom = top + w;
            int out = i * ow;
            for (int j = 0; j < ow; j++) {
                int a = top + 2 * j;
                int b = bottom + 2 * j;
                q[out + j] = Math.max(Math.max(p[a], p[a + 1]), Math.max(p[b], p[b + 1]));
            }
        }
    }

    /**
     * r ← ∂L/∂x: each window's gradient q goes to its maximum, the first in row-major window order (as in libnd4j's
     * maxpool2d_bp), every other element is 0.
     */
    static void route(float[] p, float[] q, float[] r, int h, int w, int kh, int kw, int oh, int ow) {
        Arrays.fill(r, 0, h * w, 0f);
        for (int i = 0; i < oh; i++) {
            for (int j = 0; j < ow; j++) {
                int best = i * kh * w + j * kw;
                for (int u = 0; u < kh; u++) {
                    int row = (i * kh + u) * w + j * kw;
                    for (int v = 0; v < kw; v++) {
                        if (p[row + v] > p[best]) {
                            best = row + v;
                        }
                    }
                }
                r[best] = q[i * ow + j];
            }
        }
    }

    /**
     * {@link #route} for 2×2 windows (planes of h = 2·oh rows), the U-Net's case: the same choice, made without a
     * branch on the data. With the window's values a, b (top row) and c, d (bottom row), {@code route}'s comparisons
     * against the running maximum pick offset
     * <pre>
     *   o₁ = b &gt; a ? 1 : 0,   o₂ = c &gt; max(a, b) ? w : o₁,   o₃ = d &gt; max(a, b, c) ? w + 1 : o₂
     * </pre>
     * (±0 compare equal, so max may return either zero without changing a comparison), integer selects that C2
     * compiles to conditional moves where {@code route}'s {@code if}s were branches taken at random on ReLU outputs,
     * mispredicted about every other window: the 2D U-Net's three poolings' backward went from 6.3–6.9 to 2.6–3.0 ms
     * per step (thread CPU, `bench unet --dims 2 --profile`, loaded), the forward pass's 1.4 ms (branch-free maxima)
     * being what the backward pass's compares cost before. A window with a NaN (or with both
     * infinities, whose sum is NaN too) takes {@code route}'s comparisons instead: max would return NaN there, and
     * every later comparison with it is false, where {@code route} compares with the last non-NaN maximum.
     */
    static void route2x2(float[] p, float[] q, float[] r, int w, int oh, int ow) {
        Arrays.fill(r, 0, 4 * oh * ow, 0f);
        for (int i = 0; i < oh; i++) {
            int top = 2 * i * w;
            int out = i * ow;
            for (int j = 0; j < ow; j++) {
                int a = top + 2 * j;
                float pa = p[a];
                float pb = p[a + 1];
                float pc = p[a + w];
                float pd = p[a + w + 1];
                int offset = pb > pa ? 1 : 0;
                float m = Math.max(pa, pb);
                offset = pc > m ? w : offset;
                m = Math.max(m, pc);
                offset = pd > m ? w + 1 : offset;
                if (Float.isNaN(pa + pb + pc + pd)) {
                    offset = firstMaximum(p, a, w) - a;
                }
                r[a + offset] = q[out + j];
            }
        }
    }

    /** The index of the first maximum of the 2×2 window at {@code a} by {@link #route}'s comparisons. */
    private static int firstMaximum(float[] p, int a, int w) {
        int best = a;
        for (int i : new int[] {a + 1, a + w, a + w + 1}) {
            if (p[i] > p[best]) {
                best = i;
            }
        }
        return best;
    }

    interface PlaneTask {
        void run(int plane, float[] input, float[] pooled, float[] inputSized);
    }

    /**
     * Three scratch arrays per thread (a plane, a pooled plane, a second plane), kept between calls and grown to the
     * largest seen, so that tasks must use only their first {@code planeSize} / {@code pooledSize} elements. New
     * arrays per call (7.5 MiB per 3D pooling call at 96³ × 2) grew the Java heap, and with it the process's peak
     * RSS, by about 40 MiB over a 3D U-Net step.
     */
    private static final ThreadLocal<float[][]> SCRATCH = ThreadLocal.withInitial(() -> new float[][] {
        new float[0], new float[0], new float[0]});

    private static float[][] scratch(int planeSize, int pooledSize) {
        float[][] s = SCRATCH.get();
        if (s[0].length < planeSize) {
            s[0] = new float[planeSize];
            s[2] = new float[planeSize];
        }
        if (s[1].length < pooledSize) {
            s[1] = new float[pooledSize];
        }
        return s;
    }

    /**
     * Runs {@code task} on every plane (or volume: {@link BlockMaxPooling3D}), over contiguous ranges of planes, one
     * per thread (as many as ND4J may use, when there is enough work), each range with its thread's scratch: a
     * plane, a pooled plane and a second plane, at least {@code planeSize} / {@code pooledSize} long (see
     * {@link #scratch}).
     */
    static void forPlanes(int planes, int planeSize, int pooledSize, PlaneTask task) {
        ThreadRanges.run(planes, (long) planes * planeSize, (from, to) -> {
            float[][] s = scratch(planeSize, pooledSize);
            for (int plane = from; plane < to; plane++) {
                task.run(plane, s[0], s[1], s[2]);
            }
        });
    }
}
