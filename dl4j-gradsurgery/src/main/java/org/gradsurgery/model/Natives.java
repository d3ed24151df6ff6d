package org.gradsurgery.model;

import java.util.concurrent.atomic.AtomicBoolean;

import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOpsHolder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the loaded ND4J natives can do, as far as training speed is concerned. The library depends on nd4j-api only;
 * the application chooses the backend and its native build. On CPU, libnd4j's oneDNN build
 * ({@code nd4j-native:linux-x86_64-onednn}, the examples module's default) runs the U-Net's convolutions 5 to 13 times
 * faster than the generic build that plain {@code nd4j-native} brings ({@code docs/PERFORMANCE.md}). An application
 * that asked for the oneDNN build but also has the generic one on the class path gets the generic one loaded unless
 * it runs with {@code -Dorg.bytedeco.javacpp.platform.extension=-onednn}; {@link UNet#graph()} warns once when the
 * CPU natives lack oneDNN, so the slowdown has a name. Other backends (CUDA) are not checked.
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
                    + "nd4j-native:linux-x86_64-onednn (see docs/PERFORMANCE.md). If you depend on that jar, the "
                    + "generic build was loaded instead: run with -Dorg.bytedeco.javacpp.platform.extension=-onednn "
                    + "or exclude the generic natives (README, \"Use it in your project\").");
        }
    }
}
