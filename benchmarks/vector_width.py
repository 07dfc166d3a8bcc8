"""The erf activation, its derivative and tanh at XLA's default and at 512-bit CPU vectors.

Run from the repo root, in the project virtualenv:  python benchmarks/vector_width.py

XLA's CPU backend asks LLVM for 256-bit vectors unless `--xla_cpu_prefer_vector_width` says
otherwise (pipeline jobs run with the caller's XLA_FLAGS; benchmarks/README.md §19 measured
512 for the whole pipeline and kept the default). This script
times, on one XLA thread, the element-wise kernels of a width-W training step: the activation
erf(z), its derivative (2/sqrt(pi)) exp(-z^2) as autodiff computes it (the gradient of
sum(erf(z))), exp(-z^2) alone, and tanh for comparison, on a --dtype (float32) array of the
step's shape (RUNS, 64 samples, W), in a fresh process per vector width (XLA reads its flags
once per process), the two widths alternating over --rounds rounds. Each timed call applies the
kernel 100 times inside one compiled loop.
Prints ns per element, median over rounds of each process's median of --repeats warm calls.
Options: --width W (128), --runs R (10), --dtype float32|float64 (float32; the simulate jobs
train in float64), --rounds N (3), --repeats N (20).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing  # noqa: E402

WIDTHS = {"256 (XLA default)": "--xla_cpu_prefer_vector_width=256",
          "512": "--xla_cpu_prefer_vector_width=512"}  # fmt: skip
ITERATIONS = 100


def kernels(shape: tuple[int, ...], dtype: str) -> dict:
    """The timed element-wise programs on a normal array of `dtype`: each applies its kernel
    ITERATIONS times in one jitted `lax.fori_loop` (z <- kernel(z)), so dispatch does not count."""
    import jax
    import jax.numpy as jnp

    jax.config.update("jax_enable_x64", dtype == "float64")
    z = jax.random.normal(jax.random.key(0), shape, dtype) * 2
    elementwise = {
        "erf": jax.lax.erf,
        "erf derivative": jax.grad(lambda a: jax.lax.erf(a).sum()),
        "exp(-z^2)": lambda a: jnp.exp(-a * a),
        "tanh": jnp.tanh,
    }

    def iterated(kernel):
        program = jax.jit(lambda a: jax.lax.fori_loop(0, ITERATIONS, lambda _, b: kernel(b), a))
        return lambda: program(z)

    return {name: iterated(kernel) for name, kernel in elementwise.items()}


def child(shape: tuple[int, ...], dtype: str, repeats: int) -> None:
    """Time every kernel in this process; print {name: ns per element} as JSON."""
    size = shape[0] * shape[1] * shape[2]
    result = {}
    for name, call in kernels(shape, dtype).items():
        seconds = _timing.time_fn(call, repeats, warmup=3)["median_s"]
        result[name] = seconds / (size * ITERATIONS) * 1e9
    print(json.dumps(result))


def measure(flags: str, args) -> dict:
    """One fresh process with XLA_FLAGS `flags` and one XLA thread; its ns per element."""
    env = {**os.environ, "XLA_FLAGS": flags, "PJRT_NPROC": "1", "JAX_PLATFORMS": "cpu"}
    command = [sys.executable, __file__, "--child", "--width", str(args.width), "--runs",
               str(args.runs), "--dtype", args.dtype, "--repeats", str(args.repeats)]  # fmt: skip
    out = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child((args.runs, 64, args.width), args.dtype, args.repeats)
        return
    print(f"machine: {_timing.cpu_model()}, shape ({args.runs}, 64, {args.width}) {args.dtype}, "
          f"1 XLA thread, {args.rounds} rounds of {args.repeats} warm calls")  # fmt: skip
    rounds = {label: [] for label in WIDTHS}
    for i in range(args.rounds):
        order = list(WIDTHS) if i % 2 == 0 else list(reversed(WIDTHS))
        for label in order:
            rounds[label].append(measure(WIDTHS[label], args))
    names = list(rounds[next(iter(WIDTHS))][0])
    print(f"{'ns per element':22s}" + "".join(f"{name:>16s}" for name in names))
    for label, results in rounds.items():
        medians = [statistics.median(r[name] for r in results) for name in names]
        print(f"{label:22s}" + "".join(f"{m:16.3f}" for m in medians))


if __name__ == "__main__":
    main()
