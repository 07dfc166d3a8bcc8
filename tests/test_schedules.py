"""Schedules as expansion histories (docs/physics.md §11): the training under each schedule
against the exact scheduled recursion, that recursion's heavy-ball form and its image, the
histories against their closed forms, and the config errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import yaml
from linear_model import LinearModel
from scipy import special
from test_config import ROOT
from userdir import dry_run

from nncosmo import theory, training
from nncosmo.config import check_config, job_runs, validate_config
from nncosmo.cosmology import Expansion, integrate_flrw
from nncosmo.models import build_model, init_params

SPECS = {
    "constant": {"kind": "constant"},
    "power_law": {"kind": "power_law", "p": 0.5, "tau0": 0.4, "hubble_step": 0.3},
    "nesterov": {"kind": "nesterov"},
    "friedmann": {"kind": "friedmann", "planck_mass": 2.0},
}


@pytest.fixture(scope="module")
def linear_sweep():
    """One vmapped train_sweep of a float64 linear model, one run per schedule (all four kinds
    in one program), each from its own `training.run_schedule`."""
    rng = np.random.default_rng(7)
    n, d, steps = 12, 5, 200
    x, y = rng.standard_normal((n, d)), rng.standard_normal(n) + 1.0
    model = LinearModel()
    params = model.init(jax.random.key(3), x)["params"]
    runs = [{"eta": 0.3, "beta": 0.8, "seed": 0, "schedule": spec} for spec in SPECS.values()]
    runs[1]["beta"] = runs[2]["beta"] = None  # power_law and nesterov set beta_n themselves
    apply_fn = lambda p, x: model.apply({"params": p}, x)  # noqa: E731
    lam, vec = np.linalg.eigh(x @ x.T / d + 1.0)  # closed-form NTK of the linear model

    def sweep(runs):
        """train_sweep of `runs` as one job: its trajectories and modes u (run, step, mode)."""
        etas, betas, switches = training.schedule_columns(runs, steps)
        batched = jax.tree.map(lambda a: jnp.stack([a] * len(runs)), params)
        traj = training.train_sweep(
            apply_fn, batched, etas, betas, x, y, steps, [0, steps], **switches
        )
        return traj, (np.asarray(traj.f) - y) @ vec

    etas, betas, _ = training.schedule_columns(runs, steps)
    traj, u = sweep(runs)
    return {
        "u": u, "kappa": lam / n, "etas": etas, "betas": betas, "traj": traj, "runs": runs,
        "sweep": sweep,
    }  # fmt: skip


@pytest.mark.parametrize("index,kind", list(enumerate(SPECS)))
def test_training_under_each_schedule_follows_the_scheduled_recursion(linear_sweep, index, kind):
    """Through the real code path (train_sweep, run_schedule): every mode to 1e-10 in float64;
    the recorded beta_n are the host's (the state's for friedmann)."""
    s, steps = linear_sweep, linear_sweep["u"].shape[1] - 1
    used = np.asarray(s["traj"].beta[index])
    if kind != "friedmann":
        np.testing.assert_array_equal(used, s["betas"][index])
    u = s["u"][index]
    expected = theory.scheduled_recursion(
        u[0], s["kappa"], s["etas"][index, :steps], used[:steps], nesterov=kind == "nesterov"
    )
    np.testing.assert_allclose(u, expected, rtol=0, atol=1e-10 * np.abs(u[0]).max())


def friedmann_momenta(u, kappa, run):
    """beta_n = exp(-3 H sqrt(eta)), H^2 = (rho / M^2 + Lambda) / 3, of the modes u (step, mode)
    of a friedmann `run` (SPECS' M): rho summed over the modes (kinetic Delta u^2 / (2 eta) +
    kappa u^2 / 2), Lambda that of de Sitter's beta; written here anew."""
    eta, beta = run["eta"], run["beta"]
    planck_mass = SPECS["friedmann"]["planck_mass"]
    u_prev = np.concatenate([u[:1], u[:-1]])  # from rest: u(-1) = u(0)
    rho = np.sum((u - u_prev) ** 2 / (2 * eta) + kappa * u**2 / 2, axis=-1) / planck_mass**2
    vacuum = np.log(beta) ** 2 / (3 * eta)  # Lambda = 3 H^2 of de Sitter's 3H = -ln beta / sqrt eta
    hubble = np.sqrt((rho + vacuum) / 3)
    return np.exp(-3 * hubble * np.sqrt(eta))


def test_friedmann_momentum_is_that_of_the_modes_energy(linear_sweep):
    """beta_n = exp(-3 H sqrt(eta)), H^2 = (rho / M^2 + Lambda) / 3, with rho summed over the
    modes (kinetic Delta u^2 / (2 eta) + kappa u^2 / 2): the parameter-space energy of the step
    (|Delta r|^2 / (2 eta) + (N/2) |grad L|^2) equals it; beta_n -> beta as rho -> 0."""
    s = linear_sweep
    index, beta = 3, s["runs"][3]["beta"]
    # modes of the closed-form NTK x x^T / d + 1, kappa_a = lam_a / N
    expected = friedmann_momenta(s["u"][index], s["kappa"], s["runs"][index])
    used = np.asarray(s["traj"].beta[index])
    np.testing.assert_allclose(used, expected, rtol=1e-12)
    assert np.all(used <= beta) and beta - used[-1] < 1e-3 * (beta - used[0])


@pytest.mark.parametrize("index,kind", [(2, "nesterov"), (3, "friedmann")])
def test_a_job_of_one_switched_kind_traces_its_own_branch(linear_sweep, index, kind):
    """A job whose only switched run is Nesterov's (or Friedmann's) traces that branch alone
    (`schedule_branches`), and its run still follows its schedule: every mode the Nesterov
    recursion, or beta_n that of the modes' energy."""
    s, steps = linear_sweep, linear_sweep["u"].shape[1] - 1
    run = s["runs"][index]
    traj, (u,) = s["sweep"]([run])
    used = np.asarray(traj.beta[0])
    if kind == "friedmann":
        np.testing.assert_allclose(used, friedmann_momenta(u, s["kappa"], run), rtol=1e-12)
    else:
        np.testing.assert_array_equal(used, s["betas"][index])
    expected = theory.scheduled_recursion(
        u[0], s["kappa"], s["etas"][index, :steps], used[:steps], nesterov=kind == "nesterov"
    )
    np.testing.assert_allclose(u, expected, rtol=0, atol=1e-10 * np.abs(u[0]).max())


def test_power_law_time_steps_resolve_the_hubble_time(linear_sweep):
    """hubble_step c: sqrt(eta_n) = min(sqrt(eta), c (tau0 + tau_n) / p), so H sqrt(eta_n) <= c,
    and the learning rate grows to eta; without it eta_n = eta."""
    spec, eta = SPECS["power_law"], 0.3
    etas = linear_sweep["etas"][1]
    tau = spec["tau0"] + theory.lattice_time(etas)
    hubble_steps = spec["p"] / tau * np.sqrt(etas)
    assert hubble_steps.max() <= spec["hubble_step"] * (1 + 1e-12)
    np.testing.assert_allclose(etas[0], (spec["hubble_step"] * spec["tau0"] / spec["p"]) ** 2)
    assert etas[-1] == eta and np.all(np.diff(etas) >= 0)
    constant, _ = theory.power_law_schedule(eta, spec["p"], spec["tau0"], 50)
    np.testing.assert_array_equal(constant, eta)


def momentum_form(u0, b, c):
    """u(n+1) = u(n) + b_n (u(n) - u(n-1)) - c_n u(n), u(-1) = u(0): recursion (D) with
    step-dependent coefficients, written here anew."""
    u = [u0, u0]
    for bn, cn in zip(b, c, strict=True):
        u.append(u[-1] + bn * (u[-1] - u[-2]) - cn * u[-1])
    return np.array(u[1:])


@pytest.mark.parametrize("nesterov", [False, True], ids=["heavy_ball", "nesterov"])
def test_effective_momentum_rewrites_the_optax_recursion(nesterov):
    """(b_n, c_n) of `effective_momentum` turn optax's trace recursion into (D) exactly, with a
    varying eta_n (power-law time steps) and the Nesterov momenta n / (n + 3)."""
    steps, kappa = 300, np.array([0.05, 0.4, 1.3])
    etas, betas = theory.power_law_schedule(0.5, 0.7, 0.2, steps - 1, hubble_step=0.2)
    if nesterov:
        betas = theory.nesterov_momentum(steps - 1)
    expected = theory.scheduled_recursion(1.0, kappa, etas[:, None], betas[:, None], nesterov)
    b, c = theory.effective_momentum(etas[:, None], betas[:, None], kappa, nesterov)
    np.testing.assert_allclose(momentum_form(np.ones(3), b, c), expected, rtol=0, atol=1e-12)


def test_nesterov_first_step_with_momentum_from_the_start():
    """beta_0 > 0 (not the n / (n + 3) momenta, whose beta_0 = 0): from rest t(0) = 0, so
    t(1) = kappa u(0) and nesterov's u(1) = u(0) - eta_0 (kappa u(0) + beta_0 kappa u(0)), i.e.
    c_0 = eta_0 kappa (1 + beta_0) = 0.1 * 2 * 1.5 = 0.3 by hand, b_0 = beta_0 = 0.5 (it
    multiplies u(0) - u(-1) = 0); u(1) = 1 - 0.3 = 0.7."""
    b, c = theory.effective_momentum(np.array([0.1, 0.1]), np.array([0.5, 0.5]), 2.0, True)
    assert b[0] == pytest.approx(0.5) and c[0] == pytest.approx(0.3)
    u = theory.scheduled_recursion(1.0, 2.0, np.array([0.1]), np.array([0.5]), nesterov=True)
    assert u[1] == pytest.approx(0.7)


def test_constant_schedule_image_is_the_exact_dictionary():
    """A constant (eta, beta): the per-step image is §5's exact dictionary at every step."""
    eta, beta, kappa = 0.2, 0.85, np.array([0.1, 1.0, 4.0])
    image = theory.scheduled_dictionary(np.full((40, 1), eta), np.full((40, 1), beta), kappa)
    exact = theory.exact_dictionary(eta, beta, kappa)
    np.testing.assert_allclose(image["H"], np.broadcast_to(exact["H"], (40, 3)), rtol=1e-14)
    np.testing.assert_allclose(image["m2"], np.broadcast_to(exact["m2"], (40, 3)), rtol=1e-12)
    np.testing.assert_array_equal(image["tau"][:, 0], np.sqrt(eta) * np.arange(40))


def test_power_law_image_has_the_history_s_hubble_rate():
    """beta_n of the power law: the velocity loses (a_n / a_{n+1})^3 per step, so the image's
    H over step n is the history's mean rate ln(a_{n+1} / a_n) / dtau_n = p ln(t_{n+1} / t_n)
    / dtau_n, = p / t_mid (1 + eps^2 / 12 + O(eps^3)), eps = dtau_n / t_n, at the step's midpoint
    t_mid; with hubble_step the same holds for the varying step."""
    p, tau0 = 2.0 / 3.0, 0.5
    for hubble_step in (0.0, 0.1):
        etas, betas = theory.power_law_schedule(0.05, p, tau0, 400, hubble_step)
        image = theory.scheduled_dictionary(etas[:, None], betas[:, None], 0.0)
        t = tau0 + theory.lattice_time(np.append(etas, etas[-1]))
        mean_rate = p * np.log(t[1:] / t[:-1]) / np.sqrt(etas)
        np.testing.assert_allclose(image["H"][:, 0], mean_rate, rtol=1e-12)
        midpoint, eps = p / (0.5 * (t[1:] + t[:-1])), np.sqrt(etas) / t[:-1]
        assert np.all(np.abs(mean_rate / midpoint - 1) < 1.05 * eps**2 / 12)


def test_nesterov_image_is_coasting_plus_a_constant_friction_per_mode():
    """Nesterov, beta_n = n / (n + 3): 3H(tau_n) = 3 / tau_n - ln(1 - eta kappa_a) / sqrt(eta)
    + O(1 / (n^2 sqrt(eta))): coasting (a ~ t) plus a mode-dependent vacuum friction."""
    eta, kappa, steps = 0.1, np.array([0.1, 1.0, 5.0]), 4000
    betas = theory.nesterov_momentum(steps)[:, None]
    image = theory.scheduled_dictionary(np.full((steps + 1, 1), eta), betas, kappa, nesterov=True)
    n = np.arange(steps + 1)[20:, None]
    coasting = 3 / image["tau"][20:]
    rest = 3 * image["H"][20:] - coasting - theory.nesterov_friction(eta, kappa)
    assert np.max(np.abs(rest) * n**2 * np.sqrt(eta)) < 10


@pytest.mark.parametrize("mass", [0.7, 2.0])
def test_coasting_massive_field_is_bessel_j1_over_mt(mass):
    """H = 1/t (p = 1): phi'' + (3/t) phi' + m^2 phi = 0 has phi = [C1 J1(mt) + C2 Y1(mt)] / (mt);
    integrate_flrw against it to 1e-8 (relative to max |phi|)."""
    t0, phi0, dphi0 = 0.5, 1.0, -0.3
    ts = np.linspace(t0, 25.0, 301)

    def basis(t):
        """(J1(mt)/(mt), Y1(mt)/(mt)) and their t-derivatives, d/dz (Z1(z)/z) = -Z2(z)/z."""
        z = mass * t
        values = np.stack([special.jv(1, z), special.yv(1, z)]) / z
        slopes = -mass * np.stack([special.jv(2, z), special.yv(2, z)]) / z
        return values, slopes

    v0, s0 = basis(t0)
    coeffs = np.linalg.solve(np.array([v0, s0]), [phi0, dphi0])
    values, slopes = basis(ts)
    zero = jnp.zeros(1)
    out = integrate_flrw(
        ts, phi0, dphi0, mass**2, zero, zero, zero, zero,
        kind="power_law", expansion=Expansion(p=1.0), rtol=1e-12, atol=1e-14,
    )  # fmt: skip
    scale = np.abs(coeffs @ values).max()
    np.testing.assert_allclose(out["phi"], coeffs @ values, rtol=0, atol=1e-8 * scale)
    np.testing.assert_allclose(out["dphi"], coeffs @ slopes, rtol=0, atol=1e-8 * mass * scale)


def test_constant_schedule_is_optax_sgd():
    """The scheduled step with a constant schedule is optax.sgd(eta, momentum=beta) (float64
    MLP, to 1e-12; a hand-written loop of the optax update as the reference)."""
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((16, 4)), rng.standard_normal(16)
    spec = {"depth": 2, "activation": "erf", "bias_std": 1.0, "use_bias": True}
    model = build_model(spec, 32, np.float64)
    params = init_params(model, [0, 1], jnp.asarray(x))
    apply_fn = lambda p, x: model.apply({"params": p}, x)  # noqa: E731
    etas, betas, steps = [0.1, 0.4], [0.9, 0.5], 30
    traj = training.train_sweep(apply_fn, params, etas, betas, x, y, steps, [0])
    step = jax.jit(
        lambda p, s, e, b: training.heavy_ball(e, b).update(
            jax.grad(lambda q: training.mse_loss(apply_fn(q, x), y))(p), s, p
        )
    )
    for r in range(2):
        p = jax.tree.map(lambda a, r=r: a[r], params)
        state = training.heavy_ball(0.0, 0.0).init(p)
        for n in range(steps + 1):
            np.testing.assert_allclose(traj.f[r, n], apply_fn(p, x), rtol=1e-12, atol=1e-12)
            updates, state = step(p, state, etas[r], betas[r])
            p = jax.tree.map(lambda a, u: a + u, p, updates)


@pytest.mark.parametrize(
    "schedule,shown",
    [
        ({"kind": "inflation"}, "'sweeps.extra.schedule.kind' = 'inflation' is invalid"),
        ({"kind": "power_law", "p": 0.0, "tau0": 1.0}, "'sweeps.extra.schedule.p' = 0.0"),
        ({"kind": "power_law", "p": 0.5, "tau0": -1.0}, "'sweeps.extra.schedule.tau0' = -1.0"),
    ],
    ids=["unknown_kind", "p_zero", "tau0_negative"],
)
def test_bad_schedules_stop_the_dry_run_naming_the_key(tmp_path, schedule, shown):
    config = yaml.safe_load((ROOT / "workflow/presets/tiny.yaml").read_text())
    extra = {"datasets": ["teacher"], "widths": [16], "eta": [0.1], "seeds": [0]}
    config["sweeps"]["extra"] = {**extra, "beta": [0.9], "schedule": schedule}
    del config["sweeps"]["extra"]["beta"]  # a power law takes none; an unknown kind asks none
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = dry_run(tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"config key {shown}" in output and "nothing has run" in output, output
    assert "Job stats" not in output
    assert 'File "' not in output, output  # the message alone, no traceback lines
    # one line per wrong key: an unknown kind's own, not also "beta is missing"
    errors = [line for line in output.splitlines() if line.startswith("  config key")]
    assert len(errors) == 1, output


def test_runs_of_different_schedules_are_different_runs_of_one_job():
    """The run identity includes the schedule: a friedmann and a constant sweep with the same
    (eta, beta, seed) give two runs of one job; a power law's runs carry no beta."""
    config = yaml.safe_load((ROOT / "workflow/presets/tiny.yaml").read_text())
    base = {"datasets": ["teacher"], "widths": [32], "eta": [0.1], "seeds": [0]}
    config["sweeps"]["self"] = {**base, "beta": [0.9], "schedule": SPECS["friedmann"]}
    config["sweeps"]["era"] = {**base, "schedule": SPECS["power_law"]}
    validate_config(config, str(ROOT / "workflow/schemas/config.schema.yaml"))
    check_config(config)
    runs = [r for r in job_runs(config, "teacher", "w32") if r["eta"] == 0.1 and r["seed"] == 0]
    kinds = {(r["beta"], r["schedule"]["kind"]) for r in runs}
    assert {(0.9, "constant"), (0.9, "friedmann"), (None, "power_law")} <= kinds
    assert len(runs) == len(kinds)


def test_power_law_early_steps_sit_exactly_on_the_hubble_step():
    """While s_n = sqrt(eta_n / eta) < 1, H(tau_n) sqrt(eta_n) = hubble_step exactly, with
    H = p / (tau0 + tau_n) and tau_n = sum_{k<n} sqrt(eta_k); afterwards eta_n = eta."""
    eta, p, tau0, hubble_step = 0.05, 0.5, 0.2, 0.1
    etas, _ = theory.power_law_schedule(eta, p, tau0, 100, hubble_step)
    tau = tau0 + np.concatenate([[0.0], np.cumsum(np.sqrt(etas))[:-1]])
    early = etas < eta
    assert early[:3].all() and not early[-1]
    np.testing.assert_allclose(p / tau[early] * np.sqrt(etas[early]), hubble_step, rtol=1e-12)
    np.testing.assert_array_equal(etas[~early], eta)
