"""Claims: tolerance texts come from the bounds, and a claim without data is never a pass."""

import json
import math

import numpy as np
import pytest
import xarray as xr

from nncosmo.claims import (
    CLAIMS,
    Tolerance,
    infinite_width_claims,
    interval_verdict,
    make_claim,
    ntk_claims,
    to_json,
    too_few,
    width_claims,
)
from nncosmo.infinite import infinite_width_dictionary
from nncosmo.results import Results, bootstrap_over_seeds, seed_mean_slope


@pytest.mark.parametrize(
    ("tolerance", "text", "inside", "outside"),
    [
        (Tolerance(high=0.01), "<= 0.01", 0.01, 0.0101),
        (Tolerance(low=0.01, strict=True), "> 0.01", 0.0101, 0.01),
        (Tolerance(-1.2, -0.8), "in [-1.2, -0.8]", -0.8, -0.79),
        (Tolerance(0, 0), "== 0", 0, 1),
        (Tolerance(high=1.0, strict=True), "< 1", 0.99, 1.0),
    ],
)
def test_tolerance_text_and_verdict_come_from_one_range(tolerance, text, inside, outside):
    assert str(tolerance) == text
    assert tolerance.accepts(inside) and not tolerance.accepts(outside)


def test_verdicts_follow_the_spec_range():
    high = CLAIMS["F3-H"].tolerance.high
    assert make_claim("F3-H", high / 2, width=8).verdict == "pass"
    assert make_claim("F3-H", high * 2, width=8).verdict == "fail"


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_non_finite_measurement_is_untestable_not_a_number(value):
    claim = make_claim("F3-H", value, width=8)
    assert claim.verdict == "untestable" and claim.measured is None and claim.reason


def test_too_few_points_is_untestable_with_the_reason():
    reason = too_few(2, 3, "widths")
    assert reason == "only 2 widths; the claim needs at least 3"
    claim = make_claim("F2-drift", -1.0, untestable=reason, dataset="teacher")
    assert claim.verdict == "untestable" and claim.measured is None and claim.reason == reason
    assert too_few(3, 3, "widths") is None


def test_claims_json_is_strict_json_without_nan():
    claim = make_claim("F3-H", 0.001, details={"per_run": [math.nan, 0.001]}, width=8)
    doc = json.loads(to_json([claim], {"seed": math.inf}))
    assert doc["claims"][0]["details"]["per_run"] == [None, 0.001]
    assert doc["pass"] == doc["total"] == 1 and doc["provenance"]["seed"] is None


def toy_width_config(widths, seeds: int, model: dict) -> dict:
    """The config of a synthetic data set 'toy' trained by one width sweep at (0.1, 0.9)."""
    sweep = {"datasets": ["toy"], "widths": widths, "eta": [0.1], "beta": [0.9]}
    return {
        "model": model,
        "sweeps": {"width": sweep | {"seeds": list(range(seeds))}},
        "figures": {"dataset": "toy", "grid_sweep": "width", "width_sweep": "width"}
        | {"reference": {"eta": 0.1, "beta": 0.9}},
    }


def synthetic_width_sweep(widths, deviation, slope, spread, seeds=4):
    """Results of a width sweep (teacher-like x, erf, depth 2) whose kappa_0 at init and m2_fit
    are the analytic infinite-width values times 1 + deviation + slope / width + a seed offset
    in {-spread, ..., +spread} (mean zero)."""
    model = {"depth": 2, "activation": "erf", "bias_std": 1.0, "use_bias": True}
    config = toy_width_config(widths, seeds, model)
    x = np.random.default_rng(3).standard_normal((16, 4))
    exact = infinite_width_dictionary(config["model"], x, 0.1, 0.9)
    kappa, m2 = exact["kappa"][0], exact["m2"][0]
    run = {"eta": ("run", [0.1] * seeds), "beta": ("run", [0.9] * seeds)}
    run |= {"schedule": ("run", ["constant"] * seeds)}
    ntk, duality = {}, {}
    for w in widths:
        factor = 1 + deviation + slope / w + np.linspace(-spread, spread, seeds)
        coords = {**run, "seed": ("run", np.arange(seeds))}
        eigen = (kappa * 16 * factor)[:, None, None]  # (run, checkpoint, eigen)
        ntk[("toy", w)] = xr.Dataset(
            {"eigenvalue": (("run", "checkpoint", "eigen"), eigen)}, coords, {"n_samples": 16}
        )
        duality[("toy", w)] = xr.Dataset(
            {"m2_fit": (("run", "mode"), (m2 * factor)[:, None])}, coords | {"mode": [0]}
        )
    data = {"toy": xr.Dataset({"x": (("sample", "feature"), x)})}
    return Results(ntk, {}, duality, data, config)


@pytest.mark.parametrize(
    ("widths", "deviation", "spread", "verdict"),
    [
        ([64, 128, 256, 512], 0.0, 1e-4, "pass"),  # exact limit, tight interval
        ([64, 128, 256, 512], 0.03, 1e-4, "fail"),  # 3 % off, tight interval
        ([64, 128, 256, 512], 0.0, 0.05, "fail"),  # centred, but the interval exceeds 1 %
        ([128, 256], 0.0, 1e-4, "untestable"),  # two widths: no error bar from a line
    ],
)
def test_infinite_width_verdict_needs_the_whole_interval_within_one_percent(
    widths, deviation, spread, verdict
):
    claims = infinite_width_claims(synthetic_width_sweep(widths, deviation, 5.0, spread))
    assert [c.id for c in claims] == [
        "F5-infinite-toy-kappa_0 at init",
        "F5-infinite-toy-m2_fit",
    ]
    for claim in claims:
        assert claim.verdict == verdict, claim
        if verdict == "untestable":
            assert claim.reason == "only 2 widths; the claim needs at least 3"
            continue
        low, high = claim.details["ratio_fit"]["interval"]
        assert claim.measured == pytest.approx(max(abs(low - 1), abs(high - 1)))
        assert low <= 1 + deviation <= high


def test_infinite_width_claim_untestable_with_one_seed():
    claims = infinite_width_claims(synthetic_width_sweep([64, 128, 256], 0.0, 5.0, 0.0, seeds=1))
    assert all(c.verdict == "untestable" for c in claims)
    assert all("finite seed values" in c.reason for c in claims)


def power_law_seeds(rng, widths, slope, seeds, noise):
    """Per width, `seeds` values width^slope * (1 + noise * standard normal): the log-log slope
    of their expected values against width is exactly `slope`."""
    return {w: w**slope * (1 + noise * rng.standard_normal(seeds)) for w in widths}


def test_bootstrap_interval_covers_a_known_slope_at_about_its_level():
    """200 synthetic width sweeps (20 seeds, 4 widths, true slope -1): the 95 % interval covers
    -1 in 88-99 % of them (the percentile bootstrap under-covers slightly at small samples)."""
    rng = np.random.default_rng(11)
    covered = []
    for _ in range(200):
        per_width = power_law_seeds(rng, [128, 256, 512, 1024], -1.0, 20, 0.2)
        low, high = bootstrap_over_seeds(per_width, seed_mean_slope)["interval"]
        covered.append(low <= -1.0 <= high)
    assert 0.88 <= np.mean(covered) <= 0.99


def test_bootstrap_is_reproducible_and_states_its_level():
    per_width = power_law_seeds(np.random.default_rng(5), [16, 32, 64], -1.0, 3, 0.2)
    first = bootstrap_over_seeds(per_width, seed_mean_slope)
    assert first == bootstrap_over_seeds(per_width, seed_mean_slope)
    assert first["level"] == 0.95 and first["resamples"] == 10_000
    assert first["seeds_per_width"] == [3, 3, 3]
    means = [per_width[w].mean() for w in (16, 32, 64)]
    assert first["estimate"] == pytest.approx(np.polyfit(np.log([16, 32, 64]), np.log(means), 1)[0])
    low, high = first["interval"]
    assert low < first["estimate"] < high


BAND = Tolerance(-1.2, -0.8)
NEGATIVE = Tolerance(high=0.0, strict=True)


@pytest.mark.parametrize(
    ("tolerance", "interval", "verdict", "inconclusive"),
    [
        (BAND, (-1.1, -0.9), "pass", False),  # inside the band
        (BAND, (-1.2, -0.8), "pass", False),  # the closed band's own edges
        (BAND, (-0.7, -0.5), "fail", False),  # wholly above
        (BAND, (-1.5, -1.3), "fail", False),  # wholly below
        (BAND, (-0.9, -0.5), "fail", True),  # straddles -0.8
        (BAND, (-1.5, -0.5), "fail", True),  # wider than the band
        (NEGATIVE, (-2.0, -0.1), "pass", False),
        (NEGATIVE, (-0.5, 0.0), "fail", True),  # touches 0, which the strict range excludes
        (NEGATIVE, (0.0, 1.0), "fail", False),
    ],
)
def test_interval_verdict_inside_outside_straddling(tolerance, interval, verdict, inconclusive):
    got, reason = interval_verdict(tolerance, *interval)
    assert got == verdict
    assert (reason is not None and reason.startswith("inconclusive")) == inconclusive


def test_claim_judged_on_its_interval_reports_it():
    claim = make_claim("F2-drift", -0.85, interval=[-0.9, -0.5], dataset="toy")
    assert claim.measured == -0.85 and claim.interval == [-0.9, -0.5] and claim.level == 0.95
    assert claim.verdict == "fail" and "straddles" in claim.reason  # the estimate alone passes
    doc = json.loads(to_json([claim], {}))
    assert doc["claims"][0]["interval"] == [-0.9, -0.5]


def synthetic_seed_sweep(widths, seeds, slope=-1.0):
    """Results of a width sweep whose NTK drift and F5 errors are power laws width^slope with
    20 % seed noise, and whose top-eigenvector overlaps are 0.99 +- 0.005."""
    rng = np.random.default_rng(4)
    config = toy_width_config(widths, seeds, {"use_bias": True})
    coords = {"eta": ("run", [0.1] * seeds), "beta": ("run", [0.9] * seeds)}
    coords |= {"seed": ("run", np.arange(seeds)), "schedule": ("run", ["constant"] * seeds)}
    coords |= {"mode": [0], "dictionary": ["exact"]}
    ntk, duality = {}, {}
    for w in widths:
        error = w**slope * (1 + 0.2 * rng.standard_normal((4, seeds)))
        checkpoints = np.stack([np.zeros(seeds), error[0]], axis=1)  # drift (run, checkpoint)
        overlap = np.full((seeds, 2), 0.99) + 0.005 * rng.uniform(-1, 1, (seeds, 2))
        ntk[("toy", w)] = xr.Dataset(
            {"drift": (("run", "checkpoint"), checkpoints)}
            | {"overlap_uniform": (("run", "checkpoint"), overlap)},
            coords,
        )
        duality[("toy", w)] = xr.Dataset(
            {
                "residual_own": (("run", "dictionary", "mode"), error[1][:, None, None]),
                "H_fit": (("run", "mode"), (1 + error[2])[:, None]),
                "H_exact": ("run", np.ones(seeds)),
                "m2_fit": (("run", "mode"), (1 + error[3])[:, None]),
                "m2_exact": (("run", "mode"), np.ones((seeds, 1))),
            },
            coords,
        )
    return Results(ntk, {}, duality, {}, config)


def test_seed_claims_on_a_power_law_sweep_pass_with_their_intervals():
    results = synthetic_seed_sweep([64, 128, 256, 512], seeds=8)
    claims = {c.id: c for c in ntk_claims(results) + width_claims(results)}
    assert len(claims) == 6  # F2 overlap and drift, four F5 slopes
    for claim in claims.values():
        assert claim.verdict == "pass", claim
        low, high = claim.interval
        assert low <= claim.measured <= high and claim.level == 0.95
    low, high = claims["F2-drift-toy"].interval
    assert -1.2 <= low < -1.0 < high <= -0.8
    assert claims["F2-overlap-toy"].interval[0] >= 0.95


def test_seed_claims_on_a_flat_sweep_fail():
    results = synthetic_seed_sweep([64, 128, 256, 512], seeds=8, slope=0.5)
    claims = ntk_claims(results) + width_claims(results)
    slopes = [c for c in claims if "overlap" not in c.id]
    assert all(c.verdict == "fail" and c.reason is None for c in slopes)


@pytest.mark.parametrize(
    ("widths", "seeds", "reason"),
    [
        ([64, 128, 256], 1, "only 1 seeds with"),  # one seed: nothing to resample
        ([64, 128], 3, "only 2 widths with"),  # two widths: no slope that can fail
    ],
)
def test_seed_claims_untestable_with_one_seed_or_two_widths(widths, seeds, reason):
    claims = ntk_claims(synthetic_seed_sweep(widths, seeds)) + width_claims(
        synthetic_seed_sweep(widths, seeds)
    )
    slopes = [c for c in claims if "overlap" not in c.id]
    assert len(slopes) == 5
    for claim in slopes:
        assert claim.verdict == "untestable" and reason in claim.reason, claim
        assert claim.measured is None and claim.interval is None
    overlap = next(c for c in claims if "overlap" in c.id)
    assert overlap.verdict == ("untestable" if seeds == 1 else "pass")
