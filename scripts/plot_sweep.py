#!/usr/bin/env python3
"""Plots a merged sweep; called by `bestserve sweep plot DIR` (reads DIR/merged.csv only).

Top: a metric (default mean_reward_fraction, "performance" as a fraction of peak) against the
arrival rate, one line per router: the mean over seeds, with a band from the min to the max
over seeds (or +-1 sample sd with --spread sd). One panel per combination of the other axes
(GPU count, workload, ...); --where AXIS=VALUE keeps only matching rows.
Bottom: the model-selection distribution per rate (mean share of requests per model), one
stacked panel per router, for the first panel above (the paper's Figure 2, right).
Needs matplotlib: run with Debian's /usr/bin/python3.

merged.csv layout (sweep/merge.h): index, cell_id, the axis columns, [router], then the
metrics from num_requests on; selection_<model> columns hold each model's share of requests.
"""
import argparse
import csv
import math
import statistics
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402

FIRST_METRIC = "num_requests"
MAX_PANELS = 12


def number(text):
    try:
        return float(text)
    except ValueError:
        return math.nan


def model_columns(columns):
    """The models of selection_<model> columns, leaving out per-task selection_<task>_<model>."""
    suffixes = [c[len("selection_"):] for c in columns if c.startswith("selection_")]
    return [s for s in suffixes if not any(s != m and s.endswith("_" + m) for m in suffixes)]


def band(values, spread):
    mean = statistics.fmean(values)
    if spread == "sd":
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        return mean, mean - sd, mean + sd
    return mean, min(values), max(values)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--csv", required=True, help="merged.csv of a sweep")
    parser.add_argument("--out", required=True, help="PNG to write")
    parser.add_argument("--metric", default="mean_reward_fraction", help="y-axis column")
    parser.add_argument("--x", default="", help="arrival-rate column (default: rate_rps or workload.rate_rps)")
    parser.add_argument("--spread", choices=["minmax", "sd"], default="minmax", help="band over seeds")
    parser.add_argument("--where", action="append", default=[], metavar="AXIS=VALUE", help="keep matching rows")
    parser.add_argument("--title", default="", help="plot title")
    args = parser.parse_args()

    with open(args.csv, newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        rows = list(reader)
    if FIRST_METRIC not in columns or "cell_id" not in columns:
        sys.exit(f"plot_sweep.py: {args.csv} is not a merged sweep table (no cell_id / {FIRST_METRIC} column)")
    axes = columns[columns.index("cell_id") + 1:columns.index(FIRST_METRIC)]
    for condition in args.where:
        key, _, value = condition.partition("=")
        if key not in axes:
            sys.exit(f"plot_sweep.py: --where {condition}: '{key}' is not an axis ({', '.join(axes)})")
        rows = [r for r in rows if r[key] == value]
    if not rows:
        sys.exit(f"plot_sweep.py: no rows to plot in {args.csv}")
    x_col = args.x or next((c for c in ("rate_rps", "workload.rate_rps") if c in axes), "")
    if not x_col or x_col not in columns:
        sys.exit(f"plot_sweep.py: no arrival-rate column (axes: {', '.join(axes)}); pass --x COLUMN")
    if args.metric not in columns:
        sys.exit(f"plot_sweep.py: no column '{args.metric}'")
    facet_axes = [a for a in axes if a not in (x_col, "seed", "router")]
    models = model_columns(columns)

    # facet -> router -> x -> [(metric, [model shares])] over seeds
    data = {}
    for row in rows:
        facet = tuple(row[a] for a in facet_axes)
        point = (number(row[args.metric]), [number(row["selection_" + m]) for m in models])
        data.setdefault(facet, {}).setdefault(row["router"], {}).setdefault(number(row[x_col]), []).append(point)
    facets = list(data)
    if len(facets) > MAX_PANELS:
        print(f"plot_sweep.py: {len(facets)} combinations of {', '.join(facet_axes)}; drawing the first "
              f"{MAX_PANELS} (choose with --where AXIS=VALUE)", file=sys.stderr)
        facets = facets[:MAX_PANELS]
    routers = list(dict.fromkeys(r for f in facets for r in data[f]))

    perf_cols = min(len(facets), 3)
    perf_rows = math.ceil(len(facets) / perf_cols)
    sel_cols = min(len(routers), 4)
    sel_rows = math.ceil(len(routers) / sel_cols) if models else 0
    fig = plt.figure(figsize=(max(9, 4.0 * max(perf_cols, sel_cols)), 4.2 * perf_rows + 2.6 * sel_rows))
    grid = fig.add_gridspec(perf_rows + sel_rows, perf_cols * sel_cols,
                            height_ratios=[1.6] * perf_rows + [1] * sel_rows)
    xs_all = sorted({x for f in facets for r in data[f].values() for x in r})
    log_x = xs_all[0] > 0 and xs_all[-1] / xs_all[0] > 20
    colors = {r: f"C{i % 10}" for i, r in enumerate(routers)}
    seeds = max(len(v) for f in facets for r in data[f].values() for v in r.values())
    spread = "min-max" if args.spread == "minmax" else "+-1 sd"

    for i, facet in enumerate(facets):
        width = sel_cols
        ax = fig.add_subplot(grid[i // perf_cols, (i % perf_cols) * width:(i % perf_cols + 1) * width])
        for router, points in data[facet].items():
            xs = sorted(points)
            stats = [band([p[0] for p in points[x]], args.spread) for x in xs]
            ax.plot(xs, [s[0] for s in stats], marker=".", linewidth=1.5, color=colors[router], label=router)
            ax.fill_between(xs, [s[1] for s in stats], [s[2] for s in stats], color=colors[router], alpha=0.2,
                            linewidth=0)
        if log_x:
            ax.set_xscale("log")
        ax.grid(alpha=0.3)
        ax.set_xlabel(f"arrival rate ({x_col}, requests/s)", fontsize=9)
        ax.set_ylabel(args.metric, fontsize=9)
        ax.set_title(", ".join(f"{a}={v}" for a, v in zip(facet_axes, facet)), fontsize=10)
        if i == 0:
            ax.legend(fontsize=8, loc="best")

    if models:
        facet = facets[0]
        where = ", ".join(f"{a}={v}" for a, v in zip(facet_axes, facet))
        for j, router in enumerate(routers):
            points = data[facet].get(router)
            if not points:
                continue
            width = perf_cols
            sub = fig.add_subplot(grid[perf_rows + j // sel_cols, (j % sel_cols) * width:(j % sel_cols + 1) * width])
            xs = sorted(points)
            shares = [[statistics.fmean(p[1][m] for p in points[x]) for x in xs] for m in range(len(models))]
            sub.stackplot(xs, shares, labels=models, alpha=0.85)
            if log_x:
                sub.set_xscale("log")
            sub.set_ylim(0, 1)
            sub.set_title(f"selection: {router}" + (f"\n{where}" if where else ""), fontsize=9)
            sub.set_xlabel("arrival rate (requests/s)", fontsize=8)
            sub.tick_params(labelsize=7)
            if j % sel_cols == 0:
                sub.set_ylabel("share of requests", fontsize=8)
            if j == 0:
                sub.legend(fontsize=7, loc="lower left")

    fig.suptitle(args.title or f"{args.metric} vs arrival rate: mean over {seeds} seed(s), band {spread}",
                 fontsize=12)
    fig.tight_layout(rect=(0, 0, 1, 0.97))
    fig.savefig(args.out, dpi=110)


if __name__ == "__main__":
    main()
