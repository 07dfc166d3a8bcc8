"""What the figures plot: each figure function, or the helper that draws one of its panels, on
small synthetic results, against values computed here from the synthetic input.

tests/test_figure_layout.py checks where elements sit; these check which data and which numbers
a panel shows (the right run, mode, dictionary, mask, normalisation and order).
"""

import warnings

import numpy as np
import pytest
import xarray as xr
from matplotlib.collections import PathCollection

from nncosmo import figures
from nncosmo.claims import CLAIMS, mixing_claims
from nncosmo.duality import DRIFT_LAWS
from nncosmo.infinite import infinite_width_dictionary
from nncosmo.results import Results, bootstrap_over_seeds, seed_mean_slope

plt = figures.plt
MINUS = "\N{MINUS SIGN}"


def signed(value: float, spec: str) -> str:
    """`value` formatted by `spec`, with the minus sign the figures write."""
    return format(value, spec).replace("-", MINUS)


@pytest.fixture(autouse=True)
def close_figures():
    """Every figure a test opens is closed after it."""
    yield
    plt.close("all")


def points_on(line, tau, values):
    """Assert that every point of `line` is (tau[n], values[n]) for some step n; the steps."""
    x, y = line.get_xydata().T
    steps = np.array([int(np.argmin(np.abs(tau - t))) for t in x])
    np.testing.assert_allclose(x, tau[steps], rtol=1e-12)
    np.testing.assert_allclose(y, values[steps], rtol=1e-12)
    return steps


def prefix_of(line, tau, values, least: int = 10):
    """Assert that `line` draws (tau, values) from step 0 for at least `least` steps."""
    x, y = line.get_xydata().T
    assert len(x) >= least
    np.testing.assert_allclose(x, tau[: len(x)], rtol=1e-12)
    np.testing.assert_allclose(y, values[: len(x)], rtol=1e-12)


def lines_labelled(ax):
    """The axes' lines by label."""
    return {line.get_label(): line for line in ax.lines}


# Grid sweep: F1, F3 and F4's top panels.

GRID_ETAS, GRID_BETAS = [0.02, 0.05, 0.1], [0.5, 0.9]
DICTIONARIES = ["exact", "adiabatic", "continuum", "coupled"]
STEPS, MODES = 150, 3
DELTA = {0.5: 0.0, 0.9: -0.02}  # H_fit = H_eta (eta / 0.05)^delta: Lambda_fit slope -1 + 2 delta
REFERENCE = (0.05, 0.9)


def grid_results():
    """Results of a 3 eta x 2 beta grid (width 64, one seed), stored in the reverse of the sweep's
    order, every run with its own u (u_0(0) negative and not the largest |u_0|), fields,
    residuals and H_fit; and those arrays by stored run r."""
    runs = [(e, b) for e in GRID_ETAS for b in GRID_BETAS][::-1]
    eta, beta = (np.array(c, dtype=float) for c in zip(*runs, strict=True))
    r, n, a, d = np.arange(len(runs)), np.arange(STEPS), np.arange(MODES), np.arange(4)
    scale = -(1.0 + r)
    freq = 0.2 + 0.05 * r
    u = (
        scale[:, None, None]
        * (1 + a)
        * np.exp(-0.005 * n)[None, :, None]
        * np.cos(freq[:, None, None] * n[None, :, None] + 0.6 + 0.1 * a)
    )
    tau = np.sqrt(eta)[:, None] * n
    field = u[:, None] * (1 + 0.05 * (d + 1))[None, :, None, None]
    own = 0.001 * (r + 1)[:, None, None] + 0.02 * d[None, :, None] + 0.3 * a
    norm = own / 2 + 0.0005
    h_exact = -np.log(beta) / (3 * np.sqrt(eta))
    h_mode0 = h_exact * (eta / 0.05) ** np.array([DELTA[b] for b in beta])
    h_fit = h_mode0[:, None] * (1 + a)
    kappa = (0.5 * (a + 1) + 0.01 * r[:, None])[:, None, :] * np.array([1.0, 1.1])[:, None]
    residual = (3.0 + r)[:, None] * np.exp(-0.01 * n)
    coords = {"eta": ("run", eta), "beta": ("run", beta), "seed": ("run", np.zeros(len(r)))}
    coords |= {"schedule": ("run", ["constant"] * len(r)), "mode": a}
    ntk = xr.Dataset(
        {
            "u": (("run", "step", "mode"), u),
            "tau": (("run", "step"), tau),
            "residual_norm": (("run", "step"), residual),
        },
        coords,
    )
    cosmo = xr.Dataset(
        {"field": (("run", "dictionary", "step", "mode"), field)},
        coords | {"dictionary": DICTIONARIES},
    )
    dual = xr.Dataset(
        {
            "residual_own": (("run", "dictionary", "mode"), own),
            "residual_norm": (("run", "dictionary", "mode"), norm),
            "H_fit": (("run", "mode"), h_fit),
            "H_fit_err": (("run", "mode"), 0.05 * h_fit),
            "H_exact": ("run", h_exact),
            "fit_status": (("run", "mode"), np.zeros((len(r), MODES), dtype=np.int8)),
            "kappa": (("run", "checkpoint", "mode"), kappa),
        },
        coords | {"dictionary": DICTIONARIES},
    )
    sweep = {"datasets": ["toy"], "widths": [64], "eta": GRID_ETAS, "beta": GRID_BETAS}
    config = {
        "model": {"use_bias": True},
        "sweeps": {"grid": sweep | {"seeds": [0]}},
        "figures": {"dataset": "toy", "grid_sweep": "grid", "width_sweep": "grid"}
        | {"reference": {"eta": REFERENCE[0], "beta": REFERENCE[1]}},
    }
    key = ("toy", 64)
    results = Results({key: ntk}, {key: cosmo}, {key: dual}, {}, config)
    data = {"eta": eta, "beta": beta, "u": u, "tau": tau, "field": field, "own": own}
    data |= {"norm": norm, "h_fit": h_fit, "kappa": kappa, "residual": residual}
    return results, data


def stored_run(data, eta, beta) -> int:
    (index,) = np.flatnonzero((data["eta"] == eta) & (data["beta"] == beta))
    return int(index)


def test_f1_each_panel_is_its_grid_run_normalised_by_its_own_initial_value():
    """F1: the panel in row beta, column eta (both ascending) is titled by that run and draws its
    mean mode u_0 / |u_0(0)| (points at its own tau = n sqrt(eta)), the exact, adiabatic and
    continuum fields of that run on the same scale, and that run's mode-0 residuals as text."""
    results, data = grid_results()
    fig = figures.figure_background(results)
    assert len(fig.axes) == len(GRID_BETAS) * len(GRID_ETAS)
    for i, beta in enumerate(GRID_BETAS):
        for j, eta in enumerate(GRID_ETAS):
            ax = fig.axes[i * len(GRID_ETAS) + j]
            assert ax.get_title() == f"η = {eta:g}, β = {beta:g}"
            r = stored_run(data, eta, beta)
            u, tau = data["u"][r, :, 0], data["tau"][r]
            lines = lines_labelled(ax)
            steps = points_on(lines["network"], tau, u / abs(u[0]))
            assert steps[0] == 0 and len(steps) >= 20
            for d, name in enumerate(DICTIONARIES[:3]):
                field = data["field"][r, d, :, 0] / abs(u[0])
                prefix_of(lines[f"{name} dictionary"], tau, field)
            own = data["own"][r, :, 0]
            (text,) = ax.texts
            assert text.get_text() == (
                f"exact {own[0]:.2%}\nadiab. {own[1]:.2%}\ncontin. {own[2]:.1%}"
            )


def test_f1_draws_each_run_until_u0_stays_below_three_percent_and_names_a_missing_image():
    """F1 (docs/figures.md: u_0 drawn until it stays below 3 % of max_n |u_0(n)|): runs decaying
    to under 0.2 % of their largest |u_0| end one step after the last step at or above 3 % (not
    at F4's 1e-3, which keeps every step here); a dictionary without an image (its residual NaN)
    reads "no image" in the panel text."""
    results, data = grid_results()
    key = ("toy", 64)
    decay = np.exp(-0.04 * np.arange(STEPS))
    results.ntk[key] = results.ntk[key].assign(u=results.ntk[key].u * decay[:, None])
    own = data["own"].copy()
    missing = stored_run(data, GRID_ETAS[0], GRID_BETAS[0])
    own[missing, DICTIONARIES.index("continuum"), 0] = np.nan
    results.duality[key] = results.duality[key].assign(
        residual_own=(("run", "dictionary", "mode"), own)
    )
    fig = figures.figure_background(results)
    for i, beta in enumerate(GRID_BETAS):
        for j, eta in enumerate(GRID_ETAS):
            ax = fig.axes[i * len(GRID_ETAS) + j]
            r = stored_run(data, eta, beta)
            u = np.abs(data["u"][r, :, 0] * decay)
            stop = max(np.flatnonzero(u >= 0.03 * u.max())[-1] + 2, 10)
            assert stop < min(np.flatnonzero(u >= 1e-3 * u.max())[-1] + 2, STEPS)
            lines = lines_labelled(ax)
            for name in DICTIONARIES[:3]:
                assert len(lines[f"{name} dictionary"].get_xdata()) == stop
            assert (
                points_on(lines["network"], data["tau"][r], data["u"][r, :, 0] * decay / u[0])[-1]
                < stop
            )
            (text,) = ax.texts
            assert text.get_text().endswith("contin. no image") == (r == missing)


def test_f3_hubble_and_lambda_panels_per_beta():
    """F3: per beta, (a) H_fit of the mean mode with its error bars at each eta, the exact
    3H = -ln beta / sqrt(eta) and continuum 3H = (1 - beta) / sqrt(eta) curves; (b) 3 H_fit^2
    against 1 / eta with (ln beta)^2 / (3 eta), labelled with the slope -1 + 2 delta_beta."""
    results, data = grid_results()
    fig = figures.figure_lambda(results)
    ax_h, ax_l = fig.axes
    eta_line = np.geomspace(min(GRID_ETAS), max(GRID_ETAS), 100)
    curves_h = [line.get_ydata() for line in ax_h.lines if len(line.get_xdata()) == 100]
    curves_l = [line.get_xydata() for line in ax_l.lines if len(line.get_xdata()) == 100]
    assert len(curves_h) == 2 * len(GRID_BETAS) and len(curves_l) == len(GRID_BETAS)
    containers = {c.get_label(): c for c in ax_h.containers}
    for beta in GRID_BETAS:
        runs = [stored_run(data, eta, beta) for eta in GRID_ETAS]
        h = data["h_fit"][runs, 0]
        line, _, (bars,) = containers[f"β = {beta:g}: fit"]
        np.testing.assert_allclose(line.get_xydata(), np.c_[GRID_ETAS, h], rtol=1e-12)
        half = np.array([np.ptp(s[:, 1]) / 2 for s in bars.get_segments()])
        np.testing.assert_allclose(half, 0.05 * h, rtol=1e-12)
        for expected in (-np.log(beta), 1 - beta):
            y = expected / (3 * np.sqrt(eta_line))
            assert any(np.allclose(c, y, rtol=1e-12) for c in curves_h), (beta, expected)
        (points,) = [ln for ln in ax_l.lines if ln.get_label().startswith(f"β = {beta:g}: ")]
        np.testing.assert_allclose(
            points.get_xydata(), np.c_[1 / np.array(GRID_ETAS), 3 * h**2], rtol=1e-12
        )
        assert f"$^{{{-1 + 2 * DELTA[beta]:.3f}}}$" in points.get_label()
        exact = np.c_[1 / eta_line, np.log(beta) ** 2 / (3 * eta_line)]
        assert any(np.allclose(c, exact, rtol=1e-12) for c in curves_l), beta
    for ax, ticks in ((ax_h, np.array(GRID_ETAS)), (ax_l, 1 / np.array(GRID_ETAS))):
        np.testing.assert_allclose(ax.get_xticks(), ticks)
        assert [t.get_text() for t in ax.get_xticklabels()] == [f"{t:.3g}" for t in ticks]


def test_f1_and_f3_titles_name_the_grid_runs_width_not_the_width_sweep_s():
    """F1 and F3 draw the grid runs (width 64 here); a width sweep of other widths does not
    change the width their titles name."""
    results, _ = grid_results()
    results.config["sweeps"]["width"] = {"datasets": ["toy"], "widths": [128, 256], "eta": [0.05]}
    results.config["figures"]["width_sweep"] = "width"
    assert max(results.width_sweep["widths"]) == 256
    title = figures.figure_background(results).texts[0].get_text()
    assert "(width 64; " in title
    assert figures.figure_lambda(results).texts[0].get_text().endswith("(width 64, mean mode)")


def test_f3_axes_are_log_log_and_the_legend_names_each_curve_s_formula():
    """F3: both panels log-log, (a) H in 1/tau against the learning rate eta, (b) Lambda in
    1/tau^2 against 1/eta; the legend entry naming -ln beta has the line style of the curves
    that are -ln beta / (3 sqrt(eta)), the one naming 1 - beta that of (1 - beta) / (3 sqrt(eta)),
    and (b)'s entry names (ln beta)^2 / (3 eta), the curve it draws."""
    results, _ = grid_results()
    ax_h, ax_l = figures.figure_lambda(results).axes
    for ax in (ax_h, ax_l):
        assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
    assert ax_h.get_xlabel() == "learning rate η" and ax_l.get_xlabel() == "1 / η"
    assert ax_h.get_ylabel().endswith("[1/τ]") and ax_l.get_ylabel().endswith("[1/τ²]")
    eta_line = np.geomspace(min(GRID_ETAS), max(GRID_ETAS), 100)
    proxies = {ln.get_label(): ln for ln in ax_h.lines if len(ln.get_xdata()) == 0}
    for formula, rate in (("−ln β", lambda b: -np.log(b)), ("(1 − β)", lambda b: 1 - b)):
        (proxy,) = [ln for label, ln in proxies.items() if f"3H = {formula} / √η" in label]
        for beta in GRID_BETAS:
            y = rate(beta) / (3 * np.sqrt(eta_line))
            curves = [ln for ln in ax_h.lines if len(ln.get_xdata()) == len(eta_line)]
            (curve,) = [ln for ln in curves if np.allclose(ln.get_ydata(), y, rtol=1e-12)]
            assert curve.get_linestyle() == proxy.get_linestyle(), (formula, beta)
    (proxy,) = [ln for ln in ax_l.lines if len(ln.get_xdata()) == 0]
    assert proxy.get_label().endswith(" = (ln β)² / (3η)")


def test_f4_mode_panels_show_the_reference_run_over_the_initial_residual_norm():
    """F4 top panels: modes a = 1, 2 of the reference run (eta, beta) = (0.05, 0.9), u_a and the
    exact and continuum fields divided by ||f(0) - y|| of that run, titled with its kappa_a at
    init and its exact-dictionary errors (residual_norm, residual_own) of mode a."""
    results, data = grid_results()
    fig = figures.figure_perturbations(results)
    r = stored_run(data, *REFERENCE)
    norm = data["residual"][r, 0]
    panels = [ax for ax in fig.axes if ax.get_title().startswith("a = ")]
    assert len(panels) == MODES - 1
    for a, ax in enumerate(panels, start=1):
        kappa, res, own = data["kappa"][r, 0, a], data["norm"][r, 0, a], data["own"][r, 0, a]
        title = ax.get_title()
        assert title.startswith(f"a = {a}, ") and f"= {kappa:.3g}\n" in title
        assert f"error: {res:.2%} of ‖r(0)‖, {own:.1%} of |" in title
        tau, lines = data["tau"][r], lines_labelled(ax)
        points_on(lines["network"], tau, data["u"][r, :, a] / norm)
        for name in ("exact", "continuum"):
            field = data["field"][r, DICTIONARIES.index(name), :, a] / norm
            prefix_of(lines[f"{name} dictionary"], tau, field)
    assert "η = 0.05, β = 0.9" in fig.texts[0].get_text()


# F4 middle row: the drift laws.


def test_f4_drift_fits_show_each_mode_relative_to_its_initial_kappa():
    """F4 middle panel: per drift mode a, the measured kappa_a(tau) / kappa_a(0) - 1 in % and
    each law's fitted curve on the same scale, the first mode's laws labelled with their
    unexplained fractions of that mode."""
    tau = np.linspace(0.0, 3.0, 8)
    a = np.arange(2)
    kappa = (1.0 + a) * (1 + 0.01 * (a + 1) * tau[:, None])  # (kappa_step, drift_mode)
    curves = np.stack(
        [kappa * (1.003 + 0.001 * k) * (1 + 0.001 * (k + 1) * tau[:, None]) for k in range(3)]
    )  # fits that miss kappa_a(0)
    unexplained = 0.05 * (np.arange(3)[:, None] + 1) + 0.01 * a
    ref = xr.Dataset(
        {
            "kappa_tau": ("kappa_step", tau),
            "kappa_measured": (("kappa_step", "drift_mode"), kappa),
            "drift_curve": (("law", "kappa_step", "drift_mode"), curves),
            "drift_unexplained": (("law", "drift_mode"), unexplained),
        },
        {"law": list(DRIFT_LAWS), "drift_mode": a},
    )
    fig, ax = plt.subplots()
    figures._drift_fits(ax, ref)
    laws = list(figures.LAW_STYLE)
    assert len(ax.lines) == len(a) * (1 + len(laws))
    for mode in a:
        first = ax.lines[mode * (1 + len(laws))]
        start = kappa[0, mode]
        np.testing.assert_allclose(first.get_ydata(), 100 * (kappa[:, mode] / start - 1))
        np.testing.assert_allclose(first.get_xdata(), tau)
        for k, law in enumerate(laws):
            line = ax.lines[mode * (1 + len(laws)) + 1 + k]
            law_index = DRIFT_LAWS.index(law)
            expected = 100 * (curves[law_index, :, mode] / start - 1)
            np.testing.assert_allclose(line.get_ydata(), expected, rtol=1e-12)
            if mode == 0:
                share = unexplained[law_index, 0]
                assert line.get_label() == f"{law}: {share:.0%} unexplained (a = 0)"


def test_f4_drift_grid_sorts_runs_by_beta_then_eta(monkeypatch):
    """F4 middle right: every grid run, sorted by (beta, eta), with each law's out-of-sample
    fraction (worst mode, NaN ignored) and its in-sample one (worst mode)."""
    eta = np.array([0.1, 0.02, 0.05, 0.02, 0.1, 0.05])
    beta = np.array([0.5, 0.9, 0.5, 0.5, 0.9, 0.9])
    rng = np.random.default_rng(7)
    out = rng.uniform(0.01, 1.0, (3, 6, 2))
    out[1, 2, 0] = np.nan
    inside = rng.uniform(0.01, 1.0, (3, 6, 2))
    grid = xr.Dataset(
        {"drift_unexplained": (("law", "run", "drift_mode"), inside)},
        {"eta": ("run", eta), "beta": ("run", beta), "law": list(DRIFT_LAWS)},
    )
    monkeypatch.setattr(figures, "out_of_sample", lambda ds: out)
    fig, ax = plt.subplots()
    figures._drift_grid(ax, grid)
    order = sorted(range(6), key=lambda i: (beta[i], eta[i]))
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == [f"{eta[i]:g}, {beta[i]:g}" for i in order]
    for k, law in enumerate(figures.LAW_STYLE):
        law_index = DRIFT_LAWS.index(law)
        filled, open_ = ax.lines[2 * k], ax.lines[2 * k + 1]
        assert filled.get_label() == law
        np.testing.assert_allclose(filled.get_xdata(), np.arange(6) + 0.2 * (k - 1))
        worst_out = [np.nanmax(out[law_index, i]) for i in order]
        np.testing.assert_allclose(filled.get_ydata(), worst_out)
        np.testing.assert_allclose(open_.get_ydata(), inside[law_index, order].max(axis=1))
    (bound,) = [ln for ln in ax.lines if ln.get_label().startswith("F4-law bound")]
    np.testing.assert_allclose(bound.get_ydata(), CLAIMS["F4-law"].tolerance.high)
    assert ax.get_yscale() == "log"


# F4 third row: mode mixing on the digits runs at width 256.


def mixing_results(first_seed: int = 0):
    """Results with three digits runs (seeds 0-2 after `first_seed`, stored as 2, 0, 1) at width
    256, modes 0-2: residual_norm per (seed, dictionary, mode) with its largest adiabatic error
    at the second seed, mode a = 1 (not the last mode, not the last seed); ||f(n) - y|| falls
    over the steps."""
    seeds = np.array([2, 0, 1])
    n, a = np.arange(100), np.arange(3)
    names = ["exact", "adiabatic", "coupled"]
    errors = {  # (seed, mode a = 1, 2)
        "exact": [[0.001, 0.002], [0.0015, 0.0025], [0.002, 0.001]],
        "adiabatic": [[0.01, 0.02], [0.05, 0.03], [0.015, 0.025]],
        "coupled": [[0.003, 0.004], [0.006, 0.002], [0.005, 0.007]],
    }
    norm = np.zeros((3, 3, 3))  # (stored run, dictionary, mode)
    for d, name in enumerate(names):
        norm[:, d, 1:] = np.array(errors[name])[seeds]
    u = (1 + seeds)[:, None, None] * np.cos(0.3 * n[None, :, None] + a) * (1 + a)
    field = u[:, None] * (1 + 0.02 * np.arange(1, 4))[None, :, None, None]
    residual = (2.0 + seeds)[:, None] * np.exp(-0.01 * n)
    coords = {"eta": ("run", [0.1] * 3), "beta": ("run", [0.9] * 3)}
    coords |= {"seed": ("run", first_seed + seeds)}
    coords |= {"schedule": ("run", ["constant"] * 3), "mode": a}
    ntk = xr.Dataset(
        {
            "u": (("run", "step", "mode"), u),
            "tau": (("run", "step"), np.sqrt(0.1) * np.tile(n, (3, 1))),
            "residual_norm": (("run", "step"), residual),
        },
        coords,
    )
    cosmo = xr.Dataset(
        {"field": (("run", "dictionary", "step", "mode"), field)}, coords | {"dictionary": names}
    )
    dual = xr.Dataset(
        {"residual_norm": (("run", "dictionary", "mode"), norm)}, coords | {"dictionary": names}
    )
    sweep = {"datasets": ["digits"], "widths": [256], "eta": [0.1], "beta": [0.9]}
    config = {
        "sweeps": {"width": sweep | {"seeds": [first_seed + s for s in range(3)]}},
        "figures": {"dataset": "digits", "grid_sweep": "width", "width_sweep": "width"}
        | {"reference": {"eta": 0.1, "beta": 0.9}},
    }
    key = ("digits", 256)
    results = Results({key: ntk}, {key: cosmo}, {key: dual}, {}, config)
    stored = {"seeds": seeds, "u": u, "field": field, "residual": residual}
    return results, {name: np.array(e) for name, e in errors.items()}, stored


@pytest.mark.parametrize("first_seed", [0, 10])
def test_f4_mode_mixing_row_shows_seed_means_per_mode_and_the_worst_adiabatic_trace(first_seed):
    """F4 third row: per dictionary and mode a > 0 the seed mean of residual_norm (min-max bars);
    the claim points at the seed mean of each run's worst mode; the trace of the seed and mode
    with the largest adiabatic error, (u_a - phi_a) / ||f(0) - y|| of that seed, titled with
    the seed itself (not its index among the seeds)."""
    results, errors, stored = mixing_results(first_seed)
    fig = plt.figure()
    figures._mode_mixing_row(fig, fig.add_gridspec(1, 1)[0, 0], results)
    left, right = fig.axes
    containers = {c.get_label(): c for c in left.containers if c.get_label()[0] != "_"}
    for k, name in enumerate(("exact", "adiabatic", "coupled")):
        line, _, (bars,) = containers[f"{name} dictionary"]
        np.testing.assert_allclose(line.get_xdata(), np.array([1, 2]) + 0.12 * (k - 1))
        np.testing.assert_allclose(line.get_ydata(), errors[name].mean(axis=0), rtol=1e-12)
        spans = [np.sort(s[:, 1]) for s in bars.get_segments()]
        np.testing.assert_allclose(spans, np.c_[errors[name].min(0), errors[name].max(0)])
    points = [c for c in left.containers if c.get_label()[0] == "_"]
    intervals = {c.id: c.interval for c in mixing_claims(results)}  # shown, not recomputed
    lines = left.texts[0].get_text().splitlines()[1:]
    for k, (name, point) in enumerate(zip(("coupled", "adiabatic"), points, strict=True)):
        worst = errors[name].max(axis=1).mean()
        np.testing.assert_allclose(point.lines[0].get_xydata(), [[3.2 + 0.12 * k, worst]])
        low, high = intervals[f"F4-{name}-digits"]
        assert low <= worst <= high
        (bar,) = point.lines[2][0].get_segments()
        np.testing.assert_allclose(np.sort(bar[:, 1]), [low, high])
        verdict = "pass" if high <= 0.01 else "fail"  # F4-mixing: within 1 % of ||r(0)||
        assert lines[k] == f"{name}: {worst:.2%} [{low:.2%}, {high:.2%}] {verdict}"
    r = int(np.flatnonzero(stored["seeds"] == 1)[0])
    assert f"a = 1, seed {first_seed + 1}\n" in right.get_title()
    u, norm = stored["u"][r, :, 1], stored["residual"][r, 0]
    for d, name in enumerate(("exact", "adiabatic", "coupled")):
        (line,) = [ln for ln in right.lines if ln.get_label().startswith(f"{name} (")]
        assert line.get_label() == f"{name} ({errors[name][1, 0]:.2%})"
        prefix_of(line, np.sqrt(0.1) * np.arange(100), (u - stored["field"][r, d, :, 1]) / norm)


def test_f4_mode_mixing_axes_mark_each_mode_the_claim_bound_and_the_claims_level():
    """F4 third row, left: each mode's tick at its points reads that mode's a, the claims' tick
    at their points; the dashed line is the F4-mixing bound; the text states the confidence
    level of the intervals it lists."""
    results, _, _ = mixing_results()
    fig = plt.figure()
    figures._mode_mixing_row(fig, fig.add_gridspec(1, 1)[0, 0], results)
    left = fig.axes[0]
    middle = left.containers[1].lines[0].get_xdata()  # the adiabatic points, on the ticks
    claims = [c.lines[0].get_xdata()[0] for c in left.containers if c.get_label()[0] == "_"]
    np.testing.assert_allclose(left.get_xticks(), [*middle, claims[0]])
    labels = [t.get_text() for t in left.get_xticklabels()]
    assert labels == ["1", "2", "claim:\nworst a"]  # modes a = 1, 2 of results' mode coordinate
    bound = CLAIMS["F4-mixing"].tolerance.high
    (line,) = [ln for ln in left.lines if ln.get_label().startswith("claim bound")]
    np.testing.assert_allclose(line.get_ydata(), bound)
    assert line.get_label() == f"claim bound ({bound:.0%})"
    level = {c.details["bootstrap"]["level"] for c in mixing_claims(results)}
    (level,) = level
    header = left.texts[0].get_text().splitlines()[0]
    assert header.endswith(f", {level:.0%}):")


def test_f4_mode_mixing_row_of_runs_that_all_diverged():
    """Every digits run at width 256 diverged (no finite error of any dictionary): the claims are
    untestable, and the row says so instead of failing the whole figure (nanargmax of an all-NaN
    array raised ValueError)."""
    results, _, _ = mixing_results()
    key = ("digits", 256)
    dual = results.duality[key]
    norm = dual.residual_norm.values.copy()
    norm[..., 1:] = np.nan
    results.duality[key] = dual.assign(residual_norm=(dual.residual_norm.dims, norm))
    fig = plt.figure()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # means of empty seed sets
        assert {c.verdict for c in mixing_claims(results)} == {"untestable"}
        figures._mode_mixing_row(fig, fig.add_gridspec(1, 1)[0, 0], results)
    left, right = fig.axes
    (note,) = right.texts
    assert note.get_text() == "no run with a finite adiabatic error\n(diverged or without an image)"
    assert len(right.lines) == 0
    assert left.texts[0].get_text().splitlines()[1:] == [
        "coupled: untestable",
        "adiabatic: untestable",
    ]
    plt.close(fig)


# F6: the phase diagram.

PHASE_RUNS = [  # eta, beta, kappa_0, diverged, H_fit / H_eta (NaN: no fit)
    (0.5, 0.5, 0.1, False, 1.01),  # x = 0.05, overdamped, fitted
    (0.5, 0.5, 1.0, False, 1.003),  # x = 0.5, underdamped, fitted
    (0.5, 0.5, 1.2, False, 2.0),  # fitted, error 1 clipped to 0.1
    (0.5, 0.5, 1.4, False, 1 + 1e-6),  # fitted, error 1e-6 clipped to 1e-4
    (0.5, 0.5, 4.0, False, np.nan),  # x = 2, alternating, no fit
    (0.5, 0.5, 8.0, False, 1.0),  # x = 4 beyond the edge 3, converged: catapult
    (0.5, 0.5, 9.0, False, np.nan),  # x = 4.5, catapult without a fit
    (0.5, 0.5, 10.0, True, np.nan),  # x = 5, diverged
    (0.5, 0.5, 2.0, True, np.nan),  # x = 1, stable and diverged
]


def phase_results():
    """Results of two jobs of 'toy' (widths 64 and 128) holding PHASE_RUNS (N = 4)."""
    ntk, duality = {}, {}
    for w, rows in ((64, PHASE_RUNS[:5]), (128, PHASE_RUNS[5:])):  # one job per width
        eta, beta, kappa, diverged, ratio = (np.array(c) for c in zip(*rows, strict=True))
        coords = {"eta": ("run", eta), "beta": ("run", beta), "seed": ("run", np.arange(len(eta)))}
        coords |= {"schedule": ("run", ["constant"] * len(eta))}
        eigen = kappa[:, None, None] * 4 * np.array([1.0, 0.5])  # (run, checkpoint, eigen)
        ntk[("toy", w)] = xr.Dataset(
            {"eigenvalue": (("run", "checkpoint", "eigen"), eigen * [[1.0], [3.0]])},
            coords | {"diverged": ("run", diverged.astype(bool))},
            {"n_samples": 4},
        )
        h_exact = -np.log(beta) / (3 * np.sqrt(eta))
        duality[("toy", w)] = xr.Dataset(
            {"H_fit": (("run", "mode"), (h_exact * ratio)[:, None]), "H_exact": ("run", h_exact)},
            coords | {"mode": [0]},
        )
    config = {
        "sweeps": {"w": {"datasets": ["toy"], "widths": [64, 128], "eta": [0.5], "beta": [0.5]}},
        "figures": {"dataset": "toy", "grid_sweep": "w", "width_sweep": "other", "reference": {}},
    }
    config["sweeps"]["other"] = {"datasets": ["digits"]}  # F6's width-sweep arrow: not toy's
    return Results(ntk, {}, duality, {}, config)


def test_f6_regions_follow_the_regime_bounds():
    """F6: each regime's shaded region holds the points (x, beta) of that regime, bounds
    (1 - sqrt(beta))^2, (1 + sqrt(beta))^2 and 2 (1 + beta), and no point of another."""
    fig = figures.figure_phase_diagram(phase_results())
    ax = fig.axes[0]
    names = ("overdamped", "underdamped", "alternating", "unstable")
    regions = {c.get_label(): c.get_paths()[0] for c in ax.collections if c.get_label() in names}
    assert len(regions) == len(names)
    for beta in (0.1, 0.5, 0.9):
        lower, upper, edge = (1 - np.sqrt(beta)) ** 2, (1 + np.sqrt(beta)) ** 2, 2 * (1 + beta)
        inside = {
            "overdamped": 0.5 * lower,
            "underdamped": 0.5 * (lower + upper),
            "alternating": 0.5 * (upper + edge),
            "unstable": 1.2 * edge,
        }
        for name, x in inside.items():
            holders = [r for r, path in regions.items() if path.contains_point((x, beta))]
            assert holders == [name], (beta, x, holders)


def test_f6_runs_placed_at_eta_kappa0_and_sorted_into_their_markers():
    """F6: runs at x = eta lambda_0(0) / N (first eigenvalue, initialisation); fitted converged
    stable runs coloured by |H_fit / H_eta - 1| clipped to [1e-4, 0.1]; stable converged runs
    without a fit grey, diverged runs crosses, converged runs beyond the edge diamonds."""
    fig = figures.figure_phase_diagram(phase_results())
    ax = fig.axes[0]
    placed = {}  # x: (marker label, beta, colour value); the coloured points have no label
    for c in ax.collections:
        if not isinstance(c, PathCollection):  # the regions are PolyCollections
            continue
        label = "fitted" if c.get_label().startswith("_") else c.get_label()
        colours = c.get_array() if label == "fitted" else [None] * len(c.get_offsets())
        for (x, b), colour in zip(c.get_offsets(), colours, strict=True):
            assert round(float(x), 9) not in placed, (x, label)  # each run drawn once
            placed[round(float(x), 9)] = (label, b, colour)
    expected = {}
    for eta, beta, kappa, diverged, ratio in PHASE_RUNS:
        x = round(eta * kappa, 9)
        if diverged:
            expected[x] = ("diverged", beta, None)
        elif eta * kappa >= 2 * (1 + beta):
            expected[x] = ("converged beyond the edge (catapult)", beta, None)
        elif np.isnan(ratio):
            expected[x] = ("no fit", beta, None)
        else:
            expected[x] = ("fitted", beta, float(np.clip(abs(ratio - 1), 1e-4, 0.1)))
    assert set(placed) == set(expected)
    for x, (label, beta, colour) in expected.items():
        got = placed[x]
        assert got[:2] == (label, beta), (x, got)
        if colour is not None:
            assert got[2] == pytest.approx(colour, rel=1e-6)


def test_f6_x_axis_is_logarithmic_in_eta_lambda0_over_n_and_holds_every_run():
    """F6: x = eta lambda_0 / N at initialisation on a log axis whose limits hold every run
    (here x = 0.05 to 5) and the whole unstable edge 2 (1 + beta) <= 4; beta from 0 to 1."""
    fig = figures.figure_phase_diagram(phase_results())
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert ax.get_xlabel().startswith("η ") and ax.get_xlabel().endswith(" / N (at initialisation)")
    low, high = ax.get_xlim()
    xs = [eta * kappa for eta, _, kappa, _, _ in PHASE_RUNS]
    assert low < min(xs) and max(max(xs), 4) < high
    assert ax.get_ylim() == (0, 1) and ax.get_ylabel() == "momentum β"
    assert ax.get_title().endswith("(toy, all widths)")  # figures.dataset, not the width sweep's


# F7: expansion histories.


def history_stages():
    """Two history runs, 'history_power' (power law, exact and continuum fields) and
    'history_de_sitter' (constant schedule, continuum field all NaN), with the F7 inputs."""
    n = np.arange(200)
    stages = {"ntk": {}, "cosmology": {}, "duality": {}}
    for k, (name, schedule) in enumerate(
        (
            ("history_power", "power_law p=0.5 tau0=2 hubble_step=0"),
            ("history_de_sitter", "constant"),
        )
    ):
        tau = 0.1 * n * (1 + k)
        u0 = -(2.0 + k) * np.exp(-0.004 * n) * np.cos((0.25 + 0.1 * k) * n)
        u = np.stack([u0, 0.3 * u0], axis=1)
        exact = u + 0.01 * (1 + k) * np.sin(0.1 * n)[:, None]
        continuum = u + 0.03 * np.cos(0.05 * n)[:, None] if k == 0 else np.full_like(u, np.nan)
        beta_n = 0.9 + 0.0004 * n if k == 0 else np.full(n.size, 0.97)
        stages["ntk"][name] = xr.Dataset(
            {"u": (("step", "mode"), u)},
            {
                "tau": ("step", tau),
                "mode": [0, 1],
                "schedule": schedule,
                "beta_n": ("step", beta_n),
            },
        )
        hubble = 0.5 / (2 + tau) if k == 0 else np.full(n.size, 0.3)
        stages["cosmology"][name] = xr.Dataset(
            {
                "history_field": (("history", "step", "mode"), np.stack([exact, continuum])),
                "history_hubble": ("step", hubble),
            },
            {"history": ["exact", "continuum"], "tau": ("step", tau), "mode": [0, 1]},
        )
        status = np.array([0, 3, 1, 0])
        stages["duality"][name] = xr.Dataset(
            {
                "window_tau": ("window", [2.0, 5.0, 8.0, 12.0]),
                "window_status": ("window", status),
                "H_window": ("window", np.where(status == 1, np.nan, [0.2, 0.15, 0, 0.1]) + k),
                "H_window_err": ("window", [0.01, 0.02, np.nan, 0.03]),
            }
        )
    return stages


def test_f7_columns_show_each_history_s_run_fields_errors_and_hubble_rate():
    """F7: one column per history, in order: u_0 / |u_0(0)| against the history's exact image
    and (where it exists) continuum field on the same scale, the sup errors of both in the text;
    below, the history's H(tau) and the windowed H of the resolved and unresolved windows with
    their error bars."""
    from types import SimpleNamespace

    stages = history_stages()
    results = SimpleNamespace(
        history_runs=lambda stage: stages[stage],
        config={"duality": {}},
        history_widths=lambda: [64, 128],
    )
    fig = figures.figure_histories(results)
    assert fig._suptitle.get_text().endswith("(widths 64, 128)")  # the runs', not the grid's
    axes = np.array(fig.axes).reshape(2, 2)
    for j, name in enumerate(stages["ntk"]):
        ntk, cosmo = stages["ntk"][name], stages["cosmology"][name]
        dual = stages["duality"][name]
        top, bottom = axes[:, j]
        title = top.get_title()
        assert title.startswith(["power", "de Sitter"][j] + "\n")  # the sweep's name, in words
        if j == 0:
            assert "a ∝ t$^{0.5}$, " in title and title.endswith("$_\\mathregular{0}$ = 2")
        else:
            assert title.endswith("\nconstant β = 0.97")  # the run's beta
        u, tau = ntk.u.values[:, 0], ntk.tau.values
        lines = lines_labelled(top)
        points_on(lines["network"], tau, u / abs(u[0]))
        fields = cosmo.history_field.values[:, :, 0]
        prefix_of(lines["exact image of the schedule"], tau, fields[0] / abs(u[0]))
        exact = np.max(np.abs(u - fields[0])) / abs(u[0])
        if j == 0:
            prefix_of(lines["continuum history"], tau, fields[1] / abs(u[0]))
            continuum = np.max(np.abs(u - fields[1])) / abs(u[0])
            assert top.texts[0].get_text() == f"exact {exact:.2%}\ncontin. {continuum:.2%}"
        else:
            assert "continuum history" not in lines
            assert top.texts[0].get_text() == f"exact {exact:.2%}"
        hubble = lines_labelled(bottom)["history H"]
        np.testing.assert_allclose(hubble.get_xydata(), np.c_[tau, cosmo.history_hubble.values])
        windows = {c.get_label(): c for c in bottom.containers}
        for label, code in (("windowed fit", 0), ("windowed fit (unresolved)", 3)):
            line, _, (bars,) = windows[label]
            sel = dual.window_status.values == code
            np.testing.assert_allclose(
                line.get_xydata(), np.c_[dual.window_tau.values[sel], dual.H_window.values[sel]]
            )
            half = [np.ptp(s[:, 1]) / 2 for s in bars.get_segments()]
            np.testing.assert_allclose(half, dual.H_window_err.values[sel])
            assert (line.get_markerfacecolor() == "none") == (code == 3)  # unresolved: open


def test_f7_scale_by_u0_at_step_0_a_partly_undefined_field_and_the_axes():
    """F7: u_0 and the fields over |u_0(0)|, also where |u_0(0)| is not u_0's largest value; a
    history field undefined (NaN) at some steps is still drawn where it is defined; below, tau
    is the sum of sqrt(eta_n), and a history's H(tau) varying over a decade (the power law's) is
    on a log axis, a constant one (de Sitter's) or one varying by 2x on a linear axis."""
    from types import SimpleNamespace

    stages = history_stages()
    ntk, cosmo = stages["ntk"]["history_power"], stages["cosmology"]["history_power"]
    u = ntk.u.values.copy()
    u[0] *= 0.5  # |u_0(0)| half its largest value
    stages["ntk"]["history_power"] = ntk.assign(u=(("step", "mode"), u))
    fields = cosmo.history_field.values.copy()
    fields[1, 150:] = np.nan  # the continuum history undefined late in the run
    stages["cosmology"]["history_power"] = cosmo.assign(
        history_field=(("history", "step", "mode"), fields)
    )
    results = SimpleNamespace(
        history_runs=lambda stage: stages[stage],
        config={"duality": {}},
        history_widths=lambda: [64],
    )
    fig = figures.figure_histories(results)
    axes = np.array(fig.axes).reshape(2, 2)
    tau, lines = ntk.tau.values, lines_labelled(axes[0, 0])
    points_on(lines["network"], tau, u[:, 0] / abs(u[0, 0]))
    prefix_of(lines["exact image of the schedule"], tau, fields[0, :, 0] / abs(u[0, 0]))
    prefix_of(lines["continuum history"], tau, fields[1, :, 0] / abs(u[0, 0]))
    assert [ax.get_yscale() for ax in axes[1]] == ["log", "linear"]
    assert all("Σ" in ax.get_xlabel() for ax in axes[1])
    assert axes[1, 0].get_ylabel() == "H  [1/τ]"
    dual = stages["duality"]["history_power"]
    varying = xr.Dataset({"tau": ("step", tau), "history_hubble": ("step", 0.3 + 0.3 * tau / 20)})
    fig, ax = plt.subplots()
    figures._window_hubble(ax, dual, varying)
    assert ax.get_yscale() == "linear"


# F8: the reverse direction.


def simulation(kind: str):
    """A synthetic F8 dataset: 'power' (a power-law target, p = 2/3, m = 1) or 'sitter' (a de
    Sitter one, H = 0.2, m = 1.5), the network's field slightly off the target, phi0 = -0.5."""
    t = np.linspace(1.0, 40.0, 400) if kind == "power" else np.arange(400) * 0.05
    target = -0.5 * np.cos(t) / t if kind == "power" else -0.5 * np.exp(-0.3 * t) * np.cos(1.5 * t)
    network = target * (1 + 0.01 * np.sin(t))
    attrs = {"phi0": -0.5, "mass": 1.0 if kind == "power" else 1.5, "target": f"{kind}_target"}
    attrs |= {"width": 512, "amplitude": 1e-3, "kappa0": 3.21, "dt": t[1] - t[0], "steps": 400}
    attrs |= {"kappa_drift": 2.5e-4}
    if kind == "power":
        attrs |= {"background": "power_law", "background_p": 2 / 3}
    else:
        attrs |= {"background": "de_sitter", "background_H": 0.2}
    step = np.arange(t.size)
    return xr.Dataset(
        {
            "phi_network": ("step", network),
            "phi_target": ("step", target),
            "beta": ("step", 0.9 + 0.05 * step / step[-1]),
            "eta": ("step", 1e-3 * (1 + step / step[-1])),
            "loss_scale": ("step", 0.4 + 0.2 * step / step[-1]),
            "H": ("step", (2 / 3) / t if kind == "power" else np.full(t.size, 0.2)),
            "a": ("step", t ** (2 / 3) if kind == "power" else np.exp(0.2 * t)),
        },
        {"t": ("step", t)},
        attrs,
    )


def test_f8_columns_show_target_network_and_residual_over_phi0():
    """F8: one column per target (sorted by name): the target phi / |phi(t0)| as a line, the
    network's phi at a subset of steps on the same scale, the difference network - target
    below, and for the power law the line H = m at t = p / m."""
    sims = {"b_sitter": simulation("sitter"), "a_power": simulation("power")}
    sims["a_power"].attrs["mass"] = 1.6  # H = p / t = m at t = (2/3) / 1.6 (not p, not p m)
    config = {"sweeps": {"g": {"widths": [8]}}, "figures": {"dataset": "x", "grid_sweep": "g"}}
    config["figures"] |= {"width_sweep": "g", "reference": {}}
    fig = figures.figure_reverse(Results({}, {}, {}, {}, config, sims))
    axes = np.array(fig.axes).reshape(2, 2)
    for j, name in enumerate(sorted(sims)):
        ds = sims[name]
        top, bottom = axes[:, j]
        t, target, network = ds.t.values, ds.phi_target.values, ds.phi_network.values
        lines = lines_labelled(top)
        np.testing.assert_allclose(
            lines["target (integrated)"].get_xydata(), np.c_[t, target / 0.5]
        )
        (shown,) = [ln for lab, ln in lines.items() if lab.startswith("network")]
        steps = points_on(shown, t, network / 0.5)
        assert len(steps) >= 30 and steps[0] == 0
        if ds.attrs["background"] == "power_law":  # log t axis: markers even in log(n + 1)
            assert list(steps[:3]) == [0, 1, 2] and steps[-1] - steps[-2] > 10
        else:
            assert len(set(np.diff(steps))) == 1
        np.testing.assert_allclose(bottom.lines[0].get_xydata(), np.c_[t, (network - target) / 0.5])
        onsets = [ln.get_xdata()[0] for ln in top.lines if ln.get_xdata()[0] == ln.get_xdata()[1]]
        if ds.attrs["background"] == "power_law":
            assert onsets == [pytest.approx((2 / 3) / 1.6)]
            assert top.get_xscale() == "log"
        else:
            assert onsets == [] and top.get_xscale() == "linear"


def test_f8_axes_name_cosmic_time_and_the_residual_s_scale_and_mark_h_equal_to_m():
    """F8: cosmic time t below; the residual's y label divided by |phi(t0)| as the field's is;
    the power law's line at t = p / m, where H = p / t reaches m, is labelled H = m."""
    sims = {"a_power": simulation("power")}
    config = {"sweeps": {"g": {"widths": [8]}}, "figures": {"dataset": "x", "grid_sweep": "g"}}
    config["figures"] |= {"width_sweep": "g", "reference": {}}
    top, bottom = figures.figure_reverse(Results({}, {}, {}, {}, config, sims)).axes
    assert bottom.get_xlabel().startswith("cosmic time t ")
    field, residual = top.get_ylabel(), bottom.get_ylabel()
    assert field.startswith("φ / ") and residual == "Δ" + field
    ds = sims["a_power"]
    onset = float(np.mean(ds.H.values * ds.t.values)) / ds.attrs["mass"]  # H t = p
    (note,) = [t for t in top.texts if t.get_position()[0] == pytest.approx(onset, rel=1e-9)]
    assert note.get_text().strip() == "H = m"


def test_f8_settings_text_shows_the_target_s_settings():
    """F8 panel text: width, epsilon, kappa_0, dt, steps, the ranges of beta_n, eta_n and the loss
    scale (min to max), and the kappa drift."""
    ds = simulation("power")
    text = figures._settings_text(ds)
    beta, eta, scale = ds.beta.values, ds.eta.values, ds.loss_scale.values
    assert text.startswith(f"width 512, ε = 1e{MINUS}03, ")
    assert f"= {3.21:.4g}\ndt = {ds.attrs['dt']:.3g}, 400 steps\n" in text
    assert f"∈ [{beta.min():.4f}, {beta.max():.4f}]\n" in text
    assert f"∈ [{eta.min():.3g}, {eta.max():.3g}]\n" in text
    assert f"∈ [{scale.min():.3g}, {scale.max():.3g}]\n" in text
    assert text.endswith(f"κ drift 2.5e{MINUS}04")


def test_f8_settings_text_shows_a_constant_setting_once():
    """F8 panel text: a setting constant over the steps (a de Sitter target's) reads `= value`,
    not an interval whose ends agree; one varying only past the printed digits likewise."""
    ds = simulation("sitter")
    ds["beta"] = xr.full_like(ds.beta, 0.991)
    ds["eta"] = xr.full_like(ds.eta, 2.48e-4) * (1 + 1e-9 * np.arange(ds.sizes["step"]))
    text = figures._settings_text(ds)
    assert "= 0.9910\n" in text and "= 0.000248\n" in text
    assert text.count("∈") == 1  # the loss scale still varies
    assert f"∈ [{ds.loss_scale.min().item():.3g}, {ds.loss_scale.max().item():.3g}]\n" in text


def test_f8_measured_text_shows_the_field_error():
    """F8 panel text: sup |phi_net - phi_target| / |phi(t0)| of the target."""
    ds = simulation("sitter")
    error = np.max(np.abs(ds.phi_network.values - ds.phi_target.values)) / 0.5
    assert figures._measured_text(ds).startswith("sup|Δφ| / |")
    assert f"= {signed(error, '.1e')}\n" in figures._measured_text(ds)


# Width sweep: F2 and F5.

WIDTHS, SEEDS = [64, 128, 256], 4
SPREAD = np.linspace(-1, 1, SEEDS)  # seed offsets of mean zero: seed means are the laws below
ERROR_LAWS = {  # F5 error quantity: (amplitude, exponent in width)
    "background residual (exact)": (0.05, -1.0),
    "|H_fit/H_eta - 1|": (0.02, -0.5),
    "|m2_fit/m2_eta - 1|": (0.03, -0.7),
    "NTK drift": (0.2, -0.9),
}
INFINITE = {"kappa_0 at init": (0.002, 2.0), "m2_fit": (-0.003, 5.0)}  # deviation, 1/width slope


def law(name, w):
    amplitude, exponent = ERROR_LAWS[name]
    return amplitude * (w / 64) ** exponent * (1 + 0.1 * SPREAD)


def ratio(name, w):
    deviation, slope = INFINITE[name]
    return 1 + deviation + slope / w + 0.001 * SPREAD


def width_results():
    """Results of a width sweep of 'toy' (widths 64-256, 4 seeds at (0.1, 0.9)) whose F5 errors
    follow ERROR_LAWS and whose kappa_0 and m2_fit are the analytic infinite-width values times
    `ratio`; overlaps 0.99 - 0.001 seed - 1e-5 width at init (0.5 at the end)."""
    model = {"depth": 2, "activation": "erf", "bias_std": 1.0, "use_bias": True}
    sweep = {"datasets": ["toy"], "widths": WIDTHS, "eta": [0.1], "beta": [0.9]}
    config = {
        "model": model,
        "sweeps": {"width": sweep | {"seeds": list(range(SEEDS))}},
        "figures": {"dataset": "toy", "grid_sweep": "width", "width_sweep": "width"}
        | {"reference": {"eta": 0.1, "beta": 0.9}},
    }
    x = np.random.default_rng(3).standard_normal((16, 4))
    exact = infinite_width_dictionary(model, x, 0.1, 0.9)
    kappa, m2 = exact["kappa"][0], exact["m2"][0]
    coords = {"eta": ("run", [0.1] * SEEDS), "beta": ("run", [0.9] * SEEDS)}
    coords |= {"seed": ("run", np.arange(SEEDS)), "schedule": ("run", ["constant"] * SEEDS)}
    ntk, duality = {}, {}
    for w in WIDTHS:
        top = kappa * 16 * ratio("kappa_0 at init", w)
        init = np.stack([top, np.full(SEEDS, 5.0 + w / 100), np.full(SEEDS, 1.0)], axis=1)
        eigen = np.stack([init, 1.5 * init], axis=1)  # (run, checkpoint, eigen)
        overlap = 0.99 - 0.001 * np.arange(SEEDS) - 1e-5 * w
        drift = np.stack([np.zeros(SEEDS), law("NTK drift", w)], axis=1)
        ntk[("toy", w)] = xr.Dataset(
            {
                "eigenvalue": (("run", "checkpoint", "eigen"), eigen),
                "overlap_uniform": (("run", "checkpoint"), np.c_[overlap, np.full(SEEDS, 0.5)]),
                "drift": (("run", "checkpoint"), drift),
            },
            coords,
            {"n_samples": 16},
        )
        m2_fit = m2 * ratio("m2_fit", w)
        duality[("toy", w)] = xr.Dataset(
            {
                "residual_own": (
                    ("run", "dictionary", "mode"),
                    law("background residual (exact)", w)[:, None, None],
                ),
                "H_fit": (("run", "mode"), 1 + law("|H_fit/H_eta - 1|", w)[:, None]),
                "H_exact": ("run", np.ones(SEEDS)),
                "m2_fit": (("run", "mode"), m2_fit[:, None]),
                "m2_exact": (
                    ("run", "mode"),
                    (m2_fit / (1 + law("|m2_fit/m2_eta - 1|", w)))[:, None],
                ),
            },
            coords | {"mode": [0], "dictionary": ["exact"]},
        )
    data = {"toy": xr.Dataset({"x": (("sample", "feature"), x)})}
    return Results(ntk, {}, duality, data, config), {"kappa": kappa, "m2": m2}


def slope_text(per_width: dict) -> str:
    """The legend text of a seed-mean slope: estimate and 95 % bootstrap interval, two decimals;
    the slope is that of the seed means (np.polyfit), the interval `bootstrap_over_seeds`'s (the
    figure only displays it: this checks which interval is shown, not the bootstrap, which
    tests/test_claims.py tests)."""
    widths = sorted(per_width)
    means = [per_width[w].mean() for w in widths]
    slope = np.polyfit(np.log(widths), np.log(means), 1)[0]
    low, high = bootstrap_over_seeds(per_width, seed_mean_slope)["interval"]
    assert low < slope < high
    return f"slope {signed(slope, '.2f')} (95%: {signed(low, '.2f')} … {signed(high, '.2f')})"


def test_f2_spectrum_overlap_and_drift_panels():
    """F2: (a) lambda_a / N of the first run of each width at init and at the end; (b)
    1 - overlap at init of every run at its width; (c) the seed-mean drift at the last
    checkpoint against width, its fitted line through the log means with the slope (in the
    legend) and the width^-1 line from the first width's mean."""
    results, _ = width_results()
    fig = figures.figure_ntk(results)
    ax_s, ax_o, ax_d = fig.axes
    spectra = lines_labelled(ax_s)
    for w in WIDTHS:
        eigen = results.ntk[("toy", w)].eigenvalue.values[0]
        np.testing.assert_allclose(spectra[f"width {w}, init"].get_ydata(), eigen[0] / 16)
        np.testing.assert_allclose(spectra[f"width {w}, end"].get_ydata(), eigen[-1] / 16)
    points = [ln for ln in ax_o.lines if ln.get_linestyle() == "None"]
    assert len(points) == len(WIDTHS)
    for w, line in zip(WIDTHS, points, strict=True):
        overlap = 0.99 - 0.001 * np.arange(SEEDS) - 1e-5 * w
        np.testing.assert_allclose(line.get_xydata(), np.c_[[w] * SEEDS, 1 - overlap], rtol=1e-9)
    means = np.array([law("NTK drift", w).mean() for w in WIDTHS])
    (marks,) = [ln for ln in ax_d.lines if ln.get_label().startswith("toy: ")]
    np.testing.assert_allclose(marks.get_xydata(), np.c_[WIDTHS, means], rtol=1e-12)
    assert marks.get_label() == "toy: " + slope_text({w: law("NTK drift", w) for w in WIDTHS})
    fit = next(ln for ln in ax_d.lines if ln.get_linestyle() == "-")
    np.testing.assert_allclose(fit.get_ydata(), means, rtol=1e-9)  # an exact power law
    reference = lines_labelled(ax_d)["width⁻¹ (Dyer & Gur-Ari)"]
    np.testing.assert_allclose(reference.get_ydata(), means[0] * 64 / np.array(WIDTHS))


def test_f2_width_axes_and_the_overlap_claim_line():
    """F2 (b) and (c): log width axes with one tick per width, labelled with the width; (b) on a
    log scale of 1 - overlap, with the F2-overlap claim drawn at 1 - its bound."""
    results, _ = width_results()
    fig = figures.figure_ntk(results)
    fig.canvas.draw()
    _, ax_o, ax_d = fig.axes
    for ax in (ax_o, ax_d):
        assert (ax.get_xscale(), ax.get_yscale()) == ("log", "log")
        assert ax.get_xlabel() == "width"
        np.testing.assert_allclose(ax.get_xticks(), WIDTHS)
        labels = [
            t.get_text().replace("$\\mathdefault{", "").rstrip("}$") for t in ax.get_xticklabels()
        ]
        assert labels == [str(w) for w in WIDTHS]
    low = CLAIMS["F2-overlap"].tolerance.low
    (claim,) = [ln for ln in ax_o.lines if ln.get_label().startswith("claim")]
    np.testing.assert_allclose(claim.get_ydata(), 1 - low)
    assert claim.get_label() == f"claim: overlap ≥ {low:g}"


def test_f5_error_panel_shows_each_quantity_s_seed_means_and_slope():
    """F5 top: each EFT error's seed means (min-max bars) against width, dodged around it, and
    its log-log slope in the label (power laws: the exponents of ERROR_LAWS)."""
    results, _ = width_results()
    fig, ax = plt.subplots()
    figures._width_errors(ax, results, "toy")
    assert len(ax.containers) == len(ERROR_LAWS)
    for k, (name, (_, exponent)) in enumerate(ERROR_LAWS.items()):
        container = ax.containers[k]
        per_width = {w: law(name, w) for w in WIDTHS}
        expected = f"{figures.WIDTH_ERROR_LABELS[name]}: {slope_text(per_width)}"
        assert container.get_label() == expected
        assert f"slope {signed(exponent, '.2f')} " in expected
        line, _, (bars,) = container
        values = [law(name, w) for w in WIDTHS]
        x = np.array(WIDTHS) * 2 ** (0.05 * (k - 1.5))
        np.testing.assert_allclose(line.get_xdata(), x, rtol=1e-12)
        np.testing.assert_allclose(line.get_ydata(), [v.mean() for v in values], rtol=1e-9)
        spans = [np.sort(s[:, 1]) for s in bars.get_segments()]
        np.testing.assert_allclose(spans, [[v.min(), v.max()] for v in values], rtol=1e-9)


def test_f5_infinite_width_panel_shows_ratios_and_their_extrapolation():
    """F5 bottom: kappa_0 at init and m2_fit as 100 (value / analytic - 1) against 1 / width,
    seed means; the 1/width line and its extrapolated intercept at 1 / width = 0, exactly the
    deviation of the synthetic ratios (their means are linear in 1 / width)."""
    results, analytic = width_results()
    fig, ax = plt.subplots()
    figures._infinite_width_limit(ax, results, "toy")
    labelled = {c.get_label(): c for c in ax.containers}
    for k, (name, (deviation, slope)) in enumerate(INFINITE.items()):
        value = analytic["kappa" if k == 0 else "m2"]
        offset = (k - 0.5) * figures.SERIES_OFFSET
        (series,) = [c for lab, c in labelled.items() if lab.endswith(f"analytic {value:.4g}")]
        means = [100 * (ratio(name, w).mean() - 1) for w in WIDTHS]
        np.testing.assert_allclose(
            series.lines[0].get_xydata(), np.c_[1 / np.array(WIDTHS) + offset, means], rtol=1e-9
        )
        (extrapolated,) = [
            c
            for lab, c in labelled.items()
            if lab.startswith("extrapolated") and c.lines[0].get_xdata()[0] == offset
        ]
        assert extrapolated.lines[0].get_ydata()[0] == pytest.approx(100 * deviation, abs=1e-9)
        assert f"extrapolated: {signed(100 * deviation, '+.1f')} %" in extrapolated.get_label()
        line = next(
            ln
            for ln in ax.lines
            if ln.get_linestyle() == "--" and ln.get_color() == (series.lines[0].get_color())
        )
        x = line.get_xdata()
        np.testing.assert_allclose(line.get_ydata(), 100 * (deviation + slope * x), atol=1e-9)
    np.testing.assert_allclose(ax.get_xticks(), [0, 1 / 64, 1 / 128, 1 / 256])
    labels = [t.get_text().strip() for t in ax.get_xticklabels()]
    assert labels == ["∞", "1/64", "1/128", "1/256"]


def test_f5_error_slopes_use_the_finite_positive_seeds_or_say_untestable():
    """F5 top, as claim F5-slope: a width without a finite value of a quantity (every H fit
    failed at width 64) leaves its slope untestable; a seed without one (m2 of seed 0 at width
    128) or with an exact 0 (the residual of seed 2 there) is left out of the slope and its
    interval. The points are the seeds the slope is fitted to (no NaN point, no warning), the
    label counts those left out. Log-log axes, one
    tick per width."""
    results, _ = width_results()
    narrow, middle = ("toy", WIDTHS[0]), ("toy", WIDTHS[1])
    dual = results.duality[narrow]
    results.duality[narrow] = dual.assign(H_fit=dual.H_fit * np.nan)
    dual = results.duality[middle]
    m2_fit = dual.m2_fit.values.copy()
    m2_fit[0] = np.nan
    residual = dual.residual_own.values.copy()
    residual[2] = 0.0  # an exact zero: finite, but no log
    results.duality[middle] = dual.assign(
        m2_fit=(("run", "mode"), m2_fit), residual_own=(dual.residual_own.dims, residual)
    )
    fig, ax = plt.subplots()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figures._width_errors(ax, results, "toy")
    containers = dict(zip(ERROR_LAWS, ax.containers, strict=True))
    labels = {name: c.get_label() for name, c in containers.items()}
    seeds_per_width = law("|H_fit/H_eta - 1|", WIDTHS[0]).size
    assert labels["|H_fit/H_eta - 1|"].endswith(
        f": slope untestable; {seeds_per_width} seed value(s) ≤ 0 or not finite left out"
    )
    hubble_line = containers["|H_fit/H_eta - 1|"].lines[0]
    np.testing.assert_allclose(hubble_line.get_xdata() / figures._dodge(1, 4, 0.05), WIDTHS[1:])
    name = "|m2_fit/m2_eta - 1|"
    seeds = {w: law(name, w)[1 if w == WIDTHS[1] else 0 :] for w in WIDTHS}
    assert labels[name] == (
        f"{figures.WIDTH_ERROR_LABELS[name]}: {slope_text(seeds)}; "
        "1 seed value(s) ≤ 0 or not finite left out"
    )
    np.testing.assert_allclose(
        containers[name].lines[0].get_ydata(), [v.mean() for v in seeds.values()], rtol=1e-9
    )
    name = "background residual (exact)"
    seeds = {w: np.delete(law(name, w), 2) if w == WIDTHS[1] else law(name, w) for w in WIDTHS}
    assert labels[name] == (
        f"{figures.WIDTH_ERROR_LABELS[name]}: {slope_text(seeds)}; "
        "1 seed value(s) ≤ 0 or not finite left out"
    )
    assert "left out" not in labels["NTK drift"]
    assert (ax.get_xscale(), ax.get_yscale(), ax.get_xlabel()) == ("log", "log", "width")
    np.testing.assert_allclose(ax.get_xticks(), WIDTHS)


def test_f5_infinite_width_band_fit_lines_and_interval_text():
    """F5 bottom: the shaded band is +-100 times the F5-infinite tolerance, in %; each dashed
    1/width fit runs from infinite width (0) to the narrowest width; each extrapolated label
    reads its interval from low to high around its centre, the ends its error bar spans."""
    import re

    results, _ = width_results()
    fig, ax = plt.subplots()
    figures._infinite_width_limit(ax, results, "toy")
    band = 100 * CLAIMS["F5-infinite"].tolerance.high
    (span,) = [p for p in ax.patches if p.get_label().endswith("of the analytic value")]
    corners = span.get_transform().transform(span.get_path().vertices)
    y = ax.transData.inverted().transform(corners)[:, 1]
    np.testing.assert_allclose([y.min(), y.max()], [-band, band], rtol=1e-9)
    assert span.get_label() == f"±{band:g} % of the analytic value"
    fits = [ln for ln in ax.lines if ln.get_linestyle() == "--"]
    assert len(fits) == len(INFINITE)
    for line in fits:
        np.testing.assert_allclose(line.get_xdata()[[0, -1]], [0, 1 / min(WIDTHS)])
    pattern = r"extrapolated: (\S+) % \(\d+%: (\S+) … (\S+) %\)"
    shown = [c for c in ax.containers if c.get_label().startswith("extrapolated")]
    assert len(shown) == len(INFINITE)
    for container in shown:
        numbers = re.fullmatch(pattern, container.get_label()).groups()
        centre, low, high = (float(v.replace(MINUS, "-")) for v in numbers)
        assert low < centre < high
        (bar,) = container.lines[2][0].get_segments()
        np.testing.assert_allclose(np.sort(bar[:, 1]), [low, high], atol=0.051)
        assert container.lines[0].get_ydata()[0] == pytest.approx(centre, abs=0.051)


def test_f5_title_names_the_sweep_s_eta_beta_and_seed_count():
    """F5's title: the width sweep's (eta, beta) and its number of seeds (4, over 3 widths)."""
    results, _ = width_results()
    fig = figures.figure_width(results)
    assert fig.texts[0].get_text() == "F5  Approach to the NTK limit (η = 0.1, β = 0.9, 4 seeds)"


# F7 and F8 panel texts.


def history_ntk(u, eigenvalue, eta, schedule):
    """One history run's ntk-stage dataset: u (step, mode), eigenvalue (checkpoint, eigen), N = 4,
    constant eta, tau = n sqrt(eta)."""
    steps = np.arange(u.shape[0])
    return xr.Dataset(
        {"u": (("step", "mode"), u), "eigenvalue": (("checkpoint", "eigen"), eigenvalue)},
        {
            "step": steps,
            "mode": np.arange(u.shape[1]),
            "eta_n": ("step", np.full(len(steps), eta)),
            "tau": ("step", np.sqrt(eta) * steps),
            "schedule": schedule,
        },
        {"n_samples": 4},
    )


def history_cosmology(u, offset: float):
    """A history run's cosmology dataset: exact image u + offset, no continuum history."""
    return xr.Dataset(
        {"history_field": (("history", "step", "mode"), np.stack([u + offset, u * np.nan]))},
        {"history": ["exact", "continuum"]},
    )


def test_f7_text_nesterov_envelope_exponent():
    """F7 Nesterov panel: the exact image's sup error over |u_0(0)| and the envelope exponent of
    u_0 = e^(-gamma tau / 2) tau^(-3/2) cos(pi n / 5), -3/2 (the peaks of the envelope)."""
    from types import SimpleNamespace

    eta, kappa = 0.01, 4.0
    n = np.arange(401)
    tau = np.sqrt(eta) * n
    gamma = -np.log(1 - eta * kappa) / np.sqrt(eta)
    t = np.maximum(tau, tau[1])
    u0 = np.exp(-gamma * t / 2) * t**-1.5 * np.cos(np.pi * np.maximum(n, 1) / 5)
    u = np.stack([u0, 0.1 * u0], axis=1)
    ntk = history_ntk(u, np.array([[4 * kappa, 1.0, 0.5, 0.1]]), eta, "nesterov")
    results = SimpleNamespace(config={"duality": {"fit_rel_floor": 1e-6}})
    text = figures._history_text(results, ntk, history_cosmology(u, 0.002))
    assert text == f"exact {0.002 / abs(u0[0]):.2%}\nenvelope τ$^{{{-1.5:.2f}}}$"


def test_f7_text_friedmann_equation_of_state():
    """F7 Friedmann panel: w of mode 0 harmonic (w = 0 over whole periods) and mode 1 frozen at 1
    with kappa_1 = 0.1: w = -kappa_1 / (kappa_0 + kappa_1), signed to three decimals."""
    from types import SimpleNamespace

    eta, n = 0.1, np.arange(401)
    kappa = np.array([np.sin(2 * np.pi / 40) ** 2 / eta, 0.1])
    u = np.stack([np.cos(2 * np.pi * n / 40 + 0.3), np.ones(n.size)], axis=1)
    eigenvalue = 4 * np.array([[*kappa, 0.05, 0.01], [*(2 * kappa), 0.1, 0.02]])
    ntk = history_ntk(u, eigenvalue, eta, "friedmann planck_mass=80")
    results = SimpleNamespace(config={"duality": {"fit_rel_floor": 1e-3}})
    text = figures._history_text(results, ntk, history_cosmology(u, -0.01))
    w = -kappa[1] / (kappa[0] + kappa[1])
    assert text == f"exact {0.01 / abs(u[0, 0]):.2%}\nw = {signed(w, '+.3f')}"
    # u_0 without a whole period in the run's second half (it stops oscillating): no w, and
    # the panel says why instead of printing nan
    u[200:, 0] = 1.0
    text = figures._history_text(results, history_ntk(u, eigenvalue, eta, ntk.schedule.values),
                                 history_cosmology(u, -0.01))  # fmt: skip
    assert text == f"exact {0.01 / abs(u[0, 0]):.2%}\nw: no whole period"


def test_config_names_in_titles_are_words_with_proper_names_capitalised():
    """Underscores become spaces; de Sitter, Nesterov and Friedmann are capitalised as whole
    words only (a target called "sitter" stays as the user named it)."""
    assert figures._display("history_de_sitter") == "history de Sitter"
    assert figures._display("nesterov_friedmann") == "Nesterov Friedmann"
    assert figures._display("sitter") == "sitter"
    assert figures._display("node_sitters") == "node sitters"


def test_f8_titles_name_each_background():
    """F8 column titles: power law a ∝ t^p with the mass; de Sitter H with Lambda = 3 H^2;
    Friedmann Lambda."""
    power, sitter = simulation("power"), simulation("sitter")
    assert figures._target_title(power) == "power target: a ∝ t$^{0.666667}$, m = 1"
    assert figures._target_title(sitter) == (
        f"sitter target: de Sitter, H = 0.2 (Λ = {3 * 0.2**2:.3g}), m = 1.5"
    )
    sitter.attrs |= {"background": "friedmann", "background_Lambda": 0.07}
    assert figures._target_title(sitter) == "sitter target: Friedmann, Λ = 0.07, m = 1.5"


def test_f8_de_sitter_text_shows_the_recovered_hubble_rate_and_mass():
    """F8 de Sitter panel: a network field that is the de Sitter mode of H = 0.2, m = 1.5
    exactly (from rest: e^(-3Ht/2) [cos(w t) + 3H / (2w) sin(w t)], w^2 = m^2 - 9H^2/4) shows
    zero field error and Prony H = 0.2, m^2 = 2.25."""
    t = np.arange(1001) * 0.015
    w = np.sqrt(1.5**2 - 2.25 * 0.2**2)
    phi = np.exp(-0.3 * t) * (np.cos(w * t) + 0.3 / w * np.sin(w * t))
    ds = xr.Dataset(
        {"phi_network": ("step", phi), "phi_target": ("step", phi)},
        {"t": ("step", t)},
        {"background": "de_sitter", "background_H": 0.2, "mass": 1.5, "dt": 0.015, "phi0": 1.0},
    )
    first, second = figures._measured_text(ds).splitlines()
    assert first.endswith(" = 0.0e+00")
    assert second == f"Prony H = {0.2:.5g}, m² = {2.25:.5g}"


def test_f2_drift_points_use_the_slope_s_seeds_and_the_reference_line_the_first_data_set():
    """F2 (c) with two data sets: 'toy' and 'toy2' (drift 3x toy's, seed 0 negative at width 64,
    which a log-log slope cannot use): each data set's points are the means of the finite,
    positive seeds the slope (claim F2-drift) is fitted to, and the width^-1 line runs through
    the first data set's mean at the narrowest width, not the last's."""
    results, _ = width_results()
    for w in WIDTHS:
        ntk, duality = results.ntk[("toy", w)], results.duality[("toy", w)]
        drift = 3 * ntk.drift.values
        if w == WIDTHS[0]:
            drift[0, -1] = -drift[0, -1]
        results.ntk[("toy2", w)] = ntk.assign(drift=(("run", "checkpoint"), drift))
        results.duality[("toy2", w)] = duality
    results.width_sweep["datasets"] = ["toy", "toy2"]
    ax_d = figures.figure_ntk(results).axes[2]
    (marks,) = [ln for ln in ax_d.lines if ln.get_label().startswith("toy2: ")]
    positive = [3 * law("NTK drift", w)[1 if w == WIDTHS[0] else 0 :] for w in WIDTHS]
    np.testing.assert_allclose(marks.get_ydata(), [v.mean() for v in positive], rtol=1e-12)
    first = law("NTK drift", WIDTHS[0]).mean() * WIDTHS[0]  # toy's mean at the narrowest width
    reference = lines_labelled(ax_d)["width⁻¹ (Dyer & Gur-Ari)"]
    np.testing.assert_allclose(reference.get_ydata(), first / np.array(WIDTHS), rtol=1e-12)
    plt.close("all")
