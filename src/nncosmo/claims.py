"""Stage 7, claims: every claim of FIGURES.md measured on the results, with tolerance and verdict.

The measurement functions here are shared with `nncosmo.figures`, so a figure annotates exactly
the number that results/claims.json checks.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

import numpy as np
import xarray as xr

from nncosmo.config import run_matches, sweep_runs


@dataclass
class Claim:
    """One checked statement: measured value, tolerance (as text and as a bound), verdict."""

    id: str
    figure: str
    statement: str
    measured: float | list | None
    tolerance: str
    passed: bool
    details: dict = field(default_factory=dict)


class Results:
    """The per-(dataset, width) datasets of the ntk, cosmology and duality stages, with the
    selections the figures and claims share."""

    def __init__(self, ntk: dict, cosmology: dict, duality: dict, config: dict):
        self.ntk, self.cosmology, self.duality, self.config = ntk, cosmology, duality, config
        fig = config["figures"]
        self.dataset = fig["dataset"]
        self.grid = config["sweeps"][fig["grid_sweep"]]
        self.width_sweep = config["sweeps"][fig["width_sweep"]]
        self.grid_width = max(self.grid["widths"])
        self.reference = fig["reference"]

    @classmethod
    def load(cls, inputs, config: dict) -> Results:
        """Read the per-job files named by a rule's `input.ntk`, `.cosmology`, `.duality`."""
        from nncosmo.io import load_stage

        stages = (load_stage(getattr(inputs, s)) for s in ("ntk", "cosmology", "duality"))
        return cls(*stages, config)

    def select(self, stage: str, dataset: str, width: int, runs: list[dict]) -> xr.Dataset:
        """The runs of one job that match `runs` (eta, beta, seed), in that order."""
        ds = getattr(self, stage)[(dataset, width)]
        keys = list(zip(ds.eta.values, ds.beta.values, ds.seed.values, strict=True))
        index = [keys.index((r["eta"], r["beta"], r["seed"])) for r in runs]
        return ds.isel(run=index)

    def grid_runs(self, stage: str) -> xr.Dataset:
        """The grid sweep's runs (first seed) at its largest width."""
        runs = [r for r in sweep_runs(self.grid) if r["seed"] == min(self.grid["seeds"])]
        return self.select(stage, self.dataset, self.grid_width, runs)

    def reference_run(self, stage: str) -> xr.Dataset:
        """The reference (eta, beta) run of the grid sweep (first seed)."""
        grid = self.grid_runs(stage)
        index = [
            i
            for i, (e, b) in enumerate(zip(grid.eta.values, grid.beta.values, strict=True))
            if run_matches({"eta": e, "beta": b}, self.reference)
        ]
        return grid.isel(run=index[0])

    def width_runs(self, stage: str, dataset: str) -> dict[int, xr.Dataset]:
        """The width sweep's runs of `dataset`, keyed by width."""
        runs = sweep_runs(self.width_sweep)
        return {w: self.select(stage, dataset, w, runs) for w in self.width_sweep["widths"]}

    def all_runs(self, stage: str) -> list[xr.Dataset]:
        """Every job of the figures' data set."""
        return [ds for (d, _), ds in sorted(getattr(self, stage).items()) if d == self.dataset]


def loglog_slope(x, y) -> float:
    """Least-squares slope of log y against log x."""
    return float(np.polyfit(np.log(x), np.log(y), 1)[0])


def width_means(results: Results, dataset: str, quantity) -> tuple[np.ndarray, np.ndarray]:
    """Widths and the seed-mean of quantity(duality_ds, ntk_ds) -> (run,) over the width sweep."""
    duality = results.width_runs("duality", dataset)
    ntk = results.width_runs("ntk", dataset)
    widths = np.array(sorted(duality))
    return widths, np.array([np.nanmean(quantity(duality[w], ntk[w])) for w in widths])


WIDTH_ERRORS = {
    "background residual (exact)": lambda d, n: d.residual_own.sel(dictionary="exact", mode=0),
    "|H_fit/H_eta - 1|": lambda d, n: np.abs(d.H_fit.sel(mode=0) / d.H_exact - 1),
    "|m2_fit/m2_eta - 1|": lambda d, n: np.abs(d.m2_fit.sel(mode=0) / d.m2_exact.sel(mode=0) - 1),
    "NTK drift": lambda d, n: n.drift.isel(checkpoint=-1),
}


def lambda_slopes(grid: xr.Dataset) -> dict[float, float]:
    """Per beta: log-log slope of Lambda_fit = 3 H_fit^2 against eta (mode 0, good fits)."""
    slopes = {}
    for beta in np.unique(grid.beta.values):
        sel = grid.isel(run=(grid.beta.values == beta) & (grid.fit_status.sel(mode=0).values == 0))
        if sel.sizes["run"] >= 2:
            slopes[float(beta)] = loglog_slope(sel.eta.values, 3 * sel.H_fit.sel(mode=0) ** 2)
    return slopes


def continuum_h_error(grid: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Per beta: 1 - beta and the mean |H_continuum / H_fit - 1| over eta (mode 0)."""
    err = np.abs(grid.H_continuum / grid.H_fit.sel(mode=0) - 1)
    betas = np.unique(grid.beta.values)
    return 1 - betas, np.array([np.nanmean(err.values[grid.beta.values == b]) for b in betas])


def stability_table(results: Results) -> dict:
    """Runs whose divergence disagrees with eta lambda_0/N > 2(1 + beta), and catapult runs."""
    rows = {
        "predicted_unstable_diverged": 0,
        "predicted_stable_diverged": 0,
        "predicted_unstable_converged": 0,
        "predicted_stable_converged": 0,
    }
    for ntk in results.all_runs("ntk"):
        x = ntk.eta * ntk.eigenvalue.isel(checkpoint=0, eigen=0) / ntk.attrs["n_samples"]
        unstable = (x > 2 * (1 + ntk.beta)).values
        for u, d in zip(unstable, ntk.diverged.values, strict=True):
            key = ("predicted_unstable" if u else "predicted_stable") + (
                "_diverged" if d else "_converged"
            )
            rows[key] += 1
    return rows


def check(value: float, low: float, high: float) -> bool:
    """low <= value <= high, False for NaN."""
    return bool(np.isfinite(value) and low <= value <= high)


def background_claims(results: Results) -> list[Claim]:
    """F1: exact dictionary within 1 % of the network; continuum beyond that tolerance."""
    grid = results.grid_runs("duality")
    own = grid.residual_own.sel(mode=0)
    exact, cont = own.sel(dictionary="exact").values, own.sel(dictionary="continuum").values
    per_run = {
        f"eta={e:g}, beta={b:g}": {"exact": float(x), "continuum": float(c)}
        for e, b, x, c in zip(grid.eta.values, grid.beta.values, exact, cont, strict=True)
    }
    w = results.grid_width
    return [
        Claim(
            "F1-exact",
            "F1",
            f"width {w}: network u_0 and exact-dictionary field agree to "
            "<= 1 % (sup-norm / |u_0(0)|) on every grid run",
            float(np.nanmax(exact)),
            "<= 0.01",
            check(np.nanmax(exact), 0, 0.01),
            {"per_run": per_run, "median": float(np.nanmedian(exact))},
        ),
        Claim(
            "F1-continuum",
            "F1",
            "the continuum dictionary misses that 1 % tolerance on every "
            "grid run (smallest residual reported)",
            float(np.nanmin(cont)),
            "> 0.01",
            bool(np.nanmin(cont) > 0.01),
            {"per_run": per_run},
        ),
    ]


def ntk_claims(results: Results) -> list[Claim]:
    """F2: mean-field overlap >= 0.95; NTK drift slope against width in [-1.2, -0.8]."""
    claims = []
    for dataset in results.width_sweep["datasets"]:
        ntk = results.width_runs("ntk", dataset)
        overlap = min(float(ds.overlap_uniform.isel(checkpoint=0).min()) for ds in ntk.values())
        widths, drift = width_means(results, dataset, WIDTH_ERRORS["NTK drift"])
        slope = loglog_slope(widths, drift)
        claims += [
            Claim(
                f"F2-overlap-{dataset}",
                "F2",
                f"{dataset}: top NTK eigenvector overlaps the "
                "uniform vector by >= 0.95 at initialisation (minimum over widths and seeds)",
                overlap,
                ">= 0.95",
                check(overlap, 0.95, 1.0),
            ),
            Claim(
                f"F2-drift-{dataset}",
                "F2",
                f"{dataset}: relative NTK drift over training "
                "scales like width^-1 (fitted log-log slope)",
                slope,
                "in [-1.2, -0.8]",
                check(slope, -1.2, -0.8),
                {"widths": widths.tolist(), "drift": drift.tolist()},
            ),
        ]
    return claims


def lambda_claims(results: Results) -> list[Claim]:
    """F3: Lambda ∝ 1/eta; H_fit/H_eta within 1 %; continuum error grows like (1 - beta)."""
    grid = results.grid_runs("duality")
    slopes = lambda_slopes(grid)
    worst = max(slopes.values(), key=lambda s: abs(s + 1))
    ratio = np.abs(grid.H_fit.sel(mode=0) / grid.H_exact - 1).values
    one_minus_beta, err = continuum_h_error(grid)
    order = loglog_slope(one_minus_beta, err)
    return [
        Claim(
            "F3-slope",
            "F3",
            "log-log slope of Lambda_fit = 3 H_fit^2 against eta is -1 (worst beta reported)",
            worst,
            "-1 +- 0.02",
            check(worst, -1.02, -0.98),
            {"per_beta": slopes},
        ),
        Claim(
            "F3-H",
            "F3",
            f"width {results.grid_width}: |H_fit / H_eta - 1| <= 1 % on every "
            "grid run (worst reported)",
            float(np.nanmax(ratio)),
            "<= 0.01",
            check(np.nanmax(ratio), 0, 0.01),
            {"median": float(np.nanmedian(ratio))},
        ),
        Claim(
            "F3-continuum-order",
            "F3",
            "continuum dictionary's H error grows like (1 - beta): "
            "log-log slope of |H_cont/H_fit - 1| against 1 - beta",
            order,
            "in [0.8, 1.2]",
            check(order, 0.8, 1.2),
            {"one_minus_beta": one_minus_beta.tolist(), "error": err.tolist()},
        ),
    ]


def perturbation_claims(results: Results) -> list[Claim]:
    """F4: modes a > 0 follow their fields; NTK drift against the de Sitter redshift law."""
    ref = results.reference_run("duality")
    modes = ref.mode.values[1:]
    norm = ref.residual_norm.sel(dictionary="exact", mode=modes).values
    own = ref.residual_own.sel(dictionary="exact", mode=modes).values
    unexplained = ref.redshift_rel_residual.sel(mode=ref.mode.values[:5]).values
    return [
        Claim(
            "F4-modes",
            "F4",
            "reference run: perturbation modes a > 0 follow the exact-"
            "dictionary fields to <= 1 % of the whole residual norm (worst mode)",
            float(np.nanmax(norm)),
            "<= 0.01",
            check(np.nanmax(norm), 0, 0.01),
            {"relative_to_norm": norm.tolist(), "relative_to_own_size": own.tolist()},
        ),
        Claim(
            "F4-redshift",
            "F4",
            "reference run: the drift of lambda_a/N (a < 5) follows the de "
            "Sitter redshift M^2 + k^2 exp(-2 H t) (largest unexplained fraction)",
            float(np.nanmax(unexplained)),
            "<= 0.1",
            check(np.nanmax(unexplained), 0, 0.1),
            {"unexplained_fraction": unexplained.tolist()},
        ),
    ]


def width_claims(results: Results) -> list[Claim]:
    """F5: every EFT error decreases monotonically with width (seed means)."""
    claims = []
    for dataset in results.width_sweep["datasets"]:
        for name, quantity in WIDTH_ERRORS.items():
            widths, values = width_means(results, dataset, quantity)
            monotone = bool(np.all(np.diff(values) < 0))
            claims.append(
                Claim(
                    f"F5-{dataset}-{name}",
                    "F5",
                    f"{dataset}: {name} decreases monotonically with width (seed means)",
                    values.tolist(),
                    "strictly decreasing",
                    monotone,
                    {"widths": widths.tolist()},
                )
            )
    return claims


def stability_claims(results: Results) -> list[Claim]:
    """F6: a run diverges only where PHYSICS.md §5 predicts instability."""
    table = stability_table(results)
    wrong = table["predicted_stable_diverged"]
    return [
        Claim(
            "F6-stability",
            "F6",
            "no run diverges inside the predicted stable region "
            "eta lambda_0/N < 2(1 + beta) (runs beyond it that converge are catapults)",
            wrong,
            "== 0",
            wrong == 0,
            table,
        )
    ]


CLAIM_SETS = (
    background_claims,
    ntk_claims,
    lambda_claims,
    perturbation_claims,
    width_claims,
    stability_claims,
)


def all_claims(results: Results) -> list[Claim]:
    """Every claim of FIGURES.md, measured."""
    return [claim for claim_set in CLAIM_SETS for claim in claim_set(results)]


def to_json(claims: list[Claim], provenance: dict) -> str:
    """claims.json: the claims, a pass count and the provenance."""
    doc = {
        "passed": sum(c.passed for c in claims),
        "total": len(claims),
        "claims": [asdict(c) for c in claims],
        "provenance": provenance,
    }
    return json.dumps(doc, indent=2, default=_jsonable)


def _jsonable(value):
    """numpy scalars and arrays as plain JSON values."""
    return value.tolist() if hasattr(value, "tolist") else str(value)


def to_table(claims: list[Claim]) -> str:
    """Tab-separated table: id, figure, verdict, measured, tolerance, statement."""
    rows = ["id\tfigure\tverdict\tmeasured\ttolerance\tstatement"]
    for c in claims:
        measured = json.dumps(c.measured, default=_jsonable)
        rows.append(
            f"{c.id}\t{c.figure}\t{'PASS' if c.passed else 'FAIL'}\t{measured}\t"
            f"{c.tolerance}\t{c.statement}"
        )
    return "\n".join(rows) + "\n"
