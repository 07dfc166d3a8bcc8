"""Scalar fields and their perturbations on a flat FLRW background (reduced Planck units, M_p = 1).

The background field, its K Fourier-mode perturbations and the scale factor solve

    phi'' + 3 H phi' + m^2 phi = 0,
    dphi_k'' + 3 H dphi_k' + (k^2 / a^2 + M_k^2) dphi_k = 0,
    (ln a)' = H,

with H(t) from one of three expansion histories (`kind`): "de_sitter" (H = H0), "power_law"
(H = p / t, a ~ t^p) or "friedmann" (H = sqrt((rho_phi + Lambda) / 3)).

Everything is float64: callers must run `jax.config.update("jax_enable_x64", True)` before using
JAX. This module does not flip that global switch; `integrate_flrw` raises ValueError without it.
"""

from __future__ import annotations

from typing import NamedTuple

import diffrax
import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from nncosmo import theory

KINDS = ("de_sitter", "power_law", "friedmann")


class Expansion(NamedTuple):
    """Parameters of the expansion history: H0 (de Sitter), p (power law), Lambda (Friedmann)."""

    H0: float | Array = 0.0
    p: float | Array = 0.0
    Lambda: float | Array = 0.0


def hubble(kind: str, expansion: Expansion, t, phi, dphi, mass2) -> Array:
    """H = H0 (de_sitter), p / t (power_law) or sqrt((phi'^2/2 + m^2 phi^2/2 + Lambda) / 3)."""
    if kind == "de_sitter":
        return expansion.H0 * jnp.ones_like(t)
    if kind == "power_law":
        return expansion.p / t
    if kind == "friedmann":
        rho = 0.5 * dphi**2 + 0.5 * mass2 * phi**2
        return jnp.sqrt((rho + expansion.Lambda) / 3.0)
    raise ValueError(f"unknown expansion kind {kind!r}; expected one of {KINDS}")


def mass_at(mass2, t):
    """m^2(t): a constant, or a diffrax.LinearInterpolation of tabulated masses (time-dependent)."""
    return mass2.evaluate(t) if isinstance(mass2, diffrax.LinearInterpolation) else mass2


def _vector_field(t, y, args):
    """(ln a, phi, phi', d, d')' = (H, phi', -3H phi' - m^2 phi, d', -3H d' - (k^2/a^2 + M^2) d)."""
    kind, expansion, mass2, k, pert_mass2 = args
    mass2, pert_mass2 = mass_at(mass2, t), mass_at(pert_mass2, t)
    ln_a, phi, dphi, delta, ddelta = y
    h = hubble(kind, expansion, t, phi, dphi, mass2)
    omega2 = k**2 * jnp.exp(-2.0 * ln_a) + pert_mass2
    return (h, dphi, -3.0 * h * dphi - mass2 * phi, ddelta, -3.0 * h * ddelta - omega2 * delta)


def _f64(x) -> Array:
    """x as a float64 JAX array."""
    return jnp.asarray(x, dtype=jnp.float64)


def _as_mass(mass2):
    """A constant mass as float64; an interpolated one as given."""
    return mass2 if isinstance(mass2, diffrax.LinearInterpolation) else _f64(mass2)


def _step_controller(rtol, atol, mass2, pert_mass2):
    """PID step-size control; steps land on the knots of an interpolated mass (its kinks)."""
    pid = diffrax.PIDController(rtol=rtol, atol=atol)
    knots = [m.ts for m in (mass2, pert_mass2) if isinstance(m, diffrax.LinearInterpolation)]
    return diffrax.ClipStepSizeController(pid, step_ts=knots[0]) if knots else pid


def integrate_flrw(
    ts,
    phi0,
    dphi0,
    mass2,
    delta0,
    ddelta0,
    k,
    pert_mass2,
    *,
    kind: str = "de_sitter",
    expansion: Expansion = Expansion(),  # noqa: B008 (an immutable NamedTuple)
    a0=1.0,
    rtol: float = 1e-11,
    atol: float = 1e-13,
    max_steps: int = 1_000_000,
) -> dict[str, Array]:
    """Solve phi'' + 3H phi' + m^2 phi = 0, d'' + 3H d' + (k^2/a^2 + M^2) d = 0, (ln a)' = H.

    `ts` (T,) are the save times, ts[0] the initial time; phi0, dphi0, mass2 and a0 are scalars;
    delta0, ddelta0, k, pert_mass2 have shape (K,). A time-dependent mass is a
    diffrax.LinearInterpolation instead (values (T_m,) for mass2, (T_m, K) for pert_mass2, on
    the same knots); the steps then land on its knots. `kind` and `max_steps` are static; all else,
    tolerances included, may be traced (jit, vmap; ts of equal length). Returns "phi", "dphi",
    "a", "H" of shape (T,) and "delta", "ddelta" of shape (T, K), solved with Dopri8 under a PID
    step-size controller.
    """
    if not jax.config.jax_enable_x64:
        raise ValueError(
            "nncosmo.cosmology needs float64: call jax.config.update('jax_enable_x64', True) "
            "before using JAX"
        )
    if kind not in KINDS:
        raise ValueError(f"unknown expansion kind {kind!r}; expected one of {KINDS}")
    ts, k, rtol, atol = map(_f64, (ts, k, rtol, atol))
    mass2, pert_mass2 = _as_mass(mass2), _as_mass(pert_mass2)
    if kind == "power_law":
        ts = eqx.error_if(ts, ts[0] <= 0.0, "power_law expansion needs t0 = ts[0] > 0")
    y0 = (jnp.log(_f64(a0)), *map(_f64, (phi0, dphi0, delta0, ddelta0)))
    expansion = Expansion(*map(_f64, expansion))
    # First step: 1% of the span. diffrax's automatic choice (dt0=None) is so short for an
    # 8th-order method at these tolerances that its error estimate is pure round-off, which then
    # steers all later steps: vmapped and single runs would differ by ~1e-10 instead of ~1e-14.
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(_vector_field),
        diffrax.Dopri8(),
        t0=ts[0],
        t1=ts[-1],
        dt0=(ts[-1] - ts[0]) / 100,
        y0=y0,
        args=(kind, expansion, mass2, k, pert_mass2),
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=_step_controller(rtol, atol, mass2, pert_mass2),
        max_steps=max_steps,
    )
    ln_a, phi, dphi, delta, ddelta = sol.ys
    h = hubble(kind, expansion, ts, phi, dphi, jax.vmap(lambda t: mass_at(mass2, t))(ts))
    return {"phi": phi, "dphi": dphi, "a": jnp.exp(ln_a), "H": h, "delta": delta, "ddelta": ddelta}


DICTIONARIES = ("continuum", "exact", "adiabatic")


def checkpoint_kappa(ntk) -> np.ndarray:
    """kappa_a(n) = lam_a(n) / N, shape (run, step, mode): the sorted NTK eigenvalues at the
    checkpoints, linearly interpolated in n (held constant outside them). The one source of a
    step-dependent kappa; a dense measurement can replace it."""
    from scipy.interpolate import interp1d

    lam = ntk.eigenvalue.isel(eigen=slice(0, ntk.sizes["mode"])).values / ntk.attrs["n_samples"]
    ends = (lam[:, 0], lam[:, -1])
    return interp1d(ntk.checkpoint.values, lam, axis=1, bounds_error=False, fill_value=ends)(
        ntk.step.values
    )


def dictionary_parameters(dictionary: str, eta, beta, kappa, u0):
    """(H, m^2_a(n), u'(0)_a) that a dictionary (docs/physics.md §2, §5, §9) assigns to
    kappa_a(n) = lam_a(n)/N, given as (run, step, mode); u0 is (run, mode).

    Continuum (m^2 = kappa_a(0), u'(0) = 0) and exact (m^2 of kappa_a(0), the velocity that makes
    the continuous solution pass through u(-sqrt(eta)) = u(0)) hold the mass at its initial
    value; adiabatic takes the exact m^2 of kappa_a(n) at every step, H and u'(0) as exact.
    """
    eta, beta = np.asarray(eta)[:, None, None], np.asarray(beta)[:, None, None]
    if dictionary != "adiabatic":
        kappa = np.broadcast_to(kappa[:, :1], kappa.shape)
    if dictionary == "continuum":
        params, du0 = theory.continuum_dictionary(eta, beta, kappa), np.zeros_like(u0)
    else:
        params = theory.exact_dictionary(eta, beta, kappa)
        du0 = theory.rest_initial_velocity(eta[:, 0], beta[:, 0], kappa[:, 0], u0)
    return params["H"][:, 0, 0], params["m2"], du0


def _matched_field(ts, h, mass2, init, rate, rtol, atol):
    """One run: mode 0 as the background phi, modes a > 0 as k = 0 perturbations, de Sitter H;
    mass2 (T, K) tabulated at ts, linearly interpolated in between."""
    zeros = jnp.zeros_like(init[1:])
    out = integrate_flrw(
        ts,
        init[0],
        rate[0],
        diffrax.LinearInterpolation(ts, mass2[:, 0]),
        init[1:],
        rate[1:],
        zeros,
        diffrax.LinearInterpolation(ts, mass2[:, 1:]),
        kind="de_sitter",
        expansion=Expansion(H0=h),
        rtol=rtol,
        atol=atol,
    )
    return jnp.concatenate([out["phi"][:, None], out["delta"]], axis=1)


_matched_fields = jax.jit(jax.vmap(_matched_field, in_axes=(0, 0, 0, 0, 0, None, None)))


def de_sitter_fields(tau, H, m2, u0, du0, rtol: float, atol: float) -> np.ndarray:
    """All runs in one vmapped, jit-compiled diffrax call (`_matched_field` per run).

    Shapes: tau (R, T), H (R,), m2 (R, T, K) (m^2 at tau), u0/du0 (R, K); returns (R, T, K).
    Runs with non-finite parameters (diverged, or no real image in the dictionary at some step)
    are integrated as zeros and returned as NaN rows.
    """
    valid = np.isfinite(H) & np.isfinite(m2).all((-2, -1)) & np.isfinite(du0).all(-1)
    clean = lambda a: np.where(valid.reshape(-1, *[1] * (a.ndim - 1)), a, 0.0)  # noqa: E731
    H, m2, u0, du0 = map(clean, (H, m2, u0, du0))
    tau = np.where(valid[:, None], tau, np.arange(tau.shape[1])[None, :])
    fields = np.asarray(_matched_fields(tau, H, m2, u0, du0, rtol, atol))
    return np.where(valid[:, None, None], fields, np.nan)


def field_dataset(ntk, rtol: float, atol: float):
    """Cosmology stage: for each run and dictionary, the de Sitter field matched to u_a(n).

    All dictionaries' runs go through one `de_sitter_fields` call (one compilation); kappa_a(n)
    comes from `checkpoint_kappa`.
    """
    import xarray as xr

    eta, beta, kappa = ntk.eta.values, ntk.beta.values, checkpoint_kappa(ntk)
    u0 = ntk.u.isel(step=0).values
    params = [dictionary_parameters(d, eta, beta, kappa, u0) for d in DICTIONARIES]
    hubbles = np.stack([np.where(ntk.diverged.values, np.nan, p[0]) for p in params])
    masses = np.stack([p[1] for p in params])
    rates = np.stack([p[2] for p in params])
    runs, tau = len(eta), np.concatenate([ntk.tau.values] * len(DICTIONARIES))
    fields = de_sitter_fields(
        tau,
        hubbles.reshape(-1),
        masses.reshape(-1, *masses.shape[2:]),
        np.concatenate([u0] * len(DICTIONARIES)),
        rates.reshape(-1, rates.shape[-1]),
        rtol,
        atol,
    )
    fields = fields.reshape(len(DICTIONARIES), runs, *fields.shape[1:])
    dims = ("dictionary", "run")
    return xr.Dataset(
        {
            "field": (
                (*dims, "step", "mode"),
                fields,
                {
                    "long_name": "field phi (mode 0), delta phi (a > 0) at tau = n sqrt(eta)",
                    "units": "same as u_a",
                },
            ),
            "hubble": (
                dims,
                hubbles,
                {"long_name": "Hubble rate H of the dictionary", "units": "1/tau"},
            ),
            "mass2": (
                (*dims, "step", "mode"),
                masses,
                {
                    "long_name": "mass^2 the dictionary assigns to mode a at step n",
                    "units": "1/tau^2",
                },
            ),
        },
        coords={
            "dictionary": list(DICTIONARIES),
            **{
                c: ntk[c]
                for c in (
                    "run",
                    "eta",
                    "beta",
                    "seed",
                    "schedule",
                    "diverged",
                    "step",
                    "mode",
                    "tau",
                )
            },
        },
        attrs={
            **ntk.attrs,
            "rtol": rtol,
            "atol": atol,
            "note": "NaN where a run diverged or a dictionary has no real (H, m^2) image",
        },
    )
