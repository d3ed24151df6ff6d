"""Shared helpers for the ``datasets/*/prepare.py`` scripts.

Tooling only: the Java library reads the results, it never runs this code.
Needs Debian's ``python3-nibabel`` and ``python3-numpy`` (``apt-get install -y python3-nibabel python3-numpy``).

Every helper is deterministic: no randomness, no time stamps (nibabel writes ``.nii.gz`` with
gzip mtime 0 and no file name), so re-running a prepare script reproduces the committed bytes.
"""
import hashlib
import json
import os
import shutil
import sys
import tempfile

try:
    import nibabel as nib
    import numpy as np
except ImportError as e:  # pragma: no cover - depends on the host
    sys.exit("prepare: %s. Install Debian's python3-nibabel and python3-numpy "
             "(apt-get install -y python3-nibabel python3-numpy) or set PYTHON=/usr/bin/python3." % e)


def require(path):
    """Return ``path`` if it is a file, otherwise exit naming it."""
    if not os.path.isfile(path):
        sys.exit("prepare: missing source file %s" % path)
    return path


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 16), b""):
            h.update(block)
    return h.hexdigest()


def load(path):
    """(array in file dtype, image) for a NIfTI file."""
    img = nib.load(require(path))
    return np.asanyarray(img.dataobj), img


def centred_box(mask, size, margin_min=0):
    """Start indices of a box of ``size`` centred on the bounding box of ``mask``.

    centre_d = floor((min_d + max_d + 1) / 2), start_d = centre_d - size_d // 2, then shifted
    (clamped) so the box stays inside the array. Exits if the box is larger than the array or
    leaves less than ``margin_min`` voxels around the mask.
    """
    idx = np.argwhere(mask)
    lo, hi = idx.min(0), idx.max(0)
    start = []
    for d, s in enumerate(size):
        c = (int(lo[d]) + int(hi[d]) + 1) // 2
        if s > mask.shape[d]:
            sys.exit("prepare: box %s does not fit in %s on axis %d" % (size, mask.shape, d))
        b = min(max(c - s // 2, 0), mask.shape[d] - s)
        if lo[d] - b < margin_min or (b + s - 1) - hi[d] < margin_min:
            sys.exit("prepare: box %s leaves less than %d voxels around the mask on axis %d"
                     % (size, margin_min, d))
        start.append(b)
    return tuple(start), tuple(int(v) for v in lo), tuple(int(v) for v in hi)


def crop(arr, start, size):
    return arr[tuple(slice(b, b + s) for b, s in zip(start, size))]


def crop_affine(affine, start):
    """Affine of ``arr[start:]``: voxel (0,0,0) of the crop is voxel ``start`` of the source."""
    a = np.array(affine, dtype=np.float64)
    out = a.copy()
    out[:3, 3] = a[:3, :3] @ np.asarray(start, dtype=np.float64) + a[:3, 3]
    return out


def block_affine(affine, factors):
    """Affine of a block-downsampled grid: output voxel i is the block of source voxels
    f*i .. f*i+f-1, whose centre is at source index f*i + (f-1)/2."""
    f = np.asarray(factors, dtype=np.float64)
    m = np.eye(4)
    m[:3, :3] = np.diag(f)
    m[:3, 3] = (f - 1) / 2
    return np.array(affine, dtype=np.float64) @ m


def _blocks(arr, factors):
    for d, f in enumerate(factors):
        if arr.shape[d] % f:
            sys.exit("prepare: axis %d of length %d is not divisible by %d" % (d, arr.shape[d], f))
    shp = []
    for n, f in zip(arr.shape, factors):
        shp += [n // f, f]
    b = arr.reshape(shp)
    nd = len(factors)
    b = b.transpose([2 * i for i in range(nd)] + [2 * i + 1 for i in range(nd)])
    return b.reshape(b.shape[:nd] + (-1,))


def block_mean(arr, factors):
    """Mean over non-overlapping blocks (an anti-aliased downsampling for intensities), float64."""
    return _blocks(arr.astype(np.float64), factors).mean(-1)


def block_majority(labels, factors):
    """Most frequent label in each block; ties go to the smallest label value."""
    b = _blocks(labels, factors)
    values = np.unique(labels)
    counts = np.stack([(b == v).sum(-1) for v in values], axis=-1)
    return values[np.argmax(counts, axis=-1)].astype(labels.dtype)


def save(path, data, affine, dtype, xform_code, descrip):
    """Write ``data`` as NIfTI-1 with sform and qform both set to ``affine`` (same code), so a
    reader that only looks at one of them gets the same geometry."""
    img = nib.Nifti1Image(np.asarray(data).astype(dtype), np.asarray(affine, dtype=np.float64))
    img.header.set_data_dtype(dtype)
    img.set_sform(affine, code=int(xform_code))
    img.set_qform(affine, code=int(xform_code))
    img.header.set_xyzt_units("mm", "sec")
    img.header["descrip"] = descrip.encode("ascii")[:79]
    nib.save(img, path)


def crop_stats(src, source_names, source_shape, factors, ds_shape, start, box, lo, hi, affine, image, label,
               extra=None):
    """The stats.json of a downsampled-and-cropped set: geometry, voxels per raw label code, image range and the
    SHA-256 of the source files. ``extra`` entries follow ``sourceShape``."""
    codes, counts = np.unique(label, return_counts=True)
    stats = {"sourceShape": list(source_shape)}
    stats.update(extra or {})
    stats.update({
        "downsampleFactors": list(factors),
        "downsampledShape": list(ds_shape),
        "cropStart": list(start),
        "cropSize": list(box),
        "brainBoundingBox": {"min": list(lo), "max": list(hi)},
        "spacingMm": [float(np.linalg.norm(affine[:3, d])) for d in range(3)],
        "affine": [[float(v) for v in row] for row in affine],
        "voxelsPerCode": {str(int(c)): int(n) for c, n in zip(codes, counts)},
        "imageRange": [float(image.min()), float(image.max())],
        "sha256Source": {n: sha256(os.path.join(src, n)) for n in source_names}})
    return stats


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=False)
        f.write("\n")


class Output:
    """Builds a dataset folder atomically: files go to a temporary sibling directory, and only
    the generated files are replaced in ``target`` once everything succeeded (READMEs and
    scripts that live beside them are left alone). ``SHA256SUMS`` lists every generated file."""

    def __init__(self, target):
        self.target = os.path.abspath(target)
        os.makedirs(self.target, exist_ok=True)
        self.tmp = tempfile.mkdtemp(prefix=".prepare-", dir=self.target)
        self.files = []

    def path(self, name):
        self.files.append(name)
        return os.path.join(self.tmp, name)

    def commit(self):
        sums = os.path.join(self.tmp, "SHA256SUMS")
        with open(sums, "w") as f:
            for name in sorted(self.files):
                f.write("%s  %s\n" % (sha256(os.path.join(self.tmp, name)), name))
        for name in self.files + ["SHA256SUMS"]:
            os.replace(os.path.join(self.tmp, name), os.path.join(self.target, name))
        shutil.rmtree(self.tmp)
        print("prepare: wrote %s (%s)" % (self.target, ", ".join(sorted(self.files + ["SHA256SUMS"]))))

    def abort(self):
        shutil.rmtree(self.tmp, ignore_errors=True)


def arguments(description, default_source):
    """``prepare.py [SOURCE_DIR] [--out DIR]``: the source defaults to the Debian package path,
    the output to the folder holding the script."""
    import argparse
    p = argparse.ArgumentParser(description=description)
    p.add_argument("source", nargs="?", default=default_source,
                   help="directory holding the source files (default: %(default)s)")
    p.add_argument("--out", default=os.path.dirname(os.path.abspath(sys.modules["__main__"].__file__)),
                   help="output directory (default: the folder of this script)")
    return p.parse_args()


def run(main, target):
    """Run ``main(out)`` against an ``Output`` for ``target``, removing the temporary directory
    if anything fails, so a failed run leaves the previous files untouched."""
    out = Output(target)
    try:
        main(out)
    except BaseException:
        out.abort()
        raise
    out.commit()
