#!/usr/bin/env python3
"""Learning curves of train.py runs: training loss (smoothed) and validation loss against
wall time, for one or more runs.

    python plot_curves.py work/gpt2 work/lstm --out ../antiphon-small/learning_curves.png
"""

import argparse
import csv
import sys
from pathlib import Path

import numpy as np


def read(path: Path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", type=Path, nargs="+")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--smooth", type=int, default=50, help="moving average over this many steps")
    ap.add_argument("--x", choices=("hours", "minutes", "tokens"), default="hours",
                    help="the x axis: training wall time, or tokens seen (millions)")
    ap.add_argument("--title", default="", help="a line above both panels")
    ap.add_argument("--names", help="comma-separated legend names, one per run (default: the folders' names)")
    ap.add_argument("--ylim", type=float, nargs=2, metavar=("LOW", "HIGH"), help="the loss axis (default: up to 5)")
    args = ap.parse_args()
    names = args.names.split(",") if args.names else [run.name for run in args.runs]
    if len(names) != len(args.runs):
        raise SystemExit("--names: one name per run")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.5))
    scale = {"hours": ("elapsed_s", 3600, "training wall time (h)"),
             "minutes": ("elapsed_s", 60, "training wall time (min)"),
             "tokens": ("tokens", 1e6, "tokens seen (millions)")}[args.x]

    def x_of(row) -> float:
        return float(row[scale[0]]) / scale[1]

    for run, name in zip(args.runs, names):
        tr = read(run / "train.csv")
        if tr:
            h = np.array([x_of(r) for r in tr])
            y = np.array([float(r["loss"]) for r in tr])
            k = min(args.smooth, len(y))
            ys = np.convolve(y, np.ones(k) / k, mode="valid")
            a.plot(h[k - 1:], ys, label=f"{name} (train, {k}-step mean)")
        va = read(run / "valid.csv")
        for which, style in (("raw", "--"), ("ema", "-")):
            rows = [r for r in va if r["which"] == which]
            if rows:
                h = [x_of(r) for r in rows]
                b.plot(h, [float(r["loss"]) for r in rows], style, marker=".", label=f"{name} ({which})")
    a.set_xlabel(scale[2])
    a.set_ylabel("loss (nats/token)")
    a.set_title("training loss")
    a.legend()
    b.set_xlabel(scale[2])
    b.set_ylabel("loss (nats/token)")
    b.set_title("validation loss (a fixed slice of the valid split)")
    b.legend()
    for ax in (a, b):
        ax.set_ylim(*(args.ylim or (None, 5)))
        ax.grid(alpha=0.3)
    if args.title:
        fig.suptitle(args.title)
    fig.tight_layout()
    fig.savefig(args.out, dpi=90)
    print(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
