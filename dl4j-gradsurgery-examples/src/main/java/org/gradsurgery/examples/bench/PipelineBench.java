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
import org.gradsurgery.data.Sample;
import org.gradsurgery.data.StageTimes;
import org.gradsurgery.data.Transform;
import org.gradsurgery.data.nifti.Nifti;
import org.gradsurgery.data.nifti.NiftiDataType;
import org.gradsurgery.data.nifti.NiftiImage;
import org.gradsurgery.examples.DemoData;
import org.gradsurgery.loss.LossSpec;
import org.gradsurgery.model.SlidingWindowInference;
import org.gradsurgery.study.Study;
import org.gradsurgery.study.StudyData;
import org.gradsurgery.study.StudySpec;
import org.gradsurgery.study.StudySplit;
import org.gradsurgery.training.TrainingData;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.MultiDataSet;
import org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.ObjectMapper;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code gradsurgery bench pipeline}: where one epoch of the study's 3D training goes, stage by stage, through the
 * study's own code ({@link StudyData#load} for loading and preprocessing, {@link Study#augmentation} and
 * {@link Study#trainingData} for the batches, {@link Study#network} for the U-Net and its Adam + poly schedule,
 * {@link TrainingData#prefetched} for the trainer's prefetching), plus validation by
 * {@link SlidingWindowInference} on the validation cases; with {@code --peer} the same stages in PyTorch + numpy +
 * nibabel ({@code bench/peer_pipeline.py}) in the same invocation.
 *
 * <p>Stages, each a sum of wall time: <b>load</b> (reading every case's image and label files), <b>preprocess</b>
 * (z-score, padding to the common size), <b>augment</b> (the recipe's random transforms, per example),
 * <b>batch</b> (cutting examples and assembling the one-hot batch, without augment), <b>step</b>
 * ({@code net.fit(batch)}: forward, loss, backward, Adam) and <b>inference</b> (sliding window, Gaussian weights,
 * the given overlap, window = the padded training size, on each validation case padded as the study scores it). Shares are of their sum. The epoch is run twice after
 * {@code --warmup} untimed batches: once building batches on the training thread, once with the trainer's prefetch
 * queue, and for each the time the training loop waited for data is printed: with prefetching that wait, not the
 * augment work (done on the background thread), is what the data stages cost the epoch. Compare the two epochs by
 * their waits: their step times differ too (the JIT is still compiling during the first, and a loaded machine
 * stretches either).
 *
 * <p>Without a folder the bundled Colin27 volume ({@code datasets/colin27-deepgm}) is cut into 8 cases of
 * 48×48×24 written as an MSD task to a temporary folder: a check that the code path runs, not a benchmark.
 */
@Command(name = "pipeline", mixinStandardHelpOptions = true,
        description = "One epoch of the study's 3D training on an MSD task, stage by stage (load, preprocess, augment, "
                + "batch, step, sliding-window inference), with and without prefetching; optionally against PyTorch.")
public final class PipelineBench implements Callable<Integer> {

    @Parameters(index = "0", arity = "0..1", paramLabel = "MSD_TASK_DIR", description = "An MSD task folder "
            + "(imagesTr/, labelsTr/, dataset.json). Default: 8 crops of the bundled Colin27 volume (a smoke run).")
    Path folder;

    @Option(names = "--spec", paramLabel = "FILE", description = "Study spec whose network and recipe to use "
            + "(default: the repository's dl4j-gradsurgery-examples/examples/studies/msd-hippocampus-3d.json).")
    Path specFile;

    @Option(names = "--arm", description = "Loss of the trained network (default: the spec's first arm).")
    String arm;

    @Option(names = "--seed", description = "Network and batch seed (default ${DEFAULT-VALUE}).")
    long seed = 1;

    @Option(names = "--train-cases", description = "Training cases (default: the spec's split, at most all cases "
            + "but the validation cases and one).")
    Integer trainCases;

    @Option(names = "--validation-cases", description = "Cases for sliding-window inference (default: the spec's "
            + "validation count).")
    Integer validationCases;

    @Option(names = "--max-batches", description = "Timed batches per epoch, 0 = the whole epoch (default "
            + "${DEFAULT-VALUE}).")
    int maxBatches = 0;

    @Option(names = "--warmup", description = "Untimed batches before the timed epochs (default ${DEFAULT-VALUE}).")
    int warmup = 2;

    @Option(names = "--prefetch", description = "Prefetch queue of the second epoch; 0 = run only the inline epoch "
            + "(default: the trainer's, ${DEFAULT-VALUE}).")
    int prefetch = org.gradsurgery.data.SegmentationDataSetIterator.DEFAULT_PREFETCH;

    @Option(names = "--overlap", description = "Sliding-window overlap in [0, 1) (default ${DEFAULT-VALUE}).")
    double overlap = 0.5;

    @Option(names = "--smoke", description = "CI size: at most 4 training cases, 1 validation case, 1 batch per "
            + "epoch, no warm-up.")
    boolean smoke;

    @Option(names = "--peer", description = "Also run bench/peer_pipeline.py (PyTorch + nibabel) on the same cases.")
    boolean peer;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    static final String AUGMENT = "augment";
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
        if (maxBatches < 0 || warmup < 0 || prefetch < 0) {
            throw new org.gradsurgery.InvalidInputException("--max-batches, --warmup and --prefetch must be >= 0, got "
                    + maxBatches + ", " + warmup + ", " + prefetch);
        }
        if (!(overlap >= 0 && overlap < 1)) {
            throw new org.gradsurgery.InvalidInputException("--overlap must be in [0, 1), got " + overlap);
        }
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
                throw new org.gradsurgery.InvalidInputException(task + " is not an MSD task folder (no imagesTr/ and "
                        + "labelsTr/)");
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
        StudySpec s = StudySpec.read(f).withDataFolder(task);
        if (s.dataset().msd() == null || s.dataset().dims() != 3) {
            throw new org.gradsurgery.InvalidInputException("--spec " + f + ": bench pipeline needs a 3D msd dataset "
                    + "spec");
        }
        return s;
    }

    private void run(PrintWriter out, Path task) throws Exception {
        StudySpec s = studySpec(task);
        StudySpec.Recipe recipe = s.recipe();
        LossSpec loss = LossSpec.parse(arm != null ? arm : s.arms().get(0));
        out.printf(Locale.ROOT, "bench pipeline: %s, study recipe of %s (%d levels, %d base filters, batch %d, Adam "
                        + "lr %.3g poly %.2g, augment %s), loss %s%n", task, s.name(), s.network().levels(),
                s.network().baseFilters(), recipe.batchSize(), recipe.learningRate(), recipe.polyPower(),
                recipe.augment(), loss.label());
        out.println(BenchSupport.machineLine());
        out.flush();

        StageTimes times = new StageTimes();
        BenchSupport.Stopwatch loadWatch = BenchSupport.Stopwatch.start();
        StudyData data = StudyData.load(s.dataset(), s.network().levels(), null, null, times);
        out.printf(Locale.ROOT, "loaded and preprocessed %d cases in %.1f s (CPU %.1f s)%n", data.cases().size(),
                loadWatch.wallSeconds(), loadWatch.cpuSeconds());
        Map<String, Double> loadStages = times.seconds();
        List<String> ids = new ArrayList<>(data.cases().keySet());
        int val = validationCases != null ? validationCases : s.split().validation();
        int train = trainCases != null ? trainCases : s.split().train();
        if (val < 1 || train < 1) {
            throw new org.gradsurgery.InvalidInputException("--train-cases and --validation-cases must be >= 1, got "
                    + train + " and " + val);
        }
        train = Math.min(train, ids.size() - val - 1);
        if (train < 1) {
            throw new org.gradsurgery.InvalidInputException(task + " has " + ids.size() + " cases: too few for "
                    + val + " validation cases, one training case and one held out");
        }
        StudySplit split = StudySplit.draw(ids, train, val, ids.size() - train - val, s.split().seed());
        List<Sample> trainSamples = Study.samples(data.select(split.train()));
        List<StudyData.StudyCase> valCases = data.select(split.validation());
        int[] padded = trainSamples.get(0).shape();
        out.printf(Locale.ROOT, "split: %d training cases, %d validation cases (of %d); padded size %s%n", train, val,
                ids.size(), java.util.Arrays.toString(padded));

        Transform aug = times.timed(AUGMENT, Study.augmentation(recipe.augment()));
        TrainingData td = Study.trainingData(data, trainSamples, List.of(), aug);
        int batchesPerEpoch = td.batchesPerEpoch(recipe.batchSize());
        ComputationGraph net = Study.network(s, data, trainSamples.get(0).channels(), loss, seed,
                (long) batchesPerEpoch * recipe.epochs());
        out.printf(Locale.ROOT, "network: %,d parameters; %d batches per epoch%s%n", net.numParams(), batchesPerEpoch,
                maxBatches > 0 ? ", timing at most " + maxBatches : "");
        out.flush();

        if (warmup > 0) {
            MultiDataSetIterator w = td.training(recipe.batchSize(), seed + 1);
            for (int i = 0; i < warmup && w.hasNext(); i++) {
                net.fit(w.next());
            }
        }
        List<Epoch> epochs = new ArrayList<>();
        epochs.add(epoch(out, "inline", td, net, recipe.batchSize(), 0, times));
        if (prefetch > 0) {
            epochs.add(epoch(out, "prefetch " + prefetch, td, net, recipe.batchSize(), prefetch, times));
        }

        SlidingWindowInference swi = SlidingWindowInference.builder().patchSize(padded).overlap(overlap).build();
        times.clear();
        for (StudyData.StudyCase c : valCases) {
            INDArray x = c.padded().image();    // padded as the study scores a case: one window at this patch
            INDArray in = x.reshape(prepend(1, x.shape()));
            long t0 = System.nanoTime();
            INDArray p = swi.predict(net, in);
            times.add(INFERENCE, System.nanoTime() - t0);
            p.close();
        }
        double inferSeconds = times.seconds(INFERENCE);

        Map<String, Double> stages = new LinkedHashMap<>();
        stages.put(StudyData.LOAD, loadStages.getOrDefault(StudyData.LOAD, 0.0));
        stages.put(StudyData.PREPROCESS, loadStages.getOrDefault(StudyData.PREPROCESS, 0.0));
        Epoch e0 = epochs.get(0);
        stages.put(AUGMENT, e0.augmentSeconds());
        stages.put(BATCH, Math.max(0, e0.waitSeconds() - e0.augmentSeconds()));
        stages.put(STEP, e0.stepSeconds());
        stages.put(INFERENCE, inferSeconds);
        printStages(out, "DL4J", stages, val, inferSeconds);
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
        Epoch e = new Epoch(name, b, wall, step / 1e9, wait / 1e9, times.seconds(AUGMENT));
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

    private void runPeer(PrintWriter out, Path task, StudySpec s, StudySplit split, List<Epoch> epochs,
                         Map<String, Double> ours) throws IOException, InterruptedException {
        int threads = Nd4j.getEnvironment().maxThreads();
        Path plan = Files.createTempFile("gradsurgery-pipeline-plan-", ".json");
        try {
            Map<String, Object> p = new LinkedHashMap<>();
            p.put("task", task.toAbsolutePath().toString());
            p.put("train", split.train());
            p.put("validation", split.validation());
            p.put("levels", s.network().levels());
            p.put("base_filters", s.network().baseFilters());
            p.put("batch", s.recipe().batchSize());
            p.put("learning_rate", s.recipe().learningRate());
            p.put("poly_power", s.recipe().polyPower());
            p.put("epochs", s.recipe().epochs());
            p.put("augment", s.recipe().augment());
            p.put("max_batches", maxBatches);
            p.put("warmup", warmup);
            p.put("overlap", overlap);
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
                    ratio(ours, stages, STEP), ratio(ours, stages, INFERENCE), ratio(ours, stages, StudyData.LOAD),
                    ratio(ours, stages, StudyData.PREPROCESS), ratio(ours, stages, AUGMENT));
        } finally {
            Files.deleteIfExists(plan);
        }
    }

    private static double ratio(Map<String, Double> ours, Map<String, Double> theirs, String stage) {
        Double a = ours.get(stage);
        Double b = theirs.get(stage);
        return a == null || b == null || b == 0 ? Double.NaN : a / b;
    }

    /** {@code [n, shape...]}. */
    static long[] prepend(long n, long[] shape) {
        long[] s = new long[shape.length + 1];
        s[0] = n;
        System.arraycopy(shape, 0, s, 1, shape.length);
        return s;
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
        json.put("labels", labels);
        json.put("numTraining", n);
        new ObjectMapper().writeValue(task.resolve("dataset.json").toFile(), json);
        return task;
    }
}
