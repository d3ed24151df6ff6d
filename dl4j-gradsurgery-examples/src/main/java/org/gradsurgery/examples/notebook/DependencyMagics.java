package org.gradsurgery.examples.notebook;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.gradsurgery.InvalidInputException;

/**
 * The magics of the Java kernels, split off a cell's source: one parser for this project's kernel
 * ({@code gradsurgery kernel}) and the headless runner ({@code gradsurgery notebook run}), accepting both BeakerX's and
 * JJava's spellings so a notebook written for either runs unchanged.
 *
 * <table>
 *   <caption>supported magics</caption>
 *   <tr><th>magic</th><th>origin</th><th>does</th></tr>
 *   <tr><td>{@code %maven G:A:V [G:A:V …]}</td><td>JJava</td><td>Maven artifacts and their dependencies</td></tr>
 *   <tr><td>{@code %classpath add mvn G A V} (or {@code G:A:V}); cell magic {@code %%classpath add mvn}, one
 *       coordinate per line</td><td>BeakerX</td><td>the same</td></tr>
 *   <tr><td>{@code %jars PATH [PATH …]} (globs in the file name)</td><td>JJava</td><td>jar files</td></tr>
 *   <tr><td>{@code %classpath add jar PATH}</td><td>BeakerX</td><td>one jar file (the rest of the line)</td></tr>
 *   <tr><td>{@code %classpath PATH [PATH …]}</td><td>JJava</td><td>jars or class folders (globs allowed)</td></tr>
 *   <tr><td>{@code %load FILE}</td><td>JJava</td><td>runs a Java/JShell file (the rest of the line) as if it
 *       were a cell</td></tr>
 * </table>
 * Any other line starting with {@code %} is an error: a notebook that relies on a magic this project cannot honour
 * would otherwise fail later with a confusing compile error. Magic lines become lines of blanks of the same length in
 * {@link Cell#code()}, so line numbers in diagnostics and cursor offsets for completion still match the cell.
 */
public final class DependencyMagics {

    /** What a magic asks for. */
    public enum Kind {
        /** A Maven coordinate. */
        MAVEN,
        /** A jar file or a glob of them (relative paths are against the notebook's folder). */
        JAR,
        /** A jar file or class folder, or a glob of them. */
        CLASSPATH,
        /** A file of Java/JShell code to run. */
        LOAD
    }

    /**
     * One dependency request.
     *
     * @param line 1-based line in the cell
     * @param text the magic's source line
     * @param kind what is asked for
     * @param value the coordinate ({@code G:A:V}) or the path as written
     */
    public record Magic(int line, String text, Kind kind, String value) {
    }

    /**
     * A code cell's source without its magics.
     *
     * @param code the Java code, magic lines blanked (same length, so offsets match the cell)
     * @param magics the dependency requests, in order
     */
    public record Cell(String code, List<Magic> magics) {
    }

    private DependencyMagics() {
    }

    /**
     * Splits the magics off {@code source}.
     *
     * @throws InvalidInputException for an unsupported or malformed magic, naming its line
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
                code.append(blank(raw));
                continue;
            }
            if (!line.startsWith("%")) {
                code.append(raw);
                continue;
            }
            code.append(blank(raw));
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
                    } else if (w.size() >= 2 && !w.get(1).equals("add")) {
                        for (String p : w.subList(1, w.size())) {
                            magics.add(new Magic(lineNo, raw, Kind.CLASSPATH, p));
                        }
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
                case "%load" -> {
                    requireArgs(lineNo, raw, w);
                    magics.add(new Magic(lineNo, raw, Kind.LOAD, line.substring("%load".length()).strip()));
                }
                default -> throw unsupported(lineNo, raw);
            }
        }
        return new Cell(code.toString(), List.copyOf(magics));
    }

    /**
     * The files a {@link Kind#JAR}, {@link Kind#CLASSPATH} or {@link Kind#LOAD} magic names: a path, or a glob in its
     * file name ({@code lib/*.jar}), relative to {@code baseDir}. A jar must be a file; a class-path entry may also be
     * a folder.
     *
     * @throws InvalidInputException when nothing matches
     */
    public static List<Path> paths(Magic magic, Path baseDir) {
        Path p = baseDir.resolve(magic.value()).normalize();
        String name = p.getFileName() == null ? "" : p.getFileName().toString();
        if (!name.contains("*") && !name.contains("?") && !name.contains("{")) {
            boolean ok = Files.isRegularFile(p) || magic.kind() == Kind.CLASSPATH && Files.isDirectory(p);
            if (!ok) {
                String what = switch (magic.kind()) {
                    case JAR -> "jar";
                    case LOAD -> "file";
                    default -> "jar or class folder";
                };
                throw new InvalidInputException("line " + magic.line() + ": " + magic.text().strip()
                        + ": no such " + what + " " + p);
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
            throw new InvalidInputException("line " + magic.line() + ": " + magic.text().strip()
                    + ": no file matches " + p);
        }
        found.sort(null);
        return found;
    }

    private static String blank(String raw) {
        return " ".repeat(raw.length());
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
            throw new InvalidInputException("line " + lineNo + ": " + raw.strip() + ": needs at least one argument");
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
        throw new InvalidInputException("line " + lineNo + ": " + raw.strip()
                + ": expected a Maven coordinate GROUP ARTIFACT VERSION or GROUP:ARTIFACT:VERSION");
    }

    private static IllegalArgumentException unsupported(int lineNo, String raw) {
        return new InvalidInputException("line " + lineNo + ": unsupported magic '" + raw.strip()
                + "' (supported: %classpath add mvn G A V, %%classpath add mvn, %classpath add jar PATH,"
                + " %maven G:A:V, %jars PATH, %classpath PATH, %load FILE)");
    }
}
