package org.gradsurgery.experiment;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.InvalidInputException;
import org.gradsurgery.evaluation.EvaluationResult;
import org.gradsurgery.model.UNet;
import org.gradsurgery.training.RunDirectory;
import org.gradsurgery.training.Trainer;
import org.gradsurgery.training.TrainingConfig;
import org.gradsurgery.training.TrainingResult;

/**
 * Trains and evaluates an {@link ExperimentSpec}, whatever its data: resolve the data plan against the source
 * ({@link ExperimentData#prepare}), complete the network spec from the data ({@link ExperimentData#complete}), train
 * into the run directory with {@code config.json} = the resolved spec ({@link Trainer}), and evaluate the final
 * network on the validation cases. The one code path behind {@code gradsurgery train}, {@code compare} and
 * {@code demo}; {@link #resume} continues a run from its folder alone, and {@link #open} rebuilds the data and network
 * spec of a saved run for {@code evaluate} and {@code predict}.
 */
public final class ExperimentRunner {
    /** Calibration bins of the evaluation after training (Guo et al.'s 15). */
    public static final int BINS = 15;

    private ExperimentRunner() {
    }

    /**
     * One trained and evaluated run.
     *
     * @param spec       the resolved spec, as {@code config.json} records it
     * @param data       the resolved data
     * @param training   the trainer's result (network, epochs, stop reason)
     * @param evaluation the final network on the validation cases
     */
    public record Outcome(ExperimentSpec spec, ExperimentData data, TrainingResult training,
                          EvaluationResult evaluation) {
        /** The loss's display name ({@link org.gradsurgery.loss.LossSpec#label()}). */
        public String label() {
            return spec.loss().label();
        }

        public Path runDirectory() {
            return training.runDirectory();
        }
    }

    /**
     * Trains {@code spec} on {@code source} into {@code spec.training().runDirectory()} and evaluates it.
     *
     * @param extraSections further {@code config.json} sections (e.g. the CLI's {@code command}); may be empty
     */
    public static Outcome run(ExperimentSpec spec, DataSource source, PrintStream out,
                              Map<String, Object> extraSections) throws IOException {
        ExperimentData data = ExperimentData.prepare(spec.data(), source, spec.seed(), spec.model().levels(), out);
        data.check(out);
        ExperimentSpec resolved = spec.withModel(data.complete(spec.model())).withData(data.plan());
        ComputationGraph net = UNet.builder().from(resolved.model()).loss(resolved.loss().create()).build().graph();
        TrainingConfig config = resolved.training();
        out.printf(Locale.ROOT, "== %s: %dD U-Net, %d levels, %d base filters, %,d parameters; %d training / %d "
                        + "validation cases; %d epochs, batches of %d; run %s%n", resolved.loss().label(),
                data.dims(), resolved.model().levels(), resolved.model().baseFilters(), net.numParams(),
                data.plan().split().training().size(), data.plan().split().validation().size(), config.epochs(),
                config.batchSize(), config.runDirectory());
        Trainer.Builder t = Trainer.builder(config).output(out);
        extraSections.forEach(t::metadata);
        resolved.sections().forEach(t::metadata);
        TrainingResult r = t.build().fit(net, data.trainingData());
        return new Outcome(resolved, data, r, data.evaluate(r.network(), BINS, null));
    }

    /** A saved run's resolved spec and its data, opened again (for evaluate, predict and resume). */
    public record Saved(ExperimentSpec spec, ExperimentData data) {
        /** Loads a network of this run ({@code model.zip}, {@code best.zip}), checked against the spec. */
        public ComputationGraph loadModel(Path file) throws IOException {
            return checked(spec, RunDirectory.loadModel(file, false), file);
        }
    }

    /**
     * {@code net} if it is the network {@code spec} builds (same parameter count; same output vertex), otherwise an
     * {@link InvalidInputException} naming {@code file}: a model.zip copied next to another run's config.json.
     */
    public static ComputationGraph checked(ExperimentSpec spec, ComputationGraph net, Path file) {
        long expected = UNet.builder().from(spec.model()).loss(spec.loss().create()).build().numParams();
        if (net.numParams() != expected || net.getConfiguration().getVertices().get(UNet.OUTPUT) == null) {
            throw new InvalidInputException(file + " has " + net.numParams() + " parameters, but the run's config.json "
                    + "describes " + spec.model() + " with " + expected + ": not this run's network");
        }
        return net;
    }

    /** Reads {@code runDir}'s {@code config.json} and opens and prepares its data as recorded. */
    public static Saved open(Path runDir, PrintStream progress) throws IOException {
        ExperimentSpec spec = ExperimentSpec.read(runDir);
        DataSource source = DataSources.open(spec.data().source());
        return new Saved(spec, ExperimentData.prepare(spec.data(), source, spec.seed(), spec.model().levels(),
                progress));
    }

    /**
     * Continues the run in {@code runDir} from its last checkpoint on its recorded data and evaluates it;
     * {@code change} may raise the budget (epochs, maxIterations).
     */
    public static Outcome resume(Path runDir, PrintStream out, UnaryOperator<TrainingConfig> change)
            throws IOException {
        Saved s = open(runDir, out);
        TrainingResult r = Trainer.resume(runDir.toAbsolutePath(), s.data().trainingData(), out, change);
        return new Outcome(s.spec(), s.data(), r, s.data().evaluate(r.network(), BINS, null));
    }
}
