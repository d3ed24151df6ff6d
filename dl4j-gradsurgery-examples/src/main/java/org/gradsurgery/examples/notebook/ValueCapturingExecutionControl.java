package org.gradsurgery.examples.notebook;

import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.util.Map;
import jdk.jshell.execution.DirectExecutionControl;
import jdk.jshell.spi.ExecutionControl;
import jdk.jshell.spi.ExecutionControlProvider;
import jdk.jshell.spi.ExecutionEnv;

/**
 * JShell execution in the session's own JVM and on the calling thread (so a notebook sees this build's class path and
 * the native ND4J backend already loaded), keeping the value of the last evaluated snippet as an object: JShell itself
 * only reports its {@code toString}, but a picture must reach the notebook as a PNG.
 *
 * <p>{@link #stop()} (JShell calls it from {@code JShell.stop()}, on another thread) interrupts the thread running a
 * snippet and, when the snippet has not returned {@value #GRACE_MS} ms later, stops it with {@code Thread.stop} as
 * JShell's own {@code LocalExecutionControl} does: a tight loop or a long native-backed training call never checks
 * the interrupt flag.
 */
final class ValueCapturingExecutionControl extends DirectExecutionControl {
    static final long GRACE_MS = 1000;

    private Object lastValue;
    private volatile Thread invoking;
    private volatile boolean stopping;

    @Override
    protected String invoke(Method doitMethod) throws Exception {
        stopping = false;
        invoking = Thread.currentThread();
        try {
            Object value = doitMethod.invoke(null);
            lastValue = value;
            return valueString(value);
        } catch (InvocationTargetException e) {
            if (stopping && e.getCause() instanceof ThreadDeath) {
                throw new ExecutionControl.StoppedException();
            }
            throw e;
        } catch (ThreadDeath e) {
            if (stopping) {
                throw new ExecutionControl.StoppedException();
            }
            throw e;
        } finally {
            invoking = null;
        }
    }

    @Override
    @SuppressWarnings("deprecation")   // Thread.stop: the only way to end a snippet that ignores interrupts
    public void stop() {
        Thread t = invoking;
        if (t == null) {
            return;
        }
        stopping = true;
        t.interrupt();
        long deadline = System.nanoTime() + GRACE_MS * 1_000_000;
        while (invoking == t && System.nanoTime() < deadline) {
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        if (invoking == t) {
            t.stop();
        }
    }

    /** The value of the last snippet run since the previous call, or null. */
    Object takeLastValue() {
        Object v = lastValue;
        lastValue = null;
        return v;
    }

    /** Hands JShell one {@link ValueCapturingExecutionControl} and keeps it for the session. */
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
