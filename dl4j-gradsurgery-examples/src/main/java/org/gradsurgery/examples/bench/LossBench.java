package org.gradsurgery.examples.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.gradsurgery.layers.impl.SpatialLayout;
import org.gradsurgery.loss.GradientSurgery;
import org.gradsurgery.loss.LossDice;
import org.gradsurgery.loss.LossFocalTversky;
import org.gradsurgery.loss.LossGeneralizedDice;
import org.gradsurgery.loss.LossJaccard;
import org.gradsurgery.loss.LossTversky;
import org.gradsurgery.loss.SpatialLossFunction;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossBinaryXENT;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code gradsurgery bench loss}: the cost of one training step's loss work, {@code computeScore(average=false)} +
 * {@code computeGradient}, on float32 segmentation tensors.
 *
 * <p>The baseline is DL4J's {@code LossMCXENT} (softmax) or {@code LossBinaryXENT} (sigmoid) called on the rows
 * {@code [N·spatial, C]} that {@code CnnLossLayer} passes it, flattened once before timing, so the baseline pays
 * for no layout change. The region losses and their surgery get the whole {@code [N, C, spatial...]} tensors, as
 * the project's {@code SegmentationLossLayer} passes them. Labels are random one-hot (softmax) or independent 0/1
 * (sigmoid), pre-outputs standard normal, no mask. Each case runs {@code --warmup} untimed calls, then
 * {@code --repetitions} timed rounds in which every case runs once (round-robin, so a change of the machine's
 * load hits all cases alike); the table shows the median and minimum ms per call and the median's ratio to
 * the baseline's.
 */
@Command(name = "loss", mixinStandardHelpOptions = true,
        description = "Time computeScore + computeGradient of MCXENT, each region loss and each region loss with "
                + "the gradient surgery on float32 tensors.")
public final class LossBench implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--shapes", split = ",", paramLabel = "NxCxHxW[xD]",
            description = "Tensor shapes [N,C,spatial...] (rank 4 or 5), comma-separated. "
                    + "Default: ${DEFAULT-VALUE}.", defaultValue = "8x4x256x256,2x4x96x96x96")
    List<String> shapes;

    @Option(names = "--repetitions", paramLabel = "N", description = "Timed calls per case (default ${DEFAULT-VALUE}).",
            defaultValue = "7")
    int repetitions;

    @Option(names = "--warmup", paramLabel = "N",
            description = "Untimed calls per case first (default ${DEFAULT-VALUE}).",
            defaultValue = "3")
    int warmup;

    @Option(names = "--activation", paramLabel = "NAME", description = "softmax or sigmoid (default ${DEFAULT-VALUE}).",
            defaultValue = "softmax")
    String activation;

    @Option(names = "--seed", paramLabel = "N", description = "Seed of the random tensors (default ${DEFAULT-VALUE}).",
            defaultValue = "42")
    long seed;

    @Option(names = "--csv", paramLabel = "FILE", description = "Also write the rows as CSV (written atomically).")
    Path csv;

    /** One measured case. */
    record Row(String shape, String loss, double medianMs, double minMs, double ratio) {
    }

    @Override
    public Integer call() throws IOException {
        if (repetitions < 1) {
            throw new org.gradsurgery.InvalidInputException("--repetitions: must be >= 1, got " + repetitions);
        }
        if (warmup < 0) {
            throw new org.gradsurgery.InvalidInputException("--warmup: must be >= 0, got " + warmup);
        }
        boolean softmax = switch (activation.toLowerCase()) {
            case "softmax" -> true;
            case "sigmoid" -> false;
            default -> throw new org.gradsurgery.InvalidInputException("--activation: expected softmax or sigmoid, got '"
                    + activation + "'");
        };
        List<long[]> parsed = new ArrayList<>();
        for (String s : shapes) {
            parsed.add(parseShape(s, softmax));
        }
        PrintWriter out = spec.commandLine().getOut();
        out.printf("bench loss: computeScore(average=false) + computeGradient, float32, %s, %d warm-up + %d timed "
                + "calls per case%n", softmax ? "softmax" : "sigmoid", warmup, repetitions);
        out.println(BenchSupport.machineLine());
        out.flush();

        IActivation act = softmax ? new ActivationSoftmax() : new ActivationSigmoid();
        Map<String, ILossFunction> losses = losses(softmax);
        List<Row> rows = new ArrayList<>();
        for (long[] shape : parsed) {
            String shapeName = Arrays.toString(shape);
            out.printf("%nshape %s (%.1f M values)%n", shapeName, product(shape) / 1e6);
            INDArray z = Nd4j.randn(seed, shape).castTo(DataType.FLOAT);
            INDArray y = labels(shape, softmax, seed + 1);
            INDArray zRows = rows(z);
            INDArray yRows = rows(y);
            List<String> names = new ArrayList<>(losses.keySet());
            double[][] ms = new double[names.size()][repetitions];
            out.printf("  warm-up (%d call(s) per loss) ...%n", warmup);
            out.flush();
            for (int i = 0; i < warmup; i++) {
                for (String name : names) {
                    step(losses.get(name), y, z, yRows, zRows, act);
                }
            }
            // Round-robin: every repetition times each loss once, so a change of the machine's load hits all alike.
            for (int r = 0; r < repetitions; r++) {
                out.printf("  repetition %d/%d ...%n", r + 1, repetitions);
                out.flush();
                for (int l = 0; l < names.size(); l++) {
                    long t0 = System.nanoTime();
                    step(losses.get(names.get(l)), y, z, yRows, zRows, act);
                    ms[l][r] = (System.nanoTime() - t0) / 1e6;
                }
            }
            double baseline = BenchSupport.median(ms[0]);
            out.printf("  %-38s %10s %10s %8s%n", "loss", "median ms", "min ms", "x base");
            for (int l = 0; l < names.size(); l++) {
                Row row = new Row(shapeName, names.get(l), BenchSupport.median(ms[l]), BenchSupport.min(ms[l]),
                        BenchSupport.median(ms[l]) / baseline);
                rows.add(row);
                out.printf("  %-38s %10.1f %10.1f %8.2f%n", row.loss(), row.medianMs(), row.minMs(), row.ratio());
            }
            out.flush();
        }
        out.println();
        out.println("after: " + BenchSupport.machineLine());
        if (csv != null) {
            writeCsv(rows);
            out.println("wrote " + csv);
        }
        out.flush();
        return 0;
    }

    /** Baseline first: its median is the denominator of every ratio. */
    static Map<String, ILossFunction> losses(boolean softmax) {
        Map<String, ILossFunction> m = new LinkedHashMap<>();
        m.put(softmax ? "LossMCXENT (rows)" : "LossBinaryXENT (rows)",
                softmax ? new LossMCXENT() : new LossBinaryXENT());
        ILossFunction[] region = {new LossDice(), new LossJaccard(), new LossTversky(), new LossFocalTversky(),
            new LossGeneralizedDice()};
        for (ILossFunction l : region) {
            m.put(l.getClass().getSimpleName(), l);
        }
        for (ILossFunction l : region) {
            m.put("GradientSurgery(" + l.getClass().getSimpleName() + ")", GradientSurgery.wrap(l));
        }
        return m;
    }

    /** What one training step asks of the loss (DL4J calls the gradient first, then the unaveraged score). */
    private static void step(ILossFunction loss, INDArray y, INDArray z, INDArray yRows, INDArray zRows,
                             IActivation act) {
        if (!(loss instanceof SpatialLossFunction)) {
            // DL4J's own losses get CnnLossLayer's rows
            y = yRows;
            z = zRows;
        }
        INDArray g = loss.computeGradient(y, z, act, null);
        double s = loss.computeScore(y, z, act, null, false);
        if (!Double.isFinite(s) || g.length() != z.length()) {
            throw new IllegalStateException(loss + " gave score " + s + " and a gradient of " + g.length()
                    + " values for " + z.length() + " pre-outputs");
        }
    }

    static long[] parseShape(String s, boolean softmax) {
        String[] parts = s.trim().toLowerCase().split("x");
        long[] shape = new long[parts.length];
        try {
            for (int i = 0; i < parts.length; i++) {
                shape[i] = Long.parseLong(parts[i].trim());
            }
        } catch (NumberFormatException e) {
            throw new org.gradsurgery.InvalidInputException("--shapes: '" + s + "' is not NxCxHxW or NxCxDxHxW (e.g. 8x4x256x256)");
        }
        if (shape.length != 4 && shape.length != 5) {
            throw new org.gradsurgery.InvalidInputException("--shapes: '" + s + "' has rank " + shape.length
                    + "; expected NxCxHxW (rank 4) or NxCxDxHxW (rank 5)");
        }
        for (long d : shape) {
            if (d < 1) {
                throw new org.gradsurgery.InvalidInputException("--shapes: '" + s + "' has a dimension < 1");
            }
        }
        if (softmax && shape[1] < 2) {
            throw new org.gradsurgery.InvalidInputException("--shapes: '" + s + "' has C = 1; softmax needs at least 2 classes");
        }
        return shape;
    }

    private static long product(long[] shape) {
        long p = 1;
        for (long d : shape) {
            p *= d;
        }
        return p;
    }

    /** One-hot over axis 1 (argmax of random numbers) or independent 0/1, as float32. */
    static INDArray labels(long[] shape, boolean oneHot, long seed) {
        INDArray r = Nd4j.rand(seed, shape).castTo(DataType.FLOAT);
        if (!oneHot) {
            return r.gt(0.5).castTo(DataType.FLOAT);
        }
        INDArray max = r.max(true, 1);
        return r.eq(max).castTo(DataType.FLOAT);
    }

    /** {@code [N, C, spatial...]} to {@code [N·V, C]}, CnnLossLayer's layout. */
    static INDArray rows(INDArray x) {
        return SpatialLayout.of(x.rank(), false).toRows(x);
    }

    private void writeCsv(List<Row> rows) throws IOException {
        StringBuilder b = new StringBuilder("shape,loss,median_ms,min_ms,ratio_to_baseline\n");
        for (Row r : rows) {
            b.append('"').append(r.shape()).append("\",").append(r.loss()).append(',')
                    .append(String.format("%.3f,%.3f,%.3f%n", r.medianMs(), r.minMs(), r.ratio()));
        }
        org.gradsurgery.io.AtomicFiles.writeString(csv, b.toString());
    }
}
