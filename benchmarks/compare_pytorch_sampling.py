#!/usr/bin/env python3
"""Sampling the Lorenz-63 denoising network, attractor against PyTorch, side by side in one run.

    /usr/bin/python3 benchmarks/compare_pytorch_sampling.py [build/release/benchmarks/bench_sampling]

Builds the paper's network (compare_pytorch.py's DenoisingResNet, 1,185,283 parameters) and times, in eager fp32
under torch.no_grad() on the cpu with 2 threads, 10 DDIM (eta 0) steps of the reference sampler on 16384 states
from the prior: the velocity head's x_hat and eps_hat, then z = sqrt(a_s) x_hat + sqrt(1 - a_s) eps_hat, with the
cosine schedule. Then it runs our bench_sampling and prints sample-steps/s for both and the ratio.
If a CUDA device is visible to PyTorch, its GPU figure is printed too.
"""

import argparse
import math
import os
import re
import statistics
import sys
import time

# compare_pytorch exits with its message where PyTorch is not installed, before torch is imported here.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_pytorch import DenoisingResNet, loaded_blas, require_binary, run_benchmark_json  # noqa: E402
import torch  # noqa: E402

CHUNK = 16384
STEPS = 10


def cosine_alpha_bar(T=1000, s=0.008, max_beta=0.9):
    g = [math.cos(math.pi / 2 * ((i / T + s) / (1 + s))) ** 2 for i in range(T + 1)]
    alpha_bar = [1.0]
    for i in range(1, T + 1):
        alpha_bar.append(alpha_bar[-1] * (1 - min(1 - g[i] / g[i - 1], max_beta)))
    return alpha_bar


def time_pytorch(device, warmup, reps):
    torch.manual_seed(0)
    model = DenoisingResNet().to(device).eval()
    ab = cosine_alpha_bar()
    grid = [round(i * 1000 / STEPS) for i in range(STEPS + 1)]

    @torch.no_grad()
    def sample():
        z = torch.randn(CHUNK, 3, device=device)
        for i in range(STEPS, 0, -1):
            t, s = grid[i], grid[i - 1]
            tau = torch.full((CHUNK,), t, device=device, dtype=torch.long)
            v = model(z, tau)
            a, sig = math.sqrt(ab[t]), math.sqrt(1 - ab[t])
            x_hat = a * z - sig * v
            eps_hat = sig * z + a * v
            z = x_hat if i == 1 else math.sqrt(ab[s]) * x_hat + math.sqrt(1 - ab[s]) * eps_hat
        return z

    for _ in range(warmup):
        sample()
    seconds = []
    for _ in range(reps):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        sample()
        if device == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return CHUNK * STEPS / statistics.median(seconds), seconds


def run_ours(binary, reps, min_time):
    rates = {}
    for b in run_benchmark_json(binary, [], reps, min_time):
        m = re.match(r"BM_sampling<diffusion::sampler_kind::(\w+)>", b["name"])
        rates.setdefault(m[1], []).append(b["sample-steps/s"])
    return {k: statistics.median(v) for k, v in rates.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", nargs="?", default="build/release/benchmarks/bench_sampling")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=2.0)
    args = parser.parse_args()
    require_binary(args.binary, "bench_sampling")
    torch.set_num_threads(args.threads)
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, BLAS loaded: {loaded_blas()}", flush=True)
    ours = run_ours(args.binary, args.reps, args.min_time)
    theirs, seconds = time_pytorch("cpu", args.warmup, args.reps)
    print("PyTorch cpu: times " + ", ".join(f"{s:.3f}" for s in seconds) + " s")
    print()
    print(f"{'sampler':>8} {'attractor sample-steps/s':>25} {'PyTorch (DDIM)':>15} {'ratio':>7}")
    for kind, rate in sorted(ours.items()):
        print(f"{kind:>8} {rate:>25.0f} {theirs:>15.0f} {rate / theirs:>7.1f}")
    if torch.cuda.is_available():
        rate, _ = time_pytorch("cuda", 3, 10)
        print(f"PyTorch GPU ({torch.cuda.get_device_name()}): {rate:.3g} sample-steps/s")


if __name__ == "__main__":
    main()
