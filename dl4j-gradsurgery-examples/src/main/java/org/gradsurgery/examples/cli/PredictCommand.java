package org.gradsurgery.examples.cli;

import java.awt.image.BufferedImage;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import javax.imageio.ImageIO;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.Convolution3D;
import org.deeplearning4j.nn.conf.layers.Subsampling3DLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.data.Png;
import org.gradsurgery.data.Preprocessing;
import org.gradsurgery.data.Sample;
import org.gradsurgery.data.nifti.Nifti;
import org.gradsurgery.data.nifti.NiftiDataType;
import org.gradsurgery.data.nifti.NiftiImage;
import org.gradsurgery.data.AtomicFiles;
import org.gradsurgery.model.RunDirectory;
import org.gradsurgery.model.SlidingWindowInference;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.shade.jackson.databind.JsonNode;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code gradsurgery predict}: softmax probabilities and the argmax label map of a 2D model for a NIfTI volume (slice
 * by slice along the third axis) or a PNG image. The input is z-scored over the whole image, as the demo data are.
 */
@Command(name = "predict", mixinStandardHelpOptions = true,
        description = {"Predict with a saved model: a NIfTI volume (.nii/.nii.gz; 2D models slice by slice along axis 3, "
                + "3D models by sliding window) gives "
                + "probabilities.nii.gz [X,Y,Z,C] and labels.nii.gz; a PNG gives labels.png (grey = class index) and "
                + "probability_class<c>.png (0..255). The input is z-scored over the whole image, as in training."})
final class PredictCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = {"--model", "-m"}, required = true, paramLabel = "FILE", description = "A saved model.zip.")
    Path model;

    @Option(names = {"--input", "-i"}, required = true, paramLabel = "FILE",
            description = "Image to segment: .nii, .nii.gz or .png.")
    Path input;

    @Option(names = {"--out", "-o"}, required = true, paramLabel = "DIR", description = "Output directory.")
    Path out;

    @Option(names = "--batch-size", defaultValue = "8", paramLabel = "N",
            description = "Slices per forward pass (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--patch-size", split = ",", paramLabel = "P[,P,P]",
            description = "3D models: sliding-window size (default: the patch size in the model's config.json).")
    int[] patchSize;

    @Mixin
    Mirroring mirroring = new Mirroring();

    @Override
    public Integer call() throws Exception {
        if (batchSize < 1) {
            throw new IllegalArgumentException("--batch-size must be >= 1, got " + batchSize);
        }
        String name = input.getFileName().toString().toLowerCase(Locale.ROOT);
        boolean nifti = name.endsWith(".nii") || name.endsWith(".nii.gz");
        if (!nifti && !name.endsWith(".png")) {
            throw new IllegalArgumentException("--input: " + input + " must be a .nii, .nii.gz or .png file");
        }
        if (!Files.isRegularFile(input)) {
            throw new NoSuchFileException(input.toString());
        }
        ComputationGraph net = RunDirectory.loadModel(model, false);
        if (patchSize != null && !is3d(net)) {
            throw new IllegalArgumentException("--patch-size applies to 3D models; " + model + " is a 2D model");
        }
        int divisor = sizeDivisor(net);
        PrintStream printer = Console.stream(spec);
        if (nifti) {
            NiftiImage img = Nifti.read(input);
            INDArray x = img.data(DataType.FLOAT);
            if (x.rank() != 3) {
                throw new IllegalArgumentException("--input: " + input + " must be a 3D volume, got shape "
                        + java.util.Arrays.toString(x.shape()));
            }
            Sample s = Sample.of(input.getFileName().toString(), x.reshape(1, x.size(0), x.size(1), x.size(2)), null,
                    null, null);
            s = Preprocessing.zScore(Preprocessing.NormalizationRegion.ALL).apply(s, new SplittableRandom(0));
            if (is3d(net)) {
                predictVolume(net, s, img, printer);
                return 0;
            }
            List<Sample> slices = Preprocessing.slices(s, 2);
            INDArray probs = predict(net, slices, divisor, batchSize, mirroring);   // [Z, C, X, Y]
            INDArray volume = probs.permute(2, 3, 0, 1).dup('c');      // [X, Y, Z, C]
            INDArray labels = probs.argMax(1).permute(1, 2, 0).castTo(DataType.UINT8).dup('c');
            Files.createDirectories(out);
            Nifti.write(out.resolve("probabilities.nii.gz"), volume, img.header());
            Nifti.write(out.resolve("labels.nii.gz"), labels, img.header(), NiftiDataType.UINT8);
            printer.printf(Locale.ROOT, "wrote %s and %s (%d slices, %d classes%s)%n",
                    out.resolve("probabilities.nii.gz"), out.resolve("labels.nii.gz"), slices.size(), probs.size(1),
                    mirroring.active() ? ", mirrored: " + mirroring.passes(2) + " passes per slice" : "");
        } else {
            Sample s = Png.readGrey(input);
            s = Preprocessing.zScore(Preprocessing.NormalizationRegion.ALL).apply(s, new SplittableRandom(0));
            INDArray probs = predict(net, List.of(s), divisor, batchSize, mirroring);   // [1, C, H, W]
            INDArray labels = probs.argMax(1).get(NDArrayIndex.point(0));
            Files.createDirectories(out);
            writePng(out.resolve("labels.png"), labels, 1.0);
            for (int c = 0; c < probs.size(1); c++) {
                writePng(out.resolve("probability_class" + c + ".png"),
                        probs.get(NDArrayIndex.point(0), NDArrayIndex.point(c)), 255.0);
            }
            printer.printf(Locale.ROOT, "wrote %s and %d probability maps to %s%s%n", out.resolve("labels.png"),
                    probs.size(1), out, mirroring.active() ? " (mirrored: " + mirroring.passes(2) + " passes)" : "");
        }
        return 0;
    }

    /** Whether the network convolves in 3D (a U-Net built with spatialDims(3)). */
    static boolean is3d(ComputationGraph net) {
        for (GraphVertex v : net.getConfiguration().getVertices().values()) {
            if (v instanceof LayerVertex lv && lv.getLayerConf().getLayer() instanceof Convolution3D) {
                return true;
            }
        }
        return false;
    }

    /** A 3D model on a whole volume: Gaussian-weighted sliding windows of the training patch size. */
    private void predictVolume(ComputationGraph net, Sample s, NiftiImage img, PrintStream printer)
            throws IOException {
        int[] patch = patchSize;
        Path config = model.toAbsolutePath().getParent().resolve(RunDirectory.CONFIG);
        if (patch == null && Files.isRegularFile(config)) {
            JsonNode p = RunDirectory.readConfig(config.getParent()).path("data").path("patchSize");
            if (p.isArray() && p.size() == 3) {
                patch = new int[] {p.get(0).asInt(), p.get(1).asInt(), p.get(2).asInt()};
            }
        }
        if (patch == null) {
            throw new IllegalArgumentException("--patch-size is needed: " + model + " is a 3D model and its run "
                    + "directory records no patch size");
        }
        if (patch.length == 1) {
            patch = new int[] {patch[0], patch[0], patch[0]};
        }
        int divisor = sizeDivisor(net);
        for (int p : patch) {
            if (p < 1 || p % divisor != 0) {
                throw new IllegalArgumentException("--patch-size " + java.util.Arrays.toString(patch)
                        + ": every size must be a positive multiple of " + divisor + " for this model");
            }
        }
        int[] shape = s.shape();
        SlidingWindowInference swi = mirroring.build(SlidingWindowInference.builder().patchSize(patch));
        INDArray probs = swi
                .predict(net, s.image().reshape(1, 1, shape[0], shape[1], shape[2]))
                .get(NDArrayIndex.point(0));                                         // [C, X, Y, Z]
        INDArray volume = probs.permute(1, 2, 3, 0).dup('c');                   // [X, Y, Z, C]
        INDArray labels = probs.argMax(0).castTo(DataType.UINT8).dup('c');
        Files.createDirectories(out);
        Nifti.write(out.resolve("probabilities.nii.gz"), volume, img.header());
        Nifti.write(out.resolve("labels.nii.gz"), labels, img.header(), NiftiDataType.UINT8);
        printer.printf(Locale.ROOT, "wrote %s and %s (3D sliding window %s, %d classes%s)%n",
                out.resolve("probabilities.nii.gz"), out.resolve("labels.nii.gz"), java.util.Arrays.toString(patch),
                probs.size(0), swi.passesPerWindow() > 1 ? ", mirrored: " + swi.passesPerWindow()
                        + " passes per window" : "");
    }

    /** 2^(number of pooling layers): spatial sizes the U-Net accepts are multiples of it. */
    static int sizeDivisor(ComputationGraph net) {
        int pools = 0;
        for (GraphVertex v : net.getConfiguration().getVertices().values()) {
            if (v instanceof LayerVertex lv && (lv.getLayerConf().getLayer() instanceof SubsamplingLayer
                    || lv.getLayerConf().getLayer() instanceof Subsampling3DLayer)) {
                pools++;
            }
        }
        return 1 << pools;
    }

    /**
     * Probabilities {@code [n, C, H, W]} of 2D samples {@code [1, H, W]}, zero-padded (centred) to the divisor; with
     * mirroring, the mean over each padded slice and its flips ({@link Mirroring#wholeImages}).
     */
    static INDArray predict(ComputationGraph net, List<Sample> slices, int divisor, int batchSize,
                            Mirroring mirroring) {
        int[] shape = slices.get(0).shape();
        if (shape.length != 2 || slices.get(0).channels() != 1) {
            throw new IllegalArgumentException("predict: expected one-channel 2D slices, got " + slices.get(0));
        }
        int h = shape[0];
        int w = shape[1];
        int hp = (h + divisor - 1) / divisor * divisor;
        int wp = (w + divisor - 1) / divisor * divisor;
        int oh = (hp - h) / 2;
        int ow = (wp - w) / 2;
        INDArray result = null;
        for (int from = 0; from < slices.size(); from += batchSize) {
            int to = Math.min(slices.size(), from + batchSize);
            INDArray batch = Nd4j.zeros(DataType.FLOAT, to - from, 1, hp, wp);
            for (int i = from; i < to; i++) {
                batch.get(NDArrayIndex.point(i - from), NDArrayIndex.point(0), NDArrayIndex.interval(oh, oh + h),
                        NDArrayIndex.interval(ow, ow + w)).assign(slices.get(i).image().reshape(h, w));
            }
            INDArray full = mirroring.active() ? mirroring.wholeImages(net, batch) : net.outputSingle(false, batch);
            INDArray p = full.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(oh, oh + h),
                    NDArrayIndex.interval(ow, ow + w));
            if (result == null) {
                result = Nd4j.create(DataType.FLOAT, slices.size(), p.size(1), h, w);
            }
            result.get(NDArrayIndex.interval(from, to)).assign(p);
        }
        return result;
    }

    /** An 8-bit grey PNG of {@code round(v · scale)} (written atomically). */
    static void writePng(Path file, INDArray v, double scale) throws IOException {
        int h = (int) v.size(0);
        int w = (int) v.size(1);
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_BYTE_GRAY);
        WritableRaster r = img.getRaster();
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) {
                r.setSample(j, i, 0, (int) Math.max(0, Math.min(255, Math.round(v.getDouble(i, j) * scale))));
            }
        }
        AtomicFiles.write(file, tmp -> {
            if (!ImageIO.write(img, "png", tmp.toFile())) {
                throw new IOException("no PNG writer available");
            }
        });
    }
}
