package org.nd4j.nativeblas;

/**
 * Benchmark experiment, not part of the build: DL4J 1.0.0-M2.1's {@code BaseMKLDNNHelper.mklDnnEnabled()} looks up
 * {@code org.nd4j.nativeblas.Nd4jCpu$Environment.getInstance().isUseMKLDNN()}, a class that moved to
 * {@code org.nd4j.linalg.cpu.nativecpu.bindings}, so DL4J's oneDNN layer helpers never switch on. Putting this class
 * first on the class path (and {@code -Dorg.eclipse.deeplearning4j.helpers.disable=false}, whose M2.1 default is
 * {@code true}) switches them on when the loaded libnd4j was built with oneDNN (the {@code -Ponednn} natives).
 * See docs/PERFORMANCE.md, "Levers", for the command and what it measured.
 */
public class Nd4jCpu {
    /** The one method DL4J calls. */
    public static class Environment {
        private static final Environment INSTANCE = new Environment();

        public static Environment getInstance() {
            return INSTANCE;
        }

        /** True when libnd4j reports a oneDNN build, as the moved class did. */
        public boolean isUseMKLDNN() {
            return org.nd4j.nativeblas.NativeOpsHolder.getInstance().getDeviceNativeOps().buildInfo().contains("HAVE_ONEDNN");
        }
    }
}
