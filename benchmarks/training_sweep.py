"""Vmapped training sweep (`nncosmo.training.train_sweep`) vs a Python loop of jitted steps.

Run from the repo root, in the project virtualenv:  python benchmarks/training_sweep.py

Part A, the reference sweep: 16 runs, width 512, depth 2 (hidden layers), N 64, 500 steps,
float32, teacher data (d = 8 as in config.yaml). Timed, each as median/min/max over warm runs
with compile time separately:
  sweep          the program `train_sweep` compiles (jit(vmap(train_run))), built once
  train_sweep()  the public function itself, called repeatedly (its compiled program is cached)
  no_f           the same scan without the per-step f(sample, step) output (loss kept)
  no_ckpt        the same scan without the checkpoint-buffer write (f and loss kept)
  bare           neither f nor checkpoints: training only (loss kept)
  loop_vmap      Python loop over steps of one jitted, vmapped (16-run) optax step
  loop_single    Python loop over runs and steps of one jitted single-run step (--loop-single)
Part B, the default preset (config.yaml): every (dataset, width) job with its runs from
`nncosmo.config.runs_for`, sweep and no_f variants.

FLOPs: forward matmuls of one run and step F = 2 N (d w + (depth - 1) w^2 + w); one training
step counts 3 F (backward = weight grads + input grads, 2 F; bias, erf and optimiser updates
are O(N w) and not counted). XLA's own cost analysis of one step is printed as a cross-check.
GFLOP/s are set against a float32 2048 x 2048 matmul measured in the same process.
Each program takes tens of seconds on 2 cores, so the defaults are few warm runs (3 in part A,
1 per preset job); raise them with the options where time allows.
Part B also times the step's dominant matmuls alone (forward, weight and input gradients of the
w x w layer, batched over the job's runs, chained in a scan): the rate the sweep could reach if
nothing else cost time ("matmul bound").
Options: --repeats N (part A), --preset-repeats N, --skip-preset, --skip-a, --preset-steps S
(shorter preset jobs: the rate is a per-step property), --preset-share (no_f per preset job
too), --chunks B1,B2 (also `train_sweep(..., chunk=B)`, the lax.map over chunks of B vmapped
runs that `training.chunk_runs` selects; part B), --loop-single
(also the per-run Python loop; slow), --interleaved STEPS (only the four scan variants of part
A and the --chunks variants, round-robin, STEPS steps, problem --shape WIDTH,RUNS (512,16): a
fairer A/B under varying load), --schedules STEPS (only `train_sweep` with constant momentum
and with all schedule kinds of docs/physics.md §11 mixed in one job, against the step as it was
before schedules, round-robin at --shape, --repeats rounds: a schedule may cost at most 10 %),
--job-ab DATASET,WIDTH (only that preset job, its runs for --build F1,F2 or config's figures,
with kappa and chunk_runs as the train rule runs it, this checkout's train_sweep against each
--baseline-src, order alternating, --preset-repeats rounds, --preset-steps), --preset-interleaved
STEPS (only part B's jobs, optionally --widths W1,W2: `train_sweep` with
chunk 0 and each --chunks B, the same for every src/ folder of --baseline-src SRC1,SRC2 (another
checkout's nncosmo.training, e.g. the code before a change), and the matmul bound chained over
STEPS + 1 iterations, round-robin over --preset-repeats rounds; % of bound per round).
Every measurement runs on --threads XLA CPU threads (default 1: the train rule's jobs run on one
thread each, two side by side on the 2 cores; benchmarks/README.md sections before 19 ran on all
cores, `--threads 2` today) and the caller's XLA_FLAGS.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _timing  # noqa: E402

from nncosmo import data as nc_data  # noqa: E402
from nncosmo.config import runs_for, widths_for  # noqa: E402
from nncosmo.models import build_model, init_params, training_apply_function  # noqa: E402
from nncosmo.training import (  # noqa: E402
    Branches,
    Schedule,
    checkpoint_buffers,
    checkpointed,
    heavy_ball,
    mse_loss,
    run_spec,
    schedule_columns,
    train_run,
    train_sweep,
)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IN_AXES = (None, 0, 0, 0, None, None, None, None)


def train_run_variant(apply_fn, params, eta, beta, x, y, steps, checkpoints, record_f, ckpt):
    """Copy of `nncosmo.training.train_run` (the previous step's update applied first) with the
    f output and/or checkpoint write removed; with both kept ("unscheduled"), the step as it was
    before schedules: optax.sgd(eta, beta), no per-step arrays, switches, field energy or
    recorded beta_n."""
    optimiser = heavy_ball(eta, beta)

    def loss_and_output(p):
        f = apply_fn(p, x)
        return mse_loss(f, y), f

    def step(carry, n):
        p, opt_state, pending, saved = carry
        updates, opt_state = optimiser.update(pending, opt_state, p)  # step n - 1's, as train_run
        p = optax.apply_updates(p, updates)
        (loss, f), grads = jax.value_and_grad(loss_and_output, has_aux=True)(p)
        if ckpt:
            saved = checkpointed(saved, p, n, checkpoints)
        return (p, opt_state, grads, saved), ((f, loss) if record_f else loss)

    saved = checkpoint_buffers(params, checkpoints) if ckpt else ()
    carry = (params, optimiser.init(params), jax.tree.map(jnp.zeros_like, params), saved)
    (_, _, _, saved), out = jax.lax.scan(step, carry, jnp.arange(steps + 1))
    return out, saved


def constant_schedule(eta, beta, steps):
    """The `Schedule` of constant momentum (eta, beta), as `train_sweep` builds it."""
    off = jnp.zeros((), bool)
    per_step = (jnp.full(steps + 1, v) for v in (eta, beta))
    return Schedule(*per_step, off, off, jnp.zeros_like(eta), jnp.ones_like(eta))


def compiled_sweep(variant: str):
    """jit(vmap(...)) as `train_sweep` builds it, for one variant; built once, reused."""
    if variant == "sweep":

        def fn(apply_fn, params, eta, beta, x, y, steps, checkpoints):
            schedule = constant_schedule(eta, beta, steps)
            constant = Branches(nesterov=False, friedmann=False)  # as train_sweep traces it
            return train_run(apply_fn, params, schedule, x, y, steps, checkpoints, None, None,
                             0, 0, constant)  # fmt: skip

    else:
        record_f, ckpt = {
            "no_f": (False, True),
            "no_ckpt": (True, False),
            "bare": (False, False),
            "unscheduled": (True, True),
        }[variant]

        def fn(apply_fn, params, eta, beta, x, y, steps, checkpoints):
            return train_run_variant(
                apply_fn, params, eta, beta, x, y, steps, checkpoints, record_f, ckpt
            )

    return jax.jit(jax.vmap(fn, in_axes=IN_AXES), static_argnums=(0, 6))


def matmul_bound(runs, n, width, repeats, iterations=20):
    """GFLOP/s of the step's dominant matmuls alone: forward, weight and input gradient of the
    w x w layer, batched over runs as in the vmapped sweep, chained inside a scan (so nothing is
    hoisted and buffers are reused, as in the sweep). The rate the sweep would reach if nothing
    but these matmuls cost time; values overflow along the chain, which does not change speed."""
    chain, flop = matmul_chain(runs, n, width, iterations)
    stats = _timing.time_fn(chain, repeats, warmup=1)
    return flop / stats["median_s"] / 1e9


def matmul_chain(runs, n, width, iterations=20):
    """`matmul_bound`'s program, ready to call, and its FLOPs."""
    keys = jax.random.split(jax.random.key(1), 3)
    h, delta = (jax.random.normal(k, (runs, n, width), jnp.float32) for k in keys[:2])
    w = jax.random.normal(keys[2], (runs, width, width), jnp.float32)

    def body(carry, _):
        h, w, delta = carry
        return (
            jnp.einsum("rna,rab->rnb", h, w),  # forward
            jnp.einsum("rna,rnb->rab", h, delta),  # weight gradient
            jnp.einsum("rnb,rab->rna", delta, w),  # input gradient
        ), None

    chain = jax.jit(lambda c: jax.lax.scan(body, c, None, length=iterations)[0])
    return functools.partial(chain, (h, w, delta)), 3 * 2 * runs * n * width**2 * iterations


def baseline_training(src: str):
    """Another checkout's `src/nncosmo/training.py` (e.g. the code before a change), loaded as
    its own module next to this one's."""
    path = os.path.join(src, "nncosmo", "training.py")
    spec = importlib.util.spec_from_file_location(f"baseline_training_{abs(hash(src))}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def preset_interleaved(config, args):
    """Part B's jobs (filtered by --widths), round-robin: `train_sweep` with chunk 0 and each
    --chunks B, the same of --baseline-src, and the step's matmuls alone (the bound, chained
    over as many iterations as the sweep has steps, batched over all runs for chunk 0 and over
    B runs for chunk B: XLA's CPU rate of these batched matmuls falls with the batch), one call
    each per round over --preset-repeats rounds; % of the bound: the median of the rounds'
    ratios, and the ratio of the fastest sweep to the fastest bound (the least loaded calls)."""
    depth, steps = config["model"]["depth"], args.preset_interleaved
    ckpts = sorted(c for c in config["training"]["checkpoints"] if c <= steps)
    sweeps = {"": train_sweep}
    for src in filter(None, args.baseline_src.split(",")):
        name = os.path.basename(os.path.normpath(src))
        name = os.path.basename(os.path.dirname(os.path.normpath(src))) if name == "src" else name
        sweeps[f"{name} "] = baseline_training(src).train_sweep
    for dataset, spec in config["datasets"].items():
        for width in widths_for(config, dataset):
            if args.widths and width not in args.widths:
                continue
            runs = constant_runs(runs_for(config, dataset, width), dataset, width)
            _, params, etas, betas, x, y, apply_fn = problem(spec, width, depth, runs)
            flop = flops_per_step(*x.shape, width, depth) * len(runs) * (steps + 1)
            fns = {
                f"{label}chunk{b}": functools.partial(
                    fn, apply_fn, params, etas, betas, x, y, steps, ckpts, chunk=b
                )
                for label, fn in sweeps.items()
                for b in [0, *args.chunks]
            }
            chains = {  # the bound at the batch each sweep's matmuls have: a chunk, or all runs
                b: matmul_chain(min(b, len(runs)) or len(runs), x.shape[0], width, steps + 1)
                for b in [0, *args.chunks]
            }
            fns.update({f"bound{b}": chain for b, (chain, _) in chains.items()})
            times = {v: [] for v in fns}
            for fn in fns.values():  # compile
                _timing.block(fn())
            for _ in range(args.preset_repeats):
                for v, fn in fns.items():
                    t0 = time.perf_counter()
                    _timing.block(fn())
                    times[v].append(time.perf_counter() - t0)
            bounds = {b: f / np.asarray(times[f"bound{b}"]) for b, (_, f) in chains.items()}
            print(
                f"\n== {dataset}, width {width}: {len(runs)} runs, {steps} steps, "
                f"{args.preset_repeats} rounds; bound, median GFLOP/s per batch of runs: "
                + ", ".join(
                    f"{b or len(runs)}: {np.median(g) / 1e9:.1f}" for b, g in bounds.items()
                )
            )
            for label in sweeps:
                for b in [0, *args.chunks]:
                    v, bound = f"{label}chunk{b}", bounds[b]  # FLOP/s of each round
                    share = flop / np.asarray(times[v]) / bound  # of the same round's bound
                    best = flop / min(times[v]) / bound.max()
                    print(
                        f"  {v:12s} median {1e3 * np.median(times[v]):9.1f} ms  min "
                        f"{1e3 * min(times[v]):9.1f}   % of bound: per round median "
                        f"{100 * np.median(share):5.1f}, of the minima {100 * best:5.1f}"
                    )


def job_ab(config, args):
    """One preset job as the train rule runs it: `sweep_dataset` (initialisation, kappa
    eigenvectors, the training program, the dataset) of the job's runs for --build's figures,
    with config.yaml's kappa and `chunk_runs`, --preset-steps or config's steps; this checkout's
    against each --baseline-src's, the order alternating every round; per-round time ratios."""
    dataset, width = args.job_ab.split(",")
    config["figures"]["build"] = args.build or config["figures"]["build"]
    train, width = config["training"], int(width)
    steps = args.preset_steps or train["steps"]
    runs = runs_for(config, dataset, width)
    model = build_model(config["model"], width, np.dtype(train["dtype"]))
    data = nc_data.make_dataset(dataset, config["datasets"][dataset])
    checkpoints = [c for c in train["checkpoints"] if c <= steps]
    job = (model, runs, data.x.values, data.y.values, steps, checkpoints)
    job += (train["divergence_factor"],)
    options = dict(chunk=train["chunk_runs"], kappa_modes=train["kappa_modes"])
    options |= dict(kappa_stride=train["kappa_stride"], kappa_dense=train["kappa_dense_steps"])
    modules = {"this": sys.modules["nncosmo.training"]}
    modules.update({src: baseline_training(src) for src in args.baseline_src.split(",") if src})
    calls = {k: functools.partial(m.sweep_dataset, *job, **options) for k, m in modules.items()}
    times = {k: [] for k in calls}
    for call in calls.values():  # compile
        call()
    for i in range(args.preset_repeats):
        for k, call in list(calls.items())[:: 1 if i % 2 == 0 else -1]:
            t0 = time.perf_counter()
            call()
            times[k].append(time.perf_counter() - t0)
    print(f"== {dataset}, width {width}: {len(runs)} runs, {steps} steps, chunk_runs "
          f"{train['chunk_runs']}, {args.preset_repeats} rounds")  # fmt: skip
    this = np.asarray(times["this"])
    for k, t in times.items():
        ratio = this / np.asarray(t)
        print(
            f"  {k:24s} median {1e3 * np.median(t):9.1f} ms  min {1e3 * min(t):9.1f}   this / it "
            f"per round: median {np.median(ratio):.3f}, range {ratio.min():.3f}-{ratio.max():.3f}"
        )


def step_fns(apply_fn):
    """One jitted heavy-ball step (single run) and its vmap over runs (eta, beta batched)."""

    def step(p, opt_state, eta, beta, x, y):
        def loss_and_output(q):
            f = apply_fn(q, x)
            return mse_loss(f, y), f

        (loss, f), grads = jax.value_and_grad(loss_and_output, has_aux=True)(p)
        updates, opt_state = heavy_ball(eta, beta).update(grads, opt_state, p)
        return optax.apply_updates(p, updates), opt_state, f, loss

    vstep = jax.jit(jax.vmap(step, in_axes=(0, 0, 0, 0, None, None)))
    return jax.jit(step), vstep


def loop_vmap(vstep, params, etas, betas, x, y, steps, checkpoints):
    """Python loop over steps; all runs per call; f, loss and checkpoints kept on device."""
    opt_state = jax.vmap(lambda p, e, b: heavy_ball(e, b).init(p))(params, etas, betas)
    p, fs, losses, saved = params, [], [], []
    for n in range(steps + 1):
        if n in checkpoints:
            saved.append(p)
        p, opt_state, f, loss = vstep(p, opt_state, etas, betas, x, y)
        fs.append(f)
        losses.append(loss)
    return jnp.stack(fs, 1), jnp.stack(losses, 1), saved


def loop_single(step, params, etas, betas, x, y, steps, checkpoints):
    """Python loop over runs and steps of the single-run jitted step."""
    out = []
    for r in range(etas.shape[0]):
        p = jax.tree.map(lambda a, r=r: a[r], params)
        opt_state = heavy_ball(etas[r], betas[r]).init(p)
        fs, saved = [], []
        for n in range(steps + 1):
            if n in checkpoints:
                saved.append(p)
            p, opt_state, f, _ = step(p, opt_state, etas[r], betas[r], x, y)
            fs.append(f)
        out.append((jnp.stack(fs), saved))
    return out


def flops_per_step(n, d, width, depth):
    """3 x forward matmul FLOPs of one run and one step (see module docstring)."""
    forward = 2 * n * (d * width + (depth - 1) * width**2 + width)
    return 3 * forward


def matmul_peak(repeats=20, size=2048, dtype=jnp.float32):
    """size x size matmul GFLOP/s (median and best), float32 unless `dtype` says otherwise."""
    k = jax.random.split(jax.random.key(0))
    a = jax.random.normal(k[0], (size, size), dtype)
    b = jax.random.normal(k[1], (size, size), dtype)
    mm = jax.jit(jnp.matmul)
    stats = _timing.time_fn(lambda: mm(a, b), repeats, warmup=2)
    flop = 2 * size**3
    return flop / stats["median_s"] / 1e9, flop / stats["min_s"] / 1e9


def xla_flops(apply_fn, params, etas, betas, x, y):
    """XLA cost analysis of one vmapped step (all runs), or None where unavailable."""
    _, vstep = step_fns(apply_fn)
    opt_state = jax.vmap(lambda p, e, b: heavy_ball(e, b).init(p))(params, etas, betas)
    try:
        cost = vstep.lower(params, opt_state, etas, betas, x, y).compile().cost_analysis()
        cost = cost[0] if isinstance(cost, list) else cost
        return float(cost["flops"])
    except Exception:  # noqa: BLE001 - cost analysis is best effort
        return None


def report(name, stats, flop, peak):
    gflops = flop / stats["median_s"] / 1e9
    print(
        f"  {name:14s} {_timing.fmt_ms(stats)}\n"
        f"  {'':14s} {gflops:7.1f} GFLOP/s = {100 * gflops / peak:5.1f} % of matmul peak"
    )


def constant_runs(runs: list[dict], dataset: str, width: int) -> list[dict]:
    """The runs of a job without a schedule (the F7 expansion histories have one, and no single
    beta); the preset parts time these, and say how many they leave out."""
    kept = [r for r in runs if run_spec(r)["kind"] == "constant"]
    if len(kept) < len(runs):
        print(f"  ({dataset}, width {width}: {len(runs) - len(kept)} scheduled runs left out)")
    return kept


def problem(dataset_spec, width, depth, runs, dtype=jnp.float32):
    """Model, initial params, etas, betas, x, y for one sweep."""
    spec = dict(dataset_spec)
    kind = spec.pop("kind")
    x, y = getattr(nc_data, kind)(**spec)
    model = build_model(
        {"depth": depth, "activation": "erf", "bias_std": 1.0, "use_bias": True}, width, dtype
    )
    x = jnp.asarray(x, dtype)
    params = init_params(model, [r["seed"] for r in runs], x)
    etas = jnp.asarray([r["eta"] for r in runs], dtype)
    betas = jnp.asarray([r["beta"] for r in runs], dtype)
    apply_fn = training_apply_function(model)
    return model, params, etas, betas, x, jnp.asarray(y, dtype), apply_fn


def part_a(config, args, peak):
    width, depth, steps = 512, 2, 500
    checkpoints = [0, 25, 50, 100, 200, 400, 500]
    runs = [
        {"eta": eta, "beta": beta, "seed": i}
        for i, (eta, beta) in enumerate(
            (e, b) for e in (0.02, 0.05, 0.1, 0.2) for b in (0.5, 0.7, 0.8, 0.9)
        )
    ]
    spec = config["datasets"]["teacher"]
    _, params, etas, betas, x, y, apply_fn = problem(spec, width, depth, runs)
    n, d = x.shape
    ckpts = jnp.asarray(checkpoints)
    flop_step = flops_per_step(n, d, width, depth)
    flop = flop_step * len(runs) * (steps + 1)
    xla = xla_flops(apply_fn, params, etas, betas, x, y)
    print(
        f"\n== A: {len(runs)} runs, width {width}, depth {depth}, N {n}, d {d}, {steps} steps "
        f"(+1 recorded), float32\n  FLOPs: 3 x forward = {flop_step / 1e6:.1f} MFLOP per run "
        f"and step; {flop / 1e9:.1f} GFLOP per sweep"
        + (f"; XLA cost analysis of one step: {xla / len(runs) / 1e6:.1f} MFLOP/run" if xla else "")
    )
    results = {}
    for variant in ("sweep", "no_f", "no_ckpt", "bare"):
        fn = compiled_sweep(variant)
        results[variant] = _timing.time_fn(
            lambda fn=fn: fn(apply_fn, params, etas, betas, x, y, steps, ckpts),
            args.repeats,
            warmup=0,
        )
        report(variant, results[variant], flop, peak)
    stats = _timing.time_fn(
        lambda: train_sweep(apply_fn, params, etas, betas, x, y, steps, checkpoints),
        max(2, args.repeats // 2),
        warmup=0,
    )
    results["train_sweep()"] = stats
    report("train_sweep()", stats, flop, peak)
    _, vstep = step_fns(apply_fn)
    step_single, _ = step_fns(apply_fn)
    results["loop_vmap"] = _timing.time_fn(
        lambda: loop_vmap(vstep, params, etas, betas, x, y, steps, checkpoints),
        args.repeats,
        warmup=0,
    )
    report("loop_vmap", results["loop_vmap"], flop, peak)
    if args.loop_single:
        results["loop_single"] = _timing.time_fn(
            lambda: loop_single(step_single, params, etas, betas, x, y, steps, checkpoints),
            max(2, args.repeats // 2),
            warmup=0,
        )
        report("loop_single", results["loop_single"], flop, peak)
    base = results["sweep"]["median_s"]
    print("  ratios of medians (sweep / other):")
    for name, r in results.items():
        if name != "sweep":
            print(f"    sweep / {name:14s} {base / r['median_s']:.2f}")
    share_f = 1 - results["no_f"]["median_s"] / base
    share_ck = 1 - results["no_ckpt"]["median_s"] / base
    print(
        f"  share of recording f every step: {100 * share_f:.1f} % of the sweep "
        f"(min-based {100 * (1 - results['no_f']['min_s'] / results['sweep']['min_s']):.1f} %)"
        f"\n  share of the checkpoint-buffer write: {100 * share_ck:.1f} % "
        f"(min-based {100 * (1 - results['no_ckpt']['min_s'] / results['sweep']['min_s']):.1f} %)"
    )
    return results


def interleaved(config, args):
    """Part A's four scan variants and `train_sweep(chunk=B)` for each B of `--chunks`,
    round-robin (one call each per round), so that load from other processes hits all of them
    alike; `--interleaved STEPS` sets the scan length, `--shape WIDTH,RUNS` the problem."""
    width, n_runs = args.shape
    depth, steps = 2, args.interleaved
    runs = [{"eta": 0.1, "beta": 0.9, "seed": i} for i in range(n_runs)]
    _, params, etas, betas, x, y, apply_fn = problem(
        config["datasets"]["teacher"], width, depth, runs
    )
    ckpts = jnp.asarray([0, steps // 4, steps // 2, steps])
    fns = {v: compiled_sweep(v) for v in ("sweep", "no_f", "no_ckpt", "bare")}
    fns.update({f"chunk{b}": functools.partial(train_sweep, chunk=b) for b in args.chunks})
    times = {v: [] for v in fns}
    for fn in fns.values():  # compile
        _timing.block(fn(apply_fn, params, etas, betas, x, y, steps, ckpts))
    for _ in range(args.repeats):
        for v, fn in fns.items():
            t0 = time.perf_counter()
            _timing.block(fn(apply_fn, params, etas, betas, x, y, steps, ckpts))
            times[v].append(time.perf_counter() - t0)
    print(
        f"\n== interleaved, {n_runs} runs, width {width}, depth {depth}, {steps} steps, "
        f"{args.repeats} rounds"
    )
    base_med, base_min = np.median(times["sweep"]), min(times["sweep"])
    for v in fns:
        med, low = np.median(times[v]), min(times[v])
        print(
            f"  {v:8s} median {1e3 * med:9.1f} ms  min {1e3 * low:9.1f}  max "
            f"{1e3 * max(times[v]):9.1f}   time saved vs sweep: median "
            f"{100 * (1 - med / base_med):5.1f} %, min {100 * (1 - low / base_min):5.1f} %"
        )


SCHEDULE_SPECS = {
    "constant": {"kind": "constant"},
    "power_law": {"kind": "power_law", "p": 0.5, "tau0": 1.0, "hubble_step": 0.2},
    "nesterov": {"kind": "nesterov"},
    "friedmann": {"kind": "friedmann", "planck_mass": 1.0},
}


def cycling_runs(kinds, n_runs):
    """Runs (eta 0.1, beta 0.9, seeds 0..) cycling through the schedule `kinds`."""
    return [
        {"eta": 0.1, "beta": 0.9, "seed": i, "schedule": SCHEDULE_SPECS[kinds[i % len(kinds)]]}
        for i in range(n_runs)
    ]


def schedules(config, args):
    """`train_sweep` with all schedule kinds mixed in one job and with constant momentum only
    (one compiled program: the kinds are data), against the step as it was before schedules
    ("unscheduled"), at the same shape (--shape), round-robin over --repeats rounds."""
    width, n_runs = args.shape
    depth, steps = 2, args.schedules
    ckpts, fns = [0, steps // 4, steps // 2, steps], {}
    for name, kinds in {"constant": ["constant"], "mixed": list(SCHEDULE_SPECS)}.items():
        runs = cycling_runs(kinds, n_runs)
        etas, betas, switches = schedule_columns(runs, steps)
        _, params, e, b, x, y, apply_fn = problem(config["datasets"]["teacher"], width, depth, runs)
        fns[name] = functools.partial(
            train_sweep, apply_fn, params, etas, betas, x, y, steps, ckpts, **switches,
        )  # fmt: skip
    unscheduled = compiled_sweep("unscheduled")
    fns["unscheduled"] = functools.partial(
        unscheduled, apply_fn, params, e, b, x, y, steps, jnp.asarray(ckpts)
    )
    times = {v: [] for v in fns}
    for fn in fns.values():  # compile
        _timing.block(fn())
    for _ in range(args.repeats):
        for v, fn in fns.items():
            t0 = time.perf_counter()
            _timing.block(fn())
            times[v].append(time.perf_counter() - t0)
    print(
        f"\n== schedules, {n_runs} runs, width {width}, depth {depth}, {steps} steps, "
        f"{args.repeats} rounds (chunk 0: one vmap)"
    )
    base = np.median(times["unscheduled"])
    for v in fns:
        med = np.median(times[v])
        ratios = np.asarray(times[v]) / np.asarray(times["unscheduled"])
        print(
            f"  {v:11s} median {1e3 * med:9.1f} ms  min {1e3 * min(times[v]):9.1f}  max "
            f"{1e3 * max(times[v]):9.1f}   vs unscheduled: {100 * (med / base - 1):+5.1f} % "
            f"(median of per-round ratios {100 * (np.median(ratios) - 1):+5.1f} %)"
        )


def part_b(config, args, peak):
    depth = config["model"]["depth"]
    steps = args.preset_steps or config["training"]["steps"]
    checkpoints = sorted(c for c in config["training"]["checkpoints"] if c <= steps)
    ckpts = jnp.asarray(checkpoints)
    print(f"\n== B: default preset, depth {depth}, {steps} steps, checkpoints {checkpoints}")
    rows = []
    for dataset, spec in config["datasets"].items():
        for width in widths_for(config, dataset):
            runs = constant_runs(runs_for(config, dataset, width), dataset, width)
            _, params, etas, betas, x, y, apply_fn = problem(spec, width, depth, runs)
            n, d = x.shape
            flop = flops_per_step(n, d, width, depth) * len(runs) * (steps + 1)
            bound = matmul_bound(len(runs), n, width, repeats=5)
            print(
                f"  -- {dataset}, width {width}: {len(runs)} runs, N {n}, d {d}, "
                f"{flop / 1e9:.1f} GFLOP; the step's matmuls alone: {bound:.1f} GFLOP/s "
                f"= {100 * bound / peak:.1f} % of matmul peak"
            )
            variants = {"sweep": compiled_sweep("sweep")}
            if args.preset_share:
                variants["no_f"] = compiled_sweep("no_f")
            variants.update(
                {f"chunk{b}": functools.partial(train_sweep, chunk=b) for b in args.chunks}
            )
            res = {}
            for name, fn in variants.items():
                res[name] = _timing.time_fn(
                    functools.partial(fn, apply_fn, params, etas, betas, x, y, steps, ckpts),
                    args.preset_repeats,
                    warmup=0,
                )
                report(name, res[name], flop, peak)
                print(
                    f"  {'':14s} {100 * flop / res[name]['median_s'] / 1e9 / bound:5.1f} % "
                    "of the matmul bound"
                )
            if args.preset_share:
                share = 1 - res["no_f"]["median_s"] / res["sweep"]["median_s"]
                share_min = 1 - res["no_f"]["min_s"] / res["sweep"]["min_s"]
                print(
                    f"  {'':14s} share of recording f: {100 * share:.1f} % "
                    f"(min-based {100 * share_min:.1f} %)"
                )
            rows.append((dataset, width, len(runs), flop, bound, res))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--preset-repeats", type=int, default=1)
    parser.add_argument("--skip-preset", action="store_true")
    parser.add_argument("--skip-a", action="store_true", help="only the default preset (part B)")
    parser.add_argument(
        "--preset-steps", type=int, default=0, help="steps per preset job (default: config's)"
    )
    parser.add_argument(
        "--chunks",
        type=lambda v: [int(b) for b in v.split(",") if b],
        default=[],
        metavar="B1,B2",
        help="also time train_sweep(chunk=B) (part B and --interleaved)",
    )
    parser.add_argument("--preset-share", action="store_true", help="also time no_f per job")
    parser.add_argument(
        "--interleaved",
        type=int,
        default=0,
        metavar="STEPS",
        help="only run part A's scan variants round-robin with this many steps",
    )
    parser.add_argument(
        "--shape",
        type=lambda v: tuple(int(b) for b in v.split(",")),
        default=(512, 16),
        metavar="WIDTH,RUNS",
        help="problem of --interleaved (default 512,16)",
    )
    parser.add_argument(
        "--schedules",
        type=int,
        default=0,
        metavar="STEPS",
        help="only time train_sweep with schedules against the unscheduled step",
    )
    parser.add_argument("--loop-single", action="store_true", help="also the per-run loop")
    parser.add_argument(
        "--preset-interleaved",
        type=int,
        default=0,
        metavar="STEPS",
        help="only part B's jobs, round-robin against the bound (and --baseline-src)",
    )
    parser.add_argument(
        "--widths",
        type=lambda v: [int(w) for w in v.split(",") if w],
        default=[],
        metavar="W1,W2",
        help="--preset-interleaved: only these widths",
    )
    parser.add_argument(
        "--baseline-src",
        default="",
        metavar="SRC1,SRC2",
        help="--preset-interleaved, --job-ab: also the sweeps of these src/ folders",
    )
    parser.add_argument(
        "--job-ab",
        default="",
        metavar="DATASET,WIDTH",
        help="only this preset job as the train rule runs it, against --baseline-src",
    )
    parser.add_argument(
        "--build",
        type=lambda v: [f for f in v.split(",") if f],
        default=[],
        metavar="F1,F2",
        help="--job-ab: the figures whose runs the job trains (default: config's figures.build)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="XLA CPU threads (PJRT_NPROC); default 1, what every pipeline job runs on",
    )
    args = parser.parse_args()
    os.environ["PJRT_NPROC"] = str(args.threads)  # read when JAX first creates its CPU client
    with open(os.path.join(ROOT, "config.yaml")) as fh:
        config = yaml.safe_load(fh)
    print(
        f"machine: {_timing.cpu_model()}, {os.cpu_count()} logical CPUs, jax {jax.__version__}, "
        f"{args.threads} XLA CPU thread(s), XLA_FLAGS {os.environ.get('XLA_FLAGS', '')!r}"
    )
    t0 = time.perf_counter()
    if args.interleaved:
        interleaved(config, args)
        return
    if args.schedules:
        schedules(config, args)
        return
    if args.preset_interleaved:
        preset_interleaved(config, args)
        return
    if args.job_ab:
        job_ab(config, args)
        return
    peak, best = matmul_peak()
    print(
        f"float32 2048x2048 matmul: {peak:.1f} GFLOP/s median, {best:.1f} best "
        "(the median is the reference 'peak')"
    )
    if not args.skip_a:
        part_a(config, args, peak)
    if not args.skip_preset:
        part_b(config, args, peak)
    print(f"\ntotal benchmark wall time {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
