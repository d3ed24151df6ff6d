package org.gradsurgery;

/**
 * Input the user can fix: a file that is not what it should be (a run folder without a readable {@code config.json},
 * a malformed spec or manifest, unpaired image and label files) or a setting out of range
 * ({@link InvalidSettingException}). The message names the file or setting. Callers such as the CLI report it in one
 * line without a stack trace; every other {@link IllegalArgumentException} is a bug.
 */
public class InvalidInputException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    public InvalidInputException(String message) {
        super(message);
    }

    public InvalidInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
