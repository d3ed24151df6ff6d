#!/usr/bin/env python3
"""Rebuild datasets/inia19 from Debian's mricron-data (1.2.20211006+dfsg-4).

Source files (in /usr/share/mricron/templates/ or SOURCE_DIR): inia19-t1-brain.nii.gz (rhesus
macaque T1 template, brain only, 168 x 206 x 128, 0.5 mm, float32) and inia19-NeuroMaps.nii.gz
(NeuroMaps parcellation on the same grid; right-hemisphere codes are left code + 1000).

Derivation (see README.md):
  1. structures: the NUM_STRUCTURES NeuroMaps left/right pairs (c, c + 1000) with the most voxels in
     total (ties to the smaller code); every other code becomes 0;
  2. downsample by 2 on every axis to 1 mm (2 x 2 x 2 block mean for the image, block majority of
     the kept codes for the label, ties to the smaller code);
  3. a 64 x 80 x 64 box centred on the bounding box of the brain (image > 0);
  4. image float32, label int16 with the raw NeuroMaps codes kept; label_map.csv merges each pair
     into one class 1..NUM_STRUCTURES (the Debian package ships no NeuroMaps names).
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import prep  # noqa: E402
from prep import np  # noqa: E402

NUM_STRUCTURES = 4
RIGHT_OFFSET = 1000
FACTORS = (2, 2, 2)
BOX = (64, 80, 64)
MARGIN_MIN = 0


def choose_pairs(atlas):
    codes, counts = np.unique(atlas[atlas > 0], return_counts=True)
    n = dict(zip(codes.tolist(), counts.tolist()))
    pairs = [(n[c] + n[c + RIGHT_OFFSET], c) for c in n if c < RIGHT_OFFSET and c + RIGHT_OFFSET in n]
    pairs.sort(key=lambda t: (-t[0], t[1]))
    return [(c, c + RIGHT_OFFSET, total) for total, c in pairs[:NUM_STRUCTURES]]


def main(out, src):
    t1, t1_img = prep.load(os.path.join(src, "inia19-t1-brain.nii.gz"))
    atlas, at_img = prep.load(os.path.join(src, "inia19-NeuroMaps.nii.gz"))
    if t1.shape != atlas.shape or not np.allclose(t1_img.affine, at_img.affine):
        sys.exit("prepare: the INIA19 T1 and the NeuroMaps atlas are not on the same grid")
    pairs = choose_pairs(atlas)
    keep = [c for left, right, _ in pairs for c in (left, right)]
    kept = np.where(np.isin(atlas, keep), atlas, 0).astype(np.int16)

    img_ds = prep.block_mean(t1, FACTORS)
    lab_ds = prep.block_majority(kept, FACTORS)
    aff_ds = prep.block_affine(t1_img.affine, FACTORS)
    start, lo, hi = prep.centred_box(img_ds > 0, BOX, MARGIN_MIN)
    image = prep.crop(img_ds, start, BOX).astype(np.float32)
    label = prep.crop(lab_ds, start, BOX)
    if int((lab_ds > 0).sum()) != int((label > 0).sum()):
        sys.exit("prepare: the crop cuts off labelled voxels")
    affine = prep.crop_affine(aff_ds, start)
    code = int(t1_img.header["sform_code"]) or int(t1_img.header["qform_code"])
    prep.save(out.path("image.nii.gz"), image, affine, np.float32, code,
              "INIA19 macaque T1, 1 mm block mean, cropped (gradsurgery)")
    prep.save(out.path("label.nii.gz"), label, affine, np.int16, code,
              "INIA19 NeuroMaps, 4 largest L/R pairs, raw codes (gradsurgery)")
    with open(out.path("label_map.csv"), "w") as f:
        f.write("# NeuroMaps code -> class; left code c and right code c+1000 share a class\n")
        f.write("source,target\n0,0\n")
        for cls, (left, right, _) in enumerate(pairs, start=1):
            f.write("%d,%d\n%d,%d\n" % (left, cls, right, cls))
    structures = [{"class": n + 1, "neuroMapsLeft": int(left), "neuroMapsRight": int(right),
                   "sourceVoxels": int(total)} for n, (left, right, total) in enumerate(pairs)]
    prep.write_json(out.path("stats.json"), prep.crop_stats(
        src, ("inia19-t1-brain.nii.gz", "inia19-NeuroMaps.nii.gz"), t1.shape, FACTORS, img_ds.shape,
        start, BOX, lo, hi, affine, image, label, extra={"structures": structures}))


if __name__ == "__main__":
    args = prep.arguments(__doc__.splitlines()[0], "/usr/share/mricron/templates")
    prep.run(lambda out: main(out, args.source), args.out)
