package org.gradsurgery.model;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.reflect.Field;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.updater.graph.ComputationGraphUpdater;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.deallocation.DeallocatableReference;
import org.nd4j.linalg.api.memory.deallocation.DeallocatorService;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.conditions.Conditions;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Nesterovs;

/**
 * {@link InPlaceGradientUpdater} must train exactly as DL4J's own updater (same operations on the same memory, so
 * bit for bit), keep the updater state across {@code install}, and build far fewer arrays per update.
 */
class InPlaceGradientUpdaterTest {

    /** 2D, batch norm (its running statistics have no updater, so the graph has Adam and no-op blocks), 16². */
    private static UNet unet() {
        return unet(new Adam(1e-2));
    }

    private static UNet unet(IUpdater updater) {
        return UNet.builder().spatialDims(2).levels(2).baseFilters(4).normalization(UNet.Normalization.BATCH)
                .updater(updater).inputSize(16, 16).seed(3).build();
    }

    private static MultiDataSet batch(long seed) {
        Nd4j.getRandom().setSeed(seed);
        INDArray x = Nd4j.randn(DataType.FLOAT, 2, 1, 16, 16);
        INDArray fg = x.match(0.0, Conditions.greaterThan(0.3)).castTo(DataType.FLOAT);
        return new MultiDataSet(new INDArray[] {x}, new INDArray[] {Nd4j.concat(1, fg.rsub(1.0), fg)});
    }

    private static ComputationGraph stock(UNet u) {
        ComputationGraph net = new ComputationGraph(u.configuration());
        net.init();
        return net;
    }

    private static float[] floats(INDArray a) {
        return a.dup().data().asFloat();
    }

    @Test
    void trainsBitForBitLikeDl4jsUpdater() {
        // Adam goes through the one-pass kernel; a learning-rate schedule and a large step count test the bias
        // corrections β^(t+1) and the learning rate of iteration t
        ComputationGraph ours = assertSameTraining(unet(new Adam(new org.nd4j.linalg.schedule.ExponentialSchedule(
                org.nd4j.linalg.schedule.ScheduleType.ITERATION, 1e-2, 0.97))), 12);
        assertTrue(((InPlaceGradientUpdater) ours.getUpdater()).fusedUpdates() == 12, "the one-pass Adam was not used");
        ComputationGraph betas = assertSameTraining(unet(new Adam(3e-3, 0.8, 0.95, 1e-6)), 6);
        assertTrue(((InPlaceGradientUpdater) betas.getUpdater()).fusedUpdates() == 6);
    }

    @Test
    void otherUpdatersTakeDl4jsPathOnTheGraphsOwnGradient() {
        ComputationGraph ours = assertSameTraining(unet(new Nesterovs(1e-2, 0.9)), 4);
        assertTrue(((InPlaceGradientUpdater) ours.getUpdater()).fusedUpdates() == 0);
    }

    /** Trains DL4J's graph and ours on the same batches and requires the same bits after every step. */
    private static ComputationGraph assertSameTraining(UNet u, int steps) {
        ComputationGraph dl4j = stock(u);
        ComputationGraph ours = u.graph();
        assertTrue(ours.getUpdater() instanceof InPlaceGradientUpdater);
        assertFalse(dl4j.getUpdater() instanceof InPlaceGradientUpdater);
        assertArrayEquals(floats(dl4j.params()), floats(ours.params()));
        for (int i = 0; i < steps; i++) {
            MultiDataSet b = batch(10 + i);
            dl4j.fit(b);
            ours.fit(b);
            assertArrayEquals(floats(dl4j.params()), floats(ours.params()), "parameters after step " + (i + 1));
            assertArrayEquals(floats(dl4j.getUpdater().getStateViewArray()),
                    floats(ours.getUpdater().getStateViewArray()), "Adam's m and v after step " + (i + 1));
            assertTrue(dl4j.score() == ours.score(), "score after step " + (i + 1));
        }
        return ours;
    }

    @Test
    void staysBitForBitWhereJavasPowDiffersFromLibnd4js() {
        // glibc's powf (libnd4j's pow) and the correctly rounded (float) Math.pow differ in the last bit of 0.999^t
        // for some t (first at 873), and that changes the float bias correction ε_t of step t = 3606 (for any
        // learning rate): the one-pass Adam must take libnd4j's pow there too
        UNet u = unet(new Adam(1e-3));
        ComputationGraph dl4j = stock(u);
        ComputationGraph ours = u.graph();
        dl4j.getConfiguration().setIterationCount(3600);
        ours.getConfiguration().setIterationCount(3600);
        for (int i = 0; i < 8; i++) {
            MultiDataSet b = batch(60 + i);
            dl4j.fit(b);
            ours.fit(b);
            assertArrayEquals(floats(dl4j.params()), floats(ours.params()), "parameters after step " + (3601 + i));
        }
        assertArrayEquals(floats(dl4j.getUpdater().getStateViewArray()), floats(ours.getUpdater().getStateViewArray()));
        assertTrue(((InPlaceGradientUpdater) ours.getUpdater()).fusedUpdates() == 8);
    }

    @Test
    void installKeepsTheStateOfARestoredGraphAndIsIdempotent() throws IOException {
        UNet u = unet();
        ComputationGraph trained = u.graph();
        for (int i = 0; i < 3; i++) {
            trained.fit(batch(20 + i));
        }
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ModelSerializer.writeModel(trained, bytes, true);
        ComputationGraph restored = ModelSerializer.restoreComputationGraph(
                new ByteArrayInputStream(bytes.toByteArray()), true);
        assertFalse(restored.getUpdater() instanceof InPlaceGradientUpdater);
        float[] state = floats(restored.getUpdater().getStateViewArray());
        InPlaceGradientUpdater.install(restored);
        ComputationGraphUpdater installed = restored.getUpdater();
        assertTrue(installed instanceof InPlaceGradientUpdater);
        assertArrayEquals(state, floats(installed.getStateViewArray()), "install must keep Adam's moments");
        assertSame(installed, InPlaceGradientUpdater.install(restored).getUpdater(), "a second install changes nothing");

        MultiDataSet next = batch(30);
        trained.fit(next);
        restored.fit(next);
        assertArrayEquals(floats(trained.params()), floats(restored.params()));
        assertArrayEquals(floats(trained.getUpdater().getStateViewArray()),
                floats(restored.getUpdater().getStateViewArray()));
    }

    @Test
    void refusesAGraphThatIsNotInitialised() {
        ComputationGraph net = new ComputationGraph(unet().configuration());
        assertThrows(IllegalStateException.class, () -> InPlaceGradientUpdater.install(net));
    }

    @Test
    void anUpdateBuildsFarFewerArraysThanDl4jsUpdater() throws ReflectiveOperationException {
        UNet u = unet();
        ComputationGraph dl4j = stock(u);
        ComputationGraph ours = u.graph();
        MultiDataSet b = batch(40);
        dl4j.fit(b);
        ours.fit(b);
        long stockArrays = arraysInUpdate(dl4j, b);
        long ourArrays = arraysInUpdate(ours, b);
        // DL4J's external-gradient path builds four views per parameter array and more per block on every step
        // (846 here with M2.1); the in-place path with its one-pass Adam only what the parameter step builds
        assertTrue(stockArrays > 100, "DL4J's updater built " + stockArrays + " arrays (expected its per-step views)");
        assertTrue(ourArrays * 10 < stockArrays, "in-place updater built " + ourArrays + " arrays against DL4J's "
                + stockArrays);
        assertNotSame(dl4j.getUpdater(), ours.getUpdater());
    }

    /**
     * New ND4J buffers (data or shape) registered with the deallocator between the gradient and the end of the
     * iteration (the updater and the parameter step) of one {@code fit}.
     */
    @SuppressWarnings("unchecked")
    private static long arraysInUpdate(ComputationGraph net, MultiDataSet b) throws ReflectiveOperationException {
        AtomicLong count = new AtomicLong();
        boolean[] counting = new boolean[1];
        DeallocatorService service = Nd4j.getDeallocatorService();
        Field f = DeallocatorService.class.getDeclaredField("referenceMap");
        f.setAccessible(true);
        Map<String, DeallocatableReference> original = (Map<String, DeallocatableReference>) f.get(service);
        ConcurrentHashMap<String, DeallocatableReference> counted = new ConcurrentHashMap<>() {
            @Override
            public DeallocatableReference put(String key, DeallocatableReference value) {
                if (counting[0]) {
                    count.incrementAndGet();
                }
                return super.put(key, value);
            }
        };
        BaseTrainingListener window = new BaseTrainingListener() {
            @Override
            public void onGradientCalculation(org.deeplearning4j.nn.api.Model model) {
                counting[0] = true;
            }

            @Override
            public void iterationDone(org.deeplearning4j.nn.api.Model model, int iteration, int epoch) {
                counting[0] = false;
            }
        };
        synchronized (service) {
            counted.putAll(original);
            f.set(service, counted);
            try {
                net.addListeners(window);
                net.fit(b);
            } finally {
                original.clear();
                original.putAll(counted);   // what was registered or freed meanwhile
                f.set(service, original);
                net.setListeners(new java.util.ArrayList<>());
            }
        }
        return count.get();
    }
}
