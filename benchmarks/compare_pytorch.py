#!/usr/bin/env python3
"""One training step of the Lorenz-63 denoising network, attractor against PyTorch, side by side in one run.

    /usr/bin/python3 benchmarks/compare_pytorch.py [build/release/benchmarks/bench_training]

Builds the paper's network (specs/lorenz63-ddm.md §2, 1,185,283 parameters) in PyTorch and times a full step
(forward, MSE loss, backward, Adam at lr 3e-4, zero_grad) in eager fp32 on the cpu with 2 threads, at batch 16384
and 2048: warm-up steps, then the median of several timed steps. Then it runs our bench_training with
--benchmark_format=json and prints samples/s for both and the ratio. Inputs are random states z ~ N(0, 1), random
targets and pseudo-times uniform in 1..1000, drawn up front, as in bench_training. PyTorch computes FiLM for every
sample, as the reference code does; the ratio column divides each of our rows by PyTorch's figure at the same batch.
If a CUDA device is visible to PyTorch, its GPU step is timed and printed too.
"""

import argparse
import json
import math
import os
import re
import statistics
import subprocess
import sys
import time

try:
    import torch
    from torch import nn
except ImportError:
    print("PyTorch is not installed: install python3-torch (Debian) to compare")
    sys.exit(0)

BATCHES = (16384, 2048)
N_PARAMETERS = 1_185_283


class TimeEmbedding(nn.Module):
    """512 sinusoidal features of the raw integer pseudo-time: [sin(tau f_k), cos(tau f_k)], f_k from 1 to 1e-4."""

    def __init__(self, dim=512):
        super().__init__()
        half = dim // 2
        k = torch.arange(half, dtype=torch.float32)
        self.register_buffer("frequencies", torch.exp(-k * math.log(10000.0) / (half - 1)))

    def forward(self, tau):
        arg = tau.float()[:, None] * self.frequencies[None, :]
        return torch.cat([torch.sin(arg), torch.cos(arg)], dim=-1)


class Block(nn.Module):
    """h + gamma * fc2(relu(fc1(LN(h) * (1 + scale) + shift))), with [scale, shift] = film(e)."""

    def __init__(self, hidden=256, embedding=512, gamma_init=1e-6):
        super().__init__()
        self.film = nn.Linear(embedding, 2 * hidden)
        self.fc1 = nn.Linear(hidden, hidden)
        self.fc2 = nn.Linear(hidden, hidden)
        self.gamma = nn.Parameter(torch.full((hidden,), gamma_init))
        self.norm = nn.LayerNorm(hidden, elementwise_affine=False, eps=1e-5)

    def forward(self, h, e):
        scale, shift = self.film(e).chunk(2, dim=-1)
        branch = self.fc2(torch.relu(self.fc1(self.norm(h) * (1 + scale) + shift)))
        return h + self.gamma * branch


class DenoisingResNet(nn.Module):
    def __init__(self, inputs=3, hidden=256, blocks=3, embedding=512):
        super().__init__()
        self.embedding = TimeEmbedding(embedding)
        self.inp = nn.Linear(inputs, hidden)
        self.blocks = nn.ModuleList([Block(hidden, embedding) for _ in range(blocks)])
        self.out = nn.Linear(hidden, inputs)

    def forward(self, z, tau):
        e = self.embedding(tau)
        h = self.inp(z)
        for block in self.blocks:
            h = block(h, e)
        return self.out(h)


def time_pytorch(device, batch, warmup, reps):
    """Median samples/s of `reps` training steps after `warmup` untimed ones."""
    torch.manual_seed(0)
    model = DenoisingResNet().to(device)
    count = sum(p.numel() for p in model.parameters())
    if count != N_PARAMETERS:
        sys.exit(f"the PyTorch network has {count} parameters, expected {N_PARAMETERS}")
    opt = torch.optim.Adam(model.parameters(), lr=3e-4)
    loss_fn = nn.MSELoss()
    z = torch.randn(batch, 3, device=device)
    target = torch.randn(batch, 3, device=device)
    taus = [torch.randint(1, 1001, (batch,), device=device) for _ in range(8)]

    def step(i):
        loss = loss_fn(model(z, taus[i % len(taus)]), target)
        loss.backward()
        opt.step()
        opt.zero_grad()

    for i in range(warmup):
        step(i)
    seconds = []
    for i in range(reps):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        step(i)
        if device == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return batch / statistics.median(seconds), seconds


def run_benchmark_json(binary, extra_args, reps, min_time):
    """Runs a Google Benchmark program with JSON output; returns its per-repetition entries."""
    cmd = [binary, "--benchmark_format=json", *extra_args, f"--benchmark_repetitions={reps}",
           f"--benchmark_min_time={min_time}"]
    print("running:", " ".join(cmd), flush=True)
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    return [b for b in json.loads(out)["benchmarks"] if b.get("run_type") == "iteration"]


def benchmark_medians(binary, name, counter, reps, min_time):
    """Runs the benchmarks `name/<arg>:<N>...` of a Google Benchmark program `reps` times; returns
    {N: (median of `counter`, its values over the repetitions)}."""
    values = {}
    for b in run_benchmark_json(binary, [f"--benchmark_filter={name}/"], reps, min_time):
        m = re.match(rf"{name}/\w+:(\d+)", b["name"])
        values.setdefault(int(m[1]), []).append(b[counter])
    return {key: (statistics.median(v), v) for key, v in values.items()}


def run_ours(binary, reps, min_time):
    """Median samples/s of each bench_training benchmark over `reps` repetitions: {(batch, mode, threads): rate}."""
    rates = {}
    for b in run_benchmark_json(binary, ["--benchmark_filter=BM_training_step"], reps, min_time):
        m = re.match(r"BM_training_step<conditioning::(\w+)>/batch:(\d+)/threads:(\d+)", b["name"])
        rates.setdefault((int(m[2]), m[1], int(m[3])), []).append(b["samples/s"])
    return {key: statistics.median(v) for key, v in rates.items()}


def require_binary(path, target):
    """Exits with the commands that build `target` where our benchmark program `path` is missing."""
    if not os.path.isfile(path):
        sys.exit(f"{path} not found: build it with `cmake --preset release && "
                 f"cmake --build --preset release --target {target}`")


def loaded_blas():
    """The BLAS library this process has loaded (PyTorch's Linear layers run on it), from /proc/self/maps."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if re.search(r"/lib[^/]*blas[^/]*\.so", line)}
        return ", ".join(sorted(os.path.realpath(p) for p in paths)) or "none found"
    except OSError:
        return "unknown"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", nargs="?", default="build/release/benchmarks/bench_training")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads (default 2)")
    parser.add_argument("--warmup", type=int, default=1, help="untimed PyTorch steps (default 1)")
    parser.add_argument("--reps", type=int, default=3, help="timed PyTorch steps, and our repetitions (default 3)")
    parser.add_argument("--min-time", type=float, default=1.0, help="our --benchmark_min_time (default 1 s)")
    args = parser.parse_args()

    require_binary(args.binary, "bench_training")
    torch.set_num_threads(args.threads)
    blas_info = re.search(r"BLAS_INFO=(\w+)", torch.__config__.show())
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, BLAS_INFO="
          f"{blas_info[1] if blas_info else '?'}, BLAS loaded: {loaded_blas()}", flush=True)

    ours = run_ours(args.binary, args.reps, args.min_time)

    theirs = {}
    for batch in BATCHES:
        rate, seconds = time_pytorch("cpu", batch, args.warmup, args.reps)
        theirs[batch] = rate
        print(f"PyTorch cpu, batch {batch}: step times " + ", ".join(f"{s:.3f}" for s in seconds) + " s", flush=True)

    print()
    print(f"{'batch':>6} {'conditioning':>12} {'threads':>7} {'attractor samples/s':>20} "
          f"{'PyTorch samples/s':>18} {'ratio':>7}")
    for (batch, mode, threads), rate in sorted(ours.items(), key=lambda kv: (-kv[0][0], kv[0][1], -kv[0][2])):
        peer = theirs.get(batch)
        ratio = f"{rate / peer:7.1f}" if peer else f"{'-':>7}"
        peer_text = f"{peer:18.0f}" if peer else f"{'-':>18}"
        print(f"{batch:>6} {mode:>12} {threads:>7} {rate:>20.0f} {peer_text} {ratio}")
    print(f"(PyTorch: per-sample FiLM, as the reference code, {torch.get_num_threads()} threads; "
          f"ratio = attractor / PyTorch at the same batch)")

    if torch.cuda.is_available():
        print()
        for batch in BATCHES:
            rate, _ = time_pytorch("cuda", batch, max(args.warmup, 3), max(args.reps, 10))
            print(f"PyTorch GPU ({torch.cuda.get_device_name()}), batch {batch}: {rate:.0f} samples/s")


if __name__ == "__main__":
    main()
