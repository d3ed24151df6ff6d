package org.gradsurgery.arbiter;

import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import org.deeplearning4j.arbiter.optimize.api.data.DataProvider;
import org.deeplearning4j.arbiter.optimize.api.data.DataSource;
import org.deeplearning4j.arbiter.optimize.api.score.ScoreFunction;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.shade.jackson.annotation.JsonProperty;

/**
 * An Arbiter {@link ScoreFunction} scoring a segmentation {@link ComputationGraph} on validation data by one of the
 * {@link ValidationMetrics.Metric}s: validation Dice (maximised), class-wise / top-label / boundary-band ECE, NLL or
 * Brier (minimised). The constrained objective (lowest ECE within δ of the best Dice) is not a per-candidate score
 * and lives in {@link SweepObjective}.
 *
 * <p>With a stock Arbiter runner the data come from the {@link DataSource}'s {@code testData()}, a
 * {@code DataSet} or a {@code DataSetIterator}; the sweep's own task creator calls {@link #score(ValidationMetrics)}
 * on the metrics it has already computed.
 */
public final class SegmentationScoreFunction implements ScoreFunction {
    private static final long serialVersionUID = 1L;

    @JsonProperty("metric")
    private ValidationMetrics.Metric metric;
    @JsonProperty("spacing")
    private double[] spacing;
    @JsonProperty("bandWidth")
    private double bandWidth;
    @JsonProperty("batchSize")
    private int batchSize;

    /** For Jackson. */
    private SegmentationScoreFunction() {
    }

    /**
     * @param metric    what to score
     * @param spacing   voxel size of the validation data per spatial axis (null = 1)
     * @param bandWidth half-width of the boundary band for {@code ECE_BOUNDARY}, in units of spacing
     * @param batchSize examples per forward pass
     */
    public SegmentationScoreFunction(ValidationMetrics.Metric metric, double[] spacing, double bandWidth,
                                     int batchSize) {
        this.metric = Objects.requireNonNull(metric, "metric");
        this.spacing = spacing == null ? null : spacing.clone();
        if (!(bandWidth > 0) || Double.isInfinite(bandWidth)) {
            throw new IllegalArgumentException("SegmentationScoreFunction: bandWidth must be finite and > 0, got "
                    + bandWidth);
        }
        if (batchSize < 1) {
            throw new IllegalArgumentException("SegmentationScoreFunction: batchSize must be >= 1, got " + batchSize);
        }
        this.bandWidth = bandWidth;
        this.batchSize = batchSize;
    }

    public ValidationMetrics.Metric metric() {
        return metric;
    }

    /** Half-width of the boundary band, in units of the spacing. */
    public double bandWidth() {
        return bandWidth;
    }

    /** The score of already computed metrics. */
    public double score(ValidationMetrics m) {
        return m.get(metric);
    }

    /** Computes the metrics of {@code net} on {@code validation} and returns the score. */
    public double score(ComputationGraph net, DataSet validation) {
        return score(ValidationMetrics.evaluate(net, validation, spacing, bandWidth, batchSize));
    }

    @Override
    public double score(Object model, DataProvider dataProvider, Map<String, Object> dataParameters) {
        return score(graph(model), toDataSet(dataProvider.testData(dataParameters)));
    }

    @Override
    public double score(Object model, Class<? extends DataSource> dataSource, Properties dataSourceProperties) {
        try {
            DataSource ds = dataSource.getConstructor().newInstance();
            if (dataSourceProperties != null) {
                ds.configure(dataSourceProperties);
            }
            return score(graph(model), toDataSet(ds.testData()));
        } catch (ReflectiveOperationException e) {
            throw new IllegalArgumentException("SegmentationScoreFunction: cannot create data source "
                    + dataSource.getName() + " with its public no-argument constructor", e);
        }
    }

    private static ComputationGraph graph(Object model) {
        if (!(model instanceof ComputationGraph)) {
            throw new IllegalArgumentException("SegmentationScoreFunction: scores ComputationGraph models, got "
                    + (model == null ? "null" : model.getClass().getName()));
        }
        return (ComputationGraph) model;
    }

    private static DataSet toDataSet(Object data) {
        if (data instanceof DataSet) {
            return (DataSet) data;
        }
        if (data instanceof DataSetIterator) {
            DataSetIterator it = (DataSetIterator) data;
            it.reset();
            java.util.List<DataSet> all = new java.util.ArrayList<>();
            while (it.hasNext()) {
                all.add(it.next());
            }
            return DataSet.merge(all);
        }
        throw new IllegalArgumentException("SegmentationScoreFunction: test data must be a DataSet or a "
                + "DataSetIterator, got " + (data == null ? "null" : data.getClass().getName()));
    }

    @Override
    public boolean minimize() {
        return metric.minimize();
    }

    @Override
    public List<Class<?>> getSupportedModelTypes() {
        return List.of(ComputationGraph.class);
    }

    @Override
    public List<Class<?>> getSupportedDataTypes() {
        return List.of(DataSet.class, DataSetIterator.class);
    }

    @Override
    public boolean equals(Object o) {
        if (!(o instanceof SegmentationScoreFunction)) {
            return false;
        }
        SegmentationScoreFunction s = (SegmentationScoreFunction) o;
        return metric == s.metric && java.util.Arrays.equals(spacing, s.spacing)
                && Double.compare(bandWidth, s.bandWidth) == 0 && batchSize == s.batchSize;
    }

    @Override
    public int hashCode() {
        return Objects.hash(metric, java.util.Arrays.hashCode(spacing), bandWidth, batchSize);
    }

    @Override
    public String toString() {
        return "SegmentationScoreFunction(" + metric.specName() + ")";
    }
}
