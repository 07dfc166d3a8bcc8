"""The floor: the default preset's arithmetic, and the time it takes at this machine's matmul peak.

    python benchmarks/floor.py                      # config.yaml; peaks measured here
    python benchmarks/floor.py --wall 260           # ... and the pipeline's wall time / floor
    python benchmarks/floor.py --config workflow/presets/tiny.yaml

Everything is counted from the config alone (`nncosmo.config.jobs`, `job_runs`, the data sets
built in memory for their sample and feature counts), in floating-point operations, a multiply
and an add counting 2. F = 2 N (d w + (depth - 1) w^2 + w) is one forward pass of the MLP's
matmuls over a job's N samples (d features, width w), as benchmarks/training_sweep.py counts.

  train     per job and run: (steps + 1) training steps of 3 F each (forward F, weight and input
            gradients 2 F), plus, at each step where kappa_a(n) is measured
            (`nncosmo.training.measured_steps`), kappa_modes pullbacks of 2 F each.
  ntk       per job, run and checkpoint: the structured kernel (`nncosmo.ntk.structured_ntk`),
            one forward F and one backward F pass and, per dense layer (fan_in -> fan_out), the
            two Gram matrices delta delta^T and h h^T, 2 N^2 (fan_out + fan_in); the symmetric
            eigendecomposition, 9 N^3 (reduction to tridiagonal form, its eigenvectors, the back
            transformation); per run, the residual modes u and u_end, 2 x 2 (steps + 1) N K,
            K = ntk.modes.
  cosmology per job, run and dictionary (nncosmo.cosmology.DICTIONARIES), plus two per
            scheduled run (its history image and continuum): K coupled fields integrated by
            Dopri8 (12 stages) at no fewer steps than the lattice (one per training step, the
            floor of any integrator on the network's own time grid), each stage 2 K^2 + 8 K
            (mass-matrix product, friction, update). A lower bound on work that is not matmul
            shaped; it is negligible either way.
  simulate  per target (cosmologies.targets): the float64 network (cosmologies.network.width,
            its data set) for target steps of 3 F, a pullback 2 F at every kappa_stride-th step,
            its initial NTK (as ntk, one checkpoint): timed at the float64 peak.
  data, duality, figures, claims: ~0 (Prony fits and fits of a few hundred numbers per run,
            plotting): not counted.

Floor time = FLOPs / peak per stage, float32 work at the float32 peak, float64 at the float64
peak; the peaks are the median GFLOP/s of a 2048 x 2048 matmul in this process (as
benchmarks/_timing / training_sweep.py measure it), which on this machine uses both cores. The
floor assumes perfect use of the peak by every stage and no start-up, I/O or Python at all: the
pipeline's wall time divided by it (--wall) says how far from "this machine doing only the
arithmetic" the pipeline is (performance goal 1, benchmarks/README.md: <= 2).
"""

from __future__ import annotations

import argparse
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "benchmarks"), os.path.join(ROOT, "src")]
import _timing  # noqa: E402
from training_sweep import flops_per_step, matmul_peak  # noqa: E402

from nncosmo.config import job_runs, job_width, jobs  # noqa: E402
from nncosmo.cosmology import DICTIONARIES  # noqa: E402
from nncosmo.data import make_dataset  # noqa: E402
from nncosmo.training import measured_steps  # noqa: E402

DOPRI8_STAGES = 12
EIGH_FLOPS_PER_N3 = 9


def forward_flops(n: int, d: int, width: int, depth: int) -> int:
    """F = 2 N (d w + (depth - 1) w^2 + w): one forward pass of the matmuls over N samples."""
    return flops_per_step(n, d, width, depth) // 3


def ntk_flops(n: int, d: int, width: int, depth: int) -> int:
    """One structured NTK (forward and backward F each, two Gram matrices per layer) and its
    eigendecomposition 9 N^3."""
    layers = [(d, width)] + [(width, width)] * (depth - 1) + [(width, 1)]
    grams = sum(2 * n * n * (fan_in + fan_out) for fan_in, fan_out in layers)
    return 2 * forward_flops(n, d, width, depth) + grams + EIGH_FLOPS_PER_N3 * n**3


def train_flops(config: dict, n: int, d: int, width: int, runs: int) -> int:
    """Training steps 3 F and kappa pullbacks 2 F per mode and measured step, all runs."""
    training, depth = config["training"], config["model"]["depth"]
    steps, forward = training["steps"], forward_flops(n, d, width, depth)
    stride = training.get("kappa_stride", 0)
    measured = len(measured_steps(steps, stride, training.get("kappa_dense_steps", 0)))
    kappa = measured * training.get("kappa_modes", 0) * 2 * forward if stride else 0
    return runs * ((steps + 1) * 3 * forward + kappa)


def job_flops(config: dict, dataset: str, job: str, n: int, d: int) -> dict:
    """FLOPs of one job's train, ntk and cosmology work."""
    runs, width, depth = job_runs(config, dataset, job), job_width(job), config["model"]["depth"]
    steps, checkpoints = config["training"]["steps"], len(config["training"]["checkpoints"])
    modes = config["ntk"]["modes"]
    scheduled = sum(r.get("schedule", {"kind": "constant"})["kind"] != "constant" for r in runs)
    integrations = len(runs) * len(DICTIONARIES) + 2 * scheduled
    return {
        "train": train_flops(config, n, d, width, len(runs)),
        "ntk": len(runs)
        * (checkpoints * ntk_flops(n, d, width, depth) + 4 * (steps + 1) * n * modes),
        "cosmology": integrations * steps * DOPRI8_STAGES * (2 * modes**2 + 8 * modes),
    }


def simulate_flops(config: dict, shapes: dict) -> int:
    """The simulate stage's float64 training, kappa pullbacks and initial NTK, all targets."""
    network, depth = config["cosmologies"]["network"], config["model"]["depth"]
    n, d = shapes[network["dataset"]]
    forward = forward_flops(n, d, network["width"], depth)
    total = 0
    for target in config["cosmologies"]["targets"].values():
        steps, stride = target["steps"], network["kappa_stride"]
        kappa = (steps // stride + 1) * 2 * forward if stride else 0
        total += (steps + 1) * 3 * forward + kappa + ntk_flops(n, d, network["width"], depth)
    return total


def count(config: dict) -> dict:
    """{stage: (FLOPs, dtype)} of the whole config, and {(dataset, job): train FLOPs}."""
    shapes = {name: make_dataset(name, spec).x.shape for name, spec in config["datasets"].items()}
    stages = {"train": 0, "ntk": 0, "cosmology": 0}
    per_job = {}
    for dataset, job in jobs(config):
        flops = job_flops(config, dataset, job, *shapes[dataset])
        per_job[dataset, job] = flops["train"]
        for stage, value in flops.items():
            stages[stage] += value
    dtype = config["training"]["dtype"]
    counted = {stage: (value, dtype) for stage, value in stages.items()}
    counted["cosmology"] = (stages["cosmology"], "float64")
    if config.get("cosmologies", {}).get("targets"):
        counted["simulate"] = (simulate_flops(config, shapes), "float64")
    return counted, per_job


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=os.path.join(ROOT, "config.yaml"))
    parser.add_argument("--wall", type=float, default=None, help="pipeline wall time, seconds")
    parser.add_argument("--repeats", type=int, default=20, help="timed matmuls per peak")
    args = parser.parse_args()
    jax.config.update("jax_enable_x64", True)  # for the float64 peak
    with open(args.config) as fh:
        config = yaml.safe_load(fh)
    print(f"machine: {_timing.cpu_model()}, {os.cpu_count()} logical CPUs, jax {jax.__version__}")
    peaks = {
        name: matmul_peak(args.repeats, 2048, getattr(jnp, name)) for name in ("float32", "float64")
    }
    for name, (median, best) in peaks.items():
        print(f"{name} 2048x2048 matmul: {median:.1f} GFLOP/s median, {best:.1f} best")
    counted, per_job = count(config)
    print(f"\n{os.path.relpath(args.config, ROOT)}: train FLOPs per job")
    for (dataset, job), flops in per_job.items():
        print(f"  {dataset}/{job}: {flops / 1e9:9.1f} GFLOP")
    print("\n| stage | GFLOP | dtype | floor s (median peak) | floor s (best peak) |")
    print("|---|---|---|---|---|")
    total = np.zeros(2)
    for stage, (flops, dtype) in counted.items():
        times = np.array([flops / 1e9 / peak for peak in peaks[dtype]])
        total += times
        print(f"| {stage} | {flops / 1e9:.1f} | {dtype} | {times[0]:.2f} | {times[1]:.2f} |")
    print(f"| **total** | {sum(f for f, _ in counted.values()) / 1e9:.1f} | | "
          f"**{total[0]:.1f}** | {total[1]:.1f} |")  # fmt: skip
    print("(data, duality, figures, claims: ~0, not counted)")
    if args.wall:
        print(
            f"\nwall {args.wall:.0f} s / floor {total[0]:.1f} s = {args.wall / total[0]:.2f}x "
            f"(against the best peak: {args.wall / total[1]:.2f}x)"
        )


if __name__ == "__main__":
    main()
