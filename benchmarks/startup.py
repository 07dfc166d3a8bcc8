"""Start-up against work per stage script: each stage's script run in a fresh process on the
existing stage files of a finished default run, timed by phase.

    python benchmarks/startup.py --results results --src /path/a/src --src /path/b/src

For every source tree (`--src`, the `src/` folder of a checkout: its scripts are the ones next to
it, its config.yaml gives the params), round-robin over `--rounds` rounds (interleaved, so load
changes hit every tree alike), each stage's script runs as Snakemake would run it: a fresh Python
process, `snakemake` a stand-in object with the rule's input, output, params, log, wildcards and
config (the real job unpickles Snakemake's own; the imports of its preamble are timed as the
`snakemake` phase). Outputs go to a temporary folder; the inputs are never written.

Phases, seconds: `python` the interpreter's own start (process wall time minus the worker's),
`snakemake` the imports of Snakemake's script preamble, `imports` the script's imports (until it
first touches `snakemake`), `trace` JAX tracing and lowering to MLIR (union of the jaxpr-trace
and MLIR-lowering spans JAX reports through jax.monitoring), `compile` XLA compilation or its
retrieval from the persistent cache (union of backend-compile spans), `rest` everything else:
reading, the arithmetic, writing; `total` the process wall time. `hits`/`misses`: persistent
compilation cache hits and misses.

`--cache cold` runs each job with an empty JAX compilation cache folder (what the first job of a
shape sees), `--cache warm` with the folder the same job filled in an untimed run just before (a
rerun, or a later job of the same shapes), `--cache off` (default) without one; the settings
are those the Snakefile gives every job (`nncosmo.config.jax_cache_env`, where the tree has it).
Stage `figures` is the whole figures stage: one job per figure for a tree whose scripts/ has
figure.py (old layout), or the single figures.py job. Prints median and min over the rounds per
(tree, stage, phase) and `uptime` before and after; `--json` writes every sample.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STAGES = ("data", "train", "ntk", "cosmology", "duality", "figures", "claims")
PHASES = ("python", "snakemake", "imports", "trace", "compile", "rest", "total")
FIGURE_STEMS = {
    "F1": "F1_background",
    "F2": "F2_ntk",
    "F3": "F3_lambda",
    "F4": "F4_perturbations",
    "F5": "F5_width",
    "F6": "F6_phase_diagram",
    "F7": "F7_histories",
    "F8": "F8_reverse",
}


# ---------------------------------------------------------------- worker (one stage job)


def union_seconds(spans: list[tuple[float, float]]) -> float:
    """Length of the union of [start, end] intervals (nested JAX spans counted once)."""
    total, reach = 0.0, -float("inf")
    for start, end in sorted(spans):
        if end > reach:
            total += end - max(start, reach)
            reach = end
    return total


def worker(spec_path: str) -> None:
    """Run one stage script as Snakemake would, print its phases as a RESULT line."""
    t0 = time.perf_counter()
    from snakemake.iocontainers import Namedlist, Snakemake  # noqa: F401 (the real preamble's)
    from snakemake.logging import logger  # noqa: F401

    t_smk = time.perf_counter()
    spec = json.loads(Path(spec_path).read_text())

    def named(value):
        return Namedlist(fromdict=value) if isinstance(value, dict) else Namedlist(toclone=value)

    smk = argparse.Namespace(
        threads=1,
        input=named(spec["input"]),
        output=named(spec["output"]),
        log=named(spec["log"]),
        wildcards=named(spec["wildcards"]),
        params=named(spec["params"]),
        config=spec["config"],
    )
    touched, spans, events = {}, {"trace": [], "compile": []}, {"hits": 0, "misses": 0}

    def listen_to_jax():
        if "jax" not in sys.modules:  # a script that never imports JAX compiles nothing
            return
        from jax import monitoring

        kinds = {
            "/jax/core/compile/jaxpr_trace_duration": "trace",
            "/jax/core/compile/jaxpr_to_mlir_module_duration": "trace",
            "/jax/core/compile/backend_compile_duration": "compile",
        }
        counted = {
            "/jax/compilation_cache/cache_hits": "hits",
            "/jax/compilation_cache/cache_misses": "misses",
        }

        def on_span(event, start, end, **_):
            if event in kinds:
                spans[kinds[event]].append((start, end))

        def on_event(event, **_):
            if event in counted:
                events[counted[event]] += 1

        monitoring.register_event_time_span_listener(on_span)
        monitoring.register_event_listener(on_event)

    class FirstTouch:
        """`snakemake` for the script: notes when the script's imports are done."""

        def __getattr__(self, name):
            if "at" not in touched:
                touched["at"] = time.perf_counter()
                listen_to_jax()
            return getattr(smk, name)

    import runpy

    t_script = time.perf_counter()
    runpy.run_path(spec["script"], init_globals={"snakemake": FirstTouch()}, run_name="__main__")
    t_end = time.perf_counter()
    trace, compile_ = union_seconds(spans["trace"]), union_seconds(spans["compile"])
    after_imports = t_end - touched["at"]
    result = {
        "snakemake": t_smk - t0,
        "imports": touched["at"] - t_script,
        "trace": trace,
        "compile": compile_,
        "rest": after_imports - trace - compile_,
        "worker": t_end - t0,
        **events,
    }
    print("RESULT " + json.dumps(result), flush=True)


# ---------------------------------------------------------------- driver


def tree_config(src: Path) -> dict:
    """The checkout's config.yaml with the schema's defaults filled in."""
    import yaml
    from snakemake.utils import validate

    root = src.parent
    config = yaml.safe_load((root / "config.yaml").read_text())
    validate(config, str(root / "workflow" / "schemas" / "config.schema.yaml"))
    return config


def stage_jobs(stage: str, src: Path, results: Path, out: Path, job: str) -> list[dict]:
    """The job specs (script, input, output, params...) of one stage for a checkout."""
    config = tree_config(src)
    scripts = src.parent / "scripts"
    dataset, name = job.split("/")
    width = int(name.removeprefix("w"))
    files = lambda st: sorted(str(p) for p in (results / st).glob("*/*.nc"))  # noqa: E731
    every_stage = {st: files(st) for st in ("ntk", "cosmology", "duality")}
    every_stage["data"] = sorted(str(p) for p in (results / "data").glob("*.nc"))
    every_stage["simulate"] = sorted(str(p) for p in (results / "simulate").glob("*.nc"))
    one = {st: str(results / st / dataset / f"{name}.nc") for st in ("train", "ntk", "cosmology")}
    one["data"] = str(results / "data" / f"{dataset}.nc")
    params = {
        "model": config["model"],
        "training": config["training"],
        "ntk": config["ntk"],
        "cosmology": config["cosmology"],
        "duality": config["duality"],
        "figures": config["figures"],
        "claims": config["claims"],
        "spec": config["datasets"][dataset],
        "width": width,
        "build": list(FIGURE_STEMS),
    }
    if stage == "train":
        sys.path.insert(0, str(src))
        from nncosmo.config import job_runs

        params["runs"] = job_runs(config, dataset, name)
        sys.path.remove(str(src))

    def job_spec(script, inputs, outputs):
        return {
            "script": str(scripts / script),
            "input": inputs,
            "output": {k: str(out / v) for k, v in outputs.items()},
            "log": [str(out / "job.log")],
            "wildcards": {"dataset": dataset, "job": name},
            "params": params,
            "config": config,
        }

    if stage == "data":
        return [job_spec("make_data.py", {}, {"nc": "data.nc"})]
    if stage == "train":
        return [job_spec("train.py", {"data": one["data"]}, {"nc": "train.nc"})]
    if stage == "ntk":
        return [job_spec("ntk.py", {k: one[k] for k in ("data", "train")}, {"nc": "ntk.nc"})]
    if stage == "cosmology":
        inputs = {k: one[k] for k in ("ntk", "train")}
        return [job_spec("cosmology.py", inputs, {"nc": "cosmology.nc"})]
    if stage == "duality":
        inputs = {k: one[k] for k in ("ntk", "cosmology", "train", "data")}
        return [job_spec("duality.py", inputs, {"nc": "duality.nc"})]
    if stage == "claims":
        return [job_spec("claims.py", every_stage, {"json": "claims.json", "table": "claims.tsv"})]
    if (scripts / "figure.py").exists():  # old layout: one job per figure
        specs = []
        for fig, stem in FIGURE_STEMS.items():
            spec = job_spec("figure.py", every_stage, {"png": f"{stem}.png", "pdf": f"{stem}.pdf"})
            spec["params"] = {**params, "figure": fig}
            specs.append(spec)
        return specs
    outputs = {
        f"{fig}_{ext}": f"{stem}.{ext}"
        for fig, stem in FIGURE_STEMS.items()
        for ext in ("png", "pdf")
    }
    return [job_spec("figures.py", every_stage, outputs)]


def cache_env(src: Path, folder: Path) -> dict:
    """The JAX cache settings the checkout's Snakefile gives its jobs (none if it has none)."""
    code = (
        "import json, sys; from nncosmo.config import jax_cache_env; "
        "print(json.dumps(jax_cache_env(sys.argv[1])))"
    )
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.run(
        [sys.executable, "-c", code, str(folder)], capture_output=True, text=True, env=env
    )
    return json.loads(proc.stdout) if proc.returncode == 0 else {}


def run_job(spec: dict, src: Path, env_extra: dict) -> dict:
    """One fresh worker process; its phases plus `python` and `total`."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as handle:
        json.dump(spec, handle)
    env = {**os.environ, "PYTHONPATH": str(src), "PYTHONWARNINGS": "ignore", **env_extra}
    for key in [k for k in env if k.startswith("JAX_") and k not in env_extra]:
        del env[key]
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", handle.name], capture_output=True, text=True, env=env
    )
    total = time.perf_counter() - t0
    os.unlink(handle.name)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT ") :])
            result["python"] = total - result.pop("worker")
            result["total"] = total
            return result
    sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
    raise RuntimeError(f"{spec['script']} failed (exit {proc.returncode})")


def run_stage(stage: str, src: Path, args) -> dict:
    """The stage's jobs once (summed over jobs), under the chosen cache mode."""
    with tempfile.TemporaryDirectory() as tmp:
        out, cache = Path(tmp, "out"), Path(tmp, "jax_cache")
        out.mkdir()
        env = {} if args.cache == "off" else cache_env(src, cache)
        total = {}
        for spec in stage_jobs(stage, src, args.results, out, args.job):
            if args.cache == "warm":
                run_job(spec, src, env)  # fills the cache
            for key, value in run_job(spec, src, env).items():
                total[key] = total.get(key, 0) + value
        return total


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--src", type=Path, action="append", help="src/ of a checkout (repeat)")
    parser.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    parser.add_argument("--job", default="teacher/w256", help="dataset/job of the per-job stages")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--cache", choices=("off", "cold", "warm"), default="off")
    parser.add_argument("--json", type=Path, help="write every sample here")
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker)
    srcs = [s.resolve() for s in (args.src or [Path(__file__).resolve().parents[1] / "src"])]
    args.results = args.results.resolve()
    print(f"before: {uptime()}", flush=True)
    samples = {(str(s), st): [] for s in srcs for st in args.stages}
    for round_ in range(args.rounds):
        for stage in args.stages:
            for src in srcs:
                samples[(str(src), stage)].append(run_stage(stage, src, args))
                seconds = samples[(str(src), stage)][-1]["total"]
                print(f"round {round_ + 1} {stage} {src}: {seconds:.2f} s", file=sys.stderr)
    print(f"after:  {uptime()}")
    print(f"cache {args.cache}, job {args.job}, {args.rounds} rounds; median (min) seconds")
    print("| tree | stage | " + " | ".join(PHASES) + " | hits/misses |")
    print("|---|---|" + "---|" * (len(PHASES) + 1))
    for (src, stage), runs in samples.items():
        cells = [
            f"{statistics.median(r[p] for r in runs):.2f} ({min(r[p] for r in runs):.2f})"
            for p in PHASES
        ]
        counts = f"{runs[-1]['hits']}/{runs[-1]['misses']}"
        print(f"| {src} | {stage} | " + " | ".join(cells) + f" | {counts} |")
    if args.json:
        args.json.write_text(json.dumps({f"{s} {st}": v for (s, st), v in samples.items()}))


if __name__ == "__main__":
    main()
