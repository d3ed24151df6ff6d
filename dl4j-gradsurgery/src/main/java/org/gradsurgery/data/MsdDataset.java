package org.gradsurgery.data;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.gzip.GzipCompressorInputStream;
import org.gradsurgery.InvalidInputException;
import org.gradsurgery.data.nifti.Nifti;
import org.gradsurgery.data.nifti.NiftiImage;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.ObjectMapper;

/**
 * A Medical Segmentation Decathlon task folder (Simpson et al., <i>A large annotated medical image dataset for the
 * development and evaluation of segmentation algorithms</i>, arXiv:1902.09063, 2019; Antonelli et al., Nature
 * Communications 13:4128, 2022), validated against its documented layout:
 * <pre>
 * TaskXX_Name/
 *   dataset.json   name, description, reference, licence, release, tensorImageSize,
 *                  modality {"0": "MRI", ...}, labels {"0": "background", ...},
 *                  numTraining, numTest, training [{"image": "./imagesTr/x.nii.gz", "label": "./labelsTr/x.nii.gz"}],
 *                  test ["./imagesTs/y.nii.gz"]
 *   imagesTr/  labelsTr/  imagesTs/
 * </pre>
 * Checks: dataset.json parses and has {@code modality}, {@code labels} and {@code training}; the modality and label
 * keys are 0..n−1; {@code numTraining}/{@code numTest} equal the list lengths; every listed file exists inside the
 * task folder; {@code imagesTr/} and {@code labelsTr/} exist ({@code imagesTs/} is optional: training and evaluation
 * do not need the unlabelled test images, and a listed test file that is missing is still reported). macOS resource-fork files ({@code ._*}, present in the official archives)
 * are ignored. Images with several modalities are 4D NIfTI {@code [X, Y, Z, M]}; {@link Case#load()} turns them into
 * M channels.
 *
 * <p>{@link #main} is what {@code datasets/msd/fetch_and_prepare.sh} runs: extract an archive (if given) and print
 * the summary.
 */
public final class MsdDataset {
    private final Path root;
    private final JsonNode json;
    private final List<String> modalities;
    private final List<String> labelNames;
    private final List<Case> training;
    private final List<Path> test;
    private final List<String> unreferenced;

    private MsdDataset(Path root, JsonNode json, List<String> modalities, List<String> labelNames, List<Case> training,
                       List<Path> test, List<String> unreferenced) {
        this.root = root;
        this.json = json;
        this.modalities = modalities;
        this.labelNames = labelNames;
        this.training = training;
        this.test = test;
        this.unreferenced = unreferenced;
    }

    /**
     * Opens and validates a task folder.
     *
     * @throws IllegalArgumentException naming the folder and every problem found
     */
    public static MsdDataset open(Path root) throws IOException {
        Path dir = root.toAbsolutePath().normalize();
        List<String> problems = new ArrayList<>();
        Path jsonFile = dir.resolve("dataset.json");
        if (!Files.isRegularFile(jsonFile)) {
            throw new InvalidInputException("not an MSD task folder: " + dir + " has no dataset.json");
        }
        JsonNode json;
        try {
            json = new ObjectMapper().readTree(jsonFile.toFile());
        } catch (IOException e) {
            throw new InvalidInputException(jsonFile + " is not valid JSON: " + e.getMessage(), e);
        }
        if (json == null || !json.isObject()) {
            throw new InvalidInputException(jsonFile + ": expected a JSON object");
        }
        List<String> modalities = indexed(json, "modality", jsonFile, problems);
        List<String> labels = indexed(json, "labels", jsonFile, problems);
        // imagesTs/ holds unlabelled test images: training and evaluation do not need it
        for (String d : new String[]{"imagesTr", "labelsTr"}) {
            if (!Files.isDirectory(dir.resolve(d))) {
                problems.add("missing folder " + d + "/");
            }
        }
        List<Case> training = new ArrayList<>();
        Set<Path> referenced = new HashSet<>();
        JsonNode tr = json.get("training");
        if (tr == null || !tr.isArray()) {
            problems.add("'training' must be a list of {\"image\", \"label\"}");
        } else {
            for (int i = 0; i < tr.size(); i++) {
                JsonNode e = tr.get(i);
                Path img = file(dir, e.get("image"), "training[" + i + "].image", problems);
                Path lab = file(dir, e.get("label"), "training[" + i + "].label", problems);
                if (img != null && lab != null) {
                    training.add(Case.of(Png.name(img), img, lab));
                    referenced.add(img);
                    referenced.add(lab);
                }
            }
            count(json, "numTraining", tr.size(), problems);
        }
        List<Path> test = new ArrayList<>();
        JsonNode ts = json.get("test");
        if (ts != null) {
            if (!ts.isArray()) {
                problems.add("'test' must be a list of paths");
            } else {
                for (int i = 0; i < ts.size(); i++) {
                    Path p = file(dir, ts.get(i), "test[" + i + "]", problems);
                    if (p != null) {
                        test.add(p);
                        referenced.add(p);
                    }
                }
                count(json, "numTest", ts.size(), problems);
            }
        }
        if (!problems.isEmpty()) {
            throw new InvalidInputException("MSD layout check failed for " + dir + ":\n  - "
                    + String.join("\n  - ", problems));
        }
        List<String> unreferenced = new ArrayList<>();
        for (String d : new String[]{"imagesTr", "labelsTr", "imagesTs"}) {
            if (!Files.isDirectory(dir.resolve(d))) {
                continue;
            }
            try (Stream<Path> s = Files.list(dir.resolve(d))) {
                s.filter(Cases::isImageFile).filter(p -> !referenced.contains(p.normalize())).sorted()
                        .forEach(p -> unreferenced.add(dir.relativize(p).toString()));
            }
        }
        return new MsdDataset(dir, json, modalities, labels, List.copyOf(training), List.copyOf(test),
                List.copyOf(unreferenced));
    }

    private static List<String> indexed(JsonNode json, String key, Path file, List<String> problems) {
        JsonNode n = json.get(key);
        if (n == null || !n.isObject() || n.size() == 0) {
            problems.add("'" + key + "' must be a non-empty object {\"0\": ..., \"1\": ...}");
            return List.of();
        }
        String[] out = new String[n.size()];
        Iterator<Map.Entry<String, JsonNode>> it = n.fields();
        while (it.hasNext()) {
            Map.Entry<String, JsonNode> e = it.next();
            int k;
            try {
                k = Integer.parseInt(e.getKey());
            } catch (NumberFormatException ex) {
                k = -1;
            }
            if (k < 0 || k >= out.length || out[k] != null) {
                problems.add("'" + key + "' keys must be 0.." + (out.length - 1) + ", got " + fieldNames(n));
                return List.of();
            }
            out[k] = e.getValue().asText();
        }
        return List.of(out);
    }

    private static List<String> fieldNames(JsonNode n) {
        List<String> l = new ArrayList<>();
        n.fieldNames().forEachRemaining(l::add);
        return l;
    }

    private static void count(JsonNode json, String key, int actual, List<String> problems) {
        JsonNode n = json.get(key);
        if (n != null && (!n.canConvertToInt() || n.asInt() != actual)) {
            problems.add("'" + key + "' is " + n + " but the list has " + actual + " entries");
        }
    }

    private static Path file(Path dir, JsonNode node, String what, List<String> problems) {
        if (node == null || !node.isTextual() || node.asText().isEmpty()) {
            problems.add(what + " must be a path");
            return null;
        }
        Path p = dir.resolve(node.asText()).normalize();
        if (!p.startsWith(dir)) {
            problems.add(what + " points outside the task folder: " + node.asText());
            return null;
        }
        if (!Files.isRegularFile(p)) {
            problems.add(what + ": missing file " + dir.relativize(p));
            return null;
        }
        return p;
    }

    public Path root() {
        return root;
    }

    /** {@code name} from dataset.json (or the folder name). */
    public String name() {
        return text("name", root.getFileName().toString());
    }

    /** A top-level text field of dataset.json, or {@code fallback}. */
    public String text(String key, String fallback) {
        JsonNode n = json.get(key);
        return n == null || n.isNull() ? fallback : n.asText();
    }

    /** Modality names by channel index. */
    public List<String> modalities() {
        return modalities;
    }

    /** Label names by class id (0 is background). */
    public List<String> labelNames() {
        return labelNames;
    }

    /** Training cases (image + label), in dataset.json order. */
    public List<Case> trainingCases() {
        return training;
    }

    /** Test images (no labels), in dataset.json order. */
    public List<Path> testImages() {
        return test;
    }

    /** Image files in the three folders that dataset.json does not list (relative paths). */
    public List<String> unreferencedFiles() {
        return unreferenced;
    }

    /**
     * Loads the first training case and checks its channels against the modalities and its labels against the
     * label names; returns a one-line description of it.
     */
    public String checkFirstCase() throws IOException {
        if (training.isEmpty()) {
            return "no training cases";
        }
        Case c = training.get(0);
        Sample s = c.load();
        if (s.channels() != modalities.size()) {
            throw new InvalidInputException(c.images().get(0) + " has " + s.channels() + " channel(s) but "
                    + root.resolve("dataset.json") + " lists " + modalities.size() + " modalities " + modalities);
        }
        int max = 0;
        int min = 0;
        for (int v : s.rawLabel()) {
            max = Math.max(max, v);
            min = Math.min(min, v);
        }
        if (min < 0 || max >= labelNames.size()) {
            throw new InvalidInputException(c.label() + " holds label values " + min + ".." + max + " but "
                    + root.resolve("dataset.json") + " names " + labelNames.size() + " labels " + labelNames);
        }
        NiftiImage header = Case.isPng(c.images().get(0)) ? null : Nifti.read(c.images().get(0));
        return c.id() + ": shape " + Arrays.toString(s.shape()) + " x " + s.channels() + " channel(s), spacing "
                + Arrays.toString(s.spacing()) + (header != null ? " " + header.header().spatialUnit() : "")
                + ", label values 0.." + max;
    }

    /** A human-readable summary (what the fetch script prints). */
    public void printSummary(PrintStream out) {
        out.println("MSD task   : " + name() + "  (" + root + ")");
        out.println("description: " + text("description", "-"));
        out.println("licence    : " + text("licence", text("license", "-")));
        out.println("reference  : " + text("reference", "-"));
        out.println("release    : " + text("release", "-") + ", tensorImageSize " + text("tensorImageSize", "-"));
        out.println("modalities : " + modalities);
        out.println("labels     : " + labelNames);
        out.println("training   : " + training.size() + " cases (imagesTr/ + labelsTr/)");
        out.println("test       : " + test.size() + " images (imagesTs/)");
        if (!unreferenced.isEmpty()) {
            out.println("not listed in dataset.json: " + unreferenced.size() + " file(s), e.g. "
                    + unreferenced.subList(0, Math.min(5, unreferenced.size())));
        }
    }

    /**
     * Extracts a {@code .tar} (or {@code .tar.gz}/{@code .tgz}) MSD archive into {@code destDir} and returns the
     * task folder (the archive's single top-level folder). Entries are written to a temporary folder first and moved
     * into place only when the whole archive has been read, so an interrupted run leaves nothing half-written.
     * Entries that would land outside {@code destDir}, links and device files are rejected; {@code ._*} files are
     * skipped.
     *
     * @throws IllegalArgumentException if the task folder already exists, or the archive does not hold exactly one
     *                                  top-level folder
     */
    public static Path extract(Path archive, Path destDir) throws IOException {
        if (!Files.isRegularFile(archive)) {
            throw new InvalidInputException("archive not found: " + archive);
        }
        Files.createDirectories(destDir);
        Path dest = destDir.toAbsolutePath().normalize();
        Path tmp = Files.createTempDirectory(dest, ".extract-");
        try {
            Set<String> tops = new HashSet<>();
            String lower = archive.getFileName().toString().toLowerCase(Locale.ROOT);
            try (InputStream raw = new BufferedInputStream(Files.newInputStream(archive));
                 InputStream in = lower.endsWith(".gz") || lower.endsWith(".tgz") ? new GzipCompressorInputStream(raw) : raw;
                 TarArchiveInputStream tar = new TarArchiveInputStream(in)) {
                TarArchiveEntry e;
                while ((e = tar.getNextTarEntry()) != null) {
                    String name = e.getName();
                    Path target = tmp.resolve(name).normalize();
                    if (!target.startsWith(tmp) || target.equals(tmp)) {
                        if (target.equals(tmp)) {
                            continue; // "./"
                        }
                        throw new InvalidInputException(archive + ": entry '" + name + "' would extract outside "
                                + dest);
                    }
                    Path rel = tmp.relativize(target);
                    if (rel.getFileName().toString().startsWith("._")) {
                        continue;
                    }
                    if (e.isDirectory()) {
                        Files.createDirectories(target);
                    } else if (e.isFile()) {
                        Files.createDirectories(target.getParent());
                        Files.copy(tar, target, StandardCopyOption.REPLACE_EXISTING);
                    } else {
                        throw new InvalidInputException(archive + ": entry '" + name + "' is a link or special "
                                + "file; MSD archives hold only folders and files");
                    }
                    tops.add(rel.getName(0).toString());
                }
            } catch (IOException e) {
                throw new IOException(archive + ": not a readable tar archive (" + e.getMessage() + ")", e);
            }
            if (tops.size() != 1) {
                throw new InvalidInputException(archive + ": expected one top-level task folder, found "
                        + new java.util.TreeSet<>(tops));
            }
            String top = tops.iterator().next();
            Path finalDir = dest.resolve(top);
            if (Files.exists(finalDir)) {
                throw new InvalidInputException(finalDir + " already exists; remove it or point at it directly");
            }
            Files.move(tmp.resolve(top), finalDir, StandardCopyOption.ATOMIC_MOVE);
            return finalDir;
        } finally {
            deleteTree(tmp);
        }
    }

    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            List<Path> all = new ArrayList<>(s.toList());
            all.sort(Comparator.reverseOrder());
            for (Path p : all) {
                Files.deleteIfExists(p);
            }
        }
    }

    /**
     * {@code MsdDataset <archive.tar | task folder> [destination]}: extracts the archive into the destination
     * (default: the archive's folder) unless a folder is given, validates the layout, loads the first training case
     * and prints the summary. Exit status 0 on success, 1 with a one-line reason otherwise.
     */
    public static void main(String[] args) {
        if (args.length < 1 || args.length > 2 || args[0].equals("-h") || args[0].equals("--help")) {
            System.err.println("usage: MsdDataset <TaskXX_Name.tar | TaskXX_Name folder> [destination folder]");
            System.exit(args.length == 1 ? 0 : 2);
        }
        try {
            Path in = Path.of(args[0]);
            Path dir;
            if (Files.isDirectory(in)) {
                dir = in;
            } else {
                Path dest = args.length > 1 ? Path.of(args[1]) : in.toAbsolutePath().getParent();
                Path existing = dest.resolve(taskName(in));
                if (Files.isDirectory(existing)) {
                    System.out.println("already extracted: " + existing + " (validating it)");
                    dir = existing;
                } else {
                    System.out.println("extracting " + in + " into " + dest + " ...");
                    dir = extract(in, dest);
                }
            }
            MsdDataset ds = open(dir);
            ds.printSummary(System.out);
            System.out.println("first case : " + ds.checkFirstCase());
            System.out.println("OK: layout matches the MSD documentation");
        } catch (IOException | RuntimeException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(1);
        }
    }

    /** {@code Task04_Hippocampus.tar} → {@code Task04_Hippocampus}. */
    static String taskName(Path archive) {
        String n = archive.getFileName().toString();
        for (String ext : new String[]{".tar.gz", ".tgz", ".tar"}) {
            if (n.toLowerCase(Locale.ROOT).endsWith(ext)) {
                return n.substring(0, n.length() - ext.length());
            }
        }
        return n;
    }

    @Override
    public String toString() {
        return "MsdDataset{" + name() + ", " + training.size() + " training, " + test.size() + " test, modalities "
                + modalities + ", labels " + labelNames + "}";
    }
}
