"""The workstation preset's training on whatever device JAX sees (a GPU when one is lent, else
the CPU): every training job's `train_sweep`, the vmapped sweep against Python loops at small
widths, and the GPU against these CPU cores per job.

Run from the repository root (the script puts this checkout's src/ first on sys.path; it needs
jax, flax, optax, xarray, numpy and yaml, not snakemake, netCDF4, jsonschema or scikit-learn):

    python benchmarks/gpu_training.py --rate-steps 20 --stand-in --out /tmp/gpu   # GPU: preset
    JAX_PLATFORMS=cpu python benchmarks/gpu_training.py --steps 20 --repeats 1 --no-progress \\
        --jobs teacher/w128,teacher/w2048 --stand-in --out /tmp/cpu           # CPU: per-step rates
    python benchmarks/gpu_training.py --compare /tmp/cpu/training_cpu.json \\
        /tmp/gpu/training_gpu.json --out /tmp/cmp                             # side by side

Per training job of the preset (`nncosmo.config.jobs`; workstation.yaml splits by dataset and
width, so a job is every run of one (dataset, width), `w<width>`), timed after the job's inputs
are built (data in memory, initial parameters, schedules, initial NTK eigenvectors):
  sweep       `nncosmo.training.train_sweep` as the train stage calls it (the job's runs and
              schedules, the preset's chunk_runs, kappa_a(n) of kappa_modes eigenvectors at
              kappa_stride / kappa_dense_steps, a silent progress callback unless --no-progress;
              the --rate-steps sweeps never have one):
              the first call (trace + compile + run), then the median and min of --repeats warm
              calls.
  loop_runs   widths <= --loop-max-width (512): a Python loop over the job's runs of one jitted
              single-run `train_run` (the same program without the vmap, the same total work);
              first loop (incl. compile) and median / min of --repeats warm loops. Its ratio to
              the sweep can exceed the job's run count (5 at these widths) only by per-call costs.
  loop_steps  widths <= --loop-max-width: a Python loop over runs and steps of a jitted
              single-run heavy-ball step (benchmarks/training_sweep.py `loop_single`: f and loss
              kept, no kappa, no schedule, so less work than the sweep): the sweep against code
              written without lax.scan and vmap.
GFLOP/s count 3 x forward matmul FLOPs per run and step, forward = 2 N (d w + (depth - 1) w^2
+ w), as benchmarks/training_sweep.py does (kappa measurements, biases, erf and the update are
not counted). The device's reference: a float32 size^2 matmul (--peak-size; default 2048 on a
CPU as in training_sweep.py, 8192 on a GPU), float32 matmuls at JAX's default precision (on an
H100 XLA may then use TF32) unless --precision says otherwise.
Per-step time = warm median / (steps + 1). On a CPU a short --steps gives this rate; since the
preset measures kappa at every step n < kappa_dense_steps (25) and every 25th step after, a
short run has a larger share of kappa steps (all of them at 20 steps), so the GPU run also times
every job at --rate-steps S (the CPU's --steps) and `--compare CPU.json GPU.json` sets the
per-step times of the jobs both files have side by side at the step count both measured, with
the ratio CPU / GPU.

Digits come from scikit-learn where it is installed; where not (the GPU machine), or with
--stand-in, from a standard-normal stand-in of the same samples and 64 features
(`nncosmo.config.DIGITS_PIXELS`, at least the pixels the real data keeps): costs depend only
on the shapes. Every job's JSON row says which (`data`) and its d.
The work runs in three phases, so that what matters most comes first: every job's sweep (the
preset's time), then the loops (widths <= --loop-max-width), then the --rate-steps sweeps.
Progress lines are flushed; the JSON (`training_<platform>.json`) and markdown table
(`training_<platform>.md`) under --out are rewritten after every task, so a run cut short keeps
what it finished; tasks not started within --budget seconds (default 300) are skipped and
listed as such, a task that fails is recorded and the run goes on. Options: --steps S
(default: the preset's), --repeats N (3), --jobs DATASET/wWIDTH,... (default: all), --config
YAML (default workflow/presets/workstation.yaml).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import traceback
from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "benchmarks"), os.path.join(ROOT, "src")]  # this checkout's
import _timing  # noqa: E402
from training_sweep import flops_per_step, loop_single, matmul_peak, step_fns  # noqa: E402

from nncosmo import data as nc_data  # noqa: E402
from nncosmo.config import DIGITS_PIXELS, job_runs, job_width, jobs  # noqa: E402
from nncosmo.models import build_model, training_apply_function  # noqa: E402
from nncosmo.training import (  # noqa: E402
    batched_schedules,
    init_params_for,
    initial_eigenvectors,
    schedule_branches,
    schedule_columns,
    train_run,
    train_sweep,
)

jax.config.update("jax_enable_x64", True)  # as scripts/train.py: dtypes stay explicit
PRESET = os.path.join(ROOT, "workflow", "presets", "workstation.yaml")


def say(text: str) -> None:
    """Progress line, flushed at once (the device tool shows only what reached stdout)."""
    print(text, flush=True)


def build_data(name: str, spec: dict, stand_in: bool) -> tuple[np.ndarray, np.ndarray, str]:
    """x, y of one data set (nncosmo.data) and where they came from; digits fall back to a
    standard-normal stand-in of shape (n_samples, DIGITS_PIXELS) without scikit-learn."""
    if spec["kind"] == "digits" and (stand_in or not _has_sklearn()):
        rng = np.random.default_rng(spec["seed"])
        x = rng.standard_normal((spec["n_samples"], DIGITS_PIXELS))
        ds, source = nc_data.to_dataset(name, x, np.sign(x[:, 0]), spec), "stand-in"
    else:
        ds, source = nc_data.make_dataset(name, spec), spec["kind"]
    return ds.x.values, ds.y.values, source


def _has_sklearn() -> bool:
    try:
        import sklearn  # noqa: F401
    except ImportError:
        return False
    return True


def job_inputs(config: dict, dataset: str, job: str, x, y, steps: int) -> dict:
    """Everything `train_sweep` takes for one job, built as `nncosmo.training.sweep_dataset`
    builds it (initial parameters per seed, schedules, initial eigenvectors for kappa)."""
    training, runs = config["training"], job_runs(config, dataset, job)
    model = build_model(config["model"], job_width(job), np.dtype(training["dtype"]))
    params = init_params_for(model, runs, x)
    etas, betas, switches = schedule_columns(runs, steps)
    stride, modes = training.get("kappa_stride", 0), training.get("kappa_modes", 0)
    return {
        "model": model,
        "runs": runs,
        "apply_fn": training_apply_function(model),
        "params": params,
        "etas": etas,
        "betas": betas,
        "switches": switches,
        "x": jnp.asarray(x, model.dtype),
        "y": jnp.asarray(y, model.dtype),
        "checkpoints": sorted(c for c in training["checkpoints"] if c <= steps),
        "vectors": initial_eigenvectors(model, params, x, modes if stride else 0),
        "kappa": (stride, training.get("kappa_dense_steps", 0)),
    }


def silent(*_):
    """Progress callback that reports nothing (the stage's logger, minus the logging)."""


def time_sweep(inp: dict, steps: int, chunk: int, repeats: int, with_progress: bool) -> dict:
    """`train_sweep` of one job: first call and `repeats` warm calls, with the silent progress
    callback if `with_progress`; should it fail on the device, once more without it."""

    def call(progress):
        return train_sweep(
            inp["apply_fn"], inp["params"], inp["etas"], inp["betas"], inp["x"], inp["y"], steps,
            inp["checkpoints"], chunk=chunk, progress=progress, kappa_vectors=inp["vectors"],
            kappa_stride=inp["kappa"][0], kappa_dense=inp["kappa"][1],
            **inp["switches"],
        )  # fmt: skip

    if with_progress:
        try:
            stats = _timing.time_fn(lambda: call(silent), repeats, warmup=0)
            return {**_timing.strip(stats), "progress": True}
        except Exception as err:  # noqa: BLE001 - the callback is the part a device may refuse
            say(f"    with the progress callback: {type(err).__name__}: {err}"[:400])
            say("    again without it")
    return {
        **_timing.strip(_timing.time_fn(lambda: call(None), repeats, warmup=0)),
        "progress": False,
    }


_single_run = jax.jit(train_run, static_argnums=(0, 5, 7, 9, 10, 11))


def time_loop_runs(inp: dict, steps: int, repeats: int) -> dict:
    """A Python loop over runs of the jitted single-run `train_run` (same work as the sweep)."""
    schedules = batched_schedules(
        inp["etas"], inp["betas"], steps, inp["model"].dtype, **inp["switches"]
    )
    checkpoints, vectors = jnp.asarray(inp["checkpoints"]), jnp.asarray(inp["vectors"])
    switches = inp["switches"]  # the branches as train_sweep traces them:
    branches = schedule_branches(switches["nesterov"], switches["friedmann"])
    pick = lambda tree, r: jax.tree.map(lambda a: a[r], tree)  # noqa: E731

    def run(r):
        vector = vectors[r].astype(inp["model"].dtype)
        return _single_run(
            inp["apply_fn"], pick(inp["params"], r), pick(schedules, r), inp["x"], inp["y"],
            steps, checkpoints, None, vector, *inp["kappa"], branches,
        )  # fmt: skip

    def loop():
        return [run(r) for r in range(len(inp["runs"]))]

    return _timing.strip(_timing.time_fn(loop, repeats, warmup=0))


def time_loop_steps(inp: dict, steps: int, repeats: int) -> dict:
    """A Python loop over runs and steps of a jitted single-run heavy-ball step."""
    step, _ = step_fns(inp["apply_fn"])
    etas, betas = (jnp.asarray(a, inp["model"].dtype) for a in (inp["etas"], inp["betas"]))
    etas, betas = etas.reshape(len(etas), -1)[:, 0], betas.reshape(len(betas), -1)[:, 0]

    def loop():
        return loop_single(
            step, inp["params"], etas, betas, inp["x"], inp["y"], steps, inp["checkpoints"]
        )

    return _timing.strip(_timing.time_fn(loop, repeats, warmup=0))


def device_memory_peak_gib() -> float | None:
    """Peak bytes the first device has held (GPU allocators report it; CPUs do not), GiB."""
    stats = jax.devices()[0].memory_stats() or {}
    peak = stats.get("peak_bytes_in_use")
    return None if peak is None else peak / 2**30


def sweep_row(config, dataset, job, data, args, steps) -> dict:
    """Time one job's sweep and say so: the row that the later phases add to."""
    x, y, source = data
    t0 = time.perf_counter()
    inp = job_inputs(config, dataset, job, x, y, steps)
    width, runs, (n, d) = job_width(job), len(inp["runs"]), x.shape
    flop = flops_per_step(n, d, width, config["model"]["depth"]) * runs * (steps + 1)
    row = {"dataset": dataset, "job": job, "width": width, "runs": runs, "n": n, "d": d}
    row.update({"data": source, "steps": steps, "gflop": flop / 1e9})
    row["setup_s"] = time.perf_counter() - t0
    say(f"  {dataset}/{job}: {runs} runs, N {n}, d {d} ({source}), {flop / 1e9:.1f} GFLOP")
    chunk = config["training"]["chunk_runs"]
    row["sweep"] = time_sweep(inp, steps, chunk, args.repeats, not args.no_progress)
    row["gflops"] = flop / row["sweep"]["median_s"] / 1e9
    row["step_ms"] = 1e3 * row["sweep"]["median_s"] / (steps + 1)
    say(f"    sweep       {_timing.fmt_ms(row['sweep'])}  {row['gflops']:.1f} GFLOP/s")
    return row


def add_loops(config, row: dict, data, args) -> None:
    """The two Python loops of one job, each against its sweep."""
    inp = job_inputs(config, row["dataset"], row["job"], *data[:2], row["steps"])
    say(f"  {row['dataset']}/{row['job']}: loops")
    for name, timer in (("loop_runs", time_loop_runs), ("loop_steps", time_loop_steps)):
        row[name] = timer(inp, row["steps"], args.repeats)
        row[f"{name}_ratio"] = row[name]["median_s"] / row["sweep"]["median_s"]
        say(f"    {name:11s} {_timing.fmt_ms(row[name])}  loop / sweep {row[f'{name}_ratio']:.1f}x")


def add_rate(config, row: dict, data, args) -> None:
    """One job's sweep again at --rate-steps steps (the CPU side's length), without the
    progress callback: its 10 host calls would be a large share of so few steps."""
    steps = args.rate_steps
    inp = job_inputs(config, row["dataset"], row["job"], *data[:2], steps)
    stats = time_sweep(inp, steps, config["training"]["chunk_runs"], args.repeats, False)
    row["rate"] = {"steps": steps, "sweep": stats, "step_ms": 1e3 * stats["median_s"] / (steps + 1)}
    say(f"  {row['dataset']}/{row['job']}, {steps} steps: {_timing.fmt_ms(stats)}")


def markdown(result: dict) -> str:
    """The run as a markdown table (one row per job)."""
    head = (
        f"{result['device']}, jax {result['jax']}, matmul precision {result['precision']}; "
        f"float32 {result['peak_size']}² matmul {result['peak_gflops']:.0f} GFLOP/s median; "
        f"{result['config']}, {result['steps']} steps, {result['repeats']} warm repeats; "
        f"device memory peak {result.get('memory_peak_gib')} GiB\n\n"
        "| job | runs | d (data) | GFLOP | first call s | median s | min s | ms / step "
        "| GFLOP/s | % of matmul | loop_runs / sweep | loop_steps / sweep |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in result["jobs"]:
        ratio = lambda k, r=r: f"{r[k]:.1f}x" if k in r else "—"  # noqa: E731
        lines.append(
            f"| {r['dataset']}/{r['job']} | {r['runs']} | {r['d']} ({r['data']}) | "
            f"{r['gflop']:.1f} | {r['sweep']['first_s']:.2f} | {r['sweep']['median_s']:.3f} | "
            f"{r['sweep']['min_s']:.3f} | {r['step_ms']:.2f} | {r['gflops']:.0f} | "
            f"{100 * r['gflops'] / result['peak_gflops']:.0f} | {ratio('loop_runs_ratio')} | "
            f"{ratio('loop_steps_ratio')} |"
        )
    tail = "".join(
        f"\n{label}: {'; '.join(result[key])}\n"
        for key, label in (("skipped", "skipped (budget)"), ("failed", "failed"))
        if result[key]
    )
    return head + "\n".join(lines) + f"\n\ntotal wall time {result['wall_s']:.0f} s\n" + tail


def save(result: dict, out: str | None) -> None:
    """Write `training_<platform>.{json,md}` under `out` (no-op without --out)."""
    if not out:
        return
    os.makedirs(out, exist_ok=True)
    stem = os.path.join(out, f"training_{result['platform']}")
    with open(stem + ".json", "w") as fh:
        json.dump(result, fh, indent=1)
    with open(stem + ".md", "w") as fh:
        fh.write(markdown(result))


def step_rates(row: dict) -> dict:
    """{steps: ms per step} of one job's row: its main sweep and its --rate-steps sweep."""
    rates = {row["steps"]: row["step_ms"]}
    if "rate" in row:
        rates[row["rate"]["steps"]] = row["rate"]["step_ms"]
    return rates


def compare(first: str, second: str, out: str | None) -> str:
    """Per-step times of the jobs both result files have, at a step count both measured where
    there is one (else each side's own), and the ratio first / second."""
    sides = []
    for path in (first, second):
        with open(path) as fh:
            sides.append(json.load(fh))
    rows = {(r["dataset"], r["job"]): r for r in sides[1]["jobs"]}
    text = (
        f"A: {sides[0]['device']}, {sides[0]['host']}; B: {sides[1]['device']}, "
        f"{sides[1]['host']}\n\n| job | runs | d A / B | steps A / B | ms / step A "
        "| ms / step B | A / B |\n|---|---|---|---|---|---|---|\n"
    )
    for a in sides[0]["jobs"]:
        b = rows.get((a["dataset"], a["job"]))
        if b is None:
            continue
        rate_a, rate_b = step_rates(a), step_rates(b)
        common = sorted(set(rate_a) & set(rate_b))
        sa, sb = (common[0], common[0]) if common else (a["steps"], b["steps"])
        text += (
            f"| {a['dataset']}/{a['job']} | {a['runs']} | {a['d']} / {b['d']} | {sa} / {sb} | "
            f"{rate_a[sa]:.2f} | {rate_b[sb]:.3f} | {rate_a[sa] / rate_b[sb]:.3g}x |\n"
        )
    if out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "compare.md"), "w") as fh:
            fh.write(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=PRESET, help="complete config (default workstation)")
    parser.add_argument("--steps", type=int, default=0, help="steps per job (default: config's)")
    parser.add_argument("--repeats", type=int, default=3, help="warm calls per variant")
    parser.add_argument("--jobs", default="", help="DATASET/wWIDTH,... (default: every job)")
    parser.add_argument("--loop-max-width", type=int, default=512)
    parser.add_argument("--stand-in", action="store_true", help="digits stand-in even with sklearn")
    parser.add_argument("--budget", type=float, default=300.0, help="seconds; later jobs skipped")
    parser.add_argument(
        "--rate-steps", type=int, default=0, help="also time each sweep at this many steps"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress callback")
    parser.add_argument("--peak-size", type=int, default=0, help="reference matmul size")
    parser.add_argument("--precision", default=None, help="jax_default_matmul_precision")
    parser.add_argument("--out", default=None, help="folder for the JSON and markdown results")
    parser.add_argument("--compare", nargs=2, metavar=("A.json", "B.json"))
    args = parser.parse_args()
    if args.compare:
        say(compare(*args.compare, args.out))
        return
    start = time.perf_counter()
    if args.precision:
        jax.config.update("jax_default_matmul_precision", args.precision)
    with open(args.config) as fh:
        config = yaml.safe_load(fh)
    device = jax.devices()[0]
    platform = device.platform
    size = args.peak_size or (2048 if platform == "cpu" else 8192)
    say(f"devices: {jax.devices()}; jax {jax.__version__}; {_timing.cpu_model()} host")
    peak, best = matmul_peak(size=size)
    say(f"float32 {size}x{size} matmul: {peak:.0f} GFLOP/s median, {best:.0f} best")
    steps = args.steps or config["training"]["steps"]
    wanted = [j for j in args.jobs.split(",") if j]
    todo = [(d, j) for d, j in jobs(config) if not wanted or f"{d}/{j}" in wanted]
    unknown = set(wanted) - {f"{d}/{j}" for d, j in jobs(config)}
    if unknown:
        raise SystemExit(f"--jobs {sorted(unknown)}: not jobs of {args.config}; see its sweeps")
    data = {d: build_data(d, config["datasets"][d], args.stand_in) for d in dict(todo)}
    result = {
        "device": f"{device.device_kind} ({platform})", "platform": platform,
        "jax": jax.__version__, "precision": args.precision or "default",
        "peak_size": size, "peak_gflops": peak, "peak_best_gflops": best,
        "config": os.path.relpath(args.config, ROOT), "steps": steps, "repeats": args.repeats,
        "host": _timing.cpu_model(), "jobs": [], "skipped": [], "failed": [], "wall_s": 0.0,
    }  # fmt: skip
    say(f"{len(todo)} jobs, {steps} steps, {args.repeats} warm repeats, budget {args.budget} s")

    def attempt(label: str, task: Callable, *task_args) -> None:
        """Run one task unless the budget is spent; a failure is recorded, not raised."""
        if time.perf_counter() - start > args.budget:
            result["skipped"].append(label)
            say(f"  {label}: skipped (budget of {args.budget} s spent)")
            return
        try:
            task(*task_args)
        except Exception as err:  # noqa: BLE001 - one failing job (memory...) must not end the run
            traceback.print_exc()
            result["failed"].append(f"{label}: {type(err).__name__}: {err}"[:500])
            say(f"  {label}: FAILED ({type(err).__name__}); going on")
        result["wall_s"] = time.perf_counter() - start
        result["memory_peak_gib"] = device_memory_peak_gib()
        save(result, args.out)

    def sweep_task(dataset: str, job: str) -> None:
        result["jobs"].append(sweep_row(config, dataset, job, data[dataset], args, steps))

    for dataset, job in todo:  # the preset's time first, then the loops, then the rates
        attempt(f"{dataset}/{job}", sweep_task, dataset, job)
    for row in [r for r in result["jobs"] if r["width"] <= args.loop_max_width]:
        label = f"{row['dataset']}/{row['job']} loops"
        attempt(label, add_loops, config, row, data[row["dataset"]], args)
    for row in result["jobs"] if args.rate_steps else []:
        label = f"{row['dataset']}/{row['job']} at {args.rate_steps} steps"
        attempt(label, add_rate, config, row, data[row["dataset"]], args)
    result["wall_s"] = time.perf_counter() - start
    total = sum(r["sweep"]["median_s"] for r in result["jobs"])
    result["sweep_total_median_s"] = total
    save(result, args.out)
    say("\n" + markdown(result))
    say(f"sum of the sweeps' warm medians: {total:.2f} s; median of per-job GFLOP/s: "
        f"{statistics.median([r['gflops'] for r in result['jobs']] or [0]):.0f}")  # fmt: skip


if __name__ == "__main__":
    main()
