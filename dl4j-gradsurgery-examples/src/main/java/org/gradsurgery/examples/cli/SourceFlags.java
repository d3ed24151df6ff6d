package org.gradsurgery.examples.cli;

import java.nio.file.Path;
import org.gradsurgery.experiment.DataPlan;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;

/**
 * The flags that name a folder of labelled cases (picocli mixin): {@code --msd}, {@code --images}/{@code --labels}
 * (optionally with name patterns) or {@code --manifest}, mapped onto a {@link DataPlan.Source}. {@code train} uses
 * them through {@link UserData}; {@code evaluate} uses them alone, to score a saved model on another folder.
 */
final class SourceFlags {
    @Option(names = "--msd", paramLabel = "DIR",
            description = "Your data: a Medical Segmentation Decathlon task folder (dataset.json, imagesTr/, labelsTr/).")
    Path msd;

    @Option(names = "--images", paramLabel = "DIR",
            description = "Your data: a folder of images (NIfTI or PNG), paired by file name with --labels.")
    Path images;

    @Option(names = "--labels", paramLabel = "DIR", description = "The label folder paired with --images.")
    Path labels;

    @Option(names = "--image-pattern", paramLabel = "PATTERN",
            description = "With --images: image file names, {id} standing for the case id, e.g. {id}_t1.nii.gz "
                    + "(needs --label-pattern).")
    String imagePattern;

    @Option(names = "--label-pattern", paramLabel = "PATTERN",
            description = "With --labels: the label file of case {id}, e.g. {id}_labels.nii.gz.")
    String labelPattern;

    @Option(names = "--manifest", paramLabel = "CSV",
            description = "Your data: a CSV with columns image (or image*, one per channel), label, optional id, mask.")
    Path manifest;

    /**
     * The source the flags name, or null when they name none.
     *
     * @throws CommandLine.ParameterException for contradictory or incomplete flags
     */
    DataPlan.Source source(CommandSpec command) {
        int n = (msd != null ? 1 : 0) + (images != null || labels != null ? 1 : 0) + (manifest != null ? 1 : 0);
        if (n > 1) {
            throw usage(command, "name one data source: --msd DIR, --images DIR --labels DIR, or --manifest CSV");
        }
        if (images != null && labels == null) {
            throw usage(command, "--images needs --labels DIR (the label folder paired by file name)");
        }
        if (labels != null && images == null) {
            throw usage(command, "--labels needs --images DIR");
        }
        if ((imagePattern != null || labelPattern != null) && images == null) {
            throw usage(command, "--image-pattern and --label-pattern go with --images DIR --labels DIR");
        }
        if (msd != null) {
            return new DataPlan.Msd(msd.toString());
        }
        if (images != null) {
            return new DataPlan.Folders(images.toString(), labels.toString(), imagePattern, labelPattern);
        }
        if (manifest != null) {
            return new DataPlan.Manifest(manifest.toString());
        }
        return null;
    }

    private static CommandLine.ParameterException usage(CommandSpec command, String message) {
        return new CommandLine.ParameterException(command.commandLine(), message);
    }
}
