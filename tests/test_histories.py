"""F7's expansion histories: the exact image of a scheduled recursion, the image velocity through
two lattice points, every mode gravitating in Friedmann (the integrator and F7's continuum
history), and the windowed H fit."""

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import xarray as xr  # noqa: E402
from scipy import special  # noqa: E402
from scipy.integrate import solve_ivp  # noqa: E402

from nncosmo import theory  # noqa: E402
from nncosmo.cosmology import (  # noqa: E402
    Expansion,
    continuum_fields,
    image_fields,
    integrate_flrw,
    step_image,
    with_histories,
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


def test_friedmann_continuum_history_of_massive_modes_against_an_independent_solve():
    """The F7 continuum Friedmann history with massive modes (the tests above have massless
    ones, so a mode's potential energy kappa_a phi_a^2 / 2 could drop out of H unseen):
    phi_a = u_a / M solve phi_a'' + 3 H phi_a' + kappa_a phi_a = 0 with H^2 = (sum_a (phi_a'^2
    + kappa_a phi_a^2) / 2 + Lambda) / 3 and Lambda = 3 H_beta^2 = (ln beta)^2 / (3 eta) (the
    exact de Sitter rate of beta), here by scipy's DOP853 from u(0) = (3, -2), u'(0) = (0.2,
    0.3), kappa = (0.5, 2), M = 2: the potential energy (~1.6) is of the order of Lambda
    (~1.7)."""
    beta, planck_mass, kappa = 0.8, 2.0, np.array([0.5, 2.0])
    u0, du0 = np.array([3.0, -2.0]), np.array([0.2, 0.3])
    ts = np.linspace(0.0, 10.0, 41)
    fields, hubble = continuum_fields(
        "friedmann", [{"kind": "friedmann", "planck_mass": planck_mass}], ts[None],
        np.array([ETA]), np.array([beta]), np.broadcast_to(kappa, (1, ts.size, 2)),
        u0[None], du0[None], 1e-11, 1e-13,
    )  # fmt: skip
    vacuum = np.log(beta) ** 2 / (3 * ETA)

    def rate(y):
        phi, dphi = y[:2], y[2:]
        return np.sqrt((np.sum(dphi**2 + kappa * phi**2) / 2 + vacuum) / 3)

    def field_equations(_, y):
        return np.concatenate([y[2:], -3 * rate(y) * y[2:] - kappa * y[:2]])

    start = np.concatenate([u0, du0]) / planck_mass
    ode = solve_ivp(
        field_equations, (0.0, 10.0), start, t_eval=ts, rtol=1e-12, atol=1e-14, method="DOP853"
    )
    np.testing.assert_allclose(fields[0], planck_mass * ode.y[:2].T, rtol=0, atol=1e-8)
    np.testing.assert_allclose(hubble[0], [rate(y) for y in ode.y.T], rtol=1e-9)
    assert hubble[0, 0] > 1.3 * np.sqrt(vacuum / 3)  # the modes' energy moves H


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
        ({"kind": "constant"}, "constant β = 0.97"),
        (
            {"kind": "power_law", "p": 2 / 3, "tau0": 2.0, "hubble_step": 0.0},
            r"a ∝ t$^{0.667}$, τ$_\mathregular{0}$ = 2",
        ),
        (
            {"kind": "power_law", "p": 0.5, "tau0": 1.0, "hubble_step": 0.2},
            r"a ∝ t$^{0.5}$, τ$_\mathregular{0}$ = 1, H√η$_\mathregular{n}$ ≤ 0.2",
        ),
        ({"kind": "nesterov"}, r"β$_\mathregular{n}$ = n / (n + 3)"),
        ({"kind": "friedmann", "planck_mass": 80.0}, "H² = (ρ/M² + Λ)/3, M = 80"),
    ],
)
def test_f7_titles_name_each_history_in_the_physics_notation(spec, title):
    """F7's panel titles read the run coordinate `schedule` (theory.schedule_label) back into
    the history it names, a constant schedule with the run's beta (0.97 here; the other kinds
    do not show it); a zero hubble_step (the default: eta_n = eta) is not shown."""
    from nncosmo.figures import _schedule_title
    from nncosmo.theory import schedule_label

    assert _schedule_title(schedule_label(spec), 0.97) == title


def test_empty_friedmann_continuum_history_is_the_exact_de_sitter_rate():
    """No field energy (u = 0, kappa = 0): the continuum Friedmann history is pure vacuum,
    Lambda = 3 H^2 of the exact dictionary (the friedmann schedule's beta_n -> beta as rho -> 0),
    so H = -ln(beta) / (3 sqrt(eta)) = -ln(0.8) / 0.3 = 0.743811... at every tau, not the
    continuum (1 - beta) / (3 sqrt(eta)) = 0.2 / 0.3 = 0.6667."""
    ts = np.linspace(0.0, 3.0, 7)
    fields, hubble = continuum_fields(
        "friedmann", [{"kind": "friedmann", "planck_mass": 1.0}], ts[None],
        np.array([ETA]), np.array([0.8]), np.zeros((1, ts.size, 2)),
        np.zeros((1, 2)), np.zeros((1, 2)), 1e-11, 1e-13,
    )  # fmt: skip
    np.testing.assert_allclose(hubble[0], -np.log(0.8) / 0.3, rtol=1e-9)
    assert np.all(fields == 0)


def test_nesterov_image_hubble_is_mode_zero_s_rate_from_the_first_real_step():
    """A Nesterov run's history H is mode 0's image (H differs per mode): for n >= 2 the
    recursion (D) has b_n = (beta_n^2 / beta_{n-1}) (1 - eta kappa) (constant eta), so
    3H_n = -ln b_n / sqrt(eta) with beta_n = n / (n + 3), written here by hand for kappa_0.
    The field starts at n0 = 1 (beta_0 = 0: no image at n = 0) from u(1) with the velocity of
    step 1's image through u(0) and u(1), and follows the recursion closely."""
    steps, kappa = 40, np.array([3.0, 0.5])
    etas, betas = np.full(steps + 1, ETA), np.arange(steps + 1) / (np.arange(steps + 1) + 3)
    np.testing.assert_array_equal(theory.nesterov_momentum(steps), betas)
    u0 = np.array([1.0, 1.0])
    u = theory.scheduled_recursion(u0, kappa, etas[:steps, None], betas[:steps, None], True)
    tau = theory.lattice_time(etas)
    fields, hubble = image_fields(
        tau[None], etas[None], betas[None], np.broadcast_to(kappa, u.shape)[None], u[None],
        np.array([True]), 1e-11, 1e-13,
    )  # fmt: skip
    n = np.arange(2, steps)
    b = betas[n] ** 2 / betas[n - 1] * (1 - ETA * kappa[0])
    np.testing.assert_allclose(hubble[0, n], -np.log(b) / (3 * np.sqrt(ETA)), rtol=1e-9)
    assert np.isnan(hubble[0, 0]) and np.isnan(fields[0, 0]).all()
    # the massive mode moves from step 0 to 1 by -eta kappa u(0) = -0.03: starting it from rest
    # at n0 = 1 would miss that velocity ~ -sqrt(eta) kappa = -0.3 for the rest of the run
    np.testing.assert_allclose(fields[0, 1:, 0], u[1:, 0], rtol=0, atol=2e-3)


def test_nesterov_image_starts_with_the_velocity_through_u0_and_u1():
    """Nesterov (beta_n = n / (n + 3), beta_0 = 0) has no image at n = 0, so the field starts at
    n0 = 1 from u(1) = u(0) (1 - eta kappa) = 0.97 (kappa = 3, u(0) = 1). Step 1's recursion (D)
    has b_1 = eta beta_1^2 kappa = 0.001875, c_1 = eta kappa (1 + beta_1 + beta_1^2) = 0.039375
    (beta_1 = 1/4), roots r of r^2 - (1 + b_1 - c_1) r + b_1 = 0 (both real); the lattice
    solution A r+^n + B r-^n through u(0) = 1 at n = 0 and u(1) at n = 1 has
    u'(tau_1) = (A r+ ln r+ + B r- ln r-) / sqrt(eta), A r+ + B r- = u(1), A + B = u(0): the
    velocity through both points, not the one from rest (u(0) = u(1))."""
    steps, kappa = 6, np.array([3.0])
    etas, betas = np.full(steps + 1, ETA), theory.nesterov_momentum(steps)
    u = theory.scheduled_recursion(1.0, kappa, etas[:steps, None], betas[:steps, None], True)
    image = step_image(theory.lattice_time(etas), etas, betas, np.tile(kappa, (steps + 1, 1)), u,
                       True)  # fmt: skip
    assert image["n0"] == 1 and image["u0"][0] == pytest.approx(0.97)
    r_plus, r_minus = np.sort(np.roots([1.0, -(1 + 0.001875 - 0.039375), 0.001875]).real)[::-1]
    A, B = np.linalg.solve([[1.0, 1.0], [r_plus, r_minus]], [1.0, 0.97])
    velocity = (A * r_plus * np.log(r_plus) + B * r_minus * np.log(r_minus)) / np.sqrt(ETA)
    assert image["du0"][0] == pytest.approx(velocity, rel=1e-9)


def bessel_pair(order, x):
    """(J_order(x), Y_order(x))."""
    return np.array([special.jv(order, x), special.yv(order, x)])


def test_power_law_continuum_history_starts_with_the_rest_image_velocity():
    """`with_histories`' continuum history of a power_law run (p = 1/2, tau0 = 2): each mode
    solves u'' + (3p / t) u' + kappa u = 0, t = tau0 + tau, i.e. u = t^-nu (A J_nu(m t)
    + B Y_nu(m t)), nu = (3p - 1) / 2 = 1/4, m = sqrt(kappa), with u' = -m t^-nu (A J_{nu+1}
    + B Y_{nu+1}). Its initial velocity is that of the first step's exact image from rest:
    u(-1) = u(0), so with the roots r+- of r^2 - (1 + beta_0 - eta_0 kappa) r + beta_0,
    A' + B' = A' / r+ + B' / r- = u(0) and u'(0) = (A' ln r+ + B' ln r-) / sqrt(eta_0).
    kappa_a(n) is tripled at the last step only: the field moves after step S - 1 (compared up
    to there), u'(0), of the first step's kappa, does not."""
    steps, p, tau0 = 60, 0.5, 2.0
    etas, betas = theory.power_law_schedule(ETA, p, tau0, steps)
    kappa, u0 = np.array([2.0, 0.3]), np.array([1.0, -0.5])
    u = theory.scheduled_recursion(u0, kappa, etas[:steps, None], betas[:steps, None])
    tau = theory.lattice_time(etas)
    ntk = xr.Dataset(
        {
            "u": (("run", "step", "mode"), u[None]),
            "tau": (("run", "step"), tau[None]),
            "eta_n": (("run", "step"), etas[None]),
            "beta_n": (("run", "step"), betas[None]),
            "eta": ("run", [ETA]),
            "beta": ("run", [betas[-1]]),
            "diverged": ("run", [False]),
        },
        coords={"schedule": ("run", [f"power_law p={p} tau0={tau0}"])},
    )
    ds = xr.Dataset(
        {
            "field": (("dictionary", "run", "step", "mode"), np.zeros((2, 1, steps + 1, 2))),
            "hubble": (("dictionary", "run"), np.zeros((2, 1))),
        },
        coords={"dictionary": ["exact", "continuum"], "run": [0]},
    )
    kappa_n = np.broadcast_to(kappa, u.shape).copy()
    kappa_n[-1] *= 3
    out = with_histories(ds, ntk, kappa_n[None], 1e-11, 1e-13)
    field = out.history_field.sel(history="continuum").values[0, :steps]
    nu, t = (3 * p - 1) / 2, tau0 + tau
    for a, (k, start) in enumerate(zip(kappa, u0, strict=True)):
        roots = np.roots([1.0, -(1 + betas[0] - etas[0] * k), betas[0]]).astype(complex)
        A_, B_ = np.linalg.solve([[1.0, 1.0], 1 / roots], [start, start])
        velocity = ((A_ * np.log(roots[0]) + B_ * np.log(roots[1])) / np.sqrt(etas[0])).real
        m = np.sqrt(k)
        matrix = [bessel_pair(nu, m * tau0), -m * bessel_pair(nu + 1, m * tau0)]
        coef = np.linalg.solve(tau0**-nu * np.array(matrix), [start, velocity])
        expected = t[:steps] ** -nu * (coef @ bessel_pair(nu, m * t[:steps]))
        np.testing.assert_allclose(field[:, a], expected, atol=1e-7)
    np.testing.assert_allclose(out.history_hubble.values[0], p / t, rtol=1e-9)


def test_step_image_starts_after_the_last_step_without_an_image():
    """Heavy ball at eta = 0.1, beta = 0.5: steps 0 and 3 have x = eta kappa = 2.95 beyond the
    alternating bound (1 + sqrt(0.5))^2 = 2.91 (no real image), the others x = 0.1. The field can
    only start where every later step has an image: n0 = 4, from u(4) with the velocity of
    step 4's image through u(3) (docs/physics.md §13), earlier knots holding step 4's H, m^2."""
    steps, eta, beta = 8, 0.1, 0.5
    tau = np.sqrt(eta) * np.arange(steps + 1.0)
    kappa = np.full((steps + 1, 1), 1.0)
    kappa[[0, 3]] = 29.5
    u = np.linspace(1.0, 0.2, steps + 1)[:, None]
    image = step_image(tau, np.full(steps + 1, eta), np.full(steps + 1, beta), kappa, u, False)
    exact = theory.exact_dictionary(eta, beta, 1.0)
    assert image["n0"] == 4 and image["u0"] == pytest.approx(u[4])
    np.testing.assert_allclose(image["H"], exact["H"], rtol=1e-14)
    np.testing.assert_allclose(image["m2"], exact["m2"], rtol=1e-14)
    # the velocity of the solution through u(3) one lattice step before u(4): run back from step 4
    back = theory.mode_solution(-np.sqrt(eta), u[4], image["du0"], exact["H"], exact["m2"])
    assert back == pytest.approx(u[3], rel=1e-12)


def test_step_image_velocity_with_a_growing_learning_rate_reproduces_the_next_step():
    """Heavy ball, eta_n = 0.1 * 1.1^n, beta = 0.5; step 2 has x = eta_2 kappa = 3.57 beyond
    (1 + sqrt(0.5))^2 (no real image), so n0 = 3. The image of step 3 (constant H_3, m_3^2 over
    its time step sqrt(eta_3)) started from u(3) with the returned velocity must land on the
    recursion's u(4) = u(3) + b_3 (u(3) - u(2)) - c_3 u(3) (docs/physics.md §11.1): true only
    with the frozen lattice's sample u(3) - sqrt(eta_3) V(3) (V(3) = (u(3) - u(2)) /
    sqrt(eta_2)), not with u(2) itself one step sqrt(eta_3) before (1.1 % off here)."""
    steps, beta = 8, 0.5
    etas = 0.1 * 1.1 ** np.arange(steps + 1.0)
    kappa = np.full((steps + 1, 1), 1.0)
    kappa[2] = 29.5
    u = np.linspace(1.0, 0.2, steps + 1)[:, None] ** 2
    image = step_image(theory.lattice_time(etas), etas, np.full(steps + 1, beta), kappa, u, False)
    assert image["n0"] == 3
    betas = np.full((steps + 1, 1), beta)
    b, c = (x[3, 0] for x in theory.effective_momentum(etas[:, None], betas, kappa))
    landed = theory.mode_solution(
        np.sqrt(etas[3]), u[3, 0], image["du0"][0], image["H"][3, 0], image["m2"][3, 0]
    )
    assert landed == pytest.approx(u[3, 0] + b * (u[3, 0] - u[2, 0]) - c * u[3, 0], rel=1e-12)


def image_miss(steps_per_change: int, rise: float, eta=0.25, kappa=1.0) -> float:
    """sup_n |u(n) - phi_exact(tau_n)| over the decaying envelope prod_{k<n} a_k^(1/2) of a heavy
    ball whose beta_n rises by `rise` from 0.6 as 1 - exp(-n / L) (L = steps_per_change, 6 L
    steps): the scheduled recursion against its exact image (`image_fields`)."""
    steps = 6 * steps_per_change
    betas = 0.6 + rise * (1 - np.exp(-np.arange(steps + 1.0) / steps_per_change))
    etas, k = np.full(steps + 1, eta), np.array([kappa])
    u = theory.scheduled_recursion(1.0, k, etas[:-1, None], betas[:-1, None])
    field, _ = image_fields(
        theory.lattice_time(etas)[None], etas[None], betas[None],
        np.full((1, steps + 1, 1), kappa), u[None], np.array([False]), 1e-11, 1e-13,
    )  # fmt: skip
    a = theory.scheduled_dictionary(etas[:-1, None], betas[:-1, None], k)["a"][:, 0]
    envelope = np.sqrt(np.concatenate([[1.0], np.cumprod(a)]))
    return np.max(np.abs(field[0, :, 0] - u[:, 0]) / envelope)


def test_the_exact_image_s_error_is_set_by_how_much_the_schedule_changes_not_how_fast():
    """docs/physics.md §13: with varying coefficients the image's error, relative to the decaying
    envelope, is set by the size of the change (as §9's adiabatic image), not by its rate: beta
    rising 0.6 -> 0.9 over L = 10 or 40 steps misses by the same ~2e-2; half the rise, half the
    miss; no rise, no miss (exact to the integrator's tolerance)."""
    fast, slow, half = image_miss(10, 0.3), image_miss(40, 0.3), image_miss(40, 0.15)
    assert 1.5e-2 < slow < 3e-2
    assert fast / slow == pytest.approx(1, abs=0.1)
    assert half / slow == pytest.approx(0.5, abs=0.05)
    assert image_miss(10, 0.0) < 1e-8


def test_step_image_starts_after_the_last_step_where_any_mode_has_no_image():
    """Two modes, eta = 0.1, beta = 0.5: only mode 1 has x = 2.95 > (1 + sqrt(0.5))^2 (no real
    image) at step 3, so the field starts at n0 = 4 and every tabulated H, m^2 is finite."""
    steps, eta, beta = 8, 0.1, 0.5
    tau = np.sqrt(eta) * np.arange(steps + 1.0)
    kappa = np.full((steps + 1, 2), 1.0)
    kappa[3, 1] = 29.5
    u = np.linspace(1.0, 0.2, steps + 1)[:, None] * np.array([1.0, -0.5])
    image = step_image(tau, np.full(steps + 1, eta), np.full(steps + 1, beta), kappa, u, False)
    assert image["n0"] == 4
    assert np.isfinite(image["H"]).all() and np.isfinite(image["m2"]).all()
    np.testing.assert_allclose(image["u0"], u[4], rtol=1e-15)


def test_a_run_whose_last_step_has_no_image_has_no_exact_image_field():
    """Step S - 1 with x = 2.95 > (1 + sqrt(0.5))^2 has no real image: n0 = S, so the run's
    exact-image field and H are all NaN (no integration from a NaN table, no error)."""
    steps, eta, beta = 8, 0.1, 0.5
    tau = np.sqrt(eta) * np.arange(steps + 1.0)[None, :]
    kappa = np.full((1, steps + 1, 1), 1.0)
    kappa[0, steps - 1] = 29.5
    u = np.linspace(1.0, 0.2, steps + 1)[None, :, None]
    row = np.full((1, steps + 1), 1.0)
    fields, hubble = image_fields(
        tau, eta * row, beta * row, kappa, u, np.array([False]), 1e-10, 1e-12
    )
    assert np.isnan(fields).all() and np.isnan(hubble).all()
