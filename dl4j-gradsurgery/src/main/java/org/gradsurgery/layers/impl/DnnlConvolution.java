package org.gradsurgery.layers.impl;

import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_BIAS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DIFF_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_DST;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_FROM;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SCRATCHPAD;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_SRC;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_TO;
import static org.bytedeco.dnnl.global.dnnl.DNNL_ARG_WEIGHTS;
import static org.bytedeco.dnnl.global.dnnl.dnnl_backward_data;
import static org.bytedeco.dnnl.global.dnnl.dnnl_dilated_convolution_backward_data_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_dilated_convolution_backward_weights_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_direct;
import static org.bytedeco.dnnl.global.dnnl.dnnl_convolution_winograd;
import static org.bytedeco.dnnl.global.dnnl.dnnl_dilated_convolution_forward_desc_init;
import static org.bytedeco.dnnl.global.dnnl.dnnl_cpu;
import static org.bytedeco.dnnl.global.dnnl.dnnl_engine_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_f32;
import static org.bytedeco.dnnl.global.dnnl.dnnl_format_tag_any;
import static org.bytedeco.dnnl.global.dnnl.dnnl_forward_training;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_nchw;
import static org.bytedeco.dnnl.global.dnnl.dnnl_nhwc;
import static org.bytedeco.dnnl.global.dnnl.dnnl_ncdhw;
import static org.bytedeco.dnnl.global.dnnl.dnnl_ndhwc;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_equal;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_get_size;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_init_by_strides;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_desc_init_by_tag;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_memory_set_data_handle;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_attr_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_attr_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_attr_set_scratchpad_mode;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_desc_query_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_primitive_execute;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_diff_dst_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_diff_src_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_diff_weights_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_dst_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_scratchpad_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_src_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_query_weights_md;
import static org.bytedeco.dnnl.global.dnnl.dnnl_reorder_primitive_desc_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_scratchpad_mode_user;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_create;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_default_flags;
import static org.bytedeco.dnnl.global.dnnl.dnnl_stream_destroy;
import static org.bytedeco.dnnl.global.dnnl.dnnl_success;

import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.bytedeco.dnnl.const_dnnl_op_desc_t;
import org.bytedeco.dnnl.dnnl_convolution_desc_t;
import org.bytedeco.dnnl.dnnl_engine;
import org.bytedeco.dnnl.dnnl_exec_arg_t;
import org.bytedeco.dnnl.dnnl_memory;
import org.bytedeco.dnnl.dnnl_memory_desc_t;
import org.bytedeco.dnnl.dnnl_primitive;
import org.bytedeco.dnnl.dnnl_primitive_attr;
import org.bytedeco.dnnl.dnnl_primitive_desc;
import org.bytedeco.dnnl.dnnl_stream;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * FLOAT 2D and 3D convolution forward and backward on oneDNN's C API (the JavaCPP preset {@code org.bytedeco:dnnl},
 * a copy of oneDNN beside the one linked into libnd4j, sharing its OpenMP runtime), with the primitives built once per
 * geometry and kept, where libnd4j's {@code conv2d}/{@code conv2d_bp} rebuild them, and reorder their operands, on
 * every call. With x ∈ ℝ^{N×C×H×W}, W ∈ ℝ^{O×C×kH×kW}, stride s, dilation d and top-left padding p:
 * <pre>
 *   z[n,o,i,j]  = b_o + Σ_{c,u,v} W[o,c,u,v] · x[n, c, i·s_h + u·d_h − p_h, j·s_w + v·d_w − p_w]   (0 outside x)
 *   ∂L/∂x       = the transposed convolution of δ = ∂L/∂z with W            (backward data)
 *   ∂L/∂W[o,c,u,v] = Σ_{n,i,j} δ[n,o,i,j] · x[n, c, i·s_h + u·d_h − p_h, …],  ∂L/∂b_o = Σ_{n,i,j} δ[n,o,i,j]
 * </pre>
 * The convolutions run in the layouts oneDNN picks for the shape (blocked channels, {@code format_tag_any}; the
 * arrays' own strided layout for 1×1 kernels, where a plain GEMM on them is fastest): each operand is reordered
 * between the array and that layout only where the two differ, the blocked copies and oneDNN's scratchpad living
 * in DL4J's working-memory workspaces. 3D is the same with a depth axis: rank-5 descriptors (NCDHW or NDHWC
 * activations, weights [O, C, kD, kH, kW]), the same primitives; a caller running one convolution per example in
 * one workspace scope passes one {@link Scratch}, which hands each call the previous call's arrays again. The
 * arrays' buffers are handed to oneDNN by address ({@code data().addressPointer()}, which includes the view's
 * offset), so every operand must be host memory: this class is for ND4J's CPU backend only.
 *
 * <p>Algorithm: 2D convolutions with at least {@value #WINOGRAD_MIN_INPUT_CHANNELS} input channels run oneDNN's
 * Winograd F(4×4, 3×3) where it has an implementation (3×3, stride 1, no dilation: every 3×3 convolution of the
 * U-Net but the first, forward and both backward passes), everything else the direct algorithm. (oneDNN's
 * Winograd pads the channels to 16: the U-Net's first convolution, 1 → 16 channels at 128², took 4.0 + 3.1 ms with
 * it against 0.9 + 1.0 direct.) Winograd computes the same convolution through transformed tiles with fewer multiplications, so its
 * results differ from the direct algorithm's by float rounding: {@code DnnlConvolutionTest} holds both to libnd4j's
 * DOUBLE results within the same 1e-5 relative. It made the 2D U-Net's convolutions 147 → 102 ms of thread CPU per
 * step for 43 MiB more working memory (its transformed tiles), measured in the commit that chose it. A layer whose
 * DL4J {@code cudnnAlgoMode} is {@code NO_WORKSPACE} (cuDNN's "no extra memory" choice) runs direct only: less
 * memory, and the direct algorithm's results of earlier versions. (Where oneDNN has no Winograd for the CPU, e.g.
 * without AVX-512, every plan is direct anyway.)
 *
 * <p>Native resources: each instance caches at most {@value #MAX_PLANS} geometries (least recently used evicted and
 * destroyed), and {@link #close()} destroys the rest; the layer owning an instance closes it through a {@link
 * java.lang.ref.Cleaner} when it becomes unreachable. An instance is not thread-safe (nor are DL4J's layers).
 */
final class DnnlConvolution implements AutoCloseable {

    /**
     * Plans kept per layer, one per direction and geometry (input shape, the operands' strides): forward and backward
     * for training, a last partial batch, evaluation.
     */
    static final int MAX_PLANS = 8;

    /** Number of plans built since start-up (a test sees the cache work). */
    private static long plansBuilt;

    /** Fewest input channels for which a 2D plan tries Winograd (see the class comment). */
    static final int WINOGRAD_MIN_INPUT_CHANNELS = 16;

    /** Number of plans whose forward pass runs oneDNN's Winograd convolution (a test sees it chosen). */
    private static long winogradPlans;

    static synchronized long winogradPlans() {
        return winogradPlans;
    }

    private final Map<Key, Plan> plans = new LinkedHashMap<>(8, 0.75f, true);

    /** Whether 2D plans may try Winograd (see the class comment); false: the direct algorithm everywhere. */
    private final boolean winograd;

    /** An instance whose 2D plans try Winograd where it applies. */
    DnnlConvolution() {
        this(true);
    }

    /** An instance whose 2D plans try Winograd where it applies ({@code winograd}), or always run direct. */
    DnnlConvolution(boolean winograd) {
        this.winograd = winograd;
    }

    /**
     * The convolution's shape, DL4J's way, for 2 or 3 spatial axes (H, W or D, H, W): batch, channels, spatial
     * input and output sizes, kernel, stride, dilation (1 = dense) and top-left padding per axis; the bottom-right
     * padding follows from the output size (it may be negative: Truncate mode drops the last rows). {@code
     * channelsLast}: activations as NHWC / NDHWC instead of NCHW / NCDHW.
     */
    record Geometry(long n, long inC, long outC, long[] in, long[] out, int[] kernel, int[] stride, int[] dilation,
                    int[] pad, boolean bias, boolean channelsLast) {

        Geometry {
            int r = in.length;
            if ((r != 2 && r != 3) || out.length != r || kernel.length != r || stride.length != r
                    || dilation.length != r || pad.length != r) {
                throw new IllegalArgumentException("a convolution geometry needs 2 or 3 spatial axes in every "
                        + "setting, got in " + Arrays.toString(in) + ", out " + Arrays.toString(out) + ", kernel "
                        + Arrays.toString(kernel) + ", stride " + Arrays.toString(stride) + ", dilation "
                        + Arrays.toString(dilation) + ", padding " + Arrays.toString(pad));
            }
        }

        /** The 2D geometry of DL4J's {@code ConvolutionLayer} settings. */
        static Geometry of2d(long n, long inC, long outC, long inH, long inW, long outH, long outW, int kH, int kW,
                             int sH, int sW, int dH, int dW, int padTop, int padLeft, boolean bias, CNN2DFormat format) {
            return new Geometry(n, inC, outC, new long[] {inH, inW}, new long[] {outH, outW}, new int[] {kH, kW},
                    new int[] {sH, sW}, new int[] {dH, dW}, new int[] {padTop, padLeft}, bias,
                    format == CNN2DFormat.NHWC);
        }

        /** Spatial axes, 2 or 3. */
        int spatial() {
            return in.length;
        }

        /** Bottom-right padding per axis: (out − 1)·s + (k − 1)·d + 1 − in − p. */
        long[] padEnd() {
            long[] r = new long[in.length];
            for (int i = 0; i < r.length; i++) {
                r[i] = (out[i] - 1) * stride[i] + (long) (kernel[i] - 1) * dilation[i] + 1 - in[i] - pad[i];
            }
            return r;
        }

        /** True for a 1×1(×1) kernel with stride 1. */
        boolean pointwise() {
            for (int i = 0; i < in.length; i++) {
                if (kernel[i] != 1 || stride[i] != 1) {
                    return false;
                }
            }
            return true;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Geometry g && n == g.n && inC == g.inC && outC == g.outC && Arrays.equals(in, g.in)
                    && Arrays.equals(out, g.out) && Arrays.equals(kernel, g.kernel) && Arrays.equals(stride, g.stride)
                    && Arrays.equals(dilation, g.dilation) && Arrays.equals(pad, g.pad) && bias == g.bias
                    && channelsLast == g.channelsLast;
        }

        @Override
        public int hashCode() {
            int h = Long.hashCode(n) * 31 + Long.hashCode(inC);
            h = h * 31 + Long.hashCode(outC);
            for (int[] a : new int[][] {kernel, stride, dilation, pad}) {
                h = h * 31 + Arrays.hashCode(a);
            }
            h = (h * 31 + Arrays.hashCode(in)) * 31 + Arrays.hashCode(out);
            return (h * 31 + Boolean.hashCode(bias)) * 31 + Boolean.hashCode(channelsLast);
        }

        @Override
        public String toString() {
            return "[n " + n + ", " + inC + " -> " + outC + " channels, in " + Arrays.toString(in) + ", out "
                    + Arrays.toString(out) + ", kernel " + Arrays.toString(kernel) + ", stride "
                    + Arrays.toString(stride) + ", dilation " + Arrays.toString(dilation) + ", padding "
                    + Arrays.toString(pad) + (bias ? ", bias" : "") + (channelsLast ? ", channels last" : "") + "]";
        }
    }

    /**
     * True where this class applies: FLOAT, ND4J's CPU backend (host memory), and the platform whose natives the
     * library ships (linux-x86_64).
     */
    static boolean applies(DataType dataType) {
        return dataType == DataType.FLOAT && Nd4j.getEnvironment().isCPU() && LINUX_X86_64;
    }

    private static final boolean LINUX_X86_64 = "linux-x86_64".equals(org.bytedeco.javacpp.Loader.getPlatform());

    /** Closes the instances of unreachable layers. */
    private static final Cleaner CLEANER = Cleaner.create();

    /**
     * A new instance for {@code layer}, closed when the layer becomes unreachable; null where this class does not
     * apply (see {@link #applies}). {@code algoMode}: the layer's DL4J {@code cudnnAlgoMode}, which this class
     * reads as cuDNN does: {@code NO_WORKSPACE} asks for algorithms without extra working memory (direct only);
     * anything else lets 2D plans try Winograd.
     */
    static DnnlConvolution forLayer(Object layer, DataType dataType, ConvolutionLayer.AlgoMode algoMode) {
        if (!applies(dataType)) {
            return null;
        }
        DnnlConvolution d = new DnnlConvolution(algoMode != ConvolutionLayer.AlgoMode.NO_WORKSPACE);
        CLEANER.register(layer, d::close);
        return d;
    }

    /** Plans cached now. */
    int plans() {
        return plans.size();
    }

    static synchronized long plansBuilt() {
        return plansBuilt;
    }

    /** z = conv(x, W) + b into {@code z} (bias may be null when the geometry has none); scratch from {@code ws}. */
    void forward(Geometry g, INDArray x, INDArray w, INDArray b, INDArray z, LayerWorkspaceMgr ws) {
        forward(g, x, w, b, z, ws, false);
    }

    /**
     * The same; with {@code keepInput}, x's copy in oneDNN's layout (where it needs one) goes to an array of DL4J's
     * {@code ACTIVATIONS} workspace instead of working memory, and the next {@link #backward} with this very x
     * (the same array object) hands it to the weight-gradient primitive instead of reordering x again. In a
     * training step that workspace holds every layer's input until the backward pass, so the copy lives as long
     * as x: it costs one more array of x's size per convolution for the step's duration, and saves one reorder of
     * x per convolution (see the commit message for the figures).
     */
    void forward(Geometry g, INDArray x, INDArray w, INDArray b, INDArray z, LayerWorkspaceMgr ws, boolean keepInput) {
        Scratch scratch = new Scratch(ws);
        Plan p = plan(g, false, x, w, b, z, null, null);
        kept = null;
        INDArray keep = keepInput ? p.keepableInput(ws) : null;
        p.forward(x, w, b, z, scratch, keep);
        if (keep != null) {
            kept = new Kept(x, keep, p);
        }
    }

    /** The same, with scratch memory from {@code scratch} (rewound first: the arrays of its previous call). */
    void forward(Geometry g, INDArray x, INDArray w, INDArray b, INDArray z, Scratch scratch) {
        scratch.rewind();
        plan(g, false, x, w, b, z, null, null).forward(x, w, b, z, scratch, null);
    }

    /** The input of the last forward pass that kept its reordered copy, the copy, and the plan that made it. */
    private record Kept(INDArray x, INDArray copy, Plan plan) {
    }

    /** Set by a forward pass with {@code keepInput}, taken (and cleared) by the next backward pass. */
    private Kept kept;

    /**
     * ∂L/∂W and ∂L/∂b into their views and, when {@code gradInput} is not null, ∂L/∂x into it; {@code delta} is
     * ∂L/∂z. Nothing is zero-filled, nothing accumulated: oneDNN writes (overwrites) every element of each output.
     */
    void backward(Geometry g, INDArray x, INDArray w, INDArray delta, INDArray gradInput, INDArray weightGrad,
                  INDArray biasGrad, LayerWorkspaceMgr ws) {
        backward(g, x, w, delta, gradInput, weightGrad, biasGrad, new Scratch(ws));
    }

    /** The same, with scratch memory from {@code scratch} (rewound first: the arrays of its previous call). */
    void backward(Geometry g, INDArray x, INDArray w, INDArray delta, INDArray gradInput, INDArray weightGrad,
                  INDArray biasGrad, Scratch scratch) {
        scratch.rewind();
        Kept k = kept;
        kept = null;
        Plan p = plan(g, true, x, w, biasGrad, delta, gradInput, weightGrad);
        // the plan lookup may have evicted (closed) the forward's plan, whose descriptor says the copy's layout
        if (k != null && k.x() == x && !k.plan().closed) {
            keptInputsRead += p.backward(x, w, delta, gradInput, weightGrad, biasGrad, scratch,
                    new HostAddress().aligned(k.copy()), k.plan().forward.primMds[0]) ? 1 : 0;
        } else {
            p.backward(x, w, delta, gradInput, weightGrad, biasGrad, scratch, null, null);
        }
    }

    /** Backward passes that read the forward's kept copy of x instead of reordering x (for tests). */
    long keptInputsRead;

    /**
     * Where a call's scratch memory (oneDNN's blocked copies and its scratchpad) comes from: DL4J's working-memory
     * workspaces. A workspace frees only at the end of its scope, so a caller running several convolutions in one
     * scope (the 3D layer, one example at a time) passes one {@code Scratch} to all of them: each call takes the
     * same arrays again, in the same order, instead of allocating new ones, and the scope's memory stays that of
     * one call.
     */
    static final class Scratch {
        private final LayerWorkspaceMgr ws;
        private final Map<ArrayType, List<INDArray>> arrays = new EnumMap<>(ArrayType.class);
        private final Map<ArrayType, Integer> next = new EnumMap<>(ArrayType.class);

        Scratch(LayerWorkspaceMgr ws) {
            this.ws = ws;
        }

        /** The next call takes the arrays from the first again. */
        void rewind() {
            next.clear();
        }

        /** The next array of {@code type} with at least {@code floats} elements (uninitialised). */
        INDArray take(ArrayType type, long floats) {
            List<INDArray> list = arrays.computeIfAbsent(type, t -> new ArrayList<>());
            int i = next.getOrDefault(type, 0);
            next.put(type, i + 1);
            if (i < list.size() && list.get(i).length() >= floats) {
                return list.get(i);
            }
            INDArray a = ws.createUninitialized(type, DataType.FLOAT, floats);
            if (i < list.size()) {
                list.set(i, a);
            } else {
                list.add(a);
            }
            return a;
        }
    }

    @Override
    public void close() {
        for (Plan p : plans.values()) {
            p.close();
        }
        plans.clear();
    }

    /**
     * Everything a plan is built from: the geometry, the direction and every operand's strides (a view's differ from
     * a dense array's, and so do the reorders).
     */
    private record Key(Geometry g, boolean backward, long[] strides) {
        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && g.equals(k.g) && backward == k.backward && Arrays.equals(strides, k.strides);
        }

        @Override
        public int hashCode() {
            return (31 * g.hashCode() + Boolean.hashCode(backward)) * 31 + Arrays.hashCode(strides);
        }
    }

    /**
     * The plan for one direction: forward operands x, W, b, z (the last two null); backward x, W, ∂L/∂b, ∂L/∂z,
     * ∂L/∂x, ∂L/∂W (null where absent).
     */
    private Plan plan(Geometry g, boolean backward, INDArray x, INDArray w, INDArray b, INDArray z,
                      INDArray gradInput, INDArray weightGrad) {
        Key key = new Key(g, backward, concat(x, w, b, z, gradInput, weightGrad));
        Plan p = plans.get(key);
        if (p == null) {
            if (plans.size() >= MAX_PLANS) {
                Iterator<Plan> eldest = plans.values().iterator();
                eldest.next().close();
                eldest.remove();
            }
            p = new Plan(g, x, w, b, z, gradInput, weightGrad, winograd);
            plans.put(key, p);
            synchronized (DnnlConvolution.class) {
                plansBuilt++;
            }
        }
        return p;
    }

    private static long[] concat(INDArray... arrays) {
        List<Long> out = new ArrayList<>();
        for (INDArray a : arrays) {
            out.add(a == null ? -1L : a.rank());
            if (a != null && a.rank() == 2 && a.size(0) == 1) {
                // a bias [1, O]: only its element stride is described (userMd), whatever the row stride
                out.add(a.stride()[1]);
            } else if (a != null) {
                for (long st : a.stride()) {
                    out.add(st);
                }
            }
        }
        return out.stream().mapToLong(Long::longValue).toArray();
    }

    /** The CPU engine, created (and oneDNN's natives loaded) on first use, never where {@link #applies} is false. */
    private static final class Engine {
        static final dnnl_engine CPU = create();

        private static dnnl_engine create() {
            dnnl_engine e = new dnnl_engine();
            check(dnnl_engine_create(e, dnnl_cpu, 0), "creating the CPU engine");
            return e;
        }
    }

    private static void check(int status, String what) {
        if (status != dnnl_success) {
            throw new IllegalStateException("oneDNN failed " + what + " (dnnl_status_t " + status + ")");
        }
    }

    /**
     * The memory descriptor of an array as it lies: logical N, C, spatial dims (or O, I, kernel dims) with its
     * strides; channels-last activations (NHWC, NDHWC) are described by permuting their dims and strides.
     */
    private static dnnl_memory_desc_t userMd(INDArray a, boolean channelsLast, boolean activation) {
        long[] shape = a.shape();
        long[] stride = a.stride();
        int r = a.rank();
        long[] dims;
        long[] strides;
        if (r >= 4 && activation && channelsLast) {
            dims = new long[r];
            strides = new long[r];
            dims[0] = shape[0];
            strides[0] = stride[0];
            dims[1] = shape[r - 1];
            strides[1] = stride[r - 1];
            for (int i = 2; i < r; i++) {
                dims[i] = shape[i - 1];
                strides[i] = stride[i - 1];
            }
        } else if (r >= 4) {
            dims = shape;
            strides = stride;
        } else {
            // the bias, [1, O] or [O]: one logical axis
            dims = new long[] {a.length()};
            strides = new long[] {a.rank() == 2 && shape[0] == 1 ? stride[1] : stride[0]};
        }
        dnnl_memory_desc_t md = new dnnl_memory_desc_t();
        check(dnnl_memory_desc_init_by_strides(md, dims.length, dims, dnnl_f32, strides), "describing an array "
                + Arrays.toString(shape));
        return md;
    }

    private static dnnl_memory_desc_t anyMd(long... dims) {
        dnnl_memory_desc_t md = new dnnl_memory_desc_t();
        check(dnnl_memory_desc_init_by_tag(md, dims.length, dims, dnnl_f32, dnnl_format_tag_any), "describing "
                + Arrays.toString(dims));
        return md;
    }

    /**
     * One operand of one primitive: the array's memory ({@code user}) and, where the primitive wants another layout,
     * a scratch memory of that layout with the reorder between the two (into it for inputs, out of it for outputs).
     */
    private static final class Port {
        final dnnl_memory user;
        final dnnl_memory inner;
        final dnnl_primitive reorder;
        final dnnl_exec_arg_t reorderArgs;
        final long bytes;
        final HostAddress userAddress = new HostAddress();
        final HostAddress innerAddress = new HostAddress();

        Port(dnnl_memory_desc_t userMd, dnnl_memory_desc_t primMd, boolean output, List<Runnable> closers) {
            user = memory(userMd, closers);
            if (dnnl_memory_desc_equal(userMd, primMd) == 1) {
                inner = null;
                reorder = null;
                reorderArgs = null;
                bytes = 0;
                return;
            }
            inner = memory(primMd, closers);
            bytes = dnnl_memory_desc_get_size(primMd);
            dnnl_primitive_desc pd = descriptor(closers);
            check(output ? dnnl_reorder_primitive_desc_create(pd, primMd, Engine.CPU, userMd, Engine.CPU, null)
                    : dnnl_reorder_primitive_desc_create(pd, userMd, Engine.CPU, primMd, Engine.CPU, null), "creating a reorder");
            reorder = primitive(pd, closers);
            reorderArgs = args(closers, DNNL_ARG_FROM, output ? inner : user, DNNL_ARG_TO, output ? user : inner);
        }

        /** The memory the primitive reads or writes: the array's, or a scratch copy in {@code type}'s workspace. */
        dnnl_memory bind(INDArray a, ArrayType type, Scratch ws) {
            check(dnnl_memory_set_data_handle(user, userAddress.at(a)), "binding an array");
            if (inner == null) {
                return user;
            }
            INDArray scratch = ws.take(type, bytes / 4 + 16);
            check(dnnl_memory_set_data_handle(inner, innerAddress.aligned(scratch)), "binding scratch memory");
            return inner;
        }

        /** Binds the array, and {@code copy} (at least {@code bytes} + 64) as the reordered memory. */
        void bindInto(INDArray a, INDArray copy) {
            check(dnnl_memory_set_data_handle(user, userAddress.at(a)), "binding an array");
            check(dnnl_memory_set_data_handle(inner, innerAddress.aligned(copy)), "binding the kept copy");
        }

        void reorder(dnnl_stream stream) {
            if (reorder != null) {
                execute(reorder, stream, reorderArgs, 2);
            }
        }
    }

    private static dnnl_memory memory(dnnl_memory_desc_t md, List<Runnable> closers) {
        dnnl_memory m = new dnnl_memory();
        check(dnnl_memory_create(m, md, Engine.CPU, null), "creating a memory object");
        closers.add(() -> dnnl_memory_destroy(m));
        return m;
    }

    /** A primitive of {@code pd}; the descriptor is the caller's (its memory descriptors are queried later). */
    private static dnnl_primitive primitive(dnnl_primitive_desc pd, List<Runnable> closers) {
        dnnl_primitive p = new dnnl_primitive();
        check(dnnl_primitive_create(p, pd), "creating a primitive");
        closers.add(() -> dnnl_primitive_destroy(p));
        return p;
    }

    /** An empty primitive descriptor handle, destroyed with the plan once created. */
    private static dnnl_primitive_desc descriptor(List<Runnable> closers) {
        dnnl_primitive_desc pd = new dnnl_primitive_desc();
        closers.add(() -> {
            if (!pd.isNull()) {
                dnnl_primitive_desc_destroy(pd);
            }
        });
        return pd;
    }

    private static dnnl_exec_arg_t args(List<Runnable> closers, Object... argAndMemory) {
        int n = argAndMemory.length / 2;
        dnnl_exec_arg_t a = new dnnl_exec_arg_t(n);
        for (int i = 0; i < n; i++) {
            a.position(i).arg((Integer) argAndMemory[2 * i]).memory((dnnl_memory) argAndMemory[2 * i + 1]);
        }
        a.position(0);
        closers.add(a::close);
        return a;
    }

    private static void execute(dnnl_primitive p, dnnl_stream stream, dnnl_exec_arg_t args, int n) {
        check(dnnl_primitive_execute(p, stream, n, args), "executing a primitive");
    }

    /** The primitives, reorders and memory objects of one geometry; built on first use of the direction. */
    private static final class Plan {
        private final Geometry g;
        private final List<Runnable> closers = new ArrayList<>();
        private final dnnl_stream stream = new dnnl_stream();
        private final dnnl_primitive_attr attr = new dnnl_primitive_attr();
        private final dnnl_memory_desc_t xUser;
        private final dnnl_memory_desc_t wUser;
        private final dnnl_memory_desc_t bUser;
        private final dnnl_memory_desc_t zUser;
        private final dnnl_memory_desc_t gxUser;
        private final dnnl_memory_desc_t gwUser;
        private final dnnl_primitive_desc forwardPd;
        private final dnnl_memory_desc_t xAny;
        private final dnnl_memory_desc_t wAny;
        private final dnnl_memory_desc_t zAny;
        private final long[] strides;
        private final long[] padL;
        private final long[] padR;
        private final long[] dilation;

        private Step forward;
        private Step backwardData;
        private Step backwardWeights;
        private boolean closed;
        /** The forward pass's algorithm, tried first for the backward passes too. */
        private int algorithm;

        Plan(Geometry g, INDArray x, INDArray w, INDArray b, INDArray z, INDArray gradInput, INDArray weightGrad,
             boolean winograd) {
            this.g = g;
            try {
                check(dnnl_stream_create(stream, Engine.CPU, dnnl_stream_default_flags), "creating a stream");
                closers.add(() -> dnnl_stream_destroy(stream));
                check(dnnl_primitive_attr_create(attr), "creating attributes");
                closers.add(() -> dnnl_primitive_attr_destroy(attr));
                check(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user), "setting the scratchpad");
                boolean last = g.channelsLast();
                xUser = userMd(x, last, true);
                wUser = userMd(w, last, false);
                bUser = b == null ? null : userMd(b, last, false);
                zUser = userMd(z, last, true);
                gxUser = gradInput == null ? null : userMd(gradInput, last, true);
                gwUser = weightGrad == null ? null : userMd(weightGrad, last, false);
                int r = g.spatial();
                long[] xd = new long[r + 2];
                long[] zd = new long[r + 2];
                long[] wd = new long[r + 2];
                xd[0] = g.n();
                xd[1] = g.inC();
                zd[0] = g.n();
                zd[1] = g.outC();
                wd[0] = g.outC();
                wd[1] = g.inC();
                strides = new long[r];
                dilation = new long[r];
                padL = new long[r];
                padR = g.padEnd();
                for (int i = 0; i < r; i++) {
                    xd[i + 2] = g.in()[i];
                    zd[i + 2] = g.out()[i];
                    wd[i + 2] = g.kernel()[i];
                    strides[i] = g.stride()[i];
                    dilation[i] = g.dilation()[i] - 1;
                    padL[i] = g.pad()[i];
                }
                // 1×1: the arrays' own layout (a GEMM on them, no reorders); otherwise oneDNN's choice (blocked)
                boolean pointwise = g.pointwise();
                xAny = pointwise ? plainMd(xd, last) : anyMd(xd);
                zAny = pointwise ? plainMd(zd, last) : anyMd(zd);
                wAny = anyMd(wd);
                dnnl_memory_desc_t bAny = g.bias() ? anyMd(g.outC()) : null;
                // 2D, not 1×1, at least 16 input channels: Winograd where oneDNN has it (3×3, stride 1, no
                // dilation; see the class comment), else direct
                algorithm = dnnl_convolution_direct;
                Describe forwardDesc = (cd, alg) -> dnnl_dilated_convolution_forward_desc_init(cd,
                        dnnl_forward_training, alg, xAny, wAny, bAny, zAny, strides, dilation, padL, padR);
                dnnl_primitive_desc pd = winograd && g.spatial() == 2 && !pointwise
                        && g.inC() >= WINOGRAD_MIN_INPUT_CHANNELS
                        ? create(forwardDesc, dnnl_convolution_winograd, null) : null;
                if (pd != null) {
                    algorithm = dnnl_convolution_winograd;
                    synchronized (DnnlConvolution.class) {
                        winogradPlans++;
                    }
                } else {
                    pd = create(forwardDesc, dnnl_convolution_direct, null);
                    if (pd == null) {
                        throw new IllegalStateException("oneDNN failed finding a forward convolution for " + this);
                    }
                }
                forwardPd = pd;
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        /** Initialises a convolution description for an algorithm; returns oneDNN's status. */
        private interface Describe {
            int init(dnnl_convolution_desc_t cd, int algorithm);
        }

        /**
         * The primitive descriptor (destroyed with the plan) of {@code describe} with {@code alg}, or null where
         * oneDNN has no implementation of it; {@code hint} is the forward pass's descriptor, or null for it.
         */
        private dnnl_primitive_desc create(Describe describe, int alg, dnnl_primitive_desc hint) {
            dnnl_convolution_desc_t cd = new dnnl_convolution_desc_t();
            if (describe.init(cd, alg) != dnnl_success) {
                return null;
            }
            dnnl_primitive_desc pd = descriptor(closers);
            return dnnl_primitive_desc_create(pd, new const_dnnl_op_desc_t(cd), attr, Engine.CPU, hint) == dnnl_success
                    && !pd.isNull() ? pd : null;
        }

        /** {@link #create} with the forward pass's algorithm, else direct; fails naming {@code what}. */
        private dnnl_primitive_desc createBackward(Describe describe, String what) {
            dnnl_primitive_desc pd = create(describe, algorithm, forwardPd);
            if (pd == null && algorithm != dnnl_convolution_direct) {
                pd = create(describe, dnnl_convolution_direct, forwardPd);
            }
            if (pd == null) {
                throw new IllegalStateException("oneDNN failed finding a " + what + " convolution for " + this);
            }
            return pd;
        }

        private static dnnl_memory_desc_t plainMd(long[] dims, boolean channelsLast) {
            int tag = dims.length == 4 ? (channelsLast ? dnnl_nhwc : dnnl_nchw) : (channelsLast ? dnnl_ndhwc : dnnl_ncdhw);
            dnnl_memory_desc_t md = new dnnl_memory_desc_t();
            check(dnnl_memory_desc_init_by_tag(md, dims.length, dims, dnnl_f32, tag), "describing "
                    + Arrays.toString(dims));
            return md;
        }

        @Override
        public String toString() {
            return "convolution " + g;
        }

        /**
         * An array of the {@code ACTIVATIONS} workspace for x's reordered copy, or null where the forward primitive
         * reads x as it lies (nothing to keep).
         */
        INDArray keepableInput(LayerWorkspaceMgr ws) {
            forwardStep();
            Port x = forward.ports[0];
            return x.inner == null ? null : ws.createUninitialized(ArrayType.ACTIVATIONS, DataType.FLOAT,
                    x.bytes / 4 + 16);
        }

        private void forwardStep() {
            if (forward == null) {
                forward = new Step(this, forwardPd,
                        new PortSpec(DNNL_ARG_SRC, xUser, dnnl_query_src_md, 0, false),
                        new PortSpec(DNNL_ARG_WEIGHTS, wUser, dnnl_query_weights_md, 0, false),
                        g.bias() ? new PortSpec(DNNL_ARG_BIAS, bUser, dnnl_query_weights_md, 1, false) : null,
                        new PortSpec(DNNL_ARG_DST, zUser, dnnl_query_dst_md, 0, true));
            }
        }

        /** The forward pass; x's reordered copy into {@code keep} if not null (see {@link #keepableInput}). */
        void forward(INDArray x, INDArray w, INDArray b, INDArray z, Scratch ws, INDArray keep) {
            forwardStep();
            forward.keep = keep;
            forward.run(ArrayType.FF_WORKING_MEM, ws, null, x, w, b, z);
            forward.keep = null;
        }

        /**
         * {@code keptInput}, if not null, is the address of x's copy in layout {@code keptMd} (kept by the forward
         * pass): the weight gradient reads it from there when it wants that layout. Returns true if it did.
         */
        boolean backward(INDArray x, INDArray w, INDArray delta, INDArray gradInput, INDArray weightGrad,
                         INDArray biasGrad, Scratch ws, HostAddress keptInput, dnnl_memory_desc_t keptMd) {
            if (gradInput != null) {
                if (backwardData == null) {
                    dnnl_primitive_desc pd = createBackward((cd, alg) -> dnnl_dilated_convolution_backward_data_desc_init(
                            cd, alg, xAny, wAny, zAny, strides, dilation, padL, padR), "backward-data");
                    backwardData = new Step(this, pd,
                            new PortSpec(DNNL_ARG_DIFF_DST, zUser, dnnl_query_diff_dst_md, 0, false),
                            new PortSpec(DNNL_ARG_WEIGHTS, wUser, dnnl_query_weights_md, 0, false),
                            new PortSpec(DNNL_ARG_DIFF_SRC, gxUser, dnnl_query_diff_src_md, 0, true));
                }
                backwardData.run(ArrayType.BP_WORKING_MEM, ws, null, delta, w, gradInput);
            }
            if (backwardWeights == null) {
                dnnl_memory_desc_t bAny = g.bias() ? anyMd(g.outC()) : null;
                dnnl_primitive_desc pd = createBackward((cd, alg) -> dnnl_dilated_convolution_backward_weights_desc_init(
                        cd, alg, xAny, wAny, bAny, zAny, strides, dilation, padL, padR), "backward-weights");
                backwardWeights = new Step(this, pd,
                        new PortSpec(DNNL_ARG_SRC, xUser, dnnl_query_src_md, 0, false),
                        new PortSpec(DNNL_ARG_DIFF_DST, zUser, dnnl_query_diff_dst_md, 0, false),
                        new PortSpec(DNNL_ARG_DIFF_WEIGHTS, gwUser, dnnl_query_diff_weights_md, 0, true),
                        g.bias() ? new PortSpec(DNNL_ARG_DIFF_BIAS, bUser, dnnl_query_diff_weights_md, 1, true) : null);
            }
            // δ is reordered once when backward data, just run, wants it in the same layout
            backwardWeights.kept = keptInput;
            backwardWeights.keptMd = keptMd;
            backwardWeights.keptUsed = false;
            backwardWeights.run(ArrayType.BP_WORKING_MEM, ws, gradInput != null ? backwardData : null, x, delta,
                    weightGrad, biasGrad);
            backwardWeights.kept = null;
            backwardWeights.keptMd = null;
            return backwardWeights.keptUsed;
        }

        void close() {
            closed = true;
            for (int i = closers.size() - 1; i >= 0; i--) {
                closers.get(i).run();
            }
            closers.clear();
        }
    }

    /**
     * An operand: its exec argument, the array's descriptor, and the query (with its index) giving the primitive's
     * descriptor for it.
     */
    private record PortSpec(int arg, dnnl_memory_desc_t user, int query, int index, boolean output) {
    }

    /** One primitive with its ports, scratchpad and exec arguments. */
    private static final class Step {
        private final Plan plan;
        private final dnnl_primitive primitive;
        private final PortSpec[] specs;
        private final Port[] ports;
        private final dnnl_memory_desc_t[] primMds;
        private final dnnl_memory scratchpad;
        private final long scratchpadBytes;
        private final HostAddress scratchpadAddress = new HostAddress();
        private final dnnl_exec_arg_t args;
        private final int nArgs;
        /** Forward only, for one call: the array x's reordered copy goes to (instead of scratch memory). */
        private INDArray keep;
        /** Backward weights only, for one call: the address of the forward's copy of x, in layout keptMd. */
        private HostAddress kept;
        private dnnl_memory_desc_t keptMd;
        private boolean keptUsed;

        Step(Plan plan, dnnl_primitive_desc pd, PortSpec... specs) {
            this.plan = plan;
            this.specs = specs;
            primitive = primitive(pd, plan.closers);
            ports = new Port[specs.length];
            primMds = new dnnl_memory_desc_t[specs.length];
            List<Object> a = new ArrayList<>();
            for (int i = 0; i < specs.length; i++) {
                PortSpec s = specs[i];
                if (s == null) {
                    continue;
                }
                primMds[i] = dnnl_primitive_desc_query_md(pd, s.query(), s.index());
                ports[i] = new Port(s.user(), primMds[i], s.output(), plan.closers);
                a.add(s.arg());
                a.add(ports[i].inner != null ? ports[i].inner : ports[i].user);
            }
            dnnl_memory_desc_t spMd = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
            scratchpadBytes = spMd == null || spMd.isNull() ? 0 : dnnl_memory_desc_get_size(spMd);
            if (scratchpadBytes > 0) {
                scratchpad = memory(spMd, plan.closers);
                a.add(DNNL_ARG_SCRATCHPAD);
                a.add(scratchpad);
            } else {
                scratchpad = null;
            }
            nArgs = a.size() / 2;
            args = args(plan.closers, a.toArray());
        }

        /** The port of this step holding exec argument {@code arg} in a scratch copy of layout {@code md}, or null. */
        Port scratchCopy(int arg, dnnl_memory_desc_t md) {
            for (int i = 0; i < specs.length; i++) {
                if (specs[i] != null && specs[i].arg() == arg && ports[i].inner != null
                        && dnnl_memory_desc_equal(primMds[i], md) == 1) {
                    return ports[i];
                }
            }
            return null;
        }

        /**
         * Binds the arrays (in spec order; null for an absent operand), reorders the inputs, executes, reorders the
         * outputs. {@code from}, if not null, is a step that ran just before on the same operands: an input it
         * already reordered into the layout wanted here is taken from its scratch copy.
         */
        void run(ArrayType type, Scratch ws, Step from, INDArray... arrays) {
            for (int i = 0; i < ports.length; i++) {
                Port p = ports[i];
                if (p == null) {
                    continue;
                }
                Port done = from == null || specs[i].output() || p.inner == null ? null
                        : from.scratchCopy(specs[i].arg(), primMds[i]);
                if (done == null && kept != null && specs[i].arg() == DNNL_ARG_SRC && p.inner != null
                        && dnnl_memory_desc_equal(primMds[i], keptMd) == 1) {
                    check(dnnl_memory_set_data_handle(p.inner, kept), "reading the kept copy of the input");
                    keptUsed = true;
                    continue;
                }
                if (done != null) {
                    check(dnnl_memory_set_data_handle(p.inner, done.innerAddress), "sharing a reordered operand");
                    continue;
                }
                if (keep != null && specs[i].arg() == DNNL_ARG_SRC && p.inner != null) {
                    p.bindInto(arrays[i], keep);
                    p.reorder(plan.stream);
                    continue;
                }
                p.bind(arrays[i], type, ws);
                if (!specs[i].output()) {
                    p.reorder(plan.stream);
                }
            }
            if (scratchpad != null) {
                INDArray s = ws.take(type, scratchpadBytes / 4 + 16);
                check(dnnl_memory_set_data_handle(scratchpad, scratchpadAddress.aligned(s)), "binding the scratchpad");
            }
            execute(primitive, plan.stream, args, nArgs);
            for (int i = 0; i < ports.length; i++) {
                if (ports[i] != null && specs[i].output()) {
                    ports[i].reorder(plan.stream);
                }
            }
        }
    }
}
