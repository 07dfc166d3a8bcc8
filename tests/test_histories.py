"""F7's expansion histories: the exact image of a scheduled recursion, the image velocity through
two lattice points, every mode gravitating in Friedmann (the integrator and F7's continuum
history), and the windowed H fit."""

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402

from nncosmo import theory  # noqa: E402
from nncosmo.cosmology import (  # noqa: E402
    Expansion,
    continuum_fields,
    image_fields,
    integrate_flrw,
)
from nncosmo.duality import WINDOW_STATUS, with_hubble_windows  # noqa: E402

ETA, STEPS, TAU0 = 0.01, 400, 2.0
KAPPA = np.array([2.0, 0.08, 0.3])  # the default run's mean-mode kappa and two slower modes
U0 = np.array([-15.0, 1.7, 2.9])
# F7's tolerances (docs/figures.md): the exact image within 1 % in sup-norm, H within 5 %
IMAGE_TOL, HUBBLE_TOL = 1e-2, 5e-2


def schedules():
    """(etas, betas, nesterov) per history, n = 0..STEPS."""
    constant = np.full(STEPS + 1, ETA)
    return {
        "de_sitter": (constant, np.full(STEPS + 1, 0.97), False),
        "radiation": (*theory.power_law_schedule(ETA, 0.5, TAU0, STEPS), False),
        "matter": (*theory.power_law_schedule(ETA, 2 / 3, TAU0, STEPS), False),
        "nesterov": (constant, theory.nesterov_momentum(STEPS), True),
    }


@pytest.fixture(scope="module")
def linear_runs():
    """Modes of a linear model under each schedule: theory.scheduled_recursion, which
    tests/test_schedules.py checks against optax training of a linear model to 1e-10."""
    specs = schedules()
    etas = np.stack([s[0] for s in specs.values()])
    betas = np.stack([s[1] for s in specs.values()])
    nesterov = np.array([s[2] for s in specs.values()])
    u = np.stack(
        [theory.scheduled_recursion(U0, KAPPA, e[:STEPS, None], b[:STEPS, None], n)
         for e, b, n in zip(etas, betas, nesterov, strict=True)]
    )  # fmt: skip
    return {"names": list(specs), "etas": etas, "betas": betas, "nesterov": nesterov, "u": u}


def test_exact_image_of_a_scheduled_linear_model_is_its_field(linear_runs):
    """The image path (per-step exact dictionary, tabulated H and m^2, diffrax) reproduces the
    recursion: to round-off for a constant schedule (the §5 image is exact there), and within
    the second-order frozen-coefficient error, far inside F7's 1 %, for varying ones."""
    r = linear_runs
    tau = theory.lattice_time(r["etas"])
    kappa = np.broadcast_to(KAPPA, r["u"].shape)
    fields, hubble = image_fields(
        tau, r["etas"], r["betas"], kappa, r["u"], r["nesterov"], 1e-11, 1e-13
    )
    error = np.nanmax(np.abs(fields - r["u"]), axis=1) / np.abs(U0)
    assert error[0].max() < 1e-9
    assert error[1:].max() < 0.1 * IMAGE_TOL
    nesterov = r["names"].index("nesterov")
    assert np.isnan(fields[nesterov, 0]).all() and np.isfinite(fields[nesterov, 1:]).all()


@pytest.mark.parametrize("kappa", [2.0, 0.05, 300.0])  # underdamped, overdamped, fast
def test_lattice_velocity_is_the_image_through_both_points(kappa):
    """The solution with that velocity passes through u(n - 1) one step back (mode_solution),
    and from rest the velocity is rest_initial_velocity (§7.1, written via the roots)."""
    image = theory.exact_dictionary(ETA, 0.9, kappa)
    dtau = np.sqrt(ETA)
    rate = theory.lattice_velocity(0.4, 1.0, dtau, image["H"], image["m2"])
    back = theory.mode_solution(-dtau, 1.0, rate, image["H"], image["m2"])
    assert back == pytest.approx(0.4, abs=1e-12)
    rest = theory.lattice_velocity(1.0, 1.0, dtau, image["H"], image["m2"])
    assert rest == pytest.approx(theory.rest_initial_velocity(ETA, 0.9, kappa, 1.0), rel=1e-10)


def test_every_mode_gravitates_in_friedmann_modes():
    """Two massless modes, Lambda = 0: kinetic domination, a ~ t^(1/3), H = 1/(3t), phi_a' =
    c_a / t with sum c_a^2 = 2/3, so phi_a = phi_a(1) + c_a ln t; true only when both modes'
    energy enters H (each alone carries half of it)."""
    c = np.sqrt(2 / 3) * np.array([np.cos(0.7), np.sin(0.7)])
    ts = np.linspace(1.0, 20.0, 41)
    out = integrate_flrw(
        ts, 0.3, c[0], 0.0, np.array([-0.2]), c[1:], np.zeros(1), np.zeros(1),
        kind="friedmann_modes", expansion=Expansion(Lambda=0.0),
    )  # fmt: skip
    np.testing.assert_allclose(out["H"], 1 / (3 * ts), rtol=1e-8)
    np.testing.assert_allclose(out["phi"], 0.3 + c[0] * np.log(ts), rtol=0, atol=1e-8)
    np.testing.assert_allclose(out["delta"][:, 0], -0.2 + c[1] * np.log(ts), rtol=0, atol=1e-8)


def test_friedmann_continuum_history_lets_every_mode_gravitate():
    """The F7 continuum Friedmann history (docs/physics.md §13: all K modes in rho, as in the
    network's own energy): the kinetic-domination solution of the test above through
    `continuum_fields`, with beta = 1 (Lambda = 0) and M = 2 (fields in units of u = M phi).
    H = 1/(3t) only if mode 1's energy enters H; with mode 0's alone H = |c_0| / sqrt(6) / t."""
    c = np.sqrt(2 / 3) * np.array([np.cos(0.7), np.sin(0.7)])
    ts, planck_mass = np.linspace(1.0, 20.0, 41), 2.0
    fields, hubble = continuum_fields(
        "friedmann", [{"kind": "friedmann", "planck_mass": planck_mass}], ts[None],
        np.array([ETA]), np.array([1.0]), np.zeros((1, ts.size, 2)),
        planck_mass * np.array([[0.3, -0.2]]), planck_mass * c[None], 1e-11, 1e-13,
    )  # fmt: skip
    np.testing.assert_allclose(hubble[0], 1 / (3 * ts), rtol=1e-8)
    expected = planck_mass * (np.array([0.3, -0.2]) + c * np.log(ts)[:, None])
    np.testing.assert_allclose(fields[0], expected, rtol=0, atol=1e-7)


def test_windowed_hubble_recovers_a_power_law_history(linear_runs):
    """Sliding Prony windows of the radiation run (float64, one period of u_0 per window, F7's
    default) recover H = p / (tau0 + tau) averaged over the window within F7-H's 5 % on every
    resolved window; the early windows, where H changes by more than 25 %, are marked
    unresolved."""
    r = linear_runs
    run = r["names"].index("radiation")
    tau = theory.lattice_time(r["etas"][run])
    u = r["u"][run][None]
    ntk = xr.Dataset(
        {"u": (("run", "step", "mode"), u)},
        coords={
            "tau": (("run", "step"), tau[None]),
            "eta_n": (("run", "step"), r["etas"][run][None]),
        },
    )
    cosmo = xr.Dataset({"history_hubble": (("run", "step"), 0.5 / (TAU0 + tau[None]))})
    ds = with_hubble_windows(xr.Dataset(), ntk, cosmo, 44, 22, 0.25, 1e-3).isel(run=0)
    status = ds.window_status.values
    ok = status == WINDOW_STATUS.index("ok")
    assert ok.sum() >= 10 and status[0] == WINDOW_STATUS.index("unresolved")
    relative = ds.H_window.values[ok] / ds.H_window_history.values[ok] - 1
    assert np.abs(relative).max() < HUBBLE_TOL


@pytest.mark.parametrize(
    "low, high, labels",
    [(0.015, 0.25, ["0.02", "0.05", "0.1", "0.2"]), (0.09, 25.0, ["0.1", "1", "10"])],
)
def test_f7_log_axes_are_labelled_in_plain_numbers_without_minor_labels(low, high, labels):
    """F7's H panels: plain labels at 1, 2, 5 x 10^k (10^k beyond 1.5 decades) and none on the
    minor ticks, whose default labels ("3×10⁻² 2×10⁻²") collided on short ranges."""
    from nncosmo.figures import _plain_log_y, plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [low, high])
    _plain_log_y(ax, low, high)
    fig.canvas.draw()
    shown = [t.get_text() for t in ax.get_yticklabels() if low <= t.get_position()[1] <= high]
    assert shown == labels
    assert not any(t.get_text() for t in ax.get_yticklabels(minor=True))
    plt.close(fig)


@pytest.mark.parametrize(
    "spec, title",
    [
        ({"kind": "constant"}, "constant β (de Sitter)"),
        ({"kind": "power_law", "p": 2 / 3, "tau0": 2.0, "hubble_step": 0.0}, "a ∝ t^0.667, τ₀ = 2"),
        (
            {"kind": "power_law", "p": 0.5, "tau0": 1.0, "hubble_step": 0.2},
            "a ∝ t^0.5, τ₀ = 1, H√η_n ≤ 0.2",
        ),
        ({"kind": "nesterov"}, "β_n = n / (n + 3)"),
        ({"kind": "friedmann", "planck_mass": 80.0}, "Friedmann, M = 80"),
    ],
)
def test_f7_titles_name_each_history_in_the_physics_notation(spec, title):
    """F7's panel titles read the run coordinate `schedule` (theory.schedule_label) back into
    the history it names; a zero hubble_step (the default: eta_n = eta) is not shown."""
    from nncosmo.figures import _schedule_title
    from nncosmo.theory import schedule_label

    assert _schedule_title(schedule_label(spec)) == title
