package org.gradsurgery.examples.cli;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.gradsurgery.study.Study;
import org.gradsurgery.study.StudySpec;
import org.gradsurgery.training.TrainingConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code gradsurgery study --spec FILE --out DIR [--data DIR] [--split FILE] [--smoke]}: a whole comparison of losses
 * with and without the surgery over seeds, resumable, with its report ({@link Study}; docs/STUDY.md).
 */
@Command(name = "study", mixinStandardHelpOptions = true,
        description = {"Runs a study: every arm (loss) x seed of a spec, trained on the same data order, augmentation "
                + "and budget per seed, scored per test case before and after temperature scaling.",
                "Re-running the same command continues: finished runs are skipped, an interrupted run resumes from "
                        + "its checkpoint. Writes study.md, study.csv, PNGs and one folder per run under --out."})
final class StudyCommand implements Callable<Integer> {

    @Option(names = "--spec", required = true, paramLabel = "FILE",
            description = "Study spec (JSON), e.g. dl4j-gradsurgery-examples/examples/studies/synthetic.json.")
    Path specFile;

    @Option(names = "--out", required = true, paramLabel = "DIR", description = "The study folder (created; "
            + "re-use it to resume).")
    Path out;

    @Option(names = "--data", paramLabel = "DIR", description = "The data folder (MSD task folder, or the folder "
            + "of images and labels) of a spec whose msd or folders source names none.")
    Path data;

    @Option(names = "--split", paramLabel = "FILE", description = "A split.json {\"training\": [...], "
            + "\"validation\": [...], \"test\": [...]} of case ids to use instead of drawing one.")
    Path split;

    @Option(names = "--arms", split = ",", paramLabel = "ARM[,ARM...]", description = "Run only these arms of the "
            + "spec (as written there), e.g. the priority ones first; the others can be run into the same --out "
            + "later.")
    java.util.List<String> arms;

    @Option(names = "--seeds", split = ",", paramLabel = "S[,S...]", description = "Run only these seeds of the "
            + "spec; with --arms and a fresh --out (and --split of the original study) one run is retrained alone.")
    java.util.List<Long> seeds;

    @Option(names = "--report", description = "Only write the report from the runs that have finished (nothing is "
            + "trained); safe while the study runs in another process.")
    boolean reportOnly;

    @Option(names = "--smoke", description = "A tiny version of the spec (first seed, 1 epoch, a split by counts cut "
            + "to at most 12/4/8 cases, the known-probability testbed to 24 images) to check that everything runs.")
    boolean smoke;

    @Option(names = "--progress", paramLabel = "auto|bar|plain|off", description = "Training progress display "
            + "(default: auto).")
    TrainingConfig.ProgressMode progress = TrainingConfig.ProgressMode.AUTO;

    @Override
    public Integer call() throws Exception {
        StudySpec s = StudySpec.read(specFile, data);
        if (arms != null) {
            s = s.withArms(arms);
        }
        if (seeds != null) {
            s = s.withSeeds(seeds);
        }
        if (smoke) {
            s = s.smoke();
        }
        // the trainer's progress needs a PrintStream: the console's
        PrintStream o = System.out;
        new Study(s, out, split, o, progress).run(!reportOnly);
        o.flush();
        return 0;
    }
}
