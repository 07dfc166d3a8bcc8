"""Layout of figure elements that depend on how many runs a preset has."""

import numpy as np
import pytest


@pytest.mark.parametrize("entries", [5, 7, 11])
def test_legend_below_never_covers_the_axes_or_its_label(entries):
    """F3 has one legend entry per beta: five in the workstation and paper presets, whose
    legend inside the axes lay over the data. Below the x label it covers neither."""
    from nncosmo.figures import _legend_below, plt

    fig, axes = plt.subplots(1, 2, figsize=(10.5, 5))
    ax = axes[0]
    for k in range(entries):
        ax.plot(np.geomspace(0.01, 0.5, 5), np.geomspace(3, 0.03, 5) * (k + 1), "o-",
                label=f"β = 0.{k}: Λ_fit ∝ η^-0.999")  # fmt: skip
    ax.set(xscale="log", yscale="log", xlabel="learning rate η")
    _legend_below(ax)
    fig.tight_layout()
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    assert legend.y1 <= ax.get_window_extent(renderer).y0
    assert legend.y1 <= ax.xaxis.label.get_window_extent(renderer).y0
    assert legend.y0 >= 0  # inside the figure
    plt.close(fig)


@pytest.mark.parametrize(("period", "steps"), [(5.8, 131), (12.0, 131), (40.0, 400), (7.3, 60)])
def test_network_points_sample_every_oscillation_at_least_four_times(period, steps):
    """F1's bottom-right run oscillates with a period of ~5.8 steps; one point every 4 steps
    (131 // 30) drew a false slow wave. The stride keeps >= 4 points per period, and never
    exceeds ~30 points over a run whose oscillation is slow."""
    from nncosmo.figures import _marker_stride

    n = np.arange(steps)
    u = 0.95**n * np.cos(2 * np.pi * n / period + 0.3)
    stride = _marker_stride(u)
    assert period / stride >= 4
    assert stride <= max(steps // 30, 1)


def test_network_points_of_a_field_that_never_oscillates():
    """An overdamped u_0 (no sign change): about 30 points over the run."""
    from nncosmo.figures import _marker_stride

    assert _marker_stride(-np.exp(-np.arange(120) / 20)) == 4


def test_one_oscillation_limits_the_marker_stride():
    """u changes sign at n = 100.5 and 110.5 only: half a period of 10 steps allows a stride of
    5, not the 300 // 30 = 10 of a field that never oscillates."""
    from nncosmo.figures import _marker_stride

    assert _marker_stride(5 - np.abs(np.arange(300.0) - 105.5)) == 5


def test_drawn_steps_end_one_step_after_u_stays_below_the_floor():
    """|u| = 2^-n is below 1e-3 |u(0)| from n = 10 on (2^-10 = 9.8e-4): steps 0..10 are drawn;
    a field that vanishes at once still gets 10 steps."""
    from nncosmo.figures import _trim

    assert _trim(0.5 ** np.arange(30)) == 11
    assert _trim(np.r_[1.0, np.zeros(29)]) == 10


def test_side_by_side_series_are_centred_on_the_width():
    """Two series 0.12 octaves apart sit at w 2^-0.06 and w 2^0.06; the middle one of three
    on w."""
    from nncosmo.figures import _dodge

    assert _dodge(0, 2, 0.12) == pytest.approx(2**-0.06)
    assert _dodge(1, 2, 0.12) == pytest.approx(2**0.06)
    assert _dodge(1, 3, 0.05) == 1.0


def test_f8_network_markers_span_the_run():
    """Linear: every 1000 // 60 = 16th step from 0, every step of a run under 60 steps; log:
    geometric in n + 1, from step 0 to the last step, 999."""
    from nncosmo.figures import _marker_steps

    np.testing.assert_array_equal(_marker_steps(1000, False), np.arange(0, 1000, 16))
    np.testing.assert_array_equal(_marker_steps(50, False), np.arange(50))
    steps = _marker_steps(1000, True)
    assert steps[0] == 0 and steps[-1] == 999 and np.all(np.diff(steps) > 0)


def test_signed_percentages_show_a_second_decimal_only_where_one_would_print_zero():
    from nncosmo.figures import _signed

    assert _signed(-0.04) == "\N{MINUS SIGN}0.04"
    assert _signed(0.0) == "+0.0"
    assert _signed(2.34) == "+2.3"


def test_seed_errorbars_span_the_seeds_min_to_max_around_the_mean():
    from nncosmo.figures import _seed_errorbar, plt

    fig, ax = plt.subplots()
    _seed_errorbar(ax, [1.0, 2.0], [[1.0, 2.0, 6.0], [4.0, np.nan, 4.0]], fmt="o")
    line, _, (bars,) = ax.containers[0]
    np.testing.assert_array_equal(line.get_ydata(), [3.0, 4.0])
    np.testing.assert_array_equal([s[:, 1] for s in bars.get_segments()], [[1, 6], [4, 4]])
    plt.close(fig)


def test_f7_windowed_fits_show_resolved_and_unresolved_windows_only():
    """Status 0 (ok) filled, 3 (unresolved) open; a window of another status (here 1,
    no_real_image) has no H and is not drawn."""
    import xarray as xr

    from nncosmo.figures import _window_hubble, plt

    dual = xr.Dataset(
        {
            "window_tau": ("window", [1.0, 2.0, 3.0]),
            "window_status": ("window", [0, 1, 3]),
            "H_window": ("window", [0.5, np.nan, 0.7]),
            "H_window_err": ("window", [0.01, np.nan, 0.02]),
        }
    )
    cosmo = xr.Dataset({"tau": ("step", [0.0, 4.0]), "history_hubble": ("step", [0.6, 0.6])})
    fig, ax = plt.subplots()
    _window_hubble(ax, dual, cosmo)
    shown = {c.get_label(): list(c.lines[0].get_xdata()) for c in ax.containers}
    assert shown == {"windowed fit": [1.0], "windowed fit (unresolved)": [3.0]}
    plt.close(fig)


@pytest.mark.parametrize(
    ("target", "attrs", "title"),
    [
        ("de_sitter", {"background_H": 0.2}, "de Sitter, H = 0.2 (Λ = 0.12), m = 1.5"),
        ("inflation", {"background_H": 0.2}, "inflation: de Sitter, H = 0.2 (Λ = 0.12), m = 1.5"),
        ("friedmann", {"background_Lambda": 0.5}, "Friedmann, Λ = 0.5, m = 1.5"),
    ],
)
def test_f8_titles_name_a_target_only_where_the_name_adds_to_its_background(target, attrs, title):
    """F8's column title read "de sitter: de Sitter H = 0.2": a target named after its
    background is not named twice; any other name stays (Λ = 3 H² for de Sitter)."""
    import xarray as xr

    from nncosmo.figures import _target_title

    kind = "de_sitter" if "background_H" in attrs else "friedmann"
    ds = xr.Dataset(attrs={"background": kind, "mass": 1.5, "target": target, **attrs})
    assert _target_title(ds) == title


def test_f6_counts_the_width_sweeps_runs_where_they_overlap():
    """F6 places 40 runs of the width sweep (4 widths x 10 seeds) at one (eta, beta), on top of
    each other; an arrow at that point gives their count (none for another data set's sweep or
    a sweep of several eta)."""
    import xarray as xr

    from nncosmo.figures import _width_sweep_note, plt

    widths, seeds, n_samples = [8, 16], [0, 1, 2], 4
    sweep = {"datasets": ["toy"], "widths": widths, "eta": [0.5], "beta": [0.9], "seeds": seeds}

    def job(lambda_0):
        eigenvalue = np.full((len(seeds), 1, 1), lambda_0)
        return xr.Dataset(
            {"eigenvalue": (("run", "checkpoint", "eigen"), eigenvalue)},
            coords={"eta": ("run", [0.5] * len(seeds))},
            attrs={"n_samples": n_samples},
        )

    jobs = {8: job(1.6), 16: job(2.0)}  # x = eta lambda_0 / N = 0.2 and 0.25
    results = type("R", (), {"dataset": "toy", "width_sweep": sweep})()
    results.width_runs = lambda stage, dataset: jobs
    fig, ax = plt.subplots()
    _width_sweep_note(ax, results)
    (note,) = ax.texts
    assert note.get_text().startswith(f"{len(widths) * len(seeds)} runs")
    assert note.xy == pytest.approx((0.225, 0.9))
    results.dataset = "digits"  # not in the width sweep: nothing to count
    fig, ax = plt.subplots()
    _width_sweep_note(ax, results)
    assert not ax.texts
    results.dataset, sweep["eta"] = "toy", [0.5, 1.0]  # two points: no single cluster
    fig, ax = plt.subplots()
    _width_sweep_note(ax, results)
    assert not ax.texts
    sweep["eta"] = [0.5]
    del sweep["beta"]  # a schedule's sweep: its runs are not in F6
    fig, ax = plt.subplots()
    _width_sweep_note(ax, results)
    assert not ax.texts
    plt.close("all")
