#!/usr/bin/env python3
"""PyTorch + numpy + nibabel side of `gradsurgery bench pipeline --peer`: the study's 3D pipeline on the same cases,
stage by stage, as PipelineBench.java times it.

usage: peer_pipeline.py PLAN.json   (written by PipelineBench: task folder, train/validation ids, recipe, seed)

- load: nib.load(image).get_fdata(float32) and the label map as integers, for every case of imagesTr/ (not hidden),
  as ExperimentData.prepare reads every case of the task;
- preprocess: z-score over all voxels (the spec's dataset has no crop or resampling), then pad each case at the high
  end of every axis to the common size (the largest extent rounded up to a multiple of 2^(levels-1)) with the case's
  minimum, label 0;
- augment ("nnunet-lite", ExperimentData.augmentation): each axis flipped with p 0.5; with p 0.15 x' = a x, a ~ U[0.75, 1.25];
  with p 0.3 gamma g ~ U[0.7, 1.5] on the image's [min, max] range ("flips": flips only; "none": nothing);
- batch: stack `batch` augmented cases of a seeded shuffle and one-hot the labels;
- step: peer_unet.UNet (levels, base filters, instance norm, transposed-conv up: the study's UNet) forward, softmax
  soft Dice, backward, Adam with lr_t = lr (1 - t/T)^power over T = batches per epoch x epochs;
- inference: peer_infer.sliding_window_inference on each validation case padded as above (one window of the padded
  size, Gaussian weights); the study scores a case by one forward pass on it padded so.
The loss is soft Dice whatever the Java arm: the peer times the same work, not the same gradient.
Prints progress on stderr and one JSON object on the last stdout line.
"""
import json
import math
import os
import sys
import time

from peer_unet import UNet, peak_rss_bytes, soft_dice, torch  # answers "unavailable" itself without torch

try:
    import nibabel as nib
    import numpy as np
except ImportError as e:
    print(json.dumps({"unavailable": "nibabel/numpy not importable (%s); on Debian: apt-get install python3-nibabel"
                      % e}))
    sys.exit(0)

from peer_infer import importance_map, sliding_window_inference


def case_file(folder, cid):
    for ext in (".nii.gz", ".nii"):
        p = os.path.join(folder, cid + ext)
        if os.path.isfile(p):
            return p
    raise SystemExit("peer_pipeline: no file for case %s in %s" % (cid, folder))


def all_ids(folder):
    ids = []
    for f in sorted(os.listdir(folder)):
        if f.startswith("."):
            continue
        for ext in (".nii.gz", ".nii"):
            if f.endswith(ext):
                ids.append(f[:-len(ext)])
    return ids


def augment(img, lab, rng, kind):
    if kind == "none":
        return img, lab
    for axis in range(1, img.ndim):  # img [C, D, H, W], lab [D, H, W]
        if rng.random() < 0.5:
            img = np.flip(img, axis)
            lab = np.flip(lab, axis - 1)
    if kind == "nnunet-lite":
        if rng.random() < 0.15:
            img = img * rng.uniform(0.75, 1.25)
        if rng.random() < 0.3:
            g = rng.uniform(0.7, 1.5)
            lo, hi = img.min(), img.max()
            r = hi - lo
            if r > 0:
                img = lo + r * ((img - lo) / r) ** g
    return np.ascontiguousarray(img, dtype=np.float32), np.ascontiguousarray(lab)


def main():
    with open(sys.argv[1]) as f:
        plan = json.load(f)
    torch.set_num_threads(plan["threads"])
    torch.manual_seed(plan["seed"])
    rng = np.random.default_rng(plan["seed"])
    images = os.path.join(plan["task"], "imagesTr")
    labels = os.path.join(plan["task"], "labelsTr")
    stages = {"load": 0.0, "preprocess": 0.0, "augment": 0.0, "batch": 0.0, "step": 0.0, "inference": 0.0}

    cases = {}
    ids = all_ids(images)
    for n, cid in enumerate(ids):
        t0 = time.perf_counter()
        img = nib.load(case_file(images, cid)).get_fdata(dtype=np.float32)
        lab = np.asarray(nib.load(case_file(labels, cid)).dataobj).astype(np.int64)
        t1 = time.perf_counter()
        img = (img - img.mean()) / max(float(img.std()), 1e-8)
        cases[cid] = (img[None].astype(np.float32), lab)
        stages["load"] += t1 - t0
        stages["preprocess"] += time.perf_counter() - t1
        if (n + 1) % 50 == 0:
            print("  peer: loaded %d/%d cases" % (n + 1, len(ids)), file=sys.stderr, flush=True)
    t0 = time.perf_counter()
    multiple = 1 << (plan["levels"] - 1)
    target = [0, 0, 0]
    for img, _ in cases.values():
        target = [max(t, s) for t, s in zip(target, img.shape[1:])]
    target = [int(math.ceil(t / multiple) * multiple) for t in target]
    padded = {}
    for cid, (img, lab) in cases.items():
        pad = [(0, t - s) for t, s in zip(target, img.shape[1:])]
        padded[cid] = (np.pad(img, [(0, 0)] + pad, constant_values=float(img.min())), np.pad(lab, pad))
    stages["preprocess"] += time.perf_counter() - t0
    classes = int(max(int(lab.max()) for _, lab in cases.values())) + 1
    classes = max(classes, 2)

    net = UNet(3, plan["levels"], plan["base_filters"], classes, "instance", "transposed")
    batch = plan["batch"]
    train = plan["train"]
    per_epoch = (len(train) + batch - 1) // batch
    total = per_epoch * plan["epochs"]
    opt = torch.optim.Adam(net.parameters(), lr=plan["learning_rate"])
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda t: max(0.0, 1 - t / total) ** plan["poly_power"])
    net.train()

    def batches(order):
        for i in range(0, len(order), batch):
            t0 = time.perf_counter()
            imgs, labs = [], []
            for cid in order[i:i + batch]:
                img, lab = padded[cid]
                a0 = time.perf_counter()
                img, lab = augment(img, lab, rng, plan["augment"])
                stages["augment"] += time.perf_counter() - a0
                imgs.append(img)
                labs.append(lab)
            x = torch.from_numpy(np.stack(imgs))
            y = torch.nn.functional.one_hot(torch.from_numpy(np.stack(labs)), classes).permute(0, 4, 1, 2, 3).float()
            yield x, y, time.perf_counter() - t0

    def fit(x, y):
        opt.zero_grad(set_to_none=True)
        loss = soft_dice(net(x), y)
        loss.backward()
        opt.step()
        sched.step()

    warm = 0
    for x, y, _ in batches(list(rng.permutation(train))):
        if warm >= plan["warmup"]:
            break
        fit(x, y)
        warm += 1
    for k in ("augment", "batch"):
        stages[k] = 0.0
    wait = 0.0
    done = 0
    t_epoch = time.perf_counter()
    it = batches(list(rng.permutation(train)))
    while plan["max_batches"] <= 0 or done < plan["max_batches"]:
        a = time.perf_counter()
        nxt = next(it, None)
        if nxt is None:
            break
        x, y, _ = nxt
        c = time.perf_counter()
        wait += c - a
        fit(x, y)
        stages["step"] += time.perf_counter() - c
        done += 1
    epoch_s = time.perf_counter() - t_epoch
    stages["batch"] = max(0.0, wait - stages["augment"])
    print("  peer: epoch of %d batches in %.2f s" % (done, epoch_s), file=sys.stderr, flush=True)

    net.eval()
    weights = importance_map(target)
    with torch.no_grad():
        for cid in plan["validation"]:
            img, _ = padded[cid]
            x = torch.from_numpy(img[None])
            t0 = time.perf_counter()
            sliding_window_inference(x, target, net, 0.5, 4, weights)  # one window: the overlap changes nothing
            stages["inference"] += time.perf_counter() - t0
    print(json.dumps({"torch": torch.__version__, "nibabel": nib.__version__, "threads": torch.get_num_threads(),
                      "loss": "soft Dice", "batches": done, "epoch_s": epoch_s, "wait_s": wait, "stages": stages,
                      "cases": len(cases), "padded": target, "peak_rss_bytes": peak_rss_bytes()}))


if __name__ == "__main__":
    main()
