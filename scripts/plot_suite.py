#!/usr/bin/env python3
"""Draws the heat map of a `bestserve evaluate --suite` result: one row per workload, one column
per variant (rate scaling), each cell coloured by the candidate's mean reward minus the best
baseline's (fraction of peak; blue: the candidate is better, red: worse) and labelled with that
difference and the verdict of its paired interval (W win, T tie, L loss). Cells a workload does
not have stay blank.

Reads suite_cells.csv from the suite's output folder and writes one PNG (and an SVG beside it).
Needs matplotlib: run with Debian's /usr/bin/python3.

    /usr/bin/python3 scripts/plot_suite.py runs/suite --out runs/suite/suite_heatmap.png
"""
import argparse
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402

VERDICT_LETTER = {"win": "W", "tie": "T", "loss": "L"}


def read_cells(path):
    """Rows and columns in the order the suite lists them, and {(workload, variant): cell}."""
    workloads, variants, cells = [], [], {}
    try:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = {"workload", "variant", "difference", "verdict", "best_baseline"} - set(reader.fieldnames or [])
            if missing:
                sys.exit(f"plot_suite.py: {path}: not a suite_cells.csv (missing columns {sorted(missing)})")
            for line, row in enumerate(reader, start=2):
                try:
                    difference = float(row["difference"])
                except ValueError:
                    sys.exit(f"plot_suite.py: {path}:{line}: difference '{row['difference']}' is not a number")
                if row["verdict"] not in VERDICT_LETTER:
                    sys.exit(f"plot_suite.py: {path}:{line}: verdict '{row['verdict']}' (expected win, tie or loss)")
                if row["workload"] not in workloads:
                    workloads.append(row["workload"])
                if row["variant"] not in variants:
                    variants.append(row["variant"])
                cells[(row["workload"], row["variant"])] = (difference, row["verdict"], row["best_baseline"])
    except OSError as e:
        sys.exit(f"plot_suite.py: {e}")
    if not cells:
        sys.exit(f"plot_suite.py: {path}: no cells")
    return workloads, variants, cells


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", help="evaluate --suite output folder (holds suite_cells.csv)")
    parser.add_argument("--out", help="PNG to write (default: DIR/suite_heatmap.png)")
    parser.add_argument("--title", default=None, help="figure title (default: the folder's name)")
    args = parser.parse_args()

    workloads, variants, cells = read_cells(os.path.join(args.dir, "suite_cells.csv"))
    # A symmetric colour scale so that white is exactly "no difference".
    span = max(max(abs(d) for d, _, _ in cells.values()), 1e-3)
    grid = [[cells[(w, v)][0] if (w, v) in cells else float("nan") for v in variants] for w in workloads]

    fig, ax = plt.subplots(figsize=(1.3 * len(variants) + 3.5, 0.55 * len(workloads) + 1.8))
    colours = plt.get_cmap("RdBu").copy()
    colours.set_bad("#d9d9d9")  # a cell the workload does not have: grey, not "no difference"
    image = ax.imshow(grid, cmap=colours, vmin=-span, vmax=span, aspect="auto")
    for i, w in enumerate(workloads):
        for j, v in enumerate(variants):
            if (w, v) not in cells:
                continue
            difference, verdict, _ = cells[(w, v)]
            bold = verdict != "tie"
            ax.text(j, i, f"{difference:+.3f}\n{VERDICT_LETTER[verdict]}", ha="center", va="center", fontsize=8,
                    fontweight="bold" if bold else "normal",
                    color="white" if abs(difference) > 0.6 * span else "black")
    ax.set_xticks(range(len(variants)), variants, rotation=30, ha="right")
    ax.set_yticks(range(len(workloads)), workloads)
    wins = sum(1 for _, verdict, _ in cells.values() if verdict == "win")
    ties = sum(1 for _, verdict, _ in cells.values() if verdict == "tie")
    losses = sum(1 for _, verdict, _ in cells.values() if verdict == "loss")
    title = args.title or os.path.basename(os.path.normpath(args.dir))
    ax.set_title(f"{title}: candidate - best baseline (fraction of peak)\n{wins} win, {ties} tie, {losses} loss "
                 "(paired 95% intervals)", fontsize=10)
    fig.colorbar(image, ax=ax, label="mean reward difference")
    fig.tight_layout()
    out = args.out or os.path.join(args.dir, "suite_heatmap.png")
    fig.savefig(out, dpi=130)
    fig.savefig(os.path.splitext(out)[0] + ".svg")
    print(f"plot_suite.py: wrote {out}")


if __name__ == "__main__":
    main()
