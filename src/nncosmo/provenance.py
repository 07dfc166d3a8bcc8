"""Provenance: who made a result, from what, on which machine.

Every dataset and figure carries the resolved config, its hash, the seeds, the git commit (and
whether the tree was dirty), package versions, the platform, the JAX device and JAX's precision
settings, as JSON strings in its attributes.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import platform
import subprocess
import sys
import time
from functools import cache
from importlib import metadata
from pathlib import Path

PACKAGES = (
    "nncosmo",
    "jax",
    "jaxlib",
    "flax",
    "optax",
    "diffrax",
    "xarray",
    "netCDF4",
    "numpy",
    "scipy",
    "snakemake",
    "seaborn",
    "matplotlib",
    "scikit-learn",
)


def config_hash(config: dict) -> str:
    """sha256 of the canonical JSON form of a config (sorted keys), first 16 hex digits."""
    blob = json.dumps(config, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


@cache
def git_state(root: str = ".") -> dict:
    """Commit hash and dirty flag of the git tree at `root` ("unknown" outside a repository or
    where git is not installed)."""

    def git(*args: str) -> str:
        try:
            out = subprocess.run(
                ["git", "-C", root, *args], capture_output=True, text=True, check=False
            )
        except FileNotFoundError:  # no git executable on PATH
            return ""
        return out.stdout.strip() if out.returncode == 0 else ""

    commit = git("rev-parse", "HEAD") or "unknown"
    dirty = (
        bool(git("status", "--porcelain", "--untracked-files=no")) if commit != "unknown" else None
    )
    return {"commit": commit, "dirty": dirty}


@cache
def package_versions() -> dict:
    """Installed versions of the packages the results depend on."""
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def runtime_state() -> dict:
    """Platform, and the JAX backend/device and precision settings where this process runs JAX
    (a stage that does not, e.g. duality, figures, claims, is not made to import it): JAX's
    global default matmul precision, and the precision the network's own products pass to
    every matmul (`nncosmo.models.PRECISION`), where the process loaded the models."""
    host = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
    }
    jax = sys.modules.get("jax")
    if jax is None:
        return host
    return {
        **host,
        "jax_backend": jax.default_backend(),
        "jax_devices": [str(d) for d in jax.devices()],
        "jax_enable_x64": bool(jax.config.jax_enable_x64),
        "jax_default_matmul_precision": str(jax.config.jax_default_matmul_precision),
        **network_precision(),
    }


def network_precision() -> dict:
    """{"network_matmul_precision": name of `nncosmo.models.PRECISION`} if the models are loaded."""
    models = sys.modules.get("nncosmo.models")
    return {} if models is None else {"network_matmul_precision": models.PRECISION.name}


def provenance(config: dict, **extra) -> dict:
    """Provenance record: config, config hash, git state, versions, runtime, extras (seeds...)."""
    return {
        "config": config,
        "config_hash": config_hash(config),
        "git": git_state(str(Path(__file__).resolve().parents[2])),
        "packages": package_versions(),
        "runtime": runtime_state(),
        **extra,
    }


def stage_logger(log_path: str | Path, name: str):
    """A logger writing progress lines to the rule's log file and to stderr."""
    import logging
    import sys

    logger = logging.getLogger(f"nncosmo.{name}")
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(name)s: %(message)s", "%H:%M:%S")
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    for handler in (logging.FileHandler(log_path, mode="w"), logging.StreamHandler(sys.stderr)):
        handler.setFormatter(fmt)
        logger.addHandler(handler)
    return logger


def progress_logger(log, start: float):
    """The training scan's progress callback: logs the share of the job's steps done (the C
    chunks of runs train one after another, N + 1 steps each), the chunk and its step, the
    seconds since `start` (a `time.perf_counter` reading) and, from the second report on, the
    time left at the rate since the first (which came after compiling)."""
    first = None  # (seconds, share done) at the first report

    def report(step, chunk, steps, chunks):
        nonlocal first
        elapsed = time.perf_counter() - start
        done = (chunk * (steps + 1) + step + 1) / (chunks * (steps + 1))
        first = first or (elapsed, done)
        (t0, d0), left = first, ""
        if done > d0:
            left = f", about {(elapsed - t0) / (done - d0) * (1 - done):.0f} s left"
        log.info(
            "%3.0f %% of the job (chunk %d/%d at step %d/%d), %.1f s%s",
            100 * done, chunk + 1, chunks, step, steps, elapsed, left,
        )  # fmt: skip

    return report


def start_job(smk, name: str):
    """The first statement of every stage script's main: XLA's CPU thread pool sized to the
    threads Snakemake gave the job (`PJRT_NPROC`, read when JAX creates its CPU client at the
    job's first computation; Snakemake sets OMP_NUM_THREADS and the BLAS variables alike), so
    that the jobs Snakemake runs side by side do not each start a thread per core
    (benchmarks/README.md §10); returns the job's `stage_logger`."""
    os.environ["PJRT_NPROC"] = str(smk.threads)
    log = stage_logger(smk.log[0], name)
    # an uncaught exception's traceback into the rule's log too (show-failed-logs prints that log)
    sys.excepthook = lambda *exc: log.critical("job failed", exc_info=exc)
    return log


def end_job() -> None:
    """The last statement of every stage script: freeze the heap (`gc.freeze`) so that CPython's
    exit skips its full garbage collections over the imported jax, xarray and flax objects,
    0.2-0.45 s of every job (benchmarks/README.md §10). Nothing else changes at exit: outputs
    are already written and closed, and logging's own exit hook still flushes the log."""
    gc.freeze()
