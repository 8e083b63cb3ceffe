#!/usr/bin/env python3
"""A figure like Fig. 6 of Finn et al.: 2-D projections and marginal densities of generated Lorenz-63 states beside
states of true trajectories, all in normalised units.

usage: plot_lorenz63.py SAMPLES.npy REFERENCE.npy OUT.png
Exits 0 with a message, drawing nothing, where numpy or matplotlib is missing (Debian: python3-matplotlib).
"""
import sys


def main(argv):
    if len(argv) != 4:
        print(__doc__)
        return 2
    try:
        import numpy as np
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:
        print(f"plot_lorenz63.py: skipped, {e.name} is not installed (Debian: apt-get install python3-matplotlib)")
        return 0
    samples, reference = np.load(argv[1]), np.load(argv[2])
    names = ["x", "y", "z"]
    edges = np.linspace(-3.5, 3.5, 71)
    fig, axes = plt.subplots(2, 3, figsize=(12, 7.5))
    for col, (i, j) in enumerate([(0, 1), (0, 2), (1, 2)]):
        ax = axes[0, col]
        ax.scatter(reference[:, i], reference[:, j], s=0.2, c="0.6", alpha=0.4, rasterized=True, label="true")
        ax.scatter(samples[:, i], samples[:, j], s=0.2, c="tab:red", alpha=0.3, rasterized=True, label="generated")
        ax.set_xlabel(names[i])
        ax.set_ylabel(names[j])
        ax.set_xlim(-3.5, 3.5)
        ax.set_ylim(-3.5, 3.5)
        if col == 0:
            ax.legend(markerscale=20, loc="upper left")
    for k in range(3):
        ax = axes[1, k]
        ax.hist(reference[:, k], bins=edges, density=True, histtype="step", color="0.3", label="true")
        ax.hist(samples[:, k], bins=edges, density=True, histtype="step", color="tab:red", label="generated")
        ax.set_xlabel(f"{names[k]} (normalised)")
        ax.set_ylabel("density")
        if k == 0:
            ax.legend(loc="upper left")
    fig.suptitle(f"Lorenz-63: {len(samples):,} generated states beside {len(reference):,} true ones")
    fig.tight_layout()
    fig.savefig(argv[3], dpi=120)
    print(f"wrote {argv[3]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
