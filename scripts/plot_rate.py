#!/usr/bin/env python3
"""Plots a workload's arrival rate over time; called by `bestserve workload stats --plot`.

Reads CSV rows `bin_s,t_s,rate_rps` (one series per bin size) from stdin or --csv and draws
each series as requests/s over time into a PNG. Needs matplotlib: run with Debian's
/usr/bin/python3 (the default of `--python` in the CLI).
"""
import argparse
import csv
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--csv", help="series CSV (default: stdin)")
    parser.add_argument("--title", default="", help="plot title")
    args = parser.parse_args()

    stream = open(args.csv, newline="") if args.csv else sys.stdin
    series = {}
    for row in csv.DictReader(stream):
        bin_s = float(row["bin_s"])
        series.setdefault(bin_s, ([], []))
        series[bin_s][0].append(float(row["t_s"]))
        series[bin_s][1].append(float(row["rate_rps"]))
    if not series:
        sys.exit("plot_rate.py: no rows to plot")

    fig, ax = plt.subplots(figsize=(10, 4))
    for i, bin_s in enumerate(sorted(series)):
        t, rate = series[bin_s]
        # Fine bins faint and thin, coarse bins bold: the coarse line is the "rate", the fine
        # one shows the noise around it.
        ax.step(t, rate, where="post", linewidth=0.5 if i == 0 else 1.8,
                alpha=0.45 if i == 0 else 1.0, label=f"{bin_s:g} s bins")
    ax.set_xlabel("time (s)")
    ax.set_ylabel("arrival rate (requests/s)")
    ax.set_title(args.title)
    ax.legend(loc="upper right")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(args.out, dpi=120)


if __name__ == "__main__":
    main()
