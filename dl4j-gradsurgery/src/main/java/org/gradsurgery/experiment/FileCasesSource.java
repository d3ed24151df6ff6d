package org.gradsurgery.experiment;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.gradsurgery.InvalidSettingException;
import org.gradsurgery.data.Case;
import org.gradsurgery.data.Cases;
import org.gradsurgery.data.MsdDataset;
import org.gradsurgery.data.Sample;
import org.gradsurgery.data.SegmentationDataSetIterator;

/**
 * Cases stored as files ({@link Case}: image channels, label, optional mask), from a Medical Segmentation Decathlon
 * folder ({@link #msd}), an image/label folder pair ({@link #folders}) or a CSV manifest ({@link #manifest}). A file
 * that cannot be read as such a source (no dataset.json, unpaired files, a malformed manifest, a case without a
 * label) is an {@link InvalidSettingException} on the setting {@code source}.
 */
public final class FileCasesSource implements DataSource {
    private final DataPlan.Source spec;
    private final String description;
    private final Map<String, Case> cases;
    private final List<String> classNames;
    private final List<String> modalities;

    private FileCasesSource(DataPlan.Source spec, String description, List<Case> cases, List<String> classNames,
                            List<String> modalities) {
        this.spec = spec;
        this.cases = new LinkedHashMap<>();
        for (Case c : cases) {
            if (c.label() == null) {
                throw InvalidSettingException.unreadable("source", description + ": case " + c.id() + " has no "
                        + "label; training and evaluation need a label for every case");
            }
            if (this.cases.put(c.id(), c) != null) {
                throw InvalidSettingException.unreadable("source", description + ": case id " + c.id()
                        + " occurs twice");
            }
        }
        if (cases.isEmpty()) {
            throw InvalidSettingException.unreadable("source", description + " has no labelled cases");
        }
        this.description = description + ", " + cases.size() + " labelled case" + (cases.size() == 1 ? "" : "s");
        this.classNames = List.copyOf(classNames);
        this.modalities = List.copyOf(modalities);
    }

    /** A Medical Segmentation Decathlon task folder: its training cases and dataset.json's label names. */
    public static FileCasesSource msd(Path dir) throws IOException {
        MsdDataset ds;
        try {
            ds = MsdDataset.open(dir);
        } catch (IllegalArgumentException e) {
            throw unreadable(e);
        }
        return new FileCasesSource(new DataPlan.Msd(dir.toString()), "MSD " + ds.name() + " (" + ds.root() + ")",
                ds.trainingCases(), ds.labelNames(), ds.modalities());
    }

    /** An image folder and a label folder paired by file name ({@link Cases#fromFolders}). */
    public static FileCasesSource folders(Path images, Path labels) throws IOException {
        return folders(new DataPlan.Folders(images.toString(), labels.toString(), null, null));
    }

    /**
     * Image and label folders; with patterns (e.g. {@code {id}_t1.nii.gz}, {@code {id}_labels.nii.gz}) an image
     * whose name matches the image pattern pairs with the label the label pattern names for the same id.
     */
    public static FileCasesSource folders(DataPlan.Folders spec) throws IOException {
        Path images = Path.of(spec.images());
        Path labels = Path.of(spec.labels());
        List<Case> cases;
        try {
            cases = spec.imagePattern() == null ? Cases.fromFolders(images, labels)
                    : byPattern(images, labels, spec.imagePattern(), spec.labelPattern());
        } catch (IllegalArgumentException e) {
            throw unreadable(e);
        }
        return new FileCasesSource(spec, "images " + images + " with labels " + labels, cases, List.of(),
                List.of());
    }

    private static List<Case> byPattern(Path images, Path labels, String imagePattern, String labelPattern)
            throws IOException {
        String[] parts = imagePattern.split("\\{id\\}", -1);
        Pattern p = Pattern.compile(Pattern.quote(parts[0]) + "(.+)" + Pattern.quote(parts[1]));
        if (!Files.isDirectory(images)) {
            throw new IllegalArgumentException("not a directory: " + images);
        }
        List<Case> out = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        try (Stream<Path> files = Files.list(images)) {
            for (Path f : files.sorted().toList()) {
                Matcher m = p.matcher(f.getFileName().toString());
                if (!m.matches() || f.getFileName().toString().startsWith(".")) {
                    continue;
                }
                Path label = labels.resolve(labelPattern.replace("{id}", m.group(1)));
                if (Files.isRegularFile(label)) {
                    out.add(Case.of(m.group(1), f, label));
                } else {
                    missing.add(label.getFileName().toString());
                }
            }
        }
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("images in " + images + " without a label in " + labels + ": "
                    + (missing.size() <= 10 ? missing : missing.subList(0, 10) + " and " + (missing.size() - 10)
                    + " more"));
        }
        if (out.isEmpty()) {
            throw new IllegalArgumentException("no file in " + images + " matches " + imagePattern);
        }
        return out;
    }

    /** A CSV manifest ({@link Cases#fromCsv}). */
    public static FileCasesSource manifest(Path csv) throws IOException {
        List<Case> cases;
        try {
            cases = Cases.fromCsv(csv);
        } catch (IllegalArgumentException e) {
            throw unreadable(e);
        }
        return new FileCasesSource(new DataPlan.Manifest(csv.toString()), "manifest " + csv.toAbsolutePath(), cases,
                List.of(), List.of());
    }

    private static InvalidSettingException unreadable(IllegalArgumentException e) {
        return e instanceof InvalidSettingException s ? s : InvalidSettingException.unreadable("source",
                e.getMessage());
    }

    /** The case files of {@code ids}. */
    public List<Case> cases(List<String> ids) {
        List<Case> out = new ArrayList<>();
        for (String id : ids) {
            Case c = cases.get(id);
            if (c == null) {
                throw InvalidSettingException.unreadable("split", description + " has no case " + id);
            }
            out.add(c);
        }
        return out;
    }

    @Override
    public List<String> caseIds() {
        return List.copyOf(cases.keySet());
    }

    @Override
    public Sample load(String id) throws IOException {
        return cases(List.of(id)).get(0).load();
    }

    @Override
    public SegmentationDataSetIterator.Builder examples(List<String> ids) {
        return SegmentationDataSetIterator.builder().cases(cases(ids));
    }

    @Override
    public List<String> classNames() {
        return classNames;
    }

    @Override
    public List<String> notes(DataPlan plan) {
        // nnU-Net picks its CT scheme from these names; here the default stays what it always was
        if (plan.intensity() == null && modalities.stream().anyMatch("CT"::equalsIgnoreCase)) {
            return List.of(((DataPlan.Msd) spec).dir() + "/dataset.json names a CT channel; nnU-Net would normalise "
                    + "it with intensity ct (used here: zscore per case)");
        }
        return List.of();
    }

    @Override
    public String describe() {
        return description;
    }

    @Override
    public DataPlan.Source spec() {
        return spec;
    }
}
