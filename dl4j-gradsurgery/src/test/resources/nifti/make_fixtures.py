#!/usr/bin/python3
"""Writes the NIfTI test fixtures and nibabel's reading of them (expected.json).

Run from anywhere with Debian's nibabel (apt-get install python3-nibabel python3-numpy):

    /usr/bin/python3 dl4j-gradsurgery/src/test/resources/nifti/make_fixtures.py [--real /work/shared/data]

Every fixture is first written by nibabel, then (where a case needs a header value nibabel would not write,
e.g. scl_slope = 0 or NaN, qfac = 0, an invalid xform code) patched byte-wise, then gzipped (mtime 0, so the
output is reproducible). The expectations are always taken by loading the *final* file with nibabel, so
nibabel, not this script, is the judge. Tests read only the committed files; Python is never needed at test time.

--real DIR also crops two real scans (see README.md next to this script for provenance); without it the
committed crops are left as they are and their expectations are re-derived from the committed files.
"""
import argparse
import gzip
import json
import os
import shutil
import struct
import sys

import nibabel as nib
import numpy as np
from nibabel.openers import ImageOpener

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "files")
SHAPE = (3, 4, 5)
RNG = np.random.default_rng(20260101)

# A rotated, anisotropic, translated affine with det < 0 (qfac = -1 when stored as a qform).
ROT = np.array([[0.0, -1.0, 0.0], [0.8, 0.0, 0.6], [-0.6, 0.0, 0.8]])
AFFINE = np.eye(4)
AFFINE[:3, :3] = ROT @ np.diag([1.5, 2.0, -2.5])
AFFINE[:3, 3] = [-90.25, 12.5, 40.0]
# An sform with shear (not representable as a qform).
SHEAR = np.array([[1.2, 0.1, 0.0, -10.0], [0.0, 0.9, 0.2, 5.0], [0.05, 0.0, 3.0, 7.5], [0, 0, 0, 1]])

expected = []


def values(dtype, n):
    dt = np.dtype(dtype)
    if dt.kind in "iu":
        info = np.iinfo(dt)
        hi = info.max if dt != np.uint64 else np.iinfo(np.int64).max  # labels() needs uint64 < 2^63 here
        v = RNG.integers(info.min, hi, size=n, endpoint=True, dtype=dt)
        v[0], v[1], v[2] = info.min, hi, 0
        if info.min < 0:
            v[3] = -1
        return v
    v = (RNG.standard_normal(n) * 1000).astype(dt)
    finfo = np.finfo(dt)
    v[0], v[1], v[2], v[3] = finfo.max, finfo.tiny / 4, -0.0, -finfo.max  # tiny/4 is subnormal
    v[4], v[5], v[6] = np.nan, np.inf, -np.inf
    return v


def field(hdr_bytes, version, name):
    """(offset, struct code) of a header field."""
    n1 = {"scl_slope": (112, "f"), "scl_inter": (116, "f"), "qform_code": (252, "h"), "sform_code": (254, "h"),
          "pixdim0": (76, "f"), "pixdim1": (80, "f"), "pixdim2": (84, "f"), "pixdim3": (88, "f")}
    n2 = {"scl_slope": (176, "d"), "scl_inter": (184, "d"), "qform_code": (344, "i"), "sform_code": (348, "i"),
          "pixdim0": (104, "d"), "pixdim1": (112, "d"), "pixdim2": (120, "d"), "pixdim3": (128, "d")}
    return (n1 if version == 1 else n2)[name]


def patch_file(path, version, order, patches):
    b = bytearray(open(path, "rb").read())
    for name, value in patches.items():
        off, code = field(b, version, name)
        struct.pack_into(order + code, b, off, value)
    open(path, "wb").write(b)


def gz(path):
    data = open(path, "rb").read()
    with open(path + ".gz", "wb") as f:
        f.write(gzip.compress(data, compresslevel=9, mtime=0))
    os.remove(path)
    return path + ".gz"


def make(name, arr, *, order="<", version=1, pair=False, compress=False, qform=None, sform=None,
         patches=None, extension=None, tags=()):
    """Write one fixture; qform/sform are (affine, code) or None (code 0, nibabel's defaults)."""
    hdr_class = nib.Nifti2Header if version == 2 else nib.Nifti1Header
    img_class = {(1, False): nib.Nifti1Image, (1, True): nib.Nifti1Pair,
                 (2, False): nib.Nifti2Image, (2, True): nib.Nifti2Pair}[(version, pair)]
    if pair:
        hdr_class = nib.nifti2.Nifti2PairHeader if version == 2 else nib.nifti1.Nifti1PairHeader
    hdr = hdr_class(endianness=order)
    img = img_class(arr, None, header=hdr)
    h = img.header
    h.set_data_dtype(arr.dtype)
    h.set_xyzt_units("mm", "sec")
    h["descrip"] = ("fixture " + name).encode()[:80]
    if qform is not None:
        h.set_qform(qform[0], code=qform[1])
    else:
        h.set_qform(None, code=0)
    if sform is not None:
        h.set_sform(sform[0], code=sform[1])
    else:
        h.set_sform(None, code=0)
    if extension is not None:
        h.extensions.append(nib.nifti1.Nifti1Extension("comment", extension))
    base = os.path.join(OUT, name)
    if pair:
        nib.save(img, base + ".hdr")
        header_file, image_file = base + ".hdr", base + ".img"
    else:
        nib.save(img, base + ".nii")
        header_file = image_file = base + ".nii"
    if patches:
        patch_file(header_file, version, order, patches)
    if compress:
        header_file = gz(header_file)
        if pair:
            image_file = gz(image_file)
    record(name, os.path.relpath(header_file, OUT), tags, other=None if not pair else os.path.relpath(image_file, OUT))


def encode_values(a):
    out = []
    for x in a.tolist():
        if isinstance(x, float) and not np.isfinite(x):
            out.append("nan" if np.isnan(x) else ("inf" if x > 0 else "-inf"))
        else:
            out.append(x)
    return out


def record(name, rel, tags, other=None):
    path = os.path.join(OUT, rel)
    img = nib.load(path)
    h = img.header
    # nibabel's loaded header has scl_slope/scl_inter reset to NaN (the proxy holds them): read the stored ones
    with ImageOpener(img.file_map.get("header", img.file_map["image"]).filename) as fobj:
        stored = img.header_class.from_fileobj(fobj, check=False)
    e = {"name": name, "file": rel, "tags": list(tags), "version": 2 if isinstance(h, nib.Nifti2Header) else 1,
         "byteorder": "big" if h.endianness == ">" else "little", "shape": [int(s) for s in img.shape],
         "datatype": int(h["datatype"]), "affine": img.affine.tolist(),
         "sform": h.get_sform().tolist(), "qform_code": int(h["qform_code"]), "sform_code": int(h["sform_code"]),
         "pixdim": [float(p) for p in h["pixdim"]], "xyzt_units": int(h["xyzt_units"]),
         "descrip": h["descrip"].item().decode("latin-1"),
         "scl_slope": encode_values(np.array([float(stored["scl_slope"])]))[0],
         "scl_inter": encode_values(np.array([float(stored["scl_inter"])]))[0],
         "vox_offset": int(img.dataobj.offset)}
    if other:
        e["other_file"] = other
    try:
        e["qform"] = h.get_qform().tolist()
    except Exception as ex:  # noqa: BLE001 - recorded so the test knows nibabel refused
        e["qform_error"] = str(ex)
    raw = np.asanyarray(img.dataobj.get_unscaled())
    if raw.dtype.names:  # RGB24 / RGBA32: channels on a new last axis
        raw = np.stack([raw[c] for c in raw.dtype.names], axis=-1)
        e["raw"] = encode_values(raw.ravel(order="F"))
        e["raw_shape"] = list(raw.shape)
    else:
        e["raw"] = encode_values(raw.ravel(order="F"))
        e["fdata"] = encode_values(img.get_fdata().ravel(order="F"))
        slope, inter = img.dataobj.slope, img.dataobj.inter
        e["scaled"] = bool(not (slope == 1 and inter == 0))
        e["nib_slope"] = float(slope)
        e["nib_inter"] = float(inter)
    expected.append(e)


def real(src_dir):
    """Small crops of two real scans, written by nibabel with the crop's affine (img.slicer)."""
    crops = [("real_colin27_ch2_crop", os.path.join(src_dir, "colin27", "ch2.nii.gz"),
              (slice(80, 96), slice(100, 116), slice(80, 88))),
             ("real_itk_t1_crop", os.path.join(src_dir, "itk-kmeans", "KmeansTest_T1UCharRaw.nii.gz"),
              (slice(56, 72), slice(56, 72), slice(28, 36)))]
    for name, path, sl in crops:
        img = nib.load(path)
        crop = img.slicer[sl]
        out = nib.Nifti1Image(np.asanyarray(crop.dataobj), crop.affine, header=crop.header)
        nib.save(out, os.path.join(OUT, name + ".nii.gz"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--real", help="the shared data folder holding colin27/ and itk-kmeans/")
    args = ap.parse_args()
    keep = {}
    if os.path.isdir(OUT):
        for f in os.listdir(OUT):
            if f.startswith("real_"):
                keep[f] = open(os.path.join(OUT, f), "rb").read()
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    n = int(np.prod(SHAPE))

    # 1. every datatype x byte order, sform and qform set, no scaling
    for dt in ["uint8", "int8", "int16", "uint16", "int32", "uint32", "int64", "uint64", "float32", "float64"]:
        for order in "<>":
            arr = values(dt, n).astype(np.dtype(dt).newbyteorder("=")).reshape(SHAPE, order="F")
            make(f"dt_{dt}_{'le' if order == '<' else 'be'}", arr, order=order, qform=(AFFINE, 1),
                 sform=(AFFINE, 1), tags=["datatype"])
    big = np.full(SHAPE, np.iinfo(np.uint64).max, dtype=np.uint64, order="F")
    big[1, 0, 0] = 2 ** 63
    big[2, 0, 0] = 7
    make("dt_uint64_above_int64", big, tags=["uint64_big"])
    labels = RNG.integers(0, 6, size=SHAPE).astype(np.float32)
    make("dt_float32_labels", labels, sform=(AFFINE, 2), tags=["float_labels"])

    # 2. scaling: nibabel writes NaN (no scaling); the cases are patched in
    base16 = values("int16", n).reshape(SHAPE, order="F")
    scal = [("scl_int16_2.5_m10", base16, 2.5, -10.0), ("scl_int16_slope0_inter7", base16, 0.0, 7.0),
            ("scl_int16_nan_3", base16, float("nan"), 3.0), ("scl_int16_inf_3", base16, float("inf"), 3.0),
            ("scl_int16_1_0", base16, 1.0, 0.0), ("scl_int16_1_5", base16, 1.0, 5.0),
            ("scl_int16_0.1_0", base16, 0.1, 0.0),
            ("scl_uint8_m0.5_100", values("uint8", n).reshape(SHAPE, order="F"), -0.5, 100.0),
            ("scl_int32_3_1", values("int32", n).reshape(SHAPE, order="F"), 3.0, 1.0),
            ("scl_float32_2_1", (RNG.standard_normal(SHAPE) * 50).astype(np.float32), 2.0, 1.0),
            ("scl_float64_0.25_m3", RNG.standard_normal(SHAPE) * 50, 0.25, -3.0)]
    for name, arr, s, i in scal:
        make(name, arr, sform=(AFFINE, 1), patches={"scl_slope": s, "scl_inter": i}, tags=["scaling"])
    make("scl_int16_be_2.5_m10", base16, order=">", sform=(AFFINE, 1),
         patches={"scl_slope": 2.5, "scl_inter": -10.0}, tags=["scaling"])
    make("scl_nifti2_int16_0.1_0.3", base16, version=2, sform=(AFFINE, 1),
         patches={"scl_slope": 0.1, "scl_inter": 0.3}, tags=["scaling"])

    # 3. form codes
    small = values("int16", n).reshape(SHAPE, order="F")
    make("form_sform_only", small, sform=(SHEAR, 2), tags=["form"])
    make("form_qform_only", small, qform=(AFFINE, 1), tags=["form"])
    make("form_both_sform_wins", small, qform=(AFFINE, 1), sform=(SHEAR, 4), tags=["form"])
    make("form_template_code5", small, sform=(SHEAR, 5), tags=["form"])
    make("form_none", small, patches={"pixdim1": 2.0, "pixdim2": 3.0, "pixdim3": 4.0}, tags=["form"])
    make("form_none_2d", small[:, :, 0], patches={"pixdim1": 0.5, "pixdim2": 0.25}, tags=["form"])
    make("form_qfac0", small, qform=(AFFINE, 1), patches={"pixdim0": 0.0}, tags=["form"])
    make("form_negative_pixdim", small, qform=(AFFINE, 1), patches={"pixdim1": -1.5, "pixdim2": 0.0},
         tags=["form"])
    make("form_invalid_sform_code", small, qform=(AFFINE, 1), sform=(SHEAR, 2), patches={"sform_code": 9},
         tags=["form"])
    make("form_nifti2_qform_only", small, version=2, qform=(AFFINE, 3), tags=["form"])

    # 4. file layouts
    lay = values("int16", n).reshape(SHAPE, order="F")
    geo = dict(qform=(AFFINE, 1), sform=(AFFINE, 1))
    make("layout_nii", lay, tags=["layout"], **geo)
    make("layout_niigz", lay, compress=True, tags=["layout"], **geo)
    make("layout_be_niigz", lay, order=">", compress=True, tags=["layout"], **geo)
    make("layout_pair", lay, pair=True, tags=["layout", "pair"], **geo)
    make("layout_pairgz", lay, pair=True, compress=True, tags=["layout", "pair"], **geo)
    make("layout_extension", lay, extension=b"an extension the reader must skip via vox_offset",
         tags=["layout"], **geo)
    make("layout_nifti2", lay, version=2, tags=["layout"], **geo)
    make("layout_nifti2_niigz", lay, version=2, compress=True, tags=["layout"], **geo)
    make("layout_nifti2_be", lay, version=2, order=">", tags=["layout"], **geo)
    make("layout_nifti2_pair", lay, version=2, pair=True, tags=["layout", "pair"], **geo)

    # 5. 1 to 7 dimensions
    for shape in [(7,), (3, 4), (2, 3, 2, 2), (2, 2, 2, 2, 2), (2, 1, 2, 2, 1, 2), (2, 1, 2, 1, 2, 1, 2)]:
        arr = values("float32", int(np.prod(shape))).reshape(shape, order="F")
        make(f"dims_{len(shape)}d", arr, sform=(AFFINE, 1), tags=["dims"])

    # 6. colour
    rgb = np.zeros((3, 4, 2), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    rgba = np.zeros((3, 4, 2), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1"), ("A", "u1")])
    for a in (rgb, rgba):
        for c in a.dtype.names:
            a[c] = RNG.integers(0, 256, size=a.shape)
    make("rgb24", rgb, sform=(AFFINE, 1), tags=["colour"])
    make("rgba32", rgba, sform=(AFFINE, 1), tags=["colour"])

    # 7. real crops
    if args.real:
        real(args.real)
    else:
        for f, data in keep.items():
            open(os.path.join(OUT, f), "wb").write(data)
    for f in sorted(os.listdir(OUT)):
        if f.startswith("real_") and f.endswith(".nii.gz"):
            record(f[:-len(".nii.gz")], f, ["real"])

    with open(os.path.join(HERE, "expected.json"), "w") as f:  # one fixture per line keeps diffs readable
        f.write('{"nibabel": %s, "numpy": %s, "fixtures": [\n' % (json.dumps(nib.__version__), json.dumps(np.__version__)))
        f.write(",\n".join(json.dumps(e) for e in expected))
        f.write("\n]}\n")
    print(f"{len(expected)} fixtures, nibabel {nib.__version__}", file=sys.stderr)


if __name__ == "__main__":
    main()
