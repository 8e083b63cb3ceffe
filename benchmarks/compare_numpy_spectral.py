#!/usr/bin/env python3
"""The FFT primitive and an Allen-Cahn step, attractor against numpy, side by side in one run.

    OMP_NUM_THREADS=2 python3 benchmarks/compare_numpy_spectral.py [build/release/benchmarks/bench_spectral]

numpy is the peer where the work is FFTs (numpy.fft is pocketfft, in C); install it in a venv, never as a
dependency of the project: `python3 -m venv /tmp/peer && /tmp/peer/bin/pip install numpy`, then run this script
with /tmp/peer/bin/python3.

1. Round trips of 128 fields of 32 x 32: numpy.fft.rfft2 then irfft2 over the batch, float64 and float32 (numpy
   computes float32 in float32 since 2.0), against BM_fft_round_trip; the figure is transforms/s.
2. An Allen-Cahn step on 128 members in float64, the scheme of systems/spectral/sde.hpp written with numpy's FFTs:
   the state kept as a spectrum, four RK4 stages of one irfft2 and one rfft2 each, then the additive noise drawn in
   the spectrum (complex normals times sqrt(dt) n eps sqrt(Sigma); its Hermitian edge columns are not enforced,
   which costs numpy nothing it would otherwise spend). Against BM_allen_cahn_step; the figure is member-steps/s.
Each numpy figure is the median of several timed blocks after a warm-up; ours is the median of Google Benchmark's
repetitions. The last column divides ours by numpy's.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

try:
    import numpy as np
except ImportError:
    print("numpy is not installed: python3 -m venv /tmp/peer && /tmp/peer/bin/pip install numpy, "
          "then run this with /tmp/peer/bin/python3")
    sys.exit(0)

N = 32
MEMBERS = 128
DT = 1.0 / 32
ALPHA, KAPPA, ADVECTION, EPS2 = 16.0, 2.5e-4, 0.02, 0.004


def timed(fn, reps, blocks=5):
    """Median seconds per call of fn over `blocks` blocks of `reps` calls, after one untimed block."""
    for _ in range(reps):
        fn()
    times = []
    for _ in range(blocks):
        t0 = time.perf_counter()
        for _ in range(reps):
            fn()
        times.append((time.perf_counter() - t0) / reps)
    return statistics.median(times)


def numpy_fft_rate(dtype):
    x = np.random.default_rng(1).standard_normal((MEMBERS, N, N)).astype(dtype)

    def round_trip():
        np.fft.irfft2(np.fft.rfft2(x), s=(N, N))

    return 2 * MEMBERS / timed(round_trip, 50)


def numpy_allen_cahn_rate(steps=32):
    k = np.fft.fftfreq(N, 1.0 / N)  # 0..15, -16..-1
    kx = np.fft.rfftfreq(N, 1.0 / N)  # 0..16
    kx = np.where(kx == N // 2, 0.0, kx)  # odd derivative zero at the Nyquist index, as ours
    k2 = k[:, None] ** 2 + np.fft.rfftfreq(N, 1.0 / N)[None, :] ** 2
    sigma = 1.0 / (1.0 + k2)
    lin = -KAPPA * k2 - 1j * ADVECTION * kx[None, :]
    noise_scale = np.sqrt(DT) * N * N * np.sqrt(EPS2 * sigma)  # spectrum of sqrt(dt) n eps Sigma^1/2 eta
    rng = np.random.default_rng(2)
    u = np.fft.rfft2(0.5 * np.tanh(rng.standard_normal((MEMBERS, N, N))))

    def step(u):
        v, acc = u, 0
        for stage, (w, c) in enumerate(((1, 0.5), (2, 0.5), (2, 1.0), (1, 0.0))):
            f = np.fft.irfft2(v, s=(N, N))
            kk = lin * v + ALPHA * sigma * np.fft.rfft2(f * (1 - f * f))
            acc = acc + w * kk
            if stage < 3:
                v = u + c * DT * kk
        xi = rng.standard_normal(u.shape) + 1j * rng.standard_normal(u.shape)
        return u + DT / 6 * acc + noise_scale * np.sqrt(0.5) * xi

    state = [u]

    def run():
        x = state[0]
        for _ in range(steps):
            x = step(x)
        state[0] = x

    return MEMBERS * steps / timed(run, 2)


def ours(binary, reps, min_time):
    cmd = [binary, "--benchmark_format=json", f"--benchmark_repetitions={reps}", f"--benchmark_min_time={min_time}",
           "--benchmark_filter=BM_fft_round_trip|BM_allen_cahn_step"]
    print("running:", " ".join(cmd), flush=True)
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    rates = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("run_type") != "iteration":
            continue
        name = b["name"].split("/")[0]
        rates.setdefault(name, []).append(b.get("transforms/s") or b.get("member-steps/s"))
    return {k: statistics.median(v) for k, v in rates.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", nargs="?", default="build/release/benchmarks/bench_spectral")
    parser.add_argument("--reps", type=int, default=5, help="our repetitions (default 5)")
    parser.add_argument("--min-time", type=float, default=0.5, help="our --benchmark_min_time (default 0.5 s)")
    args = parser.parse_args()
    if not os.path.isfile(args.binary):
        sys.exit(f"{args.binary} not found: build it with `cmake --preset release && "
                 "cmake --build --preset release --target bench_spectral`")
    print(f"numpy {np.__version__}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}")
    peer = {
        "BM_fft_round_trip<double>": numpy_fft_rate(np.float64),
        "BM_fft_round_trip<float>": numpy_fft_rate(np.float32),
        "BM_allen_cahn_step": numpy_allen_cahn_rate(),
    }
    mine = ours(args.binary, args.reps, args.min_time)
    print(f"\n{'benchmark':32s} {'attractor':>14s} {'numpy':>14s} {'ratio':>7s}")
    for name, rate in peer.items():
        unit = "member-steps/s" if "allen" in name else "transforms/s"
        print(f"{name:32s} {mine[name]:14.4g} {rate:14.4g} {mine[name] / rate:7.2f}   ({unit})")


if __name__ == "__main__":
    main()
