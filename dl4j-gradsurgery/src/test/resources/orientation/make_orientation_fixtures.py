#!/usr/bin/python3
"""One small generated scan stored in three axis orders, for OrientationTest.

Run with Debian's nibabel (apt-get install python3-nibabel python3-numpy):

    /usr/bin/python3 dl4j-gradsurgery/src/test/resources/orientation/make_orientation_fixtures.py

Writes scan_<codes>.nii.gz (float32 image) and scan_<codes>_label.nii.gz (uint8 label) for codes RAS, LPS and
LSA: the RAS volume is generated (a ramp plus an off-centre ellipsoid, anisotropic 1.2 x 1.0 x 2.0 mm voxels); the
other two are nibabel's as_reoriented of it, so they hold the same voxels in another order with an affine that
keeps every voxel's world position. expected.json records nibabel's aff2axcodes and shape of each file as written.
No real data is used.
"""
import gzip
import json
import os
import shutil

import nibabel as nib
import numpy as np
from nibabel.orientations import axcodes2ornt, ornt_transform

HERE = os.path.dirname(os.path.abspath(__file__))
SHAPE = (12, 10, 8)


def save(img, name):
    raw = os.path.join(HERE, name + ".nii")
    nib.save(img, raw)
    with open(raw, "rb") as f, gzip.GzipFile(os.path.join(HERE, name + ".nii.gz"), "wb", mtime=0) as g:
        shutil.copyfileobj(f, g)
    os.remove(raw)


def main():
    i, j, k = np.indices(SHAPE)
    image = (10.0 * i + 3.0 * j + 0.5 * k).astype(np.float32)
    label = ((i - 7) ** 2 / 9.0 + (j - 4) ** 2 / 6.0 + (k - 3) ** 2 / 4.0 <= 1).astype(np.uint8)
    image[label == 1] += 200
    affine = np.array([[1.2, 0, 0, -7.0], [0, 1.0, 0, 3.5], [0, 0, 2.0, 11.0], [0, 0, 0, 1]])
    ras_img = nib.Nifti1Image(image, affine)
    ras_lab = nib.Nifti1Image(label, affine)
    for img in (ras_img, ras_lab):
        img.set_qform(affine, code=1)
        img.set_sform(affine, code=1)
    expected = {}
    for codes in ("RAS", "LPS", "LSA"):
        t = ornt_transform(axcodes2ornt("RAS"), axcodes2ornt(tuple(codes)))
        im = ras_img.as_reoriented(t)
        lb = ras_lab.as_reoriented(t)
        save(im, "scan_" + codes)
        save(lb, "scan_" + codes + "_label")
        written = nib.load(os.path.join(HERE, "scan_" + codes + ".nii.gz"))
        expected[codes] = {"codes": "".join(nib.aff2axcodes(written.affine)), "shape": list(written.shape)}
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump(expected, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
