#!/usr/bin/env python3
"""nibabel's side of `gradsurgery bench io`: times nib.load(f).get_fdata() on the given files.

usage: peer_io.py REPETITIONS FILE...
Prints one JSON object on the last stdout line: {"nibabel": ver, "results": {file: {"float32": {...}, "float64": {...}}}}
GRADSURGERY_NUMPY_HUGEPAGE=0 in the environment switches off numpy's madvise(MADV_HUGEPAGE) on large arrays, to
show how much of nibabel's lead on uncompressed files is transparent huge pages (docs/PERFORMANCE.md, "I/O").
Each timing is a fresh nib.load + get_fdata (nibabel caches the array on the image object, so the image is
reloaded every time), after one untimed warm-up read that puts the file in the page cache.
"""
import json
import os
import platform
import statistics
import sys
import time

try:
    import nibabel as nib
    import numpy as np
except ImportError as e:  # the Java side prints this reason and carries on without the peer
    print(json.dumps({"unavailable": "nibabel/numpy not importable (%s); on Debian: apt-get install python3-nibabel" % e}))
    sys.exit(0)


if os.environ.get("GRADSURGERY_NUMPY_HUGEPAGE") == "0":
    np.core.multiarray._set_madvise_hugepage(False)


def read(path, dtype):
    a = nib.load(path).get_fdata(dtype=dtype)
    # get_fdata on an unscaled .nii of the requested dtype returns a lazy np.memmap: nothing is read until used.
    # The Java reader returns materialised voxels, so copy a memmap (that is the read) to compare like with like.
    if isinstance(a, np.memmap) or isinstance(getattr(a, "base", None), np.memmap):
        a = np.array(a)
    return a


def time_read(path, dtype, repetitions):
    read(path, dtype)
    times = []
    cpu = []
    for _ in range(repetitions):
        c0 = time.process_time()
        t0 = time.perf_counter()
        a = read(path, dtype)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        del a
    return {"median_s": statistics.median(times), "min_s": min(times), "median_cpu_s": statistics.median(cpu)}


def main():
    repetitions = int(sys.argv[1])
    results = {}
    for path in sys.argv[2:]:
        print("nibabel: reading %s" % path, file=sys.stderr, flush=True)
        results[path] = {"float32": time_read(path, np.float32, repetitions),
                         "float64": time_read(path, np.float64, repetitions)}
    print(json.dumps({"nibabel": nib.__version__, "numpy": np.__version__,
                      "numpy_hugepage": os.environ.get("GRADSURGERY_NUMPY_HUGEPAGE") != "0",
                      "python": platform.python_version(), "results": results}))


if __name__ == "__main__":
    main()
