package org.gradsurgery.examples.bench;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.gradsurgery.InvalidInputException;
import org.gradsurgery.data.StageTimes;
import org.gradsurgery.data.nifti.Nifti;
import org.gradsurgery.data.nifti.NiftiDataType;
import org.gradsurgery.data.nifti.NiftiImage;
import org.gradsurgery.evaluation.CaseEvaluator;
import org.gradsurgery.examples.DemoData;
import org.gradsurgery.experiment.DataPlan;
import org.gradsurgery.experiment.DataSource;
import org.gradsurgery.experiment.DataSources;
import org.gradsurgery.experiment.ExperimentData;
import org.gradsurgery.experiment.ExperimentSpec;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.model.UNet;
import org.gradsurgery.study.StudySpec;
import org.gradsurgery.training.TrainingData;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code gradsurgery bench pipeline}: where one epoch of the study's 3D training goes, stage by stage, through the
 * study's own code: {@link ExperimentData#prepare} loads and preprocesses the cases of the spec's
 * {@link DataPlan} and pads them to the common size, timing its stages ({@link StageTimes}); its
 * {@link ExperimentData#trainingData()} gives the batches with the plan's augmentation (timed per example);
 * {@link StudySpec#experiment} gives the run's network and Adam + poly schedule; {@link TrainingData#prefetched} is
 * the trainer's prefetching; and {@link ExperimentData#evaluator} runs the network on the validation cases as the
 * study scores them. With {@code --peer} the same stages in PyTorch + numpy + nibabel
 * ({@code bench/peer_pipeline.py}) in the same invocation.
 *
 * <p>Stages, each a sum of wall time: <b>load</b> (reading every case's image and label files), <b>preprocess</b>
 * (z-score, padding to the common size), <b>augment</b> (the recipe's random transforms, per example),
 * <b>batch</b> (cutting examples and assembling the one-hot batch, without augment), <b>step</b>
 * ({@code net.fit(batch)}: forward, loss, backward, Adam) and <b>inference</b> (the network on each validation case
 * padded to the common size, as the study scores a case: one window of the padded size; the peer runs MONAI's
 * sliding-window algorithm with that window). Shares are of their sum. The epoch is run twice after {@code --warmup}
 * untimed batches: once building batches on the training thread, once with the trainer's prefetch queue, and for
 * each the time the training loop waited for data is printed: with prefetching that wait, not the augment work (done
 * on the background thread), is what the data stages cost the epoch. Compare the two epochs by their waits: their
 * step times differ too (the JIT is still compiling during the first, and a loaded machine stretches either).
 *
 * <p>Without a folder the bundled Colin27 volume ({@code datasets/colin27-deepgm}) is cut into 8 cases of
 * 48×48×24 written as an MSD task to a temporary folder: a check that the code path runs, not a benchmark.
 */
@Command(name = "pipeline", mixinStandardHelpOptions = true,
        description = "One epoch of the study's 3D training on an MSD task, stage by stage (load, preprocess, augment, "
                + "batch, step, validation inference), with and without prefetching; optionally against PyTorch.")
public final class PipelineBench implements Callable<Integer> {

    @Parameters(index = "0", arity = "0..1", paramLabel = "MSD_TASK_DIR", description = "An MSD task folder "
            + "(imagesTr/, labelsTr/, dataset.json). Default: 8 crops of the bundled Colin27 volume (a smoke run).")
    Path folder;

    @Option(names = "--spec", paramLabel = "FILE", description = "Study spec whose data plan, network and training "
            + "to use: 3D with commonPadding (default: the repository's "
            + "dl4j-gradsurgery-examples/examples/studies/msd-hippocampus-3d.json).")
    Path specFile;

    @Option(names = "--arm", paramLabel = "LOSS", description = "Loss of the trained network (default: the spec's "
            + "first arm).")
    String arm;

    @Option(names = "--seed", paramLabel = "N", description = "Network and batch seed (default: ${DEFAULT-VALUE}).")
    long seed = 1;

    @Option(names = "--train-cases", paramLabel = "N", description = "Training cases, 1 or more (default: the "
            + "spec's split; at most all cases but the validation cases and one).")
    Integer trainCases;

    @Option(names = "--validation-cases", paramLabel = "N", description = "Validation cases the network infers on, "
            + "1 or more (default: the spec's split).")
    Integer validationCases;

    @Option(names = "--max-batches", paramLabel = "N", description = "Timed batches per epoch, 0 = the whole epoch "
            + "(default: ${DEFAULT-VALUE}).")
    int maxBatches = 0;

    @Option(names = "--warmup", paramLabel = "N", description = "Untimed batches before the timed epochs "
            + "(default: ${DEFAULT-VALUE}).")
    int warmup = 2;

    @Option(names = "--prefetch", paramLabel = "N", description = "Prefetch queue of the second epoch; 0 = run only "
            + "the inline epoch (default: the trainer's, ${DEFAULT-VALUE}).")
    int prefetch = org.gradsurgery.data.SegmentationDataSetIterator.DEFAULT_PREFETCH;

    @Option(names = "--smoke", description = "CI size: at most 4 training cases, 1 validation case, 1 batch per "
            + "epoch, no warm-up.")
    boolean smoke;

    @Option(names = "--peer", description = "Also run bench/peer_pipeline.py (PyTorch + nibabel) on the same cases.")
    boolean peer;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    static final String BATCH = "batch";
    static final String STEP = "step";
    static final String INFERENCE = "inference";

    /** One timed epoch: wall time, the step's share, and how long the loop waited for its next batch. */
    record Epoch(String name, int batches, double wallSeconds, double stepSeconds, double waitSeconds,
                 double augmentSeconds) {
        double waitShare() {
            return waitSeconds / wallSeconds;
        }
    }

    @Override
    public Integer call() throws Exception {
        if (smoke) {
            trainCases = Math.min(trainCases == null ? 4 : trainCases, 4);
            validationCases = 1;
            maxBatches = 1;
            warmup = 0;
        }
        PrintWriter out = spec.commandLine().getOut();
        Path tmp = null;
        try {
            Path task = folder;
            if (task == null) {
                tmp = Files.createTempDirectory("gradsurgery-pipeline-");
                task = bundledTask(DemoData.locate(), tmp);
                out.println("no folder given: 8 crops of the bundled Colin27 volume as an MSD task in " + task
                        + " (a smoke run, not a benchmark)");
            } else if (!Files.isDirectory(task.resolve("imagesTr")) || !Files.isDirectory(task.resolve("labelsTr"))) {
                throw new InvalidInputException(task + " is not an MSD task folder (no imagesTr/ and labelsTr/)");
            }
            run(out, task);
            return 0;
        } finally {
            if (tmp != null) {
                BenchSupport.deleteTree(tmp);
            }
        }
    }

    private StudySpec studySpec(Path task) throws IOException {
        Path f = specFile;
        if (f == null) {
            f = DemoData.locate().getParent().resolve("dl4j-gradsurgery-examples/examples/studies/msd-hippocampus-3d.json");
        }
        StudySpec s = StudySpec.read(f, task);
        DataPlan d = s.data();
        if (!(d.source() instanceof DataPlan.Msd) || d.dims() == null || d.dims() != 3 || !d.padsToCommonSize()) {
            throw new InvalidInputException("--spec " + f + ": bench pipeline times the study's 3D recipe and needs "
                    + "an msd source with dims 3 and commonPadding");
        }
        if (peer && (d.cropsToNonzero() || d.spacing() != null || d.intensityOrDefault() != DataPlan.Intensity.ZSCORE
                || d.flipAxes() != null || d.labelGrouping() != null)) {
            throw new InvalidInputException("--spec " + f + ": the PyTorch peer repeats z-scoring over all voxels, "
                    + "flips on every axis and the raw labels; this spec crops, resamples, groups labels or "
                    + "normalises otherwise (run without --peer)");
        }
        return s;
    }

    /** The spec's plan with its split cut to the cases asked for (the rest held out as test cases). */
    private DataPlan plan(StudySpec s, DataSource source, Path task) throws IOException {
        DataPlan.Split given = s.data().split();
        int n = source.caseIds().size();
        int val = validationCases != null ? validationCases
                : given.byCounts() ? given.validationCases() : given.validation().size();
        int train = trainCases != null ? trainCases
                : given.byCounts() ? given.trainingCases() : given.training().size();
        train = Math.min(train, n - val - 1);
        if (train < 1) {
            throw new InvalidInputException(task + " has " + n + " cases: too few for " + val + " validation "
                    + "cases, one training case and one held out");
        }
        return s.data().toBuilder().split(DataPlan.Split.byCounts(train, val, n - train - val, given.seed()))
                .build();
    }

    private void run(PrintWriter out, Path task) throws Exception {
        StudySpec s = studySpec(task);
        LossSpec loss = LossSpec.parse(arm != null ? arm : s.arms().get(0));
        int batchSize = s.training().batchSize();
        out.printf(Locale.ROOT, "bench pipeline: %s, study recipe of %s (%d levels, %d base filters, batch %d, Adam "
                        + "lr %.3g poly %.2g, augment %s), loss %s%n", task, s.name(), s.model().levels(),
                s.model().baseFilters(), batchSize, ((Adam) s.model().updater()).getLearningRate(), s.polyPower(),
                s.data().augmentationOrDefault().specName(), loss.label());
        out.println(BenchSupport.machineLine());
        out.flush();

        DataSource source = DataSources.open(s.data().source());
        DataPlan plan = plan(s, source, task);
        StageTimes times = new StageTimes();
        BenchSupport.Stopwatch loadWatch = BenchSupport.Stopwatch.start();
        // as Study does: one split for every run (seed 0 when the split has none)
        ExperimentData data = ExperimentData.prepare(plan, source, 0, s.model().levels(), null, times);
        out.printf(Locale.ROOT, "loaded and preprocessed %d cases in %.1f s (CPU %.1f s)%n",
                source.caseIds().size(), loadWatch.wallSeconds(), loadWatch.cpuSeconds());
        Map<String, Double> loadStages = times.seconds();
        DataPlan.Split split = data.plan().split();
        out.printf(Locale.ROOT, "split: %d training cases, %d validation cases (of %d); padded size %s%n",
                split.training().size(), split.validation().size(), source.caseIds().size(),
                java.util.Arrays.toString(data.plan().paddedSize()));

        ExperimentSpec run = s.experiment(loss, seed, null, s.training().progress(), data);
        TrainingData td = data.trainingData();
        int batchesPerEpoch = td.batchesPerEpoch(batchSize);
        ComputationGraph net = UNet.builder().from(run.model()).loss(run.loss().create()).build().graph();
        out.printf(Locale.ROOT, "network: %,d parameters; %d batches per epoch%s%n", net.numParams(), batchesPerEpoch,
                maxBatches > 0 ? ", timing at most " + maxBatches : "");
        out.flush();

        if (warmup > 0) {
            MultiDataSetIterator w = td.training(batchSize, seed + 1);
            for (int i = 0; i < warmup && w.hasNext(); i++) {
                net.fit(w.next());
            }
        }
        List<Epoch> epochs = new ArrayList<>();
        epochs.add(epoch(out, "inline", td, net, batchSize, 0, times));
        if (prefetch > 0) {
            epochs.add(epoch(out, "prefetch " + prefetch, td, net, batchSize, prefetch, times));
        }

        CaseEvaluator evaluator = data.evaluator(s.bins(), null);
        times.clear();
        for (String id : split.validation()) {
            org.gradsurgery.data.Sample c = data.preprocessed(id);
            long t0 = System.nanoTime();
            INDArray z = evaluator.logits(net, c);
            times.add(INFERENCE, System.nanoTime() - t0);
            z.close();
        }
        double inferSeconds = times.seconds(INFERENCE);

        Map<String, Double> stages = new LinkedHashMap<>();
        stages.put(ExperimentData.LOAD, loadStages.getOrDefault(ExperimentData.LOAD, 0.0));
        stages.put(ExperimentData.PREPROCESS, loadStages.getOrDefault(ExperimentData.PREPROCESS, 0.0));
        Epoch e0 = epochs.get(0);
        stages.put(ExperimentData.AUGMENT, e0.augmentSeconds());
        stages.put(BATCH, Math.max(0, e0.waitSeconds() - e0.augmentSeconds()));
        stages.put(STEP, e0.stepSeconds());
        stages.put(INFERENCE, inferSeconds);
        printStages(out, "DL4J", stages, split.validation().size(), inferSeconds);
        for (Epoch e : epochs) {
            out.printf(Locale.ROOT, "DL4J epoch (%s): %d batches, %.2f s; step %.2f s, waiting for data %.3f s "
                            + "(%.1f %% of the epoch), augment work %.3f s%n", e.name(), e.batches(), e.wallSeconds(),
                    e.stepSeconds(), e.waitSeconds(), 100 * e.waitShare(), e.augmentSeconds());
        }
        out.println(BenchSupport.memoryLine());
        out.flush();
        if (peer) {
            runPeer(out, task, s, split, epochs, stages);
        }
        out.println(BenchSupport.machineLine() + " (at the end)");
        out.flush();
    }

    /**
     * One epoch (at most {@link #maxBatches} batches) through the study's iterator, prefetched with {@code queue}
     * batches when {@code queue > 0}: wall time, step time, the time {@code hasNext()/next()} kept the loop waiting,
     * and the augment work done meanwhile on whatever thread.
     */
    private Epoch epoch(PrintWriter out, String name, TrainingData td, ComputationGraph net, int batchSize, int queue,
                        StageTimes times) {
        times.clear();
        MultiDataSetIterator it = TrainingData.prefetched(td.training(batchSize, seed), queue);
        int b = 0;
        long wait = 0;
        long step = 0;
        long t0 = System.nanoTime();
        try {
            while (true) {
                long a = System.nanoTime();
                if (maxBatches > 0 && b >= maxBatches || !it.hasNext()) {
                    break;
                }
                MultiDataSet batch = it.next();
                long c = System.nanoTime();
                wait += c - a;
                net.fit(batch);
                step += System.nanoTime() - c;
                b++;
            }
        } finally {
            TrainingData.close(it);
        }
        double wall = (System.nanoTime() - t0) / 1e9;
        Epoch e = new Epoch(name, b, wall, step / 1e9, wait / 1e9, times.seconds(ExperimentData.AUGMENT));
        out.printf(Locale.ROOT, "  epoch (%s): %d batches in %.2f s%n", name, b, wall);
        out.flush();
        return e;
    }

    private static void printStages(PrintWriter out, String who, Map<String, Double> stages, int inferenceCases,
                                    double inferenceSeconds) {
        double total = stages.values().stream().mapToDouble(Double::doubleValue).sum();
        StringBuilder line = new StringBuilder(who).append(" stages (s, share of their sum):");
        for (Map.Entry<String, Double> e : stages.entrySet()) {
            line.append(String.format(Locale.ROOT, " %s %.3f (%.1f %%),", e.getKey(), e.getValue(),
                    100 * e.getValue() / total));
        }
        line.append(String.format(Locale.ROOT, " total %.2f; inference %.2f volumes/s", total,
                inferenceCases / inferenceSeconds));
        out.println(line);
    }

    private void runPeer(PrintWriter out, Path task, StudySpec s, DataPlan.Split split, List<Epoch> epochs,
                         Map<String, Double> ours) throws IOException, InterruptedException {
        int threads = Nd4j.getEnvironment().maxThreads();
        Path plan = Files.createTempFile("gradsurgery-pipeline-plan-", ".json");
        try {
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("task", task.toAbsolutePath().toString());
            p.put("train", split.training());
            p.put("validation", split.validation());
            p.put("levels", s.model().levels());
            p.put("base_filters", s.model().baseFilters());
            p.put("batch", s.training().batchSize());
            p.put("learning_rate", ((Adam) s.model().updater()).getLearningRate());
            p.put("poly_power", s.polyPower());
            p.put("epochs", s.training().epochs());
            p.put("augment", s.data().augmentationOrDefault().specName());
            p.put("max_batches", maxBatches);
            p.put("warmup", warmup);
            p.put("seed", seed);
            p.put("threads", threads);
            new ObjectMapper().writeValue(plan.toFile(), p);
            out.println("running PyTorch (python3 peer_pipeline.py " + plan + ") ...");
            out.flush();
            BenchSupport.PeerResult r = BenchSupport.runPython("peer_pipeline.py", List.of(plan.toString()),
                    Map.of("OMP_NUM_THREADS", Integer.toString(threads)), 7200, "peer_unet.py", "peer_infer.py");
            if (!r.ok()) {
                out.println("PyTorch: not run: " + r.unavailable());
                return;
            }
            JsonNode j = r.json();
            Map<String, Double> stages = new LinkedHashMap<>();
            j.get("stages").fields().forEachRemaining(e -> stages.put(e.getKey(), e.getValue().asDouble()));
            printStages(out, "PyTorch", stages, split.validation().size(), stages.get(INFERENCE));
            out.printf(Locale.ROOT, "PyTorch epoch (inline): %d batches, %.2f s; step %.2f s, waiting for data %.3f s "
                            + "(torch %s, %d threads, loss %s, peak RSS %s)%n", j.get("batches").asInt(),
                    j.get("epoch_s").asDouble(), stages.get(STEP), j.get("wait_s").asDouble(), j.get("torch").asText(),
                    j.get("threads").asInt(), j.get("loss").asText(),
                    BenchSupport.mib(j.get("peak_rss_bytes").asLong()));
            Epoch inline = epochs.get(0);
            Epoch last = epochs.get(epochs.size() - 1);
            double peerEpoch = j.get("epoch_s").asDouble();
            out.printf(Locale.ROOT, "ratio DL4J/PyTorch, same run (> 1: DL4J slower): epoch inline %.2fx, epoch %s "
                            + "%.2fx, step %.2fx, inference %.2fx, load %.2fx, preprocess %.2fx, augment %.2fx%n",
                    inline.wallSeconds() / peerEpoch, last.name(), last.wallSeconds() / peerEpoch,
                    ratio(ours, stages, STEP), ratio(ours, stages, INFERENCE), ratio(ours, stages, ExperimentData.LOAD),
                    ratio(ours, stages, ExperimentData.PREPROCESS), ratio(ours, stages, ExperimentData.AUGMENT));
        } finally {
            Files.deleteIfExists(plan);
        }
    }

    private static double ratio(Map<String, Double> ours, Map<String, Double> theirs, String stage) {
        Double a = ours.get(stage);
        Double b = theirs.get(stage);
        return a == null || b == null || b == 0 ? Double.NaN : a / b;
    }

    /**
     * Writes 8 cases cut from the bundled Colin27 T1 and its deep-grey-matter labels (2 × 2 × 2 blocks of
     * 48 × 48 × 24 voxels) as an MSD task (imagesTr/, labelsTr/, dataset.json) under {@code dir}.
     */
    static Path bundledTask(Path datasets, Path dir) throws IOException {
        Path src = datasets.resolve(org.gradsurgery.data.Datasets.COLIN27_DEEPGM);
        NiftiImage img = Nifti.read(src.resolve("image.nii.gz"));
        NiftiImage lab = Nifti.read(src.resolve("label.nii.gz"));
        INDArray x = img.data(DataType.FLOAT);
        INDArray y = lab.labels().castTo(DataType.FLOAT);
        long[] shape = img.shape();
        Path task = dir.resolve("Task00_Colin27Crops");
        Files.createDirectories(task.resolve("imagesTr"));
        Files.createDirectories(task.resolve("labelsTr"));
        int n = 0;
        List<Map<String, String>> training = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            for (int j = 0; j < 2; j++) {
                for (int k = 0; k < 2; k++) {
                    INDArrayIndex[] box = {NDArrayIndex.interval(i * shape[0] / 2, (i + 1) * shape[0] / 2),
                            NDArrayIndex.interval(j * shape[1] / 2, (j + 1) * shape[1] / 2),
                            NDArrayIndex.interval(k * shape[2] / 2, (k + 1) * shape[2] / 2)};
                    String name = String.format(Locale.ROOT, "colin_%03d.nii.gz", n++);
                    Nifti.write(task.resolve("imagesTr").resolve(name), x.get(box).dup('f'), null);
                    Nifti.write(task.resolve("labelsTr").resolve(name), y.get(box).dup('f'), null,
                            NiftiDataType.UINT8);
                    training.add(Map.of("image", "./imagesTr/" + name, "label", "./labelsTr/" + name));
                }
            }
        }
        Map<String, Object> labels = new LinkedHashMap<>();
        JsonNode classes = new ObjectMapper().readTree(src.resolve("labels.json").toFile()).get("classes");
        for (JsonNode c : classes) {
            labels.put(c.get("id").asText(), c.get("name").asText());
        }
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("name", "Colin27Crops");
        json.put("modality", Map.of("0", "T1"));
        json.put("labels", labels);
        json.put("numTraining", n);
        json.put("training", training);
        new ObjectMapper().writeValue(task.resolve("dataset.json").toFile(), json);
        return task;
    }
}
