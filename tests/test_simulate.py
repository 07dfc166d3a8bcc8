"""The reverse direction (docs/physics.md §12): the inverse dictionary, the derived settings on
a linear model, the config's refusals, and the F8 measurements on known fields."""

import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr
import yaml
from jax.flatten_util import ravel_pytree
from linear_model import LinearModel
from userdir import dry_run

from nncosmo import simulate, theory
from nncosmo.config import ConfigError, check_config, validate_config
from nncosmo.results import (
    de_sitter_recovery,
    decay_exponent,
    first_zero_crossing,
    late_extrema,
)

jax.config.update("jax_enable_x64", True)

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")


@pytest.mark.parametrize("dt", [1e-3, 0.02, 0.3])
def test_settings_round_trip_through_the_exact_dictionary(dt):
    """cosmology -> (beta, eta kappa) -> cosmology, over- and underdamped and critical."""
    hubble = np.array([50.0, 10.0, 2.0, 2.0 / 3.0, 0.5, 0.2, 0.01])
    m2 = np.array([1.0, 4.0, 0.3, 1.0, 1.0, 2.25, 9.0])
    beta, x = theory.lattice_settings(hubble, m2, dt)
    image = theory.exact_dictionary(dt**2, beta, x / dt**2)
    np.testing.assert_allclose(image["H"], hubble, rtol=1e-10)
    np.testing.assert_allclose(image["m2"], m2, rtol=1e-10)
    assert set(image["regime"]) <= {0, 1}


def test_settings_reach_the_alternating_bound_at_the_resolution_limit():
    """omega dt -> pi: x -> (1 + sqrt(beta))^2, the bound the config check names."""
    hubble, dt = 0.3, 0.1
    m2 = (np.pi / dt) ** 2 + 2.25 * hubble**2
    beta, x = theory.lattice_settings(hubble, m2, dt)
    assert x == pytest.approx(theory.regime_bounds(beta)[1], rel=1e-12)


def linear_model(samples: int = 12, features: int = 30, seed: int = 3):
    """f = Phi w: a model whose NTK Phi Phi^T is known exactly."""
    phi = np.random.default_rng(seed).standard_normal((samples, features)) / np.sqrt(features)
    return (lambda w, x: x @ w), phi


def train_linear(target: dict, hubble: np.ndarray):
    """`simulate`'s recipe on the linear model, eps = 1: (t, phi_network, beta, x)."""
    apply_fn, phi = linear_model()
    t, dt = simulate.target_times(target)
    beta, x = simulate.lattice_schedule(hubble, target["mass"], dt)
    lam, vec = np.linalg.eigh(phi @ phi.T)
    vector, lam0 = vec[:, -1], lam[-1]
    kappa0 = lam0 / phi.shape[0]
    w0 = np.random.default_rng(4).standard_normal(phi.shape[1])
    y = apply_fn(w0, phi) - target["phi0"] * vector
    shift = target["phi0"] - simulate.previous_field(target, hubble[0], dt)
    velocity = simulate.initial_velocity(apply_fn, jnp.asarray(w0), phi, vector, lam0, shift)
    u, leak, _ = simulate.train_schedule(
        apply_fn, jnp.asarray(w0), velocity, x / kappa0, beta, phi, y, vector, 0
    )
    return t, np.asarray(u), np.asarray(leak), beta, x


# de Sitter H = 0.3, m = 1.7, with a nonzero phi'(t0): 400 steps over t = 0..12
DE_SITTER = {
    "background": {"kind": "de_sitter", "H": 0.3},
    "mass": 1.7,
    "phi0": 0.8,
    "dphi0": -0.5,
    "span": 12.0,
    "steps": 400,
}


def test_linear_model_reproduces_the_de_sitter_closed_form():
    """Constant H: the derived settings make u_0 the exact discrete image, phi(t_n) from the
    closed form with the target's own phi(0), phi'(0) (a nonzero velocity: the momentum buffer)."""
    t, u, leak, _, _ = train_linear(DE_SITTER, np.full(401, 0.3))
    closed = theory.mode_solution(t, 0.8, -0.5, 0.3, 1.7**2)
    np.testing.assert_allclose(u, closed, rtol=0, atol=1e-10)
    assert np.max(leak) < 1e-12


def test_linear_model_follows_the_step_dependent_recursion():
    """Power law: u_0 obeys u(n+1) - u(n) = beta_n (u(n) - u(n-1)) - x_n u(n), run here
    independently in numpy from the same u(-1)."""
    target = {
        "background": {"kind": "power_law", "p": 0.5, "t0": 0.05},
        "mass": 1.0,
        "phi0": 1.0,
        "dphi0": 0.0,
        "span": 10.0,
        "steps": 300,
    }
    t, dt = simulate.target_times(target)
    hubble = 0.5 / t
    _, u, _, beta, x = train_linear(target, hubble)
    expected = [1.0]
    previous = simulate.previous_field(target, hubble[0], dt)
    for n in range(300):
        step = beta[n] * (expected[n] - (expected[n - 1] if n else previous))
        expected.append(expected[n] + step - x[n] * expected[n])
    np.testing.assert_allclose(u, expected, rtol=0, atol=1e-10)


class SimulatedLinearModel(LinearModel):
    """LinearModel (NTK x x^T / d + 1, constant) with the attribute `training_apply_function`
    sets, so that `simulate.simulate` itself trains it: u_0 then obeys the recursion exactly."""

    reverse_mode_only: bool = False


def simulate_linear(target: dict):
    """`simulate.simulate` of `target` on SimulatedLinearModel (8 samples, 5 features, eps =
    1e-3), and kappa_0 = lambda_0 / N from the closed-form NTK."""
    x = np.random.default_rng(6).standard_normal((8, 5))
    network = {"seed": 2, "amplitude": 1e-3, "kappa_stride": 50, "dataset": "toy"}
    out = simulate.simulate(target, network, SimulatedLinearModel(), x)
    return out, np.linalg.eigvalsh(x @ x.T / 5 + 1.0)[-1] / 8


def test_a_failed_target_integration_stops_the_simulate_job():
    """Under EQX_ON_ERROR=nan (every pipeline job) a target integration that runs out of solver
    steps returns NaN: the job stops there, with the advice for the simulate rule, instead of
    training on NaN settings."""
    import os
    import subprocess
    import sys

    script = f"""
import functools, jax
jax.config.update("jax_enable_x64", True)
from nncosmo import cosmology, simulate
simulate._integrate_flrw = jax.jit(
    functools.partial(cosmology.integrate_flrw, max_steps=2), static_argnames="kind"
)
simulate.target_field({DE_SITTER!r})
"""
    env = {**os.environ, "EQX_ON_ERROR": "nan"}
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env)
    assert proc.returncode != 0
    assert "FloatingPointError: the target's field: the integration of systems [0]" in proc.stderr
    assert "EQX_ON_ERROR=raise snakemake --cores 1 --forcerun simulate" in proc.stderr
    fields = simulate.target_field(DE_SITTER)  # the same target, enough steps: finite
    assert all(np.isfinite(v).all() for v in fields.values())


def test_simulation_reproduces_the_de_sitter_closed_form():
    """simulate.simulate on a network linear in its parameters, de Sitter H = 0.3, m = 1.7 and a
    nonzero phi'(t0): kappa_0 = lambda_0 / N of the closed-form NTK, beta = exp(-3 H dt),
    eta_n kappa_0 = 1 + beta - 2 sqrt(beta) cos(w dt) (w^2 = m^2 - 9H^2/4), and phi(t_n) =
    u_0 / eps is the closed form through (phi(t0), phi'(t0)) (the momentum buffer sets phi')."""
    out, kappa0 = simulate_linear(DE_SITTER)
    dt = 12.0 / 400
    np.testing.assert_allclose(out["t"], dt * np.arange(401), rtol=1e-15)
    assert out["kappa0"] == pytest.approx(kappa0, rel=1e-12)
    np.testing.assert_allclose(out["kappa"], kappa0, rtol=1e-12)  # the NTK does not move
    beta = np.exp(-3 * 0.3 * dt)
    np.testing.assert_allclose(out["beta"], np.full(400, beta), rtol=1e-15)
    w = np.sqrt(1.7**2 - 2.25 * 0.3**2)
    x = 1 + beta - 2 * np.sqrt(beta) * np.cos(w * dt)
    np.testing.assert_allclose(out["eta"] * kappa0, np.full(400, x), rtol=1e-10)
    closed = np.exp(-0.45 * out["t"]) * (
        0.8 * np.cos(w * out["t"]) + (-0.5 + 0.45 * 0.8) / w * np.sin(w * out["t"])
    )
    np.testing.assert_allclose(out["phi"], closed, rtol=0, atol=1e-9)
    assert np.max(out["leak"]) < 1e-9


def test_simulation_schedule_follows_the_power_law():
    """simulate.simulate for a = (t / t0)^p, p = 1/2: H(t_n) = p / t_n and the momentum of step
    n (u(n) -> u(n + 1)) is beta_n = exp(-3 p dt / t_n), at the step's start; with x_n = 1 +
    beta_n - 2 sqrt(beta_n) cos(w_n dt) (w_n^2 = m^2 - 9 H_n^2 / 4, imaginary while
    overdamped) the network's phi obeys phi(n+1) - phi(n) = beta_n (phi(n) - phi(n-1)) - x_n
    phi(n) from phi(t0) = 1."""
    p, t0, dt = 0.5, 0.05, 10.0 / 300
    target = {
        "background": {"kind": "power_law", "p": p, "t0": t0},
        "mass": 1.0,
        "phi0": 1.0,
        "dphi0": 0.0,
        "span": 10.0,
        "steps": 300,
    }
    out, kappa0 = simulate_linear(target)
    t = t0 + dt * np.arange(301)
    np.testing.assert_allclose(out["t"], t, rtol=1e-15)
    np.testing.assert_allclose(out["field"]["H"], p / t, rtol=1e-14)
    beta = np.exp(-3 * p * dt / t[:-1])
    np.testing.assert_allclose(out["beta"], beta, rtol=1e-14)
    w = np.sqrt((1.0 - 2.25 * (p / t[:-1]) ** 2).astype(complex))
    x = (1 + beta - 2 * np.sqrt(beta) * np.cos(w * dt)).real
    np.testing.assert_allclose(out["eta"] * kappa0, x, rtol=1e-10)
    phi = out["phi"]
    assert phi[0] == pytest.approx(1.0, rel=1e-12)
    step = phi[1:-1] + beta[1:] * (phi[1:-1] - phi[:-2]) - x[1:] * phi[1:-1]
    np.testing.assert_allclose(phi[2:], step, rtol=0, atol=1e-10)


# Matter era a = (t / t0)^(2/3), H = 2 / (3t), from t0 = 1 with m = 2 and a nonzero phi'(t0):
# underdamped throughout (m^2 - 9 H^2 / 4 >= 3), 300 steps of dt = 0.02 over two oscillations.
MATTER = {
    "background": {"kind": "power_law", "p": 2 / 3, "t0": 1.0},
    "mass": 2.0,
    "phi0": 1.0,
    "dphi0": -0.7,
    "span": 6.0,
    "steps": 300,
}
MATTER_T = 1.0 + 0.02 * np.arange(301)  # t_n = t0 + n dt


def matter_field(t):
    """MATTER's field in closed form: phi = g / t turns phi'' + (2 / t) phi' + m^2 phi = 0 into
    g'' + m^2 g = 0, so phi = [t0 phi(t0) cos(m (t - t0)) + (phi(t0) + t0 phi'(t0)) sin(m (t -
    t0)) / m] / t."""
    return (np.cos(2 * (t - 1)) + (1 - 0.7) * np.sin(2 * (t - 1)) / 2) / t


def matter_schedule():
    """MATTER's settings written out: beta_n = exp(-3 H(t_n) dt) and x_n = eta_n kappa_0 = 1 +
    beta_n - 2 sqrt(beta_n) cos(w_n dt), w_n^2 = m^2 - 9 H(t_n)^2 / 4, of steps n = 0..299 (H at
    the step's start t_n), and phi(t0 - dt) of the de Sitter mode through (phi(t0), phi'(t0))
    with H frozen at H(t0): e^(3 H dt / 2) [phi(t0) cos(w dt) - (phi'(t0) + 3 H phi(t0) / 2)
    sin(w dt) / w]."""
    dt, hubble = 0.02, (2 / 3) / MATTER_T
    beta = np.exp(-3 * hubble[:-1] * dt)
    w = np.sqrt(4.0 - 2.25 * hubble**2)
    x = 1 + beta - 2 * np.sqrt(beta) * np.cos(w[:-1] * dt)
    h0, w0 = hubble[0], w[0]
    previous = np.exp(1.5 * h0 * dt) * (np.cos(w0 * dt) - (-0.7 + 1.5 * h0) / w0 * np.sin(w0 * dt))
    return beta, x, previous


@pytest.fixture(scope="module")
def mlp_simulation():
    """`simulate.simulate` of MATTER on the pipeline's network: config.yaml's model (depth 2,
    erf, NTK parameterisation) at width 64, float64, on its teacher inputs (64 samples, 8
    features), seed 0, eps = 1e-3; returned with the model, x and the seed-0 parameters."""
    from nncosmo.data import make_dataset
    from nncosmo.models import build_model, init_params

    config = default_config()
    x = make_dataset("teacher", config["datasets"]["teacher"]).x.values
    model = build_model(config["model"], 64, jnp.float64)
    network = {"seed": 0, "amplitude": 1e-3, "kappa_stride": 100, "dataset": "teacher"}
    out = simulate.simulate(MATTER, network, model, x)
    params = jax.tree.map(lambda a: a[0], init_params(model, [0], jnp.asarray(x)))
    return out, model, params, x


def test_mlp_simulation_is_heavy_ball_on_the_top_mode_of_an_independent_ntk(mlp_simulation):
    """The MLP run of `simulate.simulate` against its recipe done here without its code: the
    Jacobian J of f in the raveled parameters (jax.jacrev of the model's plain apply), the top
    eigenpair (lambda_0, v_0) of J J^T and kappa_0 = lambda_0 / N, eta_n = x_n / kappa_0 from
    the written-out schedule, y = f(theta_0) - eps phi(t0) v_0, the momentum buffer eps (phi(t0)
    - phi(t0 - dt)) J^T v_0 / lambda_0, then 300 steps of plain heavy ball v <- beta_n v - eta_n
    grad L, theta <- theta + v (jax.grad of L = |f - y|^2 / 2N), reading u_0(n) = v_0 . (f - y)
    and the rest of the residual at every step. Exact arithmetic makes the two equal, the
    network's nonlinearity included; float64 rounding leaves ~1e-13 of phi(t0) (v_0's sign is
    free: u_0 is even in it)."""
    out, model, params, x = mlp_simulation
    n_samples, eps, steps = x.shape[0], 1e-3, MATTER["steps"]
    flat, unravel = ravel_pytree(params)
    f = jax.jit(lambda theta: model.apply({"params": unravel(theta)}, x))
    jac = np.asarray(jax.jit(jax.jacrev(f))(flat))
    lam, vec = np.linalg.eigh(jac @ jac.T)
    lam0, v0 = lam[-1], vec[:, -1]
    assert lam0 > 10 * lam[-2]  # a top mode well apart from the next
    kappa0 = lam0 / n_samples
    beta, xk, previous = matter_schedule()
    np.testing.assert_allclose(out["t"], MATTER_T, rtol=1e-15)
    assert out["lambda0"] == pytest.approx(lam0, rel=1e-11)
    assert out["kappa0"] == pytest.approx(kappa0, rel=1e-11)
    np.testing.assert_allclose(out["beta"], beta, rtol=1e-13)
    np.testing.assert_allclose(out["eta"], xk / kappa0, rtol=1e-10)
    assert out["kappa"][0] == pytest.approx(kappa0, rel=1e-11)  # v_0^T Theta(0) v_0 / N

    y = f(flat) - eps * 1.0 * v0
    grad = jax.jit(jax.grad(lambda theta: 0.5 * jnp.mean((f(theta) - y) ** 2)))
    velocity = eps * (1.0 - previous) * jac.T @ v0 / lam0
    theta, u, leak = flat, [], []
    for n in range(steps + 1):
        residual = np.asarray(f(theta) - y)
        u.append(v0 @ residual)
        leak.append(np.linalg.norm(residual - u[-1] * v0))
        if n < steps:
            velocity = beta[n] * velocity - xk[n] / kappa0 * grad(theta)
            theta = theta + velocity
    np.testing.assert_allclose(out["phi"], np.array(u) / eps, rtol=0, atol=1e-10)
    np.testing.assert_allclose(out["leak"], np.array(leak) / eps, rtol=0, atol=1e-10)


def test_mlp_simulation_follows_the_matter_era_closed_form(mlp_simulation):
    """The MLP's phi(t_n) = u_0(n) / eps is the matter era's field (`matter_field`) over the
    whole span, within 2e-4 of phi(t0): the sum of two errors, both well below it.
    - The lattice's: beta_n takes H at t_n, the centre of the two velocities u(n) - u(n-1) and
      u(n+1) - u(n) it links, so the recursion is exact for constant H and second order in dt
      otherwise, O(dt^2 |H'| / m) ~ 1e-4; the recursion alone (no network) is off by 1.8e-4,
      4.5e-5, 1.1e-5 at 150, 300, 600 steps.
    - The network's departure from its linearisation (lazy training): parameters move O(eps), so
      the NTK moves O(eps / sqrt(width)) at most; measured against that recursion, 5e-7 here,
      in proportion to eps (5e-6 at eps = 1e-2) and falling with width (9e-7, 5e-7, 1.5e-7,
      4e-8 at 32, 64, 256, 1024). kappa_0's drift and the leak into the other modes, the same
      order, stay below 1e-5.
    A wrong mass, friction or start velocity is off by O(1) over the two oscillations, beta_n
    from H(t_(n+1)) (first order) by 6e-3."""
    out, *_ = mlp_simulation
    np.testing.assert_allclose(out["phi"], matter_field(MATTER_T), rtol=0, atol=2e-4)
    assert np.max(out["leak"]) < 1e-5
    np.testing.assert_allclose(out["kappa"], out["kappa0"], rtol=1e-5)


def default_config() -> dict:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    validate_config(config, SCHEMA)
    return config


@pytest.mark.parametrize(
    ("change", "key", "fragment"),
    [
        ({"background": {"kind": "power_law", "p": 0.0, "t0": 0.05}}, "background.p", "> 0"),
        ({"background": {"kind": "power_law", "p": 0.5, "t0": 0.0}}, "background.t0", "> 0"),
        ({"mass": -1.0}, "mass", "> 0"),
        ({"steps": 3}, "steps", ">= 10"),
    ],
)
def test_schema_refuses_unphysical_targets(change, key, fragment):
    config = default_config()
    config["cosmologies"]["targets"]["misalignment"].update(change)
    with pytest.raises(
        ConfigError, match=rf"cosmologies\.targets\.misalignment\.{key}'.*{fragment}"
    ):
        validate_config(config, SCHEMA)


def test_unresolvable_mass_names_steps_and_the_bound():
    config = default_config()
    config["cosmologies"]["targets"]["de_sitter"].update(mass=300.0)
    with pytest.raises(ConfigError) as error:
        check_config(config)
    message = str(error.value)
    assert "cosmologies.targets.de_sitter.steps" in message
    assert "alternating bound (1 + sqrt(beta))^2" in message and ">= pi" in message
    needed = int(message.rsplit("steps >= ", 1)[1].split()[0])
    config["cosmologies"]["targets"]["de_sitter"].update(steps=needed)
    check_config(config)  # the number of steps it asks for is enough


def test_unknown_network_dataset_is_refused():
    config = default_config()
    config["cosmologies"]["network"]["dataset"] = "nope"
    with pytest.raises(ConfigError, match="cosmologies.network.dataset"):
        check_config(config)


def test_bad_target_stops_snakemake_dry_run_with_the_key(tmp_path):
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["cosmologies"]["targets"]["misalignment"]["mass"] = 200.0
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = dry_run(tmp_path)
    assert proc.returncode != 0
    assert "cosmologies.targets.misalignment.steps" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def power_law_dataset(t, phi, p=0.5, mass=1.0):
    """The variables the F8 measurements read, for a given field on a power-law background."""
    return xr.Dataset({"H": ("step", p / t), "a": ("step", (t / t[0]) ** p)}, attrs={"mass": mass})


def test_decay_exponent_of_a_wkb_field_is_minus_three_halves():
    """phi = a^(-3/2) cos(m t) (a = (t/t0)^(1/2)): the fitted exponent is -3/2 up to the shift of
    the extrema off the envelope, O((H/m)^2) (measured 0.005 here, against the claim's 0.05)."""
    t = np.linspace(0.05, 60.0, 60000)
    phi = (t / 0.05) ** -0.75 * np.cos(t)
    slope, extrema = decay_exponent(power_law_dataset(t, phi), phi)
    assert extrema >= 10 and slope == pytest.approx(-1.5, abs=0.01)


def test_first_zero_crossing_interpolates():
    t = np.linspace(0.0, 3.0, 301)
    assert first_zero_crossing(t, np.cos(t)) == pytest.approx(np.pi / 2, abs=1e-4)
    assert np.isnan(first_zero_crossing(t, 1.0 + t))


def test_late_extrema_are_those_where_h_is_below_a_tenth_of_m():
    """Matter era H = 2 / (3t), m = 3, phi = cos(3t) sampled at t_j = j pi / 60: the peaks of
    |phi| sit on the samples t = k pi / 3 (j = 20k) and the late cut H <= m / 10 is t >= 20/9,
    so k = 3 .. 60 count (2 pi / 3 = 2.09 < 20/9; the last sample j = 1210 is past k = 60), and
    |phi| = 1 at all of them (exponent 0)."""
    t = np.pi / 60 * np.arange(1, 1211)
    phi = np.cos(3 * t)
    ds = power_law_dataset(t, phi, p=2 / 3, mass=3.0)
    a, size = late_extrema(ds, phi)
    np.testing.assert_allclose(a, (20 * np.arange(3, 61)) ** (2 / 3), rtol=1e-12)  # (t / t_1)^p
    np.testing.assert_allclose(size, 1.0, rtol=1e-12)
    slope, extrema = decay_exponent(ds, phi)
    assert extrema == 58 and slope == pytest.approx(0.0, abs=1e-12)


def test_a_flat_topped_extremum_counts_once():
    """|phi| = 0, 1, 2, 2, 1, 0, ... (each extremum two equal samples, at j = 2, 3 mod 5) with
    every H far below m / 10: one extremum per plateau, at its second sample."""
    phi = np.tile([0.0, 1.0, 2.0, 2.0, 1.0], 4) * np.repeat([1.0, -1.0, 1.0, -1.0], 5)
    t = np.arange(1.0, 21.0)
    a, size = late_extrema(power_law_dataset(t, phi, p=0.5, mass=100.0), phi)
    np.testing.assert_allclose(a, (np.array([4.0, 9.0, 14.0, 19.0])) ** 0.5, rtol=1e-12)
    np.testing.assert_array_equal(size, 2.0)


def test_the_late_cut_reads_h_at_the_extremum_itself():
    """Peaks of |phi| at j = 1, 3, 5 with H / m = 0.2 up to j = 3 and 0.05 from j = 4 on: only
    the peak at j = 5 is late (the one at j = 3 has H = 0.2 m, though H drops right after)."""
    phi = np.array([0.0, 1.0, 0.0, -1.0, 0.0, 1.0, 0.0])
    ds = xr.Dataset(
        {"H": ("step", [0.6, 0.6, 0.6, 0.6, 0.15, 0.15, 0.15]), "a": ("step", np.arange(1.0, 8.0))},
        attrs={"mass": 3.0},
    )
    a, size = late_extrema(ds, phi)
    assert a.tolist() == [6.0] and size.tolist() == [1.0]


def test_de_sitter_recovery_of_a_heavy_field():
    """A de Sitter mode with H = 0.5, m = 2 (m^2 = 4): phi = e^(-3Ht/2) [cos(w t) + 3H / (2w)
    sin(w t)], w^2 = m^2 - 9H^2/4, sampled at dt = 0.02 obeys the two-term recursion with roots
    e^(s+- dt) exactly, so the Prony fit gives H = 0.5 and m^2 = 4: both errors zero."""
    t = 0.02 * np.arange(751)
    w = np.sqrt(4.0 - 2.25 * 0.25)
    phi = np.exp(-0.75 * t) * (np.cos(w * t) + 0.75 / w * np.sin(w * t))
    ds = xr.Dataset(
        {"phi_network": ("step", phi)},
        attrs={"background_H": 0.5, "mass": 2.0, "dt": 0.02},
    )
    fit = de_sitter_recovery(ds)
    assert fit["H_fit"] == pytest.approx(0.5, rel=1e-10)
    assert fit["m2_fit"] == pytest.approx(4.0, rel=1e-10)
    assert fit["H_error"] < 1e-10 and fit["m2_error"] < 1e-10


def unit_powers(unit: str) -> dict[str, int]:
    """Exponents of a unit label, e.g. "tau^2/t^2" -> {"tau": 2, "t": -2}, "1" -> {}."""
    numerator, _, denominator = unit.partition("/")
    assert "/" not in denominator, unit  # one "/" at most
    powers: dict[str, int] = {}
    for sign, part in ((1, numerator), (-1, denominator)):
        for factor in filter(None, part.split("*")):
            name, _, power = factor.strip().partition("^")
            if name != "1":
                powers[name] = powers.get(name, 0) + sign * int(power or 1)
    return {name: power for name, power in powers.items() if power}


def unit_product(*units: str) -> dict[str, int]:
    """Exponents of the product of unit labels."""
    total: dict[str, int] = {}
    for unit in units:
        for name, power in unit_powers(unit).items():
            total[name] = total.get(name, 0) + power
    return {name: power for name, power in total.items() if power}


def test_simulate_units_are_dimensionally_consistent():
    """The units simulate_dataset writes obey the convention (docs/physics.md notation, §12):
    t is the target's time and tau = n sqrt(eta) the network's, so eta (and eta_n) is in tau^2,
    kappa = lambda / N in 1/tau^2 and eta kappa in 1; the loss scale s = eta / dt^2 is then in
    tau^2/t^2, and m^2 ~ s kappa_0 (the mass the scaled loss gives) in 1/t^2, the target's m^2.
    Checked by multiplying the labels (`unit_product`), not by comparing them to a list."""
    from nncosmo.io import COORDINATE_ATTRS, with_coordinate_attrs
    from nncosmo.models import build_model

    x = np.random.default_rng(7).standard_normal((8, 3))
    model = build_model(default_config()["model"], 8, jnp.float64)
    network = {"seed": 0, "amplitude": 1e-3, "kappa_stride": 50, "dataset": "toy"}
    target = {**DE_SITTER, "steps": 100}
    ds = with_coordinate_attrs(simulate.simulate_dataset("de_sitter", target, network, model, x))
    units = {name: ds[name].attrs["units"] for name in ds.variables}
    units |= json.loads(ds.attrs["attribute_units"])
    assert units["t"] == units["dt"] == units["span"] == "t"
    assert unit_product(units["loss_scale"], units["kappa0"]) == unit_product("1/t", "1/t")
    assert unit_product(units["loss_scale"], units["kappa0"]) == unit_powers(units["m2_image"])
    assert unit_product(units["mass"], units["mass"]) == unit_powers(units["m2_image"])
    assert unit_product(units["loss_scale"], units["dt"], units["dt"]) == unit_powers(units["eta"])
    assert unit_product(units["eta"], units["kappa0"]) == unit_powers(units["eta_kappa"]) == {}
    assert unit_product(units["eta"], units["kappa"]) == unit_product(units["mass"], units["dt"])
    assert unit_powers(units["eta"]) == {"tau": 2} == unit_powers(COORDINATE_ATTRS["eta"]["units"])
    assert unit_powers(units["kappa0"]) == unit_powers(units["lambda0"]) == {"tau": -2}
    for rate in ("H", "H_image", "dphi_target", "background_H"):
        assert unit_powers(units[rate]) == {"t": -1}, rate
    lambda_units = simulate.ATTRIBUTE_UNITS["background_Lambda"]  # Lambda = 3 H^2 (Friedmann)
    assert unit_powers(lambda_units) == unit_product(units["H"], units["H"])


class WidthLinearModel(SimulatedLinearModel):
    """SimulatedLinearModel with the `width` attribute `simulate_dataset` records."""

    width: int = 1


def test_simulate_dataset_records_the_de_sitter_target_and_its_image():
    """simulate_dataset on the linear model (NTK constant), de Sitter H = 0.3, m = 1.7: phi_target
    and dphi_target are the closed form, a = e^(H t), the image of (eta_n, beta_n, kappa_0) is
    (H, m^2) again, s_n = eta_n / dt^2 with eta_n kappa_0 written out, no kappa drift, and
    kappa is measured at steps 0, stride, 2 stride, ..."""
    x = np.random.default_rng(6).standard_normal((8, 5))
    network = {"seed": 2, "amplitude": 1e-3, "kappa_stride": 50, "dataset": "toy"}
    ds = simulate.simulate_dataset("ds", DE_SITTER, network, WidthLinearModel(), x)
    t, dt, w = ds.t.values, 12.0 / 400, np.sqrt(1.7**2 - 2.25 * 0.3**2)
    c1, c2 = 0.8, (-0.5 + 0.45 * 0.8) / w  # phi = e^(-0.45 t) (c1 cos wt + c2 sin wt)
    phi = np.exp(-0.45 * t) * (c1 * np.cos(w * t) + c2 * np.sin(w * t))
    dphi = -0.45 * phi + np.exp(-0.45 * t) * w * (c2 * np.cos(w * t) - c1 * np.sin(w * t))
    np.testing.assert_allclose(ds.phi_target, phi, rtol=0, atol=1e-7)  # the integrator's
    np.testing.assert_allclose(ds.dphi_target, dphi, rtol=0, atol=1e-7)
    np.testing.assert_allclose(ds.a, np.exp(0.3 * t), rtol=1e-7)
    np.testing.assert_allclose(ds.H_image, 0.3, rtol=1e-10)
    np.testing.assert_allclose(ds.m2_image, 1.7**2, rtol=1e-10)
    kappa0 = np.linalg.eigvalsh(x @ x.T / 5 + 1.0)[-1] / 8
    beta = np.exp(-0.9 * dt)
    xk = 1 + beta - 2 * np.sqrt(beta) * np.cos(w * dt)
    np.testing.assert_allclose(ds.loss_scale, xk / kappa0 / dt**2, rtol=1e-10)
    assert ds.attrs["kappa_drift"] < 1e-10
    np.testing.assert_array_equal(ds.kappa_step, np.arange(0, 401, 50))
    np.testing.assert_allclose(ds.kappa, kappa0, rtol=1e-12)


def test_leak_is_relative_to_the_initial_amplitude(monkeypatch):
    """`leak` is ||r - u_0 v_0|| / (eps |phi(t0)|): a training that reports a leak of
    0.25 eps |phi(t0)| every step (phi(t0) = -0.8, eps = 1e-3) reads back 0.25."""
    real = simulate.train_schedule

    def leaky(*args):
        u, leak, kappa = real(*args)
        return u, jnp.full_like(leak, 0.25 * 1e-3 * 0.8), kappa

    monkeypatch.setattr(simulate, "train_schedule", leaky)
    out, _ = simulate_linear({**DE_SITTER, "phi0": -0.8, "steps": 100})
    np.testing.assert_allclose(out["leak"], 0.25, rtol=1e-12)
