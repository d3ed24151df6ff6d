package org.gradsurgery.layers.impl;

import org.bytedeco.javacpp.Pointer;
import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * A raw host address as a JavaCPP {@link Pointer} (position 0), for the native calls that take memory by address:
 * oneDNN's data handles ({@link DnnlConvolution}) and {@link Pointer#memcpy} ({@link ChannelConcatVertex}). An
 * array's first element lies at its buffer's {@code addressPointer()} plus that pointer's position (the view's
 * offset) times the element size; only host (CPU backend) arrays have one.
 */
final class HostAddress extends Pointer {

    HostAddress() {
    }

    HostAddress(long address) {
        this.address = address;
    }

    /** The host address of {@code a}'s first element. */
    static long start(INDArray a) {
        Pointer p = a.data().addressPointer();
        return p.address() + p.position() * a.data().getElementSize();
    }

    /** This pointer moved to {@code a}'s first element (reused per call, so binding allocates nothing). */
    HostAddress at(INDArray a) {
        address = start(a);
        return this;
    }

    /** This pointer moved to the first 64-byte aligned address inside {@code scratch} (allocated with 64 to spare). */
    HostAddress aligned(INDArray scratch) {
        address = (start(scratch) + 63) & ~63L;
        return this;
    }
}
