package org.gradsurgery.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.Array;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

/**
 * XChart is optional (issue 12): with it the charts draw (ReliabilityDiagramTest), without it the chart code says
 * which dependency to add. "Without it" is a class loader that hides org.knowm.xchart and loads the project's classes
 * itself, so they link against the hidden set as in a project that lacks the jar.
 */
class ChartsTest {

    @Test
    void coordinatesMatchTheParentPom() throws IOException {
        // surefire runs in the module directory; the parent POM is one level up
        String pom = Files.readString(Path.of("..", "pom.xml"));
        Matcher m = Pattern.compile("<xchart.version>([^<]+)</xchart.version>").matcher(pom);
        assertTrue(m.find(), "xchart.version in the parent POM");
        assertEquals("org.knowm.xchart:xchart:" + m.group(1), Charts.XCHART);
    }

    @Test
    void availableOnTheTestClassPath() {
        assertTrue(Charts.isAvailable());
        Charts.require("test");
    }

    @Test
    void reliabilityDiagramNamesTheMissingDependency() throws Exception {
        ClassLoader hidden = new WithoutXChart(ChartsTest.class.getClassLoader());
        Class<?> charts = hidden.loadClass(Charts.class.getName());
        assertFalse((Boolean) charts.getMethod("isAvailable").invoke(null));

        Class<?> diagram = hidden.loadClass("org.gradsurgery.calibration.ReliabilityDiagram");
        Class<?> panel = hidden.loadClass("org.gradsurgery.calibration.ReliabilityDiagram$Panel");
        Method render = diagram.getMethod("render", panel.arrayType());
        InvocationTargetException e = assertThrows(InvocationTargetException.class,
                () -> render.invoke(null, (Object) Array.newInstance(panel, 1)));
        IllegalStateException cause = assertInstanceOf(IllegalStateException.class, e.getCause());
        assertEquals("ReliabilityDiagram draws its PNG charts with XChart, which is not on the class path: add the "
                + "dependency " + Charts.XCHART + " to your project (dl4j-gradsurgery declares it optional)",
                cause.getMessage());
    }

    /** Child-first for org.gradsurgery, nothing for org.knowm.xchart, the parent for everything else. */
    private static final class WithoutXChart extends ClassLoader {
        WithoutXChart(ClassLoader parent) {
            super(parent);
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            synchronized (getClassLoadingLock(name)) {
                if (name.startsWith("org.knowm.xchart.")) {
                    throw new ClassNotFoundException(name + " (hidden by the test)");
                }
                if (!name.startsWith("org.gradsurgery.")) {
                    return super.loadClass(name, resolve);
                }
                Class<?> c = findLoadedClass(name);
                if (c == null) {
                    try (InputStream in = getParent().getResourceAsStream(name.replace('.', '/') + ".class")) {
                        if (in == null) {
                            throw new ClassNotFoundException(name);
                        }
                        byte[] bytes = in.readAllBytes();
                        c = defineClass(name, bytes, 0, bytes.length);
                    } catch (IOException e) {
                        throw new ClassNotFoundException(name, e);
                    }
                }
                return c;
            }
        }

        @Override
        public URL getResource(String name) {
            return name.startsWith("org/knowm/xchart/") ? null : super.getResource(name);
        }
    }
}
