"""Stage 2b, training: full-batch heavy-ball momentum, every step inside one `lax.scan`.

Update (docs/physics.md §1), started from rest (theta(-1) = theta(0)):
    theta(n+1) = theta(n) - eta grad L(theta(n)) + beta (theta(n) - theta(n-1)),
    L = 1/(2N) sum_i (f(x_i) - y_i)^2,
which is exactly `optax.sgd(eta, momentum=beta)`. The whole (eta, beta, seed) grid of one width
runs as one compiled program: `vmap` over runs of a `scan` over steps (on a CPU, optionally a
`lax.map` over chunks of runs, each chunk vmapped: `training.chunk_runs`).

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


class Trajectories(NamedTuple):
    """What one sweep records: outputs and loss every step, parameters at checkpoints, the
    Rayleigh quotients kappa at the `measured_steps` (no kappa_step when the stride s is 0)."""

    f: jax.Array  # (run, step, sample)
    loss: jax.Array  # (run, step)
    checkpoints: dict  # pytree of (run, checkpoint, *param_shape)
    kappa: jax.Array  # (run, kappa_step, mode)


def mse_loss(f: jax.Array, y: jax.Array) -> jax.Array:
    """L = 1/(2N) sum_i (f_i - y_i)^2."""
    return 0.5 * jnp.mean((f - y) ** 2)


def heavy_ball(eta, beta) -> optax.GradientTransformation:
    """Heavy-ball momentum theta <- theta - eta g + beta (theta - theta_prev), from rest."""
    return optax.sgd(learning_rate=eta, momentum=beta, nesterov=False)


def checkpoint_slot(step: jax.Array, checkpoints: jax.Array) -> jax.Array:
    """Index of `step` in the sorted checkpoint list (the first checkpoint >= step)."""
    return jnp.searchsorted(checkpoints, step, side="left")


def save_checkpoint(saved, params, slot):
    """Write `params` into checkpoint slot `slot` of the buffer pytree `saved`."""
    return jax.tree.map(lambda buf, leaf: buf.at[slot].set(leaf), saved, params)


def rayleigh_quotients(pullback: Callable, vectors: jax.Array) -> jax.Array:
    """kappa_a = ||J^T v_a||^2 / N = v_a^T Theta v_a / N for the rows v_a of `vectors` (K, N),
    with `pullback` the vjp of the outputs f (N,): one pullback batched over the K vectors."""
    (pulled,) = jax.vmap(pullback)(vectors)
    squares = sum(jnp.sum(leaf**2, axis=range(1, leaf.ndim)) for leaf in jax.tree.leaves(pulled))
    return squares / vectors.shape[-1]


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
    eta,
    beta,
    x,
    y,
    steps: int,
    checkpoints: jax.Array,
    on_step: Callable | None = None,
    kappa_vectors: jax.Array | None = None,
    kappa_stride: int = 0,
    kappa_dense: int = 0,
) -> Trajectories:
    """One run: record f(theta(n)) and L(theta(n)) for n = 0..steps, parameters at checkpoints,
    and kappa_a(n) (`rayleigh_quotients` of the rows of `kappa_vectors`, (K, N)) at the
    `measured_steps(steps, kappa_stride, kappa_dense)`, sharing the step's forward pass
    (`kappa_stride` 0: off).

    `on_step(n)`, if given, is traced into every step (progress reports; it returns nothing).
    """
    optimiser = heavy_ball(eta, beta)
    if kappa_vectors is None:
        kappa_vectors = jnp.zeros((0, x.shape[0]), x.dtype)

    def step(carry, n):
        if on_step is not None:
            on_step(n)
        p, opt_state, saved = carry
        f, pullback = jax.vjp(lambda q: apply_fn(q, x), p)
        loss, residual = jax.value_and_grad(mse_loss)(f, y)
        (grads,) = pullback(residual)
        kappa = measured_kappa(n, pullback, kappa_vectors, kappa_stride, kappa_dense)
        saved = jax.lax.cond(
            jnp.isin(n, checkpoints),
            save_checkpoint,
            lambda s, *_: s,
            saved,
            p,
            checkpoint_slot(n, checkpoints),
        )
        updates, opt_state = optimiser.update(grads, opt_state, p)
        return (optax.apply_updates(p, updates), opt_state, saved), (f, loss, kappa)

    saved = jax.tree.map(
        lambda leaf: jnp.zeros((len(checkpoints), *leaf.shape), leaf.dtype), params
    )
    carry = (params, optimiser.init(params), saved)
    (_, _, saved), (f, loss, kappa) = jax.lax.scan(step, carry, jnp.arange(steps + 1))
    kappa = kappa[measured_steps(steps, kappa_stride, kappa_dense)]
    return Trajectories(f=f, loss=loss, checkpoints=saved, kappa=kappa)


PROGRESS_REPORTS = 10


def chunk_count(runs: int, chunk: int) -> int:
    """How many chunks `run_all` splits `runs` runs into: ceil(runs / chunk), 1 if chunk <= 0."""
    return 1 if chunk <= 0 else -(-runs // chunk)


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
    etas,
    betas,
    x,
    y,
    steps: int,
    checkpoints,
    chunk: int,
    progress,
    kappa_vectors,
    kappa_stride: int,
    kappa_dense: int = 0,
):
    """`train_run` for every run: one `vmap`, or with `chunk` > 0 a `lax.map` over chunks of
    `chunk` runs (vmapped inside a chunk, the remainder as a last, shorter chunk), so that on a
    CPU one chunk's parameters, velocities and gradients stay in cache across its steps
    (benchmarks/README.md: chunk_runs). `kappa_vectors` (run, K, N) are each run's v_a.

    `progress(n, chunk, steps, chunks)`, if not None, is called on the host at PROGRESS_REPORTS
    evenly spaced steps of the job; its arguments are not batched, so it runs once per chunk.
    """
    runs, columns = len(etas), (params, etas, betas, kappa_vectors)
    chunks = chunk_count(runs, chunk)

    def sweep(index, p, eta, beta, vectors):
        on_step = None
        if progress is not None:
            on_step = partial(report_progress, progress, chunk=index, chunks=chunks, steps=steps)

        def run(p, e, b, v):
            return train_run(
                apply_fn, p, e, b, x, y, steps, checkpoints, on_step, v, kappa_stride, kappa_dense
            )

        return jax.vmap(run)(p, eta, beta, vectors)

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


_compiled_sweep = jax.jit(run_all, static_argnums=(0, 6, 8, 9, 11, 12))


def train_sweep(
    apply_fn: Callable,
    params,
    etas,
    betas,
    x,
    y,
    steps: int,
    checkpoints,
    chunk: int = 0,
    progress: Callable | None = None,
    kappa_vectors=None,
    kappa_stride: int = 0,
    kappa_dense: int = 0,
) -> Trajectories:
    """All runs in one compiled program: `vmap` of `train_run` over (params, eta, beta, v_a), in
    chunks of `chunk` runs where `chunk` > 0; `progress` as in `run_all` (default: silent);
    kappa_a(n) of the rows of `kappa_vectors` (run, K, N) at every step n < `kappa_dense` and
    every `kappa_stride` steps (stride 0: off).

    The program is cached per (apply_fn, steps, chunk, progress, kappa_stride, kappa_dense) and
    shapes, so
    repeated calls do not recompile.
    """
    checkpoints = jnp.asarray(sorted(checkpoints))
    dtype = jax.tree.leaves(params)[0].dtype
    if kappa_vectors is None:
        kappa_vectors = np.zeros((len(etas), 0, np.shape(x)[0]))
    return _compiled_sweep(
        apply_fn,
        params,
        jnp.asarray(etas, dtype),
        jnp.asarray(betas, dtype),
        jnp.asarray(x, dtype),
        jnp.asarray(y, dtype),
        steps,
        checkpoints,
        chunk,
        progress,
        jnp.asarray(kappa_vectors, dtype),
        kappa_stride,
        kappa_dense,
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
    chunk: int = 0,
    progress: Callable | None = None,
    kappa_modes: int = 0,
    kappa_stride: int = 0,
    kappa_dense: int = 0,
):
    """Train every run of one job (chunks of `chunk` runs, `progress` reports as in `run_all`),
    measuring kappa_a(n) of the top `kappa_modes` initial eigenvectors at every step
    n < `kappa_dense` and every `kappa_stride` steps (stride 0: off), and return the Dataset."""
    import xarray as xr

    params = init_params_for(model, runs, x)
    etas = [r["eta"] for r in runs]
    betas = [r["beta"] for r in runs]
    apply_fn = lambda p, x: model.apply({"params": p}, x)  # noqa: E731
    vectors = initial_eigenvectors(model, params, x, kappa_modes if kappa_stride else 0)
    traj = train_sweep(
        apply_fn, params, etas, betas, x, y, steps, checkpoints, chunk, progress,
        vectors, kappa_stride, kappa_dense,
    )  # fmt: skip
    loss = np.asarray(traj.loss)
    run_coords = {  # long names and units: nncosmo.io.COORDINATE_ATTRS
        "run": np.arange(len(runs)),
        "eta": ("run", np.asarray(etas)),
        "beta": ("run", np.asarray(betas)),
        "seed": ("run", np.asarray([r["seed"] for r in runs])),
        "diverged": ("run", diverged(loss, divergence_factor)),
    }
    step = np.arange(steps + 1)
    tau = np.sqrt(np.asarray(etas))[:, None] * step[None, :]
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
                tau,
                {"long_name": "time tau = n sqrt(eta)", "units": "sqrt(eta) per step"},
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


def initial_eigenvectors(model, params, x, modes: int) -> np.ndarray:
    """Top `modes` eigenvectors v_a (run, mode, sample) of each run's NTK at initialisation,
    symmetrised and signed exactly as the ntk stage does (`nncosmo.ntk.eigenmodes`)."""
    from nncosmo.ntk import batched_eigenmodes, ntk_function

    if modes == 0:
        return np.zeros((len(jax.tree.leaves(params)[0]), 0, x.shape[0]))
    x = jnp.asarray(x, model.dtype)
    kernels = np.asarray(jax.vmap(ntk_function(model), (0, None))(params, x))
    _, vectors = batched_eigenmodes(0.5 * (kernels + np.swapaxes(kernels, -1, -2)))
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
        "units": "1",
    }
    return {"kappa": xr.DataArray(kappa, coords, ("run", "kappa_step", "mode"), attrs=attrs)}


def init_params_for(model, runs: list[dict], x) -> dict:
    """Initial parameters of each run from its seed (runs sharing a seed share an init)."""
    from nncosmo.models import init_params

    return init_params(model, [r["seed"] for r in runs], jax.numpy.asarray(x, model.dtype))
