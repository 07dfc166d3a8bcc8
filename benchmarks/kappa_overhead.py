"""Overhead of measuring kappa_a(n) inside the training scan (`training.kappa_*`).

Run from the repo root, in the project virtualenv:  python benchmarks/kappa_overhead.py

The default preset's largest training job: width 1024, depth 2 (erf, biases), N 64 samples of
d 8 features, 20 runs, float32, `chunk_runs` 4 (`train_sweep(..., chunk=4)`), fewer steps than
the preset (--steps; the overhead of a uniform stride is a per-step ratio; with dense steps
D > 0 it depends on the steps, so use the preset's --steps 400, with fewer --runs). Variants:
kappa off, and every (stride, D, K) of --strides x --dense x --modes (D = 0: uniform stride).
Each variant is compiled once (first call, untimed), then
--rounds rounds call every variant once, round-robin (an A/B interleave under the varying load
of a shared machine). Reported: the overhead (t_variant / t_off - 1) of the median and of the
minimum times over the rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing  # noqa: E402

from nncosmo.models import build_model, init_params, training_apply_function  # noqa: E402
from nncosmo.training import initial_eigenvectors, train_sweep  # noqa: E402

MODEL = dict(depth=2, activation="erf", bias_std=1.0, use_bias=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=49)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--strides", default="1,5,25")
    parser.add_argument("--modes", default="1,8")
    parser.add_argument("--dense", default="0")
    parser.add_argument("--width", type=int, default=1024)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--chunk", type=int, default=4)
    args = parser.parse_args()

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8)).astype(np.float32)
    y = np.tanh(x.sum(axis=1) / np.sqrt(8)).astype(np.float32) + 1.0
    model = build_model(MODEL, args.width, jnp.float32)
    params = init_params(model, list(range(args.runs)), jnp.asarray(x))
    apply_fn = training_apply_function(model)
    etas = np.linspace(0.02, 0.5, args.runs)
    betas = np.full(args.runs, 0.9)
    modes = [int(k) for k in args.modes.split(",")]
    vectors = initial_eigenvectors(model, params, x, max(modes))
    variants = {"off": (None, 0, 0)}
    for stride in (int(s) for s in args.strides.split(",")):
        for dense in (int(d) for d in args.dense.split(",")):
            for k in modes:
                variants[f"stride {stride} dense {dense} K {k}"] = (vectors[:, :k], stride, dense)

    def call(name):
        v, stride, dense = variants[name]
        out = train_sweep(
            apply_fn, params, etas, betas, x, y, args.steps, [0, args.steps], chunk=args.chunk,
            kappa_vectors=v, kappa_stride=stride, kappa_dense=dense,
        )  # fmt: skip
        return _timing.block(out)

    print(f"machine: {_timing.cpu_model()}, {os.cpu_count()} cores, device {jax.devices()[0]}")
    print(f"width {args.width}, {args.runs} runs, N 64, {args.steps + 1} steps, chunk {args.chunk}")
    for name in variants:
        t0 = time.perf_counter()
        call(name)
        print(f"compile+first {name}: {time.perf_counter() - t0:.1f} s", flush=True)
    times = {name: [] for name in variants}
    for r in range(args.rounds):
        for name in variants:
            t0 = time.perf_counter()
            call(name)
            times[name].append(time.perf_counter() - t0)
        print(f"round {r + 1}: " + ", ".join(f"{n} {t[-1]:.2f}" for n, t in times.items()))
    med_off, min_off = statistics.median(times["off"]), min(times["off"])
    print("| variant | median s | min s | overhead median | overhead min |")
    for name, t in times.items():
        med, low = statistics.median(t), min(t)
        print(
            f"| {name} | {med:.2f} | {low:.2f} | {100 * (med / med_off - 1):+.0f} % "
            f"| {100 * (low / min_off - 1):+.0f} % |"
        )


if __name__ == "__main__":
    main()
