package org.gradsurgery.examples.notebook;

/**
 * Smoke mode for notebooks: the same code with iteration counts shrunk so a notebook runs in seconds (CI runs every
 * notebook this way).
 *
 * <p>On when the system property {@value #PROPERTY} is set (the in-process runner sets it for
 * {@code gradsurgery notebook run --smoke}) or, failing that, the environment variable {@value #ENV} (how a Jupyter
 * kernel is told: {@code GRADSURGERY_SMOKE=1 jupyter lab}). The values {@code ""}, {@code 0} and {@code false} mean
 * off.
 */
public final class Smoke {
    /** Environment variable read by the notebooks (real kernels). */
    public static final String ENV = "GRADSURGERY_SMOKE";
    /** System property set by the in-process runner; it wins over the environment. */
    public static final String PROPERTY = "gradsurgery.smoke";

    private Smoke() {
    }

    /** Whether smoke mode is on (see class doc). */
    public static boolean enabled() {
        String prop = System.getProperty(PROPERTY);
        return prop != null ? on(prop) : on(System.getenv(ENV));
    }

    /** {@code smoke} in smoke mode, else {@code full}: {@code int epochs = Smoke.pick(40, 2);}. */
    public static int pick(int full, int smoke) {
        return enabled() ? smoke : full;
    }

    static boolean on(String value) {
        return value != null && !value.isBlank() && !value.strip().equals("0")
                && !value.strip().equalsIgnoreCase("false");
    }
}
