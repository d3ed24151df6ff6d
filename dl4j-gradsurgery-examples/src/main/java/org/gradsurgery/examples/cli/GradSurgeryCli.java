package org.gradsurgery.examples.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code gradsurgery} command line: one subcommand per job (train, evaluate, predict, compare, demo, bench).
 * User mistakes are reported in one line with a non-zero exit; {@code --verbose} adds the stack trace.
 */
@Command(name = "gradsurgery", mixinStandardHelpOptions = true, version = "gradsurgery 0.1.0",
        description = "Calibrated segmentation for DL4J: region losses with gradient vector field surgery.",
        subcommands = {CommandLine.HelpCommand.class})
public final class GradSurgeryCli implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        System.exit(new CommandLine(new GradSurgeryCli()).execute(args));
    }
}
