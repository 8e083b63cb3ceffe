#!/usr/bin/env python3
"""DDM x 50 EnOI cycles on Lorenz-63, attractor against PyTorch, side by side in one run.

    OMP_NUM_THREADS=2 /usr/bin/python3 benchmarks/compare_pytorch_ddm.py [build/release/benchmarks/bench_assimilation]

The PyTorch cycle is the paper's (specs/lorenz63-ddm.md §7, enoi.py and sampler_denoising.py), batched over 16
experiments in float32 as the paper's code runs: forecast the deterministic run and the truth 10 RK4 steps of
dt = 0.01 (recording the error at every lead), observe y = x_true + 2 N(0, I), draw 50 members around the run with
the diffusion model (normalise with the climatology, z = sqrt(alpha_bar_130) x + sigma_130 xi, the DDPM loop over
t = 130, 120, ..., 10 with the velocity head, de-normalise), then the deterministic EnOI analysis in the SVD form
with rho = 1: S = (E - mean) / sigma_o, d = (y - x_det) / sigma_o, S = U diag(s) V^T,
x_det += X' U diag(s / (s^2 + N - 1)) V^T d. The network is compare_pytorch.py's DenoisingResNet at the width of
the flagship's default model (hidden 128) and at the paper's (256), untrained (the cost does not depend on the
weights), under torch.inference_mode() with 1 and `--threads` threads (the faster is the peer). Then it runs our
bench_assimilation (BM_ddm50) and prints cycles/s for both and the ratio. If a CUDA device is visible to PyTorch, its GPU figure is printed too
(the issue quotes 28 cycles/s for PyTorch eager on an H100).
"""

import argparse
import math
import os
import statistics
import sys
import time

# compare_pytorch exits with its message where PyTorch is not installed, before torch is imported here.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_pytorch import DenoisingResNet, benchmark_medians, loaded_blas, require_binary  # noqa: E402
import torch  # noqa: E402
from compare_pytorch_assimilation import DT, EXPERIMENTS, OBS_EVERY, SIGMA_O, rk4  # noqa: E402
from compare_pytorch_sampling import cosine_alpha_bar  # noqa: E402

MEMBERS = 50
STEP = 13  # of the 100-step DDPM grid: t = 130 on the 1000-step schedule
GRID = 10  # 1000 / 100
MEAN = (0.0450, 0.0451, 23.5463)
STD = (7.9239, 9.0124, 8.6261)


def draw(model, x_det, ab, device):
    """The ensemble (experiments, 3, MEMBERS) around x_det (experiments, 3, 1) by partial diffusion to STEP."""
    mean = torch.tensor(MEAN, device=device)
    std = torch.tensor(STD, device=device)
    u = ((x_det[..., 0] - mean) / std).repeat_interleave(MEMBERS, dim=0)  # (experiments * MEMBERS, 3)
    t = STEP * GRID
    z = math.sqrt(ab[t]) * u + math.sqrt(1 - ab[t]) * torch.randn_like(u)
    for i in range(STEP, 0, -1):
        t, s = i * GRID, (i - 1) * GRID
        v = model(z, torch.full((z.shape[0],), t, device=device, dtype=torch.long))
        x_hat = math.sqrt(ab[t]) * z - math.sqrt(1 - ab[t]) * v
        if s == 0:
            z = x_hat
        else:
            a = ab[t] / ab[s]
            z = (math.sqrt(a) * (1 - ab[s]) / (1 - ab[t]) * z + math.sqrt(ab[s]) * (1 - a) / (1 - ab[t]) * x_hat +
                 math.sqrt((1 - a) * (1 - ab[s]) / (1 - ab[t])) * torch.randn_like(z))
    return (z * std + mean).view(x_det.shape[0], MEMBERS, 3).transpose(1, 2)


def enoi(x_det, E, y):
    """The deterministic analysis of the external-ensemble update (rho = 1, H = I)."""
    X = E - E.mean(dim=-1, keepdim=True)
    S = (X / SIGMA_O).transpose(-1, -2)  # (experiments, N, 3)
    d = (y - x_det[..., 0]) / SIGMA_O
    U, s, Vh = torch.linalg.svd(S, full_matrices=False)
    w = U @ ((s / (s**2 + (MEMBERS - 1))).unsqueeze(-1) * (Vh @ d.unsqueeze(-1)))  # (experiments, N, 1)
    return x_det + X @ w


def time_pytorch(hidden, device, warmup, blocks, cycles):
    """Median cycles/s over `blocks` timed blocks of `cycles` cycles, and the nRMSE at leads 0 and 10."""
    torch.manual_seed(0)
    model = DenoisingResNet(hidden=hidden).to(device).eval()
    ab = cosine_alpha_bar()
    with torch.inference_mode():
        truth = torch.randn(EXPERIMENTS, 3, 1, device=device) * 5 + torch.tensor([0.0, 0.0, 25.0], device=device).view(
            1, 3, 1)
        for _ in range(2000):
            truth = rk4(truth, DT)
        x = truth + 2 * torch.randn_like(truth)
        sse = torch.zeros(EXPERIMENTS, OBS_EVERY + 1, 3, device=device)
        rates = []
        for block in range(-1, blocks):  # block -1: the warm-up
            n = warmup if block < 0 else cycles
            if device == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            for _ in range(n):
                errors = [x - truth]
                for _ in range(OBS_EVERY):
                    x, truth = rk4(x, DT), rk4(truth, DT)
                    errors.append(x - truth)
                if block >= 0:
                    sse += torch.stack(errors, dim=1)[..., 0] ** 2
                y = truth[..., 0] + SIGMA_O * torch.randn(EXPERIMENTS, 3, device=device)
                x = enoi(x, draw(model, x, ab, device), y)
            if device == "cuda":
                torch.cuda.synchronize()
            if block >= 0:
                rates.append(n / (time.perf_counter() - start))
    scale = torch.tensor(STD, device=device)
    nrmse = ((sse / (blocks * cycles) / scale**2).mean(dim=-1).sqrt()).mean(dim=0)
    return statistics.median(rates), rates, float(nrmse[0]), float(nrmse[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", nargs="?", default="build/release/benchmarks/bench_assimilation")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed PyTorch cycles (default 1)")
    parser.add_argument("--blocks", type=int, default=3, help="timed blocks of PyTorch cycles (default 3)")
    parser.add_argument("--cycles", type=int, default=5, help="PyTorch cycles per block (default 5)")
    parser.add_argument("--reps", type=int, default=3, help="our benchmark repetitions (default 3)")
    parser.add_argument("--min-time", type=float, default=2.0, help="our --benchmark_min_time (default 2 s)")
    args = parser.parse_args()
    require_binary(args.binary, "bench_assimilation")
    torch.set_num_threads(args.threads)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, BLAS loaded: {loaded_blas()}; "
          f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}", flush=True)

    theirs = {}
    for hidden in (128, 256):
        for threads in sorted({1, args.threads}):
            torch.set_num_threads(threads)
            rate, rates, an, bg = time_pytorch(hidden, "cpu", args.warmup, args.blocks, args.cycles)
            theirs[hidden] = max(theirs.get(hidden, 0.0), rate)
            print(f"PyTorch cpu, hidden {hidden}, {threads} thread(s): cycles/s per block " +
                  ", ".join(f"{r:.2f}" for r in rates) +
                  f"; median {rate:.2f} (untrained model; nRMSE analysis {an:.3f}, background {bg:.3f})", flush=True)
    torch.set_num_threads(args.threads)
    ours = benchmark_medians(args.binary, "BM_ddm50", "cycles/s", args.reps, args.min_time)

    print()
    print(f"{'hidden':>6} {'attractor cycles/s':>19} {'PyTorch cycles/s':>17} {'ratio':>7}")
    for hidden, (rate, _) in sorted(ours.items()):
        peer = theirs.get(hidden)
        print(f"{hidden:>6} {rate:>19.2f} {peer:>17.2f} {rate / peer:>7.1f}")
    print(f"(medians; ours: {args.reps} repetitions of BM_ddm50, network float32, assimilation float64; PyTorch: "
          f"float32 throughout, the faster of 1 and {args.threads} threads; one cycle = 16 experiments x 50 members "
          f"x 13 steps)")

    if torch.cuda.is_available():
        print()
        for hidden in (128, 256):
            rate, _, _, _ = time_pytorch(hidden, "cuda", 5, 3, 50)
            print(f"PyTorch GPU ({torch.cuda.get_device_name()}), hidden {hidden}: {rate:.1f} cycles/s")


if __name__ == "__main__":
    main()
