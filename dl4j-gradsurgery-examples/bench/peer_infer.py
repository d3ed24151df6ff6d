#!/usr/bin/env python3
"""PyTorch side of `gradsurgery bench infer --peer`: sliding-window inference of the benchmark 3D U-Net
(peer_unet.UNet, the architecture of BenchUNets.java) on random volumes, MONAI's sliding_window_inference algorithm
written out here so that only torch is needed:

- windows: along an axis of size s >= p, interval i = int(p * (1 - overlap)) (at least 1), n = ceil((s - p) / i) + 1
  windows starting at k * i, the last moved back to end at s (MONAI's _get_scan_interval / dense_patch_slices); an
  axis shorter than p is zero-padded to p and the result cropped back;
- weights: Gaussian importance map w(x) = prod_a exp(-(x_a - c_a)^2 / (2 sigma_a^2)), sigma_a = 0.125 * p_a (MONAI's
  sigma_scale), scaled to max 1, floored at its smallest positive value; the centre c_a = (p_a - 1) / 2 as
  SlidingWindowInference.java (MONAI's GaussianFilter puts it at p_a // 2; the cost is the same);
- stitching: out = sum_w w * softmax(net(window)) / sum_w w, windows_per_pass windows per forward pass
  (MONAI's sw_batch_size); torch.no_grad, eval mode.

Also imported by peer_pipeline.py. Prints progress on stderr and one JSON object on the last stdout line.
"""
import argparse
import json
import math
import statistics
import sys
import time

from peer_unet import UNet, peak_rss_bytes, torch  # peer_unet answers "unavailable" itself when torch is missing


def axis_starts(size, patch, overlap):
    """MONAI's window starts along one axis (size >= patch)."""
    interval = max(1, int(patch * (1 - overlap)))
    n = int(math.ceil((size - patch) / interval)) + 1 if size > patch else 1
    return [min(k * interval, size - patch) for k in range(n)]


def importance_map(patch, sigma_scale=0.125):
    axes = []
    for p in patch:
        c = (p - 1) / 2.0
        sigma = sigma_scale * p
        x = torch.arange(p, dtype=torch.float32)
        axes.append(torch.exp(-(x - c) ** 2 / (2 * sigma * sigma)))
    w = axes[0]
    for a in axes[1:]:
        w = w.unsqueeze(-1) * a
    w = w / w.max()
    return torch.clamp(w, min=w[w > 0].min().item())


def sliding_window_inference(x, patch, net, overlap=0.5, windows_per_pass=4, weights=None):
    """x: [1, C, *spatial] -> [1, K, *spatial] probabilities; returns (probabilities, number of windows)."""
    spatial = list(x.shape[2:])
    pad = []
    for s, p in zip(reversed(spatial), reversed(patch)):
        extra = max(0, p - s)
        pad += [extra // 2, extra - extra // 2]
    if any(pad):
        x = torch.nn.functional.pad(x, pad)
    size = list(x.shape[2:])
    starts = [axis_starts(s, p, overlap) for s, p in zip(size, patch)]
    origins = [(a, b, c) for a in starts[0] for b in starts[1] for c in starts[2]]
    w = importance_map(patch) if weights is None else weights
    out = None
    norm = torch.zeros([1, 1] + size)
    for i in range(0, len(origins), windows_per_pass):
        group = origins[i:i + windows_per_pass]
        batch = torch.cat([x[:, :, o[0]:o[0] + patch[0], o[1]:o[1] + patch[1], o[2]:o[2] + patch[2]]
                           for o in group])
        prob = torch.softmax(net(batch), dim=1)
        if out is None:
            out = torch.zeros([1, prob.shape[1]] + size)
        for j, o in enumerate(group):
            sl = (slice(None), slice(None), slice(o[0], o[0] + patch[0]), slice(o[1], o[1] + patch[1]),
                  slice(o[2], o[2] + patch[2]))
            out[sl] += prob[j:j + 1] * w
            norm[sl] += w
    out = out / norm
    if any(pad):
        lo = pad[::2][::-1]
        out = out[:, :, lo[0]:lo[0] + spatial[0], lo[1]:lo[1] + spatial[1], lo[2]:lo[2] + spatial[2]]
    return out, len(origins)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--patch", type=int, default=64)
    ap.add_argument("--overlap", type=float, default=0.5)
    ap.add_argument("--windows-per-pass", type=int, default=4)
    ap.add_argument("--volumes", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--norm", default="instance", choices=["batch", "instance", "none"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(11)
    net = UNet(3, 3, 8, 2, a.norm, "transposed").eval()
    patch = [a.patch] * 3
    weights = importance_map(patch)
    ms, cpu_ms, windows = [], [], 0
    with torch.no_grad():
        for v in range(-1, a.volumes):
            x = torch.randn(1, 1, a.size, a.size, a.size)
            c0 = time.process_time()
            t0 = time.perf_counter()
            _, windows = sliding_window_inference(x, patch, net, a.overlap, a.windows_per_pass, weights)
            if v >= 0:
                ms.append((time.perf_counter() - t0) * 1e3)
                cpu_ms.append((time.process_time() - c0) * 1e3)
                print("  torch volume %d: %.0f ms, CPU %.0f ms" % (v + 1, ms[-1], cpu_ms[-1]), file=sys.stderr,
                      flush=True)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(), "windows": windows,
                      "ms": ms, "cpu_ms": cpu_ms, "median_ms": statistics.median(ms),
                      "peak_rss_bytes": peak_rss_bytes()}))


if __name__ == "__main__":
    main()
