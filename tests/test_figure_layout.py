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
                label=f"β = 0.{k}: slope vs η -0.999")  # fmt: skip
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
