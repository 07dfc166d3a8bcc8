"""NTK stage: symmetric PSD, equal to an independent J J^T, equal to closed forms."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree
from scipy.special import erf

from nncosmo import ntk
from nncosmo.models import MLP, build_model


def jacobian_ntk(model, params, x):
    """Independent reference: forward-mode Jacobian of the raveled parameters, then J J^T."""
    flat, unravel = ravel_pytree(params)
    jac = jax.jacfwd(lambda v: model.apply({"params": unravel(v)}, x))(flat)
    return np.asarray(jac @ jac.T)


def mlp(width, depth, activation, use_bias=True, bias_std=0.7):
    spec = dict(depth=depth, activation=activation, bias_std=bias_std, use_bias=use_bias)
    return build_model(spec, width, jnp.float64)


def init(model, x, seed=0):
    return model.init(jax.random.key(seed), x)["params"]


@pytest.mark.parametrize("activation", ["relu", "erf", "tanh"])
@pytest.mark.parametrize("method", ["structured", "generic"])
@pytest.mark.parametrize("use_bias", [True, False])
def test_ntk_equals_independent_jacobian(rng, activation, method, use_bias):
    x = jnp.asarray(rng.standard_normal((10, 4)))
    model = mlp(24, 2, activation, use_bias)
    params = init(model, x)
    theta = np.asarray(ntk.ntk_function(model, method, chunk_size=4)(params, x))
    reference = jacobian_ntk(model, params, x)
    np.testing.assert_allclose(theta, reference, rtol=1e-10, atol=1e-12 * np.abs(reference).max())
    np.testing.assert_allclose(theta, theta.T, rtol=0, atol=1e-12 * np.abs(theta).max())
    assert np.linalg.eigvalsh(theta).min() > -1e-10 * np.abs(theta).max()


def test_generic_path_handles_chunks_that_do_not_divide_n(rng):
    x = jnp.asarray(rng.standard_normal((7, 3)))
    model = mlp(8, 1, "tanh")
    params = init(model, x)
    theta = ntk.ntk_function(model, "generic", chunk_size=3)(params, x)
    np.testing.assert_allclose(theta, jacobian_ntk(model, params, x), rtol=1e-10)


class ListWidthMLP(nn.Module):
    """A custom model with a list attribute: Flax cannot hash it."""

    widths: list

    @nn.compact
    def __call__(self, x):
        for w in self.widths:
            x = jnp.tanh(nn.Dense(w)(x))
        return nn.Dense(1)(x)[..., 0]


def test_generic_path_takes_a_model_flax_cannot_hash(rng):
    """`nncosmo.models.apply_function` shares one function per hashable model; a model with a
    list attribute gets its own, and its NTK still equals the Jacobian reference."""
    x = jnp.asarray(rng.standard_normal((5, 3)))
    model = ListWidthMLP([6, 4])
    with pytest.raises(TypeError):
        hash(model)
    params = init(model, x)
    theta = ntk.ntk_function(model)(params, x)
    np.testing.assert_allclose(theta, jacobian_ntk(model, params, x), rtol=1e-6)  # float32


def test_one_hidden_layer_closed_form(rng):
    """f = v . erf(h) / sqrt(n) + s c, h = W x / sqrt(d) + s b:
    Theta = [sigma sigma^T / n + s^2] + sum_k v_k^2 sigma'_k sigma'_k^T / n * (x x^T / d + s^2)."""
    n_hidden, d, s = 32, 5, 0.7
    x = rng.standard_normal((9, d))
    model = mlp(n_hidden, 1, "erf", bias_std=s)
    p = init(model, jnp.asarray(x))
    W, b = np.asarray(p["hidden_0"]["kernel"]), np.asarray(p["hidden_0"]["bias"])
    v = np.asarray(p["readout"]["kernel"])[:, 0]
    h = x @ W / np.sqrt(d) + s * b
    act, dact = erf(h), 2 / np.sqrt(np.pi) * np.exp(-(h**2))
    readout = act @ act.T / n_hidden + s**2
    hidden = (dact * v**2) @ dact.T / n_hidden * (x @ x.T / d + s**2)
    theta = ntk.ntk_function(model)(p, jnp.asarray(x))
    np.testing.assert_allclose(theta, readout + hidden, rtol=1e-10)


def test_auto_picks_structured_for_mlp_and_generic_otherwise(rng, monkeypatch):
    """`auto` traces `structured_ntk` for an MLP and `generic_ntk` for any other Flax model
    (spies on both record which one ran); either way Theta is the Jacobian reference."""
    calls = []

    def spy(name):
        real = getattr(ntk, name)

        def recorded(*args, **kwargs):
            calls.append(name)
            return real(*args, **kwargs)

        return recorded

    for name in ("structured_ntk", "generic_ntk"):
        monkeypatch.setattr(ntk, name, spy(name))
    x = jnp.asarray(rng.standard_normal((5, 3)))
    cases = ((mlp(4, 1, "relu"), "structured_ntk"), (ListWidthMLP([6, 4]), "generic_ntk"))
    for model, used in cases:
        assert isinstance(model, MLP) == (used == "structured_ntk")
        calls.clear()
        p = init(model, x)
        theta = ntk.ntk_function(model, "auto")(p, x)
        assert calls == [used]
        np.testing.assert_allclose(theta, jacobian_ntk(model, p, x), rtol=1e-6)  # float32


def eigh_with_signs(monkeypatch, signs):
    """Make np.linalg.eigh return its eigenvectors times `signs` (one per column): any sign is
    a valid eigh answer, and eigenmodes must fix it whatever eigh picked. Returns the list of
    calls, so a test can check that eigenmodes went through it."""
    eigh, calls = np.linalg.eigh, []

    def flipped(a):
        calls.append(a)
        lam, vec = eigh(a)
        return lam, vec * np.asarray(signs)[: vec.shape[1]]

    monkeypatch.setattr(np.linalg, "eigh", flipped)
    return calls


@pytest.mark.parametrize("signs", [[1] * 6, [-1] * 6, [1, -1, -1, 1, -1, 1]])
def test_eigenmodes_sorted_with_positive_sum(rng, monkeypatch, signs):
    """Eigenpairs (theta v = lam v, orthonormal) in descending order and every eigenvector with a
    positive sum, whichever signs eigh returns; also for -theta (eigh's ascending order is then
    the kernel's descending one reversed)."""
    a = rng.standard_normal((6, 6))
    calls = eigh_with_signs(monkeypatch, signs)
    for theta in (a @ a.T + 6 * np.ones((6, 6)), -(a @ a.T) - 6 * np.ones((6, 6))):
        lam, vec = ntk.eigenmodes(theta)
        assert calls, "eigenmodes no longer calls np.linalg.eigh: flip its signs elsewhere"
        np.testing.assert_allclose(lam, np.sort(np.linalg.eigvalsh(theta))[::-1], rtol=1e-12)
        assert np.all(np.diff(lam) < 0)
        np.testing.assert_allclose(theta @ vec, vec * lam, rtol=0, atol=1e-12 * np.abs(lam).max())
        assert np.all(vec.sum(axis=0) > 1e-8)
        np.testing.assert_allclose(vec.T @ vec, np.eye(6), atol=1e-12)


@pytest.mark.parametrize("signs", [[1, 1, 1, 1], [-1, -1, -1, -1], [1, -1, 1, -1]])
def test_eigenmodes_zero_sum_vector_gets_a_positive_largest_entry(monkeypatch, signs):
    """An eigenvector whose sum vanishes has its largest-magnitude entry positive.
    [[2, 1], [1, 2]]: (3, (1, 1)/sqrt 2) and (1, +-(1, -1)/sqrt 2), the latter's entries tied in
    magnitude: the same answer whichever sign eigh returns. A 4-sample kernel
    5 u u^T + 2 w w^T + 1 z z^T + 0.5 q q^T, u = (1, 1, 1, 1)/2, w = (-1, 4, -3, 0)/sqrt 26
    (sum 0, largest entry 4/sqrt 26): v_1 = +w; z, q (orthogonal to u, so of zero sum too)
    with their largest entries positive."""
    calls = eigh_with_signs(monkeypatch, signs)
    lam, vec = ntk.eigenmodes(np.array([[2.0, 1.0], [1.0, 2.0]]))
    assert calls, "eigenmodes no longer calls np.linalg.eigh: flip its signs elsewhere"
    np.testing.assert_allclose(lam, [3.0, 1.0], rtol=1e-14)
    np.testing.assert_allclose(vec[:, 0], [2**-0.5, 2**-0.5], rtol=1e-14)
    np.testing.assert_allclose(np.abs(vec[:, 1]), [2**-0.5, 2**-0.5], rtol=1e-14)
    assert vec[0, 1] == -vec[1, 1]
    monkeypatch.undo()
    assert np.array_equal(vec, ntk.eigenmodes(np.array([[2.0, 1.0], [1.0, 2.0]]))[1])

    eigh_with_signs(monkeypatch, signs)
    u, w = np.ones(4) / 2, np.array([-1.0, 4.0, -3.0, 0.0]) / np.sqrt(26)
    z = np.array([1.0, 0.0, 0.0, -1.0])
    z = z - (z @ w) * w
    z /= np.linalg.norm(z)
    q = np.array([1.0, -1.0, -1.0, 1.0]) / 2
    q = q - (q @ w) * w - (q @ z) * z
    q /= np.linalg.norm(q)
    basis = np.column_stack([u, w, z, q])
    np.testing.assert_allclose(basis.T @ basis, np.eye(4), atol=1e-15)
    theta = basis @ np.diag([5.0, 2.0, 1.0, 0.5]) @ basis.T
    lam, vec = ntk.eigenmodes(theta)
    np.testing.assert_allclose(lam, [5.0, 2.0, 1.0, 0.5], rtol=1e-12)
    np.testing.assert_allclose(theta @ vec, vec * lam, rtol=0, atol=1e-12)
    np.testing.assert_allclose(vec[:, 0], u, atol=1e-12)
    np.testing.assert_allclose(vec[:, 1], w, atol=1e-12)
    for column in (2, 3):  # z and q sum to zero too: their largest entry, well separated, > 0
        largest, second = np.sort(np.abs(basis[:, column]))[::-1][:2]
        assert largest - second > 1e-3
        pivot = basis[np.abs(basis[:, column]).argmax(), column]
        np.testing.assert_allclose(vec[:, column], np.sign(pivot) * basis[:, column], atol=1e-12)


def test_overlap_drift_and_residual_modes():
    v = np.ones(4) / 2
    assert ntk.uniform_overlap(v) == pytest.approx(1.0)
    theta0 = np.eye(3)
    assert ntk.relative_drift(2 * theta0, theta0) == pytest.approx(1.0)
    f = np.array([[1.0, 2.0], [0.5, 1.0]])
    vecs = np.array([[1.0, 0.0], [0.0, 1.0]])
    np.testing.assert_allclose(
        ntk.residual_modes(f, np.array([1.0, 1.0]), vecs), [[0, 1], [-0.5, 0]]
    )


def test_ntk_stage_streams_runs_from_a_lazily_opened_training_file(rng, tmp_path):
    """The NTK stage on a training file opened lazily gives, for every (run, checkpoint), the
    independent J J^T of that run's saved parameters, and never loads a parameter variable whole
    (it reads one run's hyperslab at a time). u_end projects the residual f - y on the
    eigenvectors of that last-checkpoint J J^T (descending eigenvalues; up to sign), u on those
    of the first."""
    from nncosmo import training
    from nncosmo.io import read_dataset, write_dataset

    x, y = rng.standard_normal((6, 3)), rng.standard_normal(6)
    model = mlp(8, 2, "erf")
    runs = [{"eta": e, "beta": 0.5, "seed": s} for s, e in enumerate([0.1, 0.3, 0.2])]
    job = training.sweep_dataset(model, runs, x, y, 10, [0, 4, 10], 100.0)
    path = write_dataset(job, tmp_path / "w8.nc")
    lazy = read_dataset(path, lazy=True)
    ds = ntk.ntk_dataset(model, lazy, x, y, 2, "structured", 4)
    for r in range(len(runs)):
        for c in range(3):
            params = training.variables_to_params(job, run=r, checkpoint=c)
            reference = jacobian_ntk(model, params, jnp.asarray(x))
            np.testing.assert_allclose(ds.ntk.isel(run=r, checkpoint=c), reference, rtol=1e-10)
            vectors = np.linalg.eigh(reference)[1][:, ::-1][:, :2]
            residual = np.abs((job.f.isel(run=r).values - y) @ vectors)
            if c in (0, 2):
                u = (ds.u if c == 0 else ds.u_end).isel(run=r).values
                np.testing.assert_allclose(np.abs(u), residual, rtol=1e-8, atol=1e-12)
    params = [name for name in lazy.data_vars if name.startswith(training.PARAM_PREFIX)]
    assert params and not any(lazy[name].variable._in_memory for name in params)
    lazy.close()


def test_symmetrised_averages_each_kernel_with_its_own_transpose(rng):
    """Batched (run, checkpoint, N, N): each kernel becomes (K + K^T) / 2, exactly symmetric."""
    kernels = rng.standard_normal((2, 3, 4, 4))
    out = ntk.symmetrised(kernels)
    for idx in np.ndindex(2, 3):
        np.testing.assert_allclose(out[idx], (kernels[idx] + kernels[idx].T) / 2, rtol=1e-15)
        np.testing.assert_array_equal(out[idx], out[idx].T)


def test_overlap_and_drift_are_per_kernel_over_leading_axes(rng):
    """uniform_overlap and relative_drift of a (run, checkpoint, ...) stack equal the per-item
    values: |sum v| / sqrt(N) (1 for +-1/sqrt(N), 0 orthogonal to it) and a Frobenius ratio."""
    n = 5
    vectors = np.array([np.ones(n), -np.ones(n), [1.0, -1.0, 0.0, 0.0, 0.0]])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    np.testing.assert_allclose(
        ntk.uniform_overlap(np.stack([vectors, vectors[::-1]])), [[1, 1, 0], [0, 1, 1]], atol=1e-15
    )
    theta = rng.standard_normal((2, 3, n, n))
    drift = ntk.relative_drift(theta, theta[:, :1])
    for r, c in np.ndindex(2, 3):
        expected = np.sqrt(np.sum((theta[r, c] - theta[r, 0]) ** 2) / np.sum(theta[r, 0] ** 2))
        assert drift[r, c] == pytest.approx(expected, rel=1e-12)


def test_batched_eigenmodes_gives_nan_only_for_non_finite_kernels(rng):
    """A kernel with an inf entry (a diverged run) gets NaN eigenpairs; the others are eigh's."""
    a = rng.standard_normal((2, 4, 4))
    kernels = a @ np.swapaxes(a, -1, -2)
    kernels[1, 0, 3] = kernels[1, 3, 0] = np.inf
    lam, vec = ntk.batched_eigenmodes(kernels)
    assert np.isnan(lam[1]).all() and np.isnan(vec[1]).all()
    np.testing.assert_allclose(lam[0], np.linalg.eigvalsh(kernels[0])[::-1], rtol=1e-12)
    np.testing.assert_allclose(kernels[0] @ vec[0], vec[0] * lam[0], atol=1e-12 * lam[0, 0])


def test_ntk_stage_drift_overlap_and_residual_norm_follow_its_kernels(rng):
    """The stage's kernels are exactly symmetric (the generic path's J J^T is so only to rounding),
    and its drift, mean-field overlap and residual norm, recomputed in numpy from those kernels
    (checked against J J^T elsewhere) and the training file, agree: drift against checkpoint 0
    (zero there), |v_0 . 1| / sqrt(N) of an independent eigh, ||f - y|| per step."""
    from nncosmo import training

    x, y = rng.standard_normal((6, 3)), rng.standard_normal(6)
    model = mlp(8, 1, "erf")
    runs = [{"eta": e, "beta": 0.5, "seed": s} for s, e in enumerate([0.5, 0.3])]
    job = training.sweep_dataset(model, runs, x, y, 10, [0, 5, 10], 100.0)
    ds = ntk.ntk_dataset(model, job, x, y, 2, "generic", 4)
    kernels = ds.ntk.values
    np.testing.assert_array_equal(kernels, np.swapaxes(kernels, -1, -2))  # symmetrised exactly
    for r, c in np.ndindex(2, 3):
        change = np.linalg.norm(kernels[r, c] - kernels[r, 0]) / np.linalg.norm(kernels[r, 0])
        assert ds.drift.values[r, c] == pytest.approx(change, rel=1e-10, abs=1e-15)
        top = np.linalg.eigh(kernels[r, c])[1][:, -1]
        assert ds.overlap_uniform.values[r, c] == pytest.approx(abs(top.sum()) / np.sqrt(6))
    assert np.all(ds.drift.values[:, 0] == 0) and np.all(ds.drift.values[:, 1:] > 0)
    residual = job.f.values - y
    np.testing.assert_allclose(ds.residual_norm, np.sqrt((residual**2).sum(-1)), rtol=1e-12)
