package org.gradsurgery.model;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * The natives the tests run on are the ones the build selected: surefire passes the classifier's extension
 * ({@code -onednn} by default, empty with {@code -Pgeneric}), so a second native jar sneaking onto the class path
 * (and JavaCPP loading the generic build) fails here rather than as a silent slowdown.
 */
class NativesTest {

    @Test
    void loadedNativesMatchTheSelectedClassifier() {
        String extension = System.getProperty("org.bytedeco.javacpp.platform.extension", "");
        assertEquals("-onednn".equals(extension), Natives.hasOneDnn(), "extension '" + extension + "', build info:\n"
                + Natives.buildInfo());
    }
}
