package org.gradsurgery.examples.notebook.kernel;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.gradsurgery.InvalidInputException;
import org.gradsurgery.examples.notebook.ProjectClasspath;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.nd4j.shade.jackson.databind.node.ObjectNode;

/**
 * The Jupyter kernelspec of {@link JavaKernel}: a folder named after the kernel holding {@code kernel.json} and two
 * logos, as {@code jupyter kernelspec install} expects.
 *
 * <p>{@code kernel.json}: {@code argv} = this JVM's {@code java}, the JVM options the natives need (this JVM's
 * {@code -Xmx}/{@code -Xms}/{@code -Xss}/{@code -XX:} options and {@code -D} settings of {@code org.bytedeco.*}, the
 * oneDNN platform extension among them), {@code -cp} with this build's class path ({@link ProjectClasspath}), the CLI's
 * main class and {@code kernel run {connection_file}}; {@code language: java}; {@code interrupt_mode: message}
 * (a Java process cannot take SIGINT as an interrupt: the control channel's {@code interrupt_request} stops the cell).
 */
public final class KernelSpec {
    /** Default kernel name; the notebooks' metadata names it. */
    public static final String DEFAULT_NAME = "java";
    /** Shown in Jupyter's kernel menu. */
    public static final String DISPLAY_NAME = "Java (gradsurgery)";
    /** The CLI main class the kernel runs under. */
    static final String MAIN_CLASS = "org.gradsurgery.examples.cli.GradSurgeryCli";
    private static final List<String> LOGOS = List.of("logo-32x32.png", "logo-64x64.png");
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Where a kernelspec goes, as {@code jupyter kernelspec install} puts it. */
    public enum Scope {
        /** The user's Jupyter data folder. */
        USER,
        /** {@code sys.prefix} of the Python that runs Jupyter (needs {@code jupyter} on PATH). */
        SYS_PREFIX,
        /** {@code PREFIX/share/jupyter/kernels}. */
        PREFIX
    }

    private KernelSpec() {
    }

    /** {@code kernel.json} for a kernel of this build named {@code name}. */
    public static ObjectNode kernelJson(String name, ProjectClasspath classpath) {
        ObjectNode spec = JSON.createObjectNode();
        var argv = spec.putArray("argv");
        argv.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        jvmOptions().forEach(argv::add);
        argv.add("-cp");
        argv.add(classpath.asString());
        argv.add(MAIN_CLASS);
        argv.add("kernel");
        argv.add("run");
        argv.add("{connection_file}");
        spec.put("display_name", name.equals(DEFAULT_NAME) ? DISPLAY_NAME : DISPLAY_NAME + " [" + name + "]");
        spec.put("language", "java");
        spec.put("interrupt_mode", "message");
        spec.putObject("env");
        spec.putObject("metadata").put("debugger", false);
        return spec;
    }

    /** The JVM options carried over from this JVM (see class doc), plus headless AWT. */
    static List<String> jvmOptions() {
        List<String> out = new ArrayList<>();
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (a.startsWith("-Xmx") || a.startsWith("-Xms") || a.startsWith("-Xss") || a.startsWith("-XX:")
                    || a.startsWith("-Dorg.bytedeco.")) {
                out.add(a);
            }
        }
        String ext = System.getProperty("org.bytedeco.javacpp.platform.extension");
        if (ext != null && out.stream().noneMatch(a -> a.startsWith("-Dorg.bytedeco.javacpp.platform.extension="))) {
            out.add("-Dorg.bytedeco.javacpp.platform.extension=" + ext);
        }
        out.add("-Djava.awt.headless=true");
        return out;
    }

    /**
     * Writes the kernelspec folder {@code dir} (kernel.json and the logos); {@code dir} must not exist yet.
     */
    public static void write(Path dir, ObjectNode kernelJson) throws IOException {
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("kernel.json"),
                JSON.writerWithDefaultPrettyPrinter().writeValueAsString(kernelJson) + "\n", StandardCharsets.UTF_8);
        for (String logo : LOGOS) {
            try (InputStream in = KernelSpec.class.getResourceAsStream(logo)) {
                if (in == null) {
                    throw new IllegalStateException("resource " + logo + " is missing from the build");
                }
                Files.copy(in, dir.resolve(logo));
            }
        }
    }

    /** The user's Jupyter data folder: {@code $JUPYTER_DATA_DIR}, else {@code $XDG_DATA_HOME/jupyter}, else
     * {@code ~/.local/share/jupyter} (Jupyter's rules on Linux). */
    static Path userDataDir() {
        String d = System.getenv("JUPYTER_DATA_DIR");
        if (d != null && !d.isBlank()) {
            return Path.of(d);
        }
        String xdg = System.getenv("XDG_DATA_HOME");
        return (xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".local",
                "share")).resolve("jupyter");
    }

    /** Where a scope puts kernel {@code name} when this class writes it itself. */
    static Path folder(Scope scope, Path prefix, String name) {
        return switch (scope) {
            case USER -> userDataDir().resolve("kernels").resolve(name);
            case PREFIX -> prefix.resolve("share").resolve("jupyter").resolve("kernels").resolve(name);
            case SYS_PREFIX -> throw new InvalidInputException("--sys-prefix: needs jupyter on PATH (it names the"
                    + " Python prefix); use --user or --prefix DIR");
        };
    }

    /** {@code jupyter}'s path when it is on PATH, else null. */
    static Path jupyter() {
        String path = System.getenv("PATH");
        if (path == null) {
            return null;
        }
        for (String dir : path.split(File.pathSeparator)) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, "jupyter");
            if (Files.isExecutable(p) && Files.isRegularFile(p)) {
                return p;
            }
        }
        return null;
    }

    /** The {@code jupyter kernelspec} flags for a scope. */
    static List<String> scopeFlags(Scope scope, Path prefix) {
        return switch (scope) {
            case USER -> List.of("--user");
            case SYS_PREFIX -> List.of("--sys-prefix");
            case PREFIX -> List.of("--prefix", prefix.toAbsolutePath().toString());
        };
    }

    /**
     * Runs {@code jupyter ARGS}, returning its output.
     *
     * @throws IllegalStateException with jupyter's last output line when it fails
     */
    static String runJupyter(Path jupyter, List<String> args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(jupyter.toString());
        cmd.addAll(args);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(2, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IllegalStateException(String.join(" ", cmd) + " did not finish in 2 min");
        }
        if (p.exitValue() != 0) {
            String last = out.strip().lines().reduce((a, b) -> b).orElse("exit " + p.exitValue());
            throw new IllegalStateException(String.join(" ", cmd) + " failed: " + last);
        }
        return out;
    }

    /** Deletes a folder tree (a kernelspec). */
    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    /** Moves a finished folder into place, replacing an older one (the old one goes only once the new is complete). */
    static void moveIntoPlace(Path staged, Path target) throws IOException {
        Files.createDirectories(target.getParent());
        Path old = target.resolveSibling(target.getFileName() + ".old-" + ProcessHandle.current().pid());
        if (Files.exists(target)) {
            Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
        }
        Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE);
        deleteTree(old);
    }
}
