package org.gradsurgery.layers.impl;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.gradient.DefaultGradient;
import org.deeplearning4j.nn.gradient.Gradient;
import org.deeplearning4j.nn.layers.convolution.Convolution3DLayer;
import org.deeplearning4j.nn.params.Convolution3DParamInitializer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.util.Convolution3DUtils;
import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Runtime part of {@link org.gradsurgery.layers.NativeConvolution3D}: DL4J's {@code Convolution3DLayer} (the same
 * libnd4j {@code conv3dnew}/{@code conv3dnew_bp} ops, the same parameters and results) with each op called per
 * example and, for large volumes, per slab of depth planes, so that the scratch memory the ops allocate is bounded.
 *
 * <p>Why: on libnd4j's oneDNN natives each call reorders its input, output and gradients into oneDNN's blocked
 * layouts (channels padded to a block of 16), outside any workspace: {@code conv3dnew_bp} touched 4 × its input for
 * 16 → 8 channels, 432 MiB at 96³ × 2, the largest single term of a 3D U-Net step's peak RSS
 * ({@code docs/PERFORMANCE.md}, "3D memory and the patch edge"). Per example and per slab, the scratch is that of one
 * slab.
 *
 * <p>oneDNN directly: FLOAT on ND4J's CPU backend runs each example (when it needs no slabs) through
 * {@link DnnlConvolution}, oneDNN's primitives built once per batch-1 geometry and kept (libnd4j's ops rebuild
 * them on every call), the blocked copies of one example in the working-memory workspace and reused for the next.
 * oneDNN overwrites its weight and bias gradients, so each example after the first writes them to scratch that is
 * added: ∂L/∂W = Σ_e ∂L/∂W_e in example order, as the ops' path sums. DOUBLE (gradient checks) and other
 * backends keep libnd4j's ops; slabs too (only a scratch budget smaller than the default makes them).
 *
 * <p>Slabs (stride 1, dilation 1, odd depth kernel k, {@code Same} mode, p = (k − 1)/2): output planes [d₀, d₁) of
 * one example come from input planes [a, b) = [max(0, d₀ − p), min(D, d₁ + p)); the op runs in {@code Same} mode on
 * that view, so its planes next to a cut see zero padding instead of their neighbours and are dropped (forward) or
 * given a zero gradient (backward). Backward, the input gradients of overlapping slabs add up, and the parameter
 * gradients are summed over slabs and examples:
 * <pre>
 *   ∂L/∂x[n, :, a:b] += conv3dnew_bp(x[n, :, a:b], g̃)_x,   g̃ = ∂L/∂z[n, :, d₀:d₁] at its planes, 0 at the halo
 *   ∂L/∂W = Σ_{n, slab} conv3dnew_bp(…)_W,                 ∂L/∂b = Σ_{n, slab} conv3dnew_bp(…)_b
 * </pre>
 * Other configurations run per example only. The backward pass recomputes the pre-output only for non-identity
 * activations, as {@link NativeConvolution2D} does.
 *
 * <p>Point-wise convolutions (kernel 1×1×1, stride 1, no padding, {@code NCDHW}: a U-Net's classifier head) are
 * GEMMs over each example's voxels instead, x_e as the matrix {@code [C_in, S]}:
 * <pre>
 *   z_e = W · x_e + b,   ∂L/∂x_e = Wᵀ · δ_e,   ∂L/∂W = Σ_e δ_e · x_eᵀ,   ∂L/∂b = Σ_{e, voxels} δ_e
 * </pre>
 * (the same sums as the op's, in another order: equal to float rounding). Why: {@code conv3dnew_bp} took 15–25 ms
 * of thread CPU for the 8 → 2 head at 2 × 44 × 60 × 48 (oneDNN pads both channel counts to blocks of 8 or 16 and
 * reorders every array), the GEMMs about 2 ms.
 *
 * <p>A single input channel (the first layer of a single-modality network; odd kernel, stride and dilation 1,
 * {@code Same} mode, NCDHW) keeps {@code conv3dnew} forward but not {@code conv3dnew_bp}, whose backward-data part
 * into one channel is a slow oneDNN path (about 55 ms of thread CPU for 8 → 1 at 2 × 44 × 60 × 48, PyTorch's the
 * same: it skips it for a network input). With p = (k − 1)/2 and W̃ the kernel flipped along its three axes:
 * <pre>
 *   ∂L/∂x_e = conv3dnew(δ_e, W̃ᵀ)          (C_out → 1 channels: a forward convolution)
 *   ∂L/∂W   = Σ_e δ_e · col(x_e)ᵀ,  col(x_e)[τ, v] = x_e,padded[v + τ]   (im2col over the kD·kH·kW taps, one GEMM)
 *   ∂L/∂b   = Σ_{e, voxels} δ_e
 * </pre>
 * col is built in slabs of depth planes when its {@code kD·kH·kW × D·H·W} elements would exceed 16 MiB (or the
 * scratch budget); the slabs' GEMMs accumulate into ∂L/∂W (β = 1).
 */
public class NativeConvolution3D extends Convolution3DLayer {

    /**
     * Scratch allowed per op call, in bytes (the default: 1 GiB, so that U-Nets up to about 160³ run per example without slabs: idle at 96³ × 2, slabs of a 128 MiB budget made the step 34 % slower for no lower peak RSS, PERFORMANCE.md). A slab of P planes is estimated to need
     * 4 B · H · W · P · 2 · (⌈C_in/16⌉ + ⌈C_out/16⌉) · 16: oneDNN's blocked copies of the input, its gradient and two
     * of the output gradient.
     */
    public static final long DEFAULT_SCRATCH_BUDGET = 1L << 30;

    private long scratchBudget = DEFAULT_SCRATCH_BUDGET;

    /**
     * The output a = max(z, 0) of the last training forward pass when the activation is a plain ReLU, with the input
     * it belongs to. The ReLU's backward needs only where z &gt; 0, which is where a &gt; 0, so backprop takes that
     * mask from a instead of computing the convolution z again, as DL4J's layers do (measured: about a sixth of a
     * 3D U-Net step without normalisation). a lives in the activations workspace, which stays open from the
     * forward through the backward pass of one iteration; used only for the very same input object, shape,
     * iteration and epoch ({@link ForwardCarry}), else z is recomputed.
     */
    private ForwardCarry<INDArray> forwardOutput;

    /** This layer's oneDNN plans (batch-1 geometries), created on first FLOAT use on the CPU backend. */
    private DnnlConvolution dnnl;

    /** How many backprop calls took the ReLU mask from the forward output (tests check that training does). */
    long forwardOutputUses;

    public NativeConvolution3D(NeuralNetConfiguration conf, DataType dataType) {
        super(conf, dataType);
    }

    /** Sets the scratch budget per op call (bytes, ≥ 1); small values force slabs (tests use this). */
    public void setScratchBudget(long bytes) {
        if (bytes < 1) {
            throw new IllegalArgumentException("scratch budget must be >= 1 byte, got " + bytes);
        }
        this.scratchBudget = bytes;
    }

    private Convolution3D conf3d() {
        return (Convolution3D) layerConf();
    }

    private boolean ncdhw() {
        return conf3d().getDataFormat() == Convolution3D.DataFormat.NCDHW;
    }

    /** Output size and top-left padding of one input, as DL4J's layer computes them. */
    private record Geometry(int[] outSize, int[] pad) {
    }

    private Geometry geometry(INDArray x) {
        Convolution3D c = conf3d();
        int[] k = c.getKernelSize();
        int[] s = c.getStride();
        int[] d = c.getDilation();
        boolean cf = ncdhw();
        if (convolutionMode == ConvolutionMode.Same) {
            int[] out = Convolution3DUtils.get3DOutputSize(x, k, s, null, convolutionMode, d, cf);
            int[] in = cf ? new int[] {(int) x.size(2), (int) x.size(3), (int) x.size(4)}
                    : new int[] {(int) x.size(1), (int) x.size(2), (int) x.size(3)};
            return new Geometry(out, Convolution3DUtils.get3DSameModeTopLeftPadding(out, in, k, s, d));
        }
        int[] pad = c.getPadding();
        return new Geometry(Convolution3DUtils.get3DOutputSize(x, k, s, pad, convolutionMode, d, cf), pad);
    }

    /** The oneDNN path's plans, or null where it does not apply (DOUBLE, other backends). */
    private DnnlConvolution dnnl() {
        if (dnnl == null) {
            dnnl = DnnlConvolution.forLayer(this, dataType, layerConf().getCudnnAlgoMode());
        }
        return dnnl;
    }

    /** The oneDNN geometry of one example of {@code x} (batch 1). */
    private DnnlConvolution.Geometry dnnlGeometry(INDArray x, INDArray weights, Geometry g) {
        Convolution3D c = conf3d();
        int first = ncdhw() ? 2 : 1;
        long[] in = {x.size(first), x.size(first + 1), x.size(first + 2)};
        long[] out = {g.outSize()[0], g.outSize()[1], g.outSize()[2]};
        return new DnnlConvolution.Geometry(1, weights.size(1), weights.size(0), in, out, c.getKernelSize().clone(),
                c.getStride().clone(), c.getDilation().clone(), g.pad().clone(), c.hasBias(), !ncdhw());
    }

    /** Whether backprop returns ∂L/∂x (the configuration's flag; true for DL4J's own 3D configuration). */
    private boolean inputGradient() {
        return !(layerConf() instanceof org.gradsurgery.layers.NativeConvolution3D c) || c.isInputGradient();
    }

    private int[] intArgs(int[] pad) {
        Convolution3D c = conf3d();
        int[] k = c.getKernelSize();
        int[] s = c.getStride();
        int[] d = c.getDilation();
        return new int[] {k[0], k[1], k[2], s[0], s[1], s[2], pad[0], pad[1], pad[2], d[0], d[1], d[2],
                convolutionMode == ConvolutionMode.Same ? 1 : 0, ncdhw() ? 0 : 1};
    }

    /**
     * Planes per slab for an input of depth {@code depth}: {@code depth} (one slab) unless the configuration allows
     * slabs and one example's scratch exceeds the budget (point-wise convolutions never need slabs: their GEMMs
     * allocate no scratch).
     */
    public int planesPerSlab(INDArray x, long nIn, long nOut) {
        Convolution3D c = conf3d();
        int depth = (int) x.size(ncdhw() ? 2 : 1);
        boolean slabbable = ncdhw() && convolutionMode == ConvolutionMode.Same && c.getStride()[0] == 1
                && c.getDilation()[0] == 1 && c.getKernelSize()[0] % 2 == 1 && !pointwise();
        if (!slabbable) {
            return depth;
        }
        long plane = x.size(3) * x.size(4) * x.dataType().width() * 2L * 16L * (blocks(nIn) + blocks(nOut));
        int halo = c.getKernelSize()[0] - 1;
        long planes = scratchBudget / plane - halo;
        if (planes >= depth) {
            return depth;
        }
        int slabs = (int) Math.min(depth, (depth + Math.max(1, planes) - 1) / Math.max(1, planes));
        return (depth + slabs - 1) / slabs;
    }

    private static long blocks(long channels) {
        return (channels + 15) / 16;
    }

    private static INDArray depthSlab(INDArray a, long n, long from, long to) {
        return a.get(new INDArrayIndex[] {NDArrayIndex.interval(n, n + 1), NDArrayIndex.all(),
                NDArrayIndex.interval(from, to), NDArrayIndex.all(), NDArrayIndex.all()});
    }

    private static INDArray example(INDArray a, long n) {
        return a.get(NDArrayIndex.interval(n, n + 1), NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.all(),
                NDArrayIndex.all());
    }

    /** libnd4j's weight layout [kD, kH, kW, iC, oC] as a view of DL4J's [oC, iC, kD, kH, kW]. */
    private static INDArray opWeights(INDArray w) {
        return w.permute(2, 3, 4, 1, 0);
    }

    @Override
    protected Pair<INDArray, INDArray> preOutput(boolean training, boolean forBackprop, LayerWorkspaceMgr workspaceMgr) {
        // DL4J's own checks (rank, channels), with its messages; its result is not used.
        INDArray x = input.castTo(dataType);
        if (x.rank() != 5 || x.size(ncdhw() ? 1 : 4) != layerConf().getNIn()) {
            return super.preOutput(training, forBackprop, workspaceMgr);
        }
        INDArray weights = getParamWithNoise(Convolution3DParamInitializer.WEIGHT_KEY, training, workspaceMgr);
        INDArray bias = conf3d().hasBias()
                ? getParamWithNoise(Convolution3DParamInitializer.BIAS_KEY, training, workspaceMgr) : null;
        Geometry g = geometry(x);
        long n = x.size(0);
        long oc = weights.size(0);
        long[] shape = ncdhw() ? new long[] {n, oc, g.outSize()[0], g.outSize()[1], g.outSize()[2]}
                : new long[] {n, g.outSize()[0], g.outSize()[1], g.outSize()[2], oc};
        INDArray z = workspaceMgr.createUninitialized(ArrayType.ACTIVATIONS, dataType, shape, 'c');
        if (pointwise()) {
            INDArray w2 = matrix(weights);
            for (long e = 0; e < n; e++) {
                Nd4j.gemm(w2, voxelMatrix(x, e), voxelMatrix(z, e), false, false, 1.0, 0.0);
            }
            if (bias != null) {
                z.addi(bias.reshape(1, oc, 1, 1, 1));
            }
            return new Pair<>(z, null);
        }
        int planes = planesPerSlab(x, weights.size(1), oc);
        long depth = x.size(ncdhw() ? 2 : 1);
        DnnlConvolution oneDnn = dnnl();
        if (oneDnn != null && planes >= depth) {
            // one example at a time, every call reusing the first's scratch (blocked copies of one example)
            DnnlConvolution.Geometry dg = dnnlGeometry(x, weights, g);
            DnnlConvolution.Scratch scratch = new DnnlConvolution.Scratch(workspaceMgr);
            for (long e = 0; e < n; e++) {
                oneDnn.forward(dg, example(x, e), weights, bias, example(z, e), scratch);
            }
            return new Pair<>(z, null);
        }
        INDArray w = opWeights(weights);
        int[] args = intArgs(g.pad());
        int p = (conf3d().getKernelSize()[0] - 1) / 2;
        // one buffer for every slab's output (a workspace only frees at the end of its scope)
        INDArray buffer = planes >= depth ? null : workspaceMgr.createUninitialized(ArrayType.FF_WORKING_MEM,
                dataType, new long[] {1, oc, Math.min(depth, planes + 2L * p), shape[3], shape[4]}, 'c');
        for (long e = 0; e < n; e++) {
            if (planes >= depth) {
                conv(example(x, e), w, bias, example(z, e), args);
                continue;
            }
            for (long d0 = 0; d0 < depth; d0 += planes) {
                long d1 = Math.min(depth, d0 + planes);
                long a = Math.max(0, d0 - p);
                long b = Math.min(depth, d1 + p);
                INDArray out = depthSlab(buffer, 0, 0, b - a);
                conv(depthSlab(x, e, a, b), w, bias, out, intArgs(new int[] {p, g.pad()[1], g.pad()[2]}));
                depthSlab(z, e, d0, d1).assign(depthSlab(out, 0, d0 - a, d0 - a + (d1 - d0)));
            }
        }
        return new Pair<>(z, null);
    }

    /** Kernel 1×1×1, stride 1, no padding, NCDHW, FLOAT or DOUBLE: the GEMM path (see the class comment). */
    private boolean pointwise() {
        Convolution3D c = conf3d();
        int[] k = c.getKernelSize();
        int[] st = c.getStride();
        int[] p = c.getPadding();
        boolean noPadding = convolutionMode == ConvolutionMode.Same || (p[0] == 0 && p[1] == 0 && p[2] == 0);
        return ncdhw() && k[0] == 1 && k[1] == 1 && k[2] == 1 && st[0] == 1 && st[1] == 1 && st[2] == 1
                && noPadding && (dataType == DataType.FLOAT || dataType == DataType.DOUBLE);
    }

    /**
     * One input channel, odd kernel, stride and dilation 1, {@code Same} mode, NCDHW, FLOAT or DOUBLE: the backward
     * pass without {@code conv3dnew_bp} (see the class comment).
     */
    private boolean singleChannelCase(INDArray weights) {
        Convolution3D c = conf3d();
        int[] k = c.getKernelSize();
        int[] st = c.getStride();
        int[] dl = c.getDilation();
        return ncdhw() && weights.size(1) == 1 && convolutionMode == ConvolutionMode.Same
                && k[0] % 2 == 1 && k[1] % 2 == 1 && k[2] % 2 == 1 && st[0] == 1 && st[1] == 1 && st[2] == 1
                && dl[0] == 1 && dl[1] == 1 && dl[2] == 1 && (dataType == DataType.FLOAT || dataType == DataType.DOUBLE);
    }

    /**
     * Largest im2col column matrix of the single-channel path, in bytes (16 MiB): unlike oneDNN's scratch, it lives
     * in the layer's working-memory workspace, which keeps its largest size for the rest of training, so it is
     * held to a few slabs' worth (at 96³ whole columns would add 95 MiB to the resident set).
     */
    public static final long COLUMN_BUDGET = 16L << 20;

    /**
     * Depth planes per im2col slab of the single-channel path: all of them unless the column matrix
     * {@code [kD·kH·kW, P, H, W]} of P planes would exceed {@link #COLUMN_BUDGET} (or a smaller scratch budget).
     */
    public int columnPlanes(long depth, long height, long width, long taps, int bytes) {
        long plane = taps * height * width * bytes;
        return (int) Math.max(1, Math.min(depth, Math.min(scratchBudget, COLUMN_BUDGET) / plane));
    }

    /**
     * ∂L/∂x, ∂L/∂W and ∂L/∂b of a single-input-channel convolution (the class comment's formulas): ∂L/∂x as the
     * convolution of δ with the flipped kernel, ∂L/∂W as δ_e · colᵀ over im2col slabs of the zero-padded input.
     */
    private void singleChannelBackward(INDArray x, INDArray weights, INDArray delta, INDArray gradInput,
                                       INDArray weightGrad, INDArray biasGrad, LayerWorkspaceMgr workspaceMgr) {
        int[] k = conf3d().getKernelSize();
        int[] p = {(k[0] - 1) / 2, (k[1] - 1) / 2, (k[2] - 1) / 2};
        long n = x.size(0);
        long oc = weights.size(0);
        long d = x.size(2);
        long h = x.size(3);
        long w = x.size(4);
        int taps = k[0] * k[1] * k[2];
        // ∂L/∂x = conv(δ, W̃), W̃[0, o, t, u, v] = W[o, 0, kD-1-t, kH-1-u, kW-1-v]: one conv3dnew (oc → 1) per example
        if (gradInput != null) {
            INDArray flipped = workspaceMgr.createUninitialized(ArrayType.BP_WORKING_MEM, dataType,
                    new long[] {1, oc, k[0], k[1], k[2]}, 'c');
            Nd4j.exec(DynamicCustomOp.builder("reverse").addInputs(weights.permute(1, 0, 2, 3, 4))
                    .addOutputs(flipped).addIntegerArguments(2, 3, 4).callInplace(false).build());
            INDArray wFlipped = opWeights(flipped);
            int[] args = intArgs(p);
            for (long e = 0; e < n; e++) {
                conv(example(delta, e), wFlipped, null, example(gradInput, e), args);
            }
        }
        // ∂L/∂W = Σ_e δ_e · col(x_e)ᵀ, col(x_e)[τ, voxel] = x_pad[voxel + offset τ], in slabs of depth planes
        INDArray padded = workspaceMgr.create(ArrayType.BP_WORKING_MEM, dataType,
                new long[] {d + 2L * p[0], h + 2L * p[1], w + 2L * p[2]}, 'c');   // zeros: the borders stay 0
        INDArray interior = padded.get(NDArrayIndex.interval(p[0], p[0] + d), NDArrayIndex.interval(p[1], p[1] + h),
                NDArrayIndex.interval(p[2], p[2] + w));
        int planes = columnPlanes(d, h, w, taps, dataType.width());
        // flat buffers: a shorter last slab uses a contiguous prefix, so that its matrices stay views
        INDArray columns = workspaceMgr.createUninitialized(ArrayType.BP_WORKING_MEM, dataType,
                new long[] {taps * planes * h * w}, 'c');
        INDArray slabDelta = planes >= d ? null : workspaceMgr.createUninitialized(ArrayType.BP_WORKING_MEM,
                dataType, new long[] {oc * planes * h * w}, 'c');
        INDArray gW = weightGrad.reshape('c', oc, taps);
        boolean first = true;
        for (long e = 0; e < n; e++) {
            interior.assign(x.slice(e).reshape('c', d, h, w));
            INDArray de = delta.slice(e);
            for (long d0 = 0; d0 < d; d0 += planes) {
                long size = Math.min(planes, d - d0);
                INDArray col = columns.get(NDArrayIndex.interval(0, taps * size * h * w)).reshape('c', taps, size, h, w);
                for (int t = 0; t < k[0]; t++) {
                    for (int u = 0; u < k[1]; u++) {
                        for (int v = 0; v < k[2]; v++) {
                            col.get(NDArrayIndex.point((t * k[1] + u) * k[2] + v)).assign(padded.get(
                                    NDArrayIndex.interval(d0 + t, d0 + t + size), NDArrayIndex.interval(u, u + h),
                                    NDArrayIndex.interval(v, v + w)));
                        }
                    }
                }
                INDArray dSlab = planes >= d ? de
                        : slabDelta.get(NDArrayIndex.interval(0, oc * size * h * w)).reshape('c', oc, size, h, w)
                        .assign(de.get(NDArrayIndex.all(), NDArrayIndex.interval(d0, d0 + size), NDArrayIndex.all(),
                        NDArrayIndex.all()));
                long voxels = size * h * w;
                // β = 0 for the first slab of the first example, 1 after: the sum over slabs and examples in place
                Nd4j.gemm(dSlab.reshape('c', oc, voxels), col.reshape('c', taps, voxels), gW, false, true, 1.0,
                        first ? 0.0 : 1.0);
                first = false;
            }
        }
        if (biasGrad != null) {
            BiasGradient.sumInto(delta, biasGrad);
        }
    }

    /** DL4J's {@code [C_out, C_in, 1, 1, 1]} weights (or their gradient) as the matrix {@code [C_out, C_in]}. */
    private static INDArray matrix(INDArray w) {
        return w.reshape('c', w.size(0), w.size(1));
    }

    /** Example {@code e} of an NCDHW array as the matrix {@code [C, D·H·W]} (a view when the example is contiguous). */
    private static INDArray voxelMatrix(INDArray a, long e) {
        INDArray ex = a.slice(e);
        return ex.reshape('c', ex.size(0), ex.length() / ex.size(0));
    }

    private static void conv(INDArray x, INDArray w, INDArray bias, INDArray z, int[] args) {
        INDArray[] inputs = bias != null ? new INDArray[] {x, w, bias} : new INDArray[] {x, w};
        Nd4j.exec(DynamicCustomOp.builder("conv3dnew").addInputs(inputs).addOutputs(z).addIntegerArguments(args)
                .callInplace(false).build());
    }

    /** A ReLU without cap, threshold or negative slope: a &gt; 0 exactly where z &gt; 0. */
    private static boolean plainRelu(IActivation a) {
        if (a.getClass() != ActivationReLU.class) {
            return false;
        }
        ActivationReLU r = (ActivationReLU) a;
        return r.getMax() == null && (r.getThreshold() == null || r.getThreshold() == 0.0)
                && (r.getNegativeSlope() == null || r.getNegativeSlope() == 0.0);
    }

    @Override
    public INDArray activate(boolean training, LayerWorkspaceMgr workspaceMgr) {
        forwardOutput = null;
        INDArray a = super.activate(training, workspaceMgr);
        if (training && plainRelu(layerConf().getActivationFn()) && a.rank() == 5) {
            forwardOutput = ForwardCarry.of(this, a);
        }
        return a;
    }

    /** The forward output if it belongs to the current input (see {@link #forwardOutput}), else null. */
    private INDArray forwardOutput() {
        return ForwardCarry.validFor(forwardOutput, this);
    }

    @Override
    public void clear() {
        super.clear();
        forwardOutput = null;
    }

    @Override
    public Pair<Gradient, INDArray> backpropGradient(INDArray epsilon, LayerWorkspaceMgr workspaceMgr) {
        assertInputSet(true);
        INDArray x = input.castTo(dataType);
        if (x.rank() != 5) {
            return super.backpropGradient(epsilon, workspaceMgr);
        }
        INDArray weights = getParamWithNoise(Convolution3DParamInitializer.WEIGHT_KEY, true, workspaceMgr);
        boolean hasBias = conf3d().hasBias();
        INDArray bias = hasBias ? getParamWithNoise(Convolution3DParamInitializer.BIAS_KEY, true, workspaceMgr) : null;
        INDArray output = forwardOutput();
        INDArray delta;
        if (output != null) {
            // ActivationReLU.backprop writes ε where its argument is > 0 into a new array; a itself is not changed
            delta = layerConf().getActivationFn().backprop(output, epsilon.castTo(dataType)).getFirst();
            forwardOutputUses++;
        } else {
            delta = NativeConvolution2D.deltaThroughActivation(layerConf().getActivationFn(),
                    epsilon.castTo(dataType), () -> preOutput(true, true, workspaceMgr).getFirst());
        }

        boolean inputGradient = inputGradient();
        // without an input gradient, ∂L/∂x is not computed where that can be skipped, and lands in scratch memory
        // where the op computes it anyway (libnd4j's conv3dnew_bp)
        INDArray gradInput = inputGradient
                ? workspaceMgr.createUninitialized(ArrayType.ACTIVATION_GRAD, dataType, x.shape(), 'c') : null;
        INDArray weightGrad = gradientViews.get(Convolution3DParamInitializer.WEIGHT_KEY);
        INDArray biasGrad = hasBias ? gradientViews.get(Convolution3DParamInitializer.BIAS_KEY) : null;

        if (pointwise()) {
            INDArray w2 = matrix(weights);
            INDArray gW2 = matrix(weightGrad);
            for (long e = 0; e < x.size(0); e++) {
                INDArray d2 = voxelMatrix(delta, e);
                if (gradInput != null) {
                    Nd4j.gemm(w2, d2, voxelMatrix(gradInput, e), true, false, 1.0, 0.0);
                }
                // ∂L/∂W accumulates over the batch in place: β = 0 for the first example, 1 after
                Nd4j.gemm(d2, voxelMatrix(x, e), gW2, false, true, 1.0, e == 0 ? 0.0 : 1.0);
            }
            if (hasBias) {
                BiasGradient.sumInto(delta, biasGrad);
            }
            return result(weightGrad, biasGrad, gradInput);
        }
        if (singleChannelCase(weights)) {
            singleChannelBackward(x, weights, delta, gradInput, weightGrad, biasGrad, workspaceMgr);
            return result(weightGrad, biasGrad, gradInput);
        }
        Geometry g = geometry(x);
        long n = x.size(0);
        long ic = weights.size(1);
        long oc = weights.size(0);
        int planes = planesPerSlab(x, ic, oc);
        long depth = x.size(ncdhw() ? 2 : 1);
        DnnlConvolution oneDnn = dnnl();
        if (oneDnn != null && planes >= depth) {
            // one example at a time (blocked copies of one example, the same scratch for each); oneDNN overwrites
            // its weight and bias gradients, so examples after the first write scratch that is added
            DnnlConvolution.Geometry dg = dnnlGeometry(x, weights, g);
            DnnlConvolution.Scratch scratch = new DnnlConvolution.Scratch(workspaceMgr);
            GradientSum sum = new GradientSum(weightGrad, biasGrad, workspaceMgr);
            for (long e = 0; e < n; e++) {
                oneDnn.backward(dg, example(x, e), weights, example(delta, e),
                        gradInput == null ? null : example(gradInput, e), sum.weights(), sum.bias(), scratch);
                sum.add();
            }
            return result(weightGrad, biasGrad, gradInput);
        }
        if (gradInput == null) {
            gradInput = workspaceMgr.createUninitialized(ArrayType.BP_WORKING_MEM, dataType, x.shape(), 'c');
        }
        INDArray w = opWeights(weights);
        int p = (conf3d().getKernelSize()[0] - 1) / 2;
        GradientSum sum = new GradientSum(weightGrad, biasGrad, workspaceMgr);
        boolean whole = planes >= depth;
        // one pair of buffers for every slab (a workspace only frees at the end of its scope)
        long maxPlanes = Math.min(depth, planes + 2L * p);
        INDArray gOutBuffer = whole ? null : workspaceMgr.createUninitialized(ArrayType.BP_WORKING_MEM, dataType,
                new long[] {1, oc, maxPlanes, delta.size(3), delta.size(4)}, 'c');
        INDArray gInBuffer = whole ? null : workspaceMgr.createUninitialized(ArrayType.BP_WORKING_MEM, dataType,
                new long[] {1, ic, maxPlanes, x.size(3), x.size(4)}, 'c');
        for (long e = 0; e < n; e++) {
            if (!whole) {
                example(gradInput, e).assign(0);
            }
            for (long d0 = 0; d0 < depth; d0 += planes) {
                long d1 = Math.min(depth, d0 + planes);
                long a = whole ? 0 : Math.max(0, d0 - p);
                long b = whole ? depth : Math.min(depth, d1 + p);
                INDArray in = whole ? example(x, e) : depthSlab(x, e, a, b);
                INDArray gOut;
                INDArray gIn;
                int[] args;
                if (whole) {
                    gOut = example(delta, e);
                    gIn = example(gradInput, e);
                    args = intArgs(g.pad());
                } else {
                    gOut = depthSlab(gOutBuffer, 0, 0, b - a).assign(0);
                    depthSlab(gOut, 0, d0 - a, d0 - a + (d1 - d0)).assign(depthSlab(delta, e, d0, d1));
                    gIn = depthSlab(gInBuffer, 0, 0, b - a);
                    args = intArgs(new int[] {p, g.pad()[1], g.pad()[2]});
                }
                INDArray gW = sum.weights();
                INDArray gB = sum.bias();
                DynamicCustomOp.DynamicCustomOpsBuilder op = DynamicCustomOp.builder("conv3dnew_bp").callInplace(false)
                        .addIntegerArguments(args);
                if (hasBias) {
                    op.addInputs(in, w, bias, gOut).addOutputs(gIn, opWeights(gW), gB);
                } else {
                    op.addInputs(in, w, gOut).addOutputs(gIn, opWeights(gW));
                }
                Nd4j.exec(op.build());
                if (!whole) {
                    depthSlab(gradInput, e, a, b).addi(gIn);
                }
                sum.add();
            }
        }
        return result(weightGrad, biasGrad, gradInput);
    }

    /**
     * ∂L/∂W and ∂L/∂b summed over calls that each overwrite their outputs (oneDNN per example, conv3dnew_bp per
     * example and slab): the first call writes the gradient views, each later one a scratch pair that {@link #add}
     * adds to them, in call order. One pair serves every later call (a workspace frees only at the end of its
     * scope), allocated at the second call, so a single call allocates none.
     */
    private final class GradientSum {
        private final INDArray weightGrad;
        private final INDArray biasGrad;
        private final LayerWorkspaceMgr workspaceMgr;
        private INDArray wPart;
        private INDArray bPart;
        private boolean first = true;

        GradientSum(INDArray weightGrad, INDArray biasGrad, LayerWorkspaceMgr workspaceMgr) {
            this.weightGrad = weightGrad;
            this.biasGrad = biasGrad;
            this.workspaceMgr = workspaceMgr;
        }

        /** Where the next call writes ∂L/∂W. */
        INDArray weights() {
            return first ? weightGrad : parts()[0];
        }

        /** Where the next call writes ∂L/∂b (null without a bias). */
        INDArray bias() {
            return first ? biasGrad : parts()[1];
        }

        private INDArray[] parts() {
            if (wPart == null) {
                wPart = workspaceMgr.createUninitialized(ArrayType.BP_WORKING_MEM, dataType, weightGrad.shape(), 'c');
                bPart = biasGrad == null ? null : workspaceMgr.createUninitialized(ArrayType.BP_WORKING_MEM,
                        dataType, biasGrad.shape(), 'c');
            }
            return new INDArray[] {wPart, bPart};
        }

        /** After a call: adds its scratch to the gradient views (nothing after the first call, which wrote them). */
        void add() {
            if (!first) {
                weightGrad.addi(wPart);
                if (biasGrad != null) {
                    biasGrad.addi(bPart);
                }
            }
            first = false;
        }
    }

    /** DL4J's gradient of the layer (bias if any, then weights) and ∂L/∂x (null without an input gradient). */
    private Pair<Gradient, INDArray> result(INDArray weightGrad, INDArray biasGrad, INDArray gradInput) {
        Gradient gradient = new DefaultGradient();
        if (biasGrad != null) {
            gradient.setGradientFor(Convolution3DParamInitializer.BIAS_KEY, biasGrad);
        }
        gradient.setGradientFor(Convolution3DParamInitializer.WEIGHT_KEY, weightGrad, 'c');
        weightNoiseParams.clear();
        // without an input gradient (the configuration's flag) none is returned, as NativeConvolution2D does
        return new Pair<>(gradient, gradInput == null || !inputGradient() ? null : backpropDropOutIfPresent(gradInput));
    }
}
