#!/usr/bin/env python3
"""Rebuild datasets/colin27-deepgm from Debian's mricron-data (1.2.20211006+dfsg-4).

Source files (in /usr/share/mricron/templates/ or SOURCE_DIR): ch2.nii.gz (Colin27 T1) and
aal.nii.gz (AAL atlas on the same grid and affine).

Derivation (see README.md):
  1. classes: AAL 71/72 -> 1 caudate, 73/74 -> 2 putamen, 75/76 -> 3 pallidum, 77/78 -> 4 thalamus, else 0;
  2. a 96 x 96 x 48 voxel box (1 mm, no resampling) centred on the bounding box of classes 1-4;
  3. image = ch2 cropped, raw uint8 intensities; label = classes cropped, uint8;
  4. affine = source affine with the translation moved to the box origin (sform = qform, code 4 MNI);
  5. validation = the contiguous axial slab k in [20, 29] of the crop; every class must occur in both parts.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tools"))
import prep  # noqa: E402
from prep import np  # noqa: E402

BOX = (96, 96, 48)
MARGIN_MIN = 4
CLASSES = [  # class id, name, AAL indices (left, right), AAL names
    (1, "caudate", (71, 72), ("Caudate_L", "Caudate_R")),
    (2, "putamen", (73, 74), ("Putamen_L", "Putamen_R")),
    (3, "pallidum", (75, 76), ("Pallidum_L", "Pallidum_R")),
    (4, "thalamus", (77, 78), ("Thalamus_L", "Thalamus_R")),
]
AXIS = 2
VAL_FIRST, VAL_LAST = 20, 29


def check_aal_names(src):
    """The AAL index -> name table ships beside the atlas; fail if it disagrees with CLASSES."""
    table = {}
    with open(prep.require(os.path.join(src, "aal.nii.txt"))) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2:
                table[int(parts[0])] = parts[1]
    for _, name, codes, names in CLASSES:
        for c, n in zip(codes, names):
            if table.get(c) != n:
                sys.exit("prepare: aal.nii.txt has %r for index %d, expected %r" % (table.get(c), c, n))


def main(out, src):
    check_aal_names(src)
    t1, t1_img = prep.load(os.path.join(src, "ch2.nii.gz"))
    aal, aal_img = prep.load(os.path.join(src, "aal.nii.gz"))
    if t1.shape != aal.shape or not np.allclose(t1_img.affine, aal_img.affine):
        sys.exit("prepare: ch2.nii.gz and aal.nii.gz are not on the same grid")

    classes = np.zeros(aal.shape, dtype=np.uint8)
    for cid, _, codes, _ in CLASSES:
        classes[np.isin(aal, codes)] = cid

    start, lo, hi = prep.centred_box(classes > 0, BOX, MARGIN_MIN)
    image = prep.crop(t1, start, BOX).astype(np.uint8)
    label = prep.crop(classes, start, BOX)
    affine = prep.crop_affine(t1_img.affine, start)
    code = int(t1_img.header["sform_code"])

    val = np.zeros(BOX[AXIS], dtype=bool)
    val[VAL_FIRST:VAL_LAST + 1] = True
    counts = {"train": {}, "validation": {}}
    for part, sel in (("train", ~val), ("validation", val)):
        sub = label[:, :, sel]
        for cid in range(len(CLASSES) + 1):
            n = int((sub == cid).sum())
            if n == 0:
                sys.exit("prepare: class %d is absent from the %s slices" % (cid, part))
            counts[part][str(cid)] = n

    prep.save(out.path("image.nii.gz"), image, affine, np.uint8, code,
              "Colin27 ch2 T1, cropped (gradsurgery colin27-deepgm)")
    prep.save(out.path("label.nii.gz"), label, affine, np.uint8, code,
              "AAL deep grey matter 5 classes (gradsurgery colin27-deepgm)")
    prep.write_json(out.path("labels.json"), {
        "classes": [{"id": 0, "name": "background", "aal": []}] + [
            {"id": cid, "name": name, "aal": list(codes), "aalNames": list(names)}
            for cid, name, codes, names in CLASSES]})
    prep.write_json(out.path("split.json"), {
        "axis": AXIS,
        "axisName": "k (third voxel axis; inferior to superior, axial slices)",
        "validation": {"firstSlice": VAL_FIRST, "lastSlice": VAL_LAST},
        "train": "every other slice along the axis",
        "numSlices": BOX[AXIS]})
    prep.write_json(out.path("stats.json"), {
        "sourceShape": list(t1.shape),
        "cropStart": list(start),
        "cropSize": list(BOX),
        "foregroundBoundingBox": {"min": list(lo), "max": list(hi)},
        "spacingMm": [float(v) for v in t1_img.header.get_zooms()[:3]],
        "affine": [[float(v) for v in row] for row in affine],
        "voxelsPerClass": counts,
        "imageRange": [int(image.min()), int(image.max())],
        "sha256Source": {
            "ch2.nii.gz": prep.sha256(os.path.join(src, "ch2.nii.gz")),
            "aal.nii.gz": prep.sha256(os.path.join(src, "aal.nii.gz")),
        }})


if __name__ == "__main__":
    args = prep.arguments(__doc__.splitlines()[0], "/usr/share/mricron/templates")
    prep.run(lambda out: main(out, args.source), args.out)
