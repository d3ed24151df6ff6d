#!/usr/bin/env python3
"""PyTorch side of `gradsurgery bench unet --peer`: the same U-Net as org.gradsurgery.model.UNet builds for the
benchmark (BenchUNets.java), trained the same way.

Per level two blocks of 3x3(x3) conv (padding 1, bias) -> norm -> ReLU; 2x2(x2) max-pool down; 2x2(x2) stride-2
transposed conv (or nearest x2 upsample + 3x3(x3) conv) up; concatenation [up, skip]; 1x1(x1) conv to the
classes; softmax + soft Dice (per sample and class, smooth 1e-5, mean: LossDice's SAMPLE reduction); Adam(1e-3);
float32. 2D: 4 levels, 16 base filters, batch norm, 1x128x128. 3D: 3 levels, 8 base filters, no norm, 1x64^3.

Prints progress on stderr and one JSON object on the last stdout line.
"""
import argparse
import json
import resource
import statistics
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:
    print(json.dumps({"unavailable": "torch not importable (%s); on Debian: apt-get install python3-torch" % e}))
    sys.exit(0)


def conv(dims, cin, cout, k):
    c = nn.Conv3d if dims == 3 else nn.Conv2d
    return c(cin, cout, k, padding=k // 2)


def norm(dims, kind, ch):
    if kind == "batch":
        return (nn.BatchNorm3d if dims == 3 else nn.BatchNorm2d)(ch, momentum=0.1)
    if kind == "instance":
        return (nn.InstanceNorm3d if dims == 3 else nn.InstanceNorm2d)(ch, affine=True)
    return nn.Identity()


class Block(nn.Sequential):
    def __init__(self, dims, kind, cin, cout):
        super().__init__(conv(dims, cin, cout, 3), norm(dims, kind, cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    def __init__(self, dims, levels, base, classes, kind, upsampling):
        super().__init__()
        self.dims = dims
        self.enc = nn.ModuleList()
        cin = 1
        for l in range(levels):
            f = base << l
            self.enc.append(nn.Sequential(Block(dims, kind, cin, f), Block(dims, kind, f, f)))
            cin = f
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for l in range(levels - 2, -1, -1):
            f = base << l
            if upsampling == "transposed":
                t = nn.ConvTranspose3d if dims == 3 else nn.ConvTranspose2d
                self.up.append(t(cin, f, 2, stride=2))
            else:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), conv(dims, cin, f, 3)))
            self.dec.append(nn.Sequential(Block(dims, kind, 2 * f, f), Block(dims, kind, f, f)))
            cin = f
        self.head = conv(dims, cin, classes, 1)
        self.pool = nn.MaxPool3d(2) if dims == 3 else nn.MaxPool2d(2)

    def forward(self, x):
        skips = []
        for i, e in enumerate(self.enc):
            if i > 0:
                x = self.pool(x)
            x = e(x)
            skips.append(x)
        for up, dec, skip in zip(self.up, self.dec, reversed(skips[:-1])):
            x = dec(torch.cat([up(x), skip], dim=1))
        return self.head(x)


def soft_dice(logits, target, smooth=1e-5):
    p = torch.softmax(logits, dim=1)
    axes = tuple(range(2, p.dim()))
    inter = (p * target).sum(axes)
    den = p.sum(axes) + target.sum(axes)
    return (1 - (2 * inter + smooth) / (den + smooth)).mean()


def peak_rss_bytes():
    """VmHWM of this process. Not ru_maxrss: Linux carries the parent's high-water mark across fork + exec, so a
    child of a 600 MB JVM would report at least 600 MB."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dims", type=int, default=2)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--size", type=int, default=None)
    ap.add_argument("--shape", default=None, help="spatial extent, comma-separated (overrides --size)")
    ap.add_argument("--iterations", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--norm", default=None, choices=["batch", "instance", "none"])
    ap.add_argument("--upsampling", default="transposed", choices=["transposed", "upsample"])
    ap.add_argument("--format", default="NCHW", choices=["NCHW", "NHWC"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(42)
    levels, base = (3, 8) if a.dims == 3 else (4, 16)
    size = a.size or (64 if a.dims == 3 else 128)
    kind = a.norm or ("none" if a.dims == 3 else "batch")
    net = UNet(a.dims, levels, base, 2, kind, a.upsampling)
    extent = tuple(int(v) for v in a.shape.split(",")) if a.shape else (size,) * a.dims
    if len(extent) != a.dims:
        sys.exit("--shape %s needs %d values" % (a.shape, a.dims))
    shape = (a.batch, 1) + extent
    x = torch.randn(shape)
    fg = (x > 0).float()
    y = torch.cat([1 - fg, fg], dim=1)
    if a.format == "NHWC" and a.dims == 2:
        net = net.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
        y = y.contiguous(memory_format=torch.channels_last)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    net.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = soft_dice(net(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    for i in range(a.warmup):
        t0 = time.perf_counter()
        step()
        print("  torch warm-up %d: %.0f ms" % (i + 1, (time.perf_counter() - t0) * 1e3), file=sys.stderr, flush=True)
    ms = []
    cpu_ms = []
    for i in range(a.iterations):
        c0 = time.process_time()  # all threads of the process, like the Java side's getProcessCpuTime
        t0 = time.perf_counter()
        loss = step()
        ms.append((time.perf_counter() - t0) * 1e3)
        cpu_ms.append((time.process_time() - c0) * 1e3)
        print("  torch iteration %d: %.0f ms, CPU %.0f ms (loss %.4f)" % (i + 1, ms[-1], cpu_ms[-1], loss),
              file=sys.stderr, flush=True)
    print(json.dumps({"torch": torch.__version__, "threads": torch.get_num_threads(),
                      "parameters": sum(p.numel() for p in net.parameters()),
                      "ms": ms, "cpu_ms": cpu_ms, "median_ms": statistics.median(ms),
                      "peak_rss_bytes": peak_rss_bytes()}))


if __name__ == "__main__":
    main()
