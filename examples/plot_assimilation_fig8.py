#!/usr/bin/env python3
"""Fig. 8 of Finn et al.: background nRMSE and ensemble spread of DDM x 50 against the diffusion step.

    /usr/bin/python3 examples/plot_assimilation_fig8.py [DIR] [--output PNG]

DIR (default out/fig8) holds the summary.csv that `lorenz63_assimilate --method ddm --checkpoint MODEL --sweep
5,10,13,...` appends a row to for every diffusion step; the rows of method ddm are drawn. The spread is the one the
paper plots: the background ensemble's standard deviation, normalised like the nRMSE. Error bars: the standard
deviation of the background nRMSE over the experiments. Skips with a message where matplotlib is missing (Debian:
apt-get install python3-matplotlib).
"""

import argparse
import csv
import os
import sys

try:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib is not installed (Debian: apt-get install python3-matplotlib); no figure made")
    sys.exit(0)


def read(path):
    """The ddm rows of summary.csv as (step, background mean, background std, background spread), by step; a step
    run more than once keeps its last row."""
    rows = {}
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r["method"] == "ddm":
                rows[int(round(float(r["factor"])))] = (
                    float(r["background_mean"]), float(r["background_std"]), float(r["background_spread"]))
    return sorted((k,) + v for k, v in rows.items())


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", default="out/fig8")
    parser.add_argument("--output", default=None, help="PNG path (default DIR/fig8.png)")
    args = parser.parse_args()
    path = os.path.join(args.directory, "summary.csv")
    if not os.path.isfile(path):
        sys.exit(f"no summary.csv in {args.directory}: run lorenz63_assimilate --method ddm --sweep ... first")
    rows = read(path)
    if not rows:
        sys.exit(f"{path} has no ddm rows")
    steps = [r[0] for r in rows]
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    ax.errorbar(steps, [r[1] for r in rows], yerr=[r[2] for r in rows], marker="o", capsize=3, label="background nRMSE")
    ax.plot(steps, [r[3] for r in rows], marker="s", linestyle="--", label="background spread")
    ax.axvline(13, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel("diffusion step k (of the 100-step DDPM grid)")
    ax.set_ylabel("normalised")
    ax.set_title("DDM x 50 EnOI, Lorenz-63, obs every 10 steps")
    ax.legend()
    fig.tight_layout()
    output = args.output or os.path.join(args.directory, "fig8.png")
    fig.savefig(output, dpi=150)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
