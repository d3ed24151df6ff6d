package org.gradsurgery.data;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.gradsurgery.InvalidInputException;

/**
 * Case lists from the common on-disk layouts. The Medical Segmentation Decathlon layout is {@link MsdDataset}.
 *
 * <ul>
 *   <li>{@link #fromFolders}: an image folder and a label folder whose files share names. The extension may differ
 *       ({@code a.nii.gz} pairs with {@code a.nii}); nnU-Net channel files {@code <id>_0000.nii.gz},
 *       {@code <id>_0001.nii.gz}, … pair with label {@code <id>.nii.gz} as channels in suffix order.</li>
 *   <li>{@link #fromCsv}: a manifest with a header row naming columns {@code image} (or several columns starting
 *       with {@code image}, taken as channels in column order), optional {@code label}, {@code mask} and {@code id}.
 *       Relative paths resolve against the manifest's folder. Fields are comma-separated, optionally
 *       double-quoted.</li>
 * </ul>
 * Files starting with {@code .} (including macOS {@code ._} resource forks, found in the MSD archives) are ignored.
 */
public final class Cases {
    private static final Pattern CHANNEL = Pattern.compile("(.+)_(\\d{4})");

    private Cases() {
    }

    static boolean isImageFile(Path p) {
        String n = p.getFileName().toString();
        String l = n.toLowerCase(Locale.ROOT);
        return !n.startsWith(".") && Files.isRegularFile(p)
                && (l.endsWith(".nii") || l.endsWith(".nii.gz") || l.endsWith(".png") || l.endsWith(".hdr")
                || l.endsWith(".hdr.gz"));
    }

    static List<Path> listImages(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new InvalidInputException("not a directory: " + dir);
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(Cases::isImageFile).sorted().collect(Collectors.toList());
        }
    }

    /**
     * Pairs images with labels by file name (see class doc), sorted by id.
     *
     * @throws IllegalArgumentException listing images without a label and labels without an image
     */
    public static List<Case> fromFolders(Path imagesDir, Path labelsDir) throws IOException {
        Map<String, Path> labels = new TreeMap<>();
        for (Path p : listImages(labelsDir)) {
            Path prev = labels.put(Png.name(p), p);
            if (prev != null) {
                throw new InvalidInputException("two label files for case " + Png.name(p) + ": " + prev + " and " + p);
            }
        }
        Map<String, TreeMap<String, Path>> images = new TreeMap<>();
        List<String> unmatched = new ArrayList<>();
        for (Path p : listImages(imagesDir)) {
            String stem = Png.name(p);
            String id = stem;
            String channel = "";
            Matcher m = CHANNEL.matcher(stem);
            if (!labels.containsKey(stem) && m.matches() && labels.containsKey(m.group(1))) {
                id = m.group(1);
                channel = m.group(2);
            }
            if (!labels.containsKey(id)) {
                unmatched.add(p.getFileName().toString());
                continue;
            }
            Path prev = images.computeIfAbsent(id, k -> new TreeMap<>()).put(channel, p);
            if (prev != null) {
                throw new InvalidInputException("two image files for case " + id + ": " + prev + " and " + p);
            }
        }
        List<String> orphanLabels = new ArrayList<>();
        for (String id : labels.keySet()) {
            if (!images.containsKey(id)) {
                orphanLabels.add(labels.get(id).getFileName().toString());
            }
        }
        if (!unmatched.isEmpty() || !orphanLabels.isEmpty()) {
            throw new InvalidInputException("cannot pair " + imagesDir + " with " + labelsDir + ": "
                    + (unmatched.isEmpty() ? "" : "images without a label " + head(unmatched) + " ")
                    + (orphanLabels.isEmpty() ? "" : "labels without an image " + head(orphanLabels)));
        }
        if (images.isEmpty()) {
            throw new InvalidInputException("no NIfTI or PNG images in " + imagesDir);
        }
        List<Case> out = new ArrayList<>();
        for (Map.Entry<String, TreeMap<String, Path>> e : images.entrySet()) {
            out.add(new Case(e.getKey(), new ArrayList<>(e.getValue().values()), labels.get(e.getKey()), null));
        }
        return out;
    }

    private static String head(Collection<String> names) {
        List<String> l = new ArrayList<>(names);
        return l.size() <= 10 ? l.toString() : l.subList(0, 10) + " and " + (l.size() - 10) + " more";
    }

    /** Reads a CSV manifest (see class doc). */
    public static List<Case> fromCsv(Path manifest) throws IOException {
        List<String> lines = Files.readAllLines(manifest, StandardCharsets.UTF_8);
        Path base = manifest.toAbsolutePath().getParent();
        List<String> header = null;
        List<Integer> imageCols = new ArrayList<>();
        int labelCol = -1;
        int maskCol = -1;
        int idCol = -1;
        List<Case> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            List<String> fields = splitCsv(line, manifest, i + 1);
            if (header == null) {
                header = fields;
                for (int c = 0; c < fields.size(); c++) {
                    String h = fields.get(c).toLowerCase(Locale.ROOT);
                    if (h.startsWith("image")) {
                        imageCols.add(c);
                    } else if (h.equals("label")) {
                        labelCol = c;
                    } else if (h.equals("mask")) {
                        maskCol = c;
                    } else if (h.equals("id")) {
                        idCol = c;
                    }
                }
                if (imageCols.isEmpty()) {
                    throw new InvalidInputException(manifest + " line " + (i + 1) + ": the header " + fields
                            + " has no 'image' column (expected e.g. 'image,label')");
                }
                continue;
            }
            if (fields.size() != header.size()) {
                throw new InvalidInputException(manifest + " line " + (i + 1) + ": " + fields.size()
                        + " fields, the header has " + header.size());
            }
            List<Path> imgs = new ArrayList<>();
            for (int c : imageCols) {
                imgs.add(resolve(base, fields.get(c), manifest, i + 1));
            }
            Path label = labelCol >= 0 ? resolve(base, fields.get(labelCol), manifest, i + 1) : null;
            Path mask = maskCol >= 0 ? resolve(base, fields.get(maskCol), manifest, i + 1) : null;
            String id = idCol >= 0 ? fields.get(idCol) : Png.name(imgs.get(0));
            out.add(new Case(id, imgs, label, mask));
        }
        if (out.isEmpty()) {
            throw new InvalidInputException(manifest + ": no cases (a header row and one row per case expected)");
        }
        return out;
    }

    private static Path resolve(Path base, String field, Path manifest, int line) {
        if (field.isEmpty()) {
            throw new InvalidInputException(manifest + " line " + line + ": empty path");
        }
        Path p = base.resolve(field).normalize();
        if (!Files.isRegularFile(p)) {
            throw new InvalidInputException(manifest + " line " + line + ": file not found: " + p);
        }
        return p;
    }

    static List<String> splitCsv(String line, Path file, int lineNo) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < line.length(); i++) {
            char ch = line.charAt(i);
            if (quoted) {
                if (ch == '"' && i + 1 < line.length() && line.charAt(i + 1) == '"') {
                    cur.append('"');
                    i++;
                } else if (ch == '"') {
                    quoted = false;
                } else {
                    cur.append(ch);
                }
            } else if (ch == '"') {
                quoted = true;
            } else if (ch == ',') {
                out.add(cur.toString().strip());
                cur.setLength(0);
            } else {
                cur.append(ch);
            }
        }
        if (quoted) {
            throw new InvalidInputException(file + " line " + lineNo + ": unterminated quote");
        }
        out.add(cur.toString().strip());
        return out;
    }

    /** A case-level training/validation split (no case contributes to both). */
    public record Split(List<Case> training, List<Case> validation) {
        public Split {
            training = List.copyOf(training);
            validation = List.copyOf(validation);
        }
    }

    /**
     * Holds out {@code round(n · validationFraction)} whole cases (at least one when the fraction is positive) chosen
     * by a Fisher–Yates shuffle seeded with {@code seed}; both parts keep the input order. Deterministic: the same
     * cases, fraction and seed give the same split, whatever the platform.
     *
     * @throws IllegalArgumentException when the fraction is outside [0, 1) or leaves no training case
     */
    public static Split split(List<Case> cases, double validationFraction, long seed) {
        boolean[] held = heldOut(cases.size(), validationFraction, seed);
        List<Case> train = new ArrayList<>();
        List<Case> val = new ArrayList<>();
        for (int i = 0; i < held.length; i++) {
            (held[i] ? val : train).add(cases.get(i));
        }
        return new Split(train, val);
    }

    /**
     * Which of {@code n} items {@link #split} holds out: {@code round(n · validationFraction)} (at least one for a
     * positive fraction) chosen by a Fisher–Yates shuffle seeded with {@code seed}.
     */
    public static boolean[] heldOut(int n, double validationFraction, long seed) {
        if (!(validationFraction >= 0 && validationFraction < 1)) {
            throw new IllegalArgumentException("validation fraction must be in [0, 1), got " + validationFraction);
        }
        int nVal = validationFraction == 0 ? 0 : Math.max(1, (int) Math.round(n * validationFraction));
        if (n - nVal < 1) {
            throw new IllegalArgumentException("validation fraction " + validationFraction + " of " + n
                    + " case(s) leaves no training case");
        }
        int[] order = new int[n];
        for (int i = 0; i < n; i++) {
            order[i] = i;
        }
        java.util.SplittableRandom rng = new java.util.SplittableRandom(seed);
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = order[i];
            order[i] = order[j];
            order[j] = t;
        }
        boolean[] held = new boolean[n];
        for (int i = 0; i < nVal; i++) {
            held[order[i]] = true;
        }
        return held;
    }
}
