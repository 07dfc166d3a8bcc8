"""The infinite-width extrapolation, the seed statistics and the late-time measurements."""

import numpy as np
import pytest
import xarray as xr

from nncosmo.duality import WINDOW_STATUS
from nncosmo.results import (
    CONFIDENCE,
    MIN_DECAY_EXTREMA,
    WIDTH_ERRORS,
    Results,
    bootstrap_over_seeds,
    crossing_period,
    decay_exponent,
    extrapolate_in_inverse_width,
    history_background_error,
    positive_seeds,
    seed_means,
    seed_minimum,
    window_hubble_errors,
)

WIDTHS = (128, 256, 512, 1024)


def on_line(intercept, slope, offsets):
    """Seed values whose means lie exactly on intercept + slope / width (offsets sum to zero)."""
    return {w: intercept + slope / w + np.asarray(offsets) for w in WIDTHS}


def test_intercept_and_slope_recovered_exactly_from_means_on_a_line():
    fit = extrapolate_in_inverse_width(on_line(2.05, 11.0, [-0.01, 0.0, 0.01]))
    assert fit["intercept"] == pytest.approx(2.05, rel=1e-12)
    assert fit["slope"] == pytest.approx(11.0, rel=1e-10)
    assert fit["chi2_per_dof"] == pytest.approx(0.0, abs=1e-20)
    assert fit["interval"][0] < 2.05 < fit["interval"][1]


def test_error_bar_with_equal_seed_errors_is_the_ordinary_least_squares_one():
    """Equal standard errors se at n widths: var(a) = se^2 sum(x^2) / (n sum(x^2) - (sum x)^2),
    x = 1/width, and Welch-Satterthwaite with equal terms gives nu = (sum g^2)^2 (k - 1) /
    sum g^4 for k seeds (g the intercept's weights on the means)."""
    offsets = np.array([-0.02, 0.0, 0.02])
    se = offsets.std(ddof=1) / np.sqrt(3)
    fit = extrapolate_in_inverse_width(on_line(1.0, 5.0, offsets))
    x = 1 / np.array(WIDTHS)
    n = len(x)
    expected = se * np.sqrt(np.sum(x**2) / (n * np.sum(x**2) - np.sum(x) ** 2))
    assert fit["sigma"] == pytest.approx(expected, rel=1e-10)
    g = (np.sum(x**2) - x * np.sum(x)) / (n * np.sum(x**2) - np.sum(x) ** 2)
    assert fit["degrees_of_freedom"] == pytest.approx(np.sum(g**2) ** 2 * 2 / np.sum(g**4))


def test_error_bar_grows_by_the_birge_ratio_when_means_scatter_beyond_their_errors():
    tight = on_line(1.0, 5.0, [-0.001, 0.0, 0.001])
    bent = {w: v + (0.05 if w == 256 else 0.0) for w, v in tight.items()}
    fit_tight, fit_bent = (extrapolate_in_inverse_width(d) for d in (tight, bent))
    assert fit_bent["chi2_per_dof"] > 100
    ratio = fit_bent["sigma"] / fit_tight["sigma"]
    assert ratio == pytest.approx(np.sqrt(fit_bent["chi2_per_dof"]), rel=1e-10)


def test_interval_covers_the_true_intercept_at_about_its_level():
    """Gaussian seeds with width-dependent spread: the 95 % interval covers the true intercept
    in 93-97 % of 1000 synthetic sweeps (5 seeds per width; binomial sd 0.7 %)."""
    rng = np.random.default_rng(7)
    covered = 0
    for _ in range(1000):
        sweep = {w: 1 + 3 / w + rng.normal(0, 0.5 / np.sqrt(w), 5) for w in WIDTHS}
        low, high = extrapolate_in_inverse_width(sweep)["interval"]
        covered += low <= 1 <= high
    assert 0.93 <= covered / 1000 <= 0.97


def test_bootstrap_interval_holds_the_central_confidence_of_the_resamples():
    """A statistic whose resampled values are evenly spaced on [0, 1] (whatever was drawn): the
    percentile interval is its central CONFIDENCE = 95 %, the (1 -+ 0.95) / 2 quantiles
    [0.025, 0.975] (not the one-sided [0.05, 0.95]); the estimate is the statistic of the
    seeds themselves (one sample: 0)."""
    assert CONFIDENCE == 0.95
    uniform = lambda widths, samples: np.linspace(0.0, 1.0, samples[0].shape[0])  # noqa: E731
    out = bootstrap_over_seeds({128: np.array([1.0, 2.0]), 256: np.array([3.0])}, uniform)
    np.testing.assert_allclose(out["interval"], [0.025, 0.975], rtol=0, atol=1e-12)
    assert out["estimate"] == 0.0 and out["seeds_per_width"] == [2, 1]


def test_f7_window_errors_use_only_the_resolved_windows():
    """Only windows with status "ok" count: of four windows, one per status (ok, no real image,
    below floor, unresolved), only the first, H_window / H_history - 1 = 1.1 / 1.0 - 1 = 0.1."""
    assert WINDOW_STATUS.index("ok") == 0 and len(WINDOW_STATUS) == 4
    duality = xr.Dataset(
        {
            "window_status": ("window", [0, 1, 2, 3]),
            "H_window": ("window", [1.1, 5.0, 3.0, 4.0]),
            "H_window_history": ("window", [1.0, 1.0, 1.0, 1.0]),
            "window_tau": ("window", [0.5, 1.5, 2.5, 3.5]),
        }
    )
    tau, rel = window_hubble_errors(duality)
    np.testing.assert_allclose(tau, [0.5])
    np.testing.assert_allclose(rel, [0.1], rtol=1e-12)


def test_seed_minimum_is_the_smallest_seed_value_over_every_width_per_resample():
    """F2-overlap's statistic: per resample (row), the minimum over all widths and seeds."""
    samples = [
        np.array([[0.9, 0.8], [0.99, 0.7]]),  # width 128: 2 resamples x 2 seeds
        np.array([[0.95, 0.85, 0.6], [0.97, 0.96, 0.98]]),  # width 256: 3 seeds
    ]
    np.testing.assert_array_equal(seed_minimum(np.array([128, 256]), samples), [0.6, 0.7])


def test_positive_seeds_keep_finite_positive_values_and_drop_widths_left_empty():
    """A log-log slope needs positive means: zeros, negatives, NaN and inf are dropped, and a
    width with nothing left is left out."""
    per_width = {
        128: np.array([0.1, 0.0, -0.2, np.nan, 0.3]),
        256: np.array([0.0, np.inf]),
        512: np.array([2e-3]),
    }
    kept = positive_seeds(per_width)
    assert list(kept) == [128, 512]
    np.testing.assert_array_equal(kept[128], [0.1, 0.3])


def test_decay_exponent_from_exactly_the_minimum_number_of_extrema():
    """|phi| peaks a^(-3/2) at a = 2, 4, 6 (zeros between, H = 0: all late): with
    MIN_DECAY_EXTREMA = 3 extrema the slope is -3/2 exactly; with two it is NaN."""
    assert MIN_DECAY_EXTREMA == 3
    a = np.arange(1.0, 8.0)
    phi = np.where(np.arange(7) % 2 == 1, a**-1.5, 0.0) * [1, 1, 1, -1, 1, 1, 1]
    ds = xr.Dataset({"H": ("t", np.zeros(7)), "a": ("t", a)}, attrs={"mass": 1.0})
    slope, count = decay_exponent(ds, phi)
    assert count == 3 and slope == pytest.approx(-1.5, rel=1e-12)
    slope, count = decay_exponent(ds.isel(t=slice(0, 5)), phi[:5])
    assert count == 2 and np.isnan(slope)


def test_crossing_period_needs_three_crossings():
    """u = cos(2 pi (n + 1/4) / 20) crosses zero at n = 4.75, 14.75, 24.75, ...: two crossings
    are half a period apart but no whole period (0); three give the period, 20 steps."""
    u = np.cos(2 * np.pi * (np.arange(31) + 0.25) / 20)
    assert crossing_period(u[:21]) == 0
    assert crossing_period(u) == 20


def test_history_widths_are_the_history_sweeps_own_not_the_grid_s():
    """F7's runs come from each history sweep's first width, whatever the grid's widths."""
    grid = {"widths": [128, 1024]}
    sweeps = {"grid": grid, "radiation": {"widths": [512]}, "matter": {"widths": [256, 2048]}}
    figures = {"dataset": "teacher", "grid_sweep": "grid", "width_sweep": "grid"}
    config = {"sweeps": sweeps, "figures": {**figures, "reference": {}, "histories": list(sweeps)}}
    results = Results({}, {}, {}, {}, config)
    assert results.history_width("matter") == 256
    assert results.history_widths() == [128, 256, 512]


def _selection_results():
    """'toy' ntk files at widths 32 and 64 (runs tagged 0..5 at 64, 10..15 at 32) holding the
    grid sweep (eta 0.1, 0.2; beta 0.9; seeds 5, 3) and a Nesterov history run (beta None, NaN
    in the file), out of order."""
    eta = [0.2, 0.1, 0.1, 0.2, 0.1, 0.1]
    beta = [0.9, 0.9, 0.9, 0.9, np.nan, 0.5]
    seed = [5, 3, 5, 3, 3, 3]
    schedule = ["constant"] * 4 + ["nesterov", "constant"]
    coords = {"eta": ("run", eta), "beta": ("run", beta), "seed": ("run", seed)}
    ds = xr.Dataset({"tag": ("run", np.arange(6))}, coords | {"schedule": ("run", schedule)})
    grid = {"datasets": ["toy"], "widths": [64, 32], "eta": [0.1, 0.2], "beta": [0.9]}
    history = {"datasets": ["toy"], "widths": [64], "eta": [0.1], "seeds": [3]}
    config = {
        "sweeps": {
            "grid": grid | {"seeds": [5, 3]},
            "nest": history | {"schedule": {"kind": "nesterov"}},
        },
        "figures": {"dataset": "toy", "grid_sweep": "grid", "width_sweep": "grid"}
        | {"reference": {"eta": 0.2, "beta": 0.9}, "histories": ["nest"]},
    }
    files = {("toy", 64): ds, ("toy", 32): ds.assign(tag=ds.tag + 10)}
    return Results(files, {}, {}, {}, config)


def test_grid_runs_are_the_smallest_seed_s_in_sweep_order():
    """The grid's runs are those of its first (smallest) seed 3 at its largest width 64, in sweep
    order eta 0.1, 0.2; the reference run is (0.2, 0.9) of that seed."""
    results = _selection_results()
    assert results.grid_runs("ntk").tag.values.tolist() == [1, 3]
    assert int(results.reference_run("ntk").tag) == 3


def test_a_history_run_without_beta_is_selected_by_its_nan_beta():
    """A schedule that sets beta_n itself has beta None in its sweep and NaN in the file: the
    Nesterov history run is found."""
    assert int(_selection_results().history_runs("ntk")["nest"].tag) == 4


def test_seed_means_are_the_nan_ignoring_means_per_width():
    """Width 8: seeds 1, 2, 6 and a NaN have mean 3 (median 2); width 16: a single 4."""
    widths, means = seed_means({8: np.array([1.0, 2.0, 6.0, np.nan]), 16: np.array([4.0])})
    assert widths.tolist() == [8, 16] and means.tolist() == [3.0, 4.0]


def test_width_errors_of_h_and_m2_are_absolute_relative_deviations():
    """H_fit = 0.8 H_eta and m2_fit = 1.5 m2_eta: the width-sweep errors are 0.2 and 0.5."""
    duality = xr.Dataset(
        {
            "H_fit": (("run", "mode"), [[0.8 * 0.3], [0.8 * 0.6]]),
            "H_exact": ("run", [0.3, 0.6]),
            "m2_fit": (("run", "mode"), [[1.5 * 2.0], [1.5 * 4.0]]),
            "m2_exact": (("run", "mode"), [[2.0], [4.0]]),
        },
        {"mode": [0]},
    )
    h_error = WIDTH_ERRORS["|H_fit/H_eta - 1|"](duality, None).values
    m2_error = WIDTH_ERRORS["|m2_fit/m2_eta - 1|"](duality, None).values
    np.testing.assert_allclose(h_error, 0.2, rtol=1e-12)
    np.testing.assert_allclose(m2_error, 0.5, rtol=1e-12)


def test_history_background_error_is_over_the_steps_where_the_field_is_defined():
    """u_0 = 2, 1, 0.5, 0.25 and a history field NaN at the first step, then u_0 + 0.3, u_0 - 0.5,
    u_0 + 0.1: sup |u_0 - phi_0| / |u_0(0)| = 0.5 / 2; NaN where the field is nowhere defined."""
    u = np.array([2.0, 1.0, 0.5, 0.25])
    ntk = xr.Dataset({"u": (("step", "mode"), u[:, None])}, {"mode": [0]})
    field = np.array([np.nan, 1.3, 0.0, 0.35])

    def cosmology(phi):
        dims = ("history", "step", "mode")
        return xr.Dataset({"history_field": (dims, phi[None, :, None])}, {"history": ["exact"]})

    assert history_background_error(ntk, cosmology(field), "exact") == pytest.approx(0.25)
    assert np.isnan(history_background_error(ntk, cosmology(np.full(4, np.nan)), "exact"))
