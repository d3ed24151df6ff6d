package org.gradsurgery.examples.notebook;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.gradsurgery.InvalidInputException;
import org.gradsurgery.io.AtomicFiles;

/**
 * Turns the Maven coordinate of a {@code %maven} / {@code %classpath add mvn} magic into jar files.
 *
 * <p>Order: (1) {@link ProjectClasspath#find}: this build's own modules and any jar already on the class path need
 * nothing (no Maven run, no network); (2) the cache: one file per coordinate under {@code cacheDir} listing the jars
 * of an earlier resolution, used while every listed jar still exists; (3) Maven: {@code mvn -B -q
 * dependency:build-classpath} on a temporary POM that depends on the coordinate, which resolves it and its runtime
 * dependencies through the local repository ({@code ~/.m2}, downloading what is missing unless Maven is offline).
 * Step 3 needs {@code mvn} on {@code PATH} (or the command given to the constructor).
 */
public final class MavenResolver {
    /** Environment variable naming the Maven command (default {@code mvn}). */
    public static final String MVN_ENV = "GRADSURGERY_MVN";
    private static final long TIMEOUT_MINUTES = 15;
    /** The plugin version the build itself uses (parent POM), so it is already in the local repository. */
    static final String DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.6.1";

    private final ProjectClasspath classpath;
    private final Path cacheDir;
    private final List<String> mvn;
    private final Map<String, List<Path>> memory = new ConcurrentHashMap<>();

    /**
     * @param classpath what is already loaded
     * @param cacheDir where resolutions are remembered (created on first use)
     * @param mvn the Maven command and any fixed options ({@code List.of("mvn")}, {@code List.of("mvn", "-o")})
     */
    public MavenResolver(ProjectClasspath classpath, Path cacheDir, List<String> mvn) {
        if (mvn.isEmpty()) {
            throw new IllegalStateException("MavenResolver: empty Maven command");
        }
        this.classpath = classpath;
        this.cacheDir = cacheDir;
        this.mvn = List.copyOf(mvn);
    }

    /**
     * The resolver kernels and the runner use: cache in {@code $XDG_CACHE_HOME/gradsurgery/maven} (default
     * {@code ~/.cache/...}), Maven from {@value #MVN_ENV} or {@code mvn}.
     */
    public static MavenResolver defaults(ProjectClasspath classpath) {
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path cache = (xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".cache"))
                .resolve("gradsurgery").resolve("maven");
        String cmd = System.getenv(MVN_ENV);
        return new MavenResolver(classpath, cache, List.of(cmd != null && !cmd.isBlank() ? cmd : "mvn"));
    }

    /**
     * The jars to add for {@code coordinate} ({@code G:A:V}, {@code G:A:packaging:V} or {@code G:A:packaging:classifier:V});
     * empty when the class path already provides it.
     *
     * @throws InvalidInputException naming the coordinate when it is malformed, Maven cannot resolve it, or
     *     {@code mvn} is not there
     */
    public List<Path> resolve(String coordinate) {
        if (classpath.find(coordinate).isPresent()) {
            return List.of();
        }
        List<Path> known = memory.get(coordinate);
        if (known != null) {
            return known;
        }
        Path cacheFile = cacheDir.resolve(coordinate.replaceAll("[^A-Za-z0-9._-]", "_") + ".classpath");
        List<Path> cached = readCache(cacheFile);
        if (cached != null) {
            memory.put(coordinate, cached);
            return cached;
        }
        List<Path> jars = runMaven(coordinate);
        try {
            AtomicFiles.writeString(cacheFile, String.join("\n", jars.stream().map(Path::toString).toList()) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write the Maven cache file " + cacheFile, e);
        }
        memory.put(coordinate, jars);
        return jars;
    }

    private static List<Path> readCache(Path file) {
        if (!Files.isRegularFile(file)) {
            return null;
        }
        try {
            List<Path> jars = new ArrayList<>();
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (!line.isBlank()) {
                    Path p = Path.of(line.strip());
                    if (!Files.exists(p)) {
                        return null;   // the local repository changed: resolve again
                    }
                    jars.add(p);
                }
            }
            return List.copyOf(jars);
        } catch (IOException e) {
            return null;
        }
    }

    private List<Path> runMaven(String coordinate) {
        String[] p = coordinate.split(":");
        String type = p.length >= 4 ? "<type>" + xml(p[2]) + "</type>" : "";
        String classifier = p.length == 5 ? "<classifier>" + xml(p[3]) + "</classifier>" : "";
        String pom = "<project xmlns=\"http://maven.apache.org/POM/4.0.0\"><modelVersion>4.0.0</modelVersion>"
                + "<groupId>org.gradsurgery.notebook</groupId><artifactId>resolve</artifactId><version>0</version>"
                + "<packaging>pom</packaging><dependencies><dependency><groupId>" + xml(p[0]) + "</groupId>"
                + "<artifactId>" + xml(p[1]) + "</artifactId><version>" + xml(p[p.length - 1]) + "</version>"
                + type + classifier + "</dependency></dependencies></project>\n";
        Path dir = null;
        try {
            dir = Files.createTempDirectory("gradsurgery-mvn-");
            Files.writeString(dir.resolve("pom.xml"), pom);
            Path out = dir.resolve("classpath.txt");
            Path log = dir.resolve("mvn.log");
            List<String> cmd = new ArrayList<>(mvn);
            cmd.addAll(List.of("-B", "-q", "-f", dir.resolve("pom.xml").toString(), DEPENDENCY_PLUGIN + ":build-classpath",
                    "-Dmdep.outputFile=" + out, "-Dmdep.includeScope=runtime"));
            Process proc;
            try {
                proc = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
            } catch (IOException e) {
                throw new InvalidInputException("Maven coordinate " + coordinate + " is not on this build's class"
                        + " path, and resolving it needs Maven: '" + mvn.get(0) + "' is not on PATH (install Maven,"
                        + " or set " + MVN_ENV + ")");
            }
            boolean done;
            try {
                done = proc.waitFor(TIMEOUT_MINUTES, TimeUnit.MINUTES);
            } catch (InterruptedException e) {
                proc.destroyForcibly();
                Thread.currentThread().interrupt();
                throw new InvalidInputException("Maven coordinate " + coordinate + ": resolution interrupted");
            }
            if (!done) {
                proc.destroyForcibly();
                throw new InvalidInputException("Maven coordinate " + coordinate + ": mvn did not finish in "
                        + TIMEOUT_MINUTES + " min");
            }
            if (proc.exitValue() != 0 || !Files.isRegularFile(out)) {
                throw new InvalidInputException("Maven coordinate " + coordinate + " cannot be resolved: "
                        + firstError(Files.readString(log)));
            }
            List<Path> jars = new ArrayList<>();
            for (String entry : Files.readString(out).strip().split(java.io.File.pathSeparator)) {
                if (!entry.isBlank()) {
                    jars.add(Path.of(entry.strip()));
                }
            }
            return List.copyOf(jars);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot run Maven for " + coordinate + " in " + dir, e);
        } finally {
            deleteQuietly(dir);
        }
    }

    /** Maven's first {@code [ERROR]} line (what went wrong), without the prefix. */
    static String firstError(String log) {
        for (String line : log.split("\n")) {
            if (line.startsWith("[ERROR]") && line.length() > 8) {
                return line.substring(7).strip();
            }
        }
        String s = log.strip();
        return s.isEmpty() ? "mvn failed without a message" : s.lines().reduce((a, b) -> b).orElse(s);
    }

    private static String xml(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;");
    }

    private static void deleteQuietly(Path dir) {
        if (dir == null) {
            return;
        }
        try (var files = Files.walk(dir)) {
            files.sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        } catch (IOException ignored) {
            // a temporary folder left behind is harmless
        }
    }
}
