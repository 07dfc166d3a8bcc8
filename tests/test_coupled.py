"""The coupled dictionary (docs/physics.md §10): the modes a < K as one field in R^K with the mass
matrix of C(n) = V(0)^T Theta(n) V(0) / N, and the measured kappa_a(n) of the adiabatic one."""

import jax

jax.config.update("jax_enable_x64", True)

import numpy as np  # noqa: E402
import xarray as xr  # noqa: E402
from scipy.linalg import expm  # noqa: E402

from nncosmo import cosmology, theory  # noqa: E402

ETA, BETA, STEPS, N = 0.5, 0.9, 300, 6
RNG = np.random.default_rng(3)
FEATURES = 2.5 * RNG.normal(size=(N, 10)) / np.sqrt(10)  # Phi_0: N samples x 10 parameters
GENERATOR = (lambda g: g - g.T)(RNG.normal(size=(N, N)))  # rotations R = exp(theta G)
TARGETS = RNG.normal(size=N)


def _kernels(angle, drift, decay=40):
    """Theta(n) = s(n)^2 R(n) Phi_0 Phi_0^T R(n)^T: tangent features s R Phi_0 rotating by
    theta(n) = angle (1 - e^(-n/decay)) and rescaled by s^2 = 1 - drift (1 - e^(-n/decay))."""
    ramp = 1 - np.exp(-np.arange(STEPS + 1) / decay)
    theta0 = FEATURES @ FEATURES.T
    rotations = [expm(angle * r * GENERATOR / np.linalg.norm(GENERATOR)) for r in ramp]
    return np.array(
        [(1 - drift * r) * q @ theta0 @ q.T for r, q in zip(ramp, rotations, strict=True)]
    )


def _linear_model(kernels):
    """Heavy ball on f = Phi_0 w preconditioned so that the kernel is Theta(n):
    v <- beta v - eta M(n) Phi_0^T r / N, M(n) = Phi_0^+ Theta(n) Phi_0^+T. Returns r(n)."""
    pinv = np.linalg.pinv(FEATURES)
    w, v, residuals = np.zeros(10), np.zeros(10), [-TARGETS]
    for n in range(STEPS):
        v = BETA * v - ETA * pinv @ kernels[n] @ pinv.T @ FEATURES.T @ residuals[-1] / N
        w = w + v
        residuals.append(FEATURES @ w - TARGETS)
    return np.array(residuals)


def _ntk_dataset(kernels, residuals, checkpoints):
    """A one-run ntk-stage dataset: kernels and eigenpairs at `checkpoints`, u_a = v_a(0).r."""
    lam, vec = np.linalg.eigh(kernels[checkpoints])
    lam, vec = lam[..., ::-1], vec[..., ::-1]
    steps, tau = np.arange(STEPS + 1), np.sqrt(ETA) * np.arange(STEPS + 1)
    return xr.Dataset(
        {
            "ntk": (("run", "checkpoint", "sample", "sample_"), kernels[checkpoints][None]),
            "eigenvalue": (("run", "checkpoint", "eigen"), lam[None]),
            "eigenvector": (("run", "checkpoint", "sample", "eigen"), vec[None]),
            "u": (("run", "step", "mode"), (residuals @ vec[0])[None]),
        },
        coords={
            "run": [0],
            "eta": ("run", [ETA]),
            "beta": ("run", [BETA]),
            "seed": ("run", [0]),
            "schedule": ("run", ["constant"]),
            "diverged": ("run", [False]),
            "step": steps,
            "checkpoint": checkpoints,
            "mode": np.arange(N),
            "tau": (("run", "step"), tau[None]),
            "eta_n": (("run", "step"), np.full((1, len(steps)), ETA)),
            "beta_n": (("run", "step"), np.full((1, len(steps)), BETA)),
        },
        attrs={"n_samples": N},
    )


def _matrix_loop(u0, kappa):
    """u(n+1) = (1 + beta - eta C(n)) u(n) - beta u(n-1), u(-1) = u(0), written out."""
    u = [u0, u0]
    for c in kappa:
        u.append((1 + BETA) * u[-1] - ETA * c @ u[-1] - BETA * u[-2])
    return np.array(u[1:])


def test_linear_model_with_rotating_kernel_follows_the_matrix_recursion():
    kernels = _kernels(angle=0.8, drift=0.05)
    residuals = _linear_model(kernels)
    ntk = _ntk_dataset(kernels, residuals, np.arange(STEPS + 1))
    kappa = cosmology.kappa_matrices(ntk)[0]
    assert np.abs(kappa - np.diag(np.diagonal(kappa, axis1=1, axis2=2)[0])).max() > 0.1
    u = ntk.u.values[0]
    np.testing.assert_allclose(u, _matrix_loop(u[0], kappa[:-1]), rtol=0, atol=1e-12)


def _coupled_field(kappa, u0, dictionary="coupled"):
    """The field of `dictionary` for kappa matrices (step, K, K), knots at every step."""
    h, m2, du0 = cosmology.dictionary_parameters(dictionary, [ETA], [BETA], kappa[None], u0[None])
    tau = np.sqrt(ETA) * np.arange(kappa.shape[0])[None]
    return cosmology.de_sitter_fields(tau, h, m2, u0[None], du0, tau, 1e-13, 1e-15)[0]


def test_constant_coupled_field_is_the_exact_field_in_the_eigenbasis():
    """Closed-form exact fields (theory.mode_solution) of each eigenmode of C, rotated back."""
    q = expm(0.7 * GENERATOR / np.linalg.norm(GENERATOR))
    mu = np.array([2.2, 1.5, 0.9, 0.4, 0.05, 0.004])
    kappa = q @ np.diag(mu) @ q.T
    u0 = RNG.normal(size=N)
    xi0 = q.T @ u0
    tau = np.sqrt(ETA) * np.arange(STEPS + 1)
    exact = theory.exact_dictionary(ETA, BETA, mu)
    dxi0 = theory.rest_initial_velocity(ETA, BETA, mu, xi0)
    xi = theory.mode_solution(tau[:, None], xi0, dxi0, exact["H"], exact["m2"])
    field = _coupled_field(np.broadcast_to(kappa, (STEPS + 1, N, N)), u0)
    np.testing.assert_allclose(field, xi @ q.T, rtol=0, atol=1e-10)


def _errors(angle, drift, decay):
    """sup_n |u_a - phi_a| / envelope of the coupled and the scalar adiabatic fields (adiabatic:
    kappa_a(n) = C_aa(n), the measured Rayleigh quotients), and the predicted amplitude term
    sup_n |P(n) phi(n)|_a / envelope, P = W diag(p_i) W^T over the eigenpairs (mu_i, w_i) of C(n),
    p_i = theory.adiabatic_amplitude_error of mu_i(n); envelope beta^(n/2) |u(0)|."""
    kernels = _kernels(angle, drift, decay)
    ntk = _ntk_dataset(kernels, _linear_model(kernels), np.arange(STEPS + 1))
    kappa, u = cosmology.kappa_matrices(ntk)[0], ntk.u.values[0]
    coupled = _coupled_field(kappa, u[0])
    diagonal = np.diagonal(kappa, axis1=1, axis2=2)
    adiabatic = _coupled_field(diagonal[..., None] * np.eye(N), u[0], "adiabatic")
    mu, w = np.linalg.eigh(kappa)
    p = theory.adiabatic_amplitude_error(ETA, BETA, mu)
    predicted = np.einsum("nai,ni,nbi,nb->na", w, p, w, coupled)
    envelope = BETA ** (np.arange(STEPS + 1)[:, None] / 2) * np.linalg.norm(u[0])
    sup = lambda e: np.max(np.abs(e) / envelope, axis=0)  # noqa: E731
    return sup(u - coupled), sup(u - adiabatic), sup(predicted)


def test_coupled_field_follows_a_slowly_rotating_kernel_within_the_amplitude_bound():
    """A kernel rotating by 0.8 rad and shrinking 1 % over L = 20, 40, 80 steps: the coupled
    field's error is the matrix amplitude term P phi plus a remainder first order in the rate
    (at least halves per doubling of L) and stays within twice the amplitude term at L = 80; the
    scalar adiabatic field, blind to the off-diagonal coupling, misses by a fraction of the
    envelope set by the rotation angle, whatever the rate."""
    errors = [_errors(0.8, 0.01, decay) for decay in (20, 40, 80)]
    remainders = [(coupled - predicted).max() for coupled, _, predicted in errors]
    for fast, slow in zip(remainders, remainders[1:], strict=False):
        assert fast / slow > 1.8
    coupled, _, predicted = errors[-1]
    assert np.all(coupled <= 2 * predicted.max())
    for coupled, adiabatic, _ in errors:
        assert adiabatic.max() > 0.5 > 100 * coupled.max()


def test_adiabatic_dictionary_uses_the_measured_kappa():
    """Mode 0 from the measured kappa (interpolated between its steps), the rest from the
    checkpoints; the kinks include the measured steps."""
    kernels = _kernels(angle=0.3, drift=0.05)
    ntk = _ntk_dataset(kernels, _linear_model(kernels), np.array([0, 50, 100, 300]))
    measured_steps = np.arange(0, STEPS + 1, 20)
    values = 2.0 + np.sin(measured_steps / 30.0)
    measured = xr.DataArray(
        values[None, :, None],
        dims=("run", "kappa_step", "mode"),
        coords={"kappa_step": measured_steps},
    )
    kappa, kinks, source = cosmology.adiabatic_kappa(ntk, measured)
    np.testing.assert_allclose(kappa[0, :, 0], np.interp(ntk.step.values, measured_steps, values))
    checkpoints, lam = ntk.checkpoint.values, ntk.eigenvalue.values[0]  # lam (checkpoint, eigen)
    for a in range(1, N):
        np.testing.assert_allclose(
            kappa[0, :, a], np.interp(ntk.step.values, checkpoints, lam[:, a] / N), rtol=1e-13
        )
    assert set(kinks) == set(measured_steps) | {50, 100, 300}
    assert "modes < 1: measured" in source
    ds = cosmology.field_dataset(ntk, 1e-10, 1e-12, measured)
    expected = theory.exact_dictionary(ETA, BETA, kappa[0, :, 0])["m2"]
    np.testing.assert_allclose(ds.mass2.sel(dictionary="adiabatic").values[0, :, 0], expected)
    without = cosmology.field_dataset(ntk, 1e-10, 1e-12)
    assert not np.allclose(without.mass2.sel(dictionary="adiabatic").values[0, :, 0], expected)


def test_a_diverged_run_has_no_fields():
    """docs/physics.md §7.5: a run flagged diverged (here by its loss alone: every kernel and u
    finite, so every dictionary has an image) gets NaN fields, H and history in every dictionary,
    while the same run unflagged gets finite ones."""
    kernels = _kernels(angle=0.3, drift=0.05)
    ntk = _ntk_dataset(kernels, _linear_model(kernels), np.array([0, 50, 100, 300]))
    kept = cosmology.field_dataset(ntk, 1e-10, 1e-12)
    flagged = cosmology.field_dataset(ntk.assign_coords(diverged=("run", [True])), 1e-10, 1e-12)
    for name in ("field", "hubble", "history_field", "history_hubble"):
        assert np.isfinite(kept[name].values).all(), name
        assert np.isnan(flagged[name].values).all(), name
