package org.gradsurgery.model;

import java.util.concurrent.atomic.AtomicBoolean;

import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOpsHolder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the loaded ND4J natives can do, as far as training speed is concerned. The project builds against the oneDNN
 * build of libnd4j ({@code nd4j-native:linux-x86_64-onednn}); an application that also puts the generic build on
 * the class path (e.g. through its own {@code nd4j-native} dependency) gets the generic one loaded, and its U-Net
 * convolutions run 5 to 13 times slower ({@code docs/PERFORMANCE.md}). {@link UNet#graph()} warns once when that
 * happens, so the slowdown has a name.
 */
public final class Natives {

    private static final Logger LOG = LoggerFactory.getLogger(Natives.class);
    private static final AtomicBoolean WARNED = new AtomicBoolean();

    private Natives() {
    }

    /** The libnd4j build flags line by line (e.g. {@code HAVE_ONEDNN}), or "" when not on the CPU backend. */
    public static String buildInfo() {
        if (!isCpuBackend()) {
            return "";
        }
        return NativeOpsHolder.getInstance().getDeviceNativeOps().buildInfo();
    }

    private static boolean isCpuBackend() {
        return "CpuBackend".equals(Nd4j.getBackend().getClass().getSimpleName());
    }

    /** Whether libnd4j runs its convolution, pooling and batch-norm ops on oneDNN. */
    public static boolean hasOneDnn() {
        return buildInfo().contains("HAVE_ONEDNN");
    }

    /** Logs once per JVM when the CPU natives lack oneDNN. */
    static void warnIfSlow() {
        if (isCpuBackend() && !hasOneDnn() && WARNED.compareAndSet(false, true)) {
            LOG.warn("ND4J's CPU natives were built without oneDNN: U-Net training runs 5-13x slower than with "
                    + "nd4j-native:linux-x86_64-onednn (see docs/PERFORMANCE.md). If you did not choose this, another "
                    + "nd4j-native classifier jar on the class path was loaded instead.");
        }
    }
}
