"""nncosmo.duality against independent computations (recursion, mpmath, scipy, np.roots)."""

import math

import mpmath
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from nncosmo import duality as d
from nncosmo import theory

BETAS = (0.3, 0.5, 0.9, 0.99)
ETA = 0.07


def _bounds(beta):
    return ((1 - beta) / (1 + math.sqrt(beta))) ** 2, (1 + math.sqrt(beta)) ** 2


def _x_grid(beta):
    """eta kappa from 1e-3 to near (1 + sqrt(beta))^2, plus the critical point and its sides."""
    lo, hi = _bounds(beta)
    return np.concatenate(
        [np.geomspace(1e-3, 0.999 * hi, 40), lo * np.array([1 - 1e-9, 1, 1 + 1e-9])]
    )


def _image(u0, eta, beta, x, n):
    """The exact-dictionary ODE solution sampled at tau = n sqrt(eta)."""
    exact = theory.exact_dictionary(eta, beta, x / eta)
    du0 = theory.rest_initial_velocity(eta, beta, x / eta, u0)
    return theory.mode_solution(n * math.sqrt(eta), u0, du0, exact["H"], exact["m2"])


@mpmath.workdps(40)
def _mp_reference(eta, beta, x, u0=1.0):
    """40-digit roots, m^2 and rest velocity from the 2x2 system A + B = A/r+ + B/r- = u0."""
    eta, beta, x = (mpmath.mpf(v) for v in (eta, beta, x))
    b = 1 + beta - x
    root = mpmath.sqrt(mpmath.mpc(b * b - 4 * beta))
    r_plus, r_minus = (b + root) / 2, (b - root) / 2
    a, bb = mpmath.lu_solve(mpmath.matrix([[1, 1], [1 / r_plus, 1 / r_minus]]), [u0, u0])
    l_plus, l_minus = mpmath.log(r_plus), mpmath.log(r_minus)
    du0 = (a * l_plus + bb * l_minus) / mpmath.sqrt(eta)
    return complex(r_plus), complex(r_minus), float((l_plus * l_minus).real / eta), float(du0.real)


# 1. the exact dictionary reproduces recursion (D)


@pytest.mark.parametrize("beta", BETAS)
def test_exact_dictionary_reproduces_recursion(beta):
    x, u0 = _x_grid(beta), -1.3
    assert set(theory.regime(ETA, beta, x / ETA)) == {0, 1}
    n = np.arange(201)[:, None]
    recursion = theory.momentum_recursion(u0, ETA, beta, x / ETA, 200)
    assert np.abs(_image(u0, ETA, beta, x, n) - recursion).max() <= 1e-10 * abs(u0)
    assert np.abs(_image(u0, ETA, beta, x, -1) - u0).max() <= 1e-10 * abs(u0)


def test_tachyonic_image_reproduces_growing_recursion():
    x, beta, u0 = np.array([-1e-3, -0.05]), 0.9, 0.8
    exact = theory.exact_dictionary(ETA, beta, x / ETA)
    assert np.all(exact["m2"] < 0) and np.all(exact["regime"] == 3)
    recursion = theory.momentum_recursion(u0, ETA, beta, x / ETA, 200)
    image = _image(u0, ETA, beta, x, np.arange(201)[:, None])
    assert np.abs(image / recursion - 1).max() <= 1e-10


@pytest.mark.parametrize("beta", (0.3, 0.9, 0.99, 0.999))
@pytest.mark.parametrize("frac", (1e-10, 1e-6, 0.5, 1 - 1e-6, 1 + 1e-6, 1.5, 50, 200, 1e3))
def test_roots_mass_and_velocity_against_mpmath(beta, frac):
    """frac is eta kappa in units of the critical value (1 - sqrt(beta))^2, capped below hi."""
    lo, hi = _bounds(beta)
    x = min(frac * lo, 0.99 * hi)
    r_plus, r_minus, m2, du0 = _mp_reference(ETA, beta, x)
    roots = theory.characteristic_roots(ETA, beta, x / ETA)
    assert abs(complex(roots[0]) - r_plus) <= 1e-12 * abs(r_plus)
    assert abs(complex(roots[1]) - r_minus) <= 1e-12 * abs(r_minus)
    assert theory.exact_dictionary(ETA, beta, x / ETA)["m2"] == pytest.approx(m2, rel=1e-12, abs=0)
    # u'(0) to 1e-12 relative or 1e-15 in units of u0 / sqrt(eta) (what the trajectory feels);
    # purely relative on the slow-roll side, where u'(0) = O(eta kappa) -> 0
    error = abs(theory.rest_initial_velocity(ETA, beta, x / ETA, 1.0) - du0)
    assert error <= max(1e-12 * abs(du0), 0 if frac <= 0.5 else 1e-15 / math.sqrt(ETA))


@pytest.mark.parametrize("beta", BETAS)
def test_rest_velocity_double_root_limit(beta):
    """At the double root r = sqrt(beta): u'(0) = u0 (1 - r + ln r) / sqrt(eta) (40 digits)."""
    with mpmath.workdps(40):
        r = mpmath.sqrt(beta)
        expected = float((1 - r + mpmath.log(r)) / mpmath.sqrt(ETA))
    du0 = theory.rest_initial_velocity(ETA, beta, _bounds(beta)[0] / ETA, 1.0)
    assert np.isfinite(du0) and abs(du0 - expected) * math.sqrt(ETA) <= 1e-15


@pytest.mark.parametrize(("H", "m2"), [(0.4, 0.1), (0.4, 0.36), (0.4, 2.0), (0.2, -0.3)])
def test_mode_solution_against_ode_integrator(H, m2):
    tau = np.linspace(0, 6, 13)
    ode = solve_ivp(
        lambda t, y: [y[1], -3 * H * y[1] - m2 * y[0]],
        (0, 6),
        [1.1, -0.4],
        t_eval=tau,
        rtol=1e-12,
        atol=1e-13,
        method="DOP853",
    )
    assert np.allclose(theory.mode_solution(tau, 1.1, -0.4, H, m2), ode.y[0], rtol=1e-9, atol=1e-10)


def test_mode_solution_at_critical_damping_is_the_double_root_limit():
    """m^2 = 9 H^2 / 4 exactly (w = 0): u = (u0 + (u'(0) + 3 H u0 / 2) tau) e^{-3 H tau / 2}."""
    H, u0, du0 = 0.4, 1.1, -0.4
    tau = np.linspace(0, 6, 13)
    expected = (u0 + (du0 + 1.5 * H * u0) * tau) * np.exp(-1.5 * H * tau)
    got = theory.mode_solution(tau, u0, du0, H, 2.25 * H**2)
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("beta", BETAS)
def test_massless_mode_is_overdamped_and_stays_at_rest(beta):
    """kappa = 0 (x = 0, the lower end of the overdamped region): (D) keeps u(n) = u(0); its
    image is massless, m^2 = 0, with u'(0) = 0 and the run's finite H."""
    exact = theory.exact_dictionary(ETA, beta, 0.0)
    assert exact["regime"] == theory.REGIMES.index("overdamped")
    assert exact["m2"] == 0 and exact["H"] == pytest.approx(-math.log(beta) / (3 * math.sqrt(ETA)))
    assert theory.rest_initial_velocity(ETA, beta, 0.0, 1.0) == 0
    assert np.all(theory.momentum_recursion(1.3, ETA, beta, 0.0, 20) == 1.3)


# 2. the continuum dictionary is the leading order


def test_continuum_hubble_is_leading_order():
    eps = np.geomspace(1e-1, 1e-4, 7)
    beta = 1 - eps
    rel = (
        theory.exact_dictionary(ETA, beta, 1.0)["H"]
        / theory.continuum_dictionary(ETA, beta, 1.0)["H"]
        - 1
    )
    # -ln(1 - eps) / eps - 1 = eps/2 + eps^2/3 + eps^3/4 + ...
    assert np.all(np.abs(rel / (eps / 2) - 1) <= 1.01 * 2 * eps / 3 + eps**2)
    assert np.all(np.abs((rel - eps / 2) / eps**2 - 1 / 3) <= eps)


def test_continuum_limit_at_fixed_friction():
    """eta -> 0 at fixed 3H = (1 - beta)/sqrt(eta) = 0.5, kappa = 2: both dictionaries agree to
    O(sqrt(eta))."""
    sqrt_eta = np.array([1e-2, 1e-3, 1e-4])
    eta, beta = sqrt_eta**2, 1 - 0.5 * sqrt_eta
    cont, exact = (
        theory.continuum_dictionary(eta, beta, 2.0),
        theory.exact_dictionary(eta, beta, 2.0),
    )
    for key in ("H", "m2"):
        diff = np.abs(exact[key] / cont[key] - 1)
        assert np.all(diff < 10 * sqrt_eta)
        assert np.allclose(diff[:-1] / diff[1:], 10, rtol=0.05)


@pytest.mark.parametrize("beta", BETAS)
def test_cosmological_constant_scales_as_inverse_eta(beta):
    log_eta = np.linspace(np.log(1e-6), np.log(1e-1), 9)
    for dictionary in (theory.continuum_dictionary, theory.exact_dictionary):
        lam = dictionary(np.exp(log_eta), beta, 0.01)["Lambda"]
        slopes = np.diff(np.log(lam)) / np.diff(log_eta)
        assert np.abs(slopes + 1).max() <= 1e-12
    assert theory.exact_dictionary(0.1, beta, 0.01)["Lambda"] == pytest.approx(
        math.log(beta) ** 2 / 0.3, rel=1e-14, abs=0
    )
    assert theory.continuum_dictionary(0.1, beta, 0.01)["Lambda"] == pytest.approx(
        (1 - beta) ** 2 / 0.3, rel=1e-14, abs=0
    )


# 3. regime boundaries


def _regime_from_np_roots(beta, x):
    roots = np.roots([1, -(1 + beta - x), beta])
    if np.abs(roots).max() > 1:
        return 3
    if np.all(np.abs(roots.imag) > 0):
        return 1
    return 0 if np.all(roots.real > 0) else 2


@pytest.mark.parametrize("beta", (*BETAS, 0.05))
def test_regimes_just_inside_each_region(beta):
    lo, hi = _bounds(beta)
    top = 2 * (1 + beta)
    inside = {
        0: [1e-12, lo * (1 - 1e-9)],
        1: [lo * (1 + 1e-9), hi * (1 - 1e-9)],
        2: [hi * (1 + 1e-9), top * (1 - 1e-9)],
        3: [top * (1 + 1e-9), -1e-12],
    }
    for code, xs in inside.items():
        assert list(theory.regime(ETA, beta, np.array(xs) / ETA)) == [code, code]
        assert [_regime_from_np_roots(beta, x) for x in xs] == [code, code]
    assert list(theory.regime(1.0, beta, np.array([lo, hi, top]))) == [0, 2, 3]  # double roots, -1


def test_regimes_match_np_roots_on_random_points():
    rng = np.random.default_rng(0)
    beta, x = rng.uniform(0.01, 0.99, 500), rng.uniform(-0.5, 4.5, 500)
    expected = [_regime_from_np_roots(b, xx) for b, xx in zip(beta, x, strict=True)]
    assert np.array_equal(theory.regime(ETA, beta, x / ETA), expected)


@pytest.mark.parametrize("beta", BETAS)
def test_unstable_and_alternating_dynamics(beta):
    hi, top = _bounds(beta)[1], 2 * (1 + beta)
    u = theory.momentum_recursion(1.0, ETA, beta, top * 1.02 / ETA, 400)
    envelope = np.maximum(np.abs(u[:-1]), np.abs(u[1:]))
    assert np.all(np.diff(envelope[50:]) > 0) and envelope[-1] > 10
    xs = np.linspace(hi, top, 7)[1:-1]
    u = theory.momentum_recursion(1.0, ETA, beta, xs / ETA, 3000)
    assert np.all(np.sign(u[1:]) == -np.sign(u[:-1]))
    # stable: after a transient (amplification ~ 1 / (1 - beta)) the magnitude decays
    assert np.all(np.abs(u[-1]) < 0.5 * np.abs(u).max(axis=0))
    for x in (*xs, top * 1.02):
        exact = theory.exact_dictionary(ETA, beta, x / ETA)
        assert np.isnan(exact["H"]) and np.isnan(exact["m2"]) and np.isnan(exact["Lambda"])
        assert np.isnan(theory.rest_initial_velocity(ETA, beta, x / ETA, 1.0))
        assert exact["regime"] == (2 if x < top else 3)


@pytest.mark.parametrize("beta", BETAS)
def test_double_negative_root_has_no_real_image(beta):
    """x = eta kappa = (1 + sqrt(beta))^2 exactly: b = 1 + beta - x = -2 sqrt(beta), so r^2 - b r
    + beta = (r + sqrt(beta))^2 has the double root -sqrt(beta) < 0 and (D) from rest is
    u(n) = (1 + (1 + sqrt(beta)) n) (-sqrt(beta))^n, a sign flip every step: no real ODE image,
    H = m^2 = Lambda = NaN (the bound belongs to the alternating region, docs/physics.md §5)."""
    sb = math.sqrt(beta)
    hi = (1 + sb) ** 2
    n = np.arange(61)
    u = theory.momentum_recursion(1.0, ETA, beta, hi / ETA, 60)
    np.testing.assert_allclose(u, (1 + (1 + sb) * n) * (-sb) ** n, rtol=1e-9, atol=1e-12)
    for eta in (1.0, 0.25):  # eta (hi / eta) == hi exactly for these eta
        assert eta * (hi / eta) == hi
        exact = theory.exact_dictionary(eta, beta, hi / eta)
        assert np.isnan(exact["H"]) and np.isnan(exact["m2"]) and np.isnan(exact["Lambda"])
        assert exact["regime"] == 2


@pytest.mark.parametrize("beta", (0.05, 0.3, 0.5, 0.9))
def test_negative_real_roots_follow_the_quadratic_formula(beta):
    """Real negative roots (b = 1 + beta - x < 0): r+- = (b +- sqrt(b^2 - 4 beta)) / 2 (mpmath)."""
    hi, top = _bounds(beta)[1], 2 * (1 + beta)
    for x in (0.5 * (hi + top), 1.02 * top, 10.0):
        with mpmath.workdps(40):
            b = 1 + mpmath.mpf(beta) - mpmath.mpf(x)
            root = mpmath.sqrt(b * b - 4 * mpmath.mpf(beta))
            expected = (float((b + root) / 2), float((b - root) / 2))
        roots = theory.characteristic_roots(1.0, beta, x)
        for got, want in zip(roots, expected, strict=True):
            assert got.imag == 0 and got.real == pytest.approx(want, rel=1e-12, abs=0)


def test_gradient_descent_has_infinite_friction():
    x = np.array([0.5, 1.5, 2.5])
    exact = theory.exact_dictionary(ETA, 0.0, x / ETA)
    assert list(exact["regime"]) == [0, 2, 3]
    assert exact["H"][0] == np.inf and exact["Lambda"][0] == np.inf
    assert np.all(np.isnan(exact["m2"])) and np.all(np.isnan(exact["H"][1:]))
    assert np.all(np.isnan(theory.rest_initial_velocity(ETA, 0.0, x / ETA, 1.0)))
    gd = theory.momentum_recursion(1.0, ETA, 0.0, x / ETA, 5)
    np.testing.assert_allclose(gd, (1 - x) ** np.arange(6)[:, None], rtol=1e-14)


# 4. Prony fit

PRONY_CASES = [(0.5, 0.02), (0.3, 1e-3), (0.9, 0.8 * _bounds(0.9)[0]), (0.9, 0.3), (0.99, 1.0)]


@pytest.mark.parametrize(("beta", "x"), PRONY_CASES + [(0.5, 2.5)])
def test_prony_recovers_exact_dictionary(beta, x):
    u = theory.momentum_recursion(1.0, ETA, beta, x / ETA, 300)
    start, stop = d.prony_window(u, 1e-12)
    fit = d.prony_fit(u, ETA, start=start, stop=stop)
    exact = theory.exact_dictionary(ETA, beta, x / ETA)
    assert fit["ok"] and fit["rel_residual"] < 1e-12
    assert fit["c1"] == pytest.approx(1 + beta - x, rel=1e-8, abs=0)
    assert fit["c2"] == pytest.approx(-beta, rel=1e-8, abs=0)
    assert fit["H"] == pytest.approx(exact["H"], rel=1e-8, abs=0)
    assert fit["m2"] == pytest.approx(exact["m2"], rel=1e-8, abs=0)


def test_a_run_flagged_diverged_is_not_fitted():
    """docs/physics.md §7.5: a run its training flagged diverged (here by its loss alone: u
    finite and a clean recursion) gets fit status `diverged` and no (H, m^2), while the same
    trajectory unflagged recovers the exact dictionary."""
    u = theory.momentum_recursion(1.0, ETA, 0.9, 0.3 / ETA, 300)
    both = np.stack([u, u])[:, :, None]  # (run, step, mode)
    status, fit = d.fit_all(both, np.full(2, ETA), 1e-12, np.array([False, True]))
    assert [d.FIT_STATUS[code] for code in status[:, 0]] == ["ok", "diverged"]
    assert fit["H"][0, 0] == pytest.approx(theory.exact_dictionary(ETA, 0.9, 0.3 / ETA)["H"])
    assert all(np.isnan(values[1, 0]) for values in fit.values())


def test_fit_all_fits_each_mode_its_own_trajectory():
    """Two modes of (D) with kappa_a = 3 and 0.8: fit_all recovers each mode's own exact m2_a."""
    kappa = np.array([3.0, 0.8])
    u = theory.momentum_recursion(np.array([1.0, -0.5]), ETA, 0.9, kappa, 300)[None]
    status, fit = d.fit_all(u, np.array([ETA]), 1e-12, np.array([False]))
    assert np.all(status == d.FIT_STATUS.index("ok"))
    exact = theory.exact_dictionary(ETA, 0.9, kappa)
    np.testing.assert_allclose(fit["m2"][0], exact["m2"], rtol=1e-8)


def _noisy_fits(u, sigma, seeds):
    fits = []
    for seed in seeds:
        noisy = u + sigma * np.random.default_rng(seed).standard_normal(u.shape)
        start, stop = d.prony_window(noisy, 10 * sigma / np.abs(noisy).max())
        fits.append(d.prony_fit(noisy, ETA, start=start, stop=stop))
    return fits


@pytest.mark.parametrize(("beta", "x"), [(0.5, 0.02), (0.9, 0.3), (0.99, 1.0)])
def test_prony_errors_are_the_scatter_over_noise_draws(beta, x):
    """(D) with white noise, 40 draws: each fit's error is the standard deviation of the fits
    (median error over the scatter within [0.75, 1.33]; the plain least-squares errors, which
    treat the residuals as independent, were 1.4x to 11.5x the scatter: physics §7.8), the truth
    lies within 3 errors of 90 % of the fits, and the errors scale with the noise."""
    u = theory.momentum_recursion(1.0, ETA, beta, x / ETA, 300)
    exact = theory.exact_dictionary(ETA, beta, x / ETA)
    median_err = {}
    for sigma in (1e-4, 1e-6):
        fits = _noisy_fits(u, sigma, range(40))
        assert all(f["ok"] for f in fits)
        for key in ("H", "m2"):
            values, errors = (np.array([f[k] for f in fits]) for k in (key, key + "_err"))
            assert np.mean(np.abs(values - exact[key]) < 3 * errors) >= 0.9
            assert 0.75 < np.median(errors) / np.std(values) < 1.33, (key, sigma)
            median_err[key, sigma] = np.median(errors)
    for key in ("H", "m2"):
        assert 30 < median_err[key, 1e-4] / median_err[key, 1e-6] < 300


@pytest.mark.parametrize(("beta", "x"), [(0.5, 0.02), (0.9, 0.3)])
def test_prony_errors_are_delta_method_of_least_squares(beta, x):
    """cov from an independent lstsq; Jacobian of the exact dictionary by central differences."""
    u = theory.momentum_recursion(1.0, ETA, beta, x / ETA, 120)
    u = u + 1e-5 * np.random.default_rng(7).standard_normal(u.shape)
    fit = d.prony_fit(u, ETA, start=1, stop=100)
    design, target = np.column_stack([u[1:100], u[:99]]), u[2:101]
    coef, rss, *_ = np.linalg.lstsq(design, target, rcond=None)
    cov = _moving_average_cov(design, coef, rss[0])
    # assert_allclose: no absolute floor (np.allclose's 1e-8 would pass any cov of ~1e-10)
    np.testing.assert_allclose([fit["c1"], fit["c2"]], coef, rtol=1e-12)
    np.testing.assert_allclose(fit["cov"], cov, rtol=1e-8)
    assert fit["rel_residual"] == pytest.approx(
        math.sqrt(rss[0] / np.sum(target**2)), rel=1e-10, abs=0
    )

    jac = _central_jacobian(coef)
    errs = np.sqrt(np.diag(jac @ cov @ jac.T))
    assert fit["H_err"] == pytest.approx(errs[0], rel=1e-6, abs=0)
    assert fit["m2_err"] == pytest.approx(errs[1], rel=1e-6, abs=0)


def _moving_average_cov(design, coef, rss):
    """cov(c1, c2) of a least-squares fit of (D) to u with white noise, written out densely: the
    residuals e(n) = eps(n+1) - c1 eps(n) - c2 eps(n-1) have the covariance s^2 T, T the
    Toeplitz matrix of their lag 0, 1, 2 autocovariances over that of lag 0, s^2 = rss / dof;
    cov = (X^T X)^-1 X^T (s^2 T) X (X^T X)^-1."""
    from scipy.linalg import toeplitz

    c1, c2 = coef
    rows = len(design)
    lags = np.zeros(rows)
    lags[:3] = [1 + c1**2 + c2**2, c1 * c2 - c1, -c2]
    s2 = rss / (rows - 2)
    bread = np.linalg.inv(design.T @ design)
    return bread @ design.T @ (s2 * toeplitz(lags / lags[0])) @ design @ bread


def _exact_h_m2(c):
    """(H, m2) of the exact dictionary of the recursion u(n+1) = c1 u(n) + c2 u(n-1) at ETA:
    beta = -c2, eta kappa = 1 - c1 - c2."""
    exact = theory.exact_dictionary(ETA, -c[1], (1 - c[0] - c[1]) / ETA)
    return np.array([exact["H"], exact["m2"]])


def _central_jacobian(c, step=1e-6):
    """d(H, m2)/d(c1, c2) of `_exact_h_m2` by central differences."""
    return np.column_stack(
        [(_exact_h_m2(c + dc) - _exact_h_m2(c - dc)) / (2 * step) for dc in step * np.eye(2)]
    )


def _generated(c1, c2, steps=40):
    u = [1.0, 0.5]
    for _ in range(steps):
        u.append(c1 * u[-1] + c2 * u[-2])
    return np.array(u)


@pytest.mark.parametrize(("c1", "c2"), [(0.3, 0.2), (-1.7, -0.6)])
def test_prony_flags_fits_without_real_image(c1, c2):
    """-c2 <= 0 (no real H) and real negative fitted roots (alternating: no real m^2)."""
    fit = d.prony_fit(_generated(c1, c2), ETA)
    assert fit["c1"] == pytest.approx(c1, rel=1e-10, abs=0) and fit["c2"] == pytest.approx(
        c2, rel=1e-10, abs=0
    )
    assert not fit["ok"]
    assert all(np.isnan(fit[k]) for k in ("H", "m2", "H_err", "m2_err"))


def test_prony_rejects_windows_too_short_or_out_of_range():
    u = np.arange(10.0)
    for start, stop in [(0, 5), (1, 10), (4, 6)]:
        with pytest.raises(ValueError):
            d.prony_fit(u, ETA, start=start, stop=stop)


def test_prony_fit_by_default_uses_every_row_of_the_trajectory():
    """Without start/stop the fit is least squares over every row n = 1 .. len(u) - 2."""
    u = theory.momentum_recursion(1.0, ETA, 0.9, 0.3 / ETA, 80)
    u = u + 1e-4 * np.random.default_rng(5).standard_normal(u.shape)
    coef, *_ = np.linalg.lstsq(np.column_stack([u[1:-1], u[:-2]]), u[2:], rcond=None)
    fit = d.prony_fit(u, ETA)
    np.testing.assert_allclose([fit["c1"], fit["c2"]], coef, rtol=1e-12)


def test_prony_jacobian_at_critical_damping_is_the_central_difference():
    """At z = c1 / 2 sqrt(-c2) = 1 exactly (beta = 1/4, c1 = 1), the analytic d(H, m2)/d(c1, c2)
    is the central difference of the exact dictionary (acosh(z)^2 is analytic through z = 1)."""
    c = np.array([1.0, -0.25])

    jac_h, jac_m2 = d._prony_jacobians(c[0], c[1], ETA)
    np.testing.assert_allclose(
        np.stack([jac_h, jac_m2]), _central_jacobian(c), rtol=1e-6, atol=1e-9
    )


def test_a_trajectory_with_any_non_finite_value_is_diverged():
    """A trajectory that overflows partway (finite start, inf then NaN later) is `diverged`,
    not fitted."""
    u = theory.momentum_recursion(1.0, ETA, 0.9, 0.3 / ETA, 100)
    u[60], u[61:] = np.inf, np.nan
    assert d.fit_trajectory(u, ETA, 1e-12) == (d.FIT_STATUS.index("diverged"), None)


def test_a_fitted_trajectory_without_real_image_is_flagged_no_real_image():
    """Real negative roots -0.5 and -1.2 (r^2 + 1.7 r + 0.6): the window is long enough, the fit
    is returned, and its status is `no_real_image`."""
    status, fit = d.fit_trajectory(_generated(-1.7, -0.6), ETA, 1e-12)
    assert status == d.FIT_STATUS.index("no_real_image")
    assert not fit["ok"] and fit["c2"] == pytest.approx(-0.6, rel=1e-10)


# 5. Prony window


def test_prony_window_stops_at_floor_of_geometric_decay():
    u = 0.9 ** np.arange(300.0)
    floor = 1e-6
    first = math.floor(math.log(floor) / math.log(0.9)) + 1  # first n with 0.9^n < floor
    assert 0.9**first < floor <= 0.9 ** (first - 1)
    assert d.prony_window(u, floor) == (1, first)


def test_prony_window_ignores_single_zero_crossings():
    u = theory.momentum_recursion(1.0, ETA, 0.99, 1.0 / ETA, 300)  # eta kappa = 1: u(1) = 0 exactly
    assert u[1] == 0
    assert d.prony_window(u, 1e-8) == (1, len(u) - 1)


def test_prony_window_stops_before_noise_floor():
    sigma = 1e-6
    clean = theory.momentum_recursion(1.0, ETA, 0.9, 0.3 / ETA, 400)
    noisy = clean + sigma * np.random.default_rng(3).standard_normal(clean.shape)
    floor = 10 * sigma
    start, stop = d.prony_window(noisy, floor)
    state = np.maximum(np.abs(noisy[1:-1]), np.abs(noisy[2:]))
    assert start == 1 and 20 < stop < 399
    assert np.all(state[: stop - 1] >= floor) and state[stop - 1] < floor
    envelope = np.maximum(np.abs(clean[1:-1]), np.abs(clean[2:]))
    assert envelope[stop - 1] < 2 * floor  # the clean signal has reached the noise floor there
    windowed = d.prony_fit(noisy, ETA, start=start, stop=stop)
    full = d.prony_fit(noisy, ETA)
    assert windowed["rel_residual"] < full["rel_residual"]


# 6. the duality dataset


def test_duality_dataset_scales_each_residual_by_its_own_start():
    """One run, two modes u_a(n) of (D) from rest (u_a(1) = (1 - x_a) u_a(0) != u_a(0)) and
    fields field_d,a(n) = u_a(n) + c_d u_a(0): sup_n |u_a - field_d,a| = |c_d| |u_a(0)|, so
    residual_own = |c_d| exactly and residual_norm = |c_d u_a(0)| / ||r(0)||, ||r(0)|| = 2.5
    (the ntk file's residual_norm at step 0)."""
    import xarray as xr

    beta, kappa, u0, steps = 0.9, np.array([3.0, 0.8]), np.array([1.2, -0.4]), 200
    u = [u0, u0]
    for _ in range(steps):
        u.append((1 + beta - ETA * kappa) * u[-1] - beta * u[-2])
    u = np.array(u[1:])[None]  # (run, step, mode)
    assert np.all(np.abs(u[0, 1] / u[0, 0] - 1) > 0.05)
    norm = np.concatenate([[2.5], np.linspace(2.0, 0.1, steps)])
    coords = {"run": [0], "eta": ("run", [ETA]), "beta": ("run", [beta])}
    coords |= {"seed": ("run", [0]), "schedule": ("run", ["constant"])}
    coords |= {"diverged": ("run", [False]), "mode": [0, 1], "checkpoint": [0, steps]}
    eigenvalue = 4 * np.array([[[*kappa, 0.1, 0.01], [*kappa, 0.1, 0.01]]])  # N = 4
    ntk = xr.Dataset(
        {
            "u": (("run", "step", "mode"), u),
            "eigenvalue": (("run", "checkpoint", "eigen"), eigenvalue),
            "residual_norm": (("run", "step"), norm[None]),
        },
        coords,
        {"n_samples": 4},
    )
    dictionaries = ["continuum", "exact", "adiabatic", "coupled"]
    c = np.array([0.3, -0.002, 0.01, -0.05])
    fields = u[None] + c[:, None, None, None] * u[None, :, :1, :]
    cosmo = xr.Dataset(
        {"field": (("dictionary", "run", "step", "mode"), fields)}, {"dictionary": dictionaries}
    )
    ds = d.duality_dataset(ntk, cosmo, 1e-12)
    own = ds.residual_own.transpose("dictionary", "run", "mode").values
    np.testing.assert_allclose(own, np.broadcast_to(np.abs(c)[:, None, None], own.shape), rtol=1e-9)
    whole = ds.residual_norm.transpose("dictionary", "run", "mode").values
    expected = np.abs(c[:, None, None] * u0) / 2.5
    np.testing.assert_allclose(whole, np.broadcast_to(expected, whole.shape), rtol=1e-9)


def test_prony_window_stops_only_strictly_below_the_floor():
    """|u(n)| = 2^-n exactly and the floor 2^-3: u(3) equals the floor, so the first n with u(n)
    and u(n + 1) both strictly below it is 4 (docs/physics.md §6: "below")."""
    u = 0.5 ** np.arange(12.0)
    assert d.prony_window(u, 0.5**3) == (1, 4)


def test_a_window_of_two_rows_is_too_short_and_one_of_three_is_fitted():
    """docs/physics.md §6: at least 3 rows. u drops to 0 at n = 3 (window [1, 3), two rows:
    window_too_short, no fit) or at n = 4 (window [1, 4), three rows: fitted)."""
    two = np.array([1.0, 0.9, 0.8, 0.0, 0.0, 0.0])
    assert d.prony_window(two, 0.1) == (1, 3)
    assert d.fit_trajectory(two, ETA, 0.1) == (d.FIT_STATUS.index("window_too_short"), None)
    three = np.array([1.0, 0.9, 0.7, 0.4, 0.0, 0.0, 0.0])
    status, fit = d.fit_trajectory(three, ETA, 0.1)
    assert status != d.FIT_STATUS.index("window_too_short") and fit["stop"] == 4


def test_windowed_hubble_uses_eta_and_tau_at_each_window_s_centre():
    """(D) with a fixed beta and x: every window fits c2 = -beta, and with a drifting eta_n its
    3 H sqrt(eta) = -ln beta is converted with eta at the window's centre, where tau is given."""
    beta, window, stride = 0.9, 20, 10
    u = theory.momentum_recursion(1.0, 1.0, beta, 0.3, 200)
    etas, tau = np.linspace(0.01, 0.1, 201), np.linspace(0.0, 7.0, 201)
    out = d.windowed_hubble(u, tau, etas, window, stride, 1e-12)
    centre = out["start"] + window // 2
    assert np.all(out["status"] == d.WINDOW_STATUS.index("ok"))
    np.testing.assert_allclose(out["tau"], tau[centre], rtol=0, atol=0)
    np.testing.assert_allclose(out["H"], -np.log(beta) / (3 * np.sqrt(etas[centre])), rtol=1e-8)


def test_windowed_hubble_fits_a_window_whose_largest_value_is_the_floor():
    """A monotone overdamped u (D) with max |u| = u(0) = 1 and the floor set to u(20) exactly: the
    window starting at row 21 (rows u(20)..) is not below the floor (its max equals it) and is
    fitted; the next one is below it (docs/physics.md §6, "below")."""
    u = theory.momentum_recursion(1.0, 1.0, 0.5, 0.02, 100)
    assert np.all(np.diff(u) < 0) and u[0] == 1
    out = d.windowed_hubble(u, np.arange(101.0), np.ones(101), 20, 10, float(u[20]))
    status = dict(zip(out["start"].tolist(), out["status"].tolist(), strict=True))
    assert status[21] == d.WINDOW_STATUS.index("ok")
    assert status[31] == d.WINDOW_STATUS.index("below_floor")


def _history_windows(u, history, window, stride, variation):
    """`with_hubble_windows` of one run at ETA: mode 0's trajectory u (step,) and the history's
    H (step,)."""
    import xarray as xr

    steps = len(u) - 1
    ntk = xr.Dataset(
        {
            "u": (("run", "step", "mode"), u[None, :, None]),
            "tau": (("run", "step"), np.sqrt(ETA) * np.arange(steps + 1.0)[None]),
            "eta_n": (("run", "step"), np.full((1, steps + 1), ETA)),
        }
    )
    cosmo = xr.Dataset({"history_hubble": (("run", "step"), history[None])})
    return d.with_hubble_windows(xr.Dataset(), ntk, cosmo, window, stride, variation, 1e-12)


def test_windows_where_the_history_is_undefined_or_varies_are_unresolved():
    """with_hubble_windows: a fitted window is `unresolved` where the history's H varies by more
    than `variation` x its mean over the window's rows, and also where that H is not defined
    (NaN: nothing to compare with); elsewhere it stays `ok` and carries the history's mean."""

    steps, window, stride = 100, 20, 10
    u = theory.momentum_recursion(1.0, ETA, 0.9, 0.3 / ETA, steps)
    history = np.full(steps + 1, 0.5)
    history[40] = np.nan  # undefined in the windows starting at 21 and 31 (rows 21..40, 31..50)
    history[70:] = np.linspace(0.5, 1.0, steps - 69)  # rises from row 71 on: windows 61, 71
    ds = _history_windows(u, history, window, stride, 0.01)
    status = dict(
        zip(ds.window_start.values.tolist(), ds.window_status.values[0].tolist(), strict=True)
    )
    ok, unresolved = d.WINDOW_STATUS.index("ok"), d.WINDOW_STATUS.index("unresolved")
    expected = [ok, ok, unresolved, unresolved, ok, ok, unresolved, unresolved]
    assert [status[s] for s in range(1, 81, 10)] == expected
    assert ds.H_window_history.values[0, 0] == 0.5


def test_duality_dataset_maps_the_initial_kappa_not_the_last():
    """The dictionaries' m^2 and the regime are those of kappa_a(0) = lambda_a(0) / N at
    initialisation (docs/physics.md §4), however the kernel drifts by the last checkpoint:
    m^2_continuum = kappa_a(0), m^2_exact = ln r+ ln r- / eta of np.roots at x = eta kappa_a(0);
    H_exact = -ln(beta) / 3 sqrt(eta)."""
    import xarray as xr

    beta, steps, n_samples = 0.9, 50, 4
    kappa0 = np.array([3.0, 0.02])  # underdamped, overdamped at ETA = 0.07, beta = 0.9
    eigenvalue = n_samples * np.array([[[*kappa0, 0.01], [*(30 * kappa0), 0.01]]])
    u = theory.momentum_recursion(np.array([1.0, -0.5]), ETA, beta, kappa0, steps)[None]
    coords = {"run": [0], "eta": ("run", [ETA]), "beta": ("run", [beta])}
    coords |= {"seed": ("run", [0]), "schedule": ("run", ["constant"])}
    coords |= {"diverged": ("run", [False]), "mode": [0, 1], "checkpoint": [0, steps]}
    ntk = xr.Dataset(
        {
            "u": (("run", "step", "mode"), u),
            "eigenvalue": (("run", "checkpoint", "eigen"), eigenvalue),
            "residual_norm": (("run", "step"), np.ones((1, steps + 1))),
        },
        coords,
        {"n_samples": n_samples},
    )
    cosmo = xr.Dataset(
        {"field": (("dictionary", "run", "step", "mode"), u[None])}, {"dictionary": ["exact"]}
    )
    ds = d.duality_dataset(ntk, cosmo, 1e-12)
    np.testing.assert_allclose(ds.m2_continuum.values[0], kappa0, rtol=1e-15)
    expected = []
    for x in ETA * kappa0:
        r_plus, r_minus = np.roots([1, -(1 + beta - x), beta]).astype(complex)
        expected.append((np.log(r_plus) * np.log(r_minus)).real / ETA)
    np.testing.assert_allclose(ds.m2_exact.values[0], expected, rtol=1e-10)
    assert list(ds.regime.values[0]) == [_regime_from_np_roots(beta, x) for x in ETA * kappa0]
    assert ds.H_exact.values[0] == pytest.approx(-math.log(beta) / (3 * math.sqrt(ETA)), rel=1e-12)


def _one_run_ntk(u, beta, kappa0, n_samples=4):
    """An ntk dataset of one constant-schedule run at ETA with trajectories u (step, mode) and a
    kernel lambda_a = N kappa0_a at both checkpoints."""
    import xarray as xr

    steps, modes = u.shape[0] - 1, u.shape[1]
    eigenvalue = n_samples * np.array([[[*kappa0, 0.01], [*kappa0, 0.01]]])
    coords = {"run": [0], "eta": ("run", [ETA]), "beta": ("run", [beta])}
    coords |= {"seed": ("run", [0]), "schedule": ("run", ["constant"])}
    coords |= {"diverged": ("run", [False]), "mode": list(range(modes)), "checkpoint": [0, steps]}
    ntk = xr.Dataset(
        {
            "u": (("run", "step", "mode"), u[None]),
            "eigenvalue": (("run", "checkpoint", "eigen"), eigenvalue),
            "residual_norm": (("run", "step"), np.ones((1, steps + 1))),
        },
        coords,
        {"n_samples": n_samples},
    )
    cosmo = xr.Dataset(
        {"field": (("dictionary", "run", "step", "mode"), u[None, None])},
        {"dictionary": ["exact"]},
    )
    return ntk, cosmo


def test_duality_dataset_carries_each_mode_s_prony_fit_and_errors():
    """Two noisy modes of (D), no sample below the floor (window [1, steps)): H_fit, m2_fit,
    their errors and the relative residual of each mode are those of an independent lstsq over
    rows 1 .. steps - 1 with the delta method by central differences of the exact dictionary."""
    beta, steps, kappa0 = 0.9, 150, np.array([3.0, 0.8])
    u = theory.momentum_recursion(np.array([1.0, -0.5]), ETA, beta, kappa0, steps)
    u = u + 1e-5 * np.random.default_rng(11).standard_normal(u.shape)
    ds = d.duality_dataset(*_one_run_ntk(u, beta, kappa0), 1e-12)
    assert ds.fit_window_stop.values.tolist() == [[steps, steps]]

    for a in range(2):
        design, target = np.column_stack([u[1:steps, a], u[: steps - 1, a]]), u[2:, a]
        coef, rss, *_ = np.linalg.lstsq(design, target, rcond=None)
        cov = _moving_average_cov(design, coef, rss[0])
        jac = _central_jacobian(coef)
        fit = ds.isel(run=0, mode=a)
        np.testing.assert_allclose([fit.H_fit, fit.m2_fit], _exact_h_m2(coef), rtol=1e-10)
        errs = np.sqrt(np.diag(jac @ cov @ jac.T))
        np.testing.assert_allclose([fit.H_fit_err, fit.m2_fit_err], errs, rtol=1e-5)
        rel = math.sqrt(rss[0] / np.sum(target**2))
        assert float(fit.fit_rel_residual) == pytest.approx(rel, rel=1e-8)


def test_duality_dataset_gives_the_drift_laws_the_exact_hubble_rate():
    """With a training file, the redshift law's rate is 2 H_eta = -2 ln(beta) / 3 sqrt(eta) of the
    run (not the continuum (1 - beta) / sqrt(eta) / 3)."""
    import xarray as xr

    beta, steps, kappa0 = 0.5, 60, np.array([3.0])
    u = theory.momentum_recursion(np.array([1.0]), ETA, beta, kappa0, steps)
    ntk, cosmo = _one_run_ntk(u, beta, kappa0)
    kappa_steps = np.arange(0, steps + 1, 5)
    tau = math.sqrt(ETA) * np.arange(steps + 1.0)
    kappa = 3.0 * (1 - 0.02 * (1 - np.exp(-0.1 * tau[kappa_steps])))
    f = 0.9 ** np.arange(steps + 1.0)[:, None] * np.array([1.0, -2.0])
    train = xr.Dataset(
        {
            "f": (("run", "step", "sample"), f[None]),
            "kappa": (("run", "kappa_step", "mode"), kappa[None, :, None]),
            "tau": (("run", "step"), tau[None]),
            "diverged": ("run", [False]),
            "schedule": ("run", ["constant"]),
        },
        coords={"run": [0], "kappa_step": kappa_steps, "mode": [0]},
    )
    ds = d.duality_dataset(ntk, cosmo, 1e-12, train=train, y=np.zeros(2))
    rate = float(ds.drift_rate.sel(law="redshift", run=0, drift_mode=0))
    assert rate == pytest.approx(-2 * math.log(beta) / (3 * math.sqrt(ETA)), rel=1e-12)


def test_windowed_hubble_fits_the_rows_of_each_window():
    """Noisy (D): each window's H is -ln(-c2) / 3 sqrt(eta) of an independent lstsq over its rows
    n = s .. s + window - 1, targets u(n + 1), and H_err = sqrt(var c2) / (3 sqrt(eta) |c2|) with
    var c2 that lstsq's white-noise covariance (`_moving_average_cov`)."""
    beta, window, stride = 0.9, 20, 10
    u = theory.momentum_recursion(1.0, ETA, beta, 0.3 / ETA, 100)
    u = u + 1e-4 * np.random.default_rng(2).standard_normal(u.shape)
    out = d.windowed_hubble(u, np.arange(101.0), np.full(101, ETA), window, stride, 1e-12)
    for s, hubble, error in zip(out["start"], out["H"], out["H_err"], strict=True):
        rows = np.arange(s, s + window)
        design = np.column_stack([u[rows], u[rows - 1]])
        coef, rss, *_ = np.linalg.lstsq(design, u[rows + 1], rcond=None)
        c2, var_c2 = coef[1], _moving_average_cov(design, coef, rss[0])[1, 1]
        assert hubble == pytest.approx(-math.log(-c2) / (3 * math.sqrt(ETA)), rel=1e-9)
        assert error == pytest.approx(math.sqrt(var_c2) / (3 * math.sqrt(ETA) * -c2), rel=1e-8)


def test_a_window_holding_an_overflow_is_below_the_floor():
    """u(50) = inf (an overflow): the windows whose rows u(s - 1) .. u(s + window) hold it
    (s = 31, 41, 51) are below_floor, not fitted (docs: "or u is not finite"); the others are
    fitted as without it: the floor is relative to the largest finite |u|, not to inf."""
    clean = theory.momentum_recursion(1.0, ETA, 0.9, 0.3 / ETA, 100)
    u = clean.copy()
    u[50] = np.inf
    windows = (np.arange(101.0), np.full(101, ETA), 20, 10, 1e-12)
    out, expected = d.windowed_hubble(u, *windows), d.windowed_hubble(clean, *windows)
    holding = (out["start"] - 1 <= 50) & (50 <= out["start"] + 20)
    assert out["start"][holding].tolist() == [31, 41, 51]
    assert np.all(out["status"][holding] == d.WINDOW_STATUS.index("below_floor"))
    assert np.isnan(out["H"][holding]).all()
    assert np.all(out["status"][~holding] == d.WINDOW_STATUS.index("ok"))
    np.testing.assert_array_equal(out["H"][~holding], expected["H"][~holding])


def test_a_trajectory_that_is_zero_throughout_has_every_window_below_the_floor():
    """u = 0 at every step (nothing to fit: every window's lstsq would be singular): every
    window is below_floor with H NaN, not a LinAlgError."""
    out = d.windowed_hubble(np.zeros(101), np.arange(101.0), np.full(101, ETA), 20, 10, 1e-12)
    assert np.all(out["status"] == d.WINDOW_STATUS.index("below_floor"))
    assert np.isnan(out["H"]).all()


def test_a_window_whose_history_varies_by_exactly_the_threshold_stays_ok():
    """History H alternating 0.75, 1.25: every 20-row window has mean 1 and (max - min) / mean =
    0.5 exactly; with variation 0.5 it does not vary by more than that, so every window is ok."""
    steps, window, stride = 100, 20, 10
    u = theory.momentum_recursion(1.0, ETA, 0.9, 0.3 / ETA, steps)
    history = np.where(np.arange(steps + 1) % 2 == 0, 0.75, 1.25)
    ds = _history_windows(u, history, window, stride, 0.5)
    assert np.all(ds.H_window_history.values == 1.0)
    assert np.all(ds.window_status.values == d.WINDOW_STATUS.index("ok"))


def test_matrix_function_is_the_spectral_calculus_and_nan_for_non_finite_matrices():
    """sqrt([[2, 1], [1, 2]]) = (sqrt(3) P+ + P-) with P+- = [[1, +-1], [+-1, 1]] / 2 (eigenvalues
    3 and 1); a matrix with a non-finite entry maps to NaN."""
    c = np.array([[[2.0, 1.0], [1.0, 2.0]], [[np.nan, 0.0], [0.0, 1.0]]])
    out = theory.matrix_function(c, np.sqrt)
    s3 = math.sqrt(3)
    np.testing.assert_allclose(out[0], 0.5 * np.array([[s3 + 1, s3 - 1], [s3 - 1, s3 + 1]]))
    assert np.isnan(out[1]).all()
