package org.gradsurgery.examples.bench;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code gradsurgery bench}: the parent of the benchmark commands. Benchmarks are commands, not timed tests: the
 * machine is shared and noisy, so each command prints same-run figures (and ratios against a peer where one
 * exists) together with the load average it ran under.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Benchmarks: loss cost against MCXENT, NIfTI I/O against nibabel, U-Net training against PyTorch, "
                + "memory soak, the study's 3D pipeline stage by stage and sliding-window inference against PyTorch.",
        subcommands = {LossBench.class, IoBench.class, UNetBench.class, SoakBench.class, PipelineBench.class,
                InferBench.class})
public final class BenchCommand implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }
}
