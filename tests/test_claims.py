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
    make_claim,
    to_json,
    too_few,
)
from nncosmo.infinite import infinite_width_dictionary
from nncosmo.results import Results


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


def synthetic_width_sweep(widths, deviation, slope, spread, seeds=4):
    """Results of a width sweep (teacher-like x, erf, depth 2) whose kappa_0 at init and m2_fit
    are the analytic infinite-width values times 1 + deviation + slope / width + a seed offset
    in {-spread, ..., +spread} (mean zero)."""
    config = {
        "model": {"depth": 2, "activation": "erf", "bias_std": 1.0, "use_bias": True},
        "sweeps": {
            "width": {
                "datasets": ["toy"],
                "widths": widths,
                "eta": [0.1],
                "beta": [0.9],
                "seeds": list(range(seeds)),
            }
        },
        "figures": {"dataset": "toy", "grid_sweep": "width", "width_sweep": "width"}
        | {"reference": {"eta": 0.1, "beta": 0.9}},
    }
    x = np.random.default_rng(3).standard_normal((16, 4))
    exact = infinite_width_dictionary(config["model"], x, 0.1, 0.9)
    kappa, m2 = exact["kappa"][0], exact["m2"][0]
    run = {"eta": ("run", [0.1] * seeds), "beta": ("run", [0.9] * seeds)}
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
