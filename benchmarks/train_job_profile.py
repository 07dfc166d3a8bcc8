"""Where one training job's time goes: its phases, its step's kernels by kind, and whether two
jobs side by side beat one job on both cores.

    python benchmarks/train_job_profile.py teacher 1024               # phases of the job
    python benchmarks/train_job_profile.py teacher 128 --kernels      # ... and the step's kernels
    python benchmarks/train_job_profile.py digits 1024 --side-by-side # 2 jobs x 1 thread, 1 x 2
    python benchmarks/train_job_profile.py teacher 1024 --build F1,F2,F3,F4,F5,F6
    python benchmarks/train_job_profile.py teacher 128 --kernels --no-kappa  # goal 4's setup

The job is config.yaml's (dataset, width) job (`--config`, `--build` as `figures.build`), run as
the train rule runs it: `nncosmo.training.sweep_dataset` with the config's steps, checkpoints,
chunks and kappa, on `--threads` XLA threads (default 1, as every pipeline job). Each measurement
is a fresh Python process (this script again, `--child`).

Phases, seconds: `imports` (nncosmo.training and the data), `trace` and `compile` per program
(jax.monitoring's trace/lowering and backend-compile durations by program name: `run_all` is the
training scan, `_stacked_init` the parameter initialisation, the rest the initial NTK and small
programs), `run` the rest of `sweep_dataset` (the initialisation and eigenvectors as computed,
the training, building the dataset), `total` the call's wall clock.

`--kernels`: the training program's HLO (XLA's dump after optimisation) sorts the kernels of a
second, compiled call, profiled (`jax.profiler`), into `matmul` (a dot, or a fusion that holds
one: XLA CPU's XNNPACK fusions), `activation` (fusions holding erf or exp: the erf activation
and its derivative 2/sqrt(pi) exp(-z^2)) and `other` (updates, loss, copies, bias reductions);
loops and conditionals are containers of kernels that are counted themselves. The profiler adds
time per kernel, so shares, not sums, are what to read. "ceiling" = matmul / (matmul +
activation): the fraction of a bound that counts matmuls only (performance goal 4 of
benchmarks/README.md, benchmarks/training_sweep.py) that a step can reach if everything but its
activation were free.

`--side-by-side`: two processes of the job at once with one XLA thread each (what two pipeline
jobs on two cores do) against the two one after the other with two threads each.
"""

from __future__ import annotations

import argparse
import collections
import glob
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import _timing  # noqa: E402

CONTAINERS = ("while", "conditional", "call")
PHASE_EVENTS = {  # jax.monitoring duration events -> phase
    "/jax/core/compile/jaxpr_trace_duration": "trace",
    "/jax/core/compile/jaxpr_to_mlir_module_duration": "trace",
    "/jax/core/compile/backend_compile_duration": "compile",
}


def job_call(args):
    """`sweep_dataset` of the job, as a no-argument callable (imports timed by the caller)."""
    import functools

    import numpy as np
    import yaml

    from nncosmo.config import runs_for
    from nncosmo.data import make_dataset
    from nncosmo.models import build_model
    from nncosmo.training import sweep_dataset

    with open(args.config) as handle:
        config = yaml.safe_load(handle)
    if args.build:
        config["figures"]["build"] = args.build.split(",")
    training = config["training"]
    if args.no_kappa:  # as benchmarks/training_sweep.py's bound comparison (goal 4)
        training["kappa_stride"] = training["kappa_dense_steps"] = 0
    model = build_model(config["model"], args.width, np.dtype(training["dtype"]))
    data = make_dataset(args.dataset, config["datasets"][args.dataset])
    runs = runs_for(config, args.dataset, args.width)
    return len(runs), functools.partial(
        sweep_dataset, model, runs, data.x.values, data.y.values, training["steps"],
        training["checkpoints"], training["divergence_factor"], chunk=training["chunk_runs"],
        kappa_modes=training["kappa_modes"], kappa_stride=training["kappa_stride"],
        kappa_dense=training["kappa_dense_steps"],
    )  # fmt: skip


def phases(args) -> dict:
    """One job in this process: imports, trace and compile per program, the rest, total."""
    start = time.perf_counter()
    import jax
    import jax.monitoring

    jax.config.update("jax_enable_x64", True)  # as scripts/train.py
    events = []
    jax.monitoring.register_event_duration_secs_listener(
        lambda name, secs, **kw: events.append((name, secs, kw.get("fun_name", "")))
    )
    runs, call = job_call(args)
    out = {"runs": runs, "imports": time.perf_counter() - start}
    start = time.perf_counter()
    call()
    out["total"] = time.perf_counter() - start
    for name, secs, fun in events:
        if name not in PHASE_EVENTS:
            continue
        program = re.sub(r"^jit\((.*)\)$", r"\1", fun)
        program = program if program in ("run_all", "_stacked_init") else "other"
        key = f"{PHASE_EVENTS[name]} {program}"
        out[key] = out.get(key, 0.0) + secs
    out["run"] = out["total"] - sum(
        v for k, v in out.items() if k.split()[0] in ("trace", "compile")
    )
    if args.hlo:
        out["kernels"] = kernels(call, args.hlo)
    return out


def kernel_kinds(hlo: str) -> dict[str, str]:
    """Kind of every instruction of an optimised HLO module (module docstring)."""
    bodies, current = collections.defaultdict(str), None
    for line in hlo.splitlines():
        head = re.match(r"^(?:ENTRY )?%(\S+) .*\{$", line)
        if head:
            current = head.group(1)
        elif current:
            bodies[current] += line + "\n"
    kinds = {}
    for line in hlo.splitlines():
        m = re.match(r"^\s+(?:ROOT )?%(\S+) = .*? (\w[\w-]*)\(", line)
        if not m:
            continue
        name, opcode = m.groups()
        called = re.search(r"calls=%([\w.-]+)", line)
        body = bodies.get(called.group(1), "") if called else line
        if opcode in CONTAINERS:
            kinds[name] = "container"
        elif opcode == "dot" or " dot(" in body:
            kinds[name] = "matmul"
        elif re.search(r" (erf|exponential)\(", body):
            kinds[name] = "activation"
        else:
            kinds[name] = "other"
    return kinds


def kernels(call, hlo_folder: str) -> dict:
    """Profile a second, compiled call; kernel time by kind (module docstring), the kinds from
    the optimised HLO XLA dumped into `hlo_folder`."""
    import jax

    folder = tempfile.mkdtemp(prefix="train_job_profile_")
    jax.profiler.start_trace(folder)
    start = time.perf_counter()
    call()
    wall = time.perf_counter() - start
    jax.profiler.stop_trace()
    dumps = glob.glob(os.path.join(hlo_folder, "*jit_run_all*after_optimizations.txt"))
    with open(max(dumps, key=os.path.getmtime)) as handle:
        kinds = kernel_kinds(handle.read())
    (trace,) = glob.glob(os.path.join(folder, "**", "*.trace.json.gz"), recursive=True)
    with gzip.open(trace) as handle:
        events = json.load(handle)["traceEvents"]
    seconds = collections.Counter()
    for event in events:
        kind = kinds.get(event.get("name", "")) if event.get("ph") == "X" else None
        if kind and kind != "container":
            seconds[kind] += event["dur"] / 1e6
    matmul, activation = seconds["matmul"], seconds["activation"]
    return {
        "profiled call (s)": wall,
        **{f"{kind} (s)": seconds[kind] for kind in ("matmul", "activation", "other")},
        "activation / matmul": activation / matmul,
        "ceiling": matmul / (matmul + activation),
    }


def child(args, threads: int, extra=(), env_extra=None) -> subprocess.Popen:
    """This script's phases of the job in a fresh process with `threads` XLA threads, plus
    `env_extra`."""
    env = {**os.environ, "PJRT_NPROC": str(threads), "PYTHONPATH": os.path.join(ROOT, "src")}
    env.update(env_extra or {})
    command = [sys.executable, __file__, args.dataset, str(args.width), "--child", "--config",
               args.config, *(["--build", args.build] if args.build else []),
               *(["--no-kappa"] if args.no_kappa else []), *extra]  # fmt: skip
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True, cwd=ROOT)


def collect(process: subprocess.Popen) -> dict:
    """The phases a `child` emitted (`_timing.emit`); stops if it failed."""
    out, _ = process.communicate()
    result = _timing.parse_result(out)
    if process.returncode or result is None:
        raise SystemExit(f"child failed ({process.returncode})")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dataset")
    parser.add_argument("width", type=int)
    parser.add_argument("--config", default=os.path.join(ROOT, "config.yaml"))
    parser.add_argument("--build", default="", help="figures.build, e.g. F1,F2,F3,F4,F5,F6")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--kernels", action="store_true")
    parser.add_argument("--no-kappa", action="store_true", help="kappa_a(n) off (goal 4's setup)")
    parser.add_argument("--side-by-side", action="store_true")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--hlo", default="", help=argparse.SUPPRESS)  # a child's XLA dump folder
    args = parser.parse_args()
    if args.child:
        _timing.emit(phases(args))
        return
    with tempfile.TemporaryDirectory() as hlo:
        extra, flags = (), {}
        if args.kernels:  # XLA dumps the optimised HLO the kernels are sorted by
            dump = f"{os.environ.get('XLA_FLAGS', '')} --xla_dump_to={hlo} --xla_dump_hlo_as_text"
            extra, flags = ("--hlo", hlo), {"XLA_FLAGS": dump}
        result = collect(child(args, args.threads, extra, flags))
    print(f"{args.dataset}/w{args.width}, {result.pop('runs')} runs, {args.threads} XLA thread(s)")
    for key, value in {**result.pop("kernels", {}), **result}.items():
        print(f"  {key:24s} {value:8.3f}")
    if args.side_by_side:
        start = time.perf_counter()
        pair = [child(args, 1) for _ in range(2)]
        totals = [collect(p)["total"] for p in pair]
        both = time.perf_counter() - start
        start = time.perf_counter()
        serial = [collect(child(args, 2))["total"] for _ in range(2)]
        after = time.perf_counter() - start
        print(
            f"  side by side, 1 thread each: {both:.1f} s (jobs {totals[0]:.1f}, {totals[1]:.1f})"
        )
        jobs = ", ".join(f"{t:.1f}" for t in serial)
        print(f"  one after the other, 2 threads each: {after:.1f} s (jobs {jobs})")


if __name__ == "__main__":
    main()
