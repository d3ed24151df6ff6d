package org.gradsurgery.examples.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.gradsurgery.InvalidSettingException;
import org.gradsurgery.experiment.DataPlan;
import org.gradsurgery.experiment.DataSource;
import org.gradsurgery.experiment.DataSources;
import org.gradsurgery.experiment.ExperimentRunner;
import org.gradsurgery.experiment.ExperimentSpec;
import org.gradsurgery.loss.LossSpec;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code gradsurgery compare}: the same network, seed, data and budget under several losses, one table. */
@Command(name = "compare", mixinStandardHelpOptions = true,
        description = "Train the same U-Net (same seed, data order and budget) under several losses on your data or the "
                + "bundled Colin27 slices, evaluate each on the held-out cases, print one table and write one report.")
final class CompareCommand implements Callable<Integer> {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--losses", defaultValue = "dice,dice+surgery", split = ",", paramLabel = "LOSS[,LOSS...]",
            hideParamSyntax = true,
            completionCandidates = Options.LossNames.class,
            description = "Comma-separated losses, each NAME, NAME+surgery or NAME+surgery:GAMMA with NAME one of "
                    + "${COMPLETION-CANDIDATES}; options as in NAME:no-background:alpha=A:beta=B+surgery:GAMMA:"
                    + "probabilities+ce:W (default: ${DEFAULT-VALUE}).")
    List<String> losses;

    @Option(names = {"--out", "-o"}, paramLabel = "DIR",
            description = "Directory for the report and one run directory per loss (default: runs/compare-<time>).")
    Path out;

    @Mixin
    Options.Model model = new Options.Model();
    @Mixin
    Options.Training training = new Options.Training();
    @Mixin
    UserData data = new UserData();

    @Override
    public Integer call() throws Exception {
        List<LossSpec> specs = new ArrayList<>();
        Set<String> slugs = new LinkedHashSet<>();
        for (String s : losses) {
            LossSpec l;
            try {
                l = LossSpec.parse(s);
            } catch (InvalidSettingException e) {
                throw InvalidSettingException.unreadable("losses", e.getMessage());
            }
            if (!slugs.add(l.slug())) {
                throw InvalidSettingException.unreadable("losses", "'" + s + "' is listed twice");
            }
            specs.add(l);
        }
        Path dir = out != null ? out.toAbsolutePath() : Reports.defaultRunDir("compare");
        DataPlan plan = data.plan();
        ExperimentSpec base = new ExperimentSpec(model.spec(), specs.get(0), training.config(dir), plan,
                training.seed());
        PrintStream printer = Console.stream(spec);
        DataSource source = DataSources.open(plan.source());
        Map<String, Object> command = Map.of("command", spec.commandLine().getParseResult().originalArgs());
        List<ExperimentRunner.Outcome> outcomes = new ArrayList<>();
        for (LossSpec l : specs) {
            ExperimentSpec e = new ExperimentSpec(base.model(), l, training.config(dir.resolve(l.slug())), plan,
                    base.seed());
            outcomes.add(ExperimentRunner.run(e, source, printer, command));
        }
        Reports.conclude(printer, dir, "gradsurgery compare", outcomes);
        return 0;
    }
}
