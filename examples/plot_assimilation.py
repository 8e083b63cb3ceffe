#!/usr/bin/env python3
"""Figs 8 and 9 of Finn et al. from the CSV files of lorenz63_assimilate.

    /usr/bin/python3 examples/plot_assimilation.py fig8 [DIR] [--output PNG]
    /usr/bin/python3 examples/plot_assimilation.py fig9 [DIR] [--output PNG]

fig8: background nRMSE and ensemble spread of DDM x 50 against the diffusion step. DIR (default out/fig8) holds the
summary.csv that `lorenz63_assimilate --method ddm --checkpoint MODEL --sweep 5,10,13,...` appends a row to for
every diffusion step; the rows of method ddm are drawn. The spread is the one the paper plots: the background
ensemble's standard deviation, normalised like the nRMSE.

fig9: analysis nRMSE against the update interval. DIR (default out/fig9) holds fig9.csv (written by
`lorenz63_assimilate --fig9`, the spec's Fig. 9 factors) and, if present, fig9_tuned.csv (`--fig9-tuned`, factors
tuned per interval). Solid lines: tuned factors; dashed: the spec's factors.

Error bars: the standard deviation over the experiments. The figure goes to DIR/fig8.png or DIR/fig9.png unless
--output says otherwise. Skips with a message where matplotlib is missing (Debian: apt-get install
python3-matplotlib).
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

LABELS = {"etkf": "ETKF x 12", "enoi-diag": "EnOI diag x 50", "enoi-full": "EnOI full x 50", "3dvar": "3D-Var"}
COLOURS = {"etkf": "tab:blue", "enoi-diag": "tab:orange", "enoi-full": "tab:green", "3dvar": "tab:red"}


def csv_rows(path):
    """The rows of a CSV file as dicts; none when the file is missing."""
    if not os.path.isfile(path):
        return []
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def fig8(directory, ax):
    """Background nRMSE and spread by diffusion step; a step run more than once keeps its last row."""
    path = os.path.join(directory, "summary.csv")
    rows = {}
    for r in csv_rows(path):
        if r["method"] == "ddm":
            rows[int(round(float(r["factor"])))] = (
                float(r["background_mean"]), float(r["background_std"]), float(r["background_spread"]))
    if not rows:
        sys.exit(f"no ddm rows in {path}: run lorenz63_assimilate --method ddm --sweep ... first")
    steps = sorted(rows)
    ax.errorbar(steps, [rows[k][0] for k in steps], yerr=[rows[k][1] for k in steps], marker="o", capsize=3,
                label="background nRMSE")
    ax.plot(steps, [rows[k][2] for k in steps], marker="s", linestyle="--", label="background spread")
    ax.axvline(13, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xlabel("diffusion step k (of the 100-step DDPM grid)")
    ax.set_ylabel("normalised")
    ax.set_title("DDM x 50 EnOI, Lorenz-63, obs every 10 steps")
    ax.legend()


def fig9(directory, ax):
    """Analysis nRMSE by update interval, per method, for the spec's factors and the ones tuned here."""
    def by_method(name):
        rows = {}
        for r in csv_rows(os.path.join(directory, name)):
            rows.setdefault(r["method"], []).append(
                (int(r["obs_every"]), float(r["analysis_mean"]), float(r["analysis_std"])))
        return {m: sorted(v) for m, v in rows.items()}

    spec, tuned = by_method("fig9.csv"), by_method("fig9_tuned.csv")
    if not spec and not tuned:
        sys.exit(f"no fig9.csv or fig9_tuned.csv in {directory}: run lorenz63_assimilate --fig9 first")
    for rows, style, suffix in ((tuned, "-", "tuned here"), (spec, "--", "spec's factors")):
        for method, points in rows.items():
            k, mean, std = zip(*points)
            ax.errorbar(k, mean, yerr=std, fmt=style + "o", ms=3, capsize=2, color=COLOURS.get(method),
                        label=f"{LABELS.get(method, method)} ({suffix})")
    ax.set_xlabel("update interval (model steps of 0.01)")
    ax.set_ylabel("analysis nRMSE")
    ax.set_xticks([1, 5, 10, 15, 20, 25])
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("Lorenz-63, sigma_o = 2, H = I, 16 experiments x 50,000 analyses", fontsize=9)


FIGURES = {"fig8": (fig8, (5.5, 3.8), 150), "fig9": (fig9, (6.4, 4.2), 120)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("figure", choices=sorted(FIGURES))
    parser.add_argument("directory", nargs="?", default=None, help="default out/fig8 or out/fig9")
    parser.add_argument("--output", default=None, help="PNG path (default DIR/FIGURE.png)")
    args = parser.parse_args()
    draw, size, dpi = FIGURES[args.figure]
    directory = args.directory or os.path.join("out", args.figure)
    fig, ax = plt.subplots(figsize=size)
    draw(directory, ax)
    fig.tight_layout()
    output = args.output or os.path.join(directory, args.figure + ".png")
    fig.savefig(output, dpi=dpi)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
