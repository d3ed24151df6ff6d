package org.gradsurgery.layers.impl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.workspace.ArrayType;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.DynamicCustomOp;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * {@link DnnlConvolution} (oneDNN, FLOAT), 2D and 3D, against libnd4j's {@code conv2d}/{@code conv2d_bp} and
 * {@code conv3dnew}/{@code conv3dnew_bp} in DOUBLE (their own loops, which {@code NativeConvolution2DTest} and
 * {@code NativeConvolution3DTest} check against DL4J and {@code LayerGradientCheckTest} against finite
 * differences): outputs and all three gradients agree to float rounding, relative 1e-5 of each result's largest
 * magnitude. Also: operands that are views with offsets and odd strides, the plan cache (one plan per direction
 * and geometry, reused; bounded, evicting without breaking results), and no gradient input where none is wanted.
 */
class DnnlConvolutionTest {

    private static final LayerWorkspaceMgr NO_WS = LayerWorkspaceMgr.noWorkspaces();

    /**
     * One convolution: N, C, O, D (0 for 2D), H, W, kernel, stride, dilation, top/left padding, bias, format (NCHW
     * stands for NCDHW in 3D, NHWC for NDHWC).
     */
    private record Shape(int n, int c, int o, int depth, int h, int w, int k, int s, int d, int pad, boolean bias,
                         CNN2DFormat format) {
        Shape(int n, int c, int o, int h, int w, int k, int s, int d, int pad, boolean bias, CNN2DFormat format) {
            this(n, c, o, 0, h, w, k, s, d, pad, bias, format);
        }

        boolean is3d() {
            return depth > 0;
        }

        int outD() {
            return (depth + 2 * pad - (k - 1) * d - 1) / s + 1;
        }

        int outH() {
            return (h + 2 * pad - (k - 1) * d - 1) / s + 1;
        }

        int outW() {
            return (w + 2 * pad - (k - 1) * d - 1) / s + 1;
        }

        DnnlConvolution.Geometry geometry() {
            if (is3d()) {
                return new DnnlConvolution.Geometry(n, c, o, new long[] {depth, h, w}, new long[] {outD(), outH(), outW()},
                        new int[] {k, k, k}, new int[] {s, s, s}, new int[] {d, d, d}, new int[] {pad, pad, pad}, bias,
                        format == CNN2DFormat.NHWC);
            }
            return DnnlConvolution.Geometry.of2d(n, c, o, h, w, outH(), outW(), k, k, s, s, d, d, pad, pad, bias,
                    format);
        }

        long[] in() {
            if (is3d()) {
                return format == CNN2DFormat.NCHW ? new long[] {n, c, depth, h, w} : new long[] {n, depth, h, w, c};
            }
            return format == CNN2DFormat.NCHW ? new long[] {n, c, h, w} : new long[] {n, h, w, c};
        }

        long[] out() {
            if (is3d()) {
                return format == CNN2DFormat.NCHW ? new long[] {n, o, outD(), outH(), outW()}
                        : new long[] {n, outD(), outH(), outW(), o};
            }
            return format == CNN2DFormat.NCHW ? new long[] {n, o, outH(), outW()} : new long[] {n, outH(), outW(), o};
        }

        long[] weights() {
            return is3d() ? new long[] {o, c, k, k, k} : new long[] {o, c, k, k};
        }

        int[] args() {
            if (is3d()) {
                return new int[] {k, k, k, s, s, s, pad, pad, pad, d, d, d, 0, format == CNN2DFormat.NCHW ? 0 : 1};
            }
            return new int[] {k, k, s, s, pad, pad, d, d, 0, format == CNN2DFormat.NCHW ? 0 : 1, 1};
        }
    }

    private static List<Shape> shapes() {
        List<Shape> out = new ArrayList<>();
        for (CNN2DFormat f : CNN2DFormat.values()) {
            out.add(new Shape(2, 3, 4, 7, 6, 3, 1, 1, 1, true, f));     // "same", the U-Net's
            out.add(new Shape(2, 3, 4, 7, 6, 3, 2, 1, 1, false, f));    // strided, right padding 1 ≠ left
            out.add(new Shape(2, 3, 4, 7, 6, 2, 2, 1, 0, true, f));     // even kernel, stride = kernel
            out.add(new Shape(2, 3, 4, 7, 6, 3, 1, 2, 2, true, f));     // dilated
            out.add(new Shape(2, 16, 2, 9, 8, 1, 1, 1, 0, true, f));    // 1×1, the logits layer
            out.add(new Shape(3, 16, 32, 12, 10, 3, 1, 1, 1, true, f)); // blocked channels
            out.add(new Shape(2, 1, 16, 10, 10, 3, 1, 1, 1, true, f));  // one input channel, the first layer
            // 3D (NCDHW, NDHWC)
            out.add(new Shape(2, 3, 4, 5, 6, 4, 3, 1, 1, 1, true, f));     // "same", the U-Net's
            out.add(new Shape(2, 3, 4, 5, 6, 4, 3, 2, 1, 1, false, f));    // strided
            out.add(new Shape(2, 3, 4, 7, 6, 7, 3, 1, 2, 2, true, f));     // dilated
            out.add(new Shape(2, 16, 8, 4, 5, 6, 3, 1, 1, 1, true, f));    // blocked channels
            out.add(new Shape(1, 8, 2, 4, 5, 6, 1, 1, 1, 0, true, f));     // 1×1×1
            out.add(new Shape(2, 1, 8, 5, 6, 5, 3, 1, 1, 1, true, f));     // one input channel
        }
        return out;
    }

    /** Host memory only: on another backend (-Pcuda) the layer keeps libnd4j's ops and only the last test runs. */
    private static void assumeCpu() {
        assumeTrue(DnnlConvolution.applies(DataType.FLOAT), "oneDNN's CPU path does not apply on this backend");
    }

    @Test
    void matchesLibnd4jInDoubleForEveryShape() {
        assumeCpu();
        for (Shape s : shapes()) {
            for (boolean inputGradient : new boolean[] {true, false}) {
                check(s, inputGradient, false);
            }
        }
    }

    @Test
    void operandsMayBeViewsWithOffsets() {
        assumeCpu();
        for (Shape s : shapes()) {
            check(s, true, true);
        }
    }

    @Test
    void plansAreBuiltOncePerDirectionAndGeometryAndBounded() {
        assumeCpu();
        DnnlConvolution conv = new DnnlConvolution();
        Shape s = new Shape(2, 3, 4, 7, 6, 3, 1, 1, 1, true, CNN2DFormat.NCHW);
        Operands a = new Operands(s, DataType.FLOAT, false);
        long before = DnnlConvolution.plansBuilt();
        for (int i = 0; i < 5; i++) {
            conv.forward(s.geometry(), a.x, a.w, a.b, a.z, NO_WS);
            conv.backward(s.geometry(), a.x, a.w, a.delta, a.gx, a.gw, a.gb, NO_WS);
        }
        assertEquals(2, DnnlConvolution.plansBuilt() - before, "one forward and one backward plan, reused");

        // more geometries than the cache holds: the oldest are evicted (and destroyed), results stay right
        for (int h = 5; h < 5 + DnnlConvolution.MAX_PLANS + 2; h++) {
            Shape other = new Shape(2, 3, 4, h, 6, 3, 1, 1, 1, true, CNN2DFormat.NCHW);
            Operands o = new Operands(other, DataType.FLOAT, false);
            conv.forward(other.geometry(), o.x, o.w, o.b, o.z, NO_WS);
        }
        assertTrue(conv.plans() <= DnnlConvolution.MAX_PLANS, conv.plans() + " plans");
        check(s, true, false, conv);
        conv.close();
        assertEquals(0, conv.plans());
    }

    /**
     * The layer takes this path in FLOAT on the CPU (one plan per direction) and libnd4j's ops in DOUBLE (none), and
     * on other backends always libnd4j's; in 3D one example at a time, still one plan per direction (batch-1
     * geometries, whatever the batch).
     */
    @Test
    void theLayerRunsItInFloatOnly() {
        for (int dims : new int[] {2, 3}) {
            for (DataType type : new DataType[] {DataType.FLOAT, DataType.DOUBLE}) {
                org.deeplearning4j.nn.conf.layers.Layer conf = dims == 2
                        ? new org.gradsurgery.layers.NativeConvolution2D.Builder(3, 3).nIn(2).nOut(4)
                        .convolutionMode(ConvolutionMode.Same).build()
                        : new org.gradsurgery.layers.NativeConvolution3D.Builder(3, 3, 3).nIn(2).nOut(4)
                        .convolutionMode(ConvolutionMode.Same).build();
                NeuralNetConfiguration nnc = new NeuralNetConfiguration.Builder().dataType(type).layer(conf).build();
                long n = nnc.getLayer().initializer().numParams(nnc);
                Layer layer = nnc.getLayer().instantiate(nnc, Collections.emptyList(), 0, Nd4j.create(type, 1, n),
                        true, type);
                layer.setBackpropGradientsViewArray(Nd4j.create(type, 1, n));
                long before = DnnlConvolution.plansBuilt();
                for (int i = 0; i < 3; i++) {
                    INDArray y = layer.activate(dims == 2 ? Nd4j.rand(type, 2, 2, 6, 5)
                            : Nd4j.rand(type, 3, 2, 4, 6, 5), true, NO_WS);
                    layer.backpropGradient(Nd4j.rand(type, y.shape()), NO_WS);
                }
                assertEquals(DnnlConvolution.applies(type) ? 2 : 0, DnnlConvolution.plansBuilt() - before,
                        dims + "D " + type);
            }
        }
    }

    /**
     * Whether oneDNN 2.5 has a CPU Winograd convolution here: its only one, {@code jit_wino_4x3}, needs AVX-512
     * ("avx512_core": F, BW, VL, DQ), read from {@code /proc/cpuinfo} independently of oneDNN, unless oneDNN is told
     * to use less ({@code ONEDNN_MAX_CPU_ISA} / {@code DNNL_MAX_CPU_ISA}). On other machines every plan must be direct.
     */
    static boolean winogradExpected() {
        if (System.getenv("ONEDNN_MAX_CPU_ISA") != null || System.getenv("DNNL_MAX_CPU_ISA") != null) {
            return false;
        }
        try {
            String info = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/cpuinfo"));
            for (String flag : new String[] {"avx512f", "avx512bw", "avx512vl", "avx512dq"}) {
                if (!java.util.regex.Pattern.compile("\\b" + flag + "\\b").matcher(info).find()) {
                    return false;
                }
            }
            return true;
        } catch (java.io.IOException e) {
            return false;
        }
    }

    /**
     * Which convolutions run oneDNN's Winograd algorithm: the 2D 3×3 stride-1 ones with at least 16 input channels
     * (whose results {@link #matchesLibnd4jInDoubleForEveryShape} holds to the same 1e-5 as the direct ones) on a
     * machine where oneDNN has it ({@link #winogradExpected}); not 3D, 1×1, strided or dilated ones, nor those with
     * 1 or 3 input channels.
     */
    @Test
    void winogradForTwoDimensionalThreeByThreeOnly() {
        assumeCpu();
        boolean available = winogradExpected();
        for (Shape s : shapes()) {
            boolean expected = available && !s.is3d() && s.k() == 3 && s.s() == 1 && s.d() == 1
                    && s.c() >= DnnlConvolution.WINOGRAD_MIN_INPUT_CHANNELS;
            long before = DnnlConvolution.winogradPlans();
            try (DnnlConvolution conv = new DnnlConvolution()) {
                Operands a = new Operands(s, DataType.FLOAT, false);
                conv.forward(s.geometry(), a.x, a.w, a.b, a.z, NO_WS);
            }
            assertEquals(expected ? 1 : 0, DnnlConvolution.winogradPlans() - before, s.toString());
        }
    }

    /**
     * The layer's DL4J {@code cudnnAlgoMode} chooses: {@code NO_WORKSPACE} builds no Winograd plan for a shape that
     * takes Winograd by default ({@code PREFER_FASTEST}, where the machine has it), and both give the DOUBLE layer's
     * output to the same 1e-5; the mode survives the JSON round trip.
     */
    @Test
    void noWorkspaceAlgoModeRunsTheDirectAlgorithm() {
        assumeCpu();
        for (ConvolutionLayer.AlgoMode mode : new ConvolutionLayer.AlgoMode[] {ConvolutionLayer.AlgoMode.NO_WORKSPACE,
                ConvolutionLayer.AlgoMode.PREFER_FASTEST}) {
            org.gradsurgery.layers.NativeConvolution2D conf = (org.gradsurgery.layers.NativeConvolution2D)
                    new org.gradsurgery.layers.NativeConvolution2D.Builder(3, 3).nIn(16).nOut(16)
                            .convolutionMode(ConvolutionMode.Same).activation(Activation.IDENTITY).cudnnAlgoMode(mode)
                            .build();
            NeuralNetConfiguration nnc = new NeuralNetConfiguration.Builder().dataType(DataType.FLOAT).layer(conf)
                    .build();
            assertEquals(mode, ((ConvolutionLayer) NeuralNetConfiguration.fromJson(nnc.toJson()).getLayer())
                    .getCudnnAlgoMode());
            long n = conf.initializer().numParams(nnc);
            Layer f = conf.instantiate(nnc, Collections.emptyList(), 0, Nd4j.create(DataType.FLOAT, 1, n), true,
                    DataType.FLOAT);
            NeuralNetConfiguration dc = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE)
                    .layer(conf.clone()).build();
            Layer d = dc.getLayer().instantiate(dc, Collections.emptyList(), 0, f.params().castTo(DataType.DOUBLE),
                    false, DataType.DOUBLE);
            INDArray x = Nd4j.rand(DataType.DOUBLE, 2, 16, 12, 10).subi(0.5);
            long before = DnnlConvolution.winogradPlans();
            INDArray yf = f.activate(x.castTo(DataType.FLOAT), false, NO_WS);
            boolean winograd = mode != ConvolutionLayer.AlgoMode.NO_WORKSPACE && winogradExpected();
            assertEquals(winograd ? 1 : 0, DnnlConvolution.winogradPlans() - before, mode.toString());
            INDArray yd = d.activate(x, false, NO_WS);
            assertEquals(0, yf.castTo(DataType.DOUBLE).sub(yd).amaxNumber().doubleValue(),
                    1e-5 * Math.max(1, yd.amaxNumber().doubleValue()), mode.toString());
        }
    }

    /**
     * A forward pass that keeps x's reordered copy: the next backward pass with the same x reads it (where the
     * weight gradient wants oneDNN's layout, blocked channels here) and gives the same gradients to the bit as a
     * backward pass that reorders x itself (both are the same reorder of the same values); a backward pass with
     * another x, or after a forward pass that kept nothing, reorders x as before.
     */
    @Test
    void aKeptInputCopyGivesTheSameGradientsToTheBit() {
        assumeCpu();
        for (Shape s : shapes()) {
            if (s.is3d()) {
                continue;
            }
            for (boolean views : new boolean[] {false, true}) {
                Operands plain = new Operands(s, DataType.FLOAT, views);
                Operands kept = new Operands(s, DataType.FLOAT, views);
                try (DnnlConvolution a = new DnnlConvolution(); DnnlConvolution b = new DnnlConvolution()) {
                    a.forward(s.geometry(), plain.x, plain.w, plain.b, plain.z, NO_WS, false);
                    a.backward(s.geometry(), plain.x, plain.w, plain.delta, plain.gx, plain.gw, plain.gb, NO_WS);
                    b.forward(s.geometry(), kept.x, kept.w, kept.b, kept.z, NO_WS, true);
                    b.backward(s.geometry(), kept.x, kept.w, kept.delta, kept.gx, kept.gw, kept.gb, NO_WS);
                    String what = s + (views ? " on views" : "");
                    assertEquals(0, a.keptInputsRead, what);
                    if (s.c() == 16 && s.k() == 3) {
                        assertEquals(1, b.keptInputsRead, what + ": blocked channels, the copy is read");
                    }
                    assertArrayEquals(bits(plain.gw), bits(kept.gw), what + ": dL/dW");
                    assertArrayEquals(bits(plain.gx), bits(kept.gx), what + ": dL/dx");
                    if (s.bias()) {
                        assertArrayEquals(bits(plain.gb), bits(kept.gb), what + ": dL/db");
                    }
                    // another x: the copy is not x's, so it is not read
                    b.forward(s.geometry(), kept.x, kept.w, kept.b, kept.z, NO_WS, true);
                    long read = b.keptInputsRead;
                    b.backward(s.geometry(), kept.x.dup(), kept.w, kept.delta, kept.gx, kept.gw, kept.gb, NO_WS);
                    assertEquals(read, b.keptInputsRead, what);
                    assertArrayEquals(bits(plain.gw), bits(kept.gw), what + ": dL/dW, another x");
                }
            }
        }
    }

    private static int[] bits(INDArray a) {
        return BlockTransposedConvolutionTest.bits(a);
    }

    /** A scratch hands out the same arrays again after a rewind, and a larger one where a call needs more. */
    @Test
    void scratchIsReusedAcrossCalls() {
        DnnlConvolution.Scratch s = new DnnlConvolution.Scratch(NO_WS);
        INDArray a = s.take(ArrayType.BP_WORKING_MEM, 100);
        INDArray b = s.take(ArrayType.BP_WORKING_MEM, 50);
        INDArray f = s.take(ArrayType.FF_WORKING_MEM, 50);
        s.rewind();
        assertSame(a, s.take(ArrayType.BP_WORKING_MEM, 100));
        assertSame(b, s.take(ArrayType.BP_WORKING_MEM, 40));
        assertSame(f, s.take(ArrayType.FF_WORKING_MEM, 50));
        s.rewind();
        INDArray bigger = s.take(ArrayType.BP_WORKING_MEM, 200);
        assertTrue(bigger != a && bigger.length() >= 200);
    }

    private static void check(Shape s, boolean inputGradient, boolean views) {
        try (DnnlConvolution conv = new DnnlConvolution()) {
            check(s, inputGradient, views, conv);
        }
    }

    private static void check(Shape s, boolean inputGradient, boolean views, DnnlConvolution conv) {
        Operands f = new Operands(s, DataType.FLOAT, views);
        Operands d = f.asDouble();
        // libnd4j's 3D ops take the weights as [kD, kH, kW, iC, oC]: views of DL4J's [oC, iC, kD, kH, kW]
        INDArray w = s.is3d() ? d.w.permute(2, 3, 4, 1, 0) : d.w;
        INDArray gw = s.is3d() ? d.gw.permute(2, 3, 4, 1, 0) : d.gw;
        Nd4j.exec(DynamicCustomOp.builder(s.is3d() ? "conv3dnew" : "conv2d").addInputs(s.bias
                ? new INDArray[] {d.x, w, d.b} : new INDArray[] {d.x, w}).addOutputs(d.z)
                .addIntegerArguments(s.args()).build());
        Nd4j.exec(DynamicCustomOp.builder(s.is3d() ? "conv3dnew_bp" : "conv2d_bp")
                .addInputs(s.bias ? new INDArray[] {d.x, w, d.b, d.delta} : new INDArray[] {d.x, w, d.delta})
                .addOutputs(s.bias ? new INDArray[] {d.gx, gw, d.gb} : new INDArray[] {d.gx, gw})
                .addIntegerArguments(s.args()).build());

        conv.forward(s.geometry(), f.x, f.w, f.b, f.z, NO_WS);
        conv.backward(s.geometry(), f.x, f.w, f.delta, inputGradient ? f.gx : null, f.gw, f.gb, NO_WS);
        String what = s + (inputGradient ? "" : " without input gradient") + (views ? " on views" : "");
        assertClose(d.z, f.z, what + ": z");
        assertClose(d.gw, f.gw, what + ": dL/dW");
        if (s.bias) {
            assertClose(d.gb, f.gb, what + ": dL/db");
        }
        if (inputGradient) {
            assertClose(d.gx, f.gx, what + ": dL/dx");
        } else {
            assertEquals(0, f.gx.amaxNumber().doubleValue(), what + ": dL/dx untouched");
        }
    }

    private static void assertClose(INDArray expected, INDArray actual, String what) {
        double scale = Math.max(1e-30, expected.amaxNumber().doubleValue());
        double err = actual.castTo(DataType.DOUBLE).sub(expected).amaxNumber().doubleValue();
        assertTrue(err <= 1e-5 * scale, what + ": max |error| " + err + " against max |value| " + scale);
    }

    /** The operands of one convolution; as views, each is an interior block of a larger array (offset, strides). */
    private static final class Operands {
        final INDArray x;
        final INDArray w;
        final INDArray b;
        final INDArray delta;
        final INDArray z;
        final INDArray gx;
        final INDArray gw;
        final INDArray gb;

        Operands(Shape s, DataType type, boolean views) {
            Nd4j.getRandom().setSeed(42 + s.hashCode());
            x = random(type, views, s.in());
            w = random(type, views, s.weights());
            b = s.bias() ? random(type, views, 1, s.o()) : null;
            delta = random(type, views, s.out());
            z = zeros(type, views, s.out());
            gx = zeros(type, views, s.in());
            gw = zeros(type, views, s.weights());
            gb = s.bias() ? zeros(type, views, 1, s.o()) : null;
        }

        private Operands(INDArray... a) {
            x = a[0];
            w = a[1];
            b = a[2];
            delta = a[3];
            z = a[4];
            gx = a[5];
            gw = a[6];
            gb = a[7];
        }

        Operands asDouble() {
            return new Operands(d(x), d(w), d(b), d(delta), d(z), d(gx), d(gw), d(gb));
        }

        private static INDArray d(INDArray a) {
            return a == null ? null : a.castTo(DataType.DOUBLE).dup('c');
        }

        private static INDArray random(DataType type, boolean view, long... shape) {
            return block(Nd4j.rand(DataType.DOUBLE, grown(view, shape)).subi(0.5).castTo(type), view, shape);
        }

        private static INDArray zeros(DataType type, boolean view, long... shape) {
            return block(Nd4j.zeros(type, grown(view, shape)), view, shape);
        }

        private static long[] grown(boolean view, long[] shape) {
            long[] g = shape.clone();
            if (view) {
                for (int i = 0; i < g.length; i++) {
                    g[i] += 2;
                }
            }
            return g;
        }

        /** The interior block [1, 1 + shape) of a grown array: a view with an offset and the big array's strides. */
        private static INDArray block(INDArray a, boolean view, long[] shape) {
            if (!view) {
                return a;
            }
            INDArrayIndex[] idx = new INDArrayIndex[shape.length];
            for (int i = 0; i < shape.length; i++) {
                idx[i] = NDArrayIndex.interval(1, 1 + shape[i]);
            }
            return a.get(idx);
        }
    }
}
