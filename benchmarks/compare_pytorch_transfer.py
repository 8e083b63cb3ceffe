#!/usr/bin/env python3
"""Transfer-learning throughput, attractor against PyTorch, side by side in one run.

    /usr/bin/python3 benchmarks/compare_pytorch_transfer.py [build/release/benchmarks/bench_transfer]

Builds the paper's network (compare_pytorch.py's DenoisingResNet, hidden 256, 3 blocks) and uses it as the
reference's pretrained backbone does (spec §6, surrogate/backbones/pretrained.py): every FiLM is replaced by its
static (scale, shift) at the chosen pseudo-times, the input (B, 1, 3) broadcasts to (B, n_tau, 256) through the
blocks, and the stream is flattened to n_tau * 256 features. In eager fp32 under torch.no_grad() on the cpu, it times
  - features: 16384 states at tau400 and at the six taus [0, 50, 100, 200, 400, 600];
  - roll-outs: x <- x + g(x) for 10 iterations from 16384 starts, g a ridge head ((phi - mu) / sigma then Linear
    (F -> 3)) on the tau400 and 6-tau features, and the MLP head (Linear(F -> 256), ReLU, Linear(256 -> 3)) on the
    [50, 400] features.
Then it runs our bench_transfer and prints states/s for both and the ratio (ours / PyTorch's), per wall-clock second
and per cpu second of each process (at one thread, the cpu-time figure is the one a shared machine disturbs less).
"""

import argparse
import os
import re
import statistics
import sys
import time

# compare_pytorch exits with its message where PyTorch is not installed, before torch is imported here.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_pytorch import DenoisingResNet, loaded_blas, require_binary, run_benchmark_json  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

STATES = 16384
ITERATIONS = 10
TAUS = {1: [400], 2: [50, 400], 6: [0, 50, 100, 200, 400, 600]}


class FrozenBackbone(nn.Module):
    """The reference's pretrained backbone: static FiLM at `taus`, (B, 3) -> (B, n_tau * hidden)."""

    def __init__(self, net, taus):
        super().__init__()
        self.net = net
        with torch.no_grad():
            e = net.embedding(torch.tensor(taus))
            self.films = [b.film(e).chunk(2, dim=-1) for b in net.blocks]  # (n_tau, hidden) each

    def forward(self, x):
        h = self.net.inp(x)[:, None, :]  # (B, 1, hidden), broadcast over the taus by the first FiLM
        for block, (scale, shift) in zip(self.net.blocks, self.films):
            branch = block.fc2(torch.relu(block.fc1(block.norm(h) * (1 + scale) + shift)))
            h = h + block.gamma * branch
        return h.flatten(1)


class RidgeHead(nn.Module):
    def __init__(self, features):
        super().__init__()
        self.register_buffer("mean", torch.zeros(features))
        self.register_buffer("scale", torch.ones(features))
        self.linear = nn.Linear(features, 3)
        with torch.no_grad():
            self.linear.weight.mul_(1e-4)  # small, so the roll-out stays bounded; the cost does not depend on it

    def forward(self, phi):
        return self.linear((phi - self.mean) / self.scale)


def median_rate(fn, count, warmup, reps):
    """(count per wall-clock second, count per cpu second of this process), medians over `reps` calls."""
    for _ in range(warmup):
        fn()
    wall, cpu = [], []
    for _ in range(reps):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return count / statistics.median(wall), count / statistics.median(cpu)


def time_pytorch(warmup, reps):
    torch.manual_seed(0)
    net = DenoisingResNet().eval()
    x0 = torch.randn(STATES, 3)
    rates = {}
    for n in (1, 6):
        backbone = FrozenBackbone(net, TAUS[n])
        with torch.no_grad():
            rates[("features", n)] = median_rate(lambda: backbone(x0), STATES, warmup, reps)
    heads = {("rollout_linear", 1): (1, RidgeHead(256)), ("rollout_linear", 6): (6, RidgeHead(1536)),
             ("rollout_mlp", 2): (2, nn.Sequential(nn.Linear(512, 256), nn.ReLU(), nn.Linear(256, 3)))}
    for key, (n, head) in heads.items():
        backbone = FrozenBackbone(net, TAUS[n])

        @torch.no_grad()
        def rollout():
            x = x0.clone()
            for _ in range(ITERATIONS):
                x = x + head(backbone(x))
            return x

        rates[key] = median_rate(rollout, STATES * ITERATIONS, warmup, reps)
    return rates


def run_ours(binary, reps, min_time):
    """{(benchmark, taus): (states per wall-clock second, states per cpu second)}, medians over the repetitions."""
    rates = {}
    for b in run_benchmark_json(binary, [], reps, min_time):
        m = re.match(r"BM_(\w+)/taus:(\d+)", b["name"])
        # states/s is per wall-clock second; real_time / cpu_time converts it to per cpu second.
        rates.setdefault((m[1], int(m[2])), []).append((b["states/s"], b["states/s"] * b["real_time"] / b["cpu_time"]))
    return {k: tuple(statistics.median(r[i] for r in v) for i in (0, 1)) for k, v in rates.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", nargs="?", default="build/release/benchmarks/bench_transfer")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--min-time", type=float, default=2.0)
    args = parser.parse_args()
    require_binary(args.binary, "bench_transfer")
    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # our program's threads, the same number
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, BLAS loaded: {loaded_blas()}", flush=True)
    ours = run_ours(args.binary, args.reps, args.min_time)
    theirs = time_pytorch(args.warmup, args.reps)
    names = {("features", 1): "features tau400", ("features", 6): "features 6 taus",
             ("rollout_linear", 1): "roll-out tau400 ridge", ("rollout_linear", 6): "roll-out 6-tau ridge",
             ("rollout_mlp", 2): "roll-out 2-tau MLP"}
    print()
    print("states per wall-clock second | states per cpu second of the process (robust to a shared machine at 1 thread)")
    print(f"{'':24} {'attractor':>10} {'PyTorch':>10} {'ratio':>6} | {'attractor':>10} {'PyTorch':>10} {'ratio':>6}")
    for key, name in names.items():
        if key in ours and key in theirs:
            (ow, oc), (tw, tc) = ours[key], theirs[key]
            print(f"{name:24} {ow:>10.0f} {tw:>10.0f} {ow / tw:>6.2f} | {oc:>10.0f} {tc:>10.0f} {oc / tc:>6.2f}")


if __name__ == "__main__":
    main()
