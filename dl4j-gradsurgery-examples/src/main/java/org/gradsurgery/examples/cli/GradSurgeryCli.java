package org.gradsurgery.examples.cli;

import java.io.FileNotFoundException;
import java.io.PrintWriter;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;
import org.gradsurgery.InvalidInputException;
import org.gradsurgery.InvalidSettingException;
import org.gradsurgery.data.nifti.NiftiFormatException;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ScopeType;

/**
 * The {@code gradsurgery} command line: one subcommand per job.
 *
 * <p>Error policy: input the user can fix (a bad flag value, a setting out of range named by its flag, a missing or
 * malformed file) prints one line {@code gradsurgery: error: …} and exits with {@link #EXIT_USAGE}; anything else is a
 * bug: it prints the exception with its first {@value #STACK_LINES} stack frames and exits with
 * {@link #EXIT_FAILURE}. {@code --verbose} prints the whole stack trace.
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
                org.gradsurgery.examples.notebook.kernel.KernelCommand.class,
                SweepCommand.class,
                StudyCommand.class,
        })
public final class GradSurgeryCli implements java.util.concurrent.Callable<Integer> {

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
    public Integer call() {
        // no subcommand: a usage mistake, so the help goes to stderr and the exit code says so
        spec.commandLine().usage(spec.commandLine().getErr());
        return EXIT_USAGE;
    }

    /** Builds the command line with this project's error handling; tests call {@code execute} on it. */
    public static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new GradSurgeryCli());
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        cl.setExecutionExceptionHandler(GradSurgeryCli::handleExecutionException);
        cl.setParameterExceptionHandler(GradSurgeryCli::handleParameterException);
        // every numeric flag's range, in one place, before any command runs
        cl.setExecutionStrategy(parsed -> {
            Ranges.check(parsed);
            return new CommandLine.RunLast().execute(parsed);
        });
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
        String user = userError(ex);
        if (user != null) {
            err.println("gradsurgery: error: " + user);
            if (verbose(parseResult)) {
                ex.printStackTrace(err);
            }
            err.flush();
            return EXIT_USAGE;
        }
        // a bug (ours or a library's): say so, with where it happened
        String msg = ex.getMessage();
        err.println("gradsurgery: failed: " + (msg == null || msg.isBlank() ? ex.getClass().getName() : msg));
        if (verbose(parseResult)) {
            ex.printStackTrace(err);
        } else {
            StackTraceElement[] trace = ex.getStackTrace();
            for (int i = 0; i < Math.min(STACK_LINES, trace.length); i++) {
                err.println("\tat " + trace[i]);
            }
            err.println("(" + ex.getClass().getName() + ": not a problem with your input; run again with --verbose "
                    + "for the whole stack trace)");
        }
        err.flush();
        return EXIT_FAILURE;
    }

    /** Stack frames shown for a bug without {@code --verbose}. */
    static final int STACK_LINES = 5;

    /**
     * The one-line message of input the user can fix, or null for a bug: a setting out of range (named by its flag,
     * {@link Options#FLAGS}), another invalid input (a file that is not what it should be), a missing or unreadable
     * file, a malformed NIfTI file.
     */
    static String userError(Throwable t) {
        if (t instanceof java.io.UncheckedIOException u && u.getCause() != null) {
            t = u.getCause();
        }
        if (t instanceof InvalidSettingException s) {
            String flag = Options.FLAGS.get(s.setting());
            return flag != null ? s.messageFor(flag) : s.getMessage();
        }
        if (t instanceof InvalidInputException || t instanceof NiftiFormatException
                || t instanceof FileNotFoundException) {
            return t.getMessage();
        }
        if (t instanceof NoSuchFileException) {
            return "no such file: " + t.getMessage();
        }
        if (t instanceof AccessDeniedException) {
            return "permission denied: " + t.getMessage();
        }
        return null;
    }
}
