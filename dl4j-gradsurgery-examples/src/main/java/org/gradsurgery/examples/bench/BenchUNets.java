package org.gradsurgery.examples.bench;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.WorkspaceMode;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.model.InPlaceGradientUpdater;
import org.gradsurgery.model.UNet;

/**
 * The benchmark U-Nets, built by {@link UNet} (so the benchmark times the networks users train) and
 * mirrored layer for layer by {@code bench/peer_unet.py}: per level two blocks of 3×3(×3) convolution
 * ({@code Same}, with bias) → normalisation → ReLU; 2×2(×2) max-pooling down; 2×2(×2) stride-2 transposed
 * convolution (or nearest upsampling + 3×3(×3) convolution) up; channel concatenation [up, skip]; a 1×1(×1)
 * convolution to the classes; softmax with soft Dice ({@code LossDice}); Adam(1e-3); float32.
 * <ul>
 *   <li>2D: 4 levels, 16 base filters doubling (16, 32, 64, 128), batch norm, input 1×128×128, 2 classes;</li>
 *   <li>3D: 3 levels, 8 base filters (8, 16, 32), no normalisation, input 1×64³, 2 classes.</li>
 * </ul>
 */
final class BenchUNets {

    /**
     * Everything that shapes a benchmark network. {@code extent} is the spatial size of one input, one entry per
     * spatial axis (D, H, W in 3D; H, W in 2D): a cube or square of {@code --size}, or {@code --shape} in 3D.
     */
    record Spec(int dims, int levels, int baseFilters, int[] extent, int classes, UNet.Normalization norm,
                UNet.Upsampling upsampling, CNN2DFormat format, WorkspaceMode workspace) {
        Spec {
            if (dims != 2 && dims != 3) {
                throw new org.gradsurgery.InvalidInputException("--dims must be 2 or 3, got " + dims);
            }
            if (dims == 3 && format == CNN2DFormat.NHWC) {
                throw new org.gradsurgery.InvalidInputException("--format NHWC is 2D only (3D runs NCDHW)");
            }
            if (extent.length != dims) {
                throw new org.gradsurgery.InvalidInputException("--shape needs " + dims + " values (one per spatial "
                        + "axis), got " + java.util.Arrays.toString(extent));
            }
            int[] copy = extent.clone();
            int div = 1 << (levels - 1);
            boolean cube = java.util.Arrays.stream(copy).allMatch(e -> e == copy[0]);
            for (int e : copy) {
                if (e % div != 0) {
                    throw new org.gradsurgery.InvalidInputException((cube ? "--size " + e : "--shape "
                            + shapeText(copy, ",")) + " must be divisible by 2^(levels-1) = " + div);
                }
            }
            extent = copy;
        }

        /** A cube (3D) or square (2D) input of edge {@code size}. */
        Spec(int dims, int levels, int baseFilters, int size, int classes, UNet.Normalization norm,
             UNet.Upsampling upsampling, CNN2DFormat format, WorkspaceMode workspace) {
            this(dims, levels, baseFilters, cube(dims, size), classes, norm, upsampling, format, workspace);
        }

        private static int[] cube(int dims, int size) {
            int[] e = new int[dims == 3 ? 3 : 2];
            java.util.Arrays.fill(e, size);
            return e;
        }

        @Override
        public int[] extent() {
            return extent.clone();
        }

        /** Whether every spatial axis has the same size (the {@code --size} form). */
        boolean cubic() {
            return java.util.Arrays.stream(extent).allMatch(e -> e == extent[0]);
        }

        /** Voxels (pixels) of one input channel. */
        long voxels() {
            long v = 1;
            for (int e : extent) {
                v *= e;
            }
            return v;
        }

        /** The copy of this spec with another spatial extent. */
        Spec withExtent(int... other) {
            return new Spec(dims, levels, baseFilters, other, classes, norm, upsampling, format, workspace);
        }

        /** Issue 7's 2D network. */
        static Spec twoD() {
            return new Spec(2, 4, 16, 128, 2, UNet.Normalization.BATCH, UNet.Upsampling.TRANSPOSED_CONV,
                    CNN2DFormat.NCHW, WorkspaceMode.ENABLED);
        }

        /** Issue 7's 3D network. */
        static Spec threeD() {
            return new Spec(3, 3, 8, 64, 2, UNet.Normalization.NONE, UNet.Upsampling.TRANSPOSED_CONV,
                    CNN2DFormat.NCHW, WorkspaceMode.ENABLED);
        }

        long[] inputShape(int batch) {
            if (dims == 3) {
                return new long[]{batch, 1, extent[0], extent[1], extent[2]};
            }
            return format == CNN2DFormat.NCHW ? new long[]{batch, 1, extent[0], extent[1]}
                    : new long[]{batch, extent[0], extent[1], 1};
        }

        /** The channel axis of inputs and labels. */
        int channelAxis() {
            return dims == 2 && format == CNN2DFormat.NHWC ? 3 : 1;
        }

        String describe() {
            return String.format("%dD U-Net: %d levels, %d base filters, %s input, %d classes, norm %s, "
                            + "upsampling %s, format %s, workspaces %s", dims, levels, baseFilters,
                    dims == 3 && cubic() ? "1x" + extent[0] + "^3" : "1x" + shapeText(extent, "x"), classes, norm,
                    upsampling,
                    dims == 3 ? "NCDHW" : format, workspace);
        }
    }

    private BenchUNets() {
    }

    static String shapeText(int[] extent, String separator) {
        return java.util.Arrays.stream(extent).mapToObj(Integer::toString)
                .collect(java.util.stream.Collectors.joining(separator));
    }

    /** The network of {@code s}, initialised, with the updater {@link UNet#graph()} gives the networks users train. */
    static ComputationGraph graph(Spec s) {
        return graph(s, ConvolutionLayer.AlgoMode.PREFER_FASTEST);
    }

    /**
     * The same with every convolution's DL4J {@code cudnnAlgoMode} set to {@code mode} ({@code NO_WORKSPACE}: the
     * direct algorithm only, see {@code layers.impl.DnnlConvolution}).
     */
    static ComputationGraph graph(Spec s, ConvolutionLayer.AlgoMode mode) {
        ComputationGraphConfiguration conf = configuration(s);
        for (GraphVertex v : conf.getVertices().values()) {
            if (v instanceof LayerVertex lv && lv.getLayerConf().getLayer() instanceof ConvolutionLayer c) {
                c.setCudnnAlgoMode(mode);
            }
        }
        ComputationGraph net = new ComputationGraph(conf);
        net.init();
        return InPlaceGradientUpdater.install(net);
    }

    static ComputationGraphConfiguration configuration(Spec s) {
        UNet.Builder b = UNet.builder().spatialDims(s.dims()).inputChannels(1).numClasses(s.classes())
                .levels(s.levels()).baseFilters(s.baseFilters()).convsPerLevel(2).normalization(s.norm())
                .upsampling(s.upsampling()).seed(42);
        if (s.dims() == 2) {
            b.dataFormat(s.format()).inputSize(s.extent[0], s.extent[1]);
        } else {
            b.inputSize(s.extent[0], s.extent[1], s.extent[2]);
        }
        ComputationGraphConfiguration conf = b.build().configuration();
        conf.setTrainingWorkspaceMode(s.workspace());
        conf.setInferenceWorkspaceMode(s.workspace());
        return conf;
    }
}
