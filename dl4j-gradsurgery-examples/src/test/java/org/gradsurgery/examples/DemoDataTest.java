package org.gradsurgery.examples;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.gradsurgery.InvalidSettingException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DemoDataTest {
    @TempDir
    Path tmp;

    @Test
    void locateFailsClearlyWithoutTheFolder() {
        InvalidSettingException e = assertThrows(InvalidSettingException.class, () -> DemoData.locate(tmp));
        assertTrue(e.getMessage().contains("datasets/ folder not found") && e.getMessage().contains(DemoData.ENV),
                e.getMessage());
        assertEquals(DemoData.locate(), DemoData.locate(DemoData.locate().resolve("colin27-deepgm")));
        e = assertThrows(InvalidSettingException.class, () -> DemoData.locate(tmp, "--datasets"));
        assertTrue(e.getMessage().startsWith("--datasets points at " + tmp), e.getMessage());
    }
}
