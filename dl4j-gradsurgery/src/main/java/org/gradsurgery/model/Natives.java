package org.gradsurgery.model;

import java.util.concurrent.atomic.AtomicBoolean;

import org.gradsurgery.layers.impl.NativeConvolution2D;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.nativeblas.NativeOpsHolder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the loaded ND4J natives can do, as far as training speed is concerned. The library depends on nd4j-api only;
 * the application chooses the backend and its native build. On linux-x86_64 the U-Net's FLOAT convolutions call
 * oneDNN themselves ({@code org.bytedeco:dnnl}), so libnd4j's generic build that plain {@code nd4j-native} brings
 * trains as fast as its oneDNN build ({@code nd4j-native:linux-x86_64-onednn}, the examples module's default; the
 * same within 4 % in {@code docs/PERFORMANCE.md}). Elsewhere, or in DOUBLE, the convolutions run libnd4j's ops, and
 * its generic build made a U-Net step 5 to 13 times slower than its oneDNN build (measured on linux-x86_64 before
 * the layers called oneDNN themselves); {@link UNet#graph()} then warns once ({@link #slowConvolutions()}), so the
 * slowdown has a name. Other backends (CUDA) are not checked.
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

    /**
     * True when FLOAT convolutions would run libnd4j's generic loops: the CPU backend, natives without oneDNN, and a
     * platform where the layers do not call oneDNN themselves.
     */
    public static boolean slowConvolutions() {
        return isCpuBackend() && !hasOneDnn() && !NativeConvolution2D.callsOneDnnDirectly();
    }

    /** Logs once per JVM when {@link #slowConvolutions()}. */
    static void warnIfSlow() {
        if (slowConvolutions() && WARNED.compareAndSet(false, true)) {
            LOG.warn("ND4J's CPU natives were built without oneDNN and this platform has no direct oneDNN path: U-Net "
                    + "training runs several times slower than with nd4j-native's -onednn build (see "
                    + "docs/PERFORMANCE.md). If you depend on that jar, the generic build was loaded instead: run with "
                    + "-Dorg.bytedeco.javacpp.platform.extension=-onednn or exclude the generic natives (README, "
                    + "\"Use it in your project\").");
        }
    }
}
