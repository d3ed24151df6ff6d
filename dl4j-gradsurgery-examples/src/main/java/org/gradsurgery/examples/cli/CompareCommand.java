package org.gradsurgery.examples.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.data.Datasets;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code gradsurgery compare}: the same network, seed and budget under several losses, one table. */
@Command(name = "compare", mixinStandardHelpOptions = true,
        description = "Train the same 2D U-Net (same seed, data order and budget) under several losses on the bundled "
                + "Colin27 slices, evaluate each on the held-out slab, print one table and write one report.")
final class CompareCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--losses", defaultValue = "dice,dice+surgery", split = ",", paramLabel = "LOSS",
            completionCandidates = Options.LossNames.class,
            description = "Comma-separated losses, each NAME, NAME+surgery or NAME+surgery:GAMMA with NAME one of "
                    + "${COMPLETION-CANDIDATES}; options as in NAME:no-background:alpha=A:beta=B+surgery:GAMMA:"
                    + "probabilities+ce:W (default: ${DEFAULT-VALUE}).")
    List<String> losses;

    @Option(names = {"--out", "-o"}, paramLabel = "DIR",
            description = "Directory for the report and one run directory per loss (default: runs/compare-<time>).")
    Path out;

    @Mixin
    Options.Data data = new Options.Data();
    @Mixin
    Options.Model model = new Options.Model();
    @Mixin
    Options.Training training = new Options.Training();

    @Override
    public Integer call() throws Exception {
        List<LossSpec> specs = new ArrayList<>();
        Set<String> slugs = new LinkedHashSet<>();
        for (String s : losses) {
            LossSpec l;
            try {
                l = LossSpec.parse(s);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--losses: " + e.getMessage(), e);
            }
            if (!slugs.add(l.slug())) {
                throw new IllegalArgumentException("--losses: '" + s + "' is listed twice");
            }
            specs.add(l);
        }
        Path dir = out != null ? out.toAbsolutePath() : Experiment.defaultRunDir("compare");
        training.config(dir); // validate the flags before loading anything
        PrintStream printer = Console.stream(spec);
        int downsample = data.downsampleOr(1);
        Datasets.Colin27DeepGm d = data.load(1);
        List<String> args = spec.commandLine().getParseResult().originalArgs();
        List<Experiment.Outcome> outcomes = new ArrayList<>();
        for (LossSpec l : specs) {
            outcomes.add(Experiment.run(d, downsample, model, training.config(dir.resolve(l.slug())), l, args,
                    printer));
        }
        Experiment.conclude(printer, dir, "gradsurgery compare", d, outcomes);
        return 0;
    }
}
