package org.gradsurgery.study;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.gradsurgery.io.AtomicFiles;
import org.nd4j.shade.jackson.annotation.JsonCreator;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * A case-level train / validation / test split by case id, as written to {@code split.json}:
 * {@code {"train": [...], "validation": [...], "test": [...]}}. A case is in at most one part; cases of the data set
 * in no part are unused. For data whose cases are subjects (one volume per person) this is a subject-level split.
 */
public record StudySplit(@JsonProperty("train") List<String> train, @JsonProperty("validation") List<String> validation,
                         @JsonProperty("test") List<String> test) {

    /** The file name inside a study folder. */
    public static final String FILE = "split.json";

    /** Checks that the parts are non-empty and disjoint. */
    @JsonCreator
    public StudySplit {
        if (train == null || validation == null || test == null || train.isEmpty() || validation.isEmpty()
                || test.isEmpty()) {
            throw new org.gradsurgery.InvalidInputException("split: train, validation and test must each list at least one case");
        }
        Map<String, String> part = new HashMap<>();
        check(part, train, "train");
        check(part, validation, "validation");
        check(part, test, "test");
        train = List.copyOf(train);
        validation = List.copyOf(validation);
        test = List.copyOf(test);
    }

    private static void check(Map<String, String> part, List<String> ids, String name) {
        for (String id : ids) {
            String prev = part.put(id, name);
            if (prev != null) {
                throw new org.gradsurgery.InvalidInputException("split: case " + id + " is in " + prev + " and in " + name);
            }
        }
    }

    /** The first train, validation, test ids of a shuffle of the sorted ids with {@code seed}. */
    public static StudySplit draw(List<String> ids, int train, int validation, int test, long seed) {
        if (train + validation + test > ids.size()) {
            throw new org.gradsurgery.InvalidInputException("split: " + train + " + " + validation + " + " + test + " cases asked, "
                    + "the data set has " + ids.size());
        }
        List<String> s = new ArrayList<>(ids);
        Collections.sort(s);
        Collections.shuffle(s, new Random(seed));
        return new StudySplit(s.subList(0, train), s.subList(train, train + validation),
                s.subList(train + validation, train + validation + test));
    }

    /** Refuses ids the data set does not have. */
    public void checkAgainst(Set<String> available, String where) {
        Set<String> all = new HashSet<>(train);
        all.addAll(validation);
        all.addAll(test);
        all.removeAll(available);
        if (!all.isEmpty()) {
            throw new org.gradsurgery.InvalidInputException("split: case(s) " + new java.util.TreeSet<>(all) + " not found in "
                    + where);
        }
    }

    /** Reads a split file. */
    public static StudySplit read(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new org.gradsurgery.InvalidInputException("--split " + file + ": no such file");
        }
        try {
            return StudySpec.JSON.readValue(file.toFile(), StudySplit.class);
        } catch (org.nd4j.shade.jackson.core.JsonProcessingException e) {
            Throwable c = e.getCause() instanceof IllegalArgumentException ? e.getCause() : e;
            throw new org.gradsurgery.InvalidInputException(file + ": " + (c == e ? e.getOriginalMessage() : c.getMessage()), e);
        }
    }

    /** Writes the split (atomically). */
    public void write(Path file) throws IOException {
        AtomicFiles.writeString(file, StudySpec.JSON.writeValueAsString(this) + "\n");
    }
}
