"""Momentum training <-> de Sitter field: the continuum and exact discrete dictionaries.

Full-batch heavy-ball momentum (learning rate eta, momentum beta, start from rest) in the
constant-NTK regime gives decoupled residual modes obeying the recursion

    (D)  u(n+1) = (1 + beta - x) u(n) - beta u(n-1),   u(-1) = u(0),   x = eta * kappa,

with kappa = lam / N the NTK eigenvalue over the number of samples.  Time is tau = n sqrt(eta).

Continuum dictionary (the paper's, leading order in 1 - beta and eta):
    u'' + 3H u' + m^2 u = 0,  3H = (1 - beta) / sqrt(eta),  m^2 = kappa,  Lambda = 3H^2.
Exact dictionary: with r+-, the roots of r^2 - (1 + beta - x) r + beta = 0, (D) samples a
solution of the same ODE with 3H = -ln(beta) / sqrt(eta), m^2 = ln(r+) ln(r-) / eta,
Lambda = 3H^2 = ln(beta)^2 / (3 eta).

Regimes (codes index REGIMES), in the plane (x, beta):
    0 overdamped   0 <= x <= (1 - sqrt(beta))^2   real positive roots (slow roll; x equal to
                                                  the bound is the critical double root)
    1 underdamped  (1 - sqrt(beta))^2 < x < (1 + sqrt(beta))^2   complex roots (oscillating)
    2 alternating  (1 + sqrt(beta))^2 <= x < 2 (1 + beta)   real negative roots: stable, sign
                                                  flips every step, no real ODE image (NaN)
    3 unstable     x >= 2 (1 + beta) (a root <= -1), or x < 0 (a root > 1; tachyonic m^2 < 0)
Plain gradient descent (beta = 0) uses the same codes (bounds collapse to 1: overdamped x <= 1,
alternating 1 < x < 2, unstable x >= 2); its r- = 0, so 3H = -ln(0) / sqrt(eta) = inf: the
exact dictionary returns H = Lambda = inf, m^2 = NaN and no rest initial velocity (NaN), since
u(n) = (1 - x)^n u0 is the image of a first-order equation, not of the damped oscillator.
"""

from __future__ import annotations

import math

import numpy as np

REGIMES = ("overdamped", "underdamped", "alternating", "unstable")


def _bounds(beta):
    """Regime bounds x = (1 - sqrt(beta))^2, (1 + sqrt(beta))^2 (double roots +-sqrt(beta)).

    1 - sqrt(beta) = (1 - beta) / (1 + sqrt(beta)) keeps the lower bound accurate as beta -> 1.
    """
    sb = np.sqrt(beta)
    return ((1 - beta) / (1 + sb)) ** 2, (1 + sb) ** 2


def _sinhc(z):
    """sinh(z) / z, equal to 1 at z = 0 (the double-root limit)."""
    safe = np.where(z == 0, 1, z)
    return np.where(z == 0, 1, np.sinh(safe) / safe)


def characteristic_roots(eta, beta, kappa):
    """Roots r+- = (b +- sqrt(b^2 - 4 beta)) / 2 of r^2 - b r + beta = 0, b = 1 + beta - eta kappa.

    The discriminant is evaluated as (x - (1 - sqrt(beta))^2) (x - (1 + sqrt(beta))^2) and
    real roots by Vieta (small root = beta / large root), so neither cancels.  Complex roots
    have r+ in the upper half plane.  Returns complex128 arrays broadcast over the inputs.
    """
    beta = np.asarray(beta, dtype=float)
    x = np.asarray(eta, dtype=float) * np.asarray(kappa, dtype=float)
    lo, hi = _bounds(beta)
    disc = (x - lo) * (x - hi)
    b, sq = 1 + beta - x, np.sqrt(np.abs(disc))
    big = 0.5 * (b + np.copysign(sq, b))
    small = np.divide(beta, big, out=np.zeros(np.broadcast(beta, big).shape), where=big != 0)
    r_plus = np.where(disc < 0, 0.5 * (b + 1j * sq), np.where(b >= 0, big, small))
    r_minus = np.where(disc < 0, 0.5 * (b - 1j * sq), np.where(b >= 0, small, big))
    return r_plus, r_minus


def _log_roots(eta, beta, kappa):
    """Principal ln(r+-); for real positive roots ln(r+) = log1p(x / (r- - 1)) (slow roll)."""
    r_plus, r_minus = characteristic_roots(eta, beta, kappa)
    x = np.asarray(eta, dtype=float) * np.asarray(kappa, dtype=float)
    slow = (r_plus.imag == 0) & (r_minus.real > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        l_plus = np.where(slow, np.log1p(x / (r_minus.real - 1)), np.log(r_plus))
        return l_plus, np.log(r_minus)


def regime(eta, beta, kappa):
    """Regime code (index into REGIMES) from the bounds on x = eta kappa in the module docstring."""
    beta = np.asarray(beta, dtype=float)
    x = np.asarray(eta, dtype=float) * np.asarray(kappa, dtype=float)
    lo, hi = _bounds(beta)
    conds = [x < 0, x <= lo, x < hi, x < 2 * (1 + beta)]
    return np.select(np.broadcast_arrays(*conds), [3, 0, 1, 2], 3)


def continuum_dictionary(eta, beta, kappa):
    """Continuum dictionary: 3H = (1 - beta) / sqrt(eta), m^2 = kappa, Lambda = 3H^2."""
    eta, beta, kappa = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (eta, beta, kappa))
    )
    hubble = (1 - beta) / (3 * np.sqrt(eta))
    return {"H": hubble, "m2": kappa.copy(), "Lambda": 3 * hubble**2}


def exact_dictionary(eta, beta, kappa):
    """Exact dictionary: 3H = -ln(beta) / sqrt(eta), m^2 = ln(r+) ln(r-) / eta, Lambda = 3H^2.

    NaN for H, m^2 and Lambda where the roots are real negative (alternating and unstable
    x > 2(1 + beta)): there ln(r+) ln(r-) is not real and no real ODE image exists; `regime`
    says which.  beta = 0 (gradient descent) gives H = Lambda = inf, m^2 = NaN.
    """
    eta, beta, kappa = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (eta, beta, kappa))
    )
    code = regime(eta, beta, kappa)
    has_image = (eta * kappa < _bounds(beta)[1]) & (beta >= 0)
    l_plus, l_minus = _log_roots(eta, beta, kappa)
    with np.errstate(divide="ignore", invalid="ignore"):
        hubble = np.where(has_image, -np.log(beta) / (3 * np.sqrt(eta)), np.nan)
        m2 = np.where(has_image & (beta > 0), (l_plus * l_minus).real / eta, np.nan)
    return {"H": hubble, "m2": m2, "Lambda": 3 * hubble**2, "regime": code}


def rest_initial_velocity(eta, beta, kappa, u0):
    """u'(0) = A s+ + B s- of the exact image started from rest, u(-sqrt(eta)) = u(0) = u0.

    With u = A e^{s+ tau} + B e^{s- tau}, s+- = ln(r+-) / sqrt(eta), A + B = A / r+ + B / r-
    = u0: A = u0 r+ (r- - 1) / (r- - r+), B = u0 r- (r+ - 1) / (r+ - r-).  Written via
    d = (ln r+ - ln r-) / 2 as
        u'(0) = u0 [ (cosh d - sqrt(beta)) / sinhc(d) + ln(beta) / 2 ] / sqrt(eta),
    even and entire in d, so the double root (d = 0: u0 (1 - r + ln r) / sqrt(eta)) needs no
    division by zero.  Far on the slow-roll side (x <= (1 - sqrt(beta))^2 / 2), where u'(0) = O(x)
    and that form cancels, A s+ + B s- is used directly with r+ - 1 = x / (r- - 1).
    NaN where the exact dictionary has no image (and for beta = 0).
    """
    r_plus, r_minus = (r.real for r in characteristic_roots(eta, beta, kappa))
    l_plus, l_minus = _log_roots(eta, beta, kappa)
    x = np.asarray(eta, dtype=float) * np.asarray(kappa, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = 0.5 * (l_plus - l_minus)
        general = (np.cosh(half) - np.sqrt(beta)) / _sinhc(half) + 0.5 * np.log(beta)
        q = r_minus - 1
        slow = (r_plus * q * l_plus.real - r_minus * (x / q) * l_minus.real) / (r_minus - r_plus)
    bracket = np.where((x >= 0) & (x <= 0.5 * _bounds(beta)[0]), slow, general.real)
    m2 = exact_dictionary(eta, beta, kappa)["m2"]
    return np.where(np.isnan(m2), np.nan, np.asarray(u0) * bracket / np.sqrt(eta))


def momentum_recursion(u0, eta, beta, kappa, steps):
    """Recursion (D) from rest, as heavy ball: v(n+1) = beta v(n) - x u(n), u(n+1) = u(n) + v(n+1).

    v(n) = u(n) - u(n-1), v(0) = 0; identical to (D) in exact arithmetic and better conditioned
    for slow modes.  Returns float64 u(n), n = 0..steps, shape (steps + 1, *broadcast shape).
    """
    u0, eta, beta, kappa = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (u0, eta, beta, kappa))
    )
    x = eta * kappa
    out = np.empty((steps + 1, *u0.shape))
    out[0], v = u0, np.zeros(u0.shape)
    for n in range(steps):
        v = beta * v - x * out[n]
        out[n + 1] = out[n] + v
    return out


def mode_solution(tau, u0, du0, H, m2):
    """Closed form of u'' + 3H u' + m2 u = 0, u(0) = u0, u'(0) = du0 (s+- = -3H/2 +- w).

    u = e^{-3H tau / 2} [u0 cosh(w tau) + (du0 + 3H u0 / 2) tau sinhc(w tau)], w^2 = 9H^2/4 - m2,
    with complex w (cosh, sinh are the complex exponentials); even in w, so the double root
    w = 0 is the limit (a + b tau) e^{-3H tau / 2}.  Returns the real part.
    """
    tau, u0, du0, H, m2 = (np.asarray(a, dtype=float) for a in (tau, u0, du0, H, m2))
    w = np.sqrt((2.25 * H**2 - m2).astype(complex))
    growth = np.cosh(w * tau) * u0 + (du0 + 1.5 * H * u0) * tau * _sinhc(w * tau)
    return (np.exp(-1.5 * H * tau) * growth).real


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
                ("run",),
                (1 - beta) / (3 * np.sqrt(eta)),
                "continuum-dictionary H = (1 - beta) / (3 sqrt(eta))",
                "1/tau",
            ),
            "m2_exact": var(
                rm, exact["m2"], "exact-dictionary m_eta^2 from lambda_a(0)/N", "1/tau^2"
            ),
            "m2_continuum": var(
                rm, kappa[:, 0], "continuum-dictionary m^2 = lambda_a(0)/N", "1/tau^2"
            ),
            "regime": (
                rm,
                exact["regime"].astype(np.int8),
                {
                    "long_name": "regime of mode a at initialisation (PHYSICS.md §5)",
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
        coords={c: ntk[c] for c in ("run", "eta", "beta", "seed", "diverged", "mode", "checkpoint")}
        | {"dictionary": cosmo.dictionary},
        attrs={**ntk.attrs, "fit_rel_floor": rel_floor},
    )
