"""The pipeline's results as figures and claims read them, and the measurements both share.

`Results` loads the per-job files of the ntk, cosmology and duality stages and selects the runs
a figure or claim is about; the functions below compute the quantities that a figure draws and a
claim checks, so the number annotated in a figure is the number in results/claims.json.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from nncosmo.config import run_matches, sweep_runs
from nncosmo.io import load_stage
from nncosmo.theory import REGIMES, cosmological_constant, regime

STAGES = ("ntk", "cosmology", "duality")
MIN_SLOPE_POINTS = 3  # a fitted slope through fewer points cannot fail its power law


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
        return cls(*(load_stage(getattr(inputs, s)) for s in STAGES), config)

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


def good_fits(grid: xr.Dataset) -> np.ndarray:
    """Runs whose mean-mode Prony fit succeeded (fit_status ok)."""
    return grid.fit_status.sel(mode=0).values == 0


def lambda_slopes(grid: xr.Dataset) -> dict[float, float]:
    """Per beta with >= MIN_SLOPE_POINTS good fits: log-log slope of Lambda_fit against eta."""
    slopes = {}
    for beta in np.unique(grid.beta.values):
        sel = grid.isel(run=(grid.beta.values == beta) & good_fits(grid))
        if sel.sizes["run"] >= MIN_SLOPE_POINTS:
            lam = cosmological_constant(sel.H_fit.sel(mode=0).values)
            slopes[float(beta)] = loglog_slope(sel.eta.values, lam)
    return slopes


def continuum_h_error(grid: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Per beta: 1 - beta and the mean |H_continuum / H_fit - 1| over eta (mode 0)."""
    err = np.abs(grid.H_continuum / grid.H_fit.sel(mode=0) - 1)
    betas = np.unique(grid.beta.values)
    return 1 - betas, np.array([np.nanmean(err.values[grid.beta.values == b]) for b in betas])


def initial_kappa(ntk: xr.Dataset) -> np.ndarray:
    """kappa_0 = lambda_0 / N of every run at initialisation."""
    return ntk.eigenvalue.isel(checkpoint=0, eigen=0).values / ntk.attrs["n_samples"]


def predicted_unstable(ntk: xr.Dataset) -> np.ndarray:
    """Runs whose mean mode `theory.regime` calls unstable at initialisation."""
    code = regime(ntk.eta.values, ntk.beta.values, initial_kappa(ntk))
    return code == REGIMES.index("unstable")


def stability_table(results: Results) -> dict:
    """Counts of runs by predicted stability (theory.regime at init) and by divergence."""
    rows = {
        f"predicted_{p}_{o}": 0 for p in ("unstable", "stable") for o in ("diverged", "converged")
    }
    for ntk in results.all_runs("ntk"):
        for unstable, diverged in zip(predicted_unstable(ntk), ntk.diverged.values, strict=True):
            key = "predicted_" + ("unstable" if unstable else "stable")
            rows[key + ("_diverged" if diverged else "_converged")] += 1
    return rows
