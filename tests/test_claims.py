"""Claims: tolerance texts come from the bounds, and a claim without data is never a pass."""

import json
import math

import pytest

from nncosmo.claims import CLAIMS, Tolerance, make_claim, to_json, too_few


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
