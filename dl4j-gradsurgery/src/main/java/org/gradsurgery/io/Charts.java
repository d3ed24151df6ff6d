package org.gradsurgery.io;

/**
 * The one check for the optional charting dependency. XChart ({@value #XCHART}) is declared {@code <optional>} in
 * the library's POM: losses, layers, metrics and training work without it, and only the code that draws PNG charts
 * ({@link org.gradsurgery.calibration.ReliabilityDiagram}, and {@code evaluation.Report} through it) needs it. Such
 * code calls {@link #require(String)} before touching any XChart class, so a project without the dependency gets
 * one error naming what to add instead of a {@link NoClassDefFoundError} from deep inside a report.
 */
public final class Charts {

    /** The Maven coordinates the charts are built and tested against (the parent POM's {@code xchart.version}). */
    public static final String XCHART = "org.knowm.xchart:xchart:3.8.8";

    /** A class every XChart version the project draws with has. */
    private static final String PROBE = "org.knowm.xchart.XYChart";

    private Charts() {
    }

    /** Whether XChart can be loaded by the class loader that loaded the library. */
    public static boolean isAvailable() {
        try {
            Class.forName(PROBE, false, Charts.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    /**
     * Returns normally when XChart is available.
     *
     * @param user what wants to draw, named in the message (e.g. "ReliabilityDiagram")
     * @throws IllegalStateException naming the dependency to add when XChart is not on the class path
     */
    public static void require(String user) {
        if (!isAvailable()) {
            throw new IllegalStateException(user + " draws its PNG charts with XChart, which is not on the class path:"
                    + " add the dependency " + XCHART + " to your project (dl4j-gradsurgery declares it optional)");
        }
    }
}
