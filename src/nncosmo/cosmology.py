"""Scalar fields and their perturbations on a flat FLRW background (reduced Planck units, M_p = 1).

The background field, its K Fourier-mode perturbations and the scale factor solve

    phi'' + 3 H phi' + m^2 phi = 0,
    dphi_k'' + 3 H dphi_k' + (k^2 / a^2 + M_k^2) dphi_k = 0,
    (ln a)' = H,

with H(t) from one of the expansion histories (`kind`): "de_sitter" (H = H0), "power_law"
(H = p / t, a ~ t^p), "friedmann" (H = sqrt((rho_phi + Lambda) / 3)), "friedmann_modes" (the
same with every perturbation gravitating, rho = rho_phi + sum_k rho_k) or "tabulated" (H0 a
diffrax.LinearInterpolation of H(t): an expansion history given step by step) (`integrate_flrw`).

The cosmology stage's fields are de Sitter fields in the K-mode form phi'' + 3H phi' + M^2(t) phi
= 0, phi in R^K, M^2 a (possibly time-dependent) mass matrix (`integrate_coupled`, docs/physics.md
§10): diagonal for the scalar dictionaries (continuum, exact, adiabatic), the exact image of the
kappa matrix V(0)^T Theta(n) V(0) / N for the coupled one (`field_dataset`).

Everything is float64: callers must run `jax.config.update("jax_enable_x64", True)` before using
JAX. This module does not flip that global switch; `integrate_flrw` raises ValueError without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import Array

from nncosmo import theory
from nncosmo.io import RUN_COORDS
from nncosmo.programs import StoredProgram, lazy_import

# imported when first used: a job whose integrations are stored programs never traces them
diffrax = lazy_import("diffrax")
eqx = lazy_import("equinox")
# what tracing the integrations runs through (part of a stored program's key)
INTEGRATOR_PACKAGES = ("diffrax", "equinox", "lineax", "optimistix")

KINDS = ("de_sitter", "power_law", "friedmann", "friedmann_modes", "tabulated")


class Expansion(NamedTuple):
    """Parameters of the expansion history: H0 (de Sitter; tabulated: a LinearInterpolation of
    H(t)), p (power law), Lambda (Friedmann)."""

    H0: float | Array = 0.0
    p: float | Array = 0.0
    Lambda: float | Array = 0.0


def hubble(kind: str, expansion: Expansion, t, phi, dphi, mass2, modes=0.0) -> Array:
    """H = H0 (de_sitter), p / t (power_law), H0(t) (tabulated) or sqrt((rho + Lambda) / 3) with
    rho = phi'^2/2 + m^2 phi^2/2 (friedmann), plus `modes`, the perturbations' energy density
    sum_k (d_k'^2 + omega_k^2 d_k^2) / 2 (friedmann_modes)."""
    if kind == "de_sitter":
        return expansion.H0 * jnp.ones_like(t)
    if kind == "power_law":
        return theory.power_law_hubble(expansion.p, t)
    if kind == "tabulated":
        return expansion.H0.evaluate(t)
    if kind in ("friedmann", "friedmann_modes"):
        kinetic, potential = theory.field_energies(dphi, phi, mass2)
        rho = kinetic + potential + (modes if kind == "friedmann_modes" else 0)
        return theory.friedmann_hubble(rho, expansion.Lambda, jnp)
    raise ValueError(f"unknown expansion kind {kind!r}; expected one of {KINDS}")


def mass_at(mass2, t):
    """m^2(t): a constant, or a diffrax.LinearInterpolation of tabulated masses (time-dependent)."""
    return mass2.evaluate(t) if isinstance(mass2, diffrax.LinearInterpolation) else mass2


def _unpack(y):
    """The flat state (ln a, phi, phi', d_1..d_K, d'_1..d'_K) (..., 3 + 2K) as its five parts."""
    k = (y.shape[-1] - 3) // 2
    return y[..., 0], y[..., 1], y[..., 2], y[..., 3 : 3 + k], y[..., 3 + k :]


def _vector_field(t, y, args):
    """(ln a, phi, phi', d, d')' = (H, phi', -3H phi' - m^2 phi, d', -3H d' - (k^2/a^2 + M^2) d).

    y is one flat float64 vector (`_unpack`): each Runge-Kutta stage then combines one array
    instead of five, which cuts the cost per step 2-4x on CPU (benchmarks/README.md §3c)."""
    kind, expansion, mass2, k, pert_mass2 = args
    mass2, pert_mass2 = mass_at(mass2, t), mass_at(pert_mass2, t)
    ln_a, phi, dphi, delta, ddelta = _unpack(y)
    omega2 = k**2 * jnp.exp(-2.0 * ln_a) + pert_mass2
    kinetic, potential = theory.field_energies(ddelta, delta, omega2)
    modes = jnp.sum(kinetic + potential, axis=-1)
    h = hubble(kind, expansion, t, phi, dphi, mass2, modes)
    background = jnp.stack([h, dphi, -3.0 * h * dphi - mass2 * phi])
    return jnp.concatenate([background, ddelta, -3.0 * h * ddelta - omega2 * delta])


def _require_x64() -> None:
    """Raise ValueError unless JAX runs in float64 (the module docstring)."""
    if not jax.config.jax_enable_x64:
        raise ValueError(
            "nncosmo.cosmology needs float64: call jax.config.update('jax_enable_x64', True) "
            "before using JAX"
        )


def _f64(x) -> Array:
    """x as a float64 JAX array."""
    return jnp.asarray(x, dtype=jnp.float64)


def _as_mass(mass2):
    """A constant (mass, H) as float64; an interpolated one as given."""
    return mass2 if isinstance(mass2, diffrax.LinearInterpolation) else _f64(mass2)


def _step_controller(rtol, atol, *tables):
    """PID step-size control; steps land on the knots of an interpolated mass or H (its kinks)."""
    pid = diffrax.PIDController(rtol=rtol, atol=atol)
    knots = [m.ts for m in tables if isinstance(m, diffrax.LinearInterpolation)]
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
    the same knots; so is a tabulated H, expansion.H0); the steps then land on its knots. `kind`
    and `max_steps` are static; all else, tolerances included, may be traced (jit, vmap; ts of
    equal length). Returns "phi", "dphi", "a", "H" of shape (T,) and "delta", "ddelta" of shape
    (T, K), solved with Dopri8 under a PID step-size controller.
    """
    _require_x64()
    if kind not in KINDS:
        raise ValueError(f"unknown expansion kind {kind!r}; expected one of {KINDS}")
    ts, k, rtol, atol = map(_f64, (ts, k, rtol, atol))
    mass2, pert_mass2 = _as_mass(mass2), _as_mass(pert_mass2)
    if kind == "power_law":
        ts = eqx.error_if(ts, ts[0] <= 0.0, "power_law expansion needs t0 = ts[0] > 0")
    scalars = jnp.stack([jnp.log(_f64(a0)), _f64(phi0), _f64(dphi0)])
    y0 = jnp.concatenate([scalars, _f64(delta0), _f64(ddelta0)])
    expansion = Expansion(*map(_as_mass, expansion))
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
        stepsize_controller=_step_controller(rtol, atol, mass2, pert_mass2, expansion.H0),
        max_steps=max_steps,
    )
    ln_a, phi, dphi, delta, ddelta = _unpack(sol.ys)
    args = (kind, expansion, mass2, k, pert_mass2)
    h = jax.vmap(lambda t, y: _vector_field(t, y, args)[0])(ts, sol.ys)
    return {"phi": phi, "dphi": dphi, "a": jnp.exp(ln_a), "H": h, "delta": delta, "ddelta": ddelta}


def _coupled_vector_field(t, y, args):
    """(phi, phi')' = (phi', -3H phi' - M^2(t) phi): K fields coupled by a mass matrix M^2(t),
    y = (phi, phi') one flat vector (2K,) as in `_vector_field`."""
    h, mass2 = args
    phi, dphi = jnp.split(y, 2)
    return jnp.concatenate([dphi, -3.0 * h * dphi - mass2.evaluate(t) @ phi])


def integrate_coupled(ts, phi0, dphi0, mass2, h, knots, *, rtol, atol, max_steps=1_000_000):
    """Solve phi'' + 3H phi' + M^2(t) phi = 0 for phi in R^K in de Sitter space (H constant).

    ts (T,) are the save times, ts[0] the initial time; phi0, dphi0 (K,); mass2 (T, K, K) is M^2
    at ts, linearly interpolated in between; the steps land on `knots` (J,), the times where
    M^2(t) has kinks (inf: no knot). Dopri8 under a PID controller, float64; everything may be
    traced (jit, vmap). Returns phi (T, K). The scalar fields of a diagonal M^2 are the
    perturbations of `integrate_flrw` at k = 0, one per mode.
    """
    _require_x64()
    ts, phi0, dphi0, mass2, h, knots = map(_f64, (ts, phi0, dphi0, mass2, h, knots))
    controller = diffrax.ClipStepSizeController(
        diffrax.PIDController(rtol=rtol, atol=atol), step_ts=knots
    )
    sol = diffrax.diffeqsolve(
        diffrax.ODETerm(_coupled_vector_field),
        diffrax.Dopri8(),
        t0=ts[0],
        t1=ts[-1],
        dt0=(ts[-1] - ts[0]) / 100,  # as in integrate_flrw
        y0=jnp.concatenate([phi0, dphi0]),
        args=(h, diffrax.LinearInterpolation(ts, mass2)),
        saveat=diffrax.SaveAt(ts=ts),
        stepsize_controller=controller,
        max_steps=max_steps,
    )
    return sol.ys[:, : phi0.shape[-1]]


def each_system(program: Callable, columns, *shared):
    """`program(*row, *shared)` for every row (leading index) of the pytree `columns`, one system
    after the other, outputs stacked leaf by leaf.

    Not vmap: a vmapped adaptive while_loop steps all systems in lockstep at a higher cost per
    step (benchmarks/README.md §3c). Not a lax.map inside one program either: `program` is
    compiled for one system, so its shapes do not depend on how many runs or modes a job has, and
    every job of a configuration loads it from the persistent compilation cache once one job has
    compiled it (benchmarks/README.md §13, §21); each system keeps its own step-size controller
    either way.
    """
    rows = len(jax.tree.leaves(columns)[0])
    outs = [program(*jax.tree.map(lambda a, i=i: a[i], columns), *shared) for i in range(rows)]
    return jax.tree.map(lambda *leaves: np.stack(leaves), *outs)


def check_solved(fields, valid, what: str, rule: str = "cosmology") -> None:
    """Raise if a system with finite parameters (`valid`, leading axis of `fields`) came back
    non-finite: the solver failed. Where equinox's checks return NaN instead of raising
    (EQX_ON_ERROR=nan, as every pipeline job runs: `nncosmo.config.jax_cache_env`), this is
    where a failed integration (max_steps reached) stops the job (of `rule`, which the advice
    reruns)."""
    bad = valid & ~np.isfinite(fields).reshape(len(fields), -1).all(-1)
    if bad.any():
        raise FloatingPointError(
            f"{what}: the integration of systems {np.flatnonzero(bad).tolist()} failed (non-"
            "finite result from finite parameters); for diffrax's own message rerun the job with "
            f"equinox's checks raising: EQX_ON_ERROR=raise snakemake --cores 1 --forcerun {rule}"
        )


_matched_field = StoredProgram(  # one run's coupled fields (`each_system`)
    "cosmology.matched_field",
    lambda ts, h, m2, knots, u0, du0, rtol, atol: integrate_coupled(
        ts, u0, du0, m2, h, knots, rtol=rtol, atol=atol
    ),
    INTEGRATOR_PACKAGES,
)


def de_sitter_fields(tau, H, m2, u0, du0, knots, rtol: float, atol: float) -> np.ndarray:
    """`integrate_coupled` for every run, one compiled program for one run (`each_system`).

    Shapes: tau (R, T), H (R,), m2 (R, T, K, K) (M^2 at tau), u0/du0 (R, K), knots (R, J) the
    times where M^2 has kinks (inf: none; calls of equal T, K, J share one compiled program).
    Returns (R, T, K). Runs with non-finite parameters (diverged, or no real image in the
    dictionary at some step) are integrated as zeros and returned as NaN rows.
    """
    valid = np.isfinite(H) & np.isfinite(m2).all((-3, -2, -1)) & np.isfinite(du0).all(-1)
    clean = lambda a: np.where(valid.reshape(-1, *[1] * (a.ndim - 1)), a, 0.0)  # noqa: E731
    H, m2, u0, du0 = map(clean, (H, m2, u0, du0))
    tau = np.where(valid[:, None], tau, np.arange(tau.shape[1])[None, :])
    fields = each_system(_matched_field, (tau, H, m2, knots, u0, du0), rtol, atol)
    check_solved(fields, valid, "de Sitter fields")
    return np.where(valid[:, None, None], fields, np.nan)


DICTIONARIES = ("continuum", "exact", "adiabatic", "coupled")
CONSTANT_MASS = ("continuum", "exact")  # the mass held at its initial value


def interpolate_steps(known, values, steps) -> np.ndarray:
    """values (run, len(known), ...) given at the steps `known`, linearly interpolated in n to
    `steps` (held constant outside them): the one interpolation of a step-dependent kappa."""
    from scipy.interpolate import interp1d

    ends = (values[:, 0], values[:, -1])
    interp = interp1d(known, values, axis=1, bounds_error=False, fill_value=ends)
    return interp(steps)


def checkpoint_kappa(ntk) -> np.ndarray:
    """kappa_a(n) = lam_a(n) / N, shape (run, step, mode): the sorted NTK eigenvalues at the
    checkpoints, linearly interpolated in n (held constant outside them)."""
    eigenvalues = ntk.eigenvalue.isel(eigen=slice(0, ntk.sizes["mode"])).values
    lam = theory.ntk_kappa(eigenvalues, ntk.attrs["n_samples"])
    return interpolate_steps(ntk.checkpoint.values, lam, ntk.step.values)


def adiabatic_kappa(ntk, measured=None) -> tuple[np.ndarray, np.ndarray, str]:
    """kappa_a(n) (run, step, mode) of the adiabatic dictionary, its kink steps and its source.

    Modes the training measured (`measured`: the training file's kappa(run, kappa_step, mode),
    Rayleigh quotients v_a(0)^T Theta(n) v_a(0) / N, docs/physics.md §7.9) take those values,
    linearly interpolated between the measured steps; the others `checkpoint_kappa`. The kinks
    are the checkpoints and the measured steps.
    """
    kappa, kinks = checkpoint_kappa(ntk), set(ntk.checkpoint.values.tolist())
    dense = 0 if measured is None else min(measured.sizes["mode"], kappa.shape[-1])
    if dense:
        if measured.sizes["run"] != kappa.shape[0]:
            raise ValueError(
                f"training file kappa has {measured.sizes['run']} runs, the NTK file "
                f"{kappa.shape[0]}: they come from different jobs; rerun snakemake"
            )
        values = measured.isel(mode=slice(0, dense)).values.astype(np.float64)
        kappa[..., :dense] = interpolate_steps(measured.kappa_step.values, values, ntk.step.values)
        kinks |= set(measured.kappa_step.values.tolist())
    source = (
        f"modes < {dense}: measured kappa_a(n) of the training file at "
        f"{0 if measured is None else measured.sizes['kappa_step']} steps; "
        f"modes >= {dense}: NTK eigenvalues at the checkpoints"
    )
    return kappa, np.array(sorted(kinks)), source


def kappa_matrices(ntk) -> np.ndarray:
    """C(n) = V(0)^T Theta(n) V(0) / N at the checkpoints, (run, checkpoint, K, K), V(0) the top-K
    initial eigenvectors (K = ntk modes): the mass matrix in the initial mode basis."""
    vectors = ntk.eigenvector.isel(checkpoint=0, eigen=slice(0, ntk.sizes["mode"])).values
    kernels = ntk.ntk.values
    with np.errstate(invalid="ignore", over="ignore"):
        c = np.einsum("rsa,rcst,rtb->rcab", vectors, kernels, vectors, optimize=True)
    return theory.ntk_kappa(0.5 * (c + np.swapaxes(c, -1, -2)), ntk.attrs["n_samples"])


def dictionary_parameters(dictionary: str, eta, beta, kappa, u0):
    """(H, M^2(n), u'(0)) that a dictionary (docs/physics.md §2, §5, §9, §10) assigns to the kappa
    matrices C(n) (run, step, K, K) (diagonal, diag kappa_a(n), for the scalar dictionaries);
    u0 is (run, K).

    Continuum: M^2 = C(0), u'(0) = 0. Exact: M^2 = ln r+(eta C(0)) ln r-(eta C(0)) / eta and the
    rest velocity of §7.1, both as matrix functions of C(0). Adiabatic and coupled: the same at
    every step, M^2(n) of C(n); u'(0) of C(0).
    """
    eta, beta = np.asarray(eta, float), np.asarray(beta, float)
    if dictionary in CONSTANT_MASS:
        kappa = np.broadcast_to(kappa[:, :1], kappa.shape)
    if dictionary == "continuum":
        per_run = (slice(None), None, None, None)  # (run,) against (run, step, K, K)
        image = theory.continuum_dictionary(eta[per_run], beta[per_run], kappa)
        return image["H"][:, 0, 0, 0], image["m2"], np.zeros_like(u0)
    mass2 = theory.exact_mass_matrix(eta[:, None], beta[:, None], kappa)
    du0 = theory.rest_velocity_matrix(eta, beta, kappa[:, 0]) @ u0[..., None]
    return theory.hubble_exact(eta, beta), mass2, du0[..., 0]


def _diagonal(kappa) -> np.ndarray:
    """diag kappa_a(n): (run, step, K) -> (run, step, K, K)."""
    return kappa[..., None] * np.eye(kappa.shape[-1])


def _dictionary_kappa(ntk, measured):
    """Per dictionary, the kappa matrices (run, step, K, K) it maps, and the adiabatic kinks and
    kappa source."""
    kappa, kinks, source = adiabatic_kappa(ntk, measured)
    coupled = interpolate_steps(ntk.checkpoint.values, kappa_matrices(ntk), ntk.step.values)
    scalar = _diagonal(checkpoint_kappa(ntk))
    matrices = {"continuum": scalar, "exact": scalar, "adiabatic": _diagonal(kappa)}
    return matrices | {"coupled": coupled}, kinks, source


def field_dataset(ntk, rtol: float, atol: float, measured=None):
    """Cosmology stage: for each run and dictionary, the de Sitter field matched to u_a(n).

    Two calls of one compiled program (`de_sitter_fields`): the constant-mass dictionaries with no
    knots, the time-dependent ones (adiabatic, coupled) with knots at the kinks of their masses
    (checkpoints and measured steps). `measured`: the training file's kappa(run, kappa_step,
    mode) or None (`adiabatic_kappa`).
    """
    eta, beta, u0 = ntk.eta.values, ntk.beta.values, ntk.u.isel(step=0).values
    matrices, kinks, source = _dictionary_kappa(ntk, measured)
    params = {d: dictionary_parameters(d, eta, beta, matrices[d], u0) for d in DICTIONARIES}
    fields = {}
    for group, timed in ((CONSTANT_MASS, False), (DICTIONARIES[2:], True)):
        tau = np.concatenate([ntk.tau.values] * len(group))
        knots = (
            tau[:, np.searchsorted(ntk.step.values, kinks)]
            if timed
            else np.full((len(tau), len(kinks)), np.inf)
        )
        stacked = [np.concatenate([params[d][i] for d in group]) for i in range(3)]
        out = de_sitter_fields(
            tau,
            stacked[0],
            stacked[1],
            np.concatenate([u0] * len(group)),
            stacked[2],
            knots,
            rtol,
            atol,
        )
        fields |= dict(zip(group, np.split(out, len(group)), strict=True))
    at_checkpoints = np.searchsorted(ntk.step.values, ntk.checkpoint.values)
    mass_matrix = params["coupled"][1][:, at_checkpoints]
    return _as_dataset(
        ntk,
        fields,
        params,
        matrices["coupled"][:, at_checkpoints],
        mass_matrix,
        source,
        (rtol, atol),
    )


def _as_dataset(ntk, fields, params, kappa_matrix, mass_matrix, source, tolerances):
    """The cosmology dataset: fields, H and the masses per dictionary, the coupled dictionary's
    kappa and mass matrices at the checkpoints; fields and H NaN for diverged runs (§7.5)."""
    import xarray as xr

    dims, pair = ("dictionary", "run"), ("run", "checkpoint", "mode", "mode_")
    diverged = ntk.diverged.values
    var = lambda d, v, name, units: (d, v, {"long_name": name, "units": units})  # noqa: E731
    de_sitter = xr.Dataset(
        {
            "field": var(
                (*dims, "step", "mode"),
                np.stack(
                    [np.where(diverged[:, None, None], np.nan, fields[d]) for d in DICTIONARIES]
                ),
                "field phi (mode 0), delta phi (a > 0) at tau = n sqrt(eta)",
                "1",
            ),
            "hubble": var(
                dims,
                np.stack([np.where(diverged, np.nan, params[d][0]) for d in DICTIONARIES]),
                "Hubble rate H of the dictionary",
                "1/tau",
            ),
            "mass2": var(
                (*dims, "step", "mode"),
                np.stack([np.diagonal(params[d][1], axis1=-2, axis2=-1) for d in DICTIONARIES]),
                "mass^2 the dictionary assigns to mode a at step n (coupled: diagonal of M^2)",
                "1/tau^2",
            ),
            "kappa_matrix": var(
                pair,
                kappa_matrix,
                "kappa matrix C = V(0)^T Theta(n) V(0) / N at the checkpoints (coupled)",
                "1/tau^2",
            ),
            "coupled_mass2": var(
                pair,
                mass_matrix,
                "mass matrix M^2 = ln r+(eta C) ln r-(eta C) / eta at the checkpoints (coupled)",
                "1/tau^2",
            ),
        },
        coords={
            "dictionary": list(DICTIONARIES),
            **{c: ntk[c] for c in (*RUN_COORDS, "step", "mode", "tau", "checkpoint")},
            "mode_": ("mode_", ntk.mode.values),
        },
        attrs={
            **ntk.attrs,
            "rtol": tolerances[0],
            "atol": tolerances[1],
            "adiabatic_kappa_source": source,
            "note": "NaN where a run diverged or a dictionary has no real (H, M^2) image",
        },
    )
    return with_histories(de_sitter, ntk, checkpoint_kappa(ntk), *tolerances)


# Expansion histories (docs/physics.md §13): the field of each scheduled run's own history.
HISTORIES = ("exact", "continuum")


def step_image(tau, etas, betas, kappa, u, nesterov: bool) -> dict:
    """One run's per-step exact image (`theory.scheduled_dictionary`) as tables for diffrax.

    tau, etas, betas (S + 1,), kappa and u (S + 1, K). The knot tau_n carries step n's H_a and
    m_a^2 (the centre of the stencil u(n - 1), u(n), u(n + 1) that step n closes; tau_S holds
    step S - 1's), linear in between: exact for constant coefficients, otherwise off by an error
    set by how much they change (docs/physics.md §13). n0 is the first step from
    which every step has a real image (Nesterov: 1, beta_0 = 0); earlier knots hold step n0's
    values; the field starts at tau_n0 from u_a(n0) with the velocity of step n0's image through
    u_a(n0 - 1) (`theory.lattice_velocity`, the frozen lattice's sample u(n0) - dtau_n0 V(n0);
    from rest at n0 = 0); n0 = S where none exists."""
    image = theory.scheduled_dictionary(etas[:-1, None], betas[:-1, None], kappa[:-1], nesterov)
    h, m2, dtau = image["H"], image["m2"], image["dtau"][:, 0]
    bad = ~(np.isfinite(h) & np.isfinite(m2)).all(-1)
    n0 = int(np.flatnonzero(bad)[-1] + 1) if bad.any() else 0
    first = min(n0, len(h) - 1)
    early = np.arange(len(h))[:, None] < n0
    h, m2 = np.where(early, h[first], h), np.where(early, m2[first], m2)
    held = lambda a: np.concatenate([a, a[-1:]])  # noqa: E731
    # the frozen lattice of step n0 has step dtau_n0: its sample before u(n0) is u(n0) - dtau_n0
    # V(n0), V(n0) = (u(n0) - u(n0 - 1)) / dtau_{n0-1} (docs/physics.md §11.1); u(n0 - 1) itself
    # only where eta is constant
    prev = max(first - 1, 0)
    before = u[first] - (u[first] - u[prev]) * (dtau[first] / dtau[prev])
    with np.errstate(invalid="ignore"):  # n0 = S: no image, H and m2 NaN, so is the velocity
        du0 = theory.lattice_velocity(before, u[first], dtau[first], h[first], m2[first])
    return {"knots": tau, "H": held(h), "m2": held(m2), "n0": n0, "u0": u[first], "du0": du0}


def _image_mode(ts, knots, h, m2, u0, du0, rtol, atol):
    """One mode under its tabulated image: u'' + 3 H(t) u' + m^2(t) u = 0 (no perturbations)."""
    none = jnp.zeros(0)
    out = integrate_flrw(
        ts,
        u0,
        du0,
        diffrax.LinearInterpolation(knots, m2),
        none,
        none,
        none,
        none,
        kind="tabulated",
        expansion=Expansion(H0=diffrax.LinearInterpolation(knots, h)),
        rtol=rtol,
        atol=atol,
    )
    return out["phi"]


_image_mode_program = StoredProgram(  # one mode (`each_system`)
    "cosmology.image_mode", _image_mode, INTEGRATOR_PACKAGES
)


def image_fields(tau, etas, betas, kappa, u, nesterov, rtol: float, atol: float) -> np.ndarray:
    """The exact-image field (run, step, mode) of scheduled runs: every mode u_a of every run
    integrated by one compiled program for one mode (`each_system`) under its own
    tabulated H_a, m_a^2 (`step_image`; Nesterov's H differs per mode), from tau_n0 on; NaN
    before n0 and for runs without an image.
    tau, etas, betas (R, S + 1), kappa and u (R, S + 1, K), nesterov (R,) bool."""
    runs, points, modes = u.shape
    images = [step_image(*a) for a in zip(tau, etas, betas, kappa, u, nesterov, strict=True)]
    starts = np.array([im["n0"] for im in images])
    valid = (starts < points - 1) & np.isfinite(u).all((1, 2))
    per_mode = lambda key: np.stack([np.moveaxis(im[key], -1, 0) for im in images])  # noqa: E731
    table = {key: per_mode(key) for key in ("H", "m2", "u0", "du0")}
    table = {k: np.where(valid.reshape(-1, *[1] * (v.ndim - 1)), v, 0.0) for k, v in table.items()}
    knots = np.stack([im["knots"] for im in images])
    ts = np.maximum(tau, tau[np.arange(runs), np.minimum(starts, points - 1)][:, None])
    flat = lambda a: np.repeat(a, modes, axis=0)  # noqa: E731
    columns = (flat(ts), flat(knots), table["H"].reshape(runs * modes, -1))
    columns += (table["m2"].reshape(runs * modes, -1), table["u0"].reshape(-1))
    fields = each_system(_image_mode_program, (*columns, table["du0"].reshape(-1)), rtol, atol)
    check_solved(fields, flat(valid), "exact images")
    fields = np.moveaxis(np.asarray(fields).reshape(runs, modes, points), 1, 2)
    before = np.arange(points)[None, :, None] < starts[:, None, None]
    hubble = np.where(before[..., 0] | ~valid[:, None], np.nan, table["H"][:, 0])
    return np.where(before | ~valid[:, None, None], np.nan, fields), hubble


def _continuum_history(ts, m2, u0, du0, expansion, kind, rtol, atol):
    """One run's continuum history: mode 0 as the background phi, modes a > 0 as k = 0
    perturbations, masses m2 (T, K) tabulated at ts (linear in between), initial data u0, du0
    (K,); returns the fields (T, K) and H (T,)."""
    out = integrate_flrw(
        ts,
        u0[0],
        du0[0],
        diffrax.LinearInterpolation(ts, m2[:, 0]),
        u0[1:],
        du0[1:],
        jnp.zeros_like(u0[1:]),
        diffrax.LinearInterpolation(ts, m2[:, 1:]),
        kind=kind,
        expansion=expansion,
        rtol=rtol,
        atol=atol,
    )
    return jnp.concatenate([out["phi"][:, None], out["delta"]], axis=1), out["H"]


_continuum_history_program = jax.jit(_continuum_history, static_argnums=5)  # `each_system`


def continuum_fields(kind: str, specs, tau, eta, beta, kappa, u0, du0, rtol: float, atol: float):
    """Continuum-dictionary fields (run, step, mode) and H (run, step) of runs of one schedule
    kind (docs/physics.md §13), m_a^2 = kappa_a(n) (run, step, mode: the NTK drift, the
    checkpoints' eigenvalues interpolated in n, `checkpoint_kappa`), from the network's initial
    data u0 and the velocity du0 of its first step's exact image (both (run, K)): power_law
    integrates H = p / t at t = tau0 + tau; friedmann integrates every mode gravitating
    ("friedmann_modes") in Planck units phi_a = u_a / M (M = planck_mass), Lambda = 3 H^2 of the
    exact de Sitter H of beta, as the training schedule sets it (`training.run_schedule`);
    fields returned in units of u."""
    params = lambda key: np.array([s[key] for s in specs])  # noqa: E731
    if kind == "power_law":
        ts, scale = params("tau0")[:, None] + tau, np.ones(len(specs))
        expansion, flrw_kind = Expansion(p=params("p")), "power_law"
    else:
        ts, scale = tau, params("planck_mass")
        expansion = Expansion(Lambda=theory.vacuum_energy(eta, beta))
        flrw_kind = "friedmann_modes"  # every mode's energy in H, as in the network's rho
    per_run = lambda v: np.broadcast_to(np.asarray(v, np.float64), scale.shape)  # noqa: E731
    expansion = Expansion(*map(per_run, expansion))
    columns = (ts, kappa, u0 / scale[:, None], du0 / scale[:, None])
    fields, hubble = each_system(
        _continuum_history_program, (*columns, expansion), flrw_kind, rtol, atol
    )
    valid = np.isfinite(kappa).all((1, 2)) & np.isfinite(u0).all(1) & np.isfinite(du0).all(1)
    check_solved(fields, valid, f"{kind} continuum histories")
    return np.asarray(fields) * scale[:, None, None], np.asarray(hubble)


def with_histories(ds, ntk, kappa, rtol: float, atol: float):
    """The cosmology dataset `ds` with each run's history (docs/physics.md §13): history_field
    (history, run, step, mode) and the history's H(tau) (run, step). Constant runs copy their de
    Sitter fields and exact H; scheduled runs get the exact image (`image_fields`) and, for
    power_law and friedmann, the continuum history (`continuum_fields`; Nesterov's constant
    friction per mode has no closed form: NaN), and their de Sitter `field` becomes NaN; a
    diverged run's history is NaN (docs/physics.md §7.5)."""
    specs = [theory.parse_schedule_label(label) for label in ntk.schedule.values]
    kinds = np.array([s["kind"] for s in specs])
    scheduled = np.flatnonzero(kinds != "constant")
    field = ds.field.sel(dictionary=list(HISTORIES)).values.copy()
    hubble = np.repeat(ds.hubble.sel(dictionary="exact").values[:, None], ds.sizes["step"], 1)
    field[:, scheduled], hubble[scheduled] = np.nan, np.nan
    u = ntk.u.values
    if scheduled.size:
        columns = [ntk[v].values[scheduled] for v in ("tau", "eta_n", "beta_n")]
        field[0, scheduled], hubble[scheduled] = image_fields(
            *columns, kappa[scheduled], u[scheduled], kinds[scheduled] == "nesterov", rtol, atol
        )
    etas, betas = ntk.eta_n.values[:, :1], ntk.beta_n.values[:, :1]
    du0 = theory.rest_initial_velocity(etas, betas, kappa[:, 0], u[:, 0])
    for kind in ("power_law", "friedmann"):
        runs = np.flatnonzero(kinds == kind)
        if runs.size:
            field[1, runs], hubble[runs] = continuum_fields(
                kind,
                [specs[r] for r in runs],
                ntk.tau.values[runs],
                ntk.eta.values[runs],
                ntk.beta.values[runs],
                kappa[runs],
                u[runs, 0],
                du0[runs],
                rtol,
                atol,
            )
    field[:, ntk.diverged.values], hubble[ntk.diverged.values] = np.nan, np.nan
    ds = ds.assign(field=ds.field.where(ds.run.copy(data=kinds == "constant")))
    return ds.assign_coords(history=list(HISTORIES)).assign(
        history_field=(
            ("history", "run", "step", "mode"),
            field,
            {
                "long_name": "field of the run's own expansion history, at tau_n",
                "units": "1",
            },
        ),
        history_hubble=(
            ("run", "step"),
            hubble,
            {
                "long_name": "the history's H(tau): exact de Sitter H (constant), p / (tau0 + tau) "
                "(power_law), mode 0's exact image (nesterov), integrated Friedmann H (friedmann)",
                "units": "1/tau",
            },
        ),
    )
