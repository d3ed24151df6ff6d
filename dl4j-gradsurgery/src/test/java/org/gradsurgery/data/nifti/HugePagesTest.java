package org.gradsurgery.data.nifti;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.bytedeco.javacpp.FloatPointer;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Large decoded arrays ask the kernel for transparent huge pages on their own memory (the {@code hg} flag of
 * {@code madvise(MADV_HUGEPAGE)} in {@code /proc/self/smaps}), small ones do not, and the advice changes no value.
 * Linux with transparent huge pages only (the kernel the CLI is measured on); elsewhere the advice is a no-op.
 */
class HugePagesTest {

    private static boolean linuxWithHugePages() {
        return Files.isReadable(Path.of("/proc/self/smaps")) && HugePages.SIZE > 0;
    }

    /** The VmFlags of the mapping that holds {@code address}, or null if none does. */
    private static String vmFlags(long address) throws IOException {
        List<String> lines = Files.readAllLines(Path.of("/proc/self/smaps"));
        boolean inside = false;
        for (String line : lines) {
            int dash = line.indexOf('-');
            int space = line.indexOf(' ');
            if (dash > 0 && space > dash && line.substring(0, dash).matches("[0-9a-f]+")) {
                long from = Long.parseUnsignedLong(line.substring(0, dash), 16);
                long to = Long.parseUnsignedLong(line.substring(dash + 1, space), 16);
                inside = Long.compareUnsigned(address, from) >= 0 && Long.compareUnsigned(address, to) < 0;
            } else if (inside && line.startsWith("VmFlags:")) {
                return line;
            }
        }
        return null;
    }

    @Test
    void largeMallocArraysAreAdvisedAndKeepTheirValues() throws IOException {
        assumeTrue(linuxWithHugePages(), "no transparent huge pages here");
        long n = (HugePages.MIN_BYTES / 4) * 2;   // 64 MiB of FLOAT
        INDArray a = MallocArrays.create(DataType.FLOAT, new long[] {n}, n);
        try {
            long address = a.data().addressPointer().address();
            String flags = vmFlags(address + n * 2);   // the middle of the block
            assertTrue(flags != null && flags.contains(" hg"), "middle of a 64 MiB block: " + flags);
            a.assign(1.5f);
            assertEquals(1.5, a.minNumber().doubleValue(), 0.0);
            assertEquals(1.5, a.maxNumber().doubleValue(), 0.0);
        } finally {
            a.close();
        }
    }

    @Test
    void smallBlocksAreNotAdvised() throws IOException {
        assumeTrue(linuxWithHugePages(), "no transparent huge pages here");
        long n = HugePages.MIN_BYTES / 4 - 1;   // one float short of the threshold
        try (FloatPointer p = new FloatPointer(n)) {
            assertFalse(HugePages.advise(p.address(), n * 4));
            String flags = vmFlags(p.address() + n * 2);
            assertFalse(flags != null && flags.contains(" hg"), "a block below the threshold: " + flags);
        }
    }
}
