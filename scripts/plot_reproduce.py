#!/usr/bin/env python3
"""Draws the figures of a `bestserve reproduce --out DIR` run (reads DIR/figures.json and its CSVs).

For each figure of the manifest, writes DIR/<out>.png and DIR/<out>.svg (folders made as needed;
each file written to a temporary name in its folder, then renamed). Identical inputs give
byte-identical files (fixed svg.hashsalt, no dates or software versions in the metadata).
Needs matplotlib: run with Debian's /usr/bin/python3.

figures.json ("format": "bestserve-reproduce-figures-1"): "banner" (when non-empty, drawn in red
at the top of every figure) and "figures", a list of {"id", "kind", "csv" (relative to DIR),
"out" (relative to DIR, no extension), "title", "xlabel", "ylabel", "log_x", "caption"}.
Kinds and their CSV columns (extra columns are ignored; an empty cell is a missing value):
  lines    panel,series,x,y[,lo,hi]   one panel per `panel`, one line per series, band lo..hi
  stacked  panel,x,category,fraction  stacked shares per x (bars when <= 12 distinct x values)
  trace    series,request,rate_rps,running_total,window_average  (arrival_s is not used)
           running total / windowed average reward per series, and the arrival rate, per request
  bars     panel,series,category,y[,lo,hi]  grouped bars with lo..hi error bars

Exit status: 0 when every selected figure was drawn; 3 when anything was wrong (each problem is
printed as `error: <file>: <what was expected>`; the figures without problems are still drawn).
"""
import argparse
import csv
import json
import math
import os
import sys
import textwrap

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # noqa: E402

FORMAT = "bestserve-reproduce-figures-1"
KINDS = ("lines", "stacked", "trace", "bars")
FORMATS = ("png", "svg")
PNG_DPI = 120
MARKER_LIMIT = 200  # no markers on a series with more points than this
BAR_X_LIMIT = 12  # stacked: bars instead of areas up to this many distinct x values
WINDOW = 20  # requests in the trace's windowed average (as written by bestserve)
# tab10, then tab20's light shades: a fixed palette, colors by order of first appearance.
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94",
           "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"]
LINESTYLES = ["-", "--", ":", "-."]

plt.rcParams["svg.hashsalt"] = "bestserve-reproduce"  # stable ids in the SVG
plt.rcParams["path.simplify"] = True


class InputError(Exception):
    """A problem with an input file: str(self) is '<file>: <what was expected>'."""

    def __init__(self, path, expected):
        super().__init__(f"{path}: {expected}")


def color(i):
    return PALETTE[i % len(PALETTE)]


def linestyle(i):
    return LINESTYLES[(i // len(PALETTE)) % len(LINESTYLES)]


def ordered(values):
    """Distinct values in order of first appearance."""
    return list(dict.fromkeys(values))


# ---------------------------------------------------------------------------------------- input

def load_manifest(directory):
    path = os.path.join(directory, "figures.json")
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except FileNotFoundError:
        raise InputError(path, "a figures manifest (file not found)")
    except OSError as e:
        raise InputError(path, f"a readable figures manifest ({e.strerror})")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InputError(path, f"valid JSON ({e})")
    if not isinstance(manifest, dict):
        raise InputError(path, "a JSON object at the top level")
    if manifest.get("format") != FORMAT:
        raise InputError(path, f'"format": "{FORMAT}" (found {json.dumps(manifest.get("format"))})')
    banner = manifest.get("banner", "")
    if not isinstance(banner, str):
        raise InputError(path, '"banner" to be a string')
    figures = manifest.get("figures")
    if not isinstance(figures, list) or not figures:
        raise InputError(path, 'a non-empty "figures" list')
    seen = set()
    for i, fig in enumerate(figures):
        where = f"figures[{i}]"
        if not isinstance(fig, dict):
            raise InputError(path, f"{where} to be an object")
        for key in ("id", "kind", "csv", "out"):
            if not isinstance(fig.get(key), str) or not fig[key]:
                raise InputError(path, f'{where}: a non-empty string "{key}"')
        where = f'figure "{fig["id"]}"'
        if fig["id"] in seen:
            raise InputError(path, f"{where}: unique figure ids (this one is repeated)")
        seen.add(fig["id"])
        if fig["kind"] not in KINDS:
            raise InputError(path, f'{where}: "kind" one of {", ".join(KINDS)} (found "{fig["kind"]}")')
        for key in ("title", "xlabel", "ylabel", "caption"):
            if not isinstance(fig.get(key, ""), str):
                raise InputError(path, f'{where}: "{key}" to be a string')
        if not isinstance(fig.get("log_x", False), bool):
            raise InputError(path, f'{where}: "log_x" to be true or false')
        for key in ("csv", "out"):
            if os.path.isabs(fig[key]) or ".." in fig[key].replace("\\", "/").split("/"):
                raise InputError(path, f'{where}: "{key}" relative to the output folder, without ".."')
    return banner, figures


def read_csv(path, required, numeric, optional=()):
    """Rows as dicts of the required and optional columns; numeric ones as float (None when empty)."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            columns = reader.fieldnames or []
            missing = [c for c in required if c not in columns]
            if missing:
                raise InputError(path, f"column(s) {', '.join(missing)} (header has: {', '.join(columns) or 'nothing'})")
            keep = list(required) + [c for c in optional if c in columns]
            rows = []
            for row in reader:
                out = {}
                for c in keep:
                    text = (row.get(c) or "").strip()
                    if c in numeric:
                        if text == "":
                            out[c] = None
                        else:
                            try:
                                out[c] = float(text)
                            except ValueError:
                                raise InputError(path, f'line {reader.line_num}: a number in column {c} (found "{text}")')
                    else:
                        out[c] = text
                rows.append(out)
    except FileNotFoundError:
        raise InputError(path, "a CSV data file (file not found)")
    except OSError as e:
        raise InputError(path, f"a readable CSV data file ({e.strerror})")
    except (UnicodeDecodeError, csv.Error) as e:
        raise InputError(path, f"a valid CSV file ({e})")
    if not rows:
        raise InputError(path, "at least one data row (the file has only a header or nothing)")
    return rows


# -------------------------------------------------------------------------------------- drawing

def panel_grid(n, width, height):
    cols = min(2, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(width * cols, height * rows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def set_labels(axes, spec, cols, bottom_only=True):
    """x label on each axes of the bottom row of its column, y label on the first column."""
    n = len(axes)
    for i, ax in enumerate(axes):
        if spec.get("xlabel") and (not bottom_only or i + cols >= n):
            ax.set_xlabel(spec["xlabel"], fontsize=9)
        if spec.get("ylabel") and i % cols == 0:
            ax.set_ylabel(spec["ylabel"], fontsize=9)
        ax.tick_params(labelsize=8)


def unit_ylim(ax, values):
    values = [v for v in values if v is not None and math.isfinite(v)]
    # Fractions of peak read best on a fixed 0..1 scale; small quantities (utility per GPU) would
    # be squashed by it, so they keep matplotlib's own limits from 0.
    if values and min(values) >= 0 and 0.5 < max(values) <= 1.05:
        ax.set_ylim(0, 1.05)
    elif values and min(values) >= 0:
        ax.set_ylim(bottom=0)


def draw_lines(spec, path):
    rows = read_csv(path, ("panel", "series", "x", "y"), {"x", "y", "lo", "hi"}, optional=("lo", "hi"))
    rows = [r for r in rows if r["x"] is not None and r["y"] is not None]
    if not rows:
        raise InputError(path, "at least one row with both x and y")
    panels = ordered(r["panel"] for r in rows)
    series = ordered(r["series"] for r in rows)
    fig, axes = panel_grid(len(panels), 5.4, 3.7)
    handles = {}
    for ax, panel in zip(axes, panels):
        mine = [r for r in rows if r["panel"] == panel]
        for si, name in enumerate(series):
            points = sorted((r for r in mine if r["series"] == name), key=lambda r: r["x"])
            if not points:
                continue
            xs = [p["x"] for p in points]
            marker = "o" if len(points) <= MARKER_LIMIT else None
            (line,) = ax.plot(xs, [p["y"] for p in points], color=color(si), linestyle=linestyle(si),
                              linewidth=1.4, marker=marker, markersize=2.5, label=name)
            handles.setdefault(name, line)
            if any(p.get("lo") is not None and p.get("hi") is not None for p in points):
                nan = float("nan")
                lo = [p["lo"] if p.get("lo") is not None and p.get("hi") is not None else nan for p in points]
                hi = [p["hi"] if p.get("lo") is not None and p.get("hi") is not None else nan for p in points]
                ax.fill_between(xs, lo, hi, color=color(si), alpha=0.18, linewidth=0)
        if spec.get("log_x"):
            ax.set_xscale("log")
        unit_ylim(ax, [v for r in mine for v in (r["y"], r.get("lo"), r.get("hi"))])
        ax.grid(alpha=0.3)
        if panel or len(panels) > 1:
            ax.set_title(panel, fontsize=10)
    set_labels(axes, spec, min(2, len(panels)))
    return fig, [handles[s] for s in series if s in handles], [s for s in series if s in handles]


def number_label(x):
    return f"{x:g}"


def draw_stacked(spec, path):
    rows = read_csv(path, ("panel", "x", "category", "fraction"), {"x", "fraction"})
    rows = [r for r in rows if r["x"] is not None]
    if not rows:
        raise InputError(path, "at least one row with an x value")
    panels = ordered(r["panel"] for r in rows)
    categories = ordered(r["category"] for r in rows)
    xs = sorted({r["x"] for r in rows})
    table = {}
    for r in rows:
        key = (r["panel"], r["x"], r["category"])
        if key in table:
            raise InputError(path, f"one row per (panel, x, category); repeated: {r['panel']!r}, {r['x']:g}, {r['category']!r}")
        table[key] = r["fraction"] or 0.0
    bars = len(xs) <= BAR_X_LIMIT
    fig, axes = panel_grid(len(panels), 5.4, 3.5)
    handles = []
    for pi, (ax, panel) in enumerate(zip(axes, panels)):
        shares = [[table.get((panel, x, c), 0.0) for x in xs] for c in categories]
        if bars:
            positions = list(range(len(xs)))
            bottom = [0.0] * len(xs)
            for ci, (name, values) in enumerate(zip(categories, shares)):
                artist = ax.bar(positions, values, bottom=bottom, width=0.8, color=color(ci), label=name,
                                edgecolor="white", linewidth=0.4)
                bottom = [b + v for b, v in zip(bottom, values)]
                if pi == 0:
                    handles.append(artist)
            ax.set_xticks(positions)
            ax.set_xticklabels([number_label(x) for x in xs], rotation=45 if len(xs) > 6 else 0, fontsize=8)
        else:
            polys = ax.stackplot(xs, shares, colors=[color(ci) for ci in range(len(categories))],
                                 labels=categories, alpha=0.9, linewidth=0)
            if pi == 0:
                handles = list(polys)
            if spec.get("log_x"):
                ax.set_xscale("log")
            ax.set_xlim(xs[0], xs[-1])
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3, axis="y")
        if panel or len(panels) > 1:
            ax.set_title(panel, fontsize=10)
    set_labels(axes, spec, min(2, len(panels)))
    return fig, handles, categories


def draw_trace(spec, path):
    numeric = {"request", "rate_rps", "running_total", "window_average"}
    rows = read_csv(path, ("series", "request", "rate_rps", "running_total", "window_average"), numeric)
    rows = [r for r in rows if r["request"] is not None]
    if not rows:
        raise InputError(path, "at least one row with a request index")
    series = ordered(r["series"] for r in rows)
    fig, axes = plt.subplots(3, 1, sharex=True, figsize=(11, 8.2), gridspec_kw={"height_ratios": [1.2, 1.2, 0.8]})
    top, middle, bottom = axes
    handles = []
    window_values = []
    for si, name in enumerate(series):
        points = sorted((r for r in rows if r["series"] == name), key=lambda r: r["request"])
        total = [(p["request"], p["running_total"]) for p in points if p["running_total"] is not None]
        window = [(p["request"], p["window_average"]) for p in points if p["window_average"] is not None]
        window_values += [w for _, w in window]
        style = dict(color=color(si), linestyle=linestyle(si), linewidth=1.1, label=name)
        (line,) = top.plot([t[0] for t in total], [t[1] for t in total], **style)
        middle.plot([w[0] for w in window], [w[1] for w in window], alpha=0.85, **style)
        handles.append(line)
        if si == 0:
            rate = [(p["request"], p["rate_rps"]) for p in points if p["rate_rps"] is not None]
    if not rate:
        raise InputError(path, f"rate_rps values for the first series ({series[0]!r})")
    bottom.plot([r[0] for r in rate], [r[1] for r in rate], color="#444444", linewidth=1.0)
    positive = [r[1] for r in rate if r[1] > 0]
    if positive and max(positive) / min(positive) > 20:
        bottom.set_yscale("log")
        bottom.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        bottom.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        bottom.yaxis.set_minor_formatter(NullFormatter())
    top.set_title("running total reward", fontsize=10)
    middle.set_title(f"windowed average reward (fraction of peak, last {WINDOW} requests)", fontsize=10)
    bottom.set_title("arrival rate (requests/s)", fontsize=10)
    unit_ylim(middle, window_values)
    if spec.get("ylabel"):
        top.set_ylabel(spec["ylabel"], fontsize=9)
    bottom.set_xlabel(spec.get("xlabel") or "request", fontsize=9)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    if spec.get("log_x"):
        bottom.set_xscale("log")
    return fig, handles, series


def draw_bars(spec, path):
    rows = read_csv(path, ("panel", "series", "category", "y"), {"y", "lo", "hi"}, optional=("lo", "hi"))
    rows = [r for r in rows if r["y"] is not None]
    if not rows:
        raise InputError(path, "at least one row with a y value")
    panels = ordered(r["panel"] for r in rows)
    series = ordered(r["series"] for r in rows)
    categories = ordered(r["category"] for r in rows)
    table = {}
    for r in rows:
        key = (r["panel"], r["series"], r["category"])
        if key in table:
            raise InputError(path, f"one row per (panel, series, category); repeated: {key!r}")
        table[key] = r
    width_in = max(5.0, 0.25 * len(categories) * (len(series) + 1))
    fig, axes = panel_grid(len(panels), min(width_in, 9.0), 3.7)
    handles = {}
    bar_width = 0.8 / len(series)
    for ax, panel in zip(axes, panels):
        for si, name in enumerate(series):
            cells = [(ci, table[(panel, name, c)]) for ci, c in enumerate(categories) if (panel, name, c) in table]
            if not cells:
                continue
            positions = [ci - 0.4 + bar_width * (si + 0.5) for ci, _ in cells]
            ys = [r["y"] for _, r in cells]
            artist = ax.bar(positions, ys, width=bar_width, color=color(si), label=name)
            handles.setdefault(name, artist)
            errs = [(i, r) for i, (_, r) in enumerate(cells) if r.get("lo") is not None and r.get("hi") is not None]
            if errs:
                ax.errorbar([positions[i] for i, _ in errs], [r["y"] for _, r in errs],
                            yerr=[[max(0.0, r["y"] - r["lo"]) for _, r in errs],
                                  [max(0.0, r["hi"] - r["y"]) for _, r in errs]],
                            fmt="none", ecolor="#222222", elinewidth=0.8, capsize=2)
        ax.set_xticks(range(len(categories)))
        long_labels = sum(len(c) for c in categories) > 60
        ax.set_xticklabels(categories, rotation=30 if long_labels else 0, ha="right" if long_labels else "center",
                           fontsize=8)
        ax.set_xlim(-0.6, len(categories) - 0.4)
        mine = [r for r in rows if r["panel"] == panel]
        unit_ylim(ax, [v for r in mine for v in (r["y"], r.get("lo"), r.get("hi"))])
        ax.axhline(0, color="#666666", linewidth=0.6)
        ax.grid(alpha=0.3, axis="y")
        if panel or len(panels) > 1:
            ax.set_title(panel, fontsize=10)
    set_labels(axes, spec, min(2, len(panels)))
    return fig, [handles[s] for s in series if s in handles], [s for s in series if s in handles]


DRAW = {"lines": draw_lines, "stacked": draw_stacked, "trace": draw_trace, "bars": draw_bars}


def finish(fig, spec, banner, handles, labels):
    """Title, banner, caption and legend around the axes, without overlaps."""
    width, height = fig.get_size_inches()
    chars = max(40, int(width * 9))
    title = textwrap.fill(spec.get("title", ""), chars)
    caption = textwrap.fill(spec.get("caption", ""), max(60, int(width * 15)))
    title_in = 0.26 * (title.count("\n") + 1) + 0.05 if title else 0.1
    banner_in = 0.3 if banner else 0.0
    caption_in = 0.15 * (caption.count("\n") + 1) + 0.1 if caption else 0.0
    fig.tight_layout(rect=(0, caption_in / height, 1, 1 - (title_in + banner_in) / height), h_pad=1.2, w_pad=1.2)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    left = min(ax.get_position().x0 for ax in visible)
    right = max(ax.get_position().x1 for ax in visible)
    top = max(ax.get_position().y1 for ax in visible)
    center = (left + right) / 2  # over the axes, not the legend beside them
    y = 1 - 0.08 / height
    if banner:
        fig.text(center, y, banner, ha="center", va="top", color="#cc0000", fontsize=11, fontweight="bold")
        y -= banner_in / height
    if title:
        fig.text(center, y, title, ha="center", va="top", fontsize=12)
    if caption:
        fig.text(center, 0.02 / height, caption, ha="center", va="bottom", fontsize=8, color="#333333")
    if handles:
        fig.legend(handles, labels, loc="upper left", bbox_to_anchor=(right + 0.01, top), fontsize=8,
                   frameon=False, borderaxespad=0.0)


def save(fig, base, formats):
    folder = os.path.dirname(base)
    if folder:
        os.makedirs(folder, exist_ok=True)
    for fmt in formats:
        final = f"{base}.{fmt}"
        temp = f"{base}.tmp.{fmt}"
        options = {"format": fmt, "bbox_inches": "tight", "pad_inches": 0.15}
        if fmt == "png":
            options.update(dpi=PNG_DPI, metadata={"Software": None})
        else:
            options.update(metadata={"Date": None, "Creator": None})
        try:
            fig.savefig(temp, **options)
            os.replace(temp, final)
        except BaseException:
            if os.path.exists(temp):
                os.remove(temp)
            raise


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("dir", help="output folder of `bestserve reproduce` (holds figures.json)")
    parser.add_argument("--only", default="", metavar="ID[,ID...]", help="draw only these figure ids")
    parser.add_argument("--format", default="png,svg", help="comma-separated: png, svg (default both)")
    args = parser.parse_args()

    formats = ordered(f.strip().lower() for f in args.format.split(",") if f.strip())
    if not formats or any(f not in FORMATS for f in formats):
        parser.error(f"--format {args.format}: expected a comma-separated list of {', '.join(FORMATS)}")
    try:
        banner, figures = load_manifest(args.dir)
        if args.only:
            wanted = ordered(i.strip() for i in args.only.split(",") if i.strip())
            known = [f["id"] for f in figures]
            unknown = [i for i in wanted if i not in known]
            if unknown:
                raise InputError(os.path.join(args.dir, "figures.json"),
                                 f"figure id(s) {', '.join(unknown)} (--only); it has: {', '.join(known)}")
            figures = [f for f in figures if f["id"] in wanted]
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 3

    failures = 0
    for spec in figures:
        csv_path = os.path.join(args.dir, spec["csv"])
        base = os.path.join(args.dir, spec["out"])
        fig = None
        try:
            fig, handles, labels = DRAW[spec["kind"]](spec, csv_path)
            finish(fig, spec, banner, handles, labels)
            save(fig, base, formats)
            print(f"plot_reproduce.py: {spec['id']}: " + ", ".join(f"{base}.{fmt}" for fmt in formats))
        except InputError as e:
            print(f"error: {e}", file=sys.stderr)
            failures += 1
        except OSError as e:
            print(f"error: {e.filename or base}: a writable output file ({e.strerror})", file=sys.stderr)
            failures += 1
        except Exception as e:  # a drawing failure should name its figure, not end the other figures
            print(f"error: {csv_path}: data that figure {spec['id']} ({spec['kind']}) can draw "
                  f"({type(e).__name__}: {e})", file=sys.stderr)
            failures += 1
        finally:
            if fig is not None:
                plt.close(fig)
    return 3 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
