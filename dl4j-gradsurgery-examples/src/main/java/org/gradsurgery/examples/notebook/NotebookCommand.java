package org.gradsurgery.examples.notebook;

import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code gradsurgery notebook run FILE... [--smoke] [--out DIR]}: executes notebooks headless ({@link NotebookRunner}). */
@Command(name = "notebook", mixinStandardHelpOptions = true, description = "Run the Java notebooks headless.",
        subcommands = {NotebookCommand.Run.class})
public final class NotebookCommand implements Runnable {

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** The {@code run} subcommand. */
    @Command(name = "run", mixinStandardHelpOptions = true,
            description = {"Execute notebooks (BeakerX / JJava Java kernels) cell by cell through JShell on this build's"
                    + " class path and write executed copies with their outputs (text and PNG pictures).",
                    "Stops at the first failing cell and names it."})
    static final class Run implements Callable<Integer> {
        static final String LOG_PROPERTY = "org.slf4j.simpleLogger.defaultLogLevel";

        @Parameters(arity = "1..*", paramLabel = "FILE", description = "Notebooks (.ipynb, nbformat 4).")
        List<Path> files;

        @Option(names = "--smoke", description = "Smoke mode: the notebooks shrink their iteration counts (Smoke.enabled();"
                + " the same as GRADSURGERY_SMOKE=1 in a kernel).")
        boolean smoke;

        @Option(names = "--out", paramLabel = "DIR",
                description = "Folder for the executed copies (default: executed/ next to each notebook).")
        Path out;

        @Option(names = "--log-level", paramLabel = "LEVEL", defaultValue = "warn",
                description = "Level of the libraries' slf4j-simple logging inside the notebooks (trace, debug,"
                        + " info, warn, error, off; default: ${DEFAULT-VALUE}, so executed copies hold the notebook's"
                        + " own output rather than DL4J's start-up lines). A -D" + LOG_PROPERTY + " setting wins.")
        String logLevel;

        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            if (!List.of("trace", "debug", "info", "warn", "error", "off").contains(logLevel)) {
                throw new org.gradsurgery.InvalidInputException("--log-level: unknown level '" + logLevel
                        + "' (known: trace, debug, info, warn, error, off)");
            }
            // slf4j-simple reads this once, when the first logger is made: inside the notebook's first DL4J call.
            boolean setLevel = System.getProperty(LOG_PROPERTY) == null;
            if (setLevel) {
                System.setProperty(LOG_PROPERTY, logLevel);
            }
            try {
                runAll();
            } finally {
                if (setLevel) {
                    System.clearProperty(LOG_PROPERTY);
                }
            }
            return 0;
        }

        private void runAll() throws Exception {
            for (Path f : files) {
                if (!Files.isRegularFile(f)) {
                    throw new NoSuchFileException(f.toString());
                }
            }
            NotebookRunner runner = NotebookRunner.builder().smoke(smoke).build();
            for (Path f : files) {
                Path dir = out != null ? out : f.toAbsolutePath().getParent().resolve("executed");
                long t0 = System.nanoTime();
                Path written = runner.runAndWrite(f, dir);
                spec.commandLine().getOut().printf(Locale.ROOT, "%s -> %s (%.1f s%s)%n", f, written,
                        (System.nanoTime() - t0) / 1e9, smoke ? ", smoke" : "");
                spec.commandLine().getOut().flush();
            }
        }
    }
}
