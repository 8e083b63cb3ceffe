#!/usr/bin/env python3
"""A figure like Fig. 7 of Finn et al.: the nRMSE of every surrogate of lorenz63_transfer against the lead time of
its roll-out, from DIR/nrmse_by_lead.csv (columns lead, time, then one per model).

usage: plot_transfer.py NRMSE_BY_LEAD.csv OUT.png
Exits 0 with a message, drawing nothing, where numpy or matplotlib is missing (Debian: python3-matplotlib).
"""
import csv
import math
import sys


def main(argv):
    if len(argv) != 3:
        print(__doc__)
        return 2
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        print(f"plot_transfer.py: skipped, {e.name} is not installed (Debian: apt-get install python3-matplotlib)")
        return 0
    with open(argv[1], newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    time = [float(r[1]) for r in body]
    fig, ax = plt.subplots(figsize=(9, 5.5))
    colours = [c for j, c in enumerate(plt.get_cmap("tab20").colors) if j not in (14, 15)]  # no greys
    for i, (c, name) in enumerate(enumerate(header[2:], start=2)):
        values = [float(r[c]) for r in body]
        values = [v if math.isfinite(v) else float("nan") for v in values]
        if name.startswith(("linear fit", "Untrained")):
            style, colour = ("-" if name.startswith("linear") else "--"), "0.4"
        else:
            colour = colours[i % len(colours)]
            if name.startswith("RFF"):
                style = ":"
            elif name.startswith(("Dense", "ResNet")):
                style = "-."
            else:  # the denoiser's features: ridge heads dashed, MLP heads solid
                style = "--" if name.endswith("lin") else "-"
        ax.plot(time[1:], values[1:], style, color=colour, label=name, linewidth=1.4)
    ax.set_yscale("log")
    ax.set_ylim(top=2)
    ax.set_xlabel("lead time (time units)")
    ax.set_ylabel("nRMSE")
    ax.set_title("Surrogate roll-outs of Lorenz-63 (cf. Fig. 7 of Finn et al.)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    fig.tight_layout()
    fig.savefig(argv[2], dpi=120)
    print(f"plot_transfer.py: wrote {argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
