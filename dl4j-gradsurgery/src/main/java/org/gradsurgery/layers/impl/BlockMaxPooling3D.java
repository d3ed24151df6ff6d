package org.gradsurgery.layers.impl;

import java.nio.FloatBuffer;
import java.util.Arrays;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.convolution.subsampling.Subsampling3DLayer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Runtime part of {@link org.gradsurgery.layers.BlockMaxPooling3D}: a volume-by-volume Java kernel for max-pooling
 * over non-overlapping windows of FLOAT {@code NCDHW} arrays (the plane machinery of {@link BlockMaxPooling2D}, one
 * channel volume per task), DL4J's {@link Subsampling3DLayer} for everything else.
 */
public class BlockMaxPooling3D extends Subsampling3DLayer {

    public BlockMaxPooling3D(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    private org.deeplearning4j.nn.conf.layers.Subsampling3DLayer conf3d() {
        return (org.deeplearning4j.nn.conf.layers.Subsampling3DLayer) layerConf();
    }

    /** Max over kernel = stride windows that tile the input exactly, no padding or dilation, NCDHW, FLOAT. */
    private boolean volumeCase(INDArray x) {
        org.deeplearning4j.nn.conf.layers.Subsampling3DLayer c = conf3d();
        int[] k = c.getKernelSize();
        int[] d = c.getDilation();
        int[] p = c.getPadding();
        boolean noPadding = c.getConvolutionMode() == ConvolutionMode.Same || (p[0] == 0 && p[1] == 0 && p[2] == 0);
        return c.getPoolingType() == PoolingType.MAX && Arrays.equals(k, c.getStride())
                && d[0] == 1 && d[1] == 1 && d[2] == 1 && noPadding && c.getIDropout() == null
                && c.getDataFormat() == Convolution3D.DataFormat.NCDHW && dataType == DataType.FLOAT
                && x.dataType() == DataType.FLOAT && x.rank() == 5
                && x.size(2) % k[0] == 0 && x.size(3) % k[1] == 0 && x.size(4) % k[2] == 0;
    }

    /**
     * Window k, input volume d × h × w, pooled volume od × oh × ow, and the number of (example, channel) volumes. The
     * kernels work slab by slab: the k[0] input planes of one output plane, contiguous in NCDHW, slab u of the whole
     * array (u = volume · od + output plane) at u · {@link #slab()}, its output plane at u · {@link #pooledPlane()}.
     * Slabs (23 KiB at 60 × 48) stay in the L1/L2 cache between the copy in, the kernel and the copy out, where whole
     * volumes (0.5 MiB at 44 × 60 × 48, 3.4 MiB at 96³) went to memory and back twice, and the per-thread scratch
     * is a slab, not a volume (backward of 2 × 8 × 44 × 60 × 48: 13 → 11 ms by the slabs, → 7 ms with
     * {@link #route2x2x2}; `bench unet --profile`, loaded).
     */
    private record Windows(int[] k, int d, int h, int w, int od, int oh, int ow, int volumes) {
        int slab() {
            return k[0] * h * w;
        }

        int pooledPlane() {
            return oh * ow;
        }

        int slabs() {
            return volumes * od;
        }
    }

    private Windows windows(INDArray x) {
        int[] k = conf3d().getKernelSize();
        int d = (int) x.size(2);
        int h = (int) x.size(3);
        int w = (int) x.size(4);
        return new Windows(k, d, h, w, d / k[0], h / k[1], w / k[2], (int) (x.size(0) * x.size(1)));
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(false);
        INDArray x = input;
        if (!volumeCase(x)) {
            return super.activate(training, workspaceMgr);
        }
        x = BlockMaxPooling2D.whole(x);
        Windows g = windows(x);
        INDArray out = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, dataType,
                new long[] {x.size(0), x.size(1), g.od, g.oh, g.ow}, 'c');
        FloatBuffer in = BlockMaxPooling2D.floats(x);
        FloatBuffer o = BlockMaxPooling2D.floats(out);
        int slab = g.slab();
        int plane = g.pooledPlane();
        BlockMaxPooling2D.forPlanes(g.slabs(), slab, plane, (unit, p, q, unused) -> {
            in.get(unit * slab, p, 0, slab);
            if (g.k[0] == 2 && g.k[1] == 2 && g.k[2] == 2) {
                pool2x2x2(p, q, g.h, g.w, 1, g.oh, g.ow);
            } else {
                pool(p, q, g.h, g.w, g.k, 1, g.oh, g.ow);
            }
            o.put(unit * plane, q, 0, plane);
        });
        return out;
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(true);
        INDArray x = input;
        if (!volumeCase(x) || epsilon.dataType() != DataType.FLOAT) {
            return super.backpropGradient(epsilon, workspaceMgr);
        }
        x = BlockMaxPooling2D.whole(x);
        INDArray eps = BlockMaxPooling2D.whole(epsilon);
        Windows g = windows(x);
        INDArray dx = workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, dataType, x.shape(), 'c');
        FloatBuffer in = BlockMaxPooling2D.floats(x);
        FloatBuffer grad = BlockMaxPooling2D.floats(eps);
        FloatBuffer r = BlockMaxPooling2D.floats(dx);
        int slab = g.slab();
        int plane = g.pooledPlane();
        BlockMaxPooling2D.forPlanes(g.slabs(), slab, plane, (unit, p, q, s) -> {
            in.get(unit * slab, p, 0, slab);
            grad.get(unit * plane, q, 0, plane);
            if (g.k[0] == 2 && g.k[1] == 2 && g.k[2] == 2) {
                route2x2x2(p, q, s, g.h, g.w, g.oh, g.ow);
            } else {
                route(p, q, s, slab, g.h, g.w, g.k, 1, g.oh, g.ow);
            }
            r.put(unit * slab, s, 0, slab);
        });
        return new Pair<>(new DefaultGradient(), dx);
    }

    /** q ← the maxima of the kD×kH×kW windows of the d×h×w volume p. */
    private static void pool(float[] p, float[] q, int h, int w, int[] k, int od, int oh, int ow) {
        for (int i = 0; i < od; i++) {
            for (int j = 0; j < oh; j++) {
                for (int l = 0; l < ow; l++) {
                    float m = p[((i * k[0]) * h + j * k[1]) * w + l * k[2]];
                    for (int t = 0; t < k[0]; t++) {
                        for (int u = 0; u < k[1]; u++) {
                            int row = ((i * k[0] + t) * h + j * k[1] + u) * w + l * k[2];
                            for (int v = 0; v < k[2]; v++) {
                                m = Math.max(m, p[row + v]);
                            }
                        }
                    }
                    q[(i * oh + j) * ow + l] = m;
                }
            }
        }
    }

    /** {@link #pool} for 2×2×2 windows, the U-Net's case, spelled out (as {@code BlockMaxPooling2D.pool2x2}). */
    private static void pool2x2x2(float[] p, float[] q, int h, int w, int od, int oh, int ow) {
        int plane = h * w;
        for (int i = 0; i < od; i++) {
            for (int j = 0; j < oh; j++) {
                int a = (2 * i * h + 2 * j) * w;
                int b = a + w;
                int c = a + plane;
                int e = c + w;
                int out = (i * oh + j) * ow;
                for (int l = 0; l < ow; l++) {
                    int v = 2 * l;
                    float m0 = Math.max(Math.max(p[a + v], p[a + v + 1]), Math.max(p[b + v], p[b + v + 1]));
                    float m1 = Math.max(Math.max(p[c + v], p[c + v + 1]), Math.max(p[e + v], p[e + v + 1]));
                    q[out + l] = Math.max(m0, m1);
                }
            }
        }
    }

    /**
     * {@link #route} for one slab of 2×2×2 windows (two input planes h × w, one pooled plane oh × ow), the U-Net's
     * case: the same choice, made without a branch on the data. {@code route} picks the first maximum in (depth, row,
     * column) order by strict comparisons; here the eight values p₀ … p₇ (in that order) are reduced as a tree,
     * each node keeping its maximum m and the offset o of its first maximum:
     * <pre>
     *   (m, o) of a pair / of two halves L, R:   o = m_R &gt; m_L ? o_R : o_L,   m = max(m_L, m_R)
     * </pre>
     * which is the first maximum of L ∪ R: if R's maximum is strictly larger the overall maximum is only in R,
     * otherwise L holds it first (±0 compare equal, so max may return either zero without changing a comparison).
     * The selects are integer selects that C2 compiles to conditional moves, where the old spelled-out
     * comparisons against the running maximum were branches taken at random on ReLU outputs; the tree keeps the
     * dependency chain three selects long instead of seven. A window with a NaN takes {@code route}'s comparisons
     * instead ({@link #firstMaximum}): max propagates NaN, after which every comparison with it is false, where
     * {@code route} compares with the last non-NaN maximum; the root's max is NaN exactly when one of the eight is.
     */
    static void route2x2x2(float[] p, float[] q, float[] r, int h, int w, int oh, int ow) {
        int plane = h * w;
        Arrays.fill(r, 0, 2 * plane, 0f);
        for (int j = 0; j < oh; j++) {
            int a = 2 * j * w;
            int out = j * ow;
            for (int l = 0; l < ow; l++) {
                int x = a + 2 * l;
                float p0 = p[x];
                float p1 = p[x + 1];
                float p2 = p[x + w];
                float p3 = p[x + w + 1];
                float p4 = p[x + plane];
                float p5 = p[x + plane + 1];
                float p6 = p[x + plane + w];
                float p7 = p[x + plane + w + 1];
                int o01 = p1 > p0 ? 1 : 0;
                int o23 = p3 > p2 ? w + 1 : w;
                int o45 = p5 > p4 ? plane + 1 : plane;
                int o67 = p7 > p6 ? plane + w + 1 : plane + w;
                float m01 = Math.max(p0, p1);
                float m23 = Math.max(p2, p3);
                float m45 = Math.max(p4, p5);
                float m67 = Math.max(p6, p7);
                int o03 = m23 > m01 ? o23 : o01;
                int o47 = m67 > m45 ? o67 : o45;
                float m03 = Math.max(m01, m23);
                float m47 = Math.max(m45, m67);
                int o = m47 > m03 ? o47 : o03;
                if (Float.isNaN(Math.max(m03, m47))) {
                    o = firstMaximum(p, x, w, plane) - x;
                }
                r[x + o] = q[out + l];
            }
        }
    }

    /** The index of the first maximum of the 2×2×2 window at {@code x} by {@link #route}'s comparisons. */
    private static int firstMaximum(float[] p, int x, int w, int plane) {
        int best = x;
        for (int i : new int[] {x + 1, x + w, x + w + 1, x + plane, x + plane + 1, x + plane + w, x + plane + w + 1}) {
            if (p[i] > p[best]) {
                best = i;
            }
        }
        return best;
    }

    /**
     * r ← ∂L/∂x: each window's gradient q goes to its maximum, the first in (depth, row, column) order of the
     * window (as in libnd4j's maxpool3dnew_bp), every other element is 0.
     */
    static void route(float[] p, float[] q, float[] r, int size, int h, int w, int[] k, int od, int oh, int ow) {
        Arrays.fill(r, 0, size, 0f);
        for (int i = 0; i < od; i++) {
            for (int j = 0; j < oh; j++) {
                for (int l = 0; l < ow; l++) {
                    int best = ((i * k[0]) * h + j * k[1]) * w + l * k[2];
                    for (int t = 0; t < k[0]; t++) {
                        for (int u = 0; u < k[1]; u++) {
                            int row = ((i * k[0] + t) * h + j * k[1] + u) * w + l * k[2];
                            for (int v = 0; v < k[2]; v++) {
                                if (p[row + v] > p[best]) {
                                    best = row + v;
                                }
                            }
                        }
                    }
                    r[best] = q[(i * oh + j) * ow + l];
                }
            }
        }
    }
}
