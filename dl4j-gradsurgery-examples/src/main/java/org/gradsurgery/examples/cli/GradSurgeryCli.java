package org.gradsurgery.examples.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * The {@code gradsurgery} command line: one subcommand per job.
 *
 * <p>Error policy: a user mistake (bad flag value, missing file, unknown loss name, malformed input file) prints one
 * line {@code gradsurgery: error: …} and exits with {@link #EXIT_USAGE}; any other failure prints one line and exits
 * with {@link #EXIT_FAILURE}. {@code --verbose} adds the stack trace.
 */
@Command(name = "gradsurgery", mixinStandardHelpOptions = true, version = "gradsurgery 0.1.0",
        description = "Calibrated segmentation for DL4J: region losses with gradient vector field surgery.",
        subcommands = {
                CommandLine.HelpCommand.class,
                DemoCommand.class,
                TrainCommand.class,
                EvaluateCommand.class,
                PredictCommand.class,
                CompareCommand.class,
                org.gradsurgery.examples.bench.BenchCommand.class,
                org.gradsurgery.examples.notebook.NotebookCommand.class,
                SweepCommand.class,
                StudyCommand.class,
        })
public final class GradSurgeryCli implements Runnable {

    /** Exit code for bad flags, missing or malformed input: the user can fix it. */
    public static final int EXIT_USAGE = 2;
    /** Exit code for failures that are not the user's input. */
    public static final int EXIT_FAILURE = 1;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--verbose", scope = ScopeType.INHERIT,
            description = "Print stack traces and debug output on errors.")
    boolean verbose;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** Builds the command line with this project's error handling; tests call {@code execute} on it. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new GradSurgeryCli());
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setExecutionExceptionHandler(GradSurgeryCli::handleExecutionException);
        cl.setParameterExceptionHandler(GradSurgeryCli::handleParameterException);
        return cl;
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    private static boolean verbose(CommandLine.ParseResult parseResult) {
        return parseResult != null && parseResult.hasMatchedOption("--verbose")
                || parseResult != null && parseResult.subcommands().stream().anyMatch(GradSurgeryCli::verbose);
    }

    private static int handleParameterException(CommandLine.ParameterException ex, String[] args) {
        CommandLine cmd = ex.getCommandLine();
        PrintWriter err = cmd.getErr();
        err.println("gradsurgery: error: " + ex.getMessage());
        err.println("Try '" + cmd.getCommandSpec().qualifiedName() + " --help' for usage.");
        return EXIT_USAGE;
    }

    private static int handleExecutionException(Exception ex, CommandLine cmd, CommandLine.ParseResult parseResult) {
        PrintWriter err = cmd.getErr();
        boolean user = UserErrors.isUserError(ex);
        err.println("gradsurgery: " + (user ? "error: " : "failed: ") + UserErrors.describe(ex));
        if (verbose(parseResult)) {
            ex.printStackTrace(err);
        } else if (!user) {
            err.println("(run again with --verbose for the stack trace)");
        }
        err.flush();
        return user ? EXIT_USAGE : EXIT_FAILURE;
    }
}
