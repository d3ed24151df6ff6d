package org.gradsurgery.examples.cli;

import java.io.FileNotFoundException;
import java.nio.file.AccessDeniedException;
import java.nio.file.NoSuchFileException;

/**
 * Classifies CLI failures: input the user can fix (bad value, missing or malformed file) versus everything else,
 * and renders either as one line.
 */
final class UserErrors {
    private UserErrors() {
    }

    static boolean isUserError(Throwable t) {
        return t instanceof IllegalArgumentException
                || t instanceof NoSuchFileException
                || t instanceof FileNotFoundException
                || t instanceof AccessDeniedException;
    }

    static String describe(Throwable t) {
        if (t instanceof NoSuchFileException) {
            return "no such file: " + t.getMessage();
        }
        if (t instanceof AccessDeniedException) {
            return "permission denied: " + t.getMessage();
        }
        String msg = t.getMessage();
        return msg == null || msg.isBlank() ? t.getClass().getSimpleName() : msg;
    }
}
