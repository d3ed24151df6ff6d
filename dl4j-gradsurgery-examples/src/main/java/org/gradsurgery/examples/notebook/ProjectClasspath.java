package org.gradsurgery.examples.notebook;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import org.gradsurgery.InvalidInputException;

/**
 * The class path a notebook runs against: the running JVM's {@code java.class.path} with every jar's manifest
 * {@code Class-Path} followed, so it is complete under {@code java -jar gradsurgery.jar} (thin jar + {@code lib/})
 * and under Surefire's manifest-only booter jar alike.
 *
 * <p>It answers the Maven magics without Maven when it can: a coordinate {@code G:A:V} is satisfied when
 * <ul>
 *   <li>G is {@value #PROJECT_GROUP} and A is one of this build's modules (the running build stands in for any of
 *       its versions), or</li>
 *   <li>a jar on the class path is named {@code A-V.jar} or {@code A-V-classifier.jar}, and, when it sits in a Maven
 *       repository layout ({@code …/G-as-path/A/V/}), under group G.</li>
 * </ul>
 */
public final class ProjectClasspath {
    /** Group id of this project's artifacts. */
    public static final String PROJECT_GROUP = "org.gradsurgery";
    /** This build's modules. */
    public static final Set<String> PROJECT_ARTIFACTS = Set.of("dl4j-gradsurgery", "dl4j-gradsurgery-examples");

    private final List<Path> entries;

    private ProjectClasspath(List<Path> entries) {
        this.entries = List.copyOf(entries);
    }

    /** The running JVM's class path, manifests followed, entries that do not exist dropped. */
    public static ProjectClasspath ofRunningJvm() {
        return of(System.getProperty("java.class.path", ""));
    }

    /** A class path string (platform separator), manifests followed. */
    public static ProjectClasspath of(String classPath) {
        Set<Path> seen = new LinkedHashSet<>();
        for (String entry : classPath.split(java.io.File.pathSeparator)) {
            if (!entry.isBlank()) {
                add(Path.of(entry).toAbsolutePath().normalize(), seen);
            }
        }
        return new ProjectClasspath(new ArrayList<>(seen));
    }

    private static void add(Path entry, Set<Path> seen) {
        if (!Files.exists(entry) || !seen.add(entry)) {
            return;
        }
        if (!Files.isRegularFile(entry) || !entry.getFileName().toString().endsWith(".jar")) {
            return;
        }
        try (JarFile jar = new JarFile(entry.toFile())) {
            Manifest manifest = jar.getManifest();
            String cp = manifest == null ? null : manifest.getMainAttributes().getValue("Class-Path");
            if (cp == null) {
                return;
            }
            URI base = entry.toUri();
            for (String token : cp.trim().split("\\s+")) {
                if (!token.isEmpty()) {
                    add(Path.of(base.resolve(token)).toAbsolutePath().normalize(), seen);
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the manifest of class-path entry " + entry, e);
        }
    }

    /** The entries, in class-path order. */
    public List<Path> entries() {
        return entries;
    }

    /** The entries joined with the platform's path separator. */
    public String asString() {
        StringBuilder sb = new StringBuilder();
        for (Path p : entries) {
            if (sb.length() > 0) {
                sb.append(java.io.File.pathSeparatorChar);
            }
            sb.append(p);
        }
        return sb.toString();
    }

    /**
     * Where coordinate {@code G:A[:packaging[:classifier]]:V} is satisfied: "this build" for the project's own
     * modules, else the first matching jar, else empty (then {@link MavenResolver} asks Maven).
     *
     * @throws InvalidInputException when the coordinate is malformed
     */
    public Optional<String> find(String coordinate) {
        String[] parts = coordinate.split(":", -1);
        if (parts.length < 3 || parts.length > 5) {
            throw new InvalidInputException("malformed Maven coordinate '" + coordinate
                    + "' (expected GROUP:ARTIFACT:VERSION)");
        }
        for (String part : parts) {
            if (part.isBlank()) {
                throw new InvalidInputException("malformed Maven coordinate '" + coordinate
                        + "' (an empty part)");
            }
        }
        String group = parts[0];
        String artifact = parts[1];
        String version = parts[parts.length - 1];
        String classifier = parts.length == 5 ? parts[3] : null;
        if (group.equals(PROJECT_GROUP) && PROJECT_ARTIFACTS.contains(artifact)) {
            return Optional.of("this build");
        }
        for (Path entry : entries) {
            if (matches(entry, group, artifact, version, classifier)) {
                return Optional.of(entry.toString());
            }
        }
        return Optional.empty();
    }

    private static boolean matches(Path jar, String group, String artifact, String version, String classifier) {
        String name = jar.getFileName().toString();
        String stem = artifact + "-" + version;
        boolean nameOk = classifier == null
                ? name.equals(stem + ".jar") || name.startsWith(stem + "-") && name.endsWith(".jar")
                : name.equals(stem + "-" + classifier + ".jar");
        if (!nameOk) {
            return false;
        }
        // In a Maven repository (…/org/nd4j/nd4j-api/1.0.0-M2.1/nd4j-api-1.0.0-M2.1.jar) the folders name the group.
        Path versionDir = jar.getParent();
        Path artifactDir = versionDir == null ? null : versionDir.getParent();
        if (artifactDir == null || !versionDir.getFileName().toString().equals(version)
                || !artifactDir.getFileName().toString().equals(artifact)) {
            return true;
        }
        Path groupDir = artifactDir.getParent();
        String[] groupParts = group.split("\\.");
        for (int i = groupParts.length - 1; i >= 0; i--) {
            if (groupDir == null || !groupDir.getFileName().toString().equals(groupParts[i])) {
                return false;
            }
            groupDir = groupDir.getParent();
        }
        return true;
    }
}
