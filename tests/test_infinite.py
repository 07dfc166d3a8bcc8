"""Infinite-width NTK: one-layer closed forms, independent quadratures, a very wide network, PSD."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special, stats

from nncosmo import infinite
from nncosmo.models import build_model
from nncosmo.ntk import ntk_function

ACTIVATIONS = ["relu", "erf", "tanh"]


def spec(depth, activation, use_bias, bias_std=0.7):
    return dict(depth=depth, activation=activation, bias_std=bias_std, use_bias=use_bias)


def test_relu_one_layer_equals_arc_cosine_ntk(rng):
    """Two-layer relu NTK in closed form (Cho & Saul 2009; e.g. Arora et al. 2019): with the
    augmented inputs x~ = (x / sqrt(d), s), cos t = x~.x~' / |x~||x~'|,
    Theta = |x~||x~'| (sin t + 2 (pi - t) cos t) / (2 pi) + s^2."""
    x = rng.standard_normal((7, 3))
    for use_bias in (True, False):
        s = 0.7 if use_bias else 0.0
        aug = np.hstack([x / np.sqrt(3), np.full((7, 1), s)])
        norms = np.linalg.norm(aug, axis=1)
        t = np.arccos(np.clip(aug @ aug.T / np.outer(norms, norms), -1, 1))
        expected = np.outer(norms, norms) * (np.sin(t) + 2 * (np.pi - t) * np.cos(t)) / (2 * np.pi)
        theta = infinite.infinite_width_ntk(spec(1, "relu", use_bias), x)
        # arccos near 1 keeps half the digits: 1e-8 on the diagonal
        np.testing.assert_allclose(theta, expected + s**2, rtol=1e-8)


PHI_AND_DERIVATIVE = {
    "relu": (lambda u: np.maximum(u, 0), lambda u: np.heaviside(u, 0.5)),
    "erf": (special.erf, lambda u: 2 / np.sqrt(np.pi) * np.exp(-(u**2))),
    "tanh": (np.tanh, lambda u: 1 / np.cosh(np.clip(u, -300, 300)) ** 2),
}
FINE_Z = np.linspace(-10, 10, 4001)  # step 0.005


def conditional_moments(activation, m, c):
    """(E[phi(m + c Z)], E[phi'(m + c Z)]), Z ~ N(0, 1): closed forms for relu and erf,
    a fine 1-D trapezoid for tanh."""
    phi, dphi = PHI_AND_DERIVATIVE[activation]
    if c == 0:
        return phi(m), dphi(m)
    if activation == "relu":
        return m * stats.norm.cdf(m / c) + c * stats.norm.pdf(m / c), stats.norm.cdf(m / c)
    if activation == "erf":
        scale = np.sqrt(1 + 2 * c**2)
        return special.erf(m / scale), 2 / np.sqrt(np.pi) * np.exp(-(m**2) / scale**2) / scale
    weights = stats.norm.pdf(FINE_Z) * (FINE_Z[1] - FINE_Z[0])
    return weights @ phi(m + c * FINE_Z), weights @ dphi(m + c * FINE_Z)


def reference_moments(activation, s11, s12, s22):
    """E[phi(u) phi(v)], E[phi'(u) phi'(v)] as a 1-D adaptive integral over u = a xi of phi(u)
    times the conditional moment of v given u (v | xi ~ N(b xi, c^2))."""
    a, b = np.sqrt(s11), s12 / np.sqrt(s11)
    c = np.sqrt(max(s22 - b**2, 0.0))

    def outer(k):
        def integrand(xi):
            f = PHI_AND_DERIVATIVE[activation][k]
            return stats.norm.pdf(xi) * f(a * xi) * conditional_moments(activation, b * xi, c)[k]

        opts = dict(epsabs=1e-13, epsrel=1e-12, limit=200)
        return sum(integrate.quad(integrand, lo, hi, **opts)[0] for lo, hi in [(-12, 0), (0, 12)])

    return outer(0), outer(1)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("use_bias", [True, False])
def test_one_layer_against_independent_integrals(rng, activation, use_bias):
    """Depth 1: Theta = Sigma2 + Sigma1 Sigma2_dot, Sigma1 = x.x'/d + s^2,
    Sigma2 = E[phi phi] + s^2, Sigma2_dot = E[phi' phi'], expectations integrated independently."""
    x = rng.standard_normal((4, 3)) * 1.3
    s2 = 0.7**2 if use_bias else 0.0
    sigma1 = x @ x.T / 3 + s2
    expected_k, expected_theta = np.empty((4, 4)), np.empty((4, 4))
    for i in range(4):
        for j in range(4):
            e_act, e_dact = reference_moments(activation, sigma1[i, i], sigma1[i, j], sigma1[j, j])
            expected_k[i, j] = e_act + s2
            expected_theta[i, j] = e_act + s2 + sigma1[i, j] * e_dact
    k, theta = infinite.nngp_and_ntk(x, 1, activation, 0.7, use_bias)
    np.testing.assert_allclose(k, expected_k, rtol=1e-9, atol=1e-11)
    np.testing.assert_allclose(theta, expected_theta, rtol=1e-9, atol=1e-11)


def covariance_cases():
    """(s11, s12, s22) over variances 0.1..16 and correlations from -1 to 1."""
    cases = []
    for s11 in (0.1, 1.0, 4.0, 16.0):
        for s22 in (0.3, 2.5, 9.0):
            for rho in (-0.999, -0.4, 0.0, 0.6, 0.99, 1.0):
                cases.append((s11, rho * np.sqrt(s11 * s22), s22))
    return np.array(cases).T


def test_quadrature_on_erf_equals_williams_closed_form():
    s11, s12, s22 = covariance_cases()
    step = infinite.quadrature_step(np.diag([s11.max(), s22.max()]))
    quadrature = infinite.quadrature_moments(*PHI_AND_DERIVATIVE["erf"], s11, s12, s22, step)
    closed = infinite.erf_moments(s11, s12, s22)
    np.testing.assert_allclose(quadrature[0], closed[0], rtol=0, atol=1e-8)
    np.testing.assert_allclose(quadrature[1], closed[1], rtol=0, atol=1e-8)


def test_tanh_quadrature_equals_gauss_hermite():
    """Trapezoid versus an independent 250-point tensor Gauss-Hermite rule (hermegauss),
    converged where the variances are small (tanh's poles slow Gauss-Hermite down at large ones)."""
    s11, s12, s22 = (c[:, None, None] for c in covariance_cases())
    keep = (s11 <= 1.0) & (s22 <= 1.0)
    nodes, weights = np.polynomial.hermite_e.hermegauss(250)
    w2 = np.outer(weights, weights) / (2 * np.pi)
    a = np.sqrt(s11)
    u, v = (
        a * nodes[:, None],
        s12 / a * nodes[:, None] + np.sqrt(np.maximum(s22 - s12**2 / s11, 0)) * nodes,
    )
    expected = [(w2 * f(u) * f(v)).sum((1, 2)) for f in (np.tanh, lambda t: 1 / np.cosh(t) ** 2)]
    step = infinite.quadrature_step(np.eye(2))
    got = infinite.quadrature_moments(*PHI_AND_DERIVATIVE["tanh"], s11, s12, s22, step)
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g.ravel()[keep.ravel()], e[keep.ravel()], rtol=0, atol=1e-10)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("depth", [1, 3])
@pytest.mark.parametrize("use_bias", [True, False])
def test_kernels_symmetric_positive_semidefinite(rng, activation, depth, use_bias):
    x = rng.standard_normal((12, 3))
    x[5] = x[2]  # a repeated input makes both kernels singular: PSD, not PD
    for kernel in infinite.nngp_and_ntk(x, depth, activation, 0.7, use_bias):
        np.testing.assert_array_equal(kernel, kernel.T)
        eigenvalues = np.linalg.eigvalsh(kernel)
        assert eigenvalues.min() > -1e-12 * eigenvalues.max()
        assert eigenvalues.min() < 1e-10 * eigenvalues.max()


def test_unknown_activation_names_the_config_key():
    with pytest.raises(ValueError, match="model.activation 'gelu'"):
        infinite.infinite_width_ntk(spec(1, "gelu", True), np.ones((2, 2)))


# depth: (narrow and wide width, seeds); seeds are cheap where the parameter count is small
WIDE_NETWORKS = {1: ((4096, 16384), 64), 2: ((512, 2048), 48)}


def test_mlp_initialises_every_weight_and_bias_standard_normal():
    """The NTK parameterisation (module docstring of nncosmo.models) draws W, b ~ N(0, 1); the
    wide-network test below replaces Flax's draws with numpy's, so it cannot see a wrong
    initialiser. Here the model's own `init` (depth 2, width 512, float64): every hidden kernel
    and the pooled biases have mean 0 and variance 1 within 5 standard errors (1 / sqrt(n) and
    sqrt(2 / n)), and a Kolmogorov-Smirnov test against N(0, 1) does not reject them (p > 1e-4;
    a seeded draw, so the outcome is fixed)."""
    model = build_model(spec(2, "erf", True), 512, jnp.float64)
    params = model.init(jax.random.key(0), jnp.ones((1, 6)))["params"]
    groups = {name: np.ravel(layer["kernel"]) for name, layer in params.items()}
    groups["biases"] = np.concatenate([np.ravel(layer["bias"]) for layer in params.values()])
    assert sorted(groups) == ["biases", "hidden_0", "hidden_1", "readout"]
    for name, values in groups.items():
        n = values.size
        assert abs(values.mean()) < 5 / np.sqrt(n), name
        assert abs(values.var() - 1) < 5 * np.sqrt(2 / n), name
        assert stats.kstest(values, "norm").pvalue > 1e-4, name


def normal_draws(shapes, rng):
    """N(0, 1) draws of every parameter (what MLP's initialisers draw), from numpy, on device."""
    return jax.device_put(jax.tree.map(lambda s: rng.standard_normal(s.shape), shapes))


def drop_biases(params):
    return {layer: {"kernel": p["kernel"]} for layer, p in params.items()}


def empirical_kernels(depth, width, seeds, x, configs):
    """Theta of `seeds` networks per config; one draw serves every activation, and its weights
    (without the biases) the bias-free networks."""
    fns = {c: ntk_function(build_model(spec(depth, *c), width, jnp.float64)) for c in configs}
    model = build_model(spec(depth, "erf", True), width, jnp.float64)
    shapes = jax.eval_shape(lambda: model.init(jax.random.key(0), x[:1]))["params"]
    rng = np.random.default_rng(width)
    kernels = {c: [] for c in configs}
    for _ in range(seeds):
        params = normal_draws(shapes, rng)
        for (act, bias), fn in fns.items():
            kernels[act, bias].append(np.asarray(fn(params if bias else drop_biases(params), x)))
    return {c: np.array(k) for c, k in kernels.items()}


@pytest.mark.parametrize("depth", sorted(WIDE_NETWORKS))
def test_wide_empirical_kernel_converges_like_inverse_sqrt_width(depth):
    """e = ||Theta_width - Theta_inf||_F / ||Theta_inf||_F, rms over seeds, for every activation
    with and without biases: falls by ~2 when the width grows 4x and is a few percent at the wider;
    the seed-mean kernel is within 1 % and 3 rms / sqrt(seeds) of Theta_inf (no bias beyond
    noise). Measured: rms 0.5-1.4 % at width 16384 (depth 1), 1.6-6.8 % at 2048 (depth 2)."""
    x = jnp.asarray(np.random.default_rng(7).standard_normal((6, 4)))
    configs = [(act, bias) for act in ACTIVATIONS for bias in (True, False)]
    limits = {c: infinite.infinite_width_ntk(spec(depth, *c), np.asarray(x)) for c in configs}
    (narrow, wide), seeds = WIDE_NETWORKS[depth]
    rms, mean_error = {}, {}
    for width in (narrow, wide):
        for c, kernels in empirical_kernels(depth, width, seeds, x, configs).items():
            scale = np.linalg.norm(limits[c])
            errors = np.linalg.norm(kernels - limits[c], axis=(1, 2)) / scale
            rms[c, width] = np.sqrt(np.mean(errors**2))
            mean_error[c, width] = np.linalg.norm(kernels.mean(0) - limits[c]) / scale
    report = {c: (rms[c, narrow], rms[c, wide], mean_error[c, wide]) for c in configs}
    for rms_narrow, rms_wide, mean_wide in report.values():
        assert rms_wide < 0.08, report  # largest: relu without biases at depth 2, ~0.068
        assert 1.5 < rms_narrow / rms_wide < 2.7, report
        assert mean_wide < min(0.01, 3 * rms_wide / np.sqrt(seeds)), report


def test_infinite_width_dictionary_is_the_exact_image_of_the_analytic_kernel(rng):
    """kappa_a = eigenvalues of Theta_inf / N, descending; per (eta, beta) and mode, H and m^2
    are the exact image of the recursion r^2 - (1 + beta - eta kappa) r + beta = 0 (roots from
    np.roots): 3 H sqrt(eta) = -ln beta and eta m^2 = ln r+ ln r-, where that image is real."""
    x = rng.standard_normal((12, 3))
    model = spec(2, "erf", True, bias_std=1.0)
    eta, beta = np.array([0.1, 0.5]), np.array([0.9, 0.5])
    dictionary = infinite.infinite_width_dictionary(model, x, eta, beta)
    theta = infinite.infinite_width_ntk(model, x)
    kappa = dictionary["kappa"]
    np.testing.assert_allclose(kappa, np.sort(np.linalg.eigvalsh(theta))[::-1] / 12, rtol=1e-12)
    assert kappa.shape == (12,) and np.all(np.diff(kappa) <= 0)
    np.testing.assert_allclose(kappa.sum(), np.trace(theta) / 12, rtol=1e-12)
    assert dictionary["m2"].shape == dictionary["H"].shape == (2, 12)
    real_images = 0
    for i, (e, b) in enumerate(zip(eta, beta, strict=True)):
        np.testing.assert_allclose(dictionary["H"][i], -np.log(b) / (3 * np.sqrt(e)), rtol=1e-12)
        for a, k in enumerate(kappa):
            roots = np.roots([1, -(1 + b - e * k), b]).astype(complex)
            if np.all(roots.real > 0) or np.any(roots.imag != 0):  # a real image exists
                expected = (np.log(roots[0]) * np.log(roots[1])).real / e
                np.testing.assert_allclose(dictionary["m2"][i, a], expected, rtol=1e-9)
                real_images += 1
            else:
                assert np.isnan(dictionary["m2"][i, a])
    assert real_images >= 12  # the top mode at eta = 0.5 may have none; most modes do


@pytest.mark.parametrize(
    "widths, second_line",
    [([128, 256, 512, 1024], []), ([128, 256, 512, 1024, 2048], ["1/2048"])],
)
def test_f5_inverse_width_labels_do_not_overlap(widths, second_line):
    """F5's 1/width axis, in an F5-sized panel after the final layout: the widest widths crowd
    near 0 (1/2048 and 1/1024 were printed over each other); a label that would touch its
    neighbour drops to a second line, and no two labels of a line overlap."""
    from nncosmo.figures import _inverse_width_ticks, plt

    fig, axes = plt.subplots(2, 2, figsize=(11.2, 8))
    ax = axes[1, 0]
    ax.plot(np.concatenate([[0.0], 1 / np.asarray(widths, float)]), np.zeros(len(widths) + 1))
    _inverse_width_ticks(ax, widths)
    fig.tight_layout()
    fig.canvas.draw()
    labels = ax.get_xticklabels()
    assert [t.get_text().strip() for t in labels] == ["∞"] + [f"1/{w}" for w in widths]
    assert [t.get_text().strip() for t in labels if t.get_text().startswith("\n")] == second_line
    for line in (False, True):
        boxes = sorted(
            (t.get_window_extent() for t in labels if t.get_text().startswith("\n") == line),
            key=lambda box: box.x0,
        )
        assert all(a.x1 <= b.x0 for a, b in zip(boxes, boxes[1:], strict=False))
    plt.close(fig)
