package org.gradsurgery.examples.cli;

import org.gradsurgery.examples.DemoData;
import java.io.IOException;
import java.nio.file.Path;
import org.gradsurgery.data.LabelMap;
import org.gradsurgery.experiment.DataPlan;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * The data flags (picocli mixin), mapped onto a {@link DataPlan}: which source ({@code --msd}, {@code --images} and
 * {@code --labels}, {@code --manifest}, or without them the bundled Colin27 demo slices found by {@link DemoData}) and
 * how its cases become examples. Every setting left out stays unset in the plan, which the library resolves against
 * the data with its own defaults ({@link org.gradsurgery.experiment.ExperimentData}); what each setting means is
 * documented there and in docs/DATA.md.
 */
final class UserData {
    @Spec(Spec.Target.MIXEE)
    CommandSpec command;

    @Mixin
    SourceFlags files = new SourceFlags();

    @Option(names = "--datasets", paramLabel = "DIR",
            description = "Without your own data: the repository's datasets/ folder holding the Colin27 demo slices "
                    + "(default: -Dgradsurgery.datasets, $GRADSURGERY_DATASETS, or datasets/ in the working directory "
                    + "or a parent).")
    Path datasets;

    @Option(names = "--downsample", paramLabel = "N",
            description = "Demo data only: in-plane downsampling of the Colin27 slices, 1 = 96x96, 2 = 48x48 "
                    + "(default: 1).")
    Integer downsample;

    @Option(names = "--dims", paramLabel = "2|3",
            description = "2 = slices (or 2D images), 3 = random 3D patches + sliding-window evaluation "
                    + "(default: the images' own rank).")
    Integer dims;

    @Option(names = "--patch-size", split = ",", paramLabel = "P[,P,P]", hideParamSyntax = true,
            description = "3D: training patch (and sliding window) in voxels, one edge or three, each divisible by "
                    + "2^(levels-1) (default: " + DataPlan.DEFAULT_PATCH + " = " + DataPlan.DEFAULT_PATCH + "^3).")
    int[] patchSize;

    @Option(names = "--slice-axis", paramLabel = "A",
            description = "2D on volumes: slice along file axis A = 0, 1 or 2 (default: " + DataPlan.DEFAULT_SLICE_AXIS
                    + ").")
    Integer sliceAxis;

    @Option(names = "--patches-per-case", paramLabel = "N",
            description = "3D: random patches per training case and epoch, 1 or more (default: "
                    + DataPlan.DEFAULT_PATCHES_PER_CASE + ").")
    Integer patchesPerCase;

    @Option(names = "--label-map", paramLabel = "CSV",
            description = "Raw label code -> class index (see docs/DATA.md); needed when labels are not 0..K-1.")
    Path labelMap;

    @Option(names = "--classes", paramLabel = "K",
            description = "Number of classes incl. background, 2 or more (default: from --label-map or "
                    + "dataset.json; needed otherwise).")
    Integer classes;

    @Option(names = "--val-fraction", paramLabel = "F",
            description = "Fraction of cases held out for validation and evaluation, in (0, 1), chosen by --seed "
                    + "(default: "
                    + DataPlan.DEFAULT_VALIDATION_FRACTION + ").")
    Double valFraction;

    @Option(names = "--split", paramLabel = "JSON",
            description = "A split file {\"training\": [ids], \"validation\": [ids], \"test\": [ids]} instead of "
                    + "--val-fraction.")
    Path split;

    @Option(names = "--intensity", paramLabel = "zscore|ct|percentile|none",
            description = "Intensity normalisation: zscore = per case over all voxels; ct = nnU-Net's CT scheme (clip "
                    + "to the 0.5/99.5 percentiles of the training cases' foreground, subtract its mean, divide by its "
                    + "std; saved with the run); percentile = per case, clip to its own 0.5/99.5 percentiles, then "
                    + "z-score; none = as stored (default: zscore; the demo data come z-scored).")
    String intensity;

    @Option(names = "--spacing", split = ",", paramLabel = "SX,SY[,SZ]", hideParamSyntax = true,
            description = "Resample every case to this voxel spacing in mm (image linear, label nearest) after "
                    + "normalising; 2 values with --dims 2 on volumes = in-plane, the slice axis keeps each case's "
                    + "own (default: each case's own grid).")
    double[] targetSpacing;

    @Option(names = "--augment", paramLabel = "none|flips|nnunet-lite",
            description = "Training augmentation: flips = each spatial axis mirrored with p 0.5; nnunet-lite = flips, "
                    + "brightness x U[0.75,1.25] (p 0.15) and gamma U[0.7,1.5] (p 0.3) (default: none; the demo data: "
                    + "left-right flips).")
    String augment;

    /**
     * The source the flags name: their own data, else the demo data ({@code --datasets}, {@code --downsample}), else
     * {@code base} (null: the demo data at its defaults).
     */
    DataPlan.Source source(DataPlan.Source base) {
        DataPlan.Source own = files.source(command);
        if (own != null && (downsample != null || datasets != null)) {
            throw usage((downsample != null ? "--downsample" : "--datasets") + " applies to the demo data, not to "
                    + "--msd, --images or --manifest");
        }
        if (own != null) {
            return own;
        }
        if (base != null && downsample == null && datasets == null) {
            return base;
        }
        DataPlan.Colin27 demo = base instanceof DataPlan.Colin27 c ? c : null;
        return new DataPlan.Colin27(datasets == null && demo != null ? demo.datasets()
                : DemoData.locate(datasets, "--datasets").toString(),
                downsample != null ? downsample : demo != null ? demo.downsample() : 1);
    }

    /** The plan these flags describe (every setting not given left to the data or the defaults). */
    DataPlan plan() throws IOException {
        return plan(null);
    }

    /**
     * {@code base} (a run's recorded plan) with the settings of the flags given, the others as {@code base} holds
     * them; with a null {@code base}, {@link #plan()}.
     */
    DataPlan plan(DataPlan base) throws IOException {
        DataPlan.Builder b = base == null ? DataPlan.builder(source(null))
                : base.toBuilder().source(source(base.source()));
        if (dims != null) {
            b.dims(dims);
        }
        if (patchSize != null) {
            b.patchSize(patchSize);
        }
        if (patchesPerCase != null) {
            b.patchesPerCase(patchesPerCase);
        }
        if (sliceAxis != null) {
            b.sliceAxis(sliceAxis);
        }
        if (targetSpacing != null) {
            b.spacing(targetSpacing);
        }
        if (classes != null) {
            b.numClasses(classes);
        }
        if (intensity != null) {
            b.intensity(DataPlan.Intensity.parse(intensity));
        }
        if (augment != null) {
            b.augmentation(DataPlan.Augmentation.parse(augment));
        }
        if (labelMap != null) {
            try {
                b.labelGrouping(LabelMap.read(labelMap).pairs());
            } catch (IllegalArgumentException e) {
                throw usage("--label-map " + labelMap + ": " + e.getMessage());
            }
        }
        if (split != null && valFraction != null) {
            throw usage("--split and --val-fraction exclude each other");
        }
        if (split != null) {
            b.split(DataPlan.Split.read(split));
        } else if (valFraction != null) {
            b.split(DataPlan.Split.byFraction(valFraction, null));
        }
        return b.build();
    }

    private CommandLine.ParameterException usage(String message) {
        return new CommandLine.ParameterException(command.commandLine(), message);
    }
}
