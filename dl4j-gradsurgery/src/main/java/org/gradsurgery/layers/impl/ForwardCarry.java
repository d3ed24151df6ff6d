package org.gradsurgery.layers.impl;

import java.util.Arrays;

import org.deeplearning4j.nn.layers.AbstractLayer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Something a layer's training-mode forward pass keeps for the backprop of the same pass (the norm layers' group
 * statistics, a convolution's ReLU output), with what it was computed from. It is valid only while the layer's input
 * is the very same array object, with the same shape, in the same iteration and epoch; otherwise (a new input set,
 * an inference pass in between, {@code clear()}) backprop computes the value again. Identity alone is not enough:
 * DL4J reuses workspace memory, and a layer's input object can be set again with other contents in a later
 * iteration, which the iteration and epoch counters tell apart.
 *
 * @param input     the layer's input the value was computed from (compared by identity)
 * @param shape     that input's shape at the time
 * @param iteration the layer's iteration count at the time
 * @param epoch     the layer's epoch count at the time
 * @param value     the carried value
 * @param <T>       its type
 */
record ForwardCarry<T>(INDArray input, long[] shape, int iteration, int epoch, T value) {

    /** {@code value}, computed by {@code layer}'s forward pass from its current input. */
    static <T> ForwardCarry<T> of(AbstractLayer<?> layer, T value) {
        INDArray in = layer.input();
        return new ForwardCarry<>(in, in.shape(), layer.getIterationCount(), layer.getEpochCount(), value);
    }

    /** The value of {@code carry} if it belongs to {@code layer}'s current input, else null (also for a null carry). */
    static <T> T validFor(ForwardCarry<T> carry, AbstractLayer<?> layer) {
        INDArray in = layer.input();
        boolean valid = carry != null && in != null && carry.input == in && Arrays.equals(carry.shape, in.shape())
                && carry.iteration == layer.getIterationCount() && carry.epoch == layer.getEpochCount();
        return valid ? carry.value : null;
    }
}
