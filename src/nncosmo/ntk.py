"""Stage 3, NTK: empirical neural tangent kernel, its eigenmodes and the residual projections.

Theta_ij = grad_theta f(x_i) . grad_theta f(x_j)  (docs/physics.md §1), computed two ways:
- `structured_ntk`, for `nncosmo.models.MLP`: layer by layer, never forming the Jacobian (§7.3).
  For a dense layer z = W h / sqrt(fan_in) + s b with backpropagated delta = df/dz,
      Theta = sum_layers (delta delta^T) * (h h^T / fan_in + s^2)      (elementwise product),
  one forward and one backward pass for the whole batch.
- `generic_ntk`, for any Flax model: rows of Jacobians by `vmap(vjp)` in chunks of samples, then
  columns by `jvp`, so memory stays at chunk x parameters.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jax.numpy as jnp
import numpy as np

from nncosmo.io import RUN_COORDS
from nncosmo.models import MLP, PRECISION, apply_function


def generic_ntk(apply_fn: Callable, params, x: jax.Array, chunk_size: int = 16) -> jax.Array:
    """Theta = J J^T for any f(params, x) -> (N,): row i is J (J^T e_i), J^T e_i by vjp and J by
    jvp, `chunk_size` rows at a time (`lax.map`'s batch_size; a shorter last chunk)."""
    f = lambda p: apply_fn(p, x)  # noqa: E731
    _, pullback = jax.vjp(f, params)
    push = lambda tangent: jax.jvp(f, (params,), (tangent,))[1]  # noqa: E731
    eye = jnp.eye(x.shape[0], dtype=jax.eval_shape(f, params).dtype)
    return jax.lax.map(lambda e: push(pullback(e)[0]), eye, batch_size=chunk_size)


def structured_ntk(model: MLP, params, x: jax.Array) -> jax.Array:
    """NTK of an NTK-parameterised MLP: sum_l (delta_l delta_l^T) * (h_l h_l^T / fan_in + s^2).

    One forward pass: the layer inputs h_l are the auxiliary output of the pass that `jax.grad`
    differentiates with respect to zero perturbations of the preactivations (delta_l)."""
    _, shapes = jax.eval_shape(
        lambda: model.apply({"params": params}, x, mutable=["perturbations"])
    )
    zeros = jax.tree.map(jnp.zeros_like, shapes["perturbations"])

    def total_output(perturbations):
        variables = {"params": params, "perturbations": perturbations}
        f, state = model.apply(variables, x, mutable=["intermediates"])
        return f.sum(), state["intermediates"]

    deltas, inputs = jax.grad(total_output, has_aux=True)(zeros)
    theta = 0.0
    for name in model.layer_names():
        h = inputs[f"{name}_input"][0]
        delta = deltas[f"{name}_preactivation"]
        gram = jnp.matmul(h, h.T, precision=PRECISION) / h.shape[-1]
        if model.use_bias:
            gram = gram + model.bias_std**2
        theta = theta + jnp.matmul(delta, delta.T, precision=PRECISION) * gram
    return theta


def ntk_function(model, method: str = "auto", chunk_size: int = 16) -> Callable:
    """jit-compiled params, x -> Theta; `auto` takes the structured path for `MLP`s."""
    if method == "auto":
        method = "structured" if isinstance(model, MLP) else "generic"
    if method == "structured":
        return jax.jit(lambda p, x: structured_ntk(model, p, x))
    apply_fn = apply_function(model)
    return jax.jit(lambda p, x: generic_ntk(apply_fn, p, x, chunk_size))


def symmetrised(kernels: np.ndarray) -> np.ndarray:
    """(Theta + Theta^T) / 2 over the last two axes: exact symmetry before `eigenmodes` (a
    computed kernel can differ from its transpose by rounding)."""
    return 0.5 * (kernels + np.swapaxes(kernels, -1, -2))


def eigenmodes(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenpairs of a symmetric kernel in float64, sorted descending, signs fixed.

    Sign convention: each eigenvector has a positive sum (so v_0 points along +1/sqrt(N));
    one whose sum vanishes to rounding has a positive largest-magnitude entry.
    """
    lam, vec = np.linalg.eigh(np.asarray(theta, dtype=np.float64))
    lam, vec = lam[::-1], vec[:, ::-1]
    total = vec.sum(axis=0)
    pivot = vec[np.abs(vec).argmax(axis=0), np.arange(vec.shape[1])]
    sign = np.where(np.abs(total) > 1e-8, np.sign(total), np.sign(pivot))
    return lam, vec * sign


def uniform_overlap(v0: np.ndarray) -> np.ndarray:
    """|v_0 . 1/sqrt(N)|: how close the top eigenvector is to the mean field."""
    n = v0.shape[-1]
    return np.abs(v0.sum(axis=-1)) / np.sqrt(n)


def relative_drift(theta: np.ndarray, theta0: np.ndarray) -> np.ndarray:
    """||Theta(n) - Theta(0)||_F / ||Theta(0)||_F over the last two axes."""
    with np.errstate(over="ignore", invalid="ignore"):  # diverged runs give inf/NaN, kept
        num = np.linalg.norm(theta - theta0, axis=(-2, -1))
        return num / np.linalg.norm(theta0, axis=(-2, -1))


def residual_modes(f: np.ndarray, y: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """u_a(n) = v_a . (f(n) - y): the residual (..., step, sample) projected on the eigenvectors
    (..., sample, mode), batched over leading axes; returns (..., step, mode) in float64."""
    return (np.asarray(f, np.float64) - np.asarray(y, np.float64)) @ vectors


def kernels_by_run(ntk_fn: Callable, train, x) -> np.ndarray:
    """Theta(run, checkpoint, sample, sample_), one run at a time (vmapped over its checkpoints).

    Only that run's parameters are read from `train` (`variables_to_params(train, run=r)`; a
    lazily opened file reads just their hyperslab) and held, so a job's memory is bounded by one
    run's checkpoints whatever the number of runs in its training file.
    """
    from nncosmo.training import variables_to_params

    per_checkpoint = jax.jit(jax.vmap(ntk_fn, (0, None)))
    return np.stack(
        [
            np.asarray(
                per_checkpoint(jax.tree.map(jnp.asarray, variables_to_params(train, run=r)), x)
            )
            for r in range(train.sizes["run"])
        ]
    )


def batched_eigenmodes(kernels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`eigenmodes` over leading axes; kernels with non-finite entries (diverged) give NaN."""
    lead, n = kernels.shape[:-2], kernels.shape[-1]
    lam = np.full((*lead, n), np.nan)
    vec = np.full((*lead, n, n), np.nan)
    for idx in np.ndindex(*lead):
        if np.isfinite(kernels[idx]).all():
            lam[idx], vec[idx] = eigenmodes(kernels[idx])
    return lam, vec


def ntk_dataset(
    model, train, x: np.ndarray, y: np.ndarray, modes: int, method: str, chunk_size: int
):
    """NTK stage: kernels, eigenpairs, mean-field overlap, drift and residual modes u_a(n).

    `train` may be opened lazily (`read_dataset(..., lazy=True)`): kernels stream run by run.
    """
    import xarray as xr

    ntk_fn = ntk_function(model, method, chunk_size)
    kernels = kernels_by_run(ntk_fn, train, jnp.asarray(x, model.dtype))
    kernels = symmetrised(kernels)
    lam, vec = batched_eigenmodes(kernels)
    f = train["f"].values
    u_init = residual_modes(f, y, vec[:, 0, :, :modes])
    u_end = residual_modes(f, y, vec[:, -1, :, :modes])
    dims_k = ("run", "checkpoint", "sample", "sample_")
    return xr.Dataset(
        {
            "ntk": (dims_k, kernels, {"long_name": "empirical NTK Theta_ij", "units": "1/tau^2"}),
            "eigenvalue": (
                ("run", "checkpoint", "eigen"),
                lam,
                {"long_name": "NTK eigenvalue lambda_a (descending)", "units": "1/tau^2"},
            ),
            "eigenvector": (
                ("run", "checkpoint", "sample", "eigen"),
                vec,
                {"long_name": "NTK eigenvector v_a (sign: positive sum)", "units": "1"},
            ),
            "overlap_uniform": (
                ("run", "checkpoint"),
                uniform_overlap(vec[..., 0]),
                {"long_name": "|v_0 . 1/sqrt(N)|", "units": "1"},
            ),
            "drift": (
                ("run", "checkpoint"),
                relative_drift(kernels, kernels[:, :1]),
                {"long_name": "||Theta(n) - Theta(0)||_F / ||Theta(0)||_F", "units": "1"},
            ),
            "u": (
                ("run", "step", "mode"),
                u_init,
                {"long_name": "residual mode u_a = v_a(0) . (f - y)", "units": "1"},
            ),
            "u_end": (
                ("run", "step", "mode"),
                u_end,
                {"long_name": "residual mode with v_a at the last checkpoint", "units": "1"},
            ),
            "residual_norm": (
                ("run", "step"),
                np.linalg.norm(f - y, axis=-1),
                {"long_name": "||f - y||", "units": "1"},
            ),
        },
        coords={
            **{c: train[c] for c in (*RUN_COORDS, "step", "checkpoint", "sample")},
            "sample_": np.arange(x.shape[0]),
            "eigen": np.arange(x.shape[0]),
            "mode": np.arange(modes),
            "tau": train["tau"],
            "eta_n": train["eta_n"],
            "beta_n": train["beta_n"],
        },
        attrs={**train.attrs, "n_samples": x.shape[0], "ntk_method": method},
    )
