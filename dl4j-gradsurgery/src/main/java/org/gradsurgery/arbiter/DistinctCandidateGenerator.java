package org.gradsurgery.arbiter;

import java.util.HashSet;
import java.util.Set;
import org.deeplearning4j.arbiter.optimize.api.Candidate;
import org.deeplearning4j.arbiter.optimize.api.CandidateGenerator;
import org.deeplearning4j.arbiter.optimize.api.OptimizationResult;
import org.deeplearning4j.arbiter.optimize.api.ParameterSpace;

/**
 * Wraps an Arbiter {@link CandidateGenerator} and skips candidates equal to one already given, renumbering the rest
 * 0, 1, 2, .... Why: a parameter can be inert in part of the space (the exponent when the surgery is off), so a grid
 * over {@code surgery × exponent} repeats the no-surgery candidate once per exponent, and a random search over
 * choices can repeat itself; training a configuration twice costs time and tells nothing new. After
 * {@link #MAX_CONSECUTIVE_DUPLICATES} duplicates in a row the space counts as exhausted.
 */
final class DistinctCandidateGenerator implements CandidateGenerator {
    /** Duplicates in a row after which a (random) generator counts as exhausted. */
    static final int MAX_CONSECUTIVE_DUPLICATES = 1000;

    private final CandidateGenerator delegate;
    private final Set<Object> seen = new HashSet<>();
    private Candidate<?> next;
    private int counter;

    DistinctCandidateGenerator(CandidateGenerator delegate) {
        this.delegate = delegate;
    }

    @Override
    public boolean hasMoreCandidates() {
        int duplicates = 0;
        while (next == null && delegate.hasMoreCandidates() && duplicates < MAX_CONSECUTIVE_DUPLICATES) {
            Candidate<?> c = delegate.getCandidate();
            if (c.getException() != null || seen.add(c.getValue())) {
                next = c;
            } else {
                duplicates++;
            }
        }
        return next != null;
    }

    @Override
    public Candidate getCandidate() {
        if (!hasMoreCandidates()) {
            throw new IllegalStateException("DistinctCandidateGenerator: no more distinct candidates");
        }
        Candidate<?> c = next;
        next = null;
        return new Candidate<>(c.getValue(), counter++, c.getFlatParameters(), c.getDataParameters(),
                c.getException());
    }

    @Override
    public void reportResults(OptimizationResult result) {
        delegate.reportResults(result);
    }

    @Override
    public ParameterSpace<?> getParameterSpace() {
        return delegate.getParameterSpace();
    }

    @Override
    public void setRngSeed(long rngSeed) {
        delegate.setRngSeed(rngSeed);
    }

    @Override
    public Class<?> getCandidateType() {
        return delegate.getCandidateType();
    }
}
