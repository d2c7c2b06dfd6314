#!/usr/bin/env python3
"""Plots a `bestserve validate` result: CDFs of TTFT, TPOT and E2E (simulated vs measured) and
per-request scatter plots (simulated against measured, with the y = x line).

Reads requests.csv from the validate output folder and writes one PNG. Needs matplotlib: run
with Debian's /usr/bin/python3.

    /usr/bin/python3 scripts/plot_validation.py results/fidelity/vllm-100-1 --out fig.png
"""
import argparse
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402

METRICS = [("ttft", "TTFT (ms)", 1e3), ("tpot", "TPOT (ms)", 1e3), ("e2e", "E2E latency (s)", 1.0)]


def read_pairs(path):
    pairs = {name: ([], []) for name, _, _ in METRICS}
    with open(path, newline="") as f:
        for line, row in enumerate(csv.DictReader(f), start=2):
            for name, _, scale in METRICS:
                measured, simulated = row[f"measured_{name}_s"], row[f"sim_{name}_s"]
                if measured == "" or simulated == "":
                    continue  # undefined on one side (one output token, or rejected)
                try:
                    pairs[name][0].append(float(measured) * scale)
                    pairs[name][1].append(float(simulated) * scale)
                except ValueError:
                    sys.exit(f"plot_validation.py: {path}:{line}: non-numeric {name}")
    return pairs


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("folder", help="validate output folder (holds requests.csv)")
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--title", default="", help="figure title")
    args = parser.parse_args()
    path = os.path.join(args.folder, "requests.csv")
    if not os.path.exists(path):
        sys.exit(f"plot_validation.py: {path} does not exist")
    pairs = read_pairs(path)

    fig, axes = plt.subplots(2, 3, figsize=(14, 8))
    for col, (name, label, _) in enumerate(METRICS):
        measured, simulated = pairs[name]
        cdf = axes[0][col]
        for values, what, style in ((measured, "measured", "-"), (simulated, "simulated", "--")):
            xs = sorted(values)
            ys = [(i + 1) / len(xs) for i in range(len(xs))]
            cdf.step(xs, ys, style, where="post", label=what)
        cdf.set_xlabel(label)
        cdf.set_ylabel("fraction of requests")
        cdf.legend()
        scatter = axes[1][col]
        scatter.scatter(measured, simulated, s=6, alpha=0.6)
        top = max(measured + simulated + [1e-9])
        scatter.plot([0, top], [0, top], color="gray", linewidth=0.8)
        scatter.set_xlabel(f"measured {label}")
        scatter.set_ylabel(f"simulated {label}")
        if top / max(min(measured + simulated + [top]), 1e-9) > 100:
            scatter.set_xscale("log")
            scatter.set_yscale("log")
    if args.title:
        fig.suptitle(args.title)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
