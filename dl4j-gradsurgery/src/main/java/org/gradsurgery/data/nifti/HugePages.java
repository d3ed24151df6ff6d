package org.gradsurgery.data.nifti;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import com.sun.jna.Function;

/**
 * Asks Linux for transparent huge pages on one large, freshly {@code malloc}'d block: {@code madvise(MADV_HUGEPAGE)}
 * on the block's interior [⌈p⌉, ⌊p + bytes⌋], rounded to the huge-page size H (2 MiB on x86-64), as numpy does for
 * its arrays of at least 4 MiB.
 *
 * <p>Why: a decoded 256³ volume is 64–128 MiB of fresh memory; with 4 KiB pages the decoder's first writes take
 * bytes/4 KiB page faults (16,384 for 64 MiB), with huge pages bytes/H (32). That made uncompressed {@code .nii}
 * reads 2.5–3× faster ({@code docs/PERFORMANCE.md}, "I/O"). glibc can do the same for every large {@code malloc} of
 * the process ({@code GLIBC_TUNABLES=glibc.malloc.hugetlb=1}), but then it also backs libnd4j's and oneDNN's
 * buffers with huge pages and keeps more freed memory: a 96³ × 2 3D training step peaked 15–20 MiB higher on
 * average (115 MiB in one run). Advised here, {@code bench io} (256³) takes 0.20 M page faults against 0.10 M with
 * the tunable and 1.35 M with neither, at the tunable's read CPU.
 *
 * <p>Only blocks of at least {@link #MIN_BYTES} are advised: glibc serves those with their own {@code mmap}
 * (its mmap threshold never exceeds 32 MiB on 64-bit), so the advice ends with the block's {@code free} and never
 * reaches memory that later holds other allocations. The call goes through JNA (which deeplearning4j-nn already
 * brings); where there are no transparent huge pages ({@code /sys/kernel/mm/transparent_hugepage/hpage_pmd_size}
 * absent: not Linux, or a kernel without them) or JNA cannot load, nothing is advised: only speed depends on it,
 * never values.
 */
final class HugePages {

    /** Blocks smaller than this are left alone (see the class comment). */
    static final long MIN_BYTES = 32L << 20;

    private static final int MADV_HUGEPAGE = 14;

    /** The huge-page size in bytes, 0 when the system has no transparent huge pages. */
    static final long SIZE = pageSize();

    private static final Function MADVISE = SIZE > 0 ? madvise() : null;

    private HugePages() {
    }

    /**
     * Advises huge pages for the block at {@code address} of {@code bytes} (a fresh {@code malloc}, no page of it
     * written yet); returns whether the advice was given (false for small blocks, or without huge pages or JNA).
     */
    static boolean advise(long address, long bytes) {
        if (MADVISE == null || bytes < MIN_BYTES || address == 0) {
            return false;
        }
        long from = (address + SIZE - 1) / SIZE * SIZE;
        long to = (address + bytes) / SIZE * SIZE;
        if (to <= from) {
            return false;
        }
        try {
            return MADVISE.invokeInt(new Object[] {new com.sun.jna.Pointer(from), to - from, MADV_HUGEPAGE}) == 0;
        } catch (RuntimeException | LinkageError e) {
            return false;
        }
    }

    private static long pageSize() {
        try {
            return Long.parseLong(Files.readString(
                    Path.of("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")).trim());
        } catch (IOException | RuntimeException e) {
            return 0;
        }
    }

    private static Function madvise() {
        try {
            return Function.getFunction("c", "madvise");
        } catch (RuntimeException | LinkageError e) {
            return null;
        }
    }
}
