#!/usr/bin/env python3
"""ETKF x 12 cycles on Lorenz-63, attractor against PyTorch, side by side in one run.

    OMP_NUM_THREADS=2 /usr/bin/python3 benchmarks/compare_pytorch_assimilation.py [build/release/benchmarks/bench_assimilation]

The PyTorch cycle is the paper's (specs/lorenz63-ddm.md §7, etkf.py / etkf_core.py), batched over 16 experiments:
forecast the 12 members and the truth 10 RK4 steps of dt = 0.01 (recording the member mean at every lead, as the
scores by lead need), observe y = x_true + 2 N(0, I), then the ETKF in its SVD form: S = (H E - mean) / sigma_o,
d = (y - mean H E) / sigma_o, S = U diag(s) V^T (full U), f = (N - 1) / rho, w = U diag(s / (s^2 + f)) V^T d,
T = sqrt(N - 1) U diag((s^2 + f)^-1/2) U^T with s^2 padded by zeros, E_a = mean + X (w 1^T + T), rho = 1.07. It runs
in float64 (as ours does) and, for reference, float32 (the paper's dtype), on the cpu with 1 and 2 threads (on a busy
2-core machine PyTorch's 2-thread kernels can be far slower than 1 thread; the faster is the peer): warm-up cycles,
then the median of several timed blocks of cycles. The truth is integrated up front, as the paper's code loads it
from a file, so PyTorch integrates only the ensemble, while ours integrates the truth as well. Then it runs our
bench_assimilation (BM_etkf12) with --benchmark_format=json and prints cycles/s for both and the ratio.
"""

import argparse
import math
import os
import statistics
import sys
import time

# compare_pytorch exits with its message where PyTorch is not installed, before torch is imported here.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_pytorch import benchmark_medians, require_binary  # noqa: E402
import torch  # noqa: E402

EXPERIMENTS = 16
MEMBERS = 12
RHO = 1.07
SIGMA_O = 2.0
OBS_EVERY = 10
DT = 0.01
SCALE = (7.9239, 9.0124, 8.6261)


def derivative(x):
    """Lorenz-63 on (..., 3, members): sigma = 10, rho = 28, beta = 8/3."""
    x0, x1, x2 = x[..., 0, :], x[..., 1, :], x[..., 2, :]
    return torch.stack((10.0 * (x1 - x0), x0 * (28.0 - x2) - x1, x0 * x1 - (8.0 / 3.0) * x2), dim=-2)


def rk4(x, dt):
    k1 = derivative(x)
    k2 = derivative(x + 0.5 * dt * k1)
    k3 = derivative(x + 0.5 * dt * k2)
    k4 = derivative(x + dt * k3)
    return x + dt * (k1 + 2 * k2 + 2 * k3 + k4) / 6


def etkf(E, y, rho):
    """E: (experiments, Nx, N); y: (experiments, Ny) with H = I."""
    n = E.shape[-1]
    mean = E.mean(dim=-1, keepdim=True)
    X = E - mean
    S = (X / SIGMA_O).transpose(-1, -2)  # (experiments, N, p)
    d = (y - mean[..., 0]) / SIGMA_O  # (experiments, p)
    U, s, Vh = torch.linalg.svd(S, full_matrices=True)
    f = (n - 1) / rho
    s2 = torch.zeros(E.shape[0], n, dtype=E.dtype)
    s2[:, : s.shape[-1]] = s**2
    w = U[..., : s.shape[-1]] @ ((s / (s**2 + f)).unsqueeze(-1) * (Vh @ d.unsqueeze(-1)))  # (experiments, N, 1)
    T = math.sqrt(n - 1) * (U * (s2 + f).rsqrt().unsqueeze(-2)) @ U.transpose(-1, -2)
    return mean + X @ (w + T)


def cycle(E, window, rho, sse):
    """One cycle: forecast, observe, analyse; window = the truth at leads 0..OBS_EVERY, (experiments, leads, 3)."""
    means = [E.mean(dim=-1)]
    for _ in range(OBS_EVERY):
        E = rk4(E, DT)
        means.append(E.mean(dim=-1))
    y = window[:, -1] + SIGMA_O * torch.randn(E.shape[0], 3, dtype=E.dtype)
    sse += (torch.stack(means, dim=1) - window) ** 2  # the scores by lead, as ours keep
    return etkf(E, y, rho)


def time_pytorch(dtype, threads, warmup, blocks, cycles):
    """Median cycles/s over `blocks` timed blocks of `cycles` cycles. The truth is integrated up front (the paper's
    code loads it from a file), so PyTorch integrates only the ensemble, while ours integrates both."""
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    x = (torch.randn(EXPERIMENTS, 3, 1) * 5 + torch.tensor([0.0, 0.0, 25.0]).view(1, 3, 1)).to(dtype)
    with torch.inference_mode():
        for _ in range(2000):
            x = rk4(x, DT)
        n_cycles = warmup + blocks * cycles
        truth = [x[..., 0]]
        for _ in range(n_cycles * OBS_EVERY):
            x = rk4(x, DT)
            truth.append(x[..., 0])
        truth = torch.stack(truth, dim=1)  # (experiments, steps + 1, 3)
        E = truth[:, 0].unsqueeze(-1) + torch.randn(EXPERIMENTS, 3, MEMBERS, dtype=dtype) * 2
        sse = torch.zeros(EXPERIMENTS, OBS_EVERY + 1, 3, dtype=dtype)
        c = 0
        for _ in range(warmup):
            E = cycle(E, truth[:, c * OBS_EVERY:(c + 1) * OBS_EVERY + 1], RHO, sse)
            c += 1
        rates = []
        sse.zero_()
        for _ in range(blocks):
            start = time.perf_counter()
            for _ in range(cycles):
                E = cycle(E, truth[:, c * OBS_EVERY:(c + 1) * OBS_EVERY + 1], RHO, sse)
                c += 1
            rates.append(cycles / (time.perf_counter() - start))
    scale = torch.tensor(SCALE, dtype=dtype)
    nrmse = ((sse / (blocks * cycles) / scale**2).mean(dim=-1).sqrt()).mean(dim=0)
    return statistics.median(rates), rates, float(nrmse[0]), float(nrmse[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", nargs="?", default="build/release/benchmarks/bench_assimilation")
    parser.add_argument("--threads", type=int, default=2, help="PyTorch runs with 1 and this many threads (default 2)")
    parser.add_argument("--warmup", type=int, default=50, help="untimed PyTorch cycles (default 50)")
    parser.add_argument("--blocks", type=int, default=5, help="timed blocks of PyTorch cycles (default 5)")
    parser.add_argument("--cycles", type=int, default=200, help="PyTorch cycles per block (default 200)")
    parser.add_argument("--reps", type=int, default=5, help="our benchmark repetitions (default 5)")
    parser.add_argument("--min-time", type=float, default=1.0, help="our --benchmark_min_time (default 1 s)")
    args = parser.parse_args()

    require_binary(args.binary, "bench_assimilation")
    print(f"PyTorch {torch.__version__}; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}", flush=True)

    theirs = {}
    for dtype in (torch.float64, torch.float32):
        for threads in sorted({1, args.threads}):
            rate, rates, an, bg = time_pytorch(dtype, threads, args.warmup, args.blocks, args.cycles)
            theirs[(dtype, threads)] = rate
            print(f"PyTorch {str(dtype).replace('torch.', '')}, {threads} thread(s): cycles/s per block " +
                  ", ".join(f"{r:.0f}" for r in rates) + f"; median {rate:.0f} (nRMSE over the timed cycles: "
                  f"analysis {an:.3f}, background {bg:.3f})", flush=True)
    # The peer is PyTorch at its best thread count, per dtype.
    best = {dtype: max(rate for (d, _), rate in theirs.items() if d == dtype) for dtype in (torch.float64, torch.float32)}

    ours = benchmark_medians(args.binary, "BM_etkf12", "cycles/s", args.reps, args.min_time)
    print()
    print(f"{'threads':>7} {'attractor cycles/s':>19} {'PyTorch f64':>12} {'ratio':>7} {'PyTorch f32':>12} {'ratio':>7}")
    f64, f32 = best[torch.float64], best[torch.float32]
    for threads, (rate, _) in sorted(ours.items(), key=lambda kv: -kv[0]):
        print(f"{threads:>7} {rate:>19.0f} {f64:>12.0f} {rate / f64:>7.1f} {f32:>12.0f} {rate / f32:>7.1f}")
    print(f"(medians; ours: {args.reps} repetitions of BM_etkf12 (float64), one cycle = 16 experiments analysed; "
          f"PyTorch: the faster of 1 and {args.threads} threads per dtype)")


if __name__ == "__main__":
    main()
