package org.gradsurgery.examples.bench;

import java.lang.reflect.Field;
import java.util.Collections;
import java.util.Comparator;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Collectors;
import org.nd4j.linalg.api.buffer.DataBuffer;
import org.nd4j.linalg.api.memory.deallocation.DeallocatableReference;
import org.nd4j.linalg.api.memory.deallocation.DeallocatorService;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Counts the native buffers allocated <em>outside</em> every workspace, by whom, while installed.
 *
 * <p>ND4J frees a buffer that was allocated outside a workspace only when the Java garbage collector has collected
 * its owner: every such buffer is registered with {@link DeallocatorService}, which keeps a
 * {@code Map<String, DeallocatableReference>} of them and frees the native memory when the weak reference is
 * enqueued. A training step that allocates B bytes of these per iteration therefore grows the resident set by B
 * per iteration until a collection happens, and with a small Java heap that can be thousands of iterations later.
 * This class swaps that map for one that also reports every registration: the bytes
 * ({@code length × elementSize}) are added to the current <em>label</em> (a thread-local the caller sets, e.g.
 * "conv1 backward") and, with {@code sites}, to the first stack frame outside ND4J/JavaCPP internals, so a
 * benchmark can say which layer lets memory escape and from which line. {@link #close()} puts the original map
 * back (entries registered meanwhile are kept, so deallocation is unaffected).
 */
final class DetachedAllocations implements AutoCloseable {

    private static final ThreadLocal<String> LABEL = new ThreadLocal<>();

    private final Field field;
    private final DeallocatorService service;
    private final Map<String, DeallocatableReference> original;
    private final boolean sites;
    private final Map<String, long[]> byLabel = new ConcurrentHashMap<>();   // label → {count, bytes}
    private final Map<String, long[]> bySite = new ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicLong largest = new java.util.concurrent.atomic.AtomicLong();
    private final Map<DataBuffer, String> retained = Collections.synchronizedMap(new IdentityHashMap<>());
    private volatile boolean retain;

    @SuppressWarnings("unchecked")
    private DetachedAllocations(boolean sites) {
        this.sites = sites;
        try {
            service = Nd4j.getDeallocatorService();
            field = DeallocatorService.class.getDeclaredField("referenceMap");
            field.setAccessible(true);
            original = (Map<String, DeallocatableReference>) field.get(service);
            Recording recording = new Recording();
            recording.putAll(original);
            field.set(service, recording);
        } catch (ReflectiveOperationException | RuntimeException e) {
            throw new IllegalStateException("cannot count detached allocations: ND4J's DeallocatorService has no "
                    + "referenceMap field in this version (" + e + ")", e);
        }
    }

    /** Starts counting; {@code sites} also records the allocating source line (slower: one stack walk each). */
    static DetachedAllocations install(boolean sites) {
        return new DetachedAllocations(sites);
    }

    /** Sets the label allocations on this thread are booked to; {@code null} books them to "other". */
    static String label(String label) {
        String previous = LABEL.get();
        LABEL.set(label);
        return previous;
    }

    private final class Recording extends ConcurrentHashMap<String, DeallocatableReference> {
        @Override
        public DeallocatableReference put(String key, DeallocatableReference value) {
            Object target = value.get();
            if (!(target instanceof DataBuffer b) || b.isAttached() || b.originalDataBuffer() != null) {
                return super.put(key, value);   // workspace memory or a view: nothing of its own waits for the GC
            }
            long bytes = b.length() * b.getElementSize();
            largest.accumulateAndGet(bytes, Math::max);
            if (retain) {
                retained.put(b, site());
            }
            String label = LABEL.get();
            add(byLabel, label == null ? "other" : label, bytes);
            if (sites) {
                add(bySite, (label == null ? "other" : label) + " @ " + site(), bytes);
            }
            return super.put(key, value);
        }
    }

    private static void add(Map<String, long[]> map, String key, long bytes) {
        long[] slot = map.computeIfAbsent(key, k -> new long[2]);
        synchronized (slot) {
            slot[0]++;
            slot[1] += bytes;
        }
    }

    private static String site() {
        return StackWalker.getInstance().walk(frames -> frames
                .filter(f -> !f.getClassName().startsWith("org.nd4j.")
                        && !f.getClassName().startsWith("org.bytedeco.")
                        && !f.getClassName().startsWith("java.")
                        && !f.getClassName().startsWith("jdk.")
                        && !f.getClassName().startsWith("com.sun.proxy")
                        && !f.getClassName().startsWith(DetachedAllocations.class.getName()))
                .limit(2)
                .map(f -> f.getClassName().substring(f.getClassName().lastIndexOf('.') + 1) + "."
                        + f.getMethodName() + ":" + f.getLineNumber())
                .collect(Collectors.joining(" < ")));
    }

    /** {count, bytes} per label, in insertion order. */
    Map<String, long[]> byLabel() {
        return new LinkedHashMap<>(byLabel);
    }

    /** {count, bytes} per "label @ site", largest first (empty unless installed with sites). */
    List<Map.Entry<String, long[]>> bySite() {
        return bySite.entrySet().stream().sorted(Comparator.comparingLong((Map.Entry<String, long[]> e) ->
                e.getValue()[1]).reversed()).toList();
    }

    /**
     * From now on also holds every detached buffer (so the GC cannot free it), for {@link #unclosed}: for tests of
     * code that must close what it allocates outside workspaces rather than leave it to the GC.
     */
    DetachedAllocations retainBuffers() {
        retain = true;
        return this;
    }

    /**
     * The buffers held since {@link #retainBuffers()} that are still open (not {@code close()}d), except those of
     * {@code keep} (e.g. a result the caller owns): "bytes B @ allocating site" each.
     */
    List<String> unclosed(INDArray... keep) {
        Set<DataBuffer> kept = Collections.newSetFromMap(new IdentityHashMap<>());
        for (INDArray a : keep) {
            kept.add(a.data().originalDataBuffer() != null ? a.data().originalDataBuffer() : a.data());
        }
        synchronized (retained) {
            return retained.entrySet().stream().filter(e -> !e.getKey().wasClosed() && !kept.contains(e.getKey()))
                    .map(e -> e.getKey().length() * e.getKey().getElementSize() + " B @ " + e.getValue()).toList();
        }
    }

    /** The largest single detached buffer seen, in bytes. */
    long largestBytes() {
        return largest.get();
    }

    long totalBytes() {
        return byLabel.values().stream().mapToLong(s -> s[1]).sum();
    }

    long totalCount() {
        return byLabel.values().stream().mapToLong(s -> s[0]).sum();
    }

    @Override
    public void close() {
        try {
            @SuppressWarnings("unchecked")
            Map<String, DeallocatableReference> now = (Map<String, DeallocatableReference>) field.get(service);
            original.clear();
            original.putAll(now);
            field.set(service, original);
        } catch (IllegalAccessException e) {
            throw new IllegalStateException(e);
        }
    }
}
