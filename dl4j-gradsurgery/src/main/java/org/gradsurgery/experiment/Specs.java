package org.gradsurgery.experiment;

import java.io.IOException;
import java.nio.file.Path;
import org.gradsurgery.InvalidInputException;
import org.gradsurgery.InvalidSettingException;
import org.nd4j.shade.jackson.databind.DeserializationFeature;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.nd4j.shade.jackson.databind.SerializationFeature;

/** The one JSON mapper of the spec records, and how their read errors are reported. */
final class Specs {
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    private Specs() {
    }

    static String toJson(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (IOException e) {
            throw new IllegalStateException("cannot write " + value.getClass().getSimpleName() + " as JSON", e);
        }
    }

    static <T> T fromJson(String json, Class<T> type) {
        try {
            return JSON.readValue(json, type);
        } catch (IOException e) {
            throw unreadable(null, e);
        }
    }

    /**
     * A read error as an {@link InvalidSettingException}: the setting a record's validation named (Jackson wraps it),
     * or the JSON problem with its location.
     */
    static IllegalArgumentException unreadable(Path file, IOException e) {
        String where = file == null ? "" : file + ": ";
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof InvalidSettingException s) {
                return InvalidSettingException.unreadable(s.setting(), where + s.getMessage());
            }
        }
        return new InvalidInputException(where + "not a valid spec: " + e.getMessage().replace('\n', ' '), e);
    }
}
