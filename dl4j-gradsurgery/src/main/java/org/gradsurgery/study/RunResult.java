package org.gradsurgery.study;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import org.gradsurgery.calibration.ReliabilityBins;
import org.gradsurgery.io.AtomicFiles;
import org.nd4j.shade.jackson.annotation.JsonProperty;
import org.nd4j.shade.jackson.core.JsonGenerator;
import org.nd4j.shade.jackson.core.JsonParser;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import org.nd4j.shade.jackson.databind.SerializationFeature;

/**
 * What one finished run of a study recorded ({@code result.json}, written last, so its presence marks the run done):
 * budget, time ({@code trainSeconds}: the training steps of every epoch, across resumes; {@code seconds}: the wall
 * time of the session that finished the run, scoring included), fitted temperature, the pooled test metrics ({@link StudyEvaluation}) and their reliability
 * bins as {@code [counts, Σ confidence, Σ outcome]}.
 */
public record RunResult(@JsonProperty("arm") String arm, @JsonProperty("label") String label,
                        @JsonProperty("seed") long seed, @JsonProperty("epochs") int epochs,
                        @JsonProperty("iterations") long iterations,
                        @JsonProperty("trainSeconds") double trainSeconds, @JsonProperty("seconds") double seconds,
                        @JsonProperty("temperature") double temperature,
                        @JsonProperty("temperatureConverged") boolean temperatureConverged,
                        @JsonProperty("pooled") Map<String, Double> pooled,
                        @JsonProperty("reliability") Map<String, double[][]> reliability) {

    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .enable(JsonGenerator.Feature.QUOTE_NON_NUMERIC_NUMBERS).enable(JsonParser.Feature.ALLOW_NON_NUMERIC_NUMBERS);

    static Map<String, double[][]> bins(Map<String, ReliabilityBins> bins) {
        Map<String, double[][]> out = new LinkedHashMap<>();
        bins.forEach((k, b) -> {
            double[] counts = new double[b.bins()];
            double[] conf = new double[b.bins()];
            double[] acc = new double[b.bins()];
            for (int i = 0; i < b.bins(); i++) {
                counts[i] = b.count(i);
                conf[i] = b.count(i) == 0 ? 0 : b.meanConfidence(i) * b.count(i);
                acc[i] = b.count(i) == 0 ? 0 : b.accuracy(i) * b.count(i);
            }
            out.put(k, new double[][] {counts, conf, acc});
        });
        return out;
    }

    /** The bins named {@code key} (see {@link #reliability()}), or null. */
    ReliabilityBins bins(String key) {
        double[][] b = reliability.get(key);
        if (b == null) {
            return null;
        }
        long[] c = new long[b[0].length];
        for (int i = 0; i < c.length; i++) {
            c[i] = Math.round(b[0][i]);
        }
        return new ReliabilityBins(c, b[1], b[2]);
    }

    void write(Path file) throws IOException {
        AtomicFiles.writeString(file, JSON.writeValueAsString(this) + "\n");
    }

    static RunResult read(Path file) throws IOException {
        return JSON.readValue(file.toFile(), RunResult.class);
    }
}
