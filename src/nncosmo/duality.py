"""Stage 5, duality: fit (H, m^2) from the network's trajectories and compare network and field.

Prony fits of every residual mode (docs/physics.md §6), three candidate laws of the NTK
eigenvalue drift fitted and cross-predicted across runs (§7.7), and the sup-norm residuals
between the network's modes u_a(n) and the fields of the cosmology stage. The dictionaries
themselves live in `nncosmo.theory`.
"""

from __future__ import annotations

import math

import numpy as np

from nncosmo.io import RUN_COORDS
from nncosmo.theory import REGIMES, continuum_dictionary, exact_dictionary, ntk_kappa


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


def _residual_correlation_gram(q, c1, c2):
    """q^T R q for the residual correlation R of a Prony fit under white noise on u: the
    residual eps(n+1) - c1 eps(n) - c2 eps(n-1) is a moving average with autocorrelation
    (1 + c1^2 + c2^2, -c1 (1 - c2), -c2) / (1 + c1^2 + c2^2) at lags 0, 1, 2 (banded R)."""
    lag0 = 1 + c1**2 + c2**2
    gram = q.T @ q
    for lag, rho in ((1, -c1 * (1 - c2) / lag0), (2, -c2 / lag0)):
        cross = q[lag:].T @ q[:-lag]
        gram = gram + rho * (cross + cross.T)
    return gram


def prony_fit(u, eta, *, start=1, stop=None):
    """Prony fit: least squares u(n+1) ~ c1 u(n) + c2 u(n-1), n in [start, stop), then the exact
    dictionary of r^2 - c1 r - c2 (beta = -c2, eta kappa = 1 - c1 - c2):
    3 H sqrt(eta) = -ln(-c2), m2 = ln(r+) ln(r-) / eta.

    Errors (docs/physics.md §7.8): for white noise on u the residuals are a moving average of
    it, so cov(c1, c2) = s^2 (A^T A)^-1 A^T R A (A^T A)^-1 with R their correlation
    (`_residual_correlation_gram`), s^2 = residual sum of squares / (rows - 2), A = QR; then
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
    gram = _residual_correlation_gram(q, c1, c2)
    cov = resid @ resid / (len(rows) - 2) * (r_inv @ gram @ r_inv.T)
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


DRIFT_LAWS = ("redshift", "relaxation", "backreaction")


def kinetic_term(r):
    """Accumulated kinetic term K(n) = sum_{m=1..n} ||r(m) - r(m-1)||^2 / ||r(0)||^2 of a residual
    trajectory r(step, sample) = f - y, K(0) = 0 (docs/physics.md §7.7)."""
    r = np.asarray(r, dtype=float)
    increments = np.sum(np.diff(r, axis=0) ** 2, axis=1) / np.sum(r[0] ** 2)
    return np.concatenate([[0.0], np.cumsum(increments)])


def drift_law(kappa0, amplitude, shape):
    """Every drift law as kappa(n) = kappa_0 [1 - A g(n)] with its shape g, g(0) = 0:
    g = 1 - exp(-2 H tau) (redshift), 1 - exp(-gamma tau) (relaxation), K(n) (backreaction)."""
    return kappa0 * (1 - amplitude * np.asarray(shape))


def redshift_shape(tau, hubble):
    """g(tau) = 1 - exp(-2 H tau): kappa = M^2 + k^2 exp(-2 H tau), M^2 = kappa_0 (1 - A), k^2 =
    kappa_0 A (de Sitter redshift of k^2 / a^2, a = exp(H tau))."""
    return 1 - np.exp(-2 * hubble * np.asarray(tau))


def relaxation_shape(tau, gamma):
    """g(tau) = 1 - exp(-gamma tau): kappa = kappa_inf + (kappa_0 - kappa_inf) exp(-gamma tau),
    kappa_inf = kappa_0 (1 - A) (free exponential relaxation)."""
    return 1 - np.exp(-gamma * np.asarray(tau))


def unexplained_fraction(kappa, model):
    """rms(kappa - model) / rms(kappa - mean kappa): the fraction of the drift a law leaves
    unexplained (NaN when kappa does not move)."""
    spread = np.sqrt(np.mean((kappa - np.mean(kappa)) ** 2))
    return np.sqrt(np.mean((kappa - model) ** 2)) / spread if spread > 0 else np.nan


def shape_fit(kappa, shape):
    """Least squares kappa ~ c0 + c1 g for a fixed shape g: (kappa_0 = c0, A = -c1 / c0, curve)."""
    design = np.column_stack([np.ones_like(shape), shape])
    coef, *_ = np.linalg.lstsq(design, kappa, rcond=None)
    return coef[0], -coef[1] / coef[0], design @ coef


RELAXATION_GRID = 200  # log-spaced gamma values profiled before the bounded refinement


def relaxation_fit(tau, kappa):
    """Least squares kappa(tau) ~ kappa_inf + (kappa_0 - kappa_inf) exp(-gamma tau): linear in
    (kappa_0, kappa_inf) at each gamma (`shape_fit`), profiled over log gamma on
    [0.1 / max tau, 10 / min d tau] (RELAXATION_GRID points, then bounded Brent between the best
    point's neighbours). Returns (kappa_0, A, gamma, curve)."""
    from scipy.optimize import minimize_scalar

    tau, kappa = np.asarray(tau, dtype=float), np.asarray(kappa, dtype=float)
    steps = np.diff(tau)
    logs = np.linspace(
        np.log(0.1 / tau.max()), np.log(10 / steps[steps > 0].min()), RELAXATION_GRID
    )

    def cost(log_gamma):
        return np.sum((kappa - shape_fit(kappa, relaxation_shape(tau, np.exp(log_gamma)))[2]) ** 2)

    best = int(np.argmin([cost(g) for g in logs]))
    bounds = logs[max(best - 1, 0)], logs[min(best + 1, len(logs) - 1)]
    fit = minimize_scalar(cost, bounds=bounds, method="bounded", options={"xatol": 1e-10})
    gamma = float(np.exp(fit.x))
    kappa0, amplitude, curve = shape_fit(kappa, relaxation_shape(tau, gamma))
    return kappa0, amplitude, gamma, curve


def fit_drift_laws(tau, kappa, kinetic, hubble) -> dict:
    """Every law of DRIFT_LAWS fitted to one measured kappa_a at times tau (kinetic term K at the
    same steps, H the run's exact-dictionary Hubble rate): {law: (kappa_0, A, rate, unexplained,
    curve)}, rate = 2 H (fixed), gamma (fitted), NaN (backreaction has none)."""
    kappa0, amplitude, gamma, curve = relaxation_fit(tau, kappa)
    fits = {"relaxation": (kappa0, amplitude, gamma, curve)}
    for law, shape, rate in (
        ("redshift", redshift_shape(tau, hubble), 2 * hubble),
        ("backreaction", kinetic, np.nan),
    ):
        kappa0, amplitude, curve = shape_fit(kappa, shape)
        fits[law] = (kappa0, amplitude, rate, curve)
    return {
        law: (*fits[law][:3], unexplained_fraction(kappa, fits[law][3]), fits[law][3])
        for law in DRIFT_LAWS
    }


def leave_cell_out(values, cells):
    """For every run, the median over the OTHER cells (distinct rows of `cells`, e.g. (eta, beta))
    of each cell's mean of `values` (run,), NaN ignored; NaN where no other cell has a value.
    Cells, not runs, are pooled, so that many seeds of one cell do not outvote the grid."""
    labels = np.unique(np.asarray(cells), axis=0, return_inverse=True)[1].ravel()
    means = np.full(labels.max() + 1, np.nan)
    for cell in range(len(means)):
        finite = values[(labels == cell) & np.isfinite(values)]
        means[cell] = finite.mean() if finite.size else np.nan
    pooled = np.full(len(values), np.nan)
    for run, cell in enumerate(labels):
        others = np.delete(means, cell)
        others = others[np.isfinite(others)]
        pooled[run] = np.median(others) if others.size else np.nan
    return pooled


def predicted_shapes(tau, kinetic, hubble, gamma) -> dict:
    """The shape g of every law for one target run: its own H (redshift), the pooled gamma
    (relaxation), its own kinetic term K(n) (backreaction)."""
    return {
        "redshift": redshift_shape(tau, hubble),
        "relaxation": relaxation_shape(tau, gamma),
        "backreaction": kinetic,
    }


def cross_run_unexplained(kappa, tau, kinetic, hubble, amplitude, gamma, cells):
    """Out-of-sample unexplained fraction (law, run, mode) of the drift laws across runs: run r's
    kappa_a(n) predicted by `drift_law` with its measured kappa_a(0), the transferable parameters
    (A per law, gamma for the relaxation; arrays (law, run, mode) fitted in-sample) pooled by
    `leave_cell_out` over the other cells, and its own H and K(n); kappa (run, step, mode)."""
    laws, runs, modes = amplitude.shape
    out = np.full((laws, runs, modes), np.nan)
    for a in range(modes):
        pooled_gamma = leave_cell_out(gamma[DRIFT_LAWS.index("relaxation"), :, a], cells)
        pooled = [leave_cell_out(amplitude[k, :, a], cells) for k in range(laws)]
        for r in range(runs):
            shapes = predicted_shapes(tau[r], kinetic[r], hubble[r], pooled_gamma[r])
            for k, law in enumerate(DRIFT_LAWS):
                model = drift_law(kappa[r, 0, a], pooled[k][r], shapes[law])
                out[k, r, a] = unexplained_fraction(kappa[r, :, a], model)
    return out


FIT_KEYS = ("H", "H_err", "m2", "m2_err", "rel_residual", "stop")


def fit_all(u, eta, rel_floor, diverged):
    """Prony fits of every (run, mode) trajectory u(run, step, mode); a run flagged `diverged`
    (run,) by its training (docs/physics.md §7.5) has status diverged and no fit."""
    runs, _, modes = u.shape
    status = np.zeros((runs, modes), dtype=np.int8)
    values = {k: np.full((runs, modes), np.nan) for k in FIT_KEYS}
    for r, a in np.ndindex(runs, modes):
        if diverged[r]:
            status[r, a] = FIT_STATUS.index("diverged")
            continue
        status[r, a], fit = fit_trajectory(u[r, :, a], eta[r], rel_floor)
        for key in FIT_KEYS:
            values[key][r, a] = fit[key] if fit else np.nan
    return status, values


def sup_residuals(u, fields, scale):
    """max_n |u_a(n) - field_a(n)| / scale, for fields (dictionary, run, step, mode)."""
    with np.errstate(invalid="ignore"):
        return np.abs(u[None] - fields).max(axis=2) / scale


DRIFT_PARAMETERS = ("kappa0", "amplitude", "rate", "unexplained")


def drift_fits(tau, kappa, kinetic, hubble, usable):
    """`fit_drift_laws` of every usable run and mode: parameters (DRIFT_PARAMETERS, law, run,
    mode) and in-sample curves (law, run, step, mode), NaN for the other runs."""
    runs, _, modes = kappa.shape
    params = np.full((len(DRIFT_PARAMETERS), len(DRIFT_LAWS), runs, modes), np.nan)
    curves = np.full((len(DRIFT_LAWS), *kappa.shape), np.nan)
    for r, a in np.ndindex(runs, modes):
        if usable[r]:
            fits = fit_drift_laws(tau[r], kappa[r, :, a], kinetic[r], hubble[r])
            for k, law in enumerate(DRIFT_LAWS):
                params[:, k, r, a], curves[k, r, :, a] = fits[law][:4], fits[law][4]
    return params, curves


def drift_variables(train, y, hubble) -> dict:
    """The drift laws (docs/physics.md §7.7) on the training file's measured kappa_a(n) (`kappa`,
    `f`, `tau`; run order of the ntk stage) and the data's y, with H = `hubble` (run,): the
    in-sample fits of every law per run and mode (dim drift_mode), and tau at the measured
    steps (`out_of_sample` predicts across runs from them); {} when kappa was not measured
    (training.kappa_stride 0)."""
    import xarray as xr

    if train is None or "kappa" not in train:
        return {}
    steps = train.kappa_step.values
    tau = train.tau.values[:, steps]
    kinetic = np.stack([kinetic_term(f - y)[steps] for f in train.f.values.astype(float)])
    kappa = train.kappa.values.astype(float)
    usable = ~train.diverged.values & np.isfinite(kappa).all(axis=(1, 2)) & np.isfinite(hubble)
    usable &= train.schedule.values == "constant"  # H_eta is a run's H only in de Sitter
    usable &= np.isfinite(kinetic).all(axis=1)
    kappa[~usable] = np.nan
    params, curves = drift_fits(tau, kappa, kinetic, hubble, usable)
    coords = {
        "law": list(DRIFT_LAWS),
        "run": train.run.values,
        "kappa_step": steps,
        "drift_mode": train.mode.values,
    }
    lrm, rsm = ("law", "run", "drift_mode"), ("run", "kappa_step", "drift_mode")

    def var(dims, data, name, units="1"):
        attrs = {"long_name": name, "units": units}
        return xr.DataArray(data, {d: coords[d] for d in dims}, dims, attrs=attrs)

    return {
        "kappa_measured": var(
            rsm, kappa, "measured kappa_a(n) = v_a^T Theta(n) v_a / N", "1/tau^2"
        ),
        "kinetic": var(
            ("run", "kappa_step"), kinetic, "kinetic term K(n) = sum ||dr||^2 / ||r(0)||^2"
        ),
        "kappa_tau": var(
            ("run", "kappa_step"),
            tau,
            "time tau_n = sum_{k<n} sqrt(eta_k) of a kappa_a(n) measurement",
            "tau",
        ),
        "drift_curve": var(
            ("law", *rsm), curves, "in-sample fit of kappa_a(n) by each drift law", "1/tau^2"
        ),
        "drift_kappa0": var(lrm, params[0], "fitted kappa_0 of kappa_0 [1 - A g]", "1/tau^2"),
        "drift_amplitude": var(lrm, params[1], "fitted relative drift A of kappa_0 [1 - A g]"),
        "drift_rate": var(
            lrm, params[2], "rate of g: 2H (redshift, fixed), gamma (relaxation)", "1/tau"
        ),
        "drift_unexplained": var(lrm, params[3], "in-sample unexplained fraction of the drift"),
    }


def out_of_sample(ds):
    """`cross_run_unexplained` (law, run, drift_mode) over the runs of a duality dataset: the
    caller chooses them (the grid sweep's runs, merged over jobs), so a split of the jobs does
    not change which runs a prediction pools."""
    lrm = ("law", "run", "drift_mode")
    return cross_run_unexplained(
        ds.kappa_measured.transpose("run", "kappa_step", "drift_mode").values,
        ds.kappa_tau.transpose("run", "kappa_step").values,
        ds.kinetic.transpose("run", "kappa_step").values,
        ds.H_exact.values,
        ds.drift_amplitude.transpose(*lrm).values,
        ds.drift_rate.transpose(*lrm).values,
        np.column_stack([ds.eta.values, ds.beta.values]),
    )


def duality_dataset(ntk, cosmo, rel_floor: float, train=None, y=None):
    """Duality stage: fitted (H, m^2) per mode, dictionary predictions, network-vs-field errors,
    and the NTK drift laws on the training file `train`'s measured kappa (with the data's `y`)."""
    import xarray as xr

    n = ntk.attrs["n_samples"]
    eta, beta, u = ntk.eta.values, ntk.beta.values, ntk.u.values
    modes = ntk.sizes["mode"]
    kappa = ntk_kappa(ntk.eigenvalue.isel(eigen=slice(0, modes)).values, n)  # (run, ckpt, mode)
    status, fit = fit_all(u, eta, rel_floor, ntk.diverged.values)
    exact = exact_dictionary(eta[:, None], beta[:, None], kappa[:, 0])
    continuum = continuum_dictionary(eta[:, None], beta[:, None], kappa[:, 0])
    fields = cosmo.field.values
    own = sup_residuals(u, fields, np.abs(u[:, 0, :]))
    whole = sup_residuals(u, fields, ntk.residual_norm.values[:, :1])
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
            "kappa": var(("run", "checkpoint", "mode"), kappa, "lambda_a(n) / N", "1/tau^2"),
            **drift_variables(train, y, exact["H"][:, 0]),
        },
        coords={c: ntk[c] for c in (*RUN_COORDS, "mode", "checkpoint")}
        | {"dictionary": cosmo.dictionary},
        attrs={**ntk.attrs, "fit_rel_floor": rel_floor},
    )


WINDOW_STATUS = ("ok", "no_real_image", "below_floor", "unresolved")


def windowed_hubble(u, tau, etas, window: int, stride: int, rel_floor: float) -> dict:
    """H(tau) of one trajectory from sliding Prony fits (`prony_fit`) over rows [s, s + window),
    s = 1, 1 + stride, ...: the local friction 3 H sqrt(eta) = -ln(-c2) of the window, with eta_n
    at the window's centre. A window is `below_floor` where max |u| over it is below
    rel_floor * (the largest finite |u|), u is not finite over it, or u is 0 throughout, and
    `no_real_image` where the fit has none; its H is NaN then (`with_hubble_windows` marks the
    `unresolved` ones).
    Returns per window: start, centre tau, H, H_err, status (WINDOW_STATUS codes)."""
    u = np.asarray(u, dtype=float)
    starts = np.arange(1, len(u) - window, stride)
    out = {"start": starts, "tau": tau[starts + window // 2]}
    out |= {k: np.full(len(starts), np.nan) for k in ("H", "H_err")}
    out["status"] = np.zeros(len(starts), np.int8)
    # the largest finite |u| (an inf would floor every window); NaN where no finite u is nonzero
    magnitudes = np.abs(u[np.isfinite(u)])
    scale = magnitudes.max() if magnitudes.any() else np.nan
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
        window_tau=(rw, stack("tau"), attrs("tau at the window's centre", "tau")),
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
