"""The infinite-width extrapolation: exact on a line, its error bar from the seed scatter."""

import numpy as np
import pytest

from nncosmo.results import extrapolate_in_inverse_width

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
