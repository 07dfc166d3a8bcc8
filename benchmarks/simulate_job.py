"""Where a simulate job's time goes, phase by phase, and its training scan against its matmuls.

Run from the repo root, in the project virtualenv, after a default run (it reads
results/data/<dataset>.nc):  python benchmarks/simulate_job.py

For every target of config.yaml's `cosmologies`, in one process on one XLA thread (as the
simulate rule's job runs), the steps of `nncosmo.simulate.simulate` timed one by one: the
parameters' initialisation, the target field (`target_field`, a diffrax integration traced and
compiled per target), the top NTK mode, the initial velocity and data, then `train_schedule`
traced, compiled, run once and run again (the steady rate). GFLOP/s count the forward and
backward matmuls of the network, 3 F per step with F = 2 N (d w + (depth - 1) w^2 + w), not the
kappa measurement of every `kappa_stride`-th step. The bound: the w x w layer's three matmuls
(forward, weight and input gradient) chained alone over 1000 steps in float64.
"""

from __future__ import annotations

import os
import sys
import time

os.environ["PJRT_NPROC"] = "1"  # read when JAX creates its CPU client: one thread, as the job
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "src"))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import yaml  # noqa: E402

from nncosmo import simulate as sim  # noqa: E402
from nncosmo import theory  # noqa: E402
from nncosmo.io import read_dataset  # noqa: E402
from nncosmo.models import build_model, init_params, training_apply_function  # noqa: E402

jax.config.update("jax_enable_x64", True)  # as scripts/simulate.py


class Clock:
    """Seconds of each named phase, in order (each phase ends when `mark` is called)."""

    def __init__(self):
        self.phases, self.last = {}, time.perf_counter()

    def mark(self, name: str, result=None):
        jax.block_until_ready(result)
        now = time.perf_counter()
        self.phases[name], self.last = now - self.last, now
        return result


def phases(target: dict, network: dict, model, x: np.ndarray) -> dict:
    """`simulate.simulate`'s steps for one target, each timed (its body, phase by phase)."""
    clock = Clock()
    params = clock.mark(
        "init", jax.tree.map(lambda a: a[0], init_params(model, [network["seed"]], jnp.asarray(x)))
    )
    apply_fn = training_apply_function(model)
    field = clock.mark("target field", sim.target_field(target))
    t, dt = sim.target_times(target)
    beta, xk = sim.lattice_schedule(field["H"], target["mass"], dt)
    vector, lam0 = clock.mark("top mode", sim.top_mode(model, params, x))
    kappa0, eps = theory.ntk_kappa(lam0, x.shape[0]), network["amplitude"]
    shift = eps * (target["phi0"] - sim.previous_field(target, field["H"][0], dt))
    velocity = sim.initial_velocity(apply_fn, params, x, vector, lam0, shift)
    y = np.asarray(jax.jit(apply_fn)(params, x)) - eps * target["phi0"] * vector
    clock.mark("velocity, data", velocity)
    args = (params, velocity, xk / kappa0, beta, x, y, vector)
    lowered = clock.mark(
        "trace", sim.train_schedule.lower(apply_fn, *args, network["kappa_stride"])
    )
    compiled = clock.mark("compile", lowered.compile())
    clock.mark("first run", compiled(*args))
    clock.mark("second run", compiled(*args))
    return clock.phases


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
    model = build_model(config["model"], network["width"], jnp.float64)
    samples, inputs, width = x.shape[0], x.shape[1], network["width"]
    flops_per_step = (
        3 * 2 * samples * (inputs * width + (config["model"]["depth"] - 1) * width**2 + width)
    )
    for name, target in sorted(config["cosmologies"]["targets"].items()):
        times = phases(target, network, model, x)
        steps = target["steps"] + 1
        run = times["second run"]
        print(f"{name}: {steps} steps, " + ", ".join(f"{k} {v:.2f} s" for k, v in times.items()))
        rate = flops_per_step * steps / run / 1e9
        print(f"  training scan {run / steps * 1e3:.2f} ms/step, {rate:.1f} GFLOP/s")
    bound = matmul_bound(width, samples)
    print(f"bound: the w{width} layer's three matmuls alone, {bound:.1f} GFLOP/s")


if __name__ == "__main__":
    main()
