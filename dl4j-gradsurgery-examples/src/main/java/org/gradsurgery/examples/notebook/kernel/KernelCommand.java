package org.gradsurgery.examples.notebook.kernel;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;
import org.gradsurgery.InvalidInputException;
import org.dflib.jjava.jupyter.channels.JupyterConnection;
import org.dflib.jjava.jupyter.kernel.KernelConnectionProperties;
import org.gradsurgery.examples.notebook.ProjectClasspath;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code gradsurgery kernel install|uninstall|run}: this build as a Jupyter kernel for Java ({@link JavaKernel},
 * {@link KernelSpec}).
 */
@Command(name = "kernel", mixinStandardHelpOptions = true,
        description = "The Jupyter kernel for Java notebooks on this build.",
        subcommands = {KernelCommand.Install.class, KernelCommand.Uninstall.class, KernelCommand.Run.class})
public final class KernelCommand implements Runnable {
    private static final Pattern NAME = Pattern.compile("[a-zA-Z0-9._-]+");

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    /** {@code --user | --sys-prefix | --prefix DIR}, as {@code jupyter kernelspec install} takes them. */
    static final class Where {
        @Option(names = "--user", description = "The user's Jupyter data folder (the default).")
        boolean user;

        @Option(names = "--sys-prefix", description = "The prefix of the Python that runs jupyter (a virtualenv or"
                + " conda environment); needs jupyter on PATH.")
        boolean sysPrefix;

        @Option(names = "--prefix", paramLabel = "DIR", description = "DIR/share/jupyter/kernels (then start Jupyter"
                + " with JUPYTER_PATH=DIR/share/jupyter).")
        Path prefix;

        static KernelSpec.Scope scope(Where w) {
            if (w == null || w.user) {
                return KernelSpec.Scope.USER;
            }
            return w.sysPrefix ? KernelSpec.Scope.SYS_PREFIX : KernelSpec.Scope.PREFIX;
        }
    }

    /** The options install and uninstall share: where, and which kernel. */
    static final class Target {
        @ArgGroup(exclusive = true, multiplicity = "0..1")
        Where where;

        @Option(names = "--name", paramLabel = "NAME", defaultValue = KernelSpec.DEFAULT_NAME,
                description = "Kernel name (default: ${DEFAULT-VALUE}, the name the project's notebooks ask for;"
                        + " install replaces another kernel of that name).")
        String name;

        /** The kernel name, checked. */
        String name() {
            if (!NAME.matcher(name).matches()) {
                throw new InvalidInputException("--name: '" + name + "' is not a kernel name (letters, digits,"
                        + " '.', '_', '-')");
            }
            return name;
        }

        KernelSpec.Scope scope() {
            return Where.scope(where);
        }

        Path prefix() {
            return where == null ? null : where.prefix;
        }
    }

    /** {@code kernel install}. */
    @Command(name = "install", mixinStandardHelpOptions = true,
            description = {"Install this build as a Jupyter kernel: writes a kernelspec (kernel.json with this JVM, the"
                    + " natives' options and this build's class path; a logo) and registers it with `jupyter kernelspec"
                    + " install` when jupyter is on PATH, else writes it where Jupyter looks.",
                    "Run it again after moving the build; the kernel runs the jars of this build where they are."})
    static final class Install implements Callable<Integer> {
        @Mixin
        Target target;

        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            String name = target.name();
            KernelSpec.Scope scope = target.scope();
            Path prefix = target.prefix();
            PrintWriter out = spec.commandLine().getOut();
            var json = KernelSpec.kernelJson(name, ProjectClasspath.ofRunningJvm());
            Path jupyter = KernelSpec.jupyter();
            if (jupyter != null) {
                Path tmp = Files.createTempDirectory("gradsurgery-kernelspec-");
                try {
                    Path staged = tmp.resolve(name);
                    KernelSpec.write(staged, json);
                    List<String> args = new ArrayList<>(List.of("kernelspec", "install", "--replace", "--name", name));
                    args.addAll(KernelSpec.scopeFlags(scope, prefix));
                    args.add(staged.toString());
                    String said = KernelSpec.runJupyter(jupyter, args).strip();
                    out.println(said.isEmpty() ? "installed kernel " + name : said);
                } finally {
                    KernelSpec.deleteTree(tmp);
                }
            } else {
                Path target = KernelSpec.folder(scope, prefix, name);
                Files.createDirectories(target.getParent());
                Path tmp = Files.createTempDirectory(target.getParent(), "." + name + "-");
                try {
                    Path staged = tmp.resolve(name);
                    KernelSpec.write(staged, json);
                    KernelSpec.moveIntoPlace(staged, target);
                } finally {
                    KernelSpec.deleteTree(tmp);
                }
                out.println("wrote kernelspec " + name + " to " + target);
                out.println("jupyter is not on PATH: Jupyter will find this kernel there once it is installed"
                        + (scope == KernelSpec.Scope.PREFIX ? " and started with JUPYTER_PATH="
                        + prefix.toAbsolutePath().resolve("share/jupyter") : "")
                        + " (Debian/Ubuntu: apt-get install jupyter-notebook jupyter-nbconvert python3-ipykernel)");
            }
            out.println("kernel " + name + ": " + json.get("display_name").asText() + "; uninstall with: gradsurgery"
                    + " kernel uninstall" + (name.equals(KernelSpec.DEFAULT_NAME) ? "" : " --name " + name)
                    + (scope == KernelSpec.Scope.PREFIX ? " --prefix " + prefix : "")
                    + (scope == KernelSpec.Scope.SYS_PREFIX ? " --sys-prefix" : ""));
            out.flush();
            return 0;
        }
    }

    /** {@code kernel uninstall}. */
    @Command(name = "uninstall", mixinStandardHelpOptions = true,
            description = "Remove the kernelspec `kernel install` wrote (with `jupyter kernelspec remove` when"
                    + " jupyter is on PATH).")
    static final class Uninstall implements Callable<Integer> {
        @Mixin
        Target target;

        @picocli.CommandLine.Spec
        picocli.CommandLine.Model.CommandSpec spec;

        @Override
        public Integer call() throws Exception {
            String name = target.name();
            KernelSpec.Scope scope = target.scope();
            Path prefix = target.prefix();
            PrintWriter out = spec.commandLine().getOut();
            Path jupyter = KernelSpec.jupyter();
            if (scope != KernelSpec.Scope.PREFIX && jupyter != null) {
                out.println(KernelSpec.runJupyter(jupyter, List.of("kernelspec", "remove", "-f", name)).strip());
            } else {
                Path target = KernelSpec.folder(scope, prefix, name);
                if (!Files.isRegularFile(target.resolve("kernel.json"))) {
                    throw new InvalidInputException("kernel " + name + " is not installed in " + target.getParent());
                }
                KernelSpec.deleteTree(target);
                out.println("removed kernelspec " + name + " from " + target);
            }
            out.flush();
            return 0;
        }
    }

    /** {@code kernel run CONNECTION_FILE}: what Jupyter starts (the kernelspec's argv). */
    @Command(name = "run", mixinStandardHelpOptions = true,
            description = {"Run the kernel on a Jupyter connection file (Jupyter starts this; see `kernel install`).",
                    "Cells run in this JVM's JShell on this build's class path; the working directory is the"
                            + " notebook's folder."})
    static final class Run implements Callable<Integer> {
        static final String LOG_PROPERTY = "org.slf4j.simpleLogger.defaultLogLevel";

        @Parameters(paramLabel = "CONNECTION_FILE", description = "The JSON connection file Jupyter writes.")
        Path connectionFile;

        @Override
        public Integer call() throws Exception {
            if (!Files.isRegularFile(connectionFile)) {
                throw new NoSuchFileException(connectionFile.toString());
            }
            KernelConnectionProperties props;
            try {
                props = KernelConnectionProperties.parse(Files.readString(connectionFile, StandardCharsets.UTF_8));
            } catch (RuntimeException e) {
                throw new InvalidInputException(connectionFile + ": not a Jupyter connection file ("
                        + e.getMessage() + ")");
            }
            if (props == null || props.getTransport() == null || props.getIp() == null || props.getShellPort() <= 0
                    || props.getControlPort() <= 0 || props.getIopubPort() <= 0 || props.getHbPort() <= 0) {
                throw new InvalidInputException(connectionFile + ": not a Jupyter connection file (needs transport,"
                        + " ip, shell_port, control_port, iopub_port, hb_port, stdin_port, key, signature_scheme)");
            }
            // slf4j-simple reads this once, at the first logger: DL4J's start-up lines would fill the first cell.
            if (System.getProperty(LOG_PROPERTY) == null) {
                System.setProperty(LOG_PROPERTY, "warn");
            }
            System.setProperty("java.awt.headless", "true");
            JavaKernel kernel = new JavaKernel(ProjectClasspath.ofRunningJvm(), Path.of("").toAbsolutePath());
            JupyterConnection connection = new JupyterConnection(props);
            kernel.becomeHandlerForConnection(connection);
            kernel.onStartup();
            connection.connect();
            connection.waitUntilClose();
            return 0;   // GradSurgeryCli.main exits the JVM (ND4J keeps non-daemon threads)
        }
    }
}
