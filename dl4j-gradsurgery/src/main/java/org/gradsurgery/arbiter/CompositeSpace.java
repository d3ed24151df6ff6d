package org.gradsurgery.arbiter;

import java.util.ArrayList;
import java.util.List;
import org.deeplearning4j.arbiter.optimize.api.AbstractParameterSpace;
import org.deeplearning4j.arbiter.optimize.api.ParameterSpace;
import org.deeplearning4j.arbiter.optimize.parameter.FixedValue;
import org.deeplearning4j.arbiter.optimize.parameter.discrete.DiscreteParameterSpace;
import org.deeplearning4j.arbiter.optimize.parameter.integer.IntegerParameterSpace;
import org.deeplearning4j.arbiter.util.LeafUtils;

/**
 * A non-leaf Arbiter space whose {@link ParameterSpace} fields are its children (found by Arbiter's reflection in
 * {@link AbstractParameterSpace#getNestedSpaces()}): the leaves are the children's leaves, the parameter count is
 * the number of parameters of the distinct leaves. Arbiter's candidate generators assign the leaves' indices.
 *
 * @param <T> the value type
 */
abstract class CompositeSpace<T> extends AbstractParameterSpace<T> {

    @Override
    public List<ParameterSpace> collectLeaves() {
        List<ParameterSpace> leaves = new ArrayList<>();
        for (ParameterSpace<?> p : getNestedSpaces().values()) {
            if (p.isLeaf()) {
                leaves.add(p);
            } else {
                leaves.addAll(p.collectLeaves());
            }
        }
        return leaves;
    }

    @Override
    public int numParameters() {
        return LeafUtils.countUniqueParameters(collectLeaves());
    }

    @Override
    public boolean isLeaf() {
        return false;
    }

    @Override
    public void setIndices(int... indices) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " is not a leaf: its leaves get the indices");
    }

    /**
     * {@code space}, a fixed {@code fallback} when it is null, and a {@link FixedValue} for a one-valued
     * {@link DiscreteParameterSpace} or {@link IntegerParameterSpace}: Arbiter's grid search gives those a parameter
     * index but no grid axis, which shifts every later parameter (beta7 then fails with an index out of bounds).
     */
    @SuppressWarnings("unchecked")
    static <V> ParameterSpace<V> orFixed(ParameterSpace<V> space, V fallback) {
        if (space == null) {
            return new FixedValue<>(fallback);
        }
        if (space instanceof DiscreteParameterSpace && ((DiscreteParameterSpace<V>) space).numValues() == 1) {
            space.setIndices(0);   // a one-valued space ignores the input, but insists on an index
            return new FixedValue<>(space.getValue(new double[1]));
        }
        if (space instanceof IntegerParameterSpace
                && ((IntegerParameterSpace) space).getMin() == ((IntegerParameterSpace) space).getMax()) {
            return new FixedValue<>((V) Integer.valueOf(((IntegerParameterSpace) space).getMin()));
        }
        return space;
    }

    /** The value of {@code space} for the flat parameter vector (a number for numeric spaces, whatever JSON gave). */
    static double number(ParameterSpace<?> space, double[] values, String name) {
        Object v = space.getValue(values);
        if (!(v instanceof Number)) {
            throw new IllegalArgumentException(name + ": expected a number, got " + v);
        }
        return ((Number) v).doubleValue();
    }
}
