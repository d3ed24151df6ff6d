package org.gradsurgery.data;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * Wall time spent per named stage of a data pipeline (load, preprocess, augment, …), summed over every call and
 * every thread: t_stage = Σ_calls (end − start), in nanoseconds. A prefetching thread's stages add up here too, so
 * a stage's time is the work it did, not the time the training loop waited for it. Thread-safe; the stages keep the
 * order in which they were first timed.
 */
public final class StageTimes {
    private final Map<String, LongAdder[]> stages = new ConcurrentHashMap<>();
    private final Map<String, Boolean> order = java.util.Collections.synchronizedMap(new LinkedHashMap<>());

    /** Adds one call of {@code nanos} to {@code stage}. */
    public void add(String stage, long nanos) {
        LongAdder[] a = stages.computeIfAbsent(stage, s -> {
            order.put(s, Boolean.TRUE);
            return new LongAdder[]{new LongAdder(), new LongAdder()};
        });
        a[0].add(nanos);
        a[1].increment();
    }

    /** Runs {@code work}, adds its wall time to {@code stage} and returns its result. */
    public <T> T time(String stage, Supplier<T> work) {
        long t0 = System.nanoTime();
        try {
            return work.get();
        } finally {
            add(stage, System.nanoTime() - t0);
        }
    }

    /** {@code transform} whose every application is timed as {@code stage}. */
    public Transform timed(String stage, Transform transform) {
        return (s, rng) -> time(stage, () -> transform.apply(s, rng));
    }

    /** Seconds spent in {@code stage} (0 when never timed). */
    public double seconds(String stage) {
        LongAdder[] a = stages.get(stage);
        return a == null ? 0 : a[0].sum() / 1e9;
    }

    /** Calls timed as {@code stage}. */
    public long calls(String stage) {
        LongAdder[] a = stages.get(stage);
        return a == null ? 0 : a[1].sum();
    }

    /** Seconds per stage, in first-timed order. */
    public Map<String, Double> seconds() {
        Map<String, Double> out = new LinkedHashMap<>();
        synchronized (order) {
            for (String s : order.keySet()) {
                out.put(s, seconds(s));
            }
        }
        return out;
    }

    /** Forgets every stage. */
    public void clear() {
        synchronized (order) {
            order.clear();
            stages.clear();
        }
    }
}
