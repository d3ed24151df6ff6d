package org.gradsurgery;

/**
 * A setting (an option of a builder, a field of a spec record) that is out of range or contradicts another one.
 * Thrown by every builder and record of the library that takes settings (the U-Net, the loss, the training and
 * experiment specs), so that a caller can tell a user's bad setting from a bug: the CLI turns this exception, and only
 * this one, into a one-line error naming the flag that set {@link #setting()}.
 *
 * <p>Message: {@code OWNER: SETTING PROBLEM}, e.g. {@code UNet: levels must be >= 1, got 0}.
 */
public class InvalidSettingException extends InvalidInputException {
    private static final long serialVersionUID = 1L;

    private final String owner;
    private final String setting;
    private final String problem;

    /**
     * @param owner   the type holding the setting, e.g. {@code UNet} (null for none)
     * @param setting the setting's name as the builder or JSON spells it, e.g. {@code batchSize}
     * @param problem what is wrong, starting after the name, e.g. {@code must be >= 1, got 0}
     */
    public InvalidSettingException(String owner, String setting, String problem) {
        this(owner, setting, problem, (owner == null ? "" : owner + ": ") + setting + " " + problem);
    }

    private InvalidSettingException(String owner, String setting, String problem, String message) {
        super(message);
        this.owner = owner;
        this.setting = setting;
        this.problem = problem;
    }

    /**
     * A value of {@code setting} that cannot be read at all (an unknown name, a malformed text form); the message is
     * {@code message} as it is, e.g. {@code unknown loss 'dcie' (known: ...)}, and {@link #messageFor} prefixes
     * {@code NAME: }.
     */
    public static InvalidSettingException unreadable(String setting, String message) {
        return new InvalidSettingException(null, setting, null, message);
    }

    /** The type holding the setting (null for none). */
    public String owner() {
        return owner;
    }

    /** The setting's name, e.g. {@code batchSize}. */
    public String setting() {
        return setting;
    }

    /** What is wrong, without the setting's name. */
    public String problem() {
        return problem != null ? problem : ": " + getMessage();
    }

    /** The message with {@code name} (e.g. a command-line flag) in place of the setting and without the owner. */
    public String messageFor(String name) {
        return problem != null ? name + " " + problem : name + ": " + getMessage();
    }
}
