package org.gradsurgery.examples.notebook;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The dependency magics of the two Java kernels, split off a cell's source.
 *
 * <table>
 *   <caption>supported magics</caption>
 *   <tr><th>kernel</th><th>Maven artifact</th><th>jar file</th></tr>
 *   <tr><td>BeakerX</td><td>{@code %classpath add mvn G A V} (or {@code G:A:V}); cell form
 *       {@code %%classpath add mvn} with one coordinate per following line</td><td>{@code %classpath add jar PATH}</td></tr>
 *   <tr><td>JJava / IJava</td><td>{@code %maven G:A:V [G:A:V …]}</td><td>{@code %jars PATH [PATH …]} (globs in the
 *       file name)</td></tr>
 * </table>
 * Any other line starting with {@code %} is an error: a notebook that relies on a magic the runner cannot honour
 * would otherwise fail later with a confusing compile error. Magic lines become blank lines in {@link Cell#code()}, so
 * line numbers in diagnostics still match the cell.
 */
public final class DependencyMagics {

    /** What a magic asks for. */
    public enum Kind {
        /** A Maven coordinate. */
        MAVEN,
        /** A jar path (relative paths are against the notebook's folder, as a kernel started there sees them). */
        JAR
    }

    /**
     * One dependency request.
     *
     * @param line 1-based line in the cell
     * @param text the magic's source line
     * @param kind Maven coordinate or jar path
     * @param value the coordinate ({@code G:A:V}) or the path as written
     */
    public record Magic(int line, String text, Kind kind, String value) {
    }

    /**
     * A code cell's source without its magics.
     *
     * @param code the Java code, magic lines blanked
     * @param magics the dependency requests, in order
     */
    public record Cell(String code, List<Magic> magics) {
    }

    private DependencyMagics() {
    }

    /**
     * Splits the magics off {@code source}.
     *
     * @throws IllegalArgumentException for an unsupported or malformed magic, naming its line
     */
    public static Cell parse(String source) {
        String[] lines = source.split("\n", -1);
        List<Magic> magics = new ArrayList<>();
        StringBuilder code = new StringBuilder();
        boolean cellMagicMvn = false;
        for (int i = 0; i < lines.length; i++) {
            String raw = lines[i];
            String line = raw.strip();
            int lineNo = i + 1;
            if (i > 0) {
                code.append('\n');
            }
            if (cellMagicMvn) {
                if (!line.isEmpty()) {
                    magics.add(new Magic(lineNo, raw, Kind.MAVEN, coordinate(lineNo, raw, words(line))));
                }
                continue;
            }
            if (!line.startsWith("%")) {
                code.append(raw);
                continue;
            }
            List<String> w = words(line);
            if (line.startsWith("%%")) {
                if (i == firstNonBlank(lines) && w.equals(List.of("%%classpath", "add", "mvn"))) {
                    cellMagicMvn = true;
                    continue;
                }
                throw unsupported(lineNo, raw);
            }
            switch (w.get(0)) {
                case "%classpath" -> {
                    if (w.size() >= 4 && w.get(1).equals("add") && w.get(2).equals("mvn")) {
                        magics.add(new Magic(lineNo, raw, Kind.MAVEN, coordinate(lineNo, raw, w.subList(3, w.size()))));
                    } else if (w.size() >= 4 && w.get(1).equals("add") && w.get(2).equals("jar")) {
                        String path = line.substring(line.indexOf("jar") + 3).strip();
                        magics.add(new Magic(lineNo, raw, Kind.JAR, path));
                    } else {
                        throw unsupported(lineNo, raw);
                    }
                }
                case "%maven" -> {
                    requireArgs(lineNo, raw, w);
                    for (String c : w.subList(1, w.size())) {
                        magics.add(new Magic(lineNo, raw, Kind.MAVEN, coordinate(lineNo, raw, List.of(c))));
                    }
                }
                case "%jars", "%jar" -> {
                    requireArgs(lineNo, raw, w);
                    for (String p : w.subList(1, w.size())) {
                        magics.add(new Magic(lineNo, raw, Kind.JAR, p));
                    }
                }
                default -> throw unsupported(lineNo, raw);
            }
        }
        return new Cell(code.toString(), List.copyOf(magics));
    }

    /**
     * The jar files a {@link Kind#JAR} magic names: a path, or a glob in its file name ({@code lib/*.jar}),
     * relative to {@code baseDir}.
     *
     * @throws IllegalArgumentException when nothing matches
     */
    public static List<Path> jars(Magic magic, Path baseDir) {
        Path p = baseDir.resolve(magic.value()).normalize();
        String name = p.getFileName() == null ? "" : p.getFileName().toString();
        if (!name.contains("*") && !name.contains("?") && !name.contains("{")) {
            if (!Files.isRegularFile(p) && !Files.isDirectory(p)) {
                throw new IllegalArgumentException("line " + magic.line() + ": " + magic.text().strip()
                        + ": no such jar " + p);
            }
            return List.of(p);
        }
        Path dir = p.getParent();
        List<Path> found = new ArrayList<>();
        if (dir != null && Files.isDirectory(dir)) {
            try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, name)) {
                ds.forEach(found::add);
            } catch (IOException e) {
                throw new UncheckedIOException("cannot list " + dir, e);
            }
        }
        if (found.isEmpty()) {
            throw new IllegalArgumentException("line " + magic.line() + ": " + magic.text().strip()
                    + ": no file matches " + p);
        }
        found.sort(null);
        return found;
    }

    private static int firstNonBlank(String[] lines) {
        for (int i = 0; i < lines.length; i++) {
            if (!lines[i].isBlank()) {
                return i;
            }
        }
        return -1;
    }

    private static List<String> words(String line) {
        return Arrays.asList(line.strip().split("\\s+"));
    }

    private static void requireArgs(int lineNo, String raw, List<String> w) {
        if (w.size() < 2) {
            throw new IllegalArgumentException("line " + lineNo + ": " + raw.strip() + ": needs at least one argument");
        }
    }

    /** {@code G A V} (BeakerX) or {@code G:A[:…]:V}. */
    private static String coordinate(int lineNo, String raw, List<String> w) {
        if (w.size() == 1 && w.get(0).split(":").length >= 3) {
            return w.get(0);
        }
        if (w.size() == 3) {
            return String.join(":", w);
        }
        throw new IllegalArgumentException("line " + lineNo + ": " + raw.strip()
                + ": expected a Maven coordinate GROUP ARTIFACT VERSION or GROUP:ARTIFACT:VERSION");
    }

    private static IllegalArgumentException unsupported(int lineNo, String raw) {
        return new IllegalArgumentException("line " + lineNo + ": unsupported magic '" + raw.strip()
                + "' (supported: %classpath add mvn G A V, %%classpath add mvn, %classpath add jar PATH,"
                + " %maven G:A:V, %jars PATH)");
    }
}
