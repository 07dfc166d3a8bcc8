"""Stage 2b, training: full-batch heavy-ball momentum, every step inside one `lax.scan`.

Update (docs/physics.md §1), started from rest (theta(-1) = theta(0)):
    theta(n+1) = theta(n) - eta grad L(theta(n)) + beta (theta(n) - theta(n-1)),
    L = 1/(2N) sum_i (f(x_i) - y_i)^2,
which is exactly `optax.sgd(eta, momentum=beta)`. The whole (eta, beta, seed) grid of one width
runs as one compiled program: `vmap` over runs of a `scan` over steps (on a CPU, optionally a
`lax.map` over chunks of runs, each chunk vmapped: `training.chunk_runs`).

A schedule (docs/physics.md §11) is data, not code: per run the arrays eta_n, beta_n of every
step, a Nesterov switch, and a Friedmann switch under which beta_n comes from the run's own
energy density (`Schedule`), so runs of different schedules share the one program.

Inside the scan, every step n < `training.kappa_dense_steps` and every `training.kappa_stride`-th
step (`measured_steps`: dense early, where the NTK drifts most, sparse late) also measures the
Rayleigh quotients
    kappa_a(n) = v_a^T Theta(n) v_a / N = ||J(theta_n)^T v_a||^2 / N     (docs/physics.md §7.9)
of the top eigenvectors v_a of the run's NTK at initialisation, by the pullback of the step's own
forward pass applied to the K vectors at once; the training itself is unchanged by it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from nncosmo import theory
from nncosmo.config import schedule_spec


class Trajectories(NamedTuple):
    """What one sweep records: outputs and loss every step, parameters at checkpoints, the
    Rayleigh quotients kappa at every step below kappa_dense_steps and at steps 0, s, 2s, ...
    (`measured_steps`; no kappa_step when the stride s is 0)."""

    f: jax.Array  # (run, step, sample)
    loss: jax.Array  # (run, step)
    checkpoints: dict  # pytree of (run, checkpoint, *param_shape)
    kappa: jax.Array  # (run, kappa_step, mode)
    beta: jax.Array  # (run, step): the momentum beta_n each step used


def mse_loss(f: jax.Array, y: jax.Array) -> jax.Array:
    """L = 1/(2N) sum_i (f_i - y_i)^2."""
    return 0.5 * jnp.mean((f - y) ** 2)


def heavy_ball(eta, beta) -> optax.GradientTransformation:
    """Heavy-ball momentum theta <- theta - eta g + beta (theta - theta_prev), from rest."""
    return optax.sgd(learning_rate=eta, momentum=beta, nesterov=False)


class Schedule(NamedTuple):
    """One run's schedule as data (docs/physics.md §11): eta_n and beta_n for n = 0..steps;
    `nesterov` switches optax's Nesterov update on; where `friedmann` is on, beta_n is not read
    but made from the state, exp(-3 H sqrt(eta_n)), H^2 = (rho_phi / planck_mass^2 + vacuum) / 3."""

    eta: jax.Array  # (steps + 1,)
    beta: jax.Array  # (steps + 1,)
    nesterov: jax.Array  # bool
    friedmann: jax.Array  # bool
    vacuum: jax.Array  # Lambda
    planck_mass: jax.Array  # field normalisation M: phi = u / M


# the per-run switches: train_sweep's keywords, in the order run_schedule returns them
SWITCHES = Schedule._fields[2:]


def schedule_columns(runs: list[dict], steps: int) -> tuple[np.ndarray, np.ndarray, dict]:
    """`run_schedule` of every run stacked: eta_n and beta_n (run, steps + 1), and the switches
    {name: (run,)} as `train_sweep` takes them."""
    etas, betas, *switches = (
        np.asarray(column) for column in zip(*(run_schedule(r, steps) for r in runs), strict=True)
    )
    return etas, betas, dict(zip(SWITCHES, switches, strict=True))


def batched_schedules(
    etas, betas, steps: int, dtype, nesterov=None, friedmann=None, vacuum=None, planck_mass=None
) -> Schedule:
    """Schedules (run, ...) from etas, betas of shape (run,) (constant) or (run, steps + 1)
    (per step) and per-run switches (default: off, Lambda 0, M 1)."""
    per_step = lambda a: jnp.broadcast_to(  # noqa: E731
        jnp.asarray(a, dtype).reshape(len(a), -1), (len(a), steps + 1)
    )
    runs = len(etas)
    switch = lambda a, default: jnp.full(runs, default) if a is None else jnp.asarray(a)  # noqa: E731
    return Schedule(
        per_step(etas), per_step(betas), switch(nesterov, False), switch(friedmann, False),
        switch(vacuum, 0.0).astype(dtype), switch(planck_mass, 1.0).astype(dtype),
    )  # fmt: skip


def field_energy(f, f_prev, grads, eta, samples: int):
    """rho_phi = |Delta r|^2 / (2 eta) + (N/2) |grad L|^2 = sum_a (Delta u_a^2 / (2 eta)
    + kappa_a u_a^2 / 2) (docs/physics.md §11): kinetic from the last step's change of the
    residual, potential r^T Theta r / (2N) from the gradient, no NTK needed (the network's form
    of `theory.field_energies`, summed over the modes without computing them)."""
    squares = sum(jnp.sum(g**2) for g in jax.tree.leaves(grads))
    return 0.5 * jnp.sum((f - f_prev) ** 2) / eta + 0.5 * samples * squares


class Branches(NamedTuple):
    """Which schedule branches a job's program traces (static): Nesterov's update, and the
    Friedmann rate with its field energy. A job none of whose runs switches a branch on skips
    its work; the values are the same either way (a switch that is off selects the heavy-ball
    update and the given beta_n)."""

    nesterov: bool = True
    friedmann: bool = True


ALL_BRANCHES = Branches()


def schedule_branches(nesterov, friedmann) -> Branches:
    """The `Branches` that per-run switches (arrays, or None: all off) need."""
    on = lambda switch: switch is not None and bool(np.any(switch))  # noqa: E731
    return Branches(on(nesterov), on(friedmann))


def scheduled_momentum(schedule: Schedule, n, rho, branches=ALL_BRANCHES):
    """beta_n of step n: the schedule's, or where the run's `friedmann` switch is on the
    Friedmann rate of the field energy `rho` (not traced, and `rho` may be None, when
    `branches` leaves the Friedmann branch out)."""
    beta = schedule.beta[n]
    if branches.friedmann:
        mass2 = schedule.planck_mass**2
        own = theory.friedmann_momentum(rho / mass2, schedule.vacuum, schedule.eta[n], jnp)
        beta = jnp.where(schedule.friedmann, own.astype(beta.dtype), beta)
    return beta


def scheduled_update(
    schedule: Schedule, eta, beta, grads, opt_state, params, branches=ALL_BRANCHES
):
    """optax.sgd(eta, momentum=beta), Nesterov's (`nesterov=True`) where the run's switch is on
    (both share the trace, so the switch is data; Nesterov's not traced when `branches` leaves
    it out). Returns the updates and the optimiser state."""
    heavy, state = heavy_ball(eta, beta).update(grads, opt_state, params)
    if not branches.nesterov:
        return heavy, state
    ahead, _ = optax.sgd(eta, momentum=beta, nesterov=True).update(grads, opt_state, params)
    return jax.tree.map(lambda a, h: jnp.where(schedule.nesterov, a, h), ahead, heavy), state


def checkpoint_slot(step: jax.Array, checkpoints: jax.Array) -> jax.Array:
    """Index of `step` in the sorted checkpoint list (the first checkpoint >= step): the count
    of checkpoints below it, one fused comparison (jnp.searchsorted runs a while loop of its own
    inside every training step)."""
    return jnp.sum(checkpoints < step).astype(jnp.int32)


def checkpoint_buffers(params, checkpoints):
    """Zeroed buffers, one slot per checkpoint, for every leaf of `params` (`checkpointed`)."""
    return jax.tree.map(lambda leaf: jnp.zeros((len(checkpoints), *leaf.shape), leaf.dtype), params)


def save_checkpoint(saved, params, slot):
    """Write `params` into checkpoint slot `slot` of the buffer pytree `saved`."""
    return jax.tree.map(lambda buf, leaf: buf.at[slot].set(leaf), saved, params)


def checkpointed(saved, params, n, checkpoints: jax.Array):
    """`saved` with `params`, theta(n), written into the slot of step `n` if `n` is one of the
    `checkpoints` (a `lax.cond`: every other step writes nothing)."""
    slot = checkpoint_slot(n, checkpoints)
    return jax.lax.cond(
        jnp.isin(n, checkpoints), save_checkpoint, lambda s, *_: s, saved, params, slot
    )


def rayleigh_quotients(pullback: Callable, vectors: jax.Array) -> jax.Array:
    """kappa_a = ||J^T v_a||^2 / N = v_a^T Theta v_a / N for the rows v_a of `vectors` (K, N),
    with `pullback` the vjp of the outputs f (N,): one pullback batched over the K vectors."""
    (pulled,) = jax.vmap(pullback)(vectors)
    squares = sum(jnp.sum(leaf**2, axis=range(1, leaf.ndim)) for leaf in jax.tree.leaves(pulled))
    return theory.ntk_kappa(squares, vectors.shape[-1])


def measured_steps(steps: int, stride: int, dense: int = 0) -> np.ndarray:
    """The steps n in 0..steps at which kappa is measured: n < dense (every step) or n a multiple
    of stride; none when the stride is 0 (off)."""
    n = np.arange(steps + 1)
    return n[(n < dense) | (n % stride == 0)] if stride else n[:0]


def measured_kappa(n, pullback: Callable, vectors: jax.Array, stride: int, dense: int) -> jax.Array:
    """`rayleigh_quotients` at the `measured_steps` (n < dense or n % stride == 0); zeros at every
    other step (a `lax.cond`, whose untaken branch costs nothing); shape (0,) when `stride` is 0."""
    if stride == 0:
        return jnp.zeros((0,), vectors.dtype)
    skip = lambda: jnp.zeros(vectors.shape[:1], vectors.dtype)  # noqa: E731
    measure = (n < dense) | (n % stride == 0)
    return jax.lax.cond(measure, rayleigh_quotients, lambda *_: skip(), pullback, vectors)


def train_run(
    apply_fn: Callable,
    params,
    schedule: Schedule,
    x,
    y,
    steps: int,
    checkpoints: jax.Array,
    on_step: Callable | None = None,
    kappa_vectors: jax.Array | None = None,
    kappa_stride: int = 0,
    kappa_dense: int = 0,
    branches: Branches = ALL_BRANCHES,
) -> Trajectories:
    """One run under its `schedule`: record f(theta(n)), L(theta(n)) and the beta_n used for
    n = 0..steps, parameters at checkpoints, and kappa_a(n) (`rayleigh_quotients` of the rows
    of `kappa_vectors`, (K, N)) at the `measured_steps(steps, kappa_stride, kappa_dense)`,
    sharing the step's forward pass (`kappa_stride` 0: off); only the schedule `branches` given.

    `on_step(n)`, if given, is traced into every step (progress reports; it returns nothing).

    Step n first applies the update of step n - 1 (its eta, beta_n and gradient are carried)
    and then evaluates theta(n): the parameters are updated in place before any operation reads
    them. Updating at the end of the step instead, while the backward pass still reads theta(n),
    makes XLA copy every weight matrix on every step (benchmarks/README.md §9).
    """
    if kappa_vectors is None:
        kappa_vectors = jnp.zeros((0, x.shape[0]), x.dtype)

    def step(carry, n):
        if on_step is not None:
            on_step(n)
        p, opt_state, pending, saved, f_prev = carry
        updates, opt_state = scheduled_update(schedule, *pending, opt_state, p, branches)
        p = optax.apply_updates(p, updates)  # theta(n), before anything reads it (docstring)
        saved = checkpointed(saved, p, n, checkpoints)
        f, pullback = jax.vjp(lambda q: apply_fn(q, x), p)
        loss, residual = jax.value_and_grad(mse_loss)(f, y)
        (grads,) = pullback(residual)
        kappa = measured_kappa(n, pullback, kappa_vectors, kappa_stride, kappa_dense)
        rho = None
        if branches.friedmann:
            rho = field_energy(f, f_prev, grads, schedule.eta[n], x.shape[0])
        beta = scheduled_momentum(schedule, n, rho, branches)
        return (p, opt_state, (schedule.eta[n], beta, grads), saved, f), (f, loss, kappa, beta)

    saved = checkpoint_buffers(params, checkpoints)
    # step 0 applies a zero update (eta = beta = 0, no gradient yet): theta(0) exactly
    zero = jnp.zeros_like(schedule.eta[0])
    nothing = (zero, zero, jax.tree.map(jnp.zeros_like, params))
    carry = (params, heavy_ball(0.0, 0.0).init(params), nothing, saved, apply_fn(params, x))
    (_, _, _, saved, _), (f, loss, kappa, beta) = jax.lax.scan(step, carry, jnp.arange(steps + 1))
    kappa = kappa[measured_steps(steps, kappa_stride, kappa_dense)]
    return Trajectories(f=f, loss=loss, checkpoints=saved, kappa=kappa, beta=beta)


PROGRESS_REPORTS = 10


def chunk_size(runs: int, chunk: int) -> int:
    """Runs per chunk of `run_all` for at most `chunk` per chunk: the largest divisor of `runs`
    in [ceil(chunk / 2), chunk], so that every chunk has the same shape and the program holds
    one copy of the training step; `chunk` if none divides (a shorter last chunk, compiled as a
    second copy); all `runs` (one vmap) when chunk <= 0 or chunk >= runs."""
    if chunk <= 0 or chunk >= runs:
        return runs
    return next((s for s in range(chunk, (chunk + 1) // 2 - 1, -1) if runs % s == 0), chunk)


def chunk_count(runs: int, chunk: int) -> int:
    """How many chunks `run_all` splits `runs` runs into: ceil(runs / chunk_size(runs, chunk))."""
    return -(-runs // chunk_size(runs, chunk))


def progress_marks(chunks: int, steps: int) -> np.ndarray:
    """Positions k = chunk (steps + 1) + n of PROGRESS_REPORTS evenly spaced progress reports
    over a whole job, k_j = ceil(j K / PROGRESS_REPORTS) - 1 of K = chunks (steps + 1)."""
    total = chunks * (steps + 1)
    return np.unique(-(-np.arange(1, PROGRESS_REPORTS + 1) * total // PROGRESS_REPORTS) - 1)


def report_progress(callback: Callable, n, chunk, chunks: int, steps: int) -> None:
    """At a progress mark, `callback(n, chunk, steps, chunks)` on the host (`jax.debug.callback`,
    ordered, so that chunks report in order); every other step takes a `lax.cond`'s empty branch."""
    at_mark = jnp.isin(chunk * (steps + 1) + n, progress_marks(chunks, steps))
    report = lambda: jax.debug.callback(callback, n, chunk, steps, chunks, ordered=True)  # noqa: E731
    jax.lax.cond(at_mark, report, lambda: None)


def run_all(
    apply_fn,
    params,
    schedules: Schedule,
    x,
    y,
    steps: int,
    checkpoints,
    chunk: int,
    progress,
    kappa_vectors,
    kappa_stride: int,
    kappa_dense: int,
    branches: Branches,
):
    """`train_run` for every run (tracing only the schedule `branches` given): one `vmap`, or
    with `chunk` > 0 a `lax.map` over chunks of at most `chunk` runs (`chunk_size`: equal chunks
    where a divisor allows, else the remainder as a last, shorter chunk; vmapped inside a
    chunk), so that on a CPU one chunk's parameters, velocities and
    gradients stay in cache across its steps (benchmarks/README.md: chunk_runs).
    `kappa_vectors` (run, K, N) are each run's v_a.

    Each run gets its own (broadcast) copy of the inputs x: with x shared, XLA merges the runs'
    first-layer products into one matmul whose output (sample, run, width) and whose weight
    gradient's operand must then be transposed on every step; batched per run, neither is
    (4-7 % of a step, benchmarks/README.md §13).

    `progress(n, chunk, steps, chunks)`, if not None, is called on the host at PROGRESS_REPORTS
    evenly spaced steps of the job; its arguments are not batched, so it runs once per chunk.
    """
    runs, columns = len(schedules.eta), (params, schedules, kappa_vectors)
    chunk, chunks = chunk_size(runs, chunk), chunk_count(runs, chunk)

    def sweep(index, p, schedule, vectors):
        on_step = None
        if progress is not None:
            on_step = partial(report_progress, progress, chunk=index, chunks=chunks, steps=steps)

        def run(p, s, v, inputs):
            return train_run(
                apply_fn, p, s, inputs, y, steps, checkpoints, on_step, v, kappa_stride,
                kappa_dense, branches,
            )  # fmt: skip

        # every run its own copy of x (docstring: no transposes around the first layer)
        inputs = jnp.broadcast_to(x, (len(schedule.eta), *x.shape))
        return jax.vmap(run)(p, schedule, vectors, inputs)

    if chunks == 1:
        return sweep(0, *columns)
    full = runs // chunk
    head = jax.tree.map(lambda a: a[: full * chunk].reshape(full, chunk, *a.shape[1:]), columns)
    out = jax.lax.map(lambda args: sweep(*args), (jnp.arange(full), *head))
    out = jax.tree.map(lambda a: a.reshape(full * chunk, *a.shape[2:]), out)
    if full == chunks:
        return out
    tail = sweep(full, *jax.tree.map(lambda a: a[full * chunk :], columns))
    return jax.tree.map(lambda a, b: jnp.concatenate([a, b]), out, tail)


_compiled_sweep = jax.jit(
    run_all,
    static_argnames=(
        "apply_fn",
        "steps",
        "chunk",
        "progress",
        "kappa_stride",
        "kappa_dense",
        "branches",
    ),
)


def train_sweep(
    apply_fn: Callable,
    params,
    etas,
    betas,
    x,
    y,
    steps: int,
    checkpoints,
    *,
    chunk: int = 0,
    progress: Callable | None = None,
    kappa_vectors=None,
    kappa_stride: int = 0,
    kappa_dense: int = 0,
    nesterov=None,
    friedmann=None,
    vacuum=None,
    planck_mass=None,
) -> Trajectories:
    """All runs in one compiled program: `vmap` of `train_run` over (params, schedule, v_a), in
    chunks of `chunk` runs where `chunk` > 0; `progress` as in `run_all` (default: silent);
    kappa_a(n) of the rows of `kappa_vectors` (run, K, N) at every step n < `kappa_dense` and
    every `kappa_stride` steps (stride 0: off).
    etas, betas are (run,) (constant) or (run, steps + 1) (per step); the per-run switches
    nesterov, friedmann, vacuum, planck_mass as in `Schedule` (`batched_schedules`).

    The program is cached per (apply_fn, steps, chunk, progress, kappa_stride, kappa_dense, the
    `schedule_branches` of the switches) and shapes, so repeated calls do not recompile.
    """
    checkpoints = jnp.asarray(sorted(checkpoints))
    dtype = jax.tree.leaves(params)[0].dtype
    if kappa_vectors is None:
        kappa_vectors = np.zeros((len(etas), 0, np.shape(x)[0]))
    switches = (nesterov, friedmann, vacuum, planck_mass)
    return _compiled_sweep(
        apply_fn,
        params,
        batched_schedules(etas, betas, steps, dtype, *switches),
        jnp.asarray(x, dtype),
        jnp.asarray(y, dtype),
        steps,
        checkpoints,
        chunk,
        progress,
        jnp.asarray(kappa_vectors, dtype),
        kappa_stride,
        kappa_dense,
        schedule_branches(nesterov, friedmann),
    )


def diverged(loss: np.ndarray, factor: float) -> np.ndarray:
    """A run diverged if its loss turns non-finite or ends above `factor` times its start."""
    loss = np.asarray(loss)
    nonfinite = ~np.isfinite(loss).all(axis=-1)
    with np.errstate(invalid="ignore"):
        grew = loss[..., -1] > factor * loss[..., 0]
    return nonfinite | grew


PARAM_PREFIX = "param."


def params_to_variables(params: dict) -> dict:
    """Checkpointed parameters (run, checkpoint, *shape) as named netCDF variables.

    Each leaf becomes `param.<layer>.<name>` with dims (run, checkpoint, <layer>.<name>.dimK),
    so the file is self-describing and the pytree is rebuilt from names, not from an ordering.
    """
    from flax.traverse_util import flatten_dict

    variables = {}
    for key, leaf in flatten_dict(params, sep=".").items():
        leaf = np.asarray(leaf)
        dims = ("run", "checkpoint", *(f"{key}.dim{i}" for i in range(leaf.ndim - 2)))
        variables[PARAM_PREFIX + key] = (
            dims,
            leaf,
            {"long_name": f"parameter {key}", "units": "1"},
        )
    return variables


def variables_to_params(ds, **index) -> dict:
    """The parameter pytree stored in a training dataset, at `ds.isel(**index)`."""
    from flax.traverse_util import unflatten_dict

    flat = {
        name[len(PARAM_PREFIX) :]: ds[name].isel(**index).values
        for name in ds.data_vars
        if name.startswith(PARAM_PREFIX)
    }
    return unflatten_dict(flat, sep=".")


def sweep_dataset(
    model,
    runs: list[dict],
    x: np.ndarray,
    y: np.ndarray,
    steps: int,
    checkpoints: list[int],
    divergence_factor: float,
    *,
    chunk: int = 0,
    progress: Callable | None = None,
    kappa_modes: int = 0,
    kappa_stride: int = 0,
    kappa_dense: int = 0,
    ntk_method: str = "auto",
):
    """Train every run of one job, each under its schedule (`run_schedule`; the dataset keeps
    the eta_n, beta_n used), in chunks of `chunk` runs, `progress` reports as in `run_all`,
    measuring kappa_a(n) of the top `kappa_modes` initial eigenvectors (`initial_eigenvectors`
    of the ntk stage's `ntk_method`) at every step n < `kappa_dense` and every `kappa_stride`
    steps (stride 0: off), and return the Dataset."""
    import xarray as xr

    from nncosmo.models import training_apply_function

    params = init_params_for(model, runs, x)
    etas, betas, switches = schedule_columns(runs, steps)
    apply_fn = training_apply_function(model)
    modes = kappa_modes if kappa_stride else 0
    vectors = initial_eigenvectors(model, params, x, modes, ntk_method)
    traj = train_sweep(
        apply_fn, params, etas, betas, x, y, steps, checkpoints, chunk=chunk, progress=progress,
        kappa_vectors=vectors, kappa_stride=kappa_stride, kappa_dense=kappa_dense,
        **switches,
    )  # fmt: skip
    loss = np.asarray(traj.loss)
    run_coords = {  # long names and units: nncosmo.io.COORDINATE_ATTRS
        "run": np.arange(len(runs)),
        "eta": ("run", np.asarray([r["eta"] for r in runs], float)),
        "beta": ("run", np.asarray([np.nan if r["beta"] is None else r["beta"] for r in runs])),
        "seed": ("run", np.asarray([r["seed"] for r in runs])),
        "schedule": ("run", np.asarray([theory.schedule_label(run_spec(r)) for r in runs])),
        "diverged": ("run", diverged(loss, divergence_factor)),
    }
    step = np.arange(steps + 1)
    return xr.Dataset(
        {
            "f": (
                ("run", "step", "sample"),
                np.asarray(traj.f),
                {"long_name": "network output on the training set", "units": "1"},
            ),
            "loss": (
                ("run", "step"),
                loss,
                {"long_name": "training loss 1/(2N) sum (f-y)^2", "units": "1"},
            ),
            "tau": (
                ("run", "step"),
                theory.lattice_time(etas),
                {"long_name": "time tau_n = sum_{k<n} sqrt(eta_k)", "units": "tau"},
            ),
            "eta_n": (
                ("run", "step"),
                etas,
                {"long_name": "learning rate eta_n of the update at step n", "units": "tau^2"},
            ),
            "beta_n": (
                ("run", "step"),
                np.asarray(traj.beta),
                {"long_name": "momentum beta_n the update at step n used", "units": "1"},
            ),
            **params_to_variables(traj.checkpoints),
            **kappa_variables(traj.kappa, measured_steps(steps, kappa_stride, kappa_dense)),
        },
        coords={
            **run_coords,
            "step": step,
            "checkpoint": np.asarray(sorted(checkpoints)),
            "sample": np.arange(x.shape[0]),
        },
        attrs={
            "width": model.width,
            "depth": model.depth,
            "activation": model.activation,
            "bias_std": model.bias_std,
            "use_bias": int(model.use_bias),
            "dtype": str(np.dtype(model.dtype)),
            "steps": steps,
        },
    )


def run_spec(run: dict) -> dict:
    """A run's schedule with its kind's defaults filled, constant when the run names none
    (`nncosmo.config.schedule_spec`)."""
    return schedule_spec(run)


def run_schedule(run: dict, steps: int) -> tuple:
    """(eta_n, beta_n for n = 0..steps, nesterov, friedmann, Lambda, M) of one run's schedule
    (docs/physics.md §11); a friedmann run's Lambda = 3 H^2 of its beta's exact de Sitter H, so
    beta_n -> beta as rho_phi -> 0."""
    spec, eta, beta = run_spec(run), run["eta"], run["beta"]
    kind, etas = spec["kind"], np.full(steps + 1, eta, float)
    if kind == "power_law":
        etas, betas = theory.power_law_schedule(
            eta, spec["p"], spec["tau0"], steps, spec["hubble_step"]
        )
    elif kind == "nesterov":
        betas = theory.nesterov_momentum(steps)
    else:
        betas = np.full(steps + 1, beta, float)
    friedmann = kind == "friedmann"
    vacuum = theory.vacuum_energy(eta, beta) if friedmann else 0.0
    return etas, betas, kind == "nesterov", friedmann, vacuum, spec.get("planck_mass", 1.0)


def initial_eigenvectors(model, params, x, modes: int, method: str = "auto") -> np.ndarray:
    """Top `modes` eigenvectors v_a (run, mode, sample) of each run's NTK at initialisation,
    computed by the ntk stage's kernel (`ntk_function(model, method)`, config key ntk.method;
    ntk.chunk_size, a memory setting, is left at its default: it changes rounding only),
    symmetrised and signed as the ntk stage does (`nncosmo.ntk.eigenmodes`)."""
    from nncosmo.ntk import batched_eigenmodes, ntk_function, symmetrised

    if modes == 0:
        return np.zeros((len(jax.tree.leaves(params)[0]), 0, x.shape[0]))
    x = jnp.asarray(x, model.dtype)
    kernels = np.asarray(jax.vmap(ntk_function(model, method), (0, None))(params, x))
    _, vectors = batched_eigenmodes(symmetrised(kernels))
    return np.swapaxes(vectors[..., :modes], -1, -2)


def kappa_variables(kappa: np.ndarray, steps: np.ndarray) -> dict:
    """The measured Rayleigh quotients as the variable `kappa(run, kappa_step, mode)` on the
    coordinate `kappa_step` = `steps` (`measured_steps`); nothing when none is measured (off)."""
    import xarray as xr

    if len(steps) == 0:
        return {}
    kappa = np.asarray(kappa)
    coords = {"kappa_step": np.asarray(steps), "mode": np.arange(kappa.shape[2])}
    attrs = {
        "long_name": "Rayleigh quotient kappa_a(n) = v_a(0)^T Theta(n) v_a(0) / N",
        "units": "1/tau^2",
    }
    return {"kappa": xr.DataArray(kappa, coords, ("run", "kappa_step", "mode"), attrs=attrs)}


def init_params_for(model, runs: list[dict], x) -> dict:
    """Initial parameters of each run from its seed (runs sharing a seed share an init)."""
    from nncosmo.models import init_params

    return init_params(model, [r["seed"] for r in runs], jax.numpy.asarray(x, model.dtype))
