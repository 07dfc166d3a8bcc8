"""Stage 5, duality: fit (H, m^2) from the network's trajectories and compare network and field.

Prony fits of every residual mode (docs/physics.md §6), the de Sitter redshift fit of the NTK
eigenvalue drift, and the sup-norm residuals between the network's modes u_a(n) and the fields
of the cosmology stage. The dictionaries themselves live in `nncosmo.theory`.
"""

from __future__ import annotations

import math

import numpy as np

from nncosmo.theory import REGIMES, continuum_dictionary, exact_dictionary


def _acosh_ratio(z):
    """acosh(z) / sqrt(z^2 - 1), analytic through z = 1 (value 1), arccos form for z < 1."""
    if z == 1:
        return 1.0
    if z < 1:
        return math.acos(z) / math.sqrt(1 - z * z)
    return math.acosh(z) / math.sqrt(z * z - 1)


def _prony_jacobians(c1, c2, eta):
    """d(H, m2)/d(c1, c2): beta = -c2, z = c1 / 2 sqrt(beta), m2 eta = ln(beta)^2/4 - acosh(z)^2."""
    beta = -c2
    z = c1 / (2 * math.sqrt(beta))
    dacosh2 = 2 * _acosh_ratio(z)  # d acosh(z)^2 / dz
    jac_h = np.array([0.0, -1 / (3 * math.sqrt(eta) * c2)])
    jac_m2 = np.array(
        [-dacosh2 / (2 * math.sqrt(beta)), -(math.log(beta) + z * dacosh2) / (2 * beta)]
    )
    return jac_h, jac_m2 / eta


def prony_fit(u, eta, *, start=1, stop=None):
    """Prony fit: least squares u(n+1) ~ c1 u(n) + c2 u(n-1), n in [start, stop), then the exact
    dictionary of r^2 - c1 r - c2 (beta = -c2, eta kappa = 1 - c1 - c2):
    3 H sqrt(eta) = -ln(-c2), m2 = ln(r+) ln(r-) / eta.

    Errors: cov(c1, c2) = s^2 (A^T A)^-1 (s^2 = residual sum of squares / (rows - 2), via QR),
    propagated to H and m2 by the delta method (analytic Jacobian).  rel_residual is the rms
    residual over the rms of the targets u(n+1).  ok is False (H, m2 and errors NaN) where
    -c2 <= 0 or the fitted roots are real negative: no real (H, m2) image.
    Returns dict(c1, c2, cov, H, m2, H_err, m2_err, rel_residual, ok).
    """
    u = np.asarray(u, dtype=float)
    stop = len(u) - 1 if stop is None else stop
    if start < 1 or stop > len(u) - 1 or stop - start < 3:
        raise ValueError(f"need 1 <= start, stop <= len(u) - 1, >= 3 rows; got [{start}, {stop})")
    rows = np.arange(start, stop)
    q, r = np.linalg.qr(np.column_stack([u[rows], u[rows - 1]]))
    target = u[rows + 1]
    c1, c2 = np.linalg.solve(r, q.T @ target)
    resid = target - c1 * u[rows] - c2 * u[rows - 1]
    r_inv = np.linalg.inv(r)
    cov = resid @ resid / (len(rows) - 2) * (r_inv @ r_inv.T)
    rel_residual = math.sqrt(np.mean(resid**2) / np.mean(target**2))
    out = {"c1": float(c1), "c2": float(c2), "cov": cov, "rel_residual": rel_residual}
    exact = exact_dictionary(eta, -c2, (1 - c1 - c2) / eta) if -c2 > 0 else {"m2": np.nan}
    if not np.isfinite(exact["m2"]):
        return out | dict.fromkeys(("H", "m2", "H_err", "m2_err"), np.nan) | {"ok": False}
    jac_h, jac_m2 = _prony_jacobians(c1, c2, eta)
    errs = {"H_err": math.sqrt(jac_h @ cov @ jac_h), "m2_err": math.sqrt(jac_m2 @ cov @ jac_m2)}
    return out | {"H": float(exact["H"]), "m2": float(exact["m2"]), "ok": True} | errs


def prony_window(u, rel_floor):
    """Prony window [1, stop): stop is the first n >= 1 where |u(n)| and |u(n+1)| are both below
    rel_floor * max|u| (else len(u) - 1), so the fitted rows stay above the noise floor.

    Two consecutive samples (the state of the second-order recursion) are required, because a
    single oscillating sample can pass near zero long before the floor (eta kappa = 1 even
    gives u(1) = 0 exactly).
    """
    mag = np.abs(np.asarray(u, dtype=float))
    small = mag < rel_floor * mag.max()
    below = np.flatnonzero(small[1:-1] & small[2:])
    return 1, int(1 + below[0] if below.size else len(mag) - 1)


FIT_STATUS = ("ok", "diverged", "no_real_image", "window_too_short")


def fit_trajectory(u, eta, rel_floor):
    """Prony fit of one trajectory over `prony_window`; (status code, fit dict or None)."""
    u = np.asarray(u, dtype=float)
    if not np.isfinite(u).all():
        return FIT_STATUS.index("diverged"), None
    start, stop = prony_window(u, rel_floor)
    if stop - start < 3:
        return FIT_STATUS.index("window_too_short"), None
    fit = prony_fit(u, eta, start=start, stop=stop) | {"stop": stop}
    return FIT_STATUS.index("ok" if fit["ok"] else "no_real_image"), fit


def redshift_fit(tau, kappa, H):
    """Least squares kappa(tau) ~ M^2 + k^2 exp(-2 H tau) (de Sitter redshift of k^2/a^2).

    Returns (M^2, k^2, rel_residual): rms residual over the rms deviation of kappa from its
    mean, i.e. the fraction of the NTK drift that the redshift law leaves unexplained.
    """
    design = np.column_stack([np.ones_like(tau), np.exp(-2 * H * tau)])
    coef, *_ = np.linalg.lstsq(design, kappa, rcond=None)
    resid = kappa - design @ coef
    spread = np.sqrt(np.mean((kappa - kappa.mean()) ** 2))
    return coef[0], coef[1], np.sqrt(np.mean(resid**2)) / spread if spread > 0 else np.nan


FIT_KEYS = ("H", "H_err", "m2", "m2_err", "rel_residual", "stop")


def fit_all(u, eta, rel_floor):
    """Prony fits of every (run, mode) trajectory u(run, step, mode)."""
    runs, _, modes = u.shape
    status = np.zeros((runs, modes), dtype=np.int8)
    values = {k: np.full((runs, modes), np.nan) for k in FIT_KEYS}
    for r, a in np.ndindex(runs, modes):
        status[r, a], fit = fit_trajectory(u[r, :, a], eta[r], rel_floor)
        for key in FIT_KEYS:
            values[key][r, a] = fit[key] if fit else np.nan
    return status, values


def sup_residuals(u, fields, scale):
    """max_n |u_a(n) - field_a(n)| / scale, for fields (dictionary, run, step, mode)."""
    with np.errstate(invalid="ignore"):
        return np.abs(u[None] - fields).max(axis=2) / scale


def duality_dataset(ntk, cosmo, rel_floor: float):
    """Duality stage: fitted (H, m^2) per mode, dictionary predictions, network-vs-field errors."""
    import xarray as xr

    n = ntk.attrs["n_samples"]
    eta, beta, u = ntk.eta.values, ntk.beta.values, ntk.u.values
    modes = ntk.sizes["mode"]
    kappa = ntk.eigenvalue.isel(eigen=slice(0, modes)).values / n  # (run, checkpoint, mode)
    status, fit = fit_all(u, eta, rel_floor)
    exact = exact_dictionary(eta[:, None], beta[:, None], kappa[:, 0])
    continuum = continuum_dictionary(eta[:, None], beta[:, None], kappa[:, 0])
    fields = cosmo.field.values
    own = sup_residuals(u, fields, np.abs(u[:, 0, :]))
    whole = sup_residuals(u, fields, ntk.residual_norm.values[:, :1])
    ckpt_tau = np.sqrt(eta)[:, None] * ntk.checkpoint.values[None, :]
    redshift = np.full((3, *status.shape), np.nan)
    for r, a in np.ndindex(*status.shape):
        if np.isfinite(kappa[r, :, a]).all() and np.isfinite(exact["H"][r, 0]):
            redshift[:, r, a] = redshift_fit(ckpt_tau[r], kappa[r, :, a], exact["H"][r, 0])
    rm = ("run", "mode")
    var = lambda dims, data, name, units="1": (dims, data, {"long_name": name, "units": units})  # noqa: E731
    return xr.Dataset(
        {
            "fit_status": (
                rm,
                status,
                {
                    "long_name": "Prony fit status",
                    "units": "1",
                    "flag_values": np.arange(len(FIT_STATUS), dtype=np.int8),
                    "flag_meanings": " ".join(FIT_STATUS),
                },
            ),
            "H_fit": var(rm, fit["H"], "Prony-fitted Hubble rate H", "1/tau"),
            "H_fit_err": var(rm, fit["H_err"], "standard error of H_fit", "1/tau"),
            "m2_fit": var(rm, fit["m2"], "Prony-fitted mass^2", "1/tau^2"),
            "m2_fit_err": var(rm, fit["m2_err"], "standard error of m2_fit", "1/tau^2"),
            "fit_rel_residual": var(rm, fit["rel_residual"], "rms Prony residual / rms u"),
            "fit_window_stop": var(rm, fit["stop"], "end of the Prony window", "step"),
            "H_exact": var(("run",), exact["H"][:, 0], "exact-dictionary H_eta", "1/tau"),
            "H_continuum": var(
                ("run",), continuum["H"][:, 0], "continuum-dictionary H_cont", "1/tau"
            ),
            "m2_exact": var(
                rm, exact["m2"], "exact-dictionary m_eta^2 from lambda_a(0)/N", "1/tau^2"
            ),
            "m2_continuum": var(
                rm, continuum["m2"], "continuum-dictionary m^2 = lambda_a(0)/N", "1/tau^2"
            ),
            "regime": (
                rm,
                exact["regime"].astype(np.int8),
                {
                    "long_name": "regime of mode a at initialisation (docs/physics.md §5)",
                    "units": "1",
                    "flag_values": np.arange(len(REGIMES), dtype=np.int8),
                    "flag_meanings": " ".join(REGIMES),
                },
            ),
            "residual_own": var(("dictionary", *rm), own, "sup_n |u_a - field_a| / |u_a(0)|"),
            "residual_norm": var(
                ("dictionary", *rm), whole, "sup_n |u_a - field_a| / ||f(0) - y||"
            ),
            "redshift_M2": var(
                rm, redshift[0], "M^2 of lambda_a/N ~ M^2 + k^2 exp(-2 H tau)", "1/tau^2"
            ),
            "redshift_k2": var(
                rm, redshift[1], "k^2 of lambda_a/N ~ M^2 + k^2 exp(-2 H tau)", "1/tau^2"
            ),
            "redshift_rel_residual": var(
                rm, redshift[2], "drift of lambda_a/N left unexplained by the redshift"
            ),
            "kappa": var(("run", "checkpoint", "mode"), kappa, "lambda_a(n) / N", "1/tau^2"),
        },
        coords={
            c: ntk[c]
            for c in ("run", "eta", "beta", "seed", "schedule", "diverged", "mode", "checkpoint")
        }
        | {"dictionary": cosmo.dictionary},
        attrs={**ntk.attrs, "fit_rel_floor": rel_floor},
    )


WINDOW_STATUS = ("ok", "no_real_image", "below_floor", "unresolved")


def windowed_hubble(u, tau, etas, window: int, stride: int, rel_floor: float) -> dict:
    """H(tau) of one trajectory from sliding Prony fits (`prony_fit`) over rows [s, s + window),
    s = 1, 1 + stride, ...: the local friction 3 H sqrt(eta) = -ln(-c2) of the window, with eta_n
    at the window's centre. A window is `below_floor` where max |u| over it is below
    rel_floor * max |u| (or u is not finite) and `no_real_image` where the fit has none; its H
    is NaN then (`with_hubble_windows` marks the `unresolved` ones). Returns per window: start,
    centre tau, H, H_err, status (WINDOW_STATUS codes)."""
    u = np.asarray(u, dtype=float)
    starts = np.arange(1, len(u) - window, stride)
    out = {"start": starts, "tau": tau[starts + window // 2]}
    out |= {k: np.full(len(starts), np.nan) for k in ("H", "H_err")}
    out["status"] = np.zeros(len(starts), np.int8)
    scale = np.nanmax(np.abs(u)) if np.isfinite(u).any() else np.nan
    for i, s in enumerate(starts):
        rows = u[s - 1 : s + window + 1]
        if not (np.isfinite(rows).all() and np.abs(rows).max() >= rel_floor * scale):
            out["status"][i] = WINDOW_STATUS.index("below_floor")
            continue
        fit = prony_fit(u, etas[s + window // 2], start=s, stop=s + window)
        out["status"][i] = WINDOW_STATUS.index("ok" if fit["ok"] else "no_real_image")
        out["H"][i], out["H_err"][i] = fit["H"], fit["H_err"]
    return out


def with_hubble_windows(ds, ntk, cosmo, window: int, stride: int, variation: float, rel_floor):
    """The duality dataset `ds` with mode 0's windowed H(tau) (`windowed_hubble`) per run and the
    history's H averaged over the same rows (cosmology's history_hubble). A window where the
    history's H varies by more than `variation` x its mean (max - min) is `unresolved` (a
    two-coefficient fit averages it; docs/figures.md F7-H) but its H is kept."""
    u, tau, etas = ntk.u.values[..., 0], ntk.tau.values, ntk.eta_n.values
    history = cosmo.history_hubble.values
    fits = [windowed_hubble(*a, window, stride, rel_floor) for a in zip(u, tau, etas, strict=True)]
    rows = fits[0]["start"][:, None] + np.arange(window)
    with np.errstate(invalid="ignore"):
        mean = history[:, rows].mean(-1)
        spread = (history[:, rows].max(-1) - history[:, rows].min(-1)) / mean
    status = np.stack([f["status"] for f in fits])
    unresolved = (status == 0) & ~(spread <= variation)
    status[unresolved] = WINDOW_STATUS.index("unresolved")
    rw = ("run", "window")
    stack = lambda key: np.stack([f[key] for f in fits])  # noqa: E731
    attrs = lambda name, units: {"long_name": name, "units": units}  # noqa: E731
    return ds.assign_coords(window=np.arange(len(rows))).assign(
        window_start=("window", fits[0]["start"], attrs("first Prony row of the window", "step")),
        window_tau=(rw, stack("tau"), attrs("tau at the window's centre", "sqrt(eta) per step")),
        H_window=(rw, stack("H"), attrs("windowed Prony H of mode 0", "1/tau")),
        H_window_err=(rw, stack("H_err"), attrs("standard error of H_window", "1/tau")),
        H_window_history=(rw, mean, attrs("history's H averaged over the window", "1/tau")),
        window_status=(
            rw,
            status,
            attrs("windowed H fit status", "1")
            | {
                "flag_values": np.arange(len(WINDOW_STATUS), dtype=np.int8),
                "flag_meanings": " ".join(WINDOW_STATUS),
            },
        ),
    )
