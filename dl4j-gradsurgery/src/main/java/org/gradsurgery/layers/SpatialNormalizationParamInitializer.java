package org.gradsurgery.layers;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.deeplearning4j.nn.api.ParamInitializer;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * Parameters of {@link InstanceNormalization} and {@link SpatialBatchNormalization}, laid out as DL4J's
 * {@code BatchNormalizationParamInitializer} does and with the same keys: per channel C,
 * <ul>
 *   <li>{@value #GAMMA} (init 1) and {@value #BETA} (init 0), present when the layer is affine;</li>
 *   <li>{@value #GLOBAL_MEAN} (init 0) and {@value #GLOBAL_VAR} (init 1), the running statistics of batch
 *       normalisation. They are parameters so that checkpoints, {@code params()} and parameter averaging carry them;
 *       they are not trained: the layer's "gradient" for them is the update of the running average, applied by a
 *       {@code NoOp} updater (see {@link SpatialBatchNormalization}).</li>
 * </ul>
 * Neither kind is a weight or a bias, so L1/L2/weight decay configured on the network does not apply to them
 * (as for DL4J's batch normalisation).
 */
public final class SpatialNormalizationParamInitializer implements ParamInitializer {

    public static final String GAMMA = "gamma";
    public static final String BETA = "beta";
    public static final String GLOBAL_MEAN = "mean";
    public static final String GLOBAL_VAR = "var";

    private static final SpatialNormalizationParamInitializer INSTANCE = new SpatialNormalizationParamInitializer();

    private SpatialNormalizationParamInitializer() {
    }

    public static SpatialNormalizationParamInitializer getInstance() {
        return INSTANCE;
    }

    private static AbstractSpatialNormalization cast(Layer layer) {
        if (!(layer instanceof AbstractSpatialNormalization)) {
            throw new IllegalArgumentException("SpatialNormalizationParamInitializer: expected an InstanceNormalization"
                    + " or SpatialBatchNormalization config, got " + (layer == null ? null : layer.getClass()));
        }
        return (AbstractSpatialNormalization) layer;
    }

    @Override
    public long numParams(NeuralNetConfiguration conf) {
        return numParams(conf.getLayer());
    }

    @Override
    public long numParams(Layer layer) {
        return paramKeys(layer).size() * cast(layer).getNOut();
    }

    @Override
    public List<String> paramKeys(Layer layer) {
        AbstractSpatialNormalization l = cast(layer);
        List<String> keys = new ArrayList<>(4);
        if (l.isAffine()) {
            keys.add(GAMMA);
            keys.add(BETA);
        }
        if (l.hasRunningStatistics()) {
            keys.add(GLOBAL_MEAN);
            keys.add(GLOBAL_VAR);
        }
        return Collections.unmodifiableList(keys);
    }

    @Override
    public List<String> weightKeys(Layer layer) {
        return Collections.emptyList();
    }

    @Override
    public List<String> biasKeys(Layer layer) {
        return Collections.emptyList();
    }

    @Override
    public boolean isWeightParam(Layer layer, String key) {
        return false;
    }

    @Override
    public boolean isBiasParam(Layer layer, String key) {
        return false;
    }

    @Override
    public Map<String, INDArray> init(NeuralNetConfiguration conf, INDArray paramsView, boolean initializeParams) {
        Map<String, INDArray> params = slices(conf, paramsView);
        for (Map.Entry<String, INDArray> e : params.entrySet()) {
            if (initializeParams) {
                boolean one = GAMMA.equals(e.getKey()) || GLOBAL_VAR.equals(e.getKey());
                e.getValue().assign(one ? 1.0 : 0.0);
            }
            conf.addVariable(e.getKey());
        }
        return Collections.synchronizedMap(params);
    }

    @Override
    public Map<String, INDArray> getGradientsFromFlattened(NeuralNetConfiguration conf, INDArray gradientView) {
        return slices(conf, gradientView);
    }

    /** Consecutive length-C views of {@code flat}, one per key, in {@link #paramKeys} order. */
    private Map<String, INDArray> slices(NeuralNetConfiguration conf, INDArray flat) {
        Layer layer = conf.getLayer();
        List<String> keys = paramKeys(layer);
        long c = cast(layer).getNOut();
        Map<String, INDArray> out = new LinkedHashMap<>();
        if (keys.isEmpty()) {
            return out;
        }
        long expected = keys.size() * c;
        if (flat == null || flat.length() != expected) {
            throw new IllegalArgumentException("SpatialNormalizationParamInitializer: expected a view of " + expected
                    + " values for " + keys + " x " + c + " channels, got "
                    + (flat == null ? "null" : flat.length() + " values"));
        }
        INDArray vector = flat.reshape(flat.length());
        for (int i = 0; i < keys.size(); i++) {
            out.put(keys.get(i), vector.get(NDArrayIndex.interval(i * c, (i + 1) * c)));
        }
        return out;
    }
}
