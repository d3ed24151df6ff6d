#!/usr/bin/env python3
"""Summarise a Java Flight Recorder file of a `gradsurgery bench unet` run: where the samples land.

usage: jfr_top.py RECORDING.jfr [TOP]

Uses `jfr print --json` (JDK 17). Two sample kinds matter for DL4J:
  jdk.ExecutionSample     a Java thread running Java code (JVM-side overhead: graph bookkeeping, listeners, ...)
  jdk.NativeMethodSample  a Java thread inside a native method (libnd4j ops; the OpenMP/BLAS worker threads it
                          starts are invisible to JFR, so this counts wall time of the calling thread in native code)
For each kind it prints the top leaf frames, and attributes every sample to the innermost DL4J/ND4J "owner" frame
(a layer, vertex, updater or loss class and method), which says which layer's forward/backward the time is in.
"""
import collections
import json
import subprocess
import sys

OWNERS = ("org.deeplearning4j.nn.layers.", "org.deeplearning4j.nn.graph.vertex.impl.", "org.gradsurgery.",
          "org.nd4j.linalg.learning.", "org.deeplearning4j.nn.updater.", "org.deeplearning4j.optimize.")


def frame_name(f):
    m = f.get("method", {})
    t = m.get("type", {}).get("name", "?")
    return "%s.%s" % (t, m.get("name", "?"))


def main():
    path = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    raw = subprocess.run(["jfr", "print", "--json", "--events", "jdk.ExecutionSample,jdk.NativeMethodSample", path],
                         check=True, capture_output=True, text=True).stdout
    events = json.loads(raw)["recording"]["events"]
    by_kind = collections.defaultdict(list)
    for e in events:
        frames = (e.get("values", {}).get("stackTrace") or {}).get("frames") or []
        by_kind[e["type"]].append([frame_name(f) for f in frames])
    for kind in ("jdk.NativeMethodSample", "jdk.ExecutionSample"):
        stacks = by_kind.get(kind, [])
        print("== %s: %d samples" % (kind, len(stacks)))
        if not stacks:
            continue
        leaf = collections.Counter(s[0] for s in stacks if s)
        print("  top leaf frames:")
        for name, n in leaf.most_common(top):
            print("    %5.1f%%  %s" % (100.0 * n / len(stacks), name))
        owner = collections.Counter()
        for s in stacks:
            o = next((f for f in s if f.startswith(OWNERS)), s[-1] if s else "?")
            owner[o] += 1
        print("  innermost layer/vertex/updater frame:")
        for name, n in owner.most_common(top):
            print("    %5.1f%%  %s" % (100.0 * n / len(stacks), name))


if __name__ == "__main__":
    main()
