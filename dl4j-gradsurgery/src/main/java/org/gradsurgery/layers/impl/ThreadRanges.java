package org.gradsurgery.layers.impl;

import java.util.stream.IntStream;

import org.nd4j.linalg.factory.Nd4j;

/**
 * Splits the Java kernels' work (planes, blocks or statistics groups) into contiguous ranges of items, one per thread:
 * T = 1 below {@link #PARALLEL_THRESHOLD} values of work, else T = min(items, ND4J's thread count, available
 * processors), range t = [⌊items·t/T⌋, ⌊items·(t+1)/T⌋). Each range runs on one thread, so a range may keep its own
 * scratch arrays; the ranges together visit every item once.
 */
final class ThreadRanges {

    /** Below this many values one thread is faster than two (measured on the normalisation kernels). */
    static final long PARALLEL_THRESHOLD = 1 << 16;

    /** The work of items {@code from} (inclusive) to {@code to} (exclusive), on one thread. */
    interface Range {
        void run(int from, int to);
    }

    private ThreadRanges() {
    }

    /** Runs {@code range} over [0, items), split as the class comment says; {@code work} is the number of values. */
    static void run(int items, long work, Range range) {
        int threads = work < PARALLEL_THRESHOLD ? 1 : Math.max(1, Math.min(items,
                Math.min(Nd4j.getEnvironment().maxThreads(), Runtime.getRuntime().availableProcessors())));
        if (threads == 1) {
            range.run(0, items);
        } else {
            IntStream.range(0, threads).parallel().forEach(t ->
                    range.run((int) ((long) items * t / threads), (int) ((long) items * (t + 1) / threads)));
        }
    }
}
