"""Stage 6, figures F1-F8 of docs/figures.md: one function each, one shared style.

Every function takes the `nncosmo.results.Results` of the pipeline and returns a matplotlib
Figure; the numbers it annotates come from the same measurement functions as claims.json
(`nncosmo.results`), its thresholds from the claims table (`nncosmo.claims.CLAIMS`) and its
theory curves from `nncosmo.theory`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402
from matplotlib.ticker import (  # noqa: E402
    FormatStrFormatter,
    LogLocator,
    NullFormatter,
    ScalarFormatter,
)

from nncosmo import theory  # noqa: E402
from nncosmo.claims import (  # noqa: E402
    CLAIMS,
    MIXING_DICTIONARIES,
    bootstrap_shortfall,
    drift_shortfall,
    extrapolation_shortfall,
    mixing_claims,
    power_law_claims,
    width_slope_shortfall,
)
from nncosmo.config import sweep_runs  # noqa: E402
from nncosmo.duality import DRIFT_LAWS, out_of_sample  # noqa: E402
from nncosmo.io import write_atomically  # noqa: E402
from nncosmo.results import (  # noqa: E402
    CONFIDENCE,
    MIN_SLOPE_POINTS,
    MIXING_RUNS,
    WIDTH_ERRORS,
    Results,
    bootstrap_over_seeds,
    de_sitter_recovery,
    equation_of_state,
    extrapolate_in_inverse_width,
    history_background_error,
    hubble_fit_error,
    infinite_width_ratios,
    initial_step,
    lambda_slopes,
    mixing_errors,
    nesterov_envelope,
    positive_seeds,
    predicted_unstable,
    seed_mean_slope,
    seed_means,
    simulation_error,
    width_values,
    zero_crossings,
)

PALETTE = sns.color_palette("colorblind")
NETWORK, EXACT, CONTINUUM, ADIABATIC = "0.15", PALETTE[0], PALETTE[3], PALETTE[2]
COUPLED = PALETTE[1]
HISTORY = PALETTE[4]  # F7's H(tau) of a history: not the exact dictionary's colour (one legend)
DICTIONARY_STYLE = {
    "exact": {"color": EXACT, "lw": 1.2},
    "continuum": {"color": CONTINUUM, "lw": 1.5, "ls": "--"},
    "adiabatic": {"color": ADIABATIC, "lw": 2.6, "ls": ":", "zorder": 3},  # visible on exact
    "coupled": {"color": COUPLED, "lw": 1.5, "ls": "-."},
}


def ordered_colours(count: int) -> list:
    """`count` colours, light to dark, of one sequential colour-blind-safe map (seaborn's mako,
    its near-white and near-black ends left out) for an ordered parameter: F2's widths, F3's
    beta. The qualitative palette's hues name the dictionaries (`DICTIONARY_STYLE`) instead."""
    return sns.color_palette("mako_r", count + 2)[1:-1]


REGIME_COLOURS = dict(
    zip(theory.REGIMES, [PALETTE[8], PALETTE[0], PALETTE[4], PALETTE[3]], strict=True)
)


def sub(base: str, index: str) -> str:
    """`base` with the subscript `index`, upright (mathtext's \\mathregular): Unicode subscript
    letters other than the digits sit raised and small in most fonts."""
    return f"{base}$_\\mathregular{{{index}}}$"


def power(base: str, exponent: str) -> str:
    """`base` to the power `exponent` (mathtext, which sets a "-" as a minus sign)."""
    return f"{base}$^{{{exponent}}}$"


def number(value: float, spec: str) -> str:
    """`value` formatted by `spec` with a minus sign (U+2212), as on the tick labels."""
    return format(value, spec).replace("-", "\N{MINUS SIGN}")


U0, U_A, PHI_A, KAPPA_A, LAMBDA_A = (sub(b, i) for b, i in ("u0", "ua", "φa", "κa", "λa"))
H_FIT, ETA_N, BETA_N, PHI_T0 = sub("H", "fit"), sub("η", "n"), sub("β", "n"), f"φ({sub('t', '0')})"
LAMBDA_FIT, H_ETA, M_FIT, KAPPA_0 = sub("Λ", "fit"), sub("H", "η"), sub("m", "fit"), sub("κ", "0")
RESIDUAL_NORM = "‖f(0) − y‖"


def set_style() -> None:
    """The one style of every figure: seaborn ticks, colour-blind palette, paper font sizes."""
    sns.set_theme(
        context="paper",
        style="ticks",
        palette=PALETTE,
        font_scale=1.1,
        rc={
            "axes.spines.top": False,
            "axes.spines.right": False,
            "legend.frameon": False,
            "savefig.bbox": "tight",
        },
    )


def save(fig, png: str, pdf: str, dpi: int, provenance: dict) -> None:
    """Write PNG and PDF atomically (`io.write_atomically`) with the provenance in their
    metadata."""
    blob = json.dumps(provenance, sort_keys=True, default=str)
    png_metadata, pdf_metadata = {"Description": blob}, {"Subject": blob[:60000]}
    write_atomically(
        Path(png), lambda tmp: fig.savefig(tmp, format="png", dpi=dpi, metadata=png_metadata)
    )
    write_atomically(Path(pdf), lambda tmp: fig.savefig(tmp, format="pdf", metadata=pdf_metadata))
    plt.close(fig)


def _width_axis(ax, widths) -> None:
    """Log2 x axis with one plain tick per width."""
    ax.set_xscale("log", base=2)
    ax.set_xticks(list(widths))
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("width")


def _legend_below(ax, ncol: int = 2) -> None:
    """The axes' legend under its x label, in `ncol` columns: with one entry per beta (five in
    the workstation and paper presets) a legend inside the axes covers the data."""
    ax.legend(fontsize=7, ncol=ncol, loc="upper center", bbox_to_anchor=(0.5, -0.17), frameon=False)


def _dodge(k: int, count: int, octaves: float) -> float:
    """Factor on a log2 width axis that sets series k of `count` side by side, `octaves` apart
    and centred on the width."""
    return 2 ** (octaves * (k - (count - 1) / 2))


def _clean_log_ticks(ax) -> None:
    """No labels on the minor ticks of a log x axis (explicit ticks are set there); the y axis
    keeps matplotlib's default, which labels minor ticks only when the range has too few majors."""
    ax.xaxis.set_minor_formatter(NullFormatter())


def _plain_log_y(ax, low: float, high: float) -> None:
    """Log y axis over [low, high] labelled in plain numbers: ticks at 1, 2, 5 x 10^k within 1.5
    decades, at 10^k beyond, and no minor labels (matplotlib's default labels every minor tick
    of a short range, "3×10⁻² 2×10⁻²", which collide)."""
    ax.set_yscale("log")
    subs = (1.0,) if np.log10(high / low) > 1.5 else (1.0, 2.0, 5.0)
    ax.yaxis.set_major_locator(LogLocator(base=10, subs=subs))
    ax.yaxis.set_major_formatter(FormatStrFormatter("%g"))
    ax.yaxis.set_minor_formatter(NullFormatter())


def _finish(fig, title: str, legend_from=None):
    """Title, tight layout and, from the axes `legend_from`, one legend for the whole figure."""
    fig.suptitle(title)
    if legend_from is None:
        fig.tight_layout()
        return fig
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    handles, labels = legend_from.get_legend_handles_labels()
    ncol = min(len(handles), 4)
    fig.legend(handles, labels, loc="upper center", ncol=ncol, bbox_to_anchor=(0.5, 0.955))
    return fig


def _percent(value: float, digits: int) -> str:
    """A residual as a percentage, or "no image" where the dictionary has none (NaN)."""
    return f"{value:.{digits}%}" if np.isfinite(value) else "no image"


def _signed(value: float) -> str:
    """A signed percentage to one decimal, or to two where one would print "-0.0"."""
    spec = "+.2f" if float(f"{value:+.1f}") == 0 and value != 0 else "+.1f"
    return number(value, spec)


def _slope_text(slope: float | None) -> str:
    """Legend text of a fitted slope, or why there is none."""
    if slope is None:
        return f"slope untestable (< {MIN_SLOPE_POINTS} good fits)"
    return f"{LAMBDA_FIT} ∝ {power('η', f'{slope:.3f}')}"


def _width_slope(per_width: dict, short: str | None) -> tuple[float | None, str]:
    """The seed-mean log-log slope against width and its legend text with the bootstrap interval
    (claims F2-drift, F5-slope), or None and "slope untestable" when `short` gives a reason."""
    if short:
        return None, "slope untestable"
    boot = bootstrap_over_seeds(per_width, seed_mean_slope)
    low, high = boot["interval"]
    estimate, low, high = (number(v, ".2f") for v in (boot["estimate"], low, high))
    text = f"slope {estimate} ({boot['level']:.0%}: {low} … {high})"
    return boot["estimate"], text


def _trim(u: np.ndarray, floor: float = 1e-3) -> int:
    """Number of leading steps until |u| stays below floor * max|u| (at least 10)."""
    above = np.flatnonzero(np.abs(u) >= floor * np.nanmax(np.abs(u)))
    return max(int(above[-1]) + 2 if above.size else len(u), 10)


def _marker_stride(u: np.ndarray, points: int = 30) -> int:
    """Every k-th step for about `points` markers on u, but at least four per oscillation: k at
    most half the mean number of steps between u's sign changes (a coarser stride aliases a
    fast oscillation into a slow false wave)."""
    crossings = zero_crossings(np.arange(len(u), dtype=float), u)
    half_period = np.diff(crossings).mean() if crossings.size > 1 else len(u)
    return max(min(len(u) // points, int(half_period / 2)), 1)


def _overlay(ax, tau, network, fields, scale, labels=None, floor: float = 1e-3):
    """Network points (`_marker_stride`) and the fields ({name: field}, labelled "<name>
    dictionary" unless `labels` says otherwise), all divided by `scale`, until |u| stays below
    `floor` times its largest value (`_trim`)."""
    stop = _trim(network, floor)
    stride = _marker_stride(network[:stop])
    ms = 3 if stop // stride <= 60 else 1.8
    ax.plot(
        tau[:stop:stride], network[:stop:stride] / scale, "o", ms=ms, color=NETWORK, label="network"
    )
    labels = labels or {name: f"{name} dictionary" for name in fields}
    for name, field in fields.items():
        ax.plot(tau[:stop], field[:stop] / scale, **DICTIONARY_STYLE[name], label=labels[name])


# F1 draws u_0 until it stays below 3 % of max_n |u_0(n)|: the flat tail hides nothing
F1_FLOOR = 0.03


def figure_background(results: Results):
    """F1: u_0(tau)/|u_0(0)| of the grid runs against phi(t) from the three dictionaries."""
    ntk, cosmo, dual = (results.grid_runs(s) for s in ("ntk", "cosmology", "duality"))
    betas, etas = np.unique(ntk.beta.values), np.unique(ntk.eta.values)
    fig, axes = plt.subplots(
        len(betas),
        len(etas),
        figsize=(2.3 * len(etas), 2.0 * len(betas)),
        sharey=True,
        squeeze=False,
    )
    for ax in axes.flat:
        ax.set_visible(False)
    for r in range(ntk.sizes["run"]):
        i = int(np.searchsorted(betas, ntk.beta.values[r]))
        j = int(np.searchsorted(etas, ntk.eta.values[r]))
        ax = axes[i, j]
        ax.set_visible(True)
        u = ntk.u.isel(run=r, mode=0).values
        fields = {
            d: cosmo.field.isel(run=r, mode=0).sel(dictionary=d).values
            for d in ("exact", "adiabatic", "continuum")
        }
        _overlay(ax, ntk.tau.isel(run=r).values, u, fields, abs(u[0]), floor=F1_FLOOR)
        res = dual.residual_own.isel(run=r).sel(mode=0)
        ax.set_title(f"η = {etas[j]:g}, β = {betas[i]:g}", fontsize=9)
        ax.text(
            0.97,
            0.95,
            f"exact {_percent(float(res.sel(dictionary='exact')), 2)}\n"
            f"adiab. {_percent(float(res.sel(dictionary='adiabatic')), 2)}\n"
            f"contin. {_percent(float(res.sel(dictionary='continuum')), 1)}",
            transform=ax.transAxes,
            ha="right",
            va="top",
            fontsize=7,
        )
        if i == len(betas) - 1:
            ax.set_xlabel("τ = n √η")
        if j == 0:
            ax.set_ylabel(f"{U0} / |{U0}(0)|")
    first = next(a for a in axes.flat if a.get_visible())
    title = (
        f"F1  Mean-mode residual vs de Sitter background field (width {results.grid_width}; "
        "sup-norm residuals in each panel)"
    )
    return _finish(fig, title, legend_from=first)


def figure_ntk(results: Results):
    """F2: spectra at init and end, mean-field overlap, drift against width with fitted slope."""
    fig, (ax_s, ax_o, ax_d) = plt.subplots(1, 3, figsize=(13, 3.8))
    widths = results.width_sweep["widths"]
    colours = ordered_colours(len(widths))
    ref_ntk = results.width_runs("ntk", results.dataset)
    for colour, w in zip(colours, widths, strict=True):
        ds = ref_ntk[w].isel(run=0)
        lam = theory.ntk_kappa(ds.eigenvalue, ds.attrs["n_samples"])
        ax_s.semilogy(lam.isel(checkpoint=0), "-", color=colour, label=f"width {w}, init")
        ax_s.semilogy(lam.isel(checkpoint=-1), ":", color=colour, label=f"width {w}, end")
    ax_s.set(
        xlabel="mode index a",
        ylabel=f"{LAMBDA_A} / N",
        title="(a) NTK spectrum (solid: init, dotted: end)",
    )
    ax_s.legend(fontsize=6, ncol=2)
    markers = "os^D"
    datasets = results.width_sweep["datasets"]
    drifts = {
        d: positive_seeds(width_values(results, d, WIDTH_ERRORS["NTK drift"])) for d in datasets
    }
    first_widths, first_means = seed_means(drifts[datasets[0]])
    anchor = first_means[0] * first_widths[0]  # the width^-1 line through the first data set
    for k, dataset in enumerate(datasets):
        ntk = results.width_runs("ntk", dataset)
        dodge = _dodge(k, len(datasets), 0.12)  # data sets side by side per width
        for w, ds in ntk.items():
            ax_o.plot(
                [w * dodge] * ds.sizes["run"],
                1 - ds.overlap_uniform.isel(checkpoint=0),
                markers[k],
                color=PALETTE[k],
                alpha=0.7,
                label=dataset if w == widths[0] else None,
            )
        seeds = drifts[dataset]
        w_arr, drift = seed_means(seeds)  # the seeds the slope (claim F2-drift) is fitted to
        short = bootstrap_shortfall(seeds, MIN_SLOPE_POINTS, "a finite drift")
        slope, text = _width_slope(seeds, short)
        if slope is not None:
            log_w, log_d = np.log(w_arr), np.log(drift)  # the fitted line passes their means
            fit = np.exp(log_d.mean() + slope * (log_w - log_w.mean()))
            ax_d.loglog(w_arr, fit, "-", color=PALETTE[k], lw=1)
        mfc = PALETTE[k] if k == 0 else "none"  # open markers over filled: both stay visible
        ax_d.loglog(
            w_arr, drift, markers[k], color=PALETTE[k], mfc=mfc, ms=7, label=f"{dataset}: {text}"
        )
    w_all = np.asarray(widths, dtype=float)
    ax_d.loglog(w_all, anchor / w_all, "k--", lw=0.8, label="width⁻¹ (Dyer & Gur-Ari)")
    overlap_min = CLAIMS["F2-overlap"].tolerance.low
    ax_o.axhline(
        1 - overlap_min, color="0.5", ls="--", lw=0.8, label=f"claim: overlap ≥ {overlap_min:g}"
    )
    ax_o.set(
        yscale="log",
        ylabel=f"1 − |{sub('v', '0')} · 1/√N|",
        title="(b) top eigenvector vs mean field (init)",
    )
    _width_axis(ax_o, widths)
    ax_o.legend(fontsize=7)
    frobenius = sub("", "F")
    ax_d.set(
        ylabel=f"‖Θ(end) − Θ(0)‖{frobenius} / ‖Θ(0)‖{frobenius}", title="(c) NTK drift (seed mean)"
    )
    _width_axis(ax_d, widths)
    _clean_log_ticks(ax_d)
    ax_d.legend(fontsize=7)
    return _finish(fig, "F2  The empirical NTK: spectrum, mean field, drift")


def figure_lambda(results: Results):
    """F3: H_fit against eta per beta with both dictionaries; Lambda_fit against 1/eta."""
    grid = results.grid_runs("duality")
    slopes = lambda_slopes(grid)
    fig, (ax_h, ax_l) = plt.subplots(1, 2, figsize=(10.5, 5))
    eta_line = np.geomspace(grid.eta.min(), grid.eta.max(), 100)
    betas = np.unique(grid.beta.values)
    for colour, beta in zip(ordered_colours(len(betas)), betas, strict=True):
        sel = grid.isel(run=grid.beta.values == beta)
        h, err = sel.H_fit.sel(mode=0), sel.H_fit_err.sel(mode=0)
        ax_h.errorbar(sel.eta, h, yerr=err, fmt="o", color=colour, label=f"β = {beta:g}: fit")
        h_exact = theory.hubble_exact(eta_line, beta)
        ax_h.plot(eta_line, h_exact, "-", color=colour, lw=1)
        ax_h.plot(eta_line, theory.hubble_continuum(eta_line, beta), "--", color=colour, lw=1)
        ax_l.plot(
            1 / sel.eta,
            theory.cosmological_constant(h),
            "o",
            color=colour,
            label=f"β = {beta:g}: " + _slope_text(slopes.get(float(beta))),
        )
        ax_l.plot(1 / eta_line, theory.cosmological_constant(h_exact), "-", color=colour, lw=1)
    ax_h.plot([], [], "k-", lw=1, label="exact: 3H = −ln β / √η")
    ax_h.plot([], [], "k--", lw=1, label="continuum: 3H = (1 − β) / √η")
    ax_h.set(
        xscale="log",
        yscale="log",
        xlabel="learning rate η",
        ylabel="H  [1/τ]",
        title=f"(a) Hubble rate from Prony fits of {U0}",
    )
    _legend_below(ax_h)
    ax_l.plot([], [], "k-", lw=1, label=f"{sub('Λ', 'η')} = (ln β)² / (3η)")
    ax_l.set(
        xscale="log",
        yscale="log",
        xlabel="1 / η",
        ylabel=f"{LAMBDA_FIT} = 3 {H_FIT}²  [1/τ²]",
        title="(b) cosmological constant ∝ 1/η",
    )
    _legend_below(ax_l)
    etas = np.unique(grid.eta.values)
    for ax, ticks in ((ax_h, etas), (ax_l, 1 / etas)):
        _clean_log_ticks(ax)
        ax.set_xticks(ticks, [f"{t:.3g}" for t in ticks])
    return _finish(fig, f"F3  Λ ∝ 1/η (width {results.grid_width}, mean mode)")


def figure_perturbations(results: Results, n_modes: int = 4):
    """F4: u_a(tau) of modes a > 0 against delta phi; the NTK drift against the drift laws."""
    ntk, cosmo, dual = (results.reference_run(s) for s in ("ntk", "cosmology", "duality"))
    norm = float(ntk.residual_norm.isel(step=0))
    modes = ntk.mode.values[1 : 1 + n_modes]
    fig = plt.figure(figsize=(12, 10.2))
    grid = fig.add_gridspec(3, 3)
    slots = [grid[0, 0], grid[0, 1], grid[0, 2], grid[1, 0]]
    for slot, a in zip(slots, modes, strict=False):
        ax = fig.add_subplot(slot)
        u = ntk.u.sel(mode=a).values
        fields = {d: cosmo.field.sel(mode=a, dictionary=d).values for d in ("exact", "continuum")}
        _overlay(ax, ntk.tau.values, u, fields, norm)
        res = float(dual.residual_norm.sel(mode=a, dictionary="exact"))
        own = float(dual.residual_own.sel(mode=a, dictionary="exact"))
        kappa0 = float(dual.kappa.isel(checkpoint=0).sel(mode=a))
        ax.set(
            xlabel="τ = n √η",
            ylabel=f"{U_A} / {RESIDUAL_NORM}",
            title=f"a = {a}, {LAMBDA_A}/N = {kappa0:.3g}\nerror: {_percent(res, 2)} of ‖r(0)‖, "
            f"{_percent(own, 1)} of |{U_A}(0)|",
        )
    _drift_row(fig.add_subplot(grid[1, 1]), fig.add_subplot(grid[1, 2]), results)
    _mode_mixing_row(fig, grid[2, :], results)
    title = (
        f"F4  Perturbations: NTK modes a > 0 as de Sitter fields (rows 1–2: width "
        f"{results.grid_width}, η = {float(ntk.eta):g}, β = {float(ntk.beta):g})"
    )
    return _finish(fig, title, legend_from=fig.axes[0])


def _mode_mixing_row(fig, slot, results: Results) -> None:
    """F4, third row: per-mode errors / ||r(0)|| of the exact, adiabatic and coupled dictionaries
    on results.MIXING_RUNS (seed means, min-max bars, the claims' bound), and the traces of the
    mode and seed with the largest adiabatic error; a note where those runs are absent."""
    errors = mixing_errors(results)
    dataset, width = MIXING_RUNS
    row = slot.subgridspec(1, 3)
    left, right = fig.add_subplot(row[0, :2]), fig.add_subplot(row[0, 2])
    if errors is None:
        for ax in (left, right):
            ax.text(0.5, 0.5, f"no {dataset} runs at width {width}", transform=ax.transAxes)
        return
    modes = np.arange(1, errors["exact"].shape[1] + 1)
    for k, name in enumerate(("exact", "adiabatic", "coupled")):
        x = modes + 0.12 * (k - 1)
        values = [errors[name][:, i] for i in range(len(modes))]
        colour = DICTIONARY_STYLE[name]["color"]
        _seed_errorbar(left, x, values, color=colour, fmt="o", ms=4, label=f"{name} dictionary")
    bound = CLAIMS["F4-mixing"].tolerance.high
    left.axhline(bound, color="0.5", ls="--", lw=1, label=f"claim bound ({bound:.0%})")
    _mixing_claim_points(left, results, modes[-1] + 1.2)
    left.set(
        yscale="log",
        xlabel="mode a",
        ylabel=f"{sub('sup', 'n')} |{U_A} − {PHI_A}| / {RESIDUAL_NORM}",
        title=f"{dataset}, width {width}: mode mixing (seed means, min–max over seeds)",
    )
    left.set_xticks([*modes, modes[-1] + 1.2], [*map(str, modes), "claim:\nworst a"])
    low, high = left.get_ylim()
    left.set_ylim(low, high * (high / low) ** 0.35)  # room above the bars for the texts
    left.legend(fontsize=7, ncol=2, loc="upper right")
    _largest_adiabatic_error(right, results, errors, modes)


def _largest_adiabatic_error(ax, results: Results, errors: dict, modes) -> None:
    """F4, bottom right: the misfit u_a - phi_a over tau of each dictionary for the mode and seed
    of MIXING_RUNS with the largest adiabatic error; a note where no error is finite (runs that
    diverged or have no image: the claims are untestable, nothing to trace)."""
    if not np.isfinite(errors["adiabatic"]).any():
        note = "no run with a finite adiabatic error\n(diverged or without an image)"
        ax.text(0.5, 0.5, note, ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
        return
    dataset, width = MIXING_RUNS
    run, mode = np.unravel_index(np.nanargmax(errors["adiabatic"]), errors["adiabatic"].shape)
    runs = sweep_runs(results.width_sweep)
    ntk, cosmo = (
        results.select(s, dataset, width, runs).isel(run=run) for s in ("ntk", "cosmology")
    )
    a, norm = int(modes[mode]), float(ntk.residual_norm.isel(step=0))
    u, tau = ntk.u.sel(mode=a).values, ntk.tau.values
    stop = _trim(u)
    for name in ("exact", "adiabatic", "coupled"):
        miss = (u - cosmo.field.sel(mode=a, dictionary=name).values) / norm
        style = DICTIONARY_STYLE[name]
        label = f"{name} ({_percent(float(errors[name][run, mode]), 2)})"
        ax.plot(tau[:stop], miss[:stop], color=style["color"], ls=style.get("ls", "-"), label=label)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set(
        xlabel="τ = n √η",
        ylabel=f"({U_A} − {PHI_A}) / {RESIDUAL_NORM}",
        title=f"largest adiabatic error: a = {a}, seed {int(ntk.seed)}\n(sup-norm in the legend)",
    )
    ax.legend(fontsize=7)


def _mixing_claim_points(ax, results: Results, x: float) -> None:
    """F4's mode-mixing claims at `x`: the seed mean of each run's worst mode with its bootstrap
    interval (the statistic the claim bound judges, not the per-mode means beside it), and each
    claim's verdict."""
    lines = []
    claims = zip(MIXING_DICTIONARIES, mixing_claims(results), strict=True)
    for k, (name, claim) in enumerate(claims):
        if claim.measured is None:
            lines.append(f"{name}: {claim.verdict}")
            continue
        low, high = claim.interval
        colour = DICTIONARY_STYLE[name]["color"]
        centre = claim.measured
        err = [[centre - low], [high - centre]]
        ax.errorbar([x + 0.12 * k], [centre], yerr=err, fmt="D", ms=5, color=colour, capsize=3)
        lines.append(f"{name}: {centre:.2%} [{low:.2%}, {high:.2%}] {claim.verdict}")
    level = f"{CONFIDENCE:.0%}"
    ax.text(
        0.01, 0.98, f"claims (seed mean of each run's worst a, {level}):\n" + "\n".join(lines),
        transform=ax.transAxes, fontsize=7, va="top",
    )  # fmt: skip


LAW_STYLE = {  # colours the dictionaries of F4's other panels do not use
    "redshift": {"color": PALETTE[4], "ls": "--", "marker": "s"},
    "relaxation": {"color": PALETTE[5], "ls": "-", "marker": "o"},
    "backreaction": {"color": PALETTE[7], "ls": ":", "marker": "^"},
}


def _drift_row(ax_fit, ax_grid, results: Results) -> None:
    """F4 middle row, right two panels: the reference run's measured kappa_a(tau) with the
    in-sample fits of the three drift laws (`ax_fit`), and each law's out-of-sample unexplained
    fraction (filled) and in-sample one (open) on every grid run (`ax_grid`), against the F4-law
    tolerance."""
    ref, grid = results.reference_run("duality"), results.grid_runs("duality")
    short = drift_shortfall(ref)
    if short:
        for ax in (ax_fit, ax_grid):
            ax.text(0.5, 0.5, f"drift laws untestable:\n{short}", ha="center", va="center")
            ax.set_axis_off()
        return
    _drift_fits(ax_fit, ref)
    _drift_grid(ax_grid, grid)


def _drift_fits(ax, ref) -> None:
    """The measured kappa_a(tau) / kappa_a(0) - 1 (points, a = 0 darkest) and the laws' fits."""
    tau = ref.kappa_tau.values
    for a in ref.drift_mode.values:
        kappa = ref.kappa_measured.sel(drift_mode=a).values
        first = a == ref.drift_mode.values[0]
        style = {"ms": 3, "color": NETWORK, "alpha": 1 / (1 + a)}
        ax.plot(
            tau, 100 * (kappa / kappa[0] - 1), "o", **style, label="measured" if first else None
        )
        for law, law_style in LAW_STYLE.items():
            curve = ref.drift_curve.sel(law=law, drift_mode=a).values
            frac = float(ref.drift_unexplained.sel(law=law, drift_mode=a))
            mode_note = f" (a = {a})" if ref.sizes["drift_mode"] > 1 else ""
            label = f"{law}: {_percent(frac, 0)} unexplained{mode_note}" if first else None
            line = {"color": law_style["color"], "ls": law_style["ls"], "lw": 1.4}
            ax.plot(tau, 100 * (curve / kappa[0] - 1), **line, label=label)
    modes = ", ".join(str(a) for a in ref.drift_mode.values)
    ax.set(
        xlabel="τ = n √η",
        ylabel=f"{KAPPA_A}(τ) / {KAPPA_A}(0) − 1  (%)",
        title=f"NTK drift, a = {modes}: measured and fitted laws",
    )
    ax.legend(fontsize=7)


def _drift_grid(ax, grid) -> None:
    """Each law's unexplained fraction (worst mode) on every grid run, sorted by (beta, eta):
    out of sample (filled; parameters from the other (eta, beta)) and in-sample (open)."""
    order = np.lexsort((grid.eta.values, grid.beta.values))
    x = np.arange(len(order))
    out_all = out_of_sample(grid)
    for k, (law, style) in enumerate(LAW_STYLE.items()):
        out = np.fmax.reduce(out_all[DRIFT_LAWS.index(law)], axis=-1)[order]
        inside = grid.drift_unexplained.sel(law=law).max("drift_mode").values[order]
        marker = {"marker": style["marker"], "color": style["color"], "ms": 5, "ls": "none"}
        ax.plot(x + 0.2 * (k - 1), out, **marker, label=law)
        ax.plot(x + 0.2 * (k - 1), inside, **marker, mfc="none")
    tolerance = CLAIMS["F4-law"].tolerance.high
    ax.axhline(tolerance, color="0.5", ls="--", lw=1, label=f"F4-law bound {tolerance:g}")
    ax.set_yscale("log")
    labels = [f"{grid.eta.values[i]:g}, {grid.beta.values[i]:g}" for i in order]
    ax.set_xticks(x, labels, fontsize=7, rotation=90)
    ax.set(
        xlabel="grid run (η, β)",
        ylabel="unexplained fraction (worst a)",
        title="out of sample (filled) and in-sample (open)",
    )
    ax.legend(fontsize=7, ncol=2)


def _seed_errorbar(ax, x, values, **style) -> None:
    """Seed means at x with min-max bars."""
    mean = np.array([np.nanmean(v) for v in values])
    low = mean - np.array([np.nanmin(v) for v in values])
    high = np.array([np.nanmax(v) for v in values]) - mean
    ax.errorbar(x, mean, yerr=[low, high], capsize=2, **style)


def _width_errors(ax, results: Results, dataset: str) -> None:
    """F5 top row: the EFT errors against width, log-log, each with its fitted slope and the
    slope's bootstrap interval (claim F5-slope)."""
    widths = np.array(sorted(results.width_sweep["widths"]))
    for k, (name, quantity) in enumerate(WIDTH_ERRORS.items()):
        per_width = width_values(results, dataset, quantity)
        usable = positive_seeds(per_width)  # the values the slope is fitted to, drawn as such
        _, text = _width_slope(usable, width_slope_shortfall(per_width, usable))
        left_out = sum(v.size for v in per_width.values()) - sum(v.size for v in usable.values())
        if left_out:
            text += f"; {left_out} seed value(s) ≤ 0 or not finite left out"
        dodge = _dodge(k, len(WIDTH_ERRORS), 0.05)  # bars side by side per width
        x = np.array(list(usable), dtype=float) * dodge
        label = f"{WIDTH_ERROR_LABELS[name]}: {text}"
        _seed_errorbar(ax, x, list(usable.values()), fmt="o-", color=PALETTE[k], label=label)
    ax.set(yscale="log", ylabel="relative error (seed mean, min–max)", title=dataset)
    _width_axis(ax, widths)
    _legend_below(ax, ncol=1)


WIDTH_ERROR_LABELS = {  # results.WIDTH_ERRORS's names (claim ids) as the figures write them
    "background residual (exact)": "background residual (exact)",
    "|H_fit/H_eta - 1|": f"|{H_FIT} / {H_ETA} − 1|",
    "|m2_fit/m2_eta - 1|": f"|{M_FIT}² / {sub('m', 'η')}² − 1|",
    "NTK drift": "NTK drift",
}
INFINITE_LABELS = {
    "kappa_0 at init": f"{KAPPA_0} at init",
    "m2_fit": f"{M_FIT}² (mean mode)",
}
SERIES_OFFSET = 3e-4  # in 1/width: F5's two quantities side by side at every width and at infinity


def _inverse_width_ticks(ax, widths, fontsize: float = 7) -> None:
    """x ticks at 0 ("∞") and at 1/width; going right to left, a label too close to the last
    label of the first line (the widest widths crowd together near 0) drops to a second line.
    Label widths are estimated at 0.6 em per character, 10 % spare for the final layout."""
    ticks = np.concatenate([[0.0], 1 / np.asarray(widths, float)])
    labels = ["∞"] + [f"1/{w}" for w in widths]
    low, high = ax.get_xlim()
    pixels_per_unit = ax.get_window_extent().width / (high - low)
    char_pixels = 0.6 * fontsize * ax.figure.dpi / 72
    right = None  # (position, characters) of the last label left on the first line
    for k in np.argsort(ticks)[::-1]:
        needed = 1.1 * char_pixels * (len(labels[k]) + (right[1] if right else 0)) / 2
        if right and (right[0] - ticks[k]) * pixels_per_unit < needed:
            labels[k] = "\n" + labels[k]
        else:
            right = (ticks[k], len(labels[k]))
    ax.set_xticks(ticks, labels, fontsize=fontsize)


def _infinite_width_limit(ax, results: Results, dataset: str) -> None:
    """F5 bottom row: kappa_0 at init and m2_fit over their analytic infinite-width values, in %,
    against 1/width, with the weighted 1/width extrapolation and its interval at 0 (claim
    F5-infinite)."""
    band = 100 * CLAIMS["F5-infinite"].tolerance.high
    ax.axhspan(-band, band, color="0.9", lw=0, label=f"±{band:g} % of the analytic value")
    ax.axhline(0, color="k", lw=1, label="analytic infinite width")
    for k, (name, (analytic, ratios)) in enumerate(infinite_width_ratios(results, dataset).items()):
        widths = np.array(sorted(ratios))
        label = f"{INFINITE_LABELS[name]}, analytic {np.nanmean(analytic):.4g}"
        values = [100 * (ratios[w] - 1) for w in widths]
        x = 1 / widths + (k - 0.5) * SERIES_OFFSET
        _seed_errorbar(ax, x, values, fmt="os"[k], color=PALETTE[k], label=label)
        if extrapolation_shortfall(ratios) is None:
            fit = extrapolate_in_inverse_width(ratios)
            line = np.linspace(0, 1 / widths.min(), 50)
            ax.plot(
                line, 100 * (fit["intercept"] + fit["slope"] * line - 1), "--", color=PALETTE[k]
            )
            low, high = (100 * (end - 1) for end in fit["interval"])
            centre = 100 * (fit["intercept"] - 1)
            interval = f"{fit['confidence']:.0%}: {_signed(low)} … {_signed(high)} %"
            ax.errorbar(
                [(k - 0.5) * SERIES_OFFSET],
                [centre],
                yerr=[[centre - low], [high - centre]],
                fmt="os"[k],
                mfc="w",
                color=PALETTE[k],
                capsize=4,
                label=f"extrapolated: {_signed(centre)} % ({interval})",
            )
    _inverse_width_ticks(ax, widths)
    ax.set(xlabel="1 / width", ylabel="value / analytic − 1 (%, seed mean, min–max)")
    ax.legend(fontsize=7)


def figure_width(results: Results):
    """F5: EFT errors against width (top) and the approach of kappa_0 and m2_fit to their
    analytic infinite-width values (bottom), seed means with min-max bars."""
    datasets = results.width_sweep["datasets"]
    fig, axes = plt.subplots(2, len(datasets), figsize=(5.6 * len(datasets), 9), squeeze=False)
    for k, dataset in enumerate(datasets):
        _width_errors(axes[0, k], results, dataset)
        _infinite_width_limit(axes[1, k], results, dataset)
    ref = results.width_sweep
    title = (
        f"F5  Approach to the NTK limit (η = {ref['eta'][0]:g}, β = {ref['beta'][0]:g}, "
        f"{len(ref['seeds'])} seeds)"
    )
    return _finish(fig, title)


def figure_phase_diagram(results: Results):
    """F6: overdamped / underdamped / alternating / unstable regions and the trained runs."""
    fig, ax = plt.subplots(figsize=(7, 4.6))
    beta = np.linspace(0, 0.999, 400)
    lower, upper, edge = theory.regime_bounds(beta)
    x_min, x_max = 1e-3, 20
    bounds = [(x_min, lower), (lower, upper), (upper, edge), (edge, x_max)]
    for name, (lo, hi) in zip(theory.REGIMES, bounds, strict=True):
        ax.fill_betweenx(beta, lo, hi, color=REGIME_COLOURS[name], alpha=0.3, lw=0, label=name)
    for bound in (lower, upper, edge):
        ax.plot(bound, beta, color="0.3", lw=0.6)
    norm = LogNorm(1e-4, 1e-1)
    for dual, ntk in zip(results.all_runs("duality"), results.all_runs("ntk"), strict=True):
        x, beta_run = initial_step(ntk), ntk.beta.values
        err = hubble_fit_error(dual).values
        div = ntk.diverged.values
        catapult = ~div & predicted_unstable(ntk)
        fitted = ~div & ~catapult & np.isfinite(err)
        unfitted = ~div & ~catapult & ~np.isfinite(err)
        points = ax.scatter(
            x[fitted],
            beta_run[fitted],
            c=np.clip(err[fitted], norm.vmin, norm.vmax),
            cmap="cividis",
            norm=norm,
            s=28,
            edgecolor="k",
            lw=0.4,
            zorder=3,
        )
        markers = (  # zorder: a run without a fit near the edge stays in front of a catapult
            (unfitted, dict(marker="o", s=28, facecolor="0.7", edgecolor="k", zorder=5), "no fit"),
            (div, dict(marker="X", s=60, color="k", zorder=4), "diverged"),
            (
                catapult,
                dict(marker="D", s=40, facecolor="w", edgecolor="k", zorder=4),
                "converged beyond the edge (catapult)",
            ),
        )
        for mask, style, label in markers:
            if mask.any():
                ax.scatter(x[mask], beta_run[mask], label=label, **style)
    _width_sweep_note(ax, results)
    label = f"|{H_FIT} / {H_ETA} − 1| (mean mode)"
    fig.colorbar(points, ax=ax, label=label, extend="both")  # clipped
    ax.set(
        xscale="log",
        xlim=(x_min, x_max),
        ylim=(0, 1),
        xlabel=f"η {sub('λ', '0')} / N (at initialisation)",
        ylabel="momentum β",
        title=f"F6  Phase diagram of the mean mode ({results.dataset}, all widths)",
    )
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(
        unique.values(),
        unique.keys(),
        fontsize=7,
        loc="upper left",
        bbox_to_anchor=(0, -0.15),
        ncol=3,
    )
    return fig


def _width_sweep_note(ax, results: Results) -> None:
    """F6: the width sweep's runs of the figures' data set sit at one (eta, beta), their
    markers on top of each other: an arrow says how many runs the cluster holds (a sweep of
    several (eta, beta), or of a schedule, which F6 does not draw, gets no arrow)."""
    sweep = results.width_sweep
    if results.dataset not in sweep["datasets"]:
        return
    if len(sweep["eta"]) != 1 or len(sweep.get("beta") or []) != 1:
        return
    runs = results.width_runs("ntk", results.dataset)
    x = np.median([initial_step(ntk) for ntk in runs.values()])
    count = sum(ntk.sizes["run"] for ntk in runs.values())
    ax.annotate(
        f"{count} runs (F5's width sweep)",
        xy=(x, sweep["beta"][0]),
        xytext=(0, -30),  # below the point, between the rows of the default grid's beta
        textcoords="offset points",
        ha="center",
        fontsize=7,
        arrowprops={"arrowstyle": "->", "color": "0.3", "lw": 0.8},
    )


def _settings_text(ds) -> str:
    """The network settings derived from a target (docs/physics.md §12), for a panel."""
    return (
        f"width {ds.attrs['width']}, ε = {number(ds.attrs['amplitude'], '.0e')}, "
        f"{KAPPA_0} = {ds.attrs['kappa0']:.4g}\n"
        f"dt = {ds.attrs['dt']:.3g}, {ds.attrs['steps']} steps\n"
        f"{_span_text(BETA_N, ds.beta, '.4f')}\n"
        f"{_span_text(ETA_N, ds.eta, '.3g')}\n"
        f"loss scale {_span_text(f'{ETA_N}/dt²', ds.loss_scale, '.3g')}\n"
        f"κ drift {number(ds.attrs['kappa_drift'], '.1e')}"
    )


def _span_text(name: str, values, spec: str) -> str:
    """`name ∈ [min, max]` of a setting over the steps, `name = value` where both ends print
    alike (a constant setting, e.g. every de Sitter target's)."""
    low, high = format(values.min().item(), spec), format(values.max().item(), spec)
    return f"{name} = {low}" if low == high else f"{name} ∈ [{low}, {high}]"


def _target_title(ds) -> str:
    """A target's name (omitted where it only repeats the background's), background and mass."""
    kind, m = ds.attrs["background"], ds.attrs["mass"]
    if kind == "power_law":
        physics = f"a ∝ {power('t', format(ds.attrs['background_p'], 'g'))}, m = {m:g}"
    elif kind == "de_sitter":
        hubble = ds.attrs["background_H"]
        vacuum = theory.cosmological_constant(hubble)
        physics = f"de Sitter, H = {hubble:g} (Λ = {vacuum:.3g}), m = {m:g}"
    else:
        physics = f"Friedmann, Λ = {ds.attrs['background_Lambda']:g}, m = {m:g}"
    target = ds.attrs["target"]
    return physics if target == kind else f"{_display(target)}: {physics}"


PROPER_NAMES = {"de sitter": "de Sitter", "nesterov": "Nesterov", "friedmann": "Friedmann"}


def _display(name: str) -> str:
    """A config name (sweep, target) in a title: words, not an identifier, the physicists'
    names capitalised ("history_de_sitter": "history de Sitter")."""
    words = name.replace("_", " ")
    for lower, proper in PROPER_NAMES.items():
        words = re.sub(rf"\b{lower}\b", proper, words)
    return words


def _measured_text(ds) -> str:
    """The F8 field and decay claims' numbers of one target, the decay's verdict where it has
    no number (claims.json has the same)."""
    lines = [f"sup|Δφ| / |{PHI_T0}| = {number(simulation_error(ds), '.1e')}"]
    if ds.attrs["background"] == "power_law":
        decay = power_law_claims("", ds)[1]  # F8-onset, F8-decay
        if decay.measured is None:
            lines.append(f"late |φ| ∝ a^?: {decay.verdict} (H ≤ m/10)")
        else:
            lines.append(f"late |φ| ∝ {power('a', f'{decay.measured:.3f}')} (H ≤ m/10)")
    if ds.attrs["background"] == "de_sitter":
        fit = de_sitter_recovery(ds)
        lines.append(f"Prony H = {fit['H_fit']:.5g}, m² = {fit['m2_fit']:.5g}")
    return "\n".join(lines)


def _marker_steps(steps: int, logarithmic: bool, count: int = 60) -> np.ndarray:
    """About `count` steps at which to draw network markers, evenly spaced in t or in log t
    (power-law targets, drawn on a log axis; t_n = t0 + n dt, so log spacing in n + 1)."""
    if not logarithmic:
        return np.arange(0, steps, max(steps // count, 1))
    return np.unique(np.geomspace(1, steps, count).astype(int) - 1)


def figure_reverse(results: Results):
    """F8: per target cosmology, the network's phi(t) = u_0 / eps against the integrated target
    field, the derived settings on the panel, and the residual below."""
    sims = [ds for _, ds in sorted(results.simulate.items())]
    fig, axes = plt.subplots(
        2,
        len(sims),
        figsize=(5.2 * len(sims), 4.6),
        sharex="col",
        gridspec_kw={"height_ratios": [3, 1]},
        squeeze=False,
    )
    for (top, bottom), ds in zip(axes.T, sims, strict=True):
        t, scale = ds.t.values, abs(ds.attrs["phi0"])
        logarithmic = ds.attrs["background"] == "power_law"
        shown = _marker_steps(len(t), logarithmic)
        top.plot(t, ds.phi_target / scale, color=EXACT, lw=1.4, label="target (integrated)")
        top.plot(
            t[shown],
            ds.phi_network[shown] / scale,
            "o",
            ms=2.5,
            color=NETWORK,
            label=f"network {U0} / ε",
        )
        bottom.plot(t, (ds.phi_network - ds.phi_target) / scale, color=NETWORK, lw=1)
        bottom.ticklabel_format(axis="y", style="sci", scilimits=(0, 0), useMathText=True)
        if logarithmic:
            onset = theory.power_law_time(ds.attrs["background_p"], ds.attrs["mass"])  # H = m
            for ax in (top, bottom):
                ax.set_xscale("log")
                ax.axvline(onset, color=CONTINUUM, ls=":", lw=1)
            top.text(
                onset,
                0.02,
                " H = m",
                color=CONTINUUM,
                fontsize=7,
                transform=top.get_xaxis_transform(),
            )
        top.set_title(_target_title(ds), fontsize=9)
        top.text(
            0.98,
            0.97,
            f"{_settings_text(ds)}\n{_measured_text(ds)}",
            transform=top.transAxes,
            ha="right",
            va="top",
            fontsize=6.5,
            bbox={"fc": "white", "ec": "0.8", "alpha": 0.85},
        )
        bottom.set_xlabel("cosmic time t (the target's unit; H and m in its inverse)")
    axes[0, 0].set_ylabel(f"φ / |{PHI_T0}|")
    axes[1, 0].set_ylabel(f"Δφ / |{PHI_T0}|")
    title = "F8  A chosen universe simulated by training (settings derived per target)"
    return _finish(fig, title, legend_from=axes[0, 0])


def _schedule_title(label: str, beta0: float) -> str:
    """An F7 panel's history in the physics' notation from its run coordinate `schedule`
    (`theory.schedule_label`, "kind key=value ...") and its first beta_n: a ∝ t^0.667, τ0 = 2
    for a power law, constant β = 0.97 for de Sitter."""
    params = theory.parse_schedule_label(label)
    kind = params["kind"]
    if kind == "constant":
        return f"constant β = {beta0:g}"
    if kind == "nesterov":
        return f"{BETA_N} = n / (n + 3)"
    if kind == "friedmann":
        return f"H² = (ρ/M² + Λ)/3, M = {params['planck_mass']:g}"
    title = f"a ∝ {power('t', format(params['p'], '.3g'))}, {sub('τ', '0')} = {params['tau0']:g}"
    if params.get("hubble_step"):
        title += f", H√{ETA_N} ≤ {params['hubble_step']:g}"
    return title


def _history_text(results: Results, ntk, cosmo) -> str:
    """F7 panel text: sup errors of both history fields, and Nesterov's envelope exponent or
    Friedmann's w (claims F7-*)."""
    errors = {h: history_background_error(ntk, cosmo, h) for h in ("exact", "continuum")}
    lines = [f"exact {_percent(errors['exact'], 2)}"]
    if np.isfinite(errors["continuum"]):
        lines.append(f"contin. {_percent(errors['continuum'], 2)}")
    kind = theory.parse_schedule_label(ntk.schedule.values)["kind"]
    if kind == "nesterov":
        env = nesterov_envelope(ntk, results.config["duality"]["fit_rel_floor"])
        lines.append(f"envelope {power('τ', format(env['slope'], '.2f'))}")
    if kind == "friedmann":
        w = equation_of_state(ntk)
        lines.append(f"w = {number(w, '+.3f')}" if np.isfinite(w) else "w: no whole period")
    return "\n".join(lines)


def _window_hubble(ax, dual, cosmo) -> None:
    """F7 lower panel: the history's H(tau) and the windowed Prony H of u_0, resolved windows
    filled, unresolved ones open (other statuses have no H)."""
    tau, status = dual.window_tau.values, dual.window_status.values
    ax.plot(cosmo.tau.values, cosmo.history_hubble.values, color=HISTORY, lw=1.2, label="history H")
    for code, fill in ((0, NETWORK), (3, "none")):
        sel = status == code
        ax.errorbar(
            tau[sel],
            dual.H_window.values[sel],
            dual.H_window_err.values[sel],
            fmt="o",
            ms=3.5,
            mfc=fill,
            color=NETWORK,
            lw=0.8,
            label="windowed fit" if code == 0 else "windowed fit (unresolved)",
        )
    low, high = np.nanmin(cosmo.history_hubble.values), np.nanmax(cosmo.history_hubble.values)
    if high > 3 * low:  # a varying history: log scale
        _plain_log_y(ax, low, high)
    ax.set_xlabel(f"τ = Σ √{ETA_N}")


def _widths_text(widths: list[int]) -> str:
    """F7's width text: "width 1024", or "widths 512, 1024" when the runs differ."""
    return ("width " if len(widths) == 1 else "widths ") + ", ".join(map(str, widths))


HISTORY_LABELS = {  # F7's fields (docs/figures.md F7): de Sitter's continuum history is F1's
    "exact": "exact image of the schedule",  # continuum dictionary, Friedmann's the K modes'
    "continuum": "continuum history",
}


def figure_histories(results: Results):
    """F7: per expansion history (figures.histories), u_0(tau) against the history's exact image
    and continuum field, and the windowed H(tau) of u_0 against the history's H."""
    runs = {s: results.history_runs(s) for s in ("ntk", "cosmology", "duality")}
    names = list(runs["ntk"])
    fig, axes = plt.subplots(
        2, len(names), figsize=(2.6 * len(names), 4.6), squeeze=False, sharex="col"
    )
    for j, name in enumerate(names):
        ntk, cosmo, dual = (runs[s][name] for s in ("ntk", "cosmology", "duality"))
        u, tau = ntk.u.sel(mode=0).values, ntk.tau.values
        fields = {
            h: cosmo.history_field.sel(history=h, mode=0).values for h in ("exact", "continuum")
        }
        fields = {h: f for h, f in fields.items() if np.isfinite(f).any()}
        _overlay(axes[0, j], tau, u, fields, abs(u[0]), labels=HISTORY_LABELS)
        axes[0, j].set_title(
            f"{_display(name.removeprefix('history_'))}\n"
            f"{_schedule_title(str(ntk.schedule.values), float(ntk.beta_n.values[0]))}",
            fontsize=7.5,
        )
        axes[0, j].text(
            0.97,
            0.05,
            _history_text(results, ntk, cosmo),
            transform=axes[0, j].transAxes,
            ha="right",
            va="bottom",
            fontsize=7,
        )
        _window_hubble(axes[1, j], dual, cosmo)
    axes[0, 0].set_ylabel(f"{U0} / |{U0}(0)|")
    axes[1, 0].set_ylabel("H  [1/τ]")
    handles = [h for ax in axes[:, 0] for h in ax.get_legend_handles_labels()[0]]
    labels = [lab for ax in axes[:, 0] for lab in ax.get_legend_handles_labels()[1]]
    fig.suptitle(
        f"F7  Expansion histories: network {U0} against each history's field, and the "
        f"windowed H(τ) of {U0} ({_widths_text(results.history_widths())})"
    )
    fig.tight_layout(rect=(0, 0, 1, 0.92))
    fig.legend(
        handles,
        labels,
        loc="upper center",
        ncol=len(handles),
        bbox_to_anchor=(0.5, 0.945),
        fontsize=8,
    )
    return fig


FIGURES = {
    "F1": figure_background,
    "F2": figure_ntk,
    "F3": figure_lambda,
    "F4": figure_perturbations,
    "F5": figure_width,
    "F6": figure_phase_diagram,
    "F7": figure_histories,
    "F8": figure_reverse,
}
