"""Where a simulate job's time goes, phase by phase, and its training scan against its matmuls.

Run from the repo root, in the project virtualenv, after a default run (it reads
results/data/<dataset>.nc):  python benchmarks/simulate_job.py

For every target of config.yaml's `cosmologies`, in one process on one XLA thread (as the
simulate rule's job runs), `nncosmo.simulate.simulate` itself, with timing wrappers around the
functions it calls: the parameters' initialisation (`models.init_params`), the target field
(`target_field`, a diffrax integration traced and compiled per target), the top NTK mode, the
initial velocity, and `train_schedule` (its first call traces, compiles and runs), then
`train_schedule` called again with the same arguments (the steady rate). GFLOP/s count the
forward and backward matmuls of the network, 3 F per step with F = 2 N (d w + (depth - 1) w^2 +
w), not the kappa measurement of every `kappa_stride`-th step. The bound: the w x w layer's
three matmuls (forward, weight and input gradient) chained alone over 1000 steps in float64.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time

if {"-h", "--help"} & set(sys.argv[1:]):  # no options: say what it does instead of running
    print(__doc__)
    sys.exit(0)
os.environ["PJRT_NPROC"] = "1"  # read when JAX creates its CPU client: one thread, as the job
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from nncosmo import models  # noqa: E402
from nncosmo import simulate as sim  # noqa: E402
from nncosmo.io import read_dataset  # noqa: E402

jax.config.update("jax_enable_x64", True)  # as scripts/simulate.py
STEPS = ("target_field", "top_mode", "initial_velocity", "train_schedule")  # timed, in order


def timed(phases: dict, calls: dict, name: str, function):
    """`function`, its seconds (results computed) added to phases[name] and its arguments kept
    in calls[name] at every call."""

    def wrapper(*args, **kwargs):
        calls[name] = (args, kwargs)
        start = time.perf_counter()
        result = jax.block_until_ready(function(*args, **kwargs))
        phases[name] = phases.get(name, 0.0) + time.perf_counter() - start
        return result

    return wrapper


@contextlib.contextmanager
def timing(phases: dict, calls: dict, functions: list[tuple]):
    """Every (module, name) of `functions` replaced by its `timed` wrapper inside the block."""
    originals = [(module, name, getattr(module, name)) for module, name in functions]
    try:
        for module, name, function in originals:
            setattr(module, name, timed(phases, calls, name, function))
        yield
    finally:
        for module, name, function in originals:
            setattr(module, name, function)


def phases(target: dict, network: dict, model, x: np.ndarray) -> dict:
    """Seconds of `simulate.simulate` for one target, in all and in each of its steps (timing
    wrappers around the functions it calls), then of its `train_schedule` called again with the
    same arguments (compiled by then: the steady rate)."""
    times, calls = {}, {}
    steps = [(models, "init_params")] + [(sim, name) for name in STEPS]
    with timing(times, calls, steps):
        start = time.perf_counter()
        sim.simulate(target, network, model, x)
        times["simulate, in all"] = time.perf_counter() - start
    args, kwargs = calls["train_schedule"]
    start = time.perf_counter()
    jax.block_until_ready(sim.train_schedule(*args, **kwargs))
    times["train_schedule again"] = time.perf_counter() - start
    return times


def matmul_bound(width: int, samples: int, steps: int = 1000) -> float:
    """GFLOP/s of the w x w layer's forward, weight-gradient and input-gradient matmuls of one
    run, float64, chained over `steps` in one `lax.scan`."""
    h = jax.random.normal(jax.random.key(1), (samples, width), jnp.float64)
    w = jax.random.normal(jax.random.key(2), (width, width), jnp.float64) / width**0.5

    def step(carry, _):
        h, w = carry
        z = h @ w
        return (h + 1e-3 * (z @ w.T), w + 1e-9 * (h.T @ z)), None

    chain = jax.jit(lambda h, w: jax.lax.scan(step, (h, w), None, length=steps)[0])
    jax.block_until_ready(chain(h, w))
    start = time.perf_counter()
    jax.block_until_ready(chain(h, w))
    return 3 * 2 * samples * width * width * steps / (time.perf_counter() - start) / 1e9


def main() -> None:
    with open(os.path.join(ROOT, "config.yaml")) as fh:
        config = yaml.safe_load(fh)
    network = config["cosmologies"]["network"]
    path = os.path.join(ROOT, "results", "data", f"{network['dataset']}.nc")
    x = read_dataset(path, ["x"]).x.values
    model = models.build_model(config["model"], network["width"], jnp.float64)
    samples, inputs, width = x.shape[0], x.shape[1], network["width"]
    flops_per_step = (
        3 * 2 * samples * (inputs * width + (config["model"]["depth"] - 1) * width**2 + width)
    )
    for name, target in sorted(config["cosmologies"]["targets"].items()):
        times = phases(target, network, model, x)
        steps = target["steps"] + 1
        run = times["train_schedule again"]
        print(f"{name}: {steps} steps, " + ", ".join(f"{k} {v:.2f} s" for k, v in times.items()))
        rate = flops_per_step * steps / run / 1e9
        print(f"  training scan {run / steps * 1e3:.2f} ms/step, {rate:.1f} GFLOP/s")
    bound = matmul_bound(width, samples)
    print(f"bound: the w{width} layer's three matmuls alone, {bound:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
