"""Stage 8, the reverse direction (docs/physics.md §12): a chosen universe simulated by training.

A target cosmology (config `cosmologies.targets`: background, mass m, phi(t0), phi'(t0), span,
steps) fixes the lattice t_n = t0 + n dt, dt = span / steps, and through the inverse exact
dictionary (`theory.lattice_settings`) the momentum beta_n = exp(-3 H(t_n) dt) and the product
x_n = eta_n kappa of every step. The network's kappa_0 = lambda_0 / N at initialisation turns
x_n into the learning rate eta_n = x_n / kappa_0 (equivalently: learning rate dt^2 on the loss
scaled by s_n = eta_n / dt^2). The data are chosen so that only the top NTK mode moves:

    y = f(theta_0) - eps phi(t0) v_0,   so   r(0) = f - y = eps phi(t0) v_0,

and the field is read back as phi(t_n) = u_0(n) / eps = v_0 . r(n) / eps. The momentum buffer
starts at theta(0) - theta(-1) = eps (phi(t0) - phi(t0 - dt)) J^T v_0 / lambda_0, which moves
u_0 alone by that amount: any initial velocity phi'(t0) is reachable (zero buffer: the exact
rest velocity `theory.rest_initial_velocity`).

JAX runs in float64 here: callers enable jax_enable_x64 (scripts/simulate.py does).
"""

from __future__ import annotations

import json
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from nncosmo import theory
from nncosmo.cosmology import Expansion, check_solved, integrate_flrw
from nncosmo.training import measured_kappa, mse_loss


def start_time(background: dict) -> float:
    """t0 of the target: the power law's t0 (its big bang is t = 0), else 0."""
    return float(background.get("t0", 0.0))


def target_times(target: dict) -> tuple[np.ndarray, float]:
    """The lattice t_n = t0 + n dt, n = 0..steps, dt = span / steps; returns (t, dt)."""
    dt = target["span"] / target["steps"]
    return start_time(target["background"]) + dt * np.arange(target["steps"] + 1), dt


def expansion(background: dict) -> tuple[str, Expansion]:
    """(kind, Expansion) of `cosmology.integrate_flrw` for a config background."""
    kind = background["kind"]
    return kind, Expansion(
        H0=background.get("H", 0.0),
        p=background.get("p", 0.0),
        Lambda=background.get("Lambda", 0.0),
    )


# Compiled as one program: called eagerly, each of integrate_flrw's operations outside diffrax's
# own jit was a program of its own, ~1 s of every simulate job (benchmarks/README.md §17).
_integrate_flrw = jax.jit(integrate_flrw, static_argnames=("kind", "max_steps"))


def target_field(target: dict) -> dict[str, np.ndarray]:
    """The target's phi, phi', a (a(t0) = 1) and H on the lattice (`cosmology.integrate_flrw`);
    a failed integration stops the job (`cosmology.check_solved`)."""
    t, _ = target_times(target)
    kind, params = expansion(target["background"])
    zero = np.zeros(1)
    out = _integrate_flrw(
        t,
        target["phi0"],
        target["dphi0"],
        target["mass"] ** 2,
        zero,
        zero,
        zero,
        0.0,
        kind=kind,
        expansion=params,
    )
    fields = {name: np.asarray(out[name]) for name in ("phi", "dphi", "a", "H")}
    solution = np.stack(list(fields.values()))[None]
    check_solved(solution, np.array([True]), "the target's field", rule="simulate")
    return fields


def lattice_schedule(hubble: np.ndarray, mass: float, dt: float) -> tuple[np.ndarray, ...]:
    """(beta_n, x_n = eta_n kappa) of steps n = 0..steps-1 (step n maps u(n) to u(n+1)) from
    H(t_n): `theory.lattice_settings`."""
    return theory.lattice_settings(hubble[:-1], mass**2, dt)


def previous_field(target: dict, hubble0: float, dt: float) -> float:
    """phi(t0 - dt) of the solution through (phi(t0), phi'(t0)) with H frozen at H(t0)
    (`theory.mode_solution`; exact for de Sitter, O(dt^3 H') otherwise)."""
    m2 = target["mass"] ** 2
    return float(theory.mode_solution(-dt, target["phi0"], target["dphi0"], hubble0, m2))


def top_mode(model, params, x) -> tuple[np.ndarray, float]:
    """Top eigenvector v_0 and eigenvalue lambda_0 of the empirical NTK at initialisation,
    symmetrised as the ntk stage does (`ntk.symmetrised`)."""
    from nncosmo.ntk import eigenmodes, ntk_function, symmetrised

    lam, vec = eigenmodes(symmetrised(np.asarray(ntk_function(model)(params, x))))
    return vec[:, 0], float(lam[0])


@partial(jax.jit, static_argnames=("apply_fn", "stride"))
def train_schedule(apply_fn, params, velocity, etas, betas, x, y, vector, stride: int):
    """Heavy ball with a per-step (eta_n, beta_n), velocity form, in one `lax.scan`:
        v(n+1) = beta_n v(n) - eta_n grad L(theta_n),   theta(n+1) = theta(n) + v(n+1),
    so a residual mode obeys u(n+1) - u(n) = beta_n (u(n) - u(n-1)) - eta_n kappa u(n).
    Returns, for n = 0..len(etas), u(n) = vector . r(n), the norm of r(n) outside `vector`, and
    the Rayleigh quotient kappa(n) of `vector` at every `stride`-th step (0 elsewhere; shape
    (steps + 1, 1), or (steps + 1, 0) when `stride` is 0: off)."""
    schedule = (jnp.append(etas, 0.0), jnp.append(betas, 0.0))  # the last step only measures

    def step(carry, inputs):
        p, v = carry
        n, eta, beta = inputs
        f, pullback = jax.vjp(lambda q: apply_fn(q, x), p)
        residual = f - y
        (grads,) = pullback(jax.grad(mse_loss)(f, y))
        kappa = measured_kappa(n, pullback, vector[None], stride, dense=0)
        v = jax.tree.map(lambda vel, g: beta * vel - eta * g, v, grads)
        u = vector @ residual
        leak = jnp.linalg.norm(residual - u * vector)
        return (jax.tree.map(jnp.add, p, v), v), (u, leak, kappa)

    n = jnp.arange(len(etas) + 1)
    _, out = jax.lax.scan(step, (params, velocity), (n, *schedule))
    return out


@partial(jax.jit, static_argnums=0)
def initial_velocity(apply_fn, params, x, vector, lam0: float, shift: float):
    """theta(0) - theta(-1) = shift J^T v_0 / lambda_0: moves u_0(0) - u_0(-1) by `shift` (to
    first order) and no other mode, since J J^T v_0 = lambda_0 v_0. Compiled: op by op, its
    pullback's one-operation programs took ~1 s of every simulate job (benchmarks/README.md §14)."""
    _, pullback = jax.vjp(lambda q: apply_fn(q, x), params)
    (pulled,) = pullback(jnp.asarray(vector))
    return jax.tree.map(lambda leaf: shift * leaf / lam0, pulled)


def simulate(target: dict, network: dict, model, x: np.ndarray) -> dict:
    """Train `model` (seed network.seed, float64) on inputs x to simulate `target`: the derived
    settings, the network's phi(t_n) and the target's integrated field (module docstring)."""
    from nncosmo.models import init_params, training_apply_function

    params = jax.tree.map(lambda a: a[0], init_params(model, [network["seed"]], jnp.asarray(x)))
    apply_fn = training_apply_function(model)
    field = target_field(target)
    t, dt = target_times(target)
    beta, xk = lattice_schedule(field["H"], target["mass"], dt)
    vector, lam0 = top_mode(model, params, x)
    kappa0, eps = theory.ntk_kappa(lam0, x.shape[0]), network["amplitude"]
    shift = eps * (target["phi0"] - previous_field(target, field["H"][0], dt))
    velocity = initial_velocity(apply_fn, params, x, vector, lam0, shift)
    y = np.asarray(jax.jit(apply_fn)(params, x)) - eps * target["phi0"] * vector
    u, leak, kappa = train_schedule(
        apply_fn, params, velocity, xk / kappa0, beta, x, y, vector, network["kappa_stride"]
    )
    stride = network["kappa_stride"]
    return {
        "t": t, "dt": dt, "field": field, "beta": beta, "x": xk, "eta": xk / kappa0,
        "kappa0": kappa0, "lambda0": lam0, "phi": np.asarray(u) / eps,
        "leak": np.asarray(leak) / abs(eps * target["phi0"]),
        "kappa_step": np.arange(0, len(t), stride), "kappa": np.asarray(kappa)[::stride, 0],
    }  # fmt: skip


# Units of simulate_dataset's numeric attributes (its JSON attribute `attribute_units`; netCDF
# attributes carry no units of their own): t is the target's time, tau = n sqrt(eta) the network's,
# so eta is in tau^2, kappa in 1/tau^2 and the loss scale eta / dt^2 in tau^2/t^2 (its variables').
ATTRIBUTE_UNITS = {
    "mass": "1/t", "phi0": "1", "dphi0": "1/t", "span": "t", "steps": "step", "dt": "t",
    "kappa0": "1/tau^2", "lambda0": "1/tau^2", "amplitude": "1", "width": "1", "seed": "1",
    "kappa_drift": "1", "background_H": "1/t", "background_p": "1", "background_t0": "t",
    "background_Lambda": "1/t^2",
}  # fmt: skip


def _variable(dim: str, values, long_name: str, units: str) -> tuple:
    """One 1-d dataset variable with its long_name and units."""
    return ((dim,), np.asarray(values), {"long_name": long_name, "units": units})


def simulate_dataset(name: str, target: dict, network: dict, model, x: np.ndarray):
    """Stage simulate: `simulate` as a Dataset on the step coordinate (docs/physics.md §12)."""
    import xarray as xr

    sim = simulate(target, network, model, x)
    field, step = sim["field"], np.arange(len(sim["t"]))
    image = theory.exact_dictionary(sim["dt"] ** 2, sim["beta"], sim["x"] / sim["dt"] ** 2)
    kappa_drift = np.max(np.abs(sim["kappa"] / sim["kappa0"] - 1))
    background = target["background"]
    ds = xr.Dataset(
        {
            "phi_network": _variable("step", sim["phi"], "network field phi = u_0 / eps", "1"),
            "phi_target": _variable("step", field["phi"], "integrated target field phi", "1"),
            "dphi_target": _variable("step", field["dphi"], "target field velocity dphi/dt", "1/t"),
            "a": _variable("step", field["a"], "scale factor a(t), a(t0) = 1", "1"),
            "H": _variable("step", field["H"], "Hubble rate H(t) of the target", "1/t"),
            "leak": _variable("step", sim["leak"], "residual outside v_0 over eps |phi(t0)|", "1"),
            "beta": _variable("update", sim["beta"], "momentum beta_n = exp(-3 H(t_n) dt)", "1"),
            "eta": _variable("update", sim["eta"], "learning rate eta_n = x_n / kappa_0", "tau^2"),
            "eta_kappa": _variable(
                "update", sim["x"], "x_n = eta_n kappa_0 (inverse exact dictionary)", "1"
            ),
            "loss_scale": _variable(
                "update", sim["eta"] / sim["dt"] ** 2, "loss scale s_n = eta_n / dt^2", "tau^2/t^2"
            ),
            "H_image": _variable(
                "update", image["H"], "H of the exact dictionary of (eta_n, beta_n, kappa_0)", "1/t"
            ),
            "m2_image": _variable(
                "update",
                image["m2"],
                "m^2 of the exact dictionary of (eta_n, beta_n, kappa_0)",
                "1/t^2",
            ),
            "kappa": _variable(
                "kappa_step", sim["kappa"], "Rayleigh quotient v_0^T Theta(n) v_0 / N", "1/tau^2"
            ),
        },
        coords={
            "step": step,
            "t": _variable("step", sim["t"], "cosmic time t_n = t0 + n dt", "t"),
            "update": _variable("update", step[:-1], "training step n (maps n to n + 1)", "step"),
            "kappa_step": sim["kappa_step"],
        },
        attrs={
            "target": name,
            "background": background["kind"],
            **{f"background_{k}": v for k, v in background.items() if k != "kind"},
            "mass": target["mass"],
            "phi0": target["phi0"],
            "dphi0": target["dphi0"],
            "span": target["span"],
            "steps": target["steps"],
            "dt": sim["dt"],
            "kappa0": sim["kappa0"],
            "lambda0": sim["lambda0"],
            "amplitude": network["amplitude"],
            "width": model.width,
            "dataset": network["dataset"],
            "seed": network["seed"],
            "kappa_drift": kappa_drift,
        },
    )
    ds.attrs["attribute_units"] = json.dumps(
        {name: ATTRIBUTE_UNITS[name] for name in ds.attrs if name in ATTRIBUTE_UNITS}
    )
    return ds
