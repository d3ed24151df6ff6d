package org.gradsurgery.examples.notebook;

import java.lang.reflect.Method;
import java.util.Map;
import jdk.jshell.execution.DirectExecutionControl;
import jdk.jshell.spi.ExecutionControl;
import jdk.jshell.spi.ExecutionControlProvider;
import jdk.jshell.spi.ExecutionEnv;

/**
 * JShell execution in the runner's own JVM and thread (so the notebook sees this build's class path and the native
 * ND4J backend already loaded), keeping the value of the last evaluated snippet as an object: JShell itself only
 * reports its {@code toString}, but a picture must reach the notebook as a PNG.
 */
final class ValueCapturingExecutionControl extends DirectExecutionControl {
    private Object lastValue;

    @Override
    protected String invoke(Method doitMethod) throws Exception {
        Object value = doitMethod.invoke(null);
        lastValue = value;
        return valueString(value);
    }

    /** The value of the last snippet run since the previous call, or null. */
    Object takeLastValue() {
        Object v = lastValue;
        lastValue = null;
        return v;
    }

    /** Hands JShell one {@link ValueCapturingExecutionControl} and keeps it for the runner. */
    static final class Provider implements ExecutionControlProvider {
        private ValueCapturingExecutionControl control;

        @Override
        public String name() {
            return "gradsurgery-notebook";
        }

        @Override
        public ExecutionControl generate(ExecutionEnv env, Map<String, String> parameters) {
            control = new ValueCapturingExecutionControl();
            return control;
        }

        ValueCapturingExecutionControl control() {
            if (control == null) {
                throw new IllegalStateException("JShell has not started its execution engine");
            }
            return control;
        }
    }
}
