#!/usr/bin/env python3
"""An independent check of the Hellinger distance of generated Lorenz-63 states, in numpy alone.

usage: lorenz63_hellinger.py SAMPLES.npy [--members 16] [--steps 200000]

Integrates Lorenz-63 (RK4, dt 0.01, 10,000 spin-up steps from N(0, 0.001^2)) for two independent sets of
`members` trajectories of `steps` states, normalises them with the paper's constants, and prints the Hellinger
distance on 70^3 cubes over +-3.5 of SAMPLES (n x 3, normalised) against the first set, beside the floor: the
distance of n states drawn without replacement from the second set. This is how docs/results-lorenz63.md's
3000-step figure was measured, independently of the library's metrics.
"""
import argparse

import numpy as np

MEAN = np.array([0.0450, 0.0451, 23.5463])
STD = np.array([7.9239, 9.0124, 8.6261])


def rhs(x):
    return np.stack([10 * (x[:, 1] - x[:, 0]), x[:, 0] * (28 - x[:, 2]) - x[:, 1], x[:, 0] * x[:, 1] - 8 / 3 * x[:, 2]], 1)


def trajectories(members, steps, seed, dt=0.01, spin_up=10_000):
    x = np.random.default_rng(seed).normal(0, 1e-3, (members, 3))
    out = np.empty((steps, members, 3))
    for s in range(spin_up + steps):
        k1 = rhs(x)
        k2 = rhs(x + dt / 2 * k1)
        k3 = rhs(x + dt / 2 * k2)
        k4 = rhs(x + dt * k3)
        x = x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        if s >= spin_up:
            out[s - spin_up] = x
    return ((out - MEAN) / STD).reshape(-1, 3)


def histogram(x):
    edges = np.linspace(-3.5, 3.5, 71)
    h, _ = np.histogramdd(x, bins=[edges, edges, edges])
    return h / h.sum()


def hellinger(p, q):
    return np.sqrt(((np.sqrt(p) - np.sqrt(q)) ** 2).sum()) / np.sqrt(2)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("samples")
    parser.add_argument("--members", type=int, default=16)
    parser.add_argument("--steps", type=int, default=200_000)
    args = parser.parse_args()
    samples = np.load(args.samples)
    reference = histogram(trajectories(args.members, args.steps, 1))
    other = trajectories(args.members, args.steps, 2)
    drawn = other[np.random.default_rng(0).choice(len(other), len(samples), replace=False)]
    print(f"n {len(samples)}  H {hellinger(reference, histogram(samples)):.4f}  "
          f"floor {hellinger(reference, histogram(drawn)):.4f}  (reference: {args.members * args.steps} states)")


if __name__ == "__main__":
    main()
