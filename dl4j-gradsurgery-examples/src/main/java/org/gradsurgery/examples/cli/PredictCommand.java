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
import org.gradsurgery.InvalidInputException;
import org.gradsurgery.InvalidSettingException;
import org.gradsurgery.data.Png;
import org.gradsurgery.experiment.DataPlan;
import org.gradsurgery.experiment.ExperimentData;
import org.gradsurgery.experiment.ExperimentRunner;
import org.gradsurgery.experiment.ExperimentSpec;
import org.gradsurgery.data.Preprocessing;
import org.gradsurgery.data.Resample;
import org.gradsurgery.data.Sample;
import org.gradsurgery.data.Transform;
import org.gradsurgery.data.nifti.Nifti;
import org.gradsurgery.data.nifti.NiftiDataType;
import org.gradsurgery.data.nifti.NiftiImage;
import org.gradsurgery.io.AtomicFiles;
import org.gradsurgery.training.RunDirectory;
import org.gradsurgery.model.SlidingWindowInference;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code gradsurgery predict}: softmax probabilities and the argmax label map of a model for a NIfTI volume (2D models
 * slice by slice along the run's slice axis, 3D models by sliding window) or a PNG image. The input is normalised as
 * the model's run recorded ({@code --intensity} with its CT statistics; z-score over the whole image without a
 * record) and, if the run trained at a {@code --spacing}, predicted at that spacing and resampled back onto its own
 * grid, so the output aligns with the input.
 */
@Command(name = "predict", mixinStandardHelpOptions = true,
        description = {"Predict with a saved model: a NIfTI volume (.nii/.nii.gz; 2D models slice by slice along the "
                + "run's --slice-axis, by default the file's third axis; 3D models by sliding window) gives "
                + "probabilities.nii.gz [X,Y,Z,C] and labels.nii.gz; a PNG gives labels.png (grey = class index) and "
                + "probability_class<c>.png (0..255). The input is normalised (and resampled to the training spacing, "
                + "the output back onto the input's grid) as the model's run recorded in its config.json."})
final class PredictCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = {"--model", "-m"}, required = true, paramLabel = "FILE", description = "A saved model.zip.")
    Path model;

    @Option(names = {"--input", "-i"}, required = true, paramLabel = "FILE",
            description = "Image to segment: .nii, .nii.gz or .png.")
    Path input;

    @Option(names = {"--out", "-o"}, required = true, paramLabel = "DIR",
            description = "Output folder (created): probabilities.nii.gz and labels.nii.gz, or labels.png and "
                    + "probability_class<c>.png.")
    Path out;

    @Option(names = "--batch-size", defaultValue = "8", paramLabel = "N",
            description = "2D models: slices per forward pass, 1 or more (default: ${DEFAULT-VALUE}).")
    int batchSize;

    @Option(names = "--patch-size", split = ",", paramLabel = "P[,P,P]", hideParamSyntax = true,
            description = "3D models: sliding-window size in voxels, one edge or three, each a multiple of "
                    + "2^(levels-1) (default: the patch size in the model's config.json).")
    int[] patchSize;

    @Mixin
    Mirroring mirroring = new Mirroring();

    @Override
    public Integer call() throws Exception {
        if (batchSize < 1) {
            throw new InvalidSettingException(null, "batchSize", "must be >= 1, got " + batchSize);
        }
        String name = input.getFileName().toString().toLowerCase(Locale.ROOT);
        boolean nifti = name.endsWith(".nii") || name.endsWith(".nii.gz");
        if (!nifti && !name.endsWith(".png")) {
            throw new InvalidInputException("--input: " + input + " must be a .nii, .nii.gz or .png file");
        }
        if (!Files.isRegularFile(input)) {
            throw new NoSuchFileException(input.toString());
        }
        org.gradsurgery.io.AtomicFiles.requireWritableDirectory(out);        // before any work
        ComputationGraph net = RunDirectory.loadModel(model, false);
        Path config = model.toAbsolutePath().getParent().resolve(RunDirectory.CONFIG);
        // a run's model is preprocessed and shaped as its spec says; a bare saved graph gets z-scoring and the
        // layout read from the graph itself
        ExperimentSpec run = Files.isRegularFile(config) ? ExperimentSpec.read(config) : null;
        PrintStream printer = Console.stream(spec);
        if (run != null) {
            ExperimentRunner.checked(run, net, model);
        } else {
            // not an error (a graph saved by the library is a valid model), but never silent
            printer.println("warning: " + model + " has no " + RunDirectory.CONFIG + " beside it: the input is "
                    + "z-scored over the whole image, not resampled, and read as grey; the layout comes from the "
                    + "network. A run folder's model.zip predicts with its run's recorded preprocessing.");
        }
        threeD = run != null ? run.model().spatialDims() == 3 : is3d(net);
        divisor = run != null ? run.model().sizeDivisor() : sizeDivisor(net);
        if (patchSize != null && !threeD) {
            throw new InvalidInputException("--patch-size applies to 3D models; " + model + " is a 2D model");
        }
        DataPlan plan = run != null ? run.data() : null;
        Transform norm = plan != null ? ExperimentData.intensity(plan)
                : Preprocessing.zScore(Preprocessing.NormalizationRegion.ALL);
        double[] target = plan != null ? plan.spacing() : null;
        int axis = plan != null && plan.sliceAxis() != null ? plan.sliceAxis() : DataPlan.DEFAULT_SLICE_AXIS;
        recordedPatch = plan != null ? plan.patchSize() : null;
        if (nifti) {
            NiftiImage img = Nifti.read(input);          // its header: the output keeps the input's grid and affine
            Sample stored = org.gradsurgery.data.Case.of(input.getFileName().toString(), input, null).loadStored();
            if (stored.spatialRank() != 3) {
                throw new InvalidInputException("--input: " + input + " must be a 3D volume, got shape "
                        + java.util.Arrays.toString(stored.shape()));
            }
            checkChannels(stored.channels(), run);
            // runs train on cases in RAS axis order (Case.load): predict in that order, write in the file's own
            org.gradsurgery.data.Orientation o = org.gradsurgery.data.Orientation.of(stored);
            Prediction p = probabilities(net, o.toCanonical(stored), norm, target, axis);   // [C, RAS order]
            int k = Math.toIntExact(p.probs().size(0));
            int[] sh = stored.shape();
            INDArray probs = Nd4j.create(o.toStored(p.probs().castTo(DataType.FLOAT).dup('c').data().asFloat(), k),
                    new long[]{k, sh[0], sh[1], sh[2]}, 'c');                          // [C, X, Y, Z] as stored
            INDArray volume = probs.permute(1, 2, 3, 0).dup('c');                      // [X, Y, Z, C]
            INDArray labels = probs.argMax(0).castTo(DataType.UINT8).dup('c');
            if (!o.isCanonical()) {
                p = new Prediction(p.probs(), p.how() + ", stored " + o.codes() + ", predicted in RAS order");
            }
            Files.createDirectories(out);
            Nifti.write(out.resolve("probabilities.nii.gz"), volume, img.header());
            Nifti.write(out.resolve("labels.nii.gz"), labels, img.header(), NiftiDataType.UINT8);
            printer.printf(Locale.ROOT, "wrote %s and %s (%s)%n", out.resolve("probabilities.nii.gz"),
                    out.resolve("labels.nii.gz"), p.how());
        } else {
            if (threeD) {
                throw new InvalidInputException("--input: " + input + " is a 2D image but " + model
                        + " is a 3D model; give it a NIfTI volume");
            }
            int channels = run != null ? run.model().inputChannels() : 1;
            Sample s = channels == 1 ? Png.readGrey(input)
                    : org.gradsurgery.data.Case.of(input.getFileName().toString(), input, null).loadStored();
            checkChannels(s.channels(), run);
            Prediction p = probabilities(net, s, norm, target, axis);                // [C, H, W]
            INDArray labels = p.probs().argMax(0);
            Files.createDirectories(out);
            writePng(out.resolve("labels.png"), labels, 1.0);
            for (int c = 0; c < p.probs().size(0); c++) {
                writePng(out.resolve("probability_class" + c + ".png"), p.probs().get(NDArrayIndex.point(c)), 255.0);
            }
            printer.printf(Locale.ROOT, "wrote %s and %d probability maps to %s (%s)%n", out.resolve("labels.png"),
                    p.probs().size(0), out, p.how());
        }
        return 0;
    }

    /** The input must have the channels the run's model was trained on (grey vs RGB, MSD modalities). */
    private void checkChannels(int channels, ExperimentSpec run) {
        if (run != null && channels != run.model().inputChannels()) {
            throw new InvalidInputException("--input: " + input + " has " + channels + " channel(s) but " + model
                    + " was trained on " + run.model().inputChannels());
        }
    }

    /** Whether the model convolves in 3D, its size divisor and its run's patch size (null without one). */
    private boolean threeD;
    private int divisor;
    private int[] recordedPatch;

    /** Probabilities {@code [C, spatial...]} on the input's grid, and how they were made (for the message). */
    record Prediction(INDArray probs, String how) {
    }

    /**
     * Probabilities of {@code raw} on its own grid: normalised as the run recorded; with a recorded {@code --spacing},
     * predicted at that spacing and resampled back linearly onto the input's grid before the argmax (as nnU-Net
     * exports). A volume goes to a 3D model by sliding window, to a 2D model slice by slice along the run's slice axis.
     */
    private Prediction probabilities(ComputationGraph net, Sample raw, Transform norm, double[] target, int axis)
            throws IOException {
        SplittableRandom rng = new SplittableRandom(0);
        Sample s = norm.apply(raw, rng);
        Sample g = target == null ? s : ExperimentData.resampling(target, axis).apply(s, rng);
        INDArray probs;
        String how;
        if (g.spatialRank() == 3 && threeD) {
            Prediction p = predictVolume(net, g);
            probs = p.probs();
            how = p.how();
        } else if (g.spatialRank() == 3) {
            List<Sample> slices = Preprocessing.slices(g, axis);
            INDArray per = predict(net, slices, divisor, batchSize, mirroring);   // [n, C, A, B]
            // back to [C, X, Y, Z]: the slice index is spatial axis `axis`, A and B the other two in order
            int[] perm = new int[4];
            perm[0] = 1;
            for (int d = 0, other = 2; d < 3; d++) {
                perm[d + 1] = d == axis ? 0 : other++;
            }
            probs = per.permute(perm).dup('c');
            how = String.format(Locale.ROOT, "%d slices%s, %d classes%s", slices.size(),
                    axis == 2 ? "" : " along axis " + axis, per.size(1), mirroring.active() ? ", mirrored: " + mirroring.passes(2) + " passes per slice" : "");
        } else {
            probs = predict(net, List.of(g), divisor, batchSize, mirroring).get(NDArrayIndex.point(0));
            how = probs.size(0) + " classes" + (mirroring.active() ? ", mirrored: " + mirroring.passes(2) + " passes"
                    : "");
        }
        if (target != null) {
            Sample p = Sample.of("probabilities", probs, null, g.spacing(), null);
            probs = Resample.toGrid(p, raw.spacing(), raw.shape()).image();
            how += ", at " + java.util.Arrays.toString(target) + " mm, resampled back onto the input's grid";
        }
        return new Prediction(probs, how);
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
    private Prediction predictVolume(ComputationGraph net, Sample s) {
        int[] patch = patchSize != null ? patchSize : recordedPatch;
        if (patch == null) {
            throw new InvalidInputException("--patch-size is needed: " + model + " is a 3D model and its run "
                    + "directory records no patch size");
        }
        if (patch.length == 1) {
            patch = new int[] {patch[0], patch[0], patch[0]};
        }
        for (int p : patch) {
            if (p < 1 || p % divisor != 0) {
                throw new InvalidInputException("--patch-size " + java.util.Arrays.toString(patch)
                        + ": every size must be a positive multiple of " + divisor + " for this model");
            }
        }
        int[] shape = s.shape();
        SlidingWindowInference.Builder sb = SlidingWindowInference.builder().patchSize(patch);
        int[] axes = mirroring.axes(3);
        SlidingWindowInference swi = (axes != null ? sb.mirrorAxes(axes) : sb).build();
        INDArray probs = swi
                .predict(net, s.image().reshape(1, s.channels(), shape[0], shape[1], shape[2]))
                .get(NDArrayIndex.point(0));                                         // [C, X, Y, Z]
        return new Prediction(probs, String.format(Locale.ROOT, "3D sliding window %s, %d classes%s",
                java.util.Arrays.toString(patch), probs.size(0), swi.passesPerWindow() > 1 ? ", mirrored: "
                        + swi.passesPerWindow() + " passes per window" : ""));
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
     * Probabilities {@code [n, K, H, W]} of 2D samples {@code [C, H, W]} (one channel or several, e.g. RGB), each
     * padded in-plane to a multiple of the divisor by edge replication, centred, as training and {@code evaluate} pad
     * them ({@link Preprocessing#padToMultiple}), and cropped back; with mirroring, the mean over each padded slice
     * and its flips ({@link ExperimentData#mirroredWholeImages}).
     */
    static INDArray predict(ComputationGraph net, List<Sample> slices, int divisor, int batchSize,
                            Mirroring mirroring) {
        Sample first = slices.get(0);
        int[] shape = first.shape();
        if (shape.length != 2) {
            throw new IllegalArgumentException("predict: expected 2D slices, got " + first);
        }
        int c = first.channels();
        int h = shape[0];
        int w = shape[1];
        int hp = (h + divisor - 1) / divisor * divisor;
        int wp = (w + divisor - 1) / divisor * divisor;
        int oh = -Math.floorDiv(h - hp, 2);                       // where padTo puts the original, centred
        int ow = -Math.floorDiv(w - wp, 2);
        Transform pad = Preprocessing.padToMultiple(divisor, Preprocessing.Padding.EDGE);
        SplittableRandom rng = new SplittableRandom(0);
        INDArray result = null;
        for (int from = 0; from < slices.size(); from += batchSize) {
            int to = Math.min(slices.size(), from + batchSize);
            INDArray batch = Nd4j.create(DataType.FLOAT, to - from, c, hp, wp);
            for (int i = from; i < to; i++) {
                Sample s = slices.get(i);
                if (s.channels() != c || !java.util.Arrays.equals(s.shape(), shape)) {
                    throw new IllegalArgumentException("predict: slice " + s + " differs from " + first);
                }
                batch.get(NDArrayIndex.point(i - from)).assign(pad.apply(s, rng).image().reshape(c, hp, wp));
            }
            INDArray full = mirroring.active() ? ExperimentData.mirroredWholeImages(net, batch, mirroring.axes(2))
                    : net.outputSingle(false, batch);
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
