#!/usr/bin/env python3
"""Fig. 9 of Finn et al.: analysis nRMSE against the update interval, from lorenz63_assimilate's CSV files.

    /usr/bin/python3 examples/plot_assimilation_fig9.py [DIR] [--output PNG]

DIR (default out/fig9) holds fig9.csv (written by `lorenz63_assimilate --fig9`, the spec's Fig. 9 factors) and, if
present, fig9_tuned.csv (`--fig9-tuned`, factors tuned per interval). Solid lines: tuned factors; dashed: the spec's
factors. Error bars: the standard deviation over the experiments. Skips with a message where matplotlib is missing
(Debian: apt-get install python3-matplotlib).
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


def read(path):
    rows = {}
    if not os.path.isfile(path):
        return rows
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            rows.setdefault(r["method"], []).append(
                (int(r["obs_every"]), float(r["analysis_mean"]), float(r["analysis_std"]), float(r["factor"])))
    return {m: sorted(v) for m, v in rows.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory", nargs="?", default="out/fig9")
    parser.add_argument("--output", default=None, help="PNG path (default DIR/fig9.png)")
    args = parser.parse_args()
    spec = read(os.path.join(args.directory, "fig9.csv"))
    tuned = read(os.path.join(args.directory, "fig9_tuned.csv"))
    if not spec and not tuned:
        sys.exit(f"no fig9.csv or fig9_tuned.csv in {args.directory}: run lorenz63_assimilate --fig9 first")

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for rows, style, suffix in ((tuned, "-", "tuned here"), (spec, "--", "spec's factors")):
        for method, points in rows.items():
            k, mean, std, _ = zip(*points)
            ax.errorbar(k, mean, yerr=std, fmt=style + "o", ms=3, capsize=2, color=COLOURS.get(method),
                        label=f"{LABELS.get(method, method)} ({suffix})")
    ax.set_xlabel("update interval (model steps of 0.01)")
    ax.set_ylabel("analysis nRMSE")
    ax.set_xticks([1, 5, 10, 15, 20, 25])
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("Lorenz-63, sigma_o = 2, H = I, 16 experiments x 50,000 analyses", fontsize=9)
    fig.tight_layout()
    output = args.output or os.path.join(args.directory, "fig9.png")
    fig.savefig(output, dpi=120)
    print(f"wrote {output}")


if __name__ == "__main__":
    main()
