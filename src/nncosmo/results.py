"""The pipeline's results as figures and claims read them, and the measurements both share.

`Results` loads the per-job files of the ntk, cosmology and duality stages (and the data sets'
inputs x, for the infinite-width kernel) and selects the runs a figure or claim is about; the
functions below compute the quantities that a figure draws and a claim checks, so the number
annotated in a figure is the number in results/claims.json.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from scipy.special import stdtrit

from nncosmo.config import run_matches, sweep_runs
from nncosmo.duality import prony_fit
from nncosmo.infinite import infinite_width_dictionary
from nncosmo.io import load_stage, read_dataset
from nncosmo.theory import (
    REGIMES,
    cosmological_constant,
    field_energies,
    nesterov_friction,
    ntk_kappa,
    regime,
    regime_bounds,
    schedule_label,
)

STAGES = ("ntk", "cosmology", "duality")
MIN_SLOPE_POINTS = 3  # a fitted slope through fewer points cannot fail its power law
CONFIDENCE = 0.95  # level of every interval: the 1/width extrapolation's and the bootstrap's
BOOTSTRAP_RESAMPLES = 10_000  # resamples of the seed bootstrap
BOOTSTRAP_SEED = 0  # seed of its numpy Generator: the same files give the same intervals


class Results:
    """The per-(dataset, width) datasets of the ntk, cosmology and duality stages and the data
    sets' inputs x (`data`, by data set name), with the selections the figures and claims share."""

    def __init__(
        self,
        ntk: dict,
        cosmology: dict,
        duality: dict,
        data: dict,
        config: dict,
        simulate: dict | None = None,
    ):
        self.ntk, self.cosmology, self.duality, self.config = ntk, cosmology, duality, config
        self.data, self.simulate = data, simulate or {}

    # The figures.* settings are read where used, never all at once: a figure's rendering job
    # is rerun when a setting it reads changes (nncosmo.config.FIGURE_READS, checked by a test
    # that records what each figure reads).
    @property
    def dataset(self) -> str:
        """figures.dataset: the data set F1-F7 are drawn from."""
        return self.config["figures"]["dataset"]

    @property
    def grid(self) -> dict:
        """The sweep figures.grid_sweep names."""
        return self.config["sweeps"][self.config["figures"]["grid_sweep"]]

    @property
    def width_sweep(self) -> dict:
        """The sweep figures.width_sweep names."""
        return self.config["sweeps"][self.config["figures"]["width_sweep"]]

    @property
    def grid_width(self) -> int:
        """The grid sweep's largest width, the width of its figures."""
        return max(self.grid["widths"])

    @property
    def reference(self) -> dict:
        """figures.reference: the grid run (eta, beta) F4 shows."""
        return self.config["figures"]["reference"]

    @classmethod
    def load(cls, inputs, config: dict) -> Results:
        """Read the per-job files named by a rule's `input.ntk`, `.cosmology`, `.duality`, the
        data files `input.data` (results/data/<dataset>.nc) and the simulations
        `input.simulate` (results/simulate/<target>.nc, by target); an input the rule does not
        name is empty."""
        named = lambda stage: getattr(inputs, stage, [])  # noqa: E731
        data = {Path(p).stem: read_dataset(p, ["x"]) for p in named("data")}
        simulate = {Path(p).stem: read_dataset(p) for p in named("simulate")}
        return cls(*(load_stage(named(s)) for s in STAGES), data, config, simulate)

    def select(self, stage: str, dataset: str, width: int, runs: list[dict]) -> xr.Dataset:
        """The runs of one job that match `runs` (eta, beta, seed, schedule), in that order."""
        ds = getattr(self, stage)[(dataset, width)]
        betas = [None if np.isnan(b) else b for b in ds.beta.values]
        columns = (ds.eta.values, betas, ds.seed.values, ds.schedule.values)
        keys = list(zip(*columns, strict=True))
        index = [
            keys.index((r["eta"], r["beta"], r["seed"], schedule_label(r["schedule"])))
            for r in runs
        ]
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

    def history_runs(self, stage: str) -> dict[str, xr.Dataset]:
        """F7: the one run of each figures.histories sweep, keyed by sweep name."""
        sweeps = self.config["sweeps"]
        return {
            name: self.select(
                stage, self.dataset, self.history_width(name), sweep_runs(sweeps[name])
            ).isel(run=0)
            for name in self.config["figures"]["histories"]
        }

    def history_width(self, name: str) -> int:
        """The width of F7's run of history sweep `name`: its sweep's first width."""
        return self.config["sweeps"][name]["widths"][0]

    def history_widths(self) -> list[int]:
        """The distinct widths of F7's history runs, ascending (F7's title)."""
        return sorted({self.history_width(n) for n in self.config["figures"]["histories"]})

    def all_runs(self, stage: str) -> list[xr.Dataset]:
        """Every job of the figures' data set, its constant-schedule runs (F1-F6 are de Sitter;
        other schedules, docs/physics.md §11, have no single (eta, beta) image)."""
        jobs = sorted(getattr(self, stage).items())
        return [
            ds.isel(run=ds.schedule.values == "constant")
            for (d, _), ds in jobs
            if d == self.dataset
        ]


def loglog_slope(x, y):
    """Least-squares slope of log y against log x, sum dx dy / sum dx^2 of the centred logs;
    y may hold several series, x along its last axis (one slope per series)."""
    log_x, log_y = np.log(np.asarray(x, dtype=float)), np.log(np.asarray(y, dtype=float))
    dx = log_x - log_x.mean()
    return np.sum(dx * (log_y - log_y.mean(axis=-1, keepdims=True)), axis=-1) / np.sum(dx**2)


def width_values(results: Results, dataset: str, quantity) -> dict[int, np.ndarray]:
    """Per width of the width sweep, quantity(duality_ds, ntk_ds) -> (run,) of every run (seed)."""
    duality = results.width_runs("duality", dataset)
    ntk = results.width_runs("ntk", dataset)
    return {w: np.asarray(quantity(duality[w], ntk[w]), dtype=float) for w in sorted(duality)}


def seed_means(per_width: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """Widths and the mean over seeds (NaN ignored) of each width's values (`width_values`)."""
    return np.array(list(per_width)), np.array([np.nanmean(v) for v in per_width.values()])


def bootstrap_over_seeds(per_width: dict[int, np.ndarray], statistic) -> dict:
    """Percentile bootstrap (Efron & Tibshirani 1993, ch. 13) of statistic(widths, samples) ->
    (resamples,), samples[i] of shape (resamples, seeds at width i): each width's seed values are
    drawn with replacement, BOOTSTRAP_RESAMPLES times, from numpy's Generator seeded with
    BOOTSTRAP_SEED; the interval holds the central CONFIDENCE of the resampled statistics and the
    estimate is the statistic of the seeds themselves."""
    rng = np.random.default_rng(BOOTSTRAP_SEED)
    widths = np.array(sorted(per_width))
    seeds = [np.asarray(per_width[w], dtype=float) for w in widths]
    resampled = [v[rng.integers(0, v.size, size=(BOOTSTRAP_RESAMPLES, v.size))] for v in seeds]
    tails = [(1 - CONFIDENCE) / 2, (1 + CONFIDENCE) / 2]
    return {
        "estimate": float(statistic(widths, [v[None] for v in seeds])[0]),
        "interval": np.quantile(statistic(widths, resampled), tails).tolist(),
        "level": CONFIDENCE,
        "resamples": BOOTSTRAP_RESAMPLES,
        "seed": BOOTSTRAP_SEED,
        "seeds_per_width": [v.size for v in seeds],
    }


def seed_mean_slope(widths: np.ndarray, samples: list[np.ndarray]) -> np.ndarray:
    """Log-log slope of the seed means against width, per resample (a `bootstrap_over_seeds`
    statistic)."""
    return loglog_slope(widths, np.stack([s.mean(axis=-1) for s in samples], axis=-1))


def seed_minimum(widths: np.ndarray, samples: list[np.ndarray]) -> np.ndarray:
    """Minimum over widths and seeds, per resample (a `bootstrap_over_seeds` statistic)."""
    return np.min([s.min(axis=-1) for s in samples], axis=0)


def seed_mean(widths: np.ndarray, samples: list[np.ndarray]) -> np.ndarray:
    """Mean over the seeds of the one width, per resample (a `bootstrap_over_seeds` statistic)."""
    return samples[0].mean(axis=-1)


# F4 mode mixing: the width-sweep runs of docs/figures.md's claim F4-coupled-digits
MIXING_RUNS = ("digits", 256)


def mixing_errors(results: Results) -> dict[str, np.ndarray] | None:
    """Per dictionary, (run, mode a > 0) errors sup_n |u_a - field_a| / ||f(0) - y|| of the width
    sweep's MIXING_RUNS (every seed); None when the sweep has no such runs."""
    dataset, width = MIXING_RUNS
    sweep = results.width_sweep
    if dataset not in sweep["datasets"] or width not in sweep["widths"]:
        return None
    duality = results.select("duality", dataset, width, sweep_runs(sweep))
    modes = duality.mode.values[1:]
    return {
        d: duality.residual_norm.sel(dictionary=d, mode=modes).values
        for d in duality.dictionary.values
    }


def positive_seeds(per_width: dict[int, np.ndarray]) -> dict[int, np.ndarray]:
    """Each width's finite, positive seed values (a log-log slope needs positive means); widths
    left with none are dropped."""
    kept = {w: v[np.isfinite(v) & (v > 0)] for w, v in per_width.items()}
    return {w: v for w, v in kept.items() if v.size}


WIDTH_ERRORS = {
    "background residual (exact)": lambda d, n: d.residual_own.sel(dictionary="exact", mode=0),
    "|H_fit/H_eta - 1|": lambda d, n: hubble_fit_error(d),
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
    return ntk_kappa(ntk.eigenvalue.isel(checkpoint=0, eigen=0).values, ntk.attrs["n_samples"])


def initial_step(ntk: xr.Dataset) -> np.ndarray:
    """x_0 = eta kappa_0 of every run: the mean mode's dimensionless step at initialisation."""
    return ntk.eta.values * initial_kappa(ntk)


def hubble_fit_error(duality: xr.Dataset) -> xr.DataArray:
    """|H_fit / H_eta - 1| of every run's mean mode, H_eta the exact dictionary's rate."""
    return np.abs(duality.H_fit.sel(mode=0) / duality.H_exact - 1)


def infinite_width_ratios(results: Results, dataset: str) -> dict[str, tuple]:
    """Per quantity, (analytic infinite-width value per run, {width: value / analytic per run})
    over the width sweep: kappa_0 at initialisation against kappa_inf_0, and the mean mode's
    m2_fit against the exact-dictionary m^2 of kappa_inf_0 at the run's (eta, beta)."""
    duality, ntk = results.width_runs("duality", dataset), results.width_runs("ntk", dataset)
    first = duality[min(duality)]  # every width holds the same runs in the same order
    x = results.data[dataset].x.values
    infinite = infinite_width_dictionary(results.config["model"], x, first.eta, first.beta)
    kappa, m2 = np.full(first.sizes["run"], infinite["kappa"][0]), infinite["m2"][:, 0]
    return {
        "kappa_0 at init": (kappa, {w: initial_kappa(ntk[w]) / kappa for w in sorted(ntk)}),
        "m2_fit": (m2, {w: duality[w].m2_fit.sel(mode=0).values / m2 for w in sorted(duality)}),
    }


def seed_mean_and_error(values: np.ndarray) -> tuple[float, float, int]:
    """Mean, standard error std(ddof=1) / sqrt(n) and count n of the finite entries."""
    finite = np.asarray(values, dtype=float)[np.isfinite(values)]
    if finite.size < 2:
        return (float(finite.mean()) if finite.size else np.nan), np.nan, int(finite.size)
    return float(finite.mean()), float(finite.std(ddof=1) / np.sqrt(finite.size)), finite.size


def extrapolate_in_inverse_width(per_width: dict[int, np.ndarray]) -> dict:
    """Weighted least squares y = a + b / width through the seed means (docs/physics.md §8.2),
    weights 1 / se_w^2: the infinite-width intercept a = sum_w g_w mean_w, its error
    sigma_a = sqrt(sum_w g_w^2 se_w^2) * max(1, sqrt(chi2 / (n - 2))) (inflated by the Birge
    ratio when the means scatter more than their errors) and the CONFIDENCE interval
    a +- t sigma_a, t the Student quantile at the Welch-Satterthwaite degrees of freedom
    nu = (sum_w g_w^2 se_w^2)^2 / sum_w (g_w^2 se_w^2)^2 / (n_w - 1) of the seed errors.
    Needs >= 3 widths, each with >= 2 finite seeds and a non-zero spread."""
    widths = np.array(sorted(per_width), dtype=float)
    mean, error, count = np.array([seed_mean_and_error(per_width[w]) for w in sorted(per_width)]).T
    design = np.stack([np.ones_like(widths), 1 / widths], axis=1)
    weights = 1 / error**2
    gain = np.linalg.solve(design.T @ (weights[:, None] * design), design.T * weights)
    intercept, slope = gain @ mean
    chi2 = float(np.sum(weights * (mean - design @ [intercept, slope]) ** 2))
    birge = max(1.0, np.sqrt(chi2 / (len(widths) - 2)))
    terms = gain[0] ** 2 * error**2
    dof = float(terms.sum() ** 2 / np.sum(terms**2 / (count - 1)))
    sigma = float(np.sqrt(terms.sum()) * birge)
    half = float(stdtrit(dof, (1 + CONFIDENCE) / 2)) * sigma  # Student-t quantile
    return {
        "widths": widths.tolist(),
        "means": mean.tolist(),
        "standard_errors": error.tolist(),
        "intercept": float(intercept),
        "slope": float(slope),
        "sigma": sigma,
        "degrees_of_freedom": dof,
        "confidence": CONFIDENCE,
        "interval": [intercept - half, intercept + half],
        "chi2_per_dof": chi2 / (len(widths) - 2),
    }


def predicted_unstable(ntk: xr.Dataset) -> np.ndarray:
    """Runs whose mean mode `theory.regime` calls unstable at initialisation."""
    code = regime(ntk.eta.values, ntk.beta.values, initial_kappa(ntk))
    return code == REGIMES.index("unstable")


def stability_table(results: Results) -> dict:
    """Counts of runs by predicted stability (theory.regime at init) and by divergence, and how
    close the predicted-stable runs come to the edge: the largest x_0 / 2(1 + beta)."""
    rows = {
        f"predicted_{p}_{o}": 0 for p in ("unstable", "stable") for o in ("diverged", "converged")
    }
    fractions = []
    for ntk in results.all_runs("ntk"):
        unstable = predicted_unstable(ntk)
        for unstable_run, diverged in zip(unstable, ntk.diverged.values, strict=True):
            key = "predicted_" + ("unstable" if unstable_run else "stable")
            rows[key + ("_diverged" if diverged else "_converged")] += 1
        edge = regime_bounds(ntk.beta.values)[2]
        fractions += list((initial_step(ntk) / edge)[~unstable])
    closest = float(max(fractions)) if fractions else np.nan
    return rows | {"largest_stable_fraction_of_edge": closest}


LATE_HUBBLE_FRACTION = 0.1  # F8-decay: late times are H <= m / 10, where the WKB amplitude
# a^(-3/2) holds up to O((H / m)^2) (docs/physics.md §12)
MIN_DECAY_EXTREMA = 3  # a two-parameter log-log fit needs more points than parameters to fail


def simulation_error(ds: xr.Dataset) -> float:
    """sup_n |phi_network(t_n) - phi_target(t_n)| / |phi(t0)| of one simulation (F8)."""
    return float(np.max(np.abs(ds.phi_network - ds.phi_target)) / abs(ds.attrs["phi0"]))


def zero_crossings(t: np.ndarray, phi: np.ndarray) -> np.ndarray:
    """Every t where phi changes sign, linearly interpolated between samples."""
    i = np.flatnonzero(np.sign(phi[1:]) != np.sign(phi[:-1]))
    return t[i] - phi[i] * (t[i + 1] - t[i]) / (phi[i + 1] - phi[i])


def first_zero_crossing(t: np.ndarray, phi: np.ndarray) -> float:
    """The first t where phi changes sign (`zero_crossings`); NaN if none."""
    crossings = zero_crossings(t, phi)
    return float(crossings[0]) if crossings.size else np.nan


def late_extrema(ds: xr.Dataset, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(a, |phi|) at the local maxima of |phi| where H <= LATE_HUBBLE_FRACTION m."""
    size = np.abs(phi)
    peak = (size[1:-1] >= size[:-2]) & (size[1:-1] > size[2:])
    late = ds.H.values[1:-1] <= LATE_HUBBLE_FRACTION * ds.attrs["mass"]
    index = np.flatnonzero(peak & late) + 1
    return ds.a.values[index], size[index]


def decay_exponent(ds: xr.Dataset, phi: np.ndarray) -> tuple[float, int]:
    """Late-time amplitude exponent: log-log slope of |phi| at its extrema against a
    (`late_extrema`), and the number of extrema; NaN below MIN_DECAY_EXTREMA."""
    a, size = late_extrema(ds, phi)
    return (float(loglog_slope(a, size)) if a.size >= MIN_DECAY_EXTREMA else np.nan), a.size


def de_sitter_recovery(ds: xr.Dataset) -> dict:
    """Prony fit (`duality.prony_fit`, eta = dt^2 so that H and m^2 are in units of 1/t) of the
    network's phi over the whole span: H_fit, m2_fit and their relative errors."""
    fit = prony_fit(ds.phi_network.values, ds.attrs["dt"] ** 2)
    hubble, m2 = ds.attrs["background_H"], ds.attrs["mass"] ** 2
    return {
        "H_fit": fit["H"],
        "m2_fit": fit["m2"],
        "H_error": abs(fit["H"] / hubble - 1),
        "m2_error": abs(fit["m2"] / m2 - 1),
    }


# F7: expansion histories (docs/figures.md F7).
NESTEROV_MIN_PERIODS = 1  # the envelope law (m t)^(-3/2) is asymptotic: fit from m t >= 2 pi on


def history_background_error(ntk, cosmology, history: str) -> float:
    """sup_n |u_0(n) - phi_0(n)| / |u_0(0)| of one run against its history field, over the steps
    where the field is defined; NaN where it is nowhere defined."""
    u = ntk.u.sel(mode=0).values
    phi = cosmology.history_field.sel(history=history, mode=0).values
    with np.errstate(invalid="ignore"):
        gap = np.abs(u - phi)
    return float(np.nanmax(gap) / abs(u[0])) if np.isfinite(gap).any() else np.nan


def window_hubble_errors(duality) -> tuple[np.ndarray, np.ndarray]:
    """(tau, (H_window - H_history) / H_history) of one run's resolved windows (status ok)."""
    ok = duality.window_status.values == 0
    rel = duality.H_window.values / duality.H_window_history.values - 1
    return duality.window_tau.values[ok], rel[ok]


def nesterov_envelope(ntk, rel_floor: float) -> dict:
    """Nesterov's u_0 with its constant friction divided out, v = u_0 exp(gamma tau / 2),
    gamma = -ln(1 - eta kappa_0) / sqrt(eta) (`theory.nesterov_friction`): the peaks of |v|
    from m tau >= 2 pi NESTEROV_MIN_PERIODS on while |u_0| >= rel_floor max |u_0|, and the
    log-log slope of their heights against tau (coasting: -3/2)."""
    from scipy.signal import find_peaks

    eta = float(ntk.eta_n.values[0])
    kappa = float(initial_kappa(ntk))
    tau, u = ntk.tau.values, ntk.u.sel(mode=0).values
    v = np.abs(u * np.exp(0.5 * nesterov_friction(eta, kappa) * tau))
    peaks, _ = find_peaks(v)
    keep = (tau[peaks] * np.sqrt(kappa) >= 2 * np.pi * NESTEROV_MIN_PERIODS) & (
        np.abs(u[peaks]) >= rel_floor * np.abs(u).max()
    )
    peaks = peaks[keep]
    slope = loglog_slope(tau[peaks], v[peaks]) if peaks.size >= MIN_SLOPE_POINTS else np.nan
    return {
        "tau": tau[peaks],
        "envelope": v[peaks],
        "slope": float(slope),
        "friction": float(nesterov_friction(eta, kappa)),
    }


def crossing_period(u: np.ndarray) -> int:
    """The period of an oscillation u (steps, rounded): twice the mean spacing of its zero
    crossings (`zero_crossings`); 0 with fewer than three crossings (no whole period)."""
    crossings = zero_crossings(np.arange(len(u), dtype=float), u)
    if crossings.size < 3:
        return 0
    return int(round(2 * (crossings[-1] - crossings[0]) / (crossings.size - 1)))


def equation_of_state(ntk) -> float:
    """w = <p> / <rho> of the network's K modes over the second half of the run, cut to whole
    periods of mode 0 (`equation_of_state_parts`); NaN where u_0 has no whole period there."""
    return equation_of_state_parts(ntk)["w"]


def equation_of_state_parts(ntk) -> dict:
    """`equation_of_state`'s w with the period of u_0 it averages over ("period_steps",
    `crossing_period` of u_0 over the run's second half; 0: none) and its window's first and
    last step ("steps"; None without a period): rho, p = sum_a u_a'^2 / 2 +- kappa_a u_a^2 / 2,
    u' the central difference / sqrt(eta), kappa_a = lambda_a(0) / N (docs/physics.md §13;
    matter-like: w = 0)."""
    eta = float(ntk.eta_n.values[0])
    eigenvalues = ntk.eigenvalue.isel(checkpoint=0).values[: ntk.sizes["mode"]]
    kappa = ntk_kappa(eigenvalues, ntk.attrs["n_samples"])
    u = ntk.u.values
    du = (u[2:] - u[:-2]) / (2 * np.sqrt(eta))  # du[i]: the velocity at step i + 1
    kinetic, potential = field_energies(du, u[1:-1], kappa)
    start = len(du) // 2
    period = crossing_period(u[1 + start : -1, 0])
    if not period:
        return {"w": np.nan, "period_steps": 0, "steps": None}
    stop = start + (len(du) - start) // period * period
    kinetic, potential = kinetic[start:stop].sum(), potential[start:stop].sum()
    w = float((kinetic - potential) / (kinetic + potential))
    return {"w": w, "period_steps": period, "steps": [start + 1, stop]}
