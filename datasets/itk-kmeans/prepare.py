#!/usr/bin/env python3
"""Rebuild datasets/itk-kmeans from Debian's insighttoolkit4-examples (4.13.3withdata-dfsg2-4+deb12u1).

Source files (in /usr/share/doc/insighttoolkit4-examples/examples/Data/ or SOURCE_DIR):
KmeansTest_T1UCharRaw.nii.gz (T1 MRI, 128 x 128 x 62, 2 x 2 x 3 mm, int16) and
KmeansTest_T1RawSkullStrip.nii.gz (skull-strip output: 4, 5, 6 inside the brain, 0 outside).

Derivation (see README.md):
  1. downsample voxel axes 0 and 1 by 2 (2 x 2 block mean for the image, block majority for the
     label, ties to the smaller code), giving 64 x 64 x 62 at 4 x 4 x 3 mm; axis 2 is kept;
  2. a 40 x 40 x 60 box centred on the bounding box of the brain (label > 0);
  3. image float32 (block means of integers are exact in float32), label uint8 with the raw codes
     0/4/5/6; label_map.csv maps 4, 5, 6 -> 1 (brain), the form the Java LabelMap reads.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import prep  # noqa: E402
from prep import np  # noqa: E402

FACTORS = (2, 2, 1)
BOX = (40, 40, 60)
MARGIN_MIN = 0  # the brain reaches slice 60 of 0..61 in the source itself


def main(out, src):
    t1, t1_img = prep.load(os.path.join(src, "KmeansTest_T1UCharRaw.nii.gz"))
    lab, lab_img = prep.load(os.path.join(src, "KmeansTest_T1RawSkullStrip.nii.gz"))
    if t1.shape != lab.shape or not np.allclose(t1_img.affine, lab_img.affine):
        sys.exit("prepare: the T1 and the skull-strip label are not on the same grid")
    img_ds = prep.block_mean(t1, FACTORS)
    lab_ds = prep.block_majority(lab.astype(np.uint8), FACTORS)
    aff_ds = prep.block_affine(t1_img.affine, FACTORS)
    start, lo, hi = prep.centred_box(lab_ds > 0, BOX, MARGIN_MIN)
    image = prep.crop(img_ds, start, BOX).astype(np.float32)
    label = prep.crop(lab_ds, start, BOX)
    affine = prep.crop_affine(aff_ds, start)
    code = int(t1_img.header["sform_code"]) or int(t1_img.header["qform_code"])
    prep.save(out.path("image.nii.gz"), image, affine, np.float32, code,
              "ITK KmeansTest T1, 2x2 block mean, cropped (gradsurgery)")
    prep.save(out.path("label.nii.gz"), label, affine, np.uint8, code,
              "ITK KmeansTest skull strip codes 0/4/5/6 (gradsurgery)")
    with open(out.path("label_map.csv"), "w") as f:
        f.write("# source code -> class (0 background, 1 brain); unlisted codes are an error\n")
        f.write("source,target\n0,0\n4,1\n5,1\n6,1\n")
    prep.write_json(out.path("stats.json"), prep.crop_stats(
        src, ("KmeansTest_T1UCharRaw.nii.gz", "KmeansTest_T1RawSkullStrip.nii.gz"), t1.shape, FACTORS, img_ds.shape,
        start, BOX, lo, hi, affine, image, label))


if __name__ == "__main__":
    args = prep.arguments(__doc__.splitlines()[0], "/usr/share/doc/insighttoolkit4-examples/examples/Data")
    prep.run(lambda out: main(out, args.source), args.out)
