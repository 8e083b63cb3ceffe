#!/usr/bin/env python3
"""One training step of the periodic U-Net, attractor against PyTorch and JAX, side by side in one run.

    /usr/bin/python3 benchmarks/compare_pytorch_unet.py [build/release/benchmarks/bench_unet] \\
        [--threads 2] [--jax-python /tmp/peer/bin/python3]
    python3 benchmarks/compare_pytorch_unet.py build/cuda/benchmarks/bench_unet_cuda --device cuda

Builds nn::unet (include/attractor/nn/unet.hpp: the response paper's NoiseConditionalScoreNetwork, periodic) in
PyTorch (nn.Conv2d with padding_mode='circular', nn.GroupNorm then SiLU, nn.Upsample nearest, torch.cat, a Gaussian
Fourier projection with fixed frequencies) and in JAX (lax.conv_general_dilated on jnp.pad(mode='wrap') inputs in
NHWC, a hand-written group norm, the whole step under jax.jit), with our parameter names and counts (the fixed
frequencies are counted, as nn::parameter_count counts them: an nn.Parameter with requires_grad=False in PyTorch, a
constant in JAX). It times, on the cpu in fp32, the step bench_unet times: t ~ U(1e-5, 1), z ~ N(0, I), x_t = x0 +
sigma(t) z under the VE SDE (sigma_min 0.01, sigma_max 14), loss mean((z + net(x_t, t))^2), backward, clipping of the
global gradient norm to 1, Adam at lr 2e-4 (PyTorch's defaults otherwise), an EMA of the weights at 0.999; at batch 128
for two configurations: allen_cahn (channels 32, 64, 128, 256, 8 residual blocks, embedding 256) and small (16, 32,
64, 2 residual blocks, embedding 64). Warm-up steps, then the median of several timed steps.

Then it runs our bench_unet (--benchmark_format=json) in the same invocation and prints samples/s for the three and
the ratios ours / PyTorch and ours / JAX, and from bench_unet's BM_conv2d rows the convolutions' share of our step.
JAX runs in a second interpreter (a venv with jax, never a project dependency: `python3 -m venv /tmp/peer &&
/tmp/peer/bin/pip install jax numpy`) restricted to `--threads` cores (sched_setaffinity, and XLA's Eigen pool to one
thread at --threads 1); PyTorch runs here under torch.set_num_threads; our program under OMP_NUM_THREADS.
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

BATCH = 128
SIDE = 32
SIGMA_MIN, SIGMA_MAX = 0.01, 14.0
T_MIN = 1e-5
LR, CLIP, EMA_DECAY = 2e-4, 1.0, 0.999
CONFIGS = {
    "allen_cahn": dict(channels=(32, 64, 128, 256), residual=8, embedding=256),
    "small": dict(channels=(16, 32, 64), residual=2, embedding=64),
}
FIRST_GROUPS, GROUPS, SCALE = 4, 32, 30.0
DATA_ROWS = 512


def groups_at(level, channels):
    """nn::unet's group counts: first_groups at level 0, else min(groups, C)."""
    return FIRST_GROUPS if level == 0 else min(GROUPS, channels)


def residual_groups(channels):
    return min(max(channels // 4, 1), GROUPS)


# --------------------------------------------------------------------------------------------------- PyTorch ---

def torch_unet(cfg):
    import torch
    from torch import nn

    class GaussianFourierProjection(nn.Module):
        def __init__(self, embedding):
            super().__init__()
            self.W = nn.Parameter(torch.randn(embedding // 2) * SCALE, requires_grad=False)

        def forward(self, t):
            a = 2 * math.pi * t[:, None] * self.W[None, :]
            return torch.cat([torch.sin(a), torch.cos(a)], dim=1)

    def conv(cin, cout, stride=1, bias=False):
        return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, padding_mode="circular", bias=bias)

    class GNSwish(nn.Sequential):
        def __init__(self, groups, channels):
            super().__init__(nn.GroupNorm(groups, channels, eps=1e-5), nn.SiLU())

    class ResnetBlock(nn.Module):
        def __init__(self, c, e):
            super().__init__()
            g = residual_groups(c)
            self.GroupNorm_0, self.Conv_0, self.Dense_0 = GNSwish(g, c), conv(c, c, bias=True), nn.Linear(e, c)
            self.GroupNorm_1, self.Conv_1 = GNSwish(g, c), conv(c, c, bias=True)

        def forward(self, x, e):
            h = self.Conv_0(self.GroupNorm_0(x)) + self.Dense_0(e)[:, :, None, None]
            return x + self.Conv_1(self.GroupNorm_1(h))

    class UNet(nn.Module):
        def __init__(self, channels, residual, embedding):
            super().__init__()
            c, e, levels = channels, embedding, len(channels)
            self.gaussfourierproj = GaussianFourierProjection(e)
            self.linear = nn.Linear(e, e)
            self.convs = nn.ModuleList([conv(1 if l == 0 else c[l - 1], c[l], 1 if l == 0 else 2)
                                        for l in range(levels)])
            self.denses = nn.ModuleList([nn.Linear(e, c[l]) for l in range(levels)])
            self.gnorms = nn.ModuleList([GNSwish(groups_at(l, c[l]), c[l]) for l in range(levels - 1)])
            self.resnet_blocks = nn.ModuleList([ResnetBlock(c[-1], e) for _ in range(residual)])
            self.gnorm_bottleneck = GNSwish(groups_at(levels - 1, c[-1]), c[-1])
            self.up = nn.Upsample(scale_factor=2, mode="nearest")
            self.tconvs = nn.ModuleList([conv(c[l - 1] if l == levels else 2 * c[l - 1], c[l - 2])
                                         for l in range(levels, 1, -1)])
            self.denseups = nn.ModuleList([nn.Linear(e, c[l - 2]) for l in range(levels, 1, -1)])
            self.tgnorms = nn.ModuleList([GNSwish(groups_at(l - 2, c[l - 2]), c[l - 2])
                                          for l in range(levels, 1, -1)])
            self.tconv1 = conv(2 * c[0], 1, bias=True)

        def forward(self, x, t):
            e = nn.functional.silu(self.linear(self.gaussfourierproj(t)))
            skips, h = [], x
            for l, (cv, dense) in enumerate(zip(self.convs, self.denses)):
                h = cv(h) + dense(e)[:, :, None, None]
                if l < len(self.gnorms):
                    h = self.gnorms[l](h)
                    skips.append(h)
            for block in self.resnet_blocks:
                h = block(h, e)
            h = self.gnorm_bottleneck(h)
            for d, (cv, dense, norm) in enumerate(zip(self.tconvs, self.denseups, self.tgnorms)):
                if d > 0:
                    h = torch.cat([h, skips[len(skips) - d]], dim=1)
                h = norm(cv(self.up(h)) + dense(e)[:, :, None, None])
            return self.tconv1(torch.cat([h, skips[0]], dim=1))

    return UNet(cfg["channels"], cfg["residual"], cfg["embedding"])


def time_pytorch(name, warmup, reps, device="cpu", batch=BATCH):
    """(samples/s median, parameter count, trainable count, per-step seconds, samples per cpu second median). On
    cuda each step ends with torch.cuda.synchronize(), so a step's time is the GPU's."""
    import torch

    torch.manual_seed(0)
    net = torch_unet(CONFIGS[name]).to(device)
    params = list(net.parameters())
    trainable = [p for p in params if p.requires_grad]
    opt = torch.optim.Adam(trainable, lr=LR)
    ema = [p.detach().clone() for p in params]
    data_rows = max(DATA_ROWS, batch)
    data = torch.randn(data_rows, 1, SIDE, SIDE, device=device)
    log_ratio = math.log(SIGMA_MAX / SIGMA_MIN)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    def step(i):
        rows = (torch.arange(batch, device=device) + i * batch) % data_rows
        x0 = data[rows]
        t = T_MIN + (1 - T_MIN) * torch.rand(batch, device=device)
        z = torch.randn_like(x0)
        sigma = SIGMA_MIN * torch.exp(t * log_ratio)
        loss = torch.mean((z + net(x0 + sigma[:, None, None, None] * z, t)) ** 2)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, CLIP)
        opt.step()
        with torch.no_grad():
            for a, p in zip(ema, params):
                a.mul_(EMA_DECAY).add_(p, alpha=1 - EMA_DECAY)
        return loss

    for i in range(warmup):
        step(i)
    sync()
    times, cpu = [], []
    for i in range(reps):
        start, start_cpu = time.perf_counter(), time.process_time()
        step(warmup + i)
        sync()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return (batch / statistics.median(times), sum(p.numel() for p in params), sum(p.numel() for p in trainable),
            times, batch / statistics.median(cpu))


# ------------------------------------------------------------------------------------------------------- JAX ---

def jax_main(name, warmup, reps, threads):
    """Runs in the JAX interpreter; prints one JSON line {rate, parameters, times, version}."""
    if threads > 0:
        os.sched_setaffinity(0, set(sorted(os.sched_getaffinity(0))[:threads]))
    import jax
    import jax.numpy as jnp
    from jax import lax

    cfg = CONFIGS[name]
    c, e, levels = cfg["channels"], cfg["embedding"], len(cfg["channels"])
    key = jax.random.PRNGKey(0)

    def uniform(key, shape, bound):
        return jax.random.uniform(key, shape, jnp.float32, -bound, bound)

    params = {}

    def add_conv(pname, cin, cout, bias):
        nonlocal key
        key, k1, k2 = jax.random.split(key, 3)
        bound = 1 / math.sqrt(cin * 9)
        params[pname + ".weight"] = uniform(k1, (3, 3, cin, cout), bound)  # HWIO
        if bias:
            params[pname + ".bias"] = uniform(k2, (cout,), bound)

    def add_dense(pname, cin, cout):
        nonlocal key
        key, k1, k2 = jax.random.split(key, 3)
        bound = 1 / math.sqrt(cin)
        params[pname + ".weight"] = uniform(k1, (cin, cout), bound)
        params[pname + ".bias"] = uniform(k2, (cout,), bound)

    def add_norm(pname, ch):
        params[pname + ".weight"] = jnp.ones((ch,), jnp.float32)
        params[pname + ".bias"] = jnp.zeros((ch,), jnp.float32)

    key, kw = jax.random.split(key)
    fourier_w = jax.random.normal(kw, (e // 2,), jnp.float32) * SCALE  # fixed: a constant, not differentiated
    add_dense("linear", e, e)
    for l in range(levels):
        add_conv(f"conv{l + 1}", 1 if l == 0 else c[l - 1], c[l], False)
        add_dense(f"dense{l + 1}", e, c[l])
        if l < levels - 1:
            add_norm(f"gnorm{l + 1}", c[l])
    for b in range(cfg["residual"]):
        p = f"resnet_blocks.{b}."
        add_norm(p + "GroupNorm_0", c[-1])
        add_conv(p + "Conv_0", c[-1], c[-1], True)
        add_dense(p + "Dense_0", e, c[-1])
        add_norm(p + "GroupNorm_1", c[-1])
        add_conv(p + "Conv_1", c[-1], c[-1], True)
    add_norm(f"gnorm{levels}", c[-1])
    for l in range(levels, 1, -1):
        add_conv(f"tconv{l}", c[l - 1] if l == levels else 2 * c[l - 1], c[l - 2], False)
        add_dense(f"denseup{l}", e, c[l - 2])
        add_norm(f"tgnorm{l}", c[l - 2])
    add_conv("tconv1", 2 * c[0], 1, True)
    n_params = sum(int(v.size) for v in params.values()) + int(fourier_w.size)

    def conv(p, pname, x, stride=1):
        x = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="wrap")
        y = lax.conv_general_dilated(x, p[pname + ".weight"], (stride, stride), "VALID",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
        return y + p[pname + ".bias"] if pname + ".bias" in p else y

    def dense(p, pname, x):
        return x @ p[pname + ".weight"] + p[pname + ".bias"]

    def gn_swish(p, pname, x, groups):
        n, h, w, ch = x.shape
        xg = x.reshape(n, h, w, groups, ch // groups)
        mean = xg.mean(axis=(1, 2, 4), keepdims=True)
        var = jnp.mean(jnp.square(xg - mean), axis=(1, 2, 4), keepdims=True)
        y = ((xg - mean) * lax.rsqrt(var + 1e-5)).reshape(n, h, w, ch)
        return jax.nn.silu(y * p[pname + ".weight"] + p[pname + ".bias"])

    def up(x):
        return jnp.repeat(jnp.repeat(x, 2, axis=1), 2, axis=2)

    def net(p, x, t):
        a = 2 * math.pi * t[:, None] * fourier_w[None, :]
        emb = jax.nn.silu(dense(p, "linear", jnp.concatenate([jnp.sin(a), jnp.cos(a)], axis=1)))
        skips, h = [], x
        for l in range(levels):
            h = conv(p, f"conv{l + 1}", h, 1 if l == 0 else 2) + dense(p, f"dense{l + 1}", emb)[:, None, None, :]
            if l < levels - 1:
                h = gn_swish(p, f"gnorm{l + 1}", h, groups_at(l, c[l]))
                skips.append(h)
        for b in range(cfg["residual"]):
            q, g = f"resnet_blocks.{b}.", residual_groups(c[-1])
            r = conv(p, q + "Conv_0", gn_swish(p, q + "GroupNorm_0", h, g)) + dense(p, q + "Dense_0", emb)[:, None,
                                                                                                              None, :]
            h = h + conv(p, q + "Conv_1", gn_swish(p, q + "GroupNorm_1", r, g))
        h = gn_swish(p, f"gnorm{levels}", h, groups_at(levels - 1, c[-1]))
        for d, l in enumerate(range(levels, 1, -1)):
            if d > 0:
                h = jnp.concatenate([h, skips[len(skips) - d]], axis=3)
            h = conv(p, f"tconv{l}", up(h)) + dense(p, f"denseup{l}", emb)[:, None, None, :]
            h = gn_swish(p, f"tgnorm{l}", h, groups_at(l - 2, c[l - 2]))
        return conv(p, "tconv1", jnp.concatenate([h, skips[0]], axis=3))

    log_ratio = math.log(SIGMA_MAX / SIGMA_MIN)

    def loss_fn(p, x0, t, z):
        sigma = SIGMA_MIN * jnp.exp(t * log_ratio)
        return jnp.mean(jnp.square(z + net(p, x0 + sigma[:, None, None, None] * z, t)))

    b1, b2, eps = 0.9, 0.999, 1e-8

    @jax.jit
    def step(p, m, v, avg, count, x0, key):
        kt, kz = jax.random.split(key)
        t = T_MIN + (1 - T_MIN) * jax.random.uniform(kt, (BATCH,), jnp.float32)
        z = jax.random.normal(kz, x0.shape, jnp.float32)
        loss, grads = jax.value_and_grad(loss_fn)(p, x0, t, z)
        norm = jnp.sqrt(sum(jnp.sum(jnp.square(g)) for g in jax.tree_util.tree_leaves(grads)))
        factor = jnp.where(norm > CLIP, CLIP / (norm + 1e-6), 1.0)
        grads = jax.tree_util.tree_map(lambda g: g * factor, grads)
        count = count + 1
        m = jax.tree_util.tree_map(lambda m_, g: b1 * m_ + (1 - b1) * g, m, grads)
        v = jax.tree_util.tree_map(lambda v_, g: b2 * v_ + (1 - b2) * g * g, v, grads)
        step_size = LR / (1 - b1**count)
        bias2 = jnp.sqrt(1 - b2**count)
        p = jax.tree_util.tree_map(lambda w, m_, v_: w - step_size * m_ / (jnp.sqrt(v_) / bias2 + eps), p, m, v)
        avg = jax.tree_util.tree_map(lambda a, w: EMA_DECAY * a + (1 - EMA_DECAY) * w, avg, p)
        return p, m, v, avg, count, loss

    zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
    state = (params, zeros, jax.tree_util.tree_map(jnp.zeros_like, params),
             jax.tree_util.tree_map(jnp.array, params), jnp.float32(0))
    data = jax.random.normal(jax.random.PRNGKey(1), (DATA_ROWS, SIDE, SIDE, 1), jnp.float32)
    compile_start = time.perf_counter()
    times, cpu = [], []
    for i in range(warmup + reps):
        rows = (jnp.arange(BATCH) + i * BATCH) % DATA_ROWS
        x0 = data[rows]
        x0.block_until_ready()
        start, start_cpu = time.perf_counter(), time.process_time()
        *state, loss = step(*state, x0, jax.random.PRNGKey(100 + i))
        loss.block_until_ready()
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - start_cpu
        if i == 0:
            compile_seconds = time.perf_counter() - compile_start
        if i >= warmup:
            times.append(seconds)
            cpu.append(cpu_seconds)
    print(json.dumps({"rate": BATCH / statistics.median(times), "cpu_rate": BATCH / statistics.median(cpu), "parameters": n_params, "times": times,
                      "compile_seconds": compile_seconds, "version": jax.__version__,
                      "loss": float(loss)}), flush=True)


def time_jax(python, name, warmup, reps, threads):
    env = dict(os.environ)
    if threads == 1:
        env["XLA_FLAGS"] = (env.get("XLA_FLAGS", "") +
                            " --xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1").strip()
    cmd = [python, os.path.abspath(__file__), "--jax-only", name, "--warmup", str(warmup), "--reps", str(reps),
           "--threads", str(threads)]
    print("running:", " ".join(cmd), flush=True)
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


# ------------------------------------------------------------------------------------------------------ ours ---

def run_ours(binary, reps, min_time):
    """{config: (median samples/s, parameters, median step seconds, median samples per cpu second, median step cpu
    seconds)} and {config: [(layer, per step, median seconds, median GFLOP/s, median cpu seconds)]}; cpu seconds
    are the main thread's (Google Benchmark's cpu_time), the work itself at one thread."""
    cmd = [binary, "--benchmark_format=json", f"--benchmark_repetitions={reps}", f"--benchmark_min_time={min_time}"]
    print("running:", " ".join(cmd), flush=True)
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    rows = [b for b in json.loads(out)["benchmarks"] if b.get("run_type") == "iteration"]
    steps, convs = {}, {}
    for b in rows:
        m = re.match(r"BM_unet_step/(\w+)/", b["name"])
        if m:
            steps.setdefault(m[1], []).append(b)
            continue
        m = re.match(r"BM_conv2d/(\w+)/([^/]+/[^/]+/stride:\d)", b["name"])
        if m:
            convs.setdefault((m[1], m[2]), []).append(b)
    med = statistics.median
    # cpu_time is the main thread's: per cpu second only at one thread.
    step_out = {k: (med(b["samples/s"] for b in v), int(v[0]["parameters"]), med(b["real_time"] for b in v) / 1e3,
                    med(b["samples/s"] * b["real_time"] / b["cpu_time"] for b in v), med(b["cpu_time"] for b in v) / 1e3)
                for k, v in steps.items()}
    conv_out = {}
    for (config, layer), v in convs.items():
        conv_out.setdefault(config, []).append(
            (layer, int(v[0]["per step"]), med(b["real_time"] for b in v) / 1e3, med(b["GFLOP/s"] for b in v),
             med(b["cpu_time"] for b in v) / 1e3))
    return step_out, conv_out


def main_cuda(args):
    """--device cuda: bench_unet_cuda's steps beside PyTorch eager on the same GPU, FP32 and TF32, at each batch."""
    import torch

    if not torch.cuda.is_available():
        sys.exit("--device cuda: torch.cuda.is_available() is false")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from compare_pytorch import require_binary

    require_binary(args.binary, "bench_unet_cuda")
    print(f"PyTorch {torch.__version__} on {torch.cuda.get_device_name()}, cuDNN {torch.backends.cudnn.version()}",
          flush=True)
    cmd = [args.binary, "--benchmark_format=json", f"--benchmark_repetitions={args.reps}",
           f"--benchmark_min_time={args.min_time}"]
    print("running:", " ".join(cmd), flush=True)
    out = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True).stdout
    ours = {}
    for b in json.loads(out)["benchmarks"]:
        m = re.match(r"BM_unet_step_cuda/(\w+)/batch:(\d+)/tf32:(\d)", b["name"])
        if m and b.get("run_type") == "iteration":
            ours.setdefault((m[1], int(m[2]), m[3] == "1"), []).append(b["samples/s"])
    print(f"{'config':12} {'batch':>6} {'tf32':>5} {'attractor':>10} {'PyTorch':>10} {'ours/PT':>8}   (samples/s, medians)")
    for (name, batch, tf32), rates in sorted(ours.items()):
        if name not in args.configs.split(","):
            continue
        torch.backends.cuda.matmul.allow_tf32 = tf32
        torch.backends.cudnn.allow_tf32 = tf32
        torch.backends.cudnn.benchmark = True
        pt = time_pytorch(name, max(args.warmup, 3), args.reps, "cuda", batch)
        rate = statistics.median(rates)
        print(f"{name:12} {batch:>6} {int(tf32):>5} {rate:>10.1f} {pt[0]:>10.1f} {rate / pt[0]:>8.2f}", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("binary", nargs="?", default="build/release/benchmarks/bench_unet")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--warmup", type=int, default=1, help="untimed peer steps (default 1)")
    parser.add_argument("--reps", type=int, default=3, help="timed peer steps, and our repetitions (default 3)")
    parser.add_argument("--min-time", type=float, default=1.0, help="our --benchmark_min_time (default 1 s)")
    parser.add_argument("--jax-python", default="/tmp/peer/bin/python3", help="an interpreter with jax installed")
    parser.add_argument("--configs", default="allen_cahn,small")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu",
                        help="cuda: the binary is bench_unet_cuda, PyTorch runs on the GPU, JAX is skipped")
    parser.add_argument("--jax-only", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.device == "cuda":
        main_cuda(args)
        return
    if args.jax_only:
        jax_main(args.jax_only, args.warmup, args.reps, args.threads)
        return

    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is not installed: install python3-torch (Debian) to compare")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from compare_pytorch import loaded_blas, require_binary

    require_binary(args.binary, "bench_unet")
    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # our program's threads, the same number
    configs = args.configs.split(",")
    print(f"PyTorch {torch.__version__}, {torch.get_num_threads()} threads, mkldnn "
          f"{torch.backends.mkldnn.is_available()}, BLAS loaded: {loaded_blas()}", flush=True)

    ours, convs = run_ours(args.binary, args.reps, args.min_time)
    theirs, jaxes = {}, {}
    for name in configs:
        theirs[name] = time_pytorch(name, args.warmup, args.reps)
        print(f"PyTorch {name}: {theirs[name][0]:.1f} samples/s, steps {[round(s, 3) for s in theirs[name][3]]} s",
              flush=True)
        if os.path.exists(args.jax_python):
            jaxes[name] = time_jax(args.jax_python, name, args.warmup, args.reps, args.threads)
            print(f"JAX {jaxes[name]['version']} {name}: {jaxes[name]['rate']:.1f} samples/s, steps "
                  f"{[round(s, 3) for s in jaxes[name]['times']]} s, first call (compile) "
                  f"{jaxes[name]['compile_seconds']:.1f} s", flush=True)
        else:
            print(f"{args.jax_python} not found: JAX skipped", flush=True)

    print()
    print(f"samples/s at batch {BATCH}, {args.threads} thread(s) each; medians. Per wall-clock second | per cpu "
          f"second of the process (ours: of the main thread; comparable at one thread only)")
    print(f"{'config':12} {'parameters':>10} {'attractor':>10} {'PyTorch':>10} {'JAX':>10} {'ours/PT':>8} "
          f"{'ours/JAX':>8} | {'attractor':>10} {'PyTorch':>10} {'JAX':>10} {'ours/PT':>8} {'ours/JAX':>8}")
    for name in configs:
        rate, n, _, cpu_rate, _ = ours[name]
        pt_rate, pt_n, pt_trainable, _, pt_cpu = theirs[name]
        jx = jaxes.get(name)
        counts = {n, pt_n} | ({jx["parameters"]} if jx else set())
        if len(counts) != 1:
            print(f"PARAMETER COUNTS DIFFER for {name}: ours {n}, PyTorch {pt_n}, JAX {jx and jx['parameters']}")
        jx_rate, jx_cpu = (jx["rate"], jx["cpu_rate"]) if jx else (float("nan"), float("nan"))
        print(f"{name:12} {n:>10,} {rate:>10.1f} {pt_rate:>10.1f} {jx_rate:>10.1f} {rate / pt_rate:>8.2f} "
              f"{rate / jx_rate:>8.2f} | {cpu_rate:>10.1f} {pt_cpu:>10.1f} {jx_cpu:>10.1f} {cpu_rate / pt_cpu:>8.2f} "
              f"{cpu_rate / jx_cpu:>8.2f}")
    print(f"(PyTorch trainable parameters, the fixed Fourier frequencies left out: "
          f"{', '.join(f'{k} {v[2]:,}' for k, v in theirs.items())})")

    for name in configs:
        if name not in convs:
            continue
        step_seconds, step_cpu = ours[name][2], ours[name][4]
        total = sum(r[1] * r[2] for r in convs[name])
        total_cpu = sum(r[1] * r[4] for r in convs[name])
        flops = sum(r[1] * r[2] * r[3] for r in convs[name])
        print()
        print(f"{name}: our convolutions alone (forward + backward, batch {BATCH}), medians; cpu: of the main thread")
        print(f"{'layer':40} {'per step':>8} {'ms':>9} {'cpu ms':>9} {'GFLOP/s':>8} {'ms x count':>10}")
        for layer, count, seconds, gflops, cpu_seconds in convs[name]:
            print(f"{layer:40} {count:>8} {seconds * 1e3:>9.1f} {cpu_seconds * 1e3:>9.1f} {gflops:>8.1f} "
                  f"{count * seconds * 1e3:>10.1f}")
        print(f"sum {total * 1e3:.0f} ms of a {step_seconds * 1e3:.0f} ms step: {100 * total / step_seconds:.0f} % in "
              f"convolutions (by cpu time: {total_cpu * 1e3:.0f} of {step_cpu * 1e3:.0f} ms, "
              f"{100 * total_cpu / step_cpu:.0f} %), at {flops / total:.1f} GFLOP/s over {flops:.1f} GFLOP "
              f"({flops / total_cpu:.1f} per cpu second)")


if __name__ == "__main__":
    main()
