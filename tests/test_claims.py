"""Claims: tolerance texts come from the bounds, and a claim without data is never a pass."""

import json
import math

import numpy as np
import pytest
import xarray as xr

from nncosmo import claims as claims_module
from nncosmo.claims import (
    CLAIMS,
    MIN_DRIFT_STEPS,
    Tolerance,
    background_claims,
    drift_claims,
    history_claims,
    infinite_width_claims,
    interval_verdict,
    lambda_claims,
    make_claim,
    mixing_claims,
    ntk_claims,
    perturbation_claims,
    power_law_claims,
    simulation_claims,
    stability_claims,
    to_json,
    to_table,
    too_few,
    width_claims,
)
from nncosmo.duality import DRIFT_LAWS
from nncosmo.infinite import infinite_width_dictionary
from nncosmo.results import (
    Results,
    bootstrap_over_seeds,
    continuum_h_error,
    equation_of_state,
    nesterov_envelope,
    seed_mean_slope,
    stability_table,
)


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
    # F2 overlap and drift, three F5 slopes: the NTK drift's slope is claimed once, by F2-drift
    assert sorted(claims) == [
        "F2-drift-toy",
        "F2-overlap-toy",
        "F5-toy-background residual (exact)",
        "F5-toy-|H_fit/H_eta - 1|",
        "F5-toy-|m2_fit/m2_eta - 1|",
    ]
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
    assert len(slopes) == 4  # F2-drift, three F5 slopes
    for claim in slopes:
        assert claim.verdict == "untestable" and reason in claim.reason, claim
        assert claim.measured is None and claim.interval is None
    overlap = next(c for c in claims if "overlap" in c.id)
    assert overlap.verdict == ("untestable" if seeds == 1 else "pass")


def mixing_sweep(seeds: int, coupled: float, adiabatic: float, width: int = 256):
    """Results with digits runs at `width` whose perturbation modes a = 1, 2 miss their coupled
    and adiabatic fields by the given fractions of ||r(0)|| (mode 2; mode 1 half of it), times a
    seed factor 1 +- 10 %."""
    config = toy_width_config([width], seeds, {"use_bias": True})
    config["sweeps"]["width"]["datasets"] = ["digits"]
    factor = 1 + np.linspace(-0.1, 0.1, seeds)
    errors = np.array(
        [[0.0, 0.0, 0.0], [0.0, coupled / 2, coupled], [0.0, adiabatic / 2, adiabatic]]
    )
    norm = errors[None] * factor[:, None, None]  # (run, dictionary, mode)
    coords = {"eta": ("run", [0.1] * seeds), "beta": ("run", [0.9] * seeds)}
    coords |= {"seed": ("run", np.arange(seeds)), "mode": [0, 1, 2]}
    coords |= {"schedule": ("run", ["constant"] * seeds)}
    coords |= {"dictionary": ["exact", "coupled", "adiabatic"]}
    duality = xr.Dataset({"residual_norm": (("run", "dictionary", "mode"), norm)}, coords)
    return Results({}, {}, {("digits", width): duality}, {}, config)


def test_mixing_claims_report_the_seed_mean_of_the_worst_mode():
    claims = {c.id: c for c in mixing_claims(mixing_sweep(6, coupled=0.005, adiabatic=0.02))}
    assert claims["F4-coupled-digits"].measured == pytest.approx(0.005)
    assert claims["F4-coupled-digits"].verdict == "pass"
    assert claims["F4-adiabatic-digits"].measured == pytest.approx(0.02)
    assert claims["F4-adiabatic-digits"].verdict == "fail"
    low, high = claims["F4-coupled-digits"].interval
    assert 0.0045 <= low < 0.005 < high <= 0.0055  # within the +-10 % seed spread


@pytest.mark.parametrize(
    ("seeds", "width", "reason"), [(1, 256, "only 1 seeds"), (3, 128, "no digits runs")]
)
def test_mixing_claims_untestable_without_seeds_or_the_width(seeds, width, reason):
    for claim in mixing_claims(mixing_sweep(seeds, 0.005, 0.02, width)):
        assert claim.verdict == "untestable" and reason in claim.reason


def grid_results(etas, betas, h_fit, fit_ok=None, width=64, diverged=()):
    """Results of a grid sweep (one seed) of 'toy' at `width` whose mean-mode fits give
    H_fit = h_fit(eta, beta) (fit_status ok where fit_ok(eta, beta), default everywhere), with
    the dictionaries' H written out: 3H_eta = -ln beta / sqrt eta and
    3H_cont = (1 - beta) / sqrt eta; the runs of index `diverged` diverged."""
    runs = [(e, b) for e in etas for b in betas]
    eta, beta = (np.array(c, dtype=float) for c in zip(*runs, strict=True))
    ok = np.array([True if fit_ok is None else fit_ok(e, b) for e, b in runs])
    coords = {"eta": ("run", eta), "beta": ("run", beta), "seed": ("run", np.zeros(len(runs)))}
    coords |= {"schedule": ("run", ["constant"] * len(runs)), "mode": [0]}
    coords |= {"diverged": ("run", np.isin(np.arange(len(runs)), diverged))}
    duality = xr.Dataset(
        {
            "H_fit": (("run", "mode"), np.array([h_fit(e, b) for e, b in runs])[:, None]),
            "H_exact": ("run", -np.log(beta) / (3 * np.sqrt(eta))),
            "H_continuum": ("run", (1 - beta) / (3 * np.sqrt(eta))),
            "fit_status": (("run", "mode"), np.where(ok, 0, 2)[:, None].astype(np.int8)),
        },
        coords,
    )
    sweep = {"datasets": ["toy"], "widths": [width], "eta": list(etas), "beta": list(betas)}
    config = {
        "model": {"use_bias": True},
        "sweeps": {"grid": sweep | {"seeds": [0]}},
        "figures": {"dataset": "toy", "grid_sweep": "grid", "width_sweep": "grid"}
        | {"reference": {"eta": etas[0], "beta": betas[0]}},
    }
    return Results({}, {}, {("toy", width): duality}, {}, config)


F3_ETAS, F3_BETAS = [0.02, 0.05, 0.1, 0.2, 0.5], [0.5, 0.7, 0.9]


def test_lambda_claims_on_the_exact_hubble_rate():
    """H_fit = H_eta exactly: Lambda = 3 H^2 = (ln beta)^2 / (3 eta), slope -1 at every beta;
    |H_fit / H_eta - 1| = 0; the continuum error (1 - beta) / (-ln beta) - 1 (eta-free) has the
    log-log slope against 1 - beta of docs/figures.md F3 (1.05 on beta = 0.5, 0.7, 0.9)."""
    results = grid_results(F3_ETAS, F3_BETAS, lambda e, b: -np.log(b) / (3 * np.sqrt(e)))
    claims = {c.id: c for c in lambda_claims(results)}
    slope = claims["F3-slope"]
    assert slope.verdict == "pass" and slope.measured == pytest.approx(-1, abs=1e-12)
    assert slope.details["per_beta"] == pytest.approx(dict.fromkeys(F3_BETAS, -1.0), abs=1e-12)
    assert claims["F3-H"].measured == pytest.approx(0, abs=1e-14)
    assert claims["F3-H"].verdict == "pass"
    betas = np.array(F3_BETAS)
    error = np.abs((1 - betas) / -np.log(betas) - 1)
    expected = np.polyfit(np.log(1 - betas), np.log(error), 1)[0]
    assert round(expected, 2) == 1.05
    order = claims["F3-continuum-order"]
    assert order.measured == pytest.approx(expected, rel=1e-12) and order.verdict == "pass"
    np.testing.assert_allclose(order.details["error"], error, rtol=1e-12)


def test_lambda_slope_per_beta_from_good_fits_only():
    """H_fit = H_eta (eta / 0.1)^delta_beta: Lambda_fit ~ eta^(-1 + 2 delta_beta), so the slopes
    are -1, -0.99, -1.04 and the worst, -1.04, fails. Runs whose fit failed (status not ok)
    carry a wrong H_fit (3 H_eta) and must not enter; beta = 0.95, with 2 good fits, has no
    slope."""
    delta = {0.5: 0.0, 0.7: 0.005, 0.9: -0.02, 0.95: 0.0}
    bad = {(0.02, 0.9), (0.5, 0.7), (0.02, 0.95), (0.05, 0.95), (0.1, 0.95)}

    def h_fit(e, b):
        exact = -np.log(b) / (3 * np.sqrt(e))
        return 3 * exact if (e, b) in bad else exact * (e / 0.1) ** delta[b]

    results = grid_results(F3_ETAS, list(delta), h_fit, lambda e, b: (e, b) not in bad)
    slope = next(c for c in lambda_claims(results) if c.id == "F3-slope")
    expected = {b: -1 + 2 * d for b, d in delta.items() if b != 0.95}
    assert slope.details["per_beta"] == pytest.approx(expected, abs=1e-12)
    assert slope.measured == pytest.approx(-1.04, abs=1e-12) and slope.verdict == "fail"


def test_continuum_error_is_the_mean_over_eta_against_the_fitted_rate():
    """H_fit = H_eta (1 + delta_eta), delta = 0, 1, 2, 4, 10 % on eta = 0.02 .. 0.5: with
    R = (1 - beta) / (-ln beta) < 1, |H_cont / H_fit - 1| = 1 - R / (1 + delta_eta), so the
    mean over eta is 1 - R mean(1 / (1 + delta)) per beta (docs/figures.md F3: against the
    network's rate, not H_eta, which gives 1 - R; the median over eta gives 1 - R / 1.02);
    F3-H is the worst |H_fit / H_eta - 1| = 0.1, a fail."""
    delta = dict(zip(F3_ETAS, [0.0, 0.01, 0.02, 0.04, 0.1], strict=True))
    results = grid_results(
        F3_ETAS, F3_BETAS, lambda e, b: -np.log(b) / (3 * np.sqrt(e)) * (1 + delta[e])
    )
    betas = np.array(F3_BETAS)
    shrink = np.mean([1 / (1 + d) for d in delta.values()])
    expected = 1 - (1 - betas) / -np.log(betas) * shrink
    one_minus_beta, error = continuum_h_error(results.grid_runs("duality"))
    np.testing.assert_allclose(one_minus_beta, 1 - betas, rtol=1e-15)
    np.testing.assert_allclose(error, expected, rtol=1e-12)
    claims = {c.id: c for c in lambda_claims(results)}
    np.testing.assert_allclose(claims["F3-continuum-order"].details["error"], expected, rtol=1e-12)
    slope = np.polyfit(np.log(1 - betas), np.log(expected), 1)[0]
    assert claims["F3-continuum-order"].measured == pytest.approx(slope, rel=1e-10)
    assert claims["F3-H"].measured == pytest.approx(0.1, rel=1e-12)
    assert claims["F3-H"].verdict == "fail"


@pytest.mark.parametrize(
    ("continuum", "best", "verdict"),
    [
        ([0.05, 0.3, np.nan, 0.02, 0.1], 0.02, "pass"),  # misses 1 % on every run
        ([0.05, 0.3, np.nan, 0.008, 0.1], 0.008, "fail"),  # one run within 1 %
    ],
    ids=["continuum-misses", "continuum-reaches"],
)
def test_background_claims_worst_run_of_the_images_best_run_of_the_continuum(
    continuum, best, verdict
):
    """F1 (docs/figures.md F1): the exact and adiabatic dictionaries must reach 1 % on every run
    (the largest residual_own of mode 0 reported; run 2 diverged and is not counted), the
    continuum must miss it on every run (the smallest reported): exact max 0.004 passes,
    adiabatic max 0.02 fails, and the continuum passes only if its best run is above 1 %."""
    results = grid_results(F3_ETAS, [0.9], lambda e, b: 1.0, diverged=[2])
    key = next(iter(results.duality))
    own = {
        "exact": [0.001, 0.004, np.nan, 0.002, 0.003],
        "adiabatic": [0.002, 0.009, 0.005, 0.001, 0.02],
        "continuum": continuum,
        "coupled": [0.5] * 5,
    }
    values = np.array(list(own.values())).T[:, :, None]  # (run, dictionary, mode)
    results.duality[key] = results.duality[key].assign(
        residual_own=(("run", "dictionary", "mode"), values), dictionary=list(own)
    )
    claims = {c.id: c for c in background_claims(results)}
    assert list(claims) == ["F1-exact", "F1-adiabatic", "F1-continuum"]
    assert claims["F1-exact"].measured == pytest.approx(0.004)
    assert claims["F1-exact"].verdict == "pass"
    assert claims["F1-adiabatic"].measured == pytest.approx(0.02)
    assert claims["F1-adiabatic"].verdict == "fail"
    assert claims["F1-continuum"].measured == pytest.approx(best)
    assert claims["F1-continuum"].verdict == verdict
    assert list(claims["F1-exact"].details["per_run"]) == [
        f"eta={e:g}, beta=0.9" for k, e in enumerate(F3_ETAS) if k != 2
    ]


def test_a_claim_about_every_run_is_untestable_when_a_run_that_converged_has_no_value():
    """F1-exact and F3-H are about every grid run: a run that did not diverge but has no value
    (a failed fit, NaN) leaves a pass undecided, untestable, naming the run; a fail among the
    measured runs stays a fail. Before, NaN runs were dropped and the rest passed."""
    h_exact = lambda e, b: -np.log(b) / (3 * np.sqrt(e))  # noqa: E731
    h_fit = lambda e, b: np.nan if e == 0.1 else h_exact(e, b)  # noqa: E731
    results = grid_results(F3_ETAS, [0.9], h_fit)
    key = next(iter(results.duality))
    exact = [0.001, 0.004, np.nan, 0.002, 0.003]  # run 2 (eta = 0.1) converged, no value
    adiabatic = [0.001, 0.004, np.nan, 0.002, 0.03]  # a fail among the measured runs
    values = np.array([exact, adiabatic, [0.5] * 5]).T[:, :, None]
    results.duality[key] = results.duality[key].assign(
        residual_own=(("run", "dictionary", "mode"), values),
        dictionary=["exact", "adiabatic", "continuum"],
    )
    claims = {c.id: c for c in background_claims(results) + lambda_claims(results)}
    for claim_id in ("F1-exact", "F3-H"):
        claim = claims[claim_id]
        assert claim.verdict == "untestable" and claim.measured is None, claim
        assert claim.reason.startswith("1 of 5 grid runs have no value (eta=0.1, beta=0.9)")
    assert claims["F1-adiabatic"].verdict == "fail"
    assert claims["F1-adiabatic"].measured == pytest.approx(0.03)
    assert claims["F1-continuum"].verdict == "pass"  # every run measured


def test_drift_law_claim_is_the_median_over_runs_of_each_run_s_worst_mode(monkeypatch):
    """F4-law (docs/figures.md F4): per run the worst mode's out-of-sample unexplained fraction,
    then the median over runs. Runs x modes whose worst modes alternate: worst 0.3, 0.3, 0.3,
    0.3, 0.02 -> median 0.3, a fail at 0.2; the max over modes of the median over runs (0.155)
    and the median of every value (0.02) would pass."""
    per_run = np.array([[0.3, 0.01], [0.01, 0.3], [0.3, 0.01], [0.01, 0.3], [np.nan, 0.02]])
    out = np.stack([per_run, per_run / 10, per_run / 10])  # (law, run, drift_mode)
    monkeypatch.setattr(claims_module, "out_of_sample", lambda grid: out)
    results = grid_results(F3_ETAS, [0.9], lambda e, b: 1.0)
    key = next(iter(results.duality))
    inside = np.full((len(DRIFT_LAWS), len(F3_ETAS), 2), 0.01)
    kappa = np.ones((len(F3_ETAS), MIN_DRIFT_STEPS, 2))
    results.duality[key] = results.duality[key].assign(
        drift_unexplained=(("law", "run", "drift_mode"), inside),
        kappa_measured=(("run", "kappa_step", "drift_mode"), kappa),
        law=list(DRIFT_LAWS),
    )
    claims = {c.id: c for c in drift_claims(results)}
    law = claims[f"F4-law-{DRIFT_LAWS[0]}"]
    assert law.measured == pytest.approx(0.3) and law.verdict == "fail"
    assert claims[f"F4-law-{DRIFT_LAWS[1]}"].measured == pytest.approx(0.03)
    assert claims[f"F4-law-{DRIFT_LAWS[1]}"].verdict == "pass"


def stability_results(runs, other_width_runs=()):
    """Results whose ntk jobs of 'toy' (widths 64 and 128) and of another data set hold runs
    (eta, beta, kappa_0, diverged, schedule) with kappa_0 = lambda_0 / N, N = 4."""

    def job(rows):
        eta, beta, kappa, diverged, schedule = (list(c) for c in zip(*rows, strict=True))
        eigen = np.array(kappa)[:, None, None] * 4 * np.array([1.0, 0.5])  # (run, ckpt, eigen)
        coords = {"eta": ("run", eta), "beta": ("run", beta), "seed": ("run", range(len(eta)))}
        coords |= {"schedule": ("run", schedule), "diverged": ("run", diverged)}
        return xr.Dataset(
            {"eigenvalue": (("run", "checkpoint", "eigen"), eigen)}, coords, {"n_samples": 4}
        )

    ntk = {("toy", 64): job(runs), ("other", 64): job([(0.5, 0.5, 1.0, True, "constant")])}
    if other_width_runs:
        ntk[("toy", 128)] = job(other_width_runs)
    config = toy_width_config([64], 1, {"use_bias": True})
    return Results(ntk, {}, {}, {}, config)


def test_stability_table_counts_runs_by_the_stability_edge():
    """eta = 0.5, beta = 0.5: the edge x = eta kappa_0 = 2 (1 + beta) = 3 (docs/figures.md F6).
    kappa_0 = 6 (x = 3, on the edge) and -0.5 (x < 0) are unstable, 5.98, 2 and 1 stable; a
    Nesterov run and the other data set's run are not counted; the second width's are."""
    runs = [
        (0.5, 0.5, 6.0, True, "constant"),  # on the edge: unstable, diverged
        (0.5, 0.5, -0.5, True, "constant"),  # tachyonic: unstable, diverged
        (0.5, 0.5, 8.0, False, "constant"),  # beyond the edge, converged (catapult)
        (0.5, 0.5, 5.98, False, "constant"),  # alternating: stable, converged
        (0.5, 0.5, 2.0, True, "constant"),  # stable, diverged: contradicts the theory
        (0.5, 0.5, 1.0, True, "nesterov"),  # not a constant schedule: not counted
    ]
    wide = [(0.2, 0.9, 1.0, False, "constant"), (0.2, 0.9, 25.0, True, "constant")]  # edge 3.8
    results = stability_results(runs, wide)
    expected = {
        "predicted_unstable_diverged": 3,
        "predicted_unstable_converged": 1,
        "predicted_stable_diverged": 1,
        "predicted_stable_converged": 2,
        "largest_stable_fraction_of_edge": pytest.approx(0.5 * 5.98 / 3),  # x_0 / 2(1 + beta)
    }
    assert stability_table(results) == expected
    (claim,) = stability_claims(results)
    assert claim.measured == 1 and claim.verdict == "fail" and claim.details == expected
    (claim,) = stability_claims(stability_results(runs[:4] + runs[5:], wide))
    assert claim.measured == 0 and claim.verdict == "pass"


def history_ntk(u, eigenvalue, eta, n_samples=4):
    """One run's ntk-stage dataset: u (step, mode), eigenvalue (checkpoint, eigen), constant eta,
    tau = n sqrt(eta)."""
    steps = np.arange(u.shape[0])
    return xr.Dataset(
        {
            "u": (("step", "mode"), u),
            "eigenvalue": (("checkpoint", "eigen"), eigenvalue),
        },
        {
            "step": steps,
            "mode": np.arange(u.shape[1]),
            "eta_n": ("step", np.full(len(steps), eta)),
            "tau": ("step", np.sqrt(eta) * steps),
        },
        {"n_samples": n_samples},
    )


@pytest.mark.parametrize("frozen", [0.0, 1.0, 2.0])
def test_equation_of_state_of_a_harmonic_and_a_frozen_mode(frozen):
    """Mode 0 u = cos(2 pi n / 40 + 0.3) with kappa_0 = sin(2 pi / 40)^2 / eta, the mass whose
    central-difference velocity has kinetic = potential over whole periods (w = 0; the period
    measured from u_0's zero crossings is 40); mode 1 frozen at u = c with kappa_1 = 0.1
    (kinetic 0: w = -1). Over whole periods <K> = <V_0> = kappa_0 / 4 per step, V_1 =
    kappa_1 c^2 / 2: w = -kappa_1 c^2 / (kappa_0 + kappa_1 c^2)."""
    eta, n = 0.1, np.arange(401)
    kappa = np.array([np.sin(2 * np.pi / 40) ** 2 / eta, 0.1])
    u = np.stack([np.cos(2 * np.pi * n / 40 + 0.3), np.full(n.size, frozen)], axis=1)
    eigenvalue = 4 * np.array([[*kappa, 0.05, 0.01], [*(2 * kappa), 0.1, 0.02]])  # ckpt 1 ignored
    w = equation_of_state(history_ntk(u, eigenvalue, eta))
    expected = -kappa[1] * frozen**2 / (kappa[0] + kappa[1] * frozen**2)
    assert w == pytest.approx(expected, abs=1e-12)


def test_equation_of_state_averages_over_the_oscillation_s_own_periods():
    """u_0 = cos(2 pi n / 45 + 0.3) while kappa_0 = sin(2 pi / 40)^2 / eta says 40 steps (the
    network's frequency is not the NTK's, docs/physics.md §13): over whole 45-step periods
    <K> = sin(2 pi / 45)^2 / (4 eta) and <V> = kappa_0 / 4 exactly; a cut to 40-step periods
    would leave a part period (w off by 0.010 here)."""
    eta, n = 0.1, np.arange(401)
    kappa = np.sin(2 * np.pi / 40) ** 2 / eta
    u = np.cos(2 * np.pi * n / 45 + 0.3)[:, None]
    w = equation_of_state(history_ntk(u, 4 * np.array([[kappa, 0.05]]), eta))
    kinetic = np.sin(2 * np.pi / 45) ** 2 / eta
    assert w == pytest.approx((kinetic - kappa) / (kinetic + kappa), abs=1e-12)


def test_equation_of_state_window_is_the_second_half_s_steps():
    """Mode 0 as in the harmonic test (whole 40-step periods: <K_0> = <V_0> = kappa_0 / 4 per
    step); mode 1 a ramp u = c n, whose central difference is exact: K_1 = c^2 / (2 eta) per
    step, V_1 = kappa_1 c^2 n^2 / 2 at step n. 401 steps: the second half of the 399 interior
    steps, cut to whole periods, is n = 200..399, so w needs V_1 at exactly those steps (a
    window one step off moves w by ~1e-3, which whole periods of a harmonic mode hide)."""
    eta, n, c = 0.1, np.arange(401), 0.01
    kappa = np.array([np.sin(2 * np.pi / 40) ** 2 / eta, 0.1])
    u = np.stack([np.cos(2 * np.pi * n / 40 + 0.3), c * n], axis=1)
    w = equation_of_state(history_ntk(u, 4 * np.array([[*kappa, 0.05]]), eta))
    window = np.arange(200, 400)
    kinetic = window.size * (kappa[0] / 4 + c**2 / (2 * eta))
    potential = window.size * kappa[0] / 4 + kappa[1] * c**2 * np.sum(window**2.0) / 2
    assert w == pytest.approx((kinetic - potential) / (kinetic + potential), abs=1e-12)


def test_nesterov_envelope_slope_of_a_known_power_law():
    """u_0(n) = e^(-gamma tau / 2) tau^(-3/2) cos(pi n / 5), gamma = -ln(1 - eta kappa_0) /
    sqrt(eta): with the friction divided out the peaks of |v| are tau^(-3/2) at n = 5k, slope
    exactly -3/2; kept are those with m tau >= 2 pi (m = sqrt(kappa_0)) and |u_0| >= the floor
    times max |u_0|."""
    eta, kappa, floor = 0.01, 4.0, 1e-6
    n = np.arange(401)
    tau = np.sqrt(eta) * n
    gamma = -np.log(1 - eta * kappa) / np.sqrt(eta)
    t = np.maximum(tau, tau[1])  # u_0(0) = u_0(1) (from rest); tau^(-3/2) finite
    u0 = np.exp(-gamma * t / 2) * t**-1.5 * np.cos(np.pi * np.maximum(n, 1) / 5)
    u = np.stack([u0, 0.1 * u0], axis=1)
    env = nesterov_envelope(history_ntk(u, np.array([[4 * kappa, 1.0, 0.5, 0.1]]), eta), floor)
    assert env["friction"] == pytest.approx(gamma, rel=1e-14)
    peaks = n[(n % 5 == 0) & (tau * np.sqrt(kappa) >= 2 * np.pi)]
    peaks = peaks[np.abs(u0[peaks]) >= floor * np.abs(u0).max()]
    assert 3 <= peaks.size < np.sum((n % 5 == 0) & (n > 0)) - 10  # both cuts remove peaks
    np.testing.assert_allclose(env["tau"], tau[peaks], rtol=1e-14)
    np.testing.assert_allclose(env["envelope"], tau[peaks] ** -1.5, rtol=1e-10)
    assert env["slope"] == pytest.approx(-1.5, abs=1e-10)


def _matter_target(network):
    """A power-law (p = 2/3, m = 1) F8 dataset: target phi = cos(t) / t = a^(-3/2) cos(t), the
    late-time matter solution, and the given network field."""
    t = np.linspace(1.0, 60.0, 6000)
    target = np.cos(t) / t
    return xr.Dataset(
        {
            "phi_network": ("t", network(t, target)),
            "phi_target": ("t", target),
            "H": ("t", (2 / 3) / t),
            "a": ("t", t ** (2 / 3)),
        },
        coords={"t": t},
        attrs={"mass": 1.0, "background": "power_law", "phi0": target[0]},
    )


def test_power_law_claims_fail_a_network_that_never_oscillates():
    """The target crosses zero and decays through its late extrema: a network field that follows
    it passes F8-onset and F8-decay; one that never crosses zero fails both (the data test them,
    the quantity does not exist), with the reason and no measured value, never untestable."""
    follows = power_law_claims("matter", _matter_target(lambda t, target: target))
    assert [c.verdict for c in follows] == ["pass", "pass"], follows
    frozen = power_law_claims("matter", _matter_target(lambda t, target: 1.0 + 0 * t))
    for claim in frozen:
        assert claim.verdict == "fail" and claim.measured is None and claim.reason, claim


def test_f8_panel_shows_the_decay_claims_number_or_verdict():
    """F8's panel text (`figures._measured_text`) takes F8-decay from the claim: the slope where
    it has one, its verdict (fail) where the network's field has no late extrema."""
    from nncosmo.figures import _measured_text

    follows = _measured_text(_matter_target(lambda t, target: target))
    slope = power_law_claims("matter", _matter_target(lambda t, target: target))[1].measured
    assert f"a$^{{{slope:.3f}}}$" in follows  # mathtext: a to the power slope
    assert "a^?: fail" in _measured_text(_matter_target(lambda t, target: 1.0 + 0 * t))


def _de_sitter_mode(t, hubble, mass):
    """phi'' + 3 H phi' + m^2 phi = 0 from phi(0) = 1, phi'(0) = 0 (underdamped, m > 3H/2):
    e^(-3Ht/2) [cos(w t) + 3H / (2w) sin(w t)], w^2 = m^2 - 9H^2/4."""
    w = np.sqrt(mass**2 - 2.25 * hubble**2)
    return np.exp(-1.5 * hubble * t) * (np.cos(w * t) + 1.5 * hubble / w * np.sin(w * t))


@pytest.mark.parametrize(
    ("network_h", "network_mass", "worst"),
    [
        (0.2, 1.5 * 1.02, 1.02**2 - 1),  # right H, m^2 off by 4.04 %
        (0.2 * 1.03, 1.5, 0.03),  # H off by 3 %, right m^2
        (0.2 * 1.003, 1.5, 0.003),  # H off by 0.3 %: passed the former 1 % bound
        (0.2, 1.5, 0.0),  # the target's own field
    ],
    ids=["wrong-mass", "wrong-hubble", "slightly-wrong-hubble", "target"],
)
def test_de_sitter_simulation_claim_is_the_worse_of_h_and_m2(network_h, network_mass, worst):
    """F8-de-sitter (docs/figures.md F8): a Prony fit recovers (H, m^2) of a sampled de Sitter
    mode exactly (its samples obey the two-term recursion with roots e^(s+- dt), s+ s- = m^2,
    s+ + s- = -3H); the claim is max(|H_fit / H - 1|, |m2_fit / m^2 - 1|) against the target's
    H = 0.2, m = 1.5, so a network field with the right H and a wrong mass fails."""
    t = np.arange(1001) * 0.015
    target = _de_sitter_mode(t, 0.2, 1.5)
    ds = xr.Dataset(
        {
            "phi_network": ("step", _de_sitter_mode(t, network_h, network_mass)),
            "phi_target": ("step", target),
        },
        coords={"t": ("step", t)},
        attrs={"background": "de_sitter", "background_H": 0.2, "mass": 1.5, "dt": 0.015}
        | {"phi0": 1.0, "kappa_drift": 0.0},
    )
    config = toy_width_config([64], 1, {"use_bias": True})
    claims = {c.id: c for c in simulation_claims(Results({}, {}, {}, {}, config, {"ds": ds}))}
    assert list(claims) == ["F8-field-ds", "F8-de-sitter-ds"]
    claim = claims["F8-de-sitter-ds"]
    assert claim.measured == pytest.approx(worst, abs=1e-9)
    assert claim.verdict == ("pass" if worst <= 1e-3 else "fail")
    assert claim.details["H_fit"] == pytest.approx(network_h, rel=1e-9)
    assert claim.details["m2_fit"] == pytest.approx(network_mass**2, rel=1e-9)


def test_finite_estimate_with_a_non_finite_interval_end_is_untestable():
    """An interval [NaN, -0.5] (a bootstrap with no finite resamples at one end) cannot judge the
    claim, however finite the estimate: untestable, with neither value reported."""
    claim = make_claim("F2-drift", -0.85, interval=[math.nan, -0.5], dataset="toy")
    assert claim.verdict == "untestable" and claim.measured is None and claim.interval is None


def test_power_law_decay_fails_a_network_with_too_few_late_extrema():
    """The network follows the matter target cos(t) / t up to t = 4.5 pi and is zero after: the
    late era (H = 2 / (3t) <= m / 10, t >= 20 / 3) then holds its |phi| peaks at t = 3 pi and
    4 pi only, two, fewer than the MIN_DECAY_EXTREMA = 3 a log-log fit needs to be able to fail,
    while the target has many: F8-decay fails (the data test it), F8-onset (first zero at
    pi / 2) passes."""
    net = _matter_target(lambda t, target: np.where(t < 4.5 * np.pi, target, 0.0))
    onset, decay = power_law_claims("matter", net)
    assert onset.verdict == "pass"
    assert decay.verdict == "fail" and decay.measured is None, decay
    assert decay.reason.startswith("the network's field has 2 extrema"), decay.reason


def test_f7_friedmann_claim_compares_with_the_continuum_history():
    """A friedmann history run whose network u_0 equals its continuum (field + Friedmann)
    history exactly and lies 0.5 off its exact image (u_0(0) = 1): F7-Friedmann measures
    sup |u_0 - phi_continuum| / |u_0(0)| = 0 and passes, while F7-background (the exact image)
    measures 0.5 / 1 = 0.5."""
    from types import SimpleNamespace

    steps = np.arange(200)
    u = np.stack([np.cos(0.3 * steps), 0.1 * np.cos(0.2 * steps)], axis=1)
    ntk = history_ntk(u, np.array([[4 * 9.0, 4 * 4.0]]), 0.01)
    ntk = ntk.assign_coords(schedule="friedmann planck_mass=1")
    cosmo = xr.Dataset(
        {"history_field": (("history", "step", "mode"), np.stack([u + 0.5, u]))},
        {"history": ["exact", "continuum"], "step": steps, "mode": [0, 1]},
    )
    duality = xr.Dataset(
        {
            "window_status": ("window", [0]),
            "H_window": ("window", [1.0]),
            "H_window_history": ("window", [1.0]),
            "window_tau": ("window", [1.0]),
        }
    )
    stages = {"ntk": {"fr": ntk}, "cosmology": {"fr": cosmo}, "duality": {"fr": duality}}
    results = SimpleNamespace(
        history_runs=lambda stage: stages[stage], config={"duality": {"fit_rel_floor": 1e-3}}
    )
    claims = {c.id: c for c in history_claims(results)}
    assert claims["F7-background"].measured == pytest.approx(0.5)
    assert claims["F7-Friedmann"].measured == 0.0 and claims["F7-Friedmann"].verdict == "pass"


def _radiation_simulation(settings: str) -> xr.Dataset:
    """An F8 radiation target (a ∝ t^(1/2), m = 1, t0 = 0.05, span 30, 1500 steps) and, as the
    "network", the recursion u(n+1) = u(n) + beta_n (u(n) - u(n-1)) - x_n u(n) with lattice
    settings from H at the step's start (`exact`), at its middle, or from the continuum
    dictionary beta = 1 - 3 H dt, x = m^2 dt^2. The target is the closed form regular at t = 0,
    phi = (m t)^(-1/4) J_(1/4)(m t), which also gives u(-1) = phi(t0 - dt)."""
    from scipy.special import jv

    from nncosmo.theory import lattice_settings

    p, m, t0, dt, steps = 0.5, 1.0, 0.05, 0.02, 1500
    t = t0 + dt * np.arange(-1, steps + 1)
    phi = (m * t) ** -0.25 * jv(0.25, m * t)
    hubble = p / (t[1:-1] + (dt / 2 if settings == "midpoint" else 0))  # H of each step
    if settings == "continuum":
        beta, x = 1 - 3 * hubble * dt, np.full(steps, (m * dt) ** 2)
    else:
        beta, x = lattice_settings(hubble, m**2, dt)
    u = [phi[0], phi[1]]
    for n in range(steps):
        u.append(u[-1] + beta[n] * (u[-1] - u[-2]) - x[n] * u[-1])
    return xr.Dataset(
        {
            "phi_network": ("step", np.array(u[1:])),
            "phi_target": ("step", phi[1:]),
            "H": ("step", p / t[1:]),
            "a": ("step", (t[1:] / t0) ** p),
        },
        coords={"t": ("step", t[1:])},
        attrs={"background": "power_law", "mass": m, "phi0": phi[1], "kappa_drift": 0.0},
    )


@pytest.mark.parametrize(
    ("settings", "verdict"),
    [("exact", "pass"), ("midpoint", "fail"), ("continuum", "fail")],
)
def test_f8_field_tells_the_exact_settings_from_first_order_errors(settings, verdict):
    """F8-field (docs/figures.md F8) must fail settings wrong at first order in H dt: the former
    1 % bound passed the continuum dictionary's settings (4.2e-3 on this radiation target) and H
    taken mid-step (4.7e-3). The exact settings' error is the lattice's, second order in dt
    (8.4e-5 here); the 0.1 % bound separates them."""
    config = toy_width_config([64], 1, {"use_bias": True})
    simulation = {"r": _radiation_simulation(settings)}
    field = simulation_claims(Results({}, {}, {}, {}, config, simulation))[0]
    assert field.id == "F8-field-r" and field.verdict == verdict, field
    if settings == "exact":
        assert field.measured < 3e-4
    else:
        assert 2e-3 < field.measured < 1e-2  # passed the former 1 % bound


def test_a_claim_whose_pass_the_construction_sets_says_so_in_every_output():
    """F3-slope passes for any heavy-ball run whose fitted momentum is eta-independent (Lambda
    eta = (ln beta)^2 / 3 is an identity): its caveat travels with the claim into claims.json
    and claims.tsv; a claim without one (F3-H) has an empty caveat column."""
    slope, ratio = make_claim("F3-slope", -1.0), make_claim("F3-H", 0.001, width=64)
    assert "identity of the dictionary" in slope.caveat and ratio.caveat is None
    doc = json.loads(to_json([slope, ratio], {}))
    assert [c["caveat"] for c in doc["claims"]] == [slope.caveat, None]
    header, *rows = to_table([slope, ratio]).splitlines()
    assert header.split("\t")[-1] == "caveat"
    assert [row.split("\t")[-1] for row in rows] == [slope.caveat, ""]


def test_grid_runs_without_an_exact_image_or_that_diverged_are_left_out_and_named():
    """A run beyond the alternating bound has no real exact image (H_eta NaN) and a diverged run
    no field: claims about every grid run are not about them (F3-H passes on the others, not
    untestable) and name them in `left_out`."""
    h_exact = lambda e, b: -np.log(b) / (3 * np.sqrt(e))  # noqa: E731
    results = grid_results(F3_ETAS, [0.9], lambda e, b: 1.001 * h_exact(e, b), diverged=[0])
    key = next(iter(results.duality))
    grid = results.duality[key]
    no_image = grid.H_exact.values.copy()
    no_image[4] = np.nan  # eta = 0.5: no real image
    results.duality[key] = grid.assign(H_exact=("run", no_image))
    claim = next(c for c in lambda_claims(results) if c.id == "F3-H")
    assert claim.verdict == "pass" and claim.measured == pytest.approx(1e-3)
    assert claim.details["left_out"] == ["eta=0.02, beta=0.9", "eta=0.5, beta=0.9"]


@pytest.mark.parametrize(("offset", "verdict"), [(0.004, "untestable"), (0.02, "fail")])
def test_f7_claims_about_every_history_are_untestable_when_one_has_no_value(offset, verdict):
    """Two constant-schedule histories: 'a' lies `offset` off its exact image and has one
    resolved window 1 % off; 'b' has no exact image (NaN everywhere) and no resolved window.
    F7-background and F7-H are about every history: with 'a' within their bounds they cannot
    pass and are untestable, naming 'b'; with 'a' off by 2 % F7-background fails regardless."""
    from types import SimpleNamespace

    steps = np.arange(50)
    u = np.stack([np.cos(0.3 * steps), 0.1 * np.cos(0.2 * steps)], axis=1)
    ntk = history_ntk(u, np.array([[36.0, 16.0]]), 0.01).assign_coords(schedule="constant")
    field = {"a": u + offset, "b": np.full_like(u, np.nan)}
    cosmo = {
        name: xr.Dataset(
            {"history_field": (("history", "step", "mode"), np.stack([f, f]))},
            {"history": ["exact", "continuum"], "step": steps, "mode": [0, 1]},
        )
        for name, f in field.items()
    }
    status = {"a": 0, "b": 2}  # b's one window below the signal floor: not resolved
    duality = {
        name: xr.Dataset(
            {
                "window_status": ("window", [code]),
                "H_window": ("window", [1.01]),
                "H_window_history": ("window", [1.0]),
                "window_tau": ("window", [1.0]),
            }
        )
        for name, code in status.items()
    }
    stages = {"ntk": {"a": ntk, "b": ntk}, "cosmology": cosmo, "duality": duality}
    results = SimpleNamespace(
        history_runs=lambda stage: stages[stage], config={"duality": {"fit_rel_floor": 1e-3}}
    )
    claims = {c.id: c for c in history_claims(results)}
    background = claims["F7-background"]
    assert background.verdict == verdict, background
    if verdict == "untestable":
        assert background.reason.startswith("1 of 2 histories have no value (b)")
        assert claims["F7-H"].verdict == "untestable"
        assert "(b)" in claims["F7-H"].reason
    else:
        assert background.measured == pytest.approx(0.02)


@pytest.mark.parametrize(
    ("norms", "verdict", "measured"),
    [
        ([0.001, 0.004, 0.002], "pass", 0.004),  # worst mode a > 0 within 1 % of ||r(0)||
        ([0.001, 0.02, 0.002], "fail", 0.02),
        ([0.001, np.nan, 0.002], "untestable", None),  # mode a = 2 has no value
        ([0.001, np.nan, 0.02], "fail", 0.02),  # a measured mode already fails
    ],
)
def test_f4_modes_claim_is_about_every_mode_above_the_mean(norms, verdict, measured):
    """F4-modes (docs/figures.md F4): the worst error / ||r(0)|| over the modes a > 0 of the
    reference run (mode 0, the background, is F1's): a mode without a value leaves a pass
    undecided, naming it."""
    results = grid_results(F3_ETAS, [0.9], lambda e, b: 1.0)
    key = next(iter(results.duality))
    grid = results.duality[key].drop_vars(["H_fit", "fit_status", "mode"])
    runs = grid.sizes["run"]
    norm = np.zeros((runs, 1, 4))
    norm[0, 0] = [0.5, *norms]  # the reference run (eta = 0.02, beta = 0.9); mode 0 ignored
    results.duality[key] = grid.assign(
        residual_norm=(("run", "dictionary", "mode"), norm),
        residual_own=(("run", "dictionary", "mode"), 10 * norm),
    ).assign_coords(mode=[0, 1, 2, 3], dictionary=["exact"])
    claim = next(c for c in perturbation_claims(results) if c.id == "F4-modes")
    assert claim.verdict == verdict and claim.measured == (measured and pytest.approx(measured))
    if verdict == "untestable":
        assert claim.reason.startswith("1 of 3 modes have no value (a=2)")
