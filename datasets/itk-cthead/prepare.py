#!/usr/bin/env python3
"""Rebuild datasets/itk-cthead from the ITK 4.13 test data (Debian source package insighttoolkit4,
4.13.3withdata-dfsg2-4+deb12u1, Apache-2.0).

SOURCE is either a directory holding cthead1.png and cthead1Label.png, or the unpacked ITK source
tree (``apt-get source insighttoolkit4``), where the PNGs are content-addressed objects
``.ExternalData/MD5/<md5>``. Both files are copied byte for byte after their MD5 (the one ITK's
``.md5`` link files name) is checked. No pixel is changed; classes.csv maps the label PNG's grey
values to classes. Python standard library only.
"""
import argparse
import hashlib
import os
import shutil
import sys
import tempfile

FILES = {  # name -> MD5 named by ITK's Examples/Data/<name>.md5
    "cthead1.png": "e395391caad7463c8231bd5f2ce9d61b",
    "cthead1Label.png": "438a214680fa78e79451afa29ab5883b",
}
# grey value in cthead1Label.png -> class, name. The label is a watershed result: 176 is everything
# outside the three cavities and 0 the one-pixel watershed lines between regions (both -> class 0).
# The anatomical names are our reading of the slice, not ITK's.
CLASSES = [
    ("176", 0, "background"),
    ("0", 0, "background"),
    ("92", 1, "middle_cranial_fossa_a"),
    ("94", 2, "posterior_cranial_fossa"),
    ("163", 3, "middle_cranial_fossa_b"),
]


def digest(path, algo):
    h = hashlib.new(algo)
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def locate(src, name, md5):
    for cand in (os.path.join(src, name), os.path.join(src, ".ExternalData", "MD5", md5)):
        if os.path.isfile(cand):
            got = digest(cand, "md5")
            if got != md5:
                sys.exit("prepare: %s has MD5 %s, expected %s" % (cand, got, md5))
            return cand
    sys.exit("prepare: %s not found in %s (neither %s nor .ExternalData/MD5/%s)" % (name, src, name, md5))


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("source", help="directory with the PNGs, or the unpacked insighttoolkit4 source tree")
    p.add_argument("--out", default=here, help="output directory (default: the folder of this script)")
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".prepare-", dir=args.out)
    try:
        names = list(FILES)
        for name, md5 in FILES.items():
            shutil.copyfile(locate(args.source, name, md5), os.path.join(tmp, name))
        with open(os.path.join(tmp, "classes.csv"), "w") as f:
            f.write("# grey value of cthead1Label.png -> class id, class name\n")
            f.write("colour,class,name\n")
            for value, cid, name in CLASSES:
                f.write("%s,%d,%s\n" % (value, cid, name))
        names.append("classes.csv")
        with open(os.path.join(tmp, "SHA256SUMS"), "w") as f:
            for name in sorted(names):
                f.write("%s  %s\n" % (digest(os.path.join(tmp, name), "sha256"), name))
        for name in names + ["SHA256SUMS"]:
            os.replace(os.path.join(tmp, name), os.path.join(args.out, name))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print("prepare: wrote %s" % args.out)


if __name__ == "__main__":
    main()
