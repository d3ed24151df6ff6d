#!/usr/bin/python3
"""Expected per-case Dice, HD95 and ASSD for CaseEvaluatorTest / SegmentationMetricsScipyTest.

Run with Debian's Python (apt-get install python3-scipy python3-numpy):

    /usr/bin/python3 dl4j-gradsurgery/src/test/resources/metrics/make_surface_distances.py

Two cases on the same 20 x 16 x 12 grid but with different voxel spacings; prediction P and reference G are
ellipsoids given by integer inequalities (the Java test builds the same masks):

    G: 4(i-10)^2 + 9(j-8)^2 + 16(k-6)^2 <= 400
    P: 4(i-11)^2 + 9(j-7)^2 + 16(k-6)^2 <= 324   (shifted and smaller)

Surfaces and distances follow MONAI's compute_hausdorff_distance / compute_average_surface_distance:
surface = M xor binary_erosion(M) (cross element, border 0); d(P->G) = EDT of "not surface(G)" with
sampling = spacing, read on surface(P); HD95 = max of the two directed 95th percentiles (numpy linear);
ASSD = mean over both surfaces pooled. Writes surface_distances.json next to this script.
"""
import json
import os

import numpy as np
from scipy.ndimage import binary_erosion, distance_transform_edt

SHAPE = (20, 16, 12)
SPACINGS = {"iso1": (1.0, 1.0, 1.0), "aniso": (2.0, 2.0, 3.0)}


def masks():
    i, j, k = np.indices(SHAPE)
    g = 4 * (i - 10) ** 2 + 9 * (j - 8) ** 2 + 16 * (k - 6) ** 2 <= 400
    p = 4 * (i - 11) ** 2 + 9 * (j - 7) ** 2 + 16 * (k - 6) ** 2 <= 324
    return p, g


def surface(m):
    return m ^ binary_erosion(m, border_value=0)


def main():
    p, g = masks()
    sp, sg = surface(p), surface(g)
    out = {"shape": list(SHAPE), "predictedVoxels": int(p.sum()), "referenceVoxels": int(g.sum()),
           "dice": float(2 * (p & g).sum() / (p.sum() + g.sum())), "cases": {}}
    for name, spacing in SPACINGS.items():
        d_pg = distance_transform_edt(~sg, sampling=spacing)[sp]
        d_gp = distance_transform_edt(~sp, sampling=spacing)[sg]
        out["cases"][name] = {
            "spacing": list(spacing),
            "hd95": float(max(np.percentile(d_pg, 95), np.percentile(d_gp, 95))),
            "assd": float((d_pg.sum() + d_gp.sum()) / (d_pg.size + d_gp.size)),
        }
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "surface_distances.json"), "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")


if __name__ == "__main__":
    main()
