"""Shared helpers of the benchmark scripts: warm-run timing, peak memory, machine name.

Imported by the scripts as `_timing` (the script's folder is first on sys.path). Needs only the
standard library and numpy, so the neural-tangents worker (its own virtualenv) can use it too.
"""

from __future__ import annotations

import json
import platform
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable


def block(out):
    """Wait for JAX results (any pytree) to be computed; a no-op for numpy/python values."""
    try:
        import jax

        return jax.block_until_ready(out)
    except ImportError:  # pragma: no cover - workers always have jax
        return out


def time_fn(fn: Callable, repeats: int, warmup: int = 1) -> dict:
    """First call (trace + compile + run) timed on its own, then `warmup` untimed calls, then
    `repeats` timed warm calls. Returns seconds: first, median, min, max, all warm times."""
    t0 = time.perf_counter()
    out = block(fn())
    first = time.perf_counter() - t0
    for _ in range(warmup):
        out = block(fn())
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = block(fn())
        times.append(time.perf_counter() - t0)
    return {
        "first_s": first,
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "repeats": repeats,
        "times_s": times,
        "out": out,
    }


def strip(stats: dict) -> dict:
    """`time_fn` result without the output (for JSON)."""
    return {k: v for k, v in stats.items() if k != "out"}


def max_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_model() -> str:
    """lscpu's 'Model name' (falls back to platform.processor())."""
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown"


def emit(result: dict) -> None:
    """Worker output: one JSON line prefixed so the driver can find it among XLA warnings."""
    print("RESULT " + json.dumps(result), flush=True)


def parse_result(stdout: str) -> dict | None:
    """The result a worker `emit`ted on `stdout`, None if it printed none."""
    for line in stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    return None


def run_worker(argv: list[str], env: dict | None = None) -> dict:
    """Run a worker subprocess (fresh process: its own peak RSS) and parse its RESULT line."""
    proc = subprocess.run(argv, capture_output=True, text=True, env=env)
    result = parse_result(proc.stdout)
    if result is not None:
        return result
    sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
    raise RuntimeError(f"worker {argv} failed with exit code {proc.returncode}")


def fmt_ms(stats: dict) -> str:
    """median [min, max] in ms, compile time separately."""
    return (
        f"median {1e3 * stats['median_s']:9.2f} ms  min {1e3 * stats['min_s']:9.2f}  "
        f"max {1e3 * stats['max_s']:9.2f}  (n={stats['repeats']}, first call incl. compile "
        f"{stats['first_s']:.2f} s)"
    )
