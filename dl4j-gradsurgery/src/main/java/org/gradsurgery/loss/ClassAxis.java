package org.gradsurgery.loss;

import java.util.Set;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationCube;
import org.nd4j.linalg.activations.impl.ActivationELU;
import org.nd4j.linalg.activations.impl.ActivationGELU;
import org.nd4j.linalg.activations.impl.ActivationHardSigmoid;
import org.nd4j.linalg.activations.impl.ActivationHardTanH;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationLReLU;
import org.nd4j.linalg.activations.impl.ActivationMish;
import org.nd4j.linalg.activations.impl.ActivationRationalTanh;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationReLU6;
import org.nd4j.linalg.activations.impl.ActivationRectifiedTanh;
import org.nd4j.linalg.activations.impl.ActivationSELU;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftPlus;
import org.nd4j.linalg.activations.impl.ActivationSoftSign;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.activations.impl.ActivationSwish;
import org.nd4j.linalg.activations.impl.ActivationTanH;
import org.nd4j.linalg.activations.impl.ActivationThresholdedReLU;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.impl.transforms.pairwise.arithmetic.MulOp;
import org.nd4j.linalg.api.ops.impl.transforms.custom.SoftMax;
import org.nd4j.linalg.api.ops.impl.transforms.gradient.SigmoidDerivative;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * Activations applied over axis 1 of a canonical {@code [R, C]} or {@code [N, C, V]} array (see {@link LossInput}).
 *
 * <p>DL4J activations work on the last axis and overwrite their input. Softmax, sigmoid, identity and the other
 * parameter-free element-wise activations are applied directly along axis 1 (no permute copies: this is the
 * path every training run takes). Any other activation falls back to a channels-last copy, which is what
 * DL4J's own {@code CnnLossLayer} does.
 */
final class ClassAxis {

    /** Activations that act on each value alone, so the layout does not matter. Exact classes only. */
    private static final Set<Class<?>> ELEMENTWISE = Set.of(ActivationSigmoid.class, ActivationIdentity.class,
            ActivationTanH.class, ActivationHardSigmoid.class, ActivationHardTanH.class, ActivationSoftSign.class,
            ActivationSoftPlus.class, ActivationReLU.class, ActivationReLU6.class, ActivationLReLU.class,
            ActivationELU.class, ActivationSELU.class, ActivationGELU.class, ActivationSwish.class,
            ActivationMish.class, ActivationCube.class, ActivationRationalTanh.class, ActivationRectifiedTanh.class,
            ActivationThresholdedReLU.class);

    private ClassAxis() {
    }

    static boolean isSoftmax(IActivation activation) {
        return activation.getClass() == ActivationSoftmax.class;
    }

    /** p = activation(z) over axis 1, in a new c-ordered array; z is not modified. */
    static INDArray activate(INDArray z, IActivation activation) {
        Class<?> type = activation.getClass();
        if (type == ActivationSoftmax.class) {
            INDArray p = Nd4j.createUninitialized(z.dataType(), z.shape(), 'c');
            Nd4j.exec(new SoftMax(z, p, 1));
            return p;
        }
        if (type == ActivationSigmoid.class) {
            return Transforms.sigmoid(z, true);
        }
        if (ELEMENTWISE.contains(type) || z.rank() == 2) {
            return activation.getActivation(z.dup('c'), true);
        }
        return channelsFirst(activation.getActivation(channelsLast(z), true), z.shape());
    }

    /**
     * dL/dz from dL/dp = {@code gradP} for p = activation(z) over axis 1. May overwrite {@code gradP}; z and p are
     * not modified.
     */
    static INDArray backprop(INDArray z, INDArray p, IActivation activation, INDArray gradP) {
        Class<?> type = activation.getClass();
        if (type == ActivationSoftmax.class) {
            // J^T g = p ⊙ (g − Σ_c p_c g_c): the softmax Jacobian without forming it. The class sum is a loop of
            // element-wise ops over the (few) classes: ND4J's sum along axis 1 copies its input outside the
            // workspaces, where the copy waits for the GC (issue 16).
            long[] innerShape = p.shape().clone();
            innerShape[1] = 1;
            INDArray inner = Nd4j.createUninitialized(p.dataType(), innerShape, 'c');
            INDArray term = Nd4j.createUninitialized(p.dataType(), innerShape, 'c');
            for (long c = 0; c < p.size(1); c++) {
                Nd4j.exec(new MulOp(classSlice(p, c), classSlice(gradP, c), c == 0 ? inner : term));
                if (c > 0) {
                    inner.addi(term);
                }
            }
            return gradP.subi(inner).muli(p);
        }
        if (type == ActivationSigmoid.class) {
            Nd4j.exec(new SigmoidDerivative(z, gradP, gradP));
            return gradP;
        }
        if (type == ActivationIdentity.class) {
            return gradP;
        }
        if (ELEMENTWISE.contains(type) || z.rank() == 2) {
            return activation.backprop(z.dup('c'), gradP).getFirst();
        }
        INDArray g = activation.backprop(channelsLast(z), channelsLast(gradP)).getFirst();
        return channelsFirst(g, z.shape());
    }

    /** Class {@code c} of {@code x} ({@code [R, C]} or {@code [N, C, V]}) as a view keeping axis 1. */
    private static INDArray classSlice(INDArray x, long c) {
        INDArrayIndex[] idx = new INDArrayIndex[x.rank()];
        java.util.Arrays.fill(idx, NDArrayIndex.all());
        idx[1] = NDArrayIndex.interval(c, c + 1);
        return x.get(idx);
    }

    /** {@code [N, C, V]} to a fresh {@code [N·V, C]}, the layout DL4J activations expect. */
    private static INDArray channelsLast(INDArray x) {
        return x.permute(0, 2, 1).dup('c').reshape('c', x.size(0) * x.size(2), x.size(1));
    }

    private static INDArray channelsFirst(INDArray rows, long[] shape) {
        return rows.reshape('c', shape[0], shape[2], shape[1]).permute(0, 2, 1).dup('c');
    }
}
