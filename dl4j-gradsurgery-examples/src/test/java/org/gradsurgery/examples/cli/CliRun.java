package org.gradsurgery.examples.cli;

import java.io.PrintWriter;
import java.io.StringWriter;
import picocli.CommandLine;

/**
 * One execution of a command line in a test: exit code and what went to stdout and stderr.
 *
 * @param exit the exit code
 * @param out standard output
 * @param err standard error
 */
public record CliRun(int exit, String out, String err) {

    /** Runs {@code args} through {@link GradSurgeryCli#commandLine()}. */
    public static CliRun of(String... args) {
        return of(GradSurgeryCli.commandLine(), args);
    }

    /** Runs {@code args} through {@code cl}, capturing both streams. */
    public static CliRun of(CommandLine cl, String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        cl.setOut(new PrintWriter(out));
        cl.setErr(new PrintWriter(err));
        int exit = cl.execute(args);
        return new CliRun(exit, out.toString(), err.toString());
    }
}
