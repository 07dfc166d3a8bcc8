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
