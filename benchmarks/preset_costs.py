"""Costs of each preset from its config alone: jobs, disk use per stage, runtime and peak memory.

Run from the repository root after a complete default run (`snakemake --cores 2` of config.yaml,
which leaves its benchmark rows in results/benchmarks and its files in results/):

    python benchmarks/preset_costs.py [--results results] [--cores 2]

What is exact and what is estimated:
- jobs per stage: exact (nncosmo.config.jobs).
- disk: exact array bytes from the shapes and dtypes of each stage's datasets, plus 30 kB of
  HDF5 metadata per file (measured: 29-30 kB on the default run's files). Training files come
  from nncosmo.config.training_file_bytes (runs x checkpoints x parameters x dtype bytes dominate);
  for digits it is an upper bound (up to 64 pixels; the data stage drops constant ones). The
  script prints the model against the default run's file sizes.
- runtime and peak memory: ESTIMATES for the CPU machine the default run was measured on, by
  scaling that run's Snakemake benchmark rows (s = job wall time, max_rss = peak resident memory):
    train      s = a + b x runs x steps x samples x params (FLOPs of forward + backward passes)
    ntk        s = a + b x runs x checkpoints x samples x (params + samples x hidden units)
               (per sample a backward pass; per layer the Gram matrices of the structured NTK)
    cosmology  s = a + b x runs x modes x steps (every dictionary, one integration per mode)
    duality    s = a + b x runs x modes
    data, figures, claims: the default's slowest job of that rule (they read small files),
               once per job of the preset (figures: its figures.jobs rendering jobs)
    max_rss of train and ntk = a + b x training file bytes of the job (the train job holds the
    checkpointed parameters, the ntk job reads its whole training file); cosmology, duality,
    data: the default's largest; figures and claims: the default's largest plus the bytes of the
    ntk, cosmology and duality files they read.
  (a, b) >= 0 are least-squares fits (scipy.optimize.nnls) to the default run's jobs of the rule.
  Wall clock with `cores` cores = max(summed job time / cores, longest job chain), which ignores
  Snakemake's own overhead (printed for the default run against its measured wall clock).
- GPU: not measured. On a GPU a train job needs (checkpoints + 3) x runs x params x dtype bytes
  of device memory (saved checkpoints, parameters, velocity, gradient), printed as an estimate;
  the CPU runtimes are no guide to GPU runtimes.
"""

import argparse
import csv
from pathlib import Path

import numpy as np
import yaml
from scipy.optimize import nnls
from snakemake.utils import validate

from nncosmo.config import (
    ITEMSIZE,
    figure_jobs,
    job_runs,
    job_width,
    jobs,
    n_features,
    n_params,
    training_file_bytes,
)
from nncosmo.cosmology import DICTIONARIES

ROOT = Path(__file__).resolve().parents[1]
PRESETS = {
    "default": ROOT / "config.yaml",
    "tiny": ROOT / "workflow/presets/tiny.yaml",
    "workstation": ROOT / "workflow/presets/workstation.yaml",
    "paper": ROOT / "workflow/presets/paper.yaml",
}
JOB_STAGES = ("train", "ntk", "cosmology", "duality")
HDF5_OVERHEAD = 30_000


def load_config(path: Path) -> dict:
    """A config file, validated against the schema (which fills in the defaults)."""
    config = yaml.safe_load(path.read_text())
    validate(config, str(ROOT / "workflow/schemas/config.schema.yaml"))
    return config


def job_shape(config: dict, dataset: str, job: str) -> dict:
    """The sizes that set a job's arrays and work."""
    spec, training = config["datasets"][dataset], config["training"]
    width = job_width(job)
    return {
        "runs": len(job_runs(config, dataset, job)),
        "steps": training["steps"] + 1,
        "checkpoints": len(training["checkpoints"]),
        "samples": spec["n_samples"],
        "modes": config["ntk"]["modes"],
        "params": n_params(config["model"], n_features(spec), width),
        "hidden": config["model"]["depth"] * width,
        "item": ITEMSIZE[training["dtype"]],
    }


def stage_bytes(config: dict, dataset: str, job: str, stage: str) -> int:
    """Array bytes of one file of `stage` (variables and coordinates of nncosmo's datasets)."""
    if stage == "train":
        return training_file_bytes(config, dataset, job)
    j = job_shape(config, dataset, job)
    c, n, k, s, item = j["checkpoints"], j["samples"], j["modes"], j["steps"], j["item"]
    d = len(DICTIONARIES)
    per_run = {
        # ntk, drift: dtype; eigenvalue, eigenvector, overlap, u, u_end, residual_norm, tau: float64
        "ntk": c * n * n * (item + 8) + c * n * 8 + c * (8 + item) + 2 * s * k * 8 + 2 * s * 8,
        # field and mass2 (dictionary, step, mode), hubble (dictionary), tau (step), kappa_matrix
        # and coupled_mass2 (checkpoint, mode, mode_): float64
        "cosmology": 2 * d * s * k * 8 + d * 8 + s * 8 + 2 * c * k * k * 8,
        "duality": k * (2 + 8 * (15 + c)) + 2 * 8,  # 15 (run, mode) float64 variables, kappa
    }[stage]
    coords = {
        "ntk": 8 * (s + c + 3 * n + k),
        "cosmology": 8 * (s + 2 * k + c) + d * 4 * max(map(len, DICTIONARIES)),  # <U strings
        "duality": 8 * (k + c) + 72,
    }[stage]
    return j["runs"] * (per_run + 33) + coords  # 33: run, eta, beta, seed, diverged


def work(config: dict, dataset: str, job: str, stage: str) -> float:
    """The cost the runtime of a `stage` job is scaled by (see the module docstring)."""
    j = job_shape(config, dataset, job)
    return {
        "train": j["runs"] * j["steps"] * j["samples"] * j["params"],
        "ntk": j["runs"]
        * j["checkpoints"]
        * j["samples"]
        * (j["params"] + j["samples"] * j["hidden"]),
        "cosmology": j["runs"] * j["modes"] * j["steps"],
        "duality": j["runs"] * j["modes"],
    }[stage]


def benchmark_row(path: Path) -> dict:
    """The last row of a Snakemake benchmark file: s, max_rss (MB), ..."""
    with path.open() as handle:
        return list(csv.DictReader(handle, delimiter="\t"))[-1]


def fit(x: list[float], y: list[float]) -> tuple[float, float]:
    """(a, b) >= 0 minimising |a + b x - y| (scipy.optimize.nnls)."""
    design = np.column_stack([np.ones(len(x)), np.asarray(x, float)])
    scale = design.max(axis=0)
    coef, _ = nnls(design / scale, np.asarray(y, float))
    return tuple(coef / scale)


def calibrate(default: dict, results: Path) -> dict:
    """Per-stage fits of time and memory to the default run's benchmark rows."""
    bench = results / "benchmarks"
    models = {}
    for stage in JOB_STAGES:
        rows = [benchmark_row(bench / stage / d / f"{job}.tsv") for d, job in jobs(default)]
        seconds = [float(r["s"]) for r in rows]
        rss = [float(r["max_rss"]) * 1e6 for r in rows]
        costs = [work(default, d, job, stage) for d, job in jobs(default)]
        train_files = [training_file_bytes(default, d, job) for d, job in jobs(default)]
        models[stage] = {
            "time": fit(costs, seconds),
            "rss": fit(train_files, rss) if stage in ("train", "ntk") else (max(rss), 0.0),
        }
    for rule, paths in {
        "data": sorted((bench / "data").glob("*.tsv")),
        "figures": sorted(bench.glob("figures_*.tsv")),
        "claims": [bench / "claims.tsv"],
    }.items():
        rows = [benchmark_row(p) for p in paths]
        models[rule] = {
            "time": (max(float(r["s"]) for r in rows), 0.0),
            "rss": (max(float(r["max_rss"]) for r in rows) * 1e6, 0.0),
        }
    return models


def costs(config: dict, models: dict, cores: int) -> dict:
    """Jobs, disk bytes per stage, estimated seconds and peak memory for one config."""
    out = {"jobs": len(jobs(config)), "disk": {}, "rss": {}, "seconds": {}}
    chains = [0.0] * len(jobs(config))
    for stage in JOB_STAGES:
        a, b = models[stage]["time"]
        seconds = [a + b * work(config, d, job, stage) for d, job in jobs(config)]
        chains = [t + c for t, c in zip(seconds, chains, strict=True)]
        a, b = models[stage]["rss"]
        out["rss"][stage] = max(a + b * training_file_bytes(config, d, j) for d, j in jobs(config))
        out["disk"][stage] = sum(
            stage_bytes(config, d, j, stage) + HDF5_OVERHEAD for d, j in jobs(config)
        )
        out["seconds"][stage] = sum(seconds)
    datasets = {d for d, _ in jobs(config)}
    read_by_figures = sum(out["disk"][stage] for stage in ("ntk", "cosmology", "duality"))
    counts = {"data": len(datasets), "figures": len(figure_jobs(config)), "claims": 1}
    for rule, count in counts.items():
        out["seconds"][rule] = models[rule]["time"][0] * count
        out["rss"][rule] = models[rule]["rss"][0] + (rule != "data") * read_by_figures
    out["longest_chain"] = max(chains) + models["figures"]["time"][0] + models["claims"]["time"][0]
    out["wall"] = max(sum(out["seconds"].values()) / cores, out["longest_chain"])
    out["gpu_train"] = max(
        training_file_bytes(config, d, j)
        * (len(config["training"]["checkpoints"]) + 3)
        // len(config["training"]["checkpoints"])
        for d, j in jobs(config)
    )
    return out


def check_disk_model(default: dict, results: Path) -> None:
    """Print the disk model against the default run's file sizes."""
    print("disk model vs the default run's files (bytes):")
    for stage in JOB_STAGES:
        for d, job in jobs(default):
            size = (results / stage / d / f"{job}.nc").stat().st_size
            model = stage_bytes(default, d, job, stage)
            print(f"  {stage}/{d}/{job}: model {model}, on disk {size}, difference {size - model}")


def human(n: float) -> str:
    """Bytes in decimal units."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.3g} {unit}"
    return f"{n:.0f} B"


def duration(seconds: float) -> str:
    """Seconds as h / min / s."""
    if seconds >= 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 120 else f"{seconds:.0f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    default = load_config(PRESETS["default"])
    check_disk_model(default, args.results)
    models = calibrate(default, args.results)
    print(f"\nfits (a, b): {models}\n")
    print(
        "| preset | training jobs | train / ntk / cosmology / duality disk | "
        f"est. summed job time | est. wall ({args.cores} cores) | est. peak memory per job "
        "train / ntk / other | est. GPU memory, largest train job |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, path in PRESETS.items():
        c = costs(load_config(path), models, args.cores)
        disk = " / ".join(human(c["disk"][s]) for s in JOB_STAGES)
        other = max(v for k, v in c["rss"].items() if k not in ("train", "ntk"))
        rss = f"{human(c['rss']['train'])} / {human(c['rss']['ntk'])} / {human(other)}"
        print(
            f"| {name} | {c['jobs']} | {disk} | {duration(sum(c['seconds'].values()))} | "
            f"{duration(c['wall'])} | {rss} | {human(c['gpu_train'])} |"
        )


if __name__ == "__main__":
    main()
