package org.gradsurgery.examples.notebook;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.gradsurgery.io.AtomicFiles;
import org.nd4j.shade.jackson.core.JsonProcessingException;
import org.nd4j.shade.jackson.core.util.DefaultIndenter;
import org.nd4j.shade.jackson.core.util.DefaultPrettyPrinter;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.nd4j.shade.jackson.databind.node.ArrayNode;
import org.nd4j.shade.jackson.databind.node.JsonNodeFactory;
import org.nd4j.shade.jackson.databind.node.ObjectNode;

/**
 * Reading, writing and checking Jupyter notebooks in nbformat 4 (the JSON schema {@code nbformat.v4.5.schema.json}
 * of the Jupyter project).
 *
 * <p>{@link #validate(JsonNode)} checks the parts of the schema a writer can get wrong: the top-level keys,
 * {@code nbformat == 4}, every cell's required keys and no others (cell {@code id}s match
 * {@code ^[a-zA-Z0-9-_]+$}, 1 to 64 characters, unique, from minor version 5 on), multi-line strings as a string or an
 * array of strings, and every output's required keys by {@code output_type} (stream, display_data, execute_result,
 * error). Written files use Jupyter's own layout: one-space indentation, multi-line strings split after each
 * newline.
 */
public final class NbFormat {
    /** The major version this class reads and writes. */
    public static final int MAJOR = 4;
    /** The minor version written (cell ids are required from 4.5 on). */
    public static final int MINOR = 5;

    private static final ObjectMapper MAPPER = new ObjectMapper();
    private static final Pattern CELL_ID = Pattern.compile("^[a-zA-Z0-9-_]{1,64}$");
    private static final Set<String> TOP_KEYS = Set.of("metadata", "nbformat_minor", "nbformat", "cells");
    private static final Map<String, Set<String>> CELL_KEYS = Map.of(
            "code", Set.of("id", "cell_type", "metadata", "source", "outputs", "execution_count"),
            "markdown", Set.of("id", "cell_type", "metadata", "source", "attachments"),
            "raw", Set.of("id", "cell_type", "metadata", "source", "attachments"));
    private static final Map<String, Set<String>> REQUIRED_CELL_KEYS = Map.of(
            "code", Set.of("cell_type", "metadata", "source", "outputs", "execution_count"),
            "markdown", Set.of("cell_type", "metadata", "source"),
            "raw", Set.of("cell_type", "metadata", "source"));
    private static final Map<String, Set<String>> OUTPUT_KEYS = Map.of(
            "stream", Set.of("output_type", "name", "text"),
            "display_data", Set.of("output_type", "data", "metadata"),
            "execute_result", Set.of("output_type", "data", "metadata", "execution_count"),
            "error", Set.of("output_type", "ename", "evalue", "traceback"));

    private NbFormat() {
    }

    /** A fresh JSON object node. */
    static ObjectNode object() {
        return JsonNodeFactory.instance.objectNode();
    }

    /**
     * Reads a notebook and checks it is nbformat 4 with a {@code cells} array.
     *
     * @throws IllegalArgumentException naming the file when it is not JSON or not an nbformat-4 notebook
     */
    public static ObjectNode read(Path file) throws IOException {
        JsonNode root;
        try {
            root = MAPPER.readTree(Files.readString(file, StandardCharsets.UTF_8));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException(file + ": not valid JSON: " + e.getOriginalMessage()
                    + " (line " + (e.getLocation() == null ? "?" : e.getLocation().getLineNr()) + ")", e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(file + ": not a notebook (expected a JSON object)");
        }
        if (root.path("nbformat").asInt(-1) != MAJOR) {
            throw new IllegalArgumentException(file + ": nbformat " + root.path("nbformat")
                    + " is not supported (expected " + MAJOR + ")");
        }
        if (!root.path("cells").isArray()) {
            throw new IllegalArgumentException(file + ": no \"cells\" array");
        }
        return (ObjectNode) root;
    }

    /** A multi-line string field (a string or an array of strings) joined into one string. */
    public static String text(JsonNode multiline) {
        if (multiline == null || multiline.isNull() || multiline.isMissingNode()) {
            return "";
        }
        if (multiline.isTextual()) {
            return multiline.asText();
        }
        StringBuilder sb = new StringBuilder();
        for (JsonNode line : multiline) {
            sb.append(line.asText());
        }
        return sb.toString();
    }

    /** A string as Jupyter stores it: an array of lines, each but the last ending in its newline. */
    public static ArrayNode lines(String s) {
        ArrayNode out = JsonNodeFactory.instance.arrayNode();
        int start = 0;
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) == '\n') {
                out.add(s.substring(start, i + 1));
                start = i + 1;
            }
        }
        if (start < s.length()) {
            out.add(s.substring(start));
        }
        return out;
    }

    /** The notebook as Jupyter writes it (one-space indentation, trailing newline). */
    public static String toJson(JsonNode notebook) {
        DefaultPrettyPrinter printer = new DefaultPrettyPrinter()
                .withObjectIndenter(new DefaultIndenter(" ", "\n"))
                .withArrayIndenter(new DefaultIndenter(" ", "\n"));
        try {
            return MAPPER.writer(printer).writeValueAsString(notebook) + "\n";
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("cannot serialise a notebook: " + e.getMessage(), e);
        }
    }

    /** Writes atomically ({@link AtomicFiles}): a temporary file in the target's folder, then a move over it. */
    public static void write(JsonNode notebook, Path file) throws IOException {
        AtomicFiles.writeString(file, toJson(notebook));
    }

    /** The schema violations found in {@code notebook} (see class doc); empty when it is valid nbformat 4. */
    public static List<String> validate(JsonNode notebook) {
        List<String> problems = new ArrayList<>();
        if (notebook == null || !notebook.isObject()) {
            problems.add("notebook: not a JSON object");
            return problems;
        }
        keys("notebook", notebook, TOP_KEYS, TOP_KEYS, problems);
        if (notebook.path("nbformat").asInt(-1) != MAJOR || !notebook.path("nbformat").isInt()) {
            problems.add("notebook: nbformat must be the integer " + MAJOR + ", is " + notebook.path("nbformat"));
        }
        JsonNode minorNode = notebook.path("nbformat_minor");
        if (!minorNode.isInt() || minorNode.asInt() < 0) {
            problems.add("notebook: nbformat_minor must be an integer >= 0, is " + minorNode);
        }
        int minor = minorNode.asInt(0);
        JsonNode meta = notebook.path("metadata");
        if (!meta.isObject()) {
            problems.add("notebook: metadata must be an object");
        } else {
            if (meta.has("kernelspec") && !(meta.get("kernelspec").path("name").isTextual()
                    && meta.get("kernelspec").path("display_name").isTextual())) {
                problems.add("metadata.kernelspec: needs string 'name' and 'display_name'");
            }
            if (meta.has("language_info") && !meta.get("language_info").path("name").isTextual()) {
                problems.add("metadata.language_info: needs a string 'name'");
            }
        }
        JsonNode cells = notebook.path("cells");
        if (!cells.isArray()) {
            problems.add("notebook: cells must be an array");
            return problems;
        }
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < cells.size(); i++) {
            validateCell("cell " + (i + 1), cells.get(i), minor, ids, problems);
        }
        return problems;
    }

    private static void validateCell(String where, JsonNode cell, int minor, Set<String> ids, List<String> problems) {
        if (!cell.isObject()) {
            problems.add(where + ": not an object");
            return;
        }
        String type = cell.path("cell_type").asText("");
        if (!CELL_KEYS.containsKey(type)) {
            problems.add(where + ": cell_type must be code, markdown or raw, is " + cell.path("cell_type"));
            return;
        }
        Set<String> required = new HashSet<>(REQUIRED_CELL_KEYS.get(type));
        if (minor >= 5) {
            required.add("id");
        }
        keys(where, cell, required, minor >= 5 ? CELL_KEYS.get(type) : without(CELL_KEYS.get(type), "id"), problems);
        if (cell.has("id")) {
            String id = cell.get("id").asText("");
            if (!cell.get("id").isTextual() || !CELL_ID.matcher(id).matches()) {
                problems.add(where + ": id " + cell.get("id") + " does not match ^[a-zA-Z0-9-_]+$ (1-64 chars)");
            } else if (!ids.add(id)) {
                problems.add(where + ": duplicate id " + id);
            }
        }
        if (cell.has("metadata") && !cell.get("metadata").isObject()) {
            problems.add(where + ": metadata must be an object");
        }
        multiline(where + ".source", cell.path("source"), problems);
        if (!"code".equals(type)) {
            return;
        }
        JsonNode count = cell.path("execution_count");
        if (!(count.isNull() || count.isInt() && count.asInt() >= 0)) {
            problems.add(where + ": execution_count must be null or an integer >= 0, is " + count);
        }
        JsonNode outputs = cell.path("outputs");
        if (!outputs.isArray()) {
            problems.add(where + ": outputs must be an array");
            return;
        }
        for (int o = 0; o < outputs.size(); o++) {
            validateOutput(where + ".outputs[" + o + "]", outputs.get(o), problems);
        }
    }

    private static void validateOutput(String where, JsonNode output, List<String> problems) {
        String type = output.path("output_type").asText("");
        Set<String> allowed = OUTPUT_KEYS.get(type);
        if (allowed == null) {
            problems.add(where + ": output_type must be stream, display_data, execute_result or error, is "
                    + output.path("output_type"));
            return;
        }
        keys(where, output, allowed, allowed, problems);
        switch (type) {
            case "stream" -> {
                String name = output.path("name").asText("");
                if (!name.equals("stdout") && !name.equals("stderr")) {
                    problems.add(where + ": stream name must be stdout or stderr, is " + output.path("name"));
                }
                multiline(where + ".text", output.path("text"), problems);
            }
            case "error" -> {
                if (!output.path("ename").isTextual() || !output.path("evalue").isTextual()) {
                    problems.add(where + ": ename and evalue must be strings");
                }
                JsonNode tb = output.path("traceback");
                boolean ok = tb.isArray();
                for (JsonNode line : tb) {
                    ok &= line.isTextual();
                }
                if (!ok) {
                    problems.add(where + ": traceback must be an array of strings");
                }
            }
            default -> {
                if (!output.path("metadata").isObject()) {
                    problems.add(where + ": metadata must be an object");
                }
                JsonNode data = output.path("data");
                if (!data.isObject()) {
                    problems.add(where + ": data must be an object (a mime bundle)");
                } else {
                    for (Iterator<Map.Entry<String, JsonNode>> it = data.fields(); it.hasNext(); ) {
                        Map.Entry<String, JsonNode> e = it.next();
                        if (!e.getKey().contains("/")) {
                            problems.add(where + ".data: key " + e.getKey() + " is not a mime type");
                        } else if (!e.getKey().endsWith("json")) {
                            multiline(where + ".data[" + e.getKey() + "]", e.getValue(), problems);
                        }
                    }
                }
                if (type.equals("execute_result")) {
                    JsonNode count = output.path("execution_count");
                    if (!(count.isNull() || count.isInt() && count.asInt() >= 0)) {
                        problems.add(where + ": execution_count must be null or an integer >= 0");
                    }
                }
            }
        }
    }

    private static Set<String> without(Set<String> set, String key) {
        Set<String> copy = new HashSet<>(set);
        copy.remove(key);
        return copy;
    }

    private static void keys(String where, JsonNode node, Set<String> required, Set<String> allowed,
                             List<String> problems) {
        for (String key : required) {
            if (!node.has(key)) {
                problems.add(where + ": missing required key '" + key + "'");
            }
        }
        for (Iterator<String> it = node.fieldNames(); it.hasNext(); ) {
            String key = it.next();
            if (!allowed.contains(key)) {
                problems.add(where + ": key '" + key + "' is not allowed");
            }
        }
    }

    private static void multiline(String where, JsonNode node, List<String> problems) {
        boolean ok = node.isTextual();
        if (node.isArray()) {
            ok = true;
            for (JsonNode line : node) {
                ok &= line.isTextual();
            }
        }
        if (!ok) {
            problems.add(where + ": must be a string or an array of strings");
        }
    }
}
