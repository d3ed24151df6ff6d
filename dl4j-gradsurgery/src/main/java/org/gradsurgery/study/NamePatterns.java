package org.gradsurgery.study;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.gradsurgery.data.Case;

/**
 * Pairs image and label files in one folder by name patterns with one {@code {id}} placeholder, e.g.
 * {@code {id}_t1.nii.gz} and {@code {id}_labels.nii.gz}: file {@code 1000_t1.nii.gz} is case {@code 1000} with label
 * {@code 1000_labels.nii.gz}. The id is one or more characters other than '/'. Files matching neither pattern are
 * ignored (e.g. {@code 1000_brainmask.nii.gz}); an image without its label and a label without its image are errors
 * naming the files.
 */
public final class NamePatterns {
    private static final String ID = "{id}";

    private NamePatterns() {
    }

    /** Refuses a pattern without exactly one {@code {id}}. */
    static void check(String pattern, String setting) {
        int first = pattern.indexOf(ID);
        if (first < 0 || pattern.indexOf(ID, first + 1) >= 0 || pattern.contains("/")) {
            throw new IllegalArgumentException("study." + setting + " must contain {id} exactly once and no '/', got '"
                    + pattern + "'");
        }
    }

    static Pattern regex(String pattern) {
        int i = pattern.indexOf(ID);
        return Pattern.compile(Pattern.quote(pattern.substring(0, i)) + "(.+)"
                + Pattern.quote(pattern.substring(i + ID.length())));
    }

    /** The cases of {@code folder}, sorted by id. */
    public static List<Case> pair(Path folder, String imagePattern, String labelPattern) throws IOException {
        check(imagePattern, "dataset.imagePattern");
        check(labelPattern, "dataset.labelPattern");
        if (!Files.isDirectory(folder)) {
            throw new IllegalArgumentException("dataset folder " + folder + " is not a directory");
        }
        Pattern img = regex(imagePattern);
        Pattern lab = regex(labelPattern);
        TreeMap<String, Path> images = new TreeMap<>();
        TreeMap<String, Path> labels = new TreeMap<>();
        try (Stream<Path> s = Files.list(folder)) {
            for (Path p : s.sorted().toList()) {
                String n = p.getFileName().toString();
                if (n.startsWith(".") || !Files.isRegularFile(p)) {
                    continue;
                }
                Matcher mi = img.matcher(n);
                Matcher ml = lab.matcher(n);
                if (mi.matches()) {
                    images.put(mi.group(1), p);
                } else if (ml.matches()) {
                    labels.put(ml.group(1), p);
                }
            }
        }
        List<String> problems = new ArrayList<>();
        for (String id : images.keySet()) {
            if (!labels.containsKey(id)) {
                problems.add("image " + images.get(id).getFileName() + " has no label "
                        + labelPattern.replace(ID, id));
            }
        }
        for (String id : labels.keySet()) {
            if (!images.containsKey(id)) {
                problems.add("label " + labels.get(id).getFileName() + " has no image "
                        + imagePattern.replace(ID, id));
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException(folder + ": " + String.join("; ", problems));
        }
        if (images.isEmpty()) {
            throw new IllegalArgumentException(folder + ": no file matches " + imagePattern);
        }
        List<Case> out = new ArrayList<>();
        images.forEach((id, p) -> out.add(Case.of(id, p, labels.get(id))));
        return out;
    }
}
