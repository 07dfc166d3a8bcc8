"""The analytic infinite-width NNGP kernel and NTK of `nncosmo.models.MLP` (docs/physics.md §8).

For the NTK parameterisation z = W h / sqrt(fan_in) + s b, W, b ~ N(0, 1) (s b only with biases),
the pre-activations of every hidden layer become Gaussian processes as the width grows
(Jacot et al. 2018; Lee et al. 2019, "Wide neural networks of any depth evolve as linear models",
appendix), with covariance Sigma^(l) and derivative kernel Sigma_dot^(l):

    Sigma^(1)       = x x'^T / d + s^2
    Sigma^(l+1)     = E[phi(u) phi(v)] + s^2,      (u, v) ~ N(0, Sigma^(l) on {x, x'})
    Sigma_dot^(l+1) = E[phi'(u) phi'(v)]
    Theta^(1)       = Sigma^(1),   Theta^(l+1) = Sigma^(l+1) + Theta^(l) * Sigma_dot^(l+1)

up to the readout, layer depth + 1. The Gaussian expectations are closed forms for relu
(arc-cosine kernels of order 1 and 0, Cho & Saul 2009) and erf (Williams 1997), and a 2-D
trapezoidal rule over the standard Gaussian for tanh (any activation: `quadrature_moments`); the
trapezoid, not Gauss-Hermite, because tanh's poles at +-i pi/2 slow Gauss-Hermite to ~1e-7 at
300 points for variances ~5 (digits), where the trapezoid reaches ~3e-13 at ~170. Float64 numpy.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nncosmo.theory import exact_dictionary, ntk_kappa

# trapezoid in xi ~ N(0, 1): nodes on |xi| <= 9 (Gaussian tail 3e-18), step 0.25 / sqrt(largest
# variance): tanh moments to ~3e-13 (measured for variances 1-16, docs/physics.md §8)
TRAPEZOID_HALF_RANGE = 9.0
TRAPEZOID_STEP = 0.25

# activations without a closed form: phi and phi' as numpy functions, for `quadrature_moments`
QUADRATURE_ACTIVATIONS: dict[str, tuple[Callable, Callable]] = {
    "tanh": (np.tanh, lambda u: 1 - np.tanh(u) ** 2),
}


def relu_moments(s11, s12, s22):
    """Cho & Saul (2009) arc-cosine kernels of orders 1 and 0, with cos t = s12 / sqrt(s11 s22):
    E[relu(u) relu(v)] = sqrt(s11 s22) (sin t + (pi - t) cos t) / (2 pi),
    E[step(u) step(v)] = (pi - t) / (2 pi); evaluated as t = atan2(sqrt(s11 s22 - s12^2), s12),
    exact at t = 0 where arccos loses half the digits."""
    det = np.sqrt(np.maximum(s11 * s22 - s12**2, 0.0))
    t = np.arctan2(det, s12)
    return (det + (np.pi - t) * s12) / (2 * np.pi), (np.pi - t) / (2 * np.pi)


def erf_moments(s11, s12, s22):
    """Williams (1997): E[erf(u) erf(v)] = (2/pi) arcsin(2 s12 / sqrt((1 + 2 s11)(1 + 2 s22))),
    E[erf'(u) erf'(v)] = (4/pi) / sqrt((1 + 2 s11)(1 + 2 s22) - 4 s12^2)."""
    product = (1 + 2 * s11) * (1 + 2 * s22)
    e_act = 2 / np.pi * np.arcsin(np.clip(2 * s12 / np.sqrt(product), -1.0, 1.0))
    return e_act, 4 / np.pi / np.sqrt(product - 4 * s12**2)


CLOSED_FORMS: dict[str, Callable] = {"relu": relu_moments, "erf": erf_moments}


def quadrature_moments(phi, dphi, s11, s12, s22, step: float):
    """E[phi(u) phi(v)] and E[phi'(u) phi'(v)] over (u, v) ~ N(0, [[s11, s12], [s12, s22]]) by the
    2-D trapezoidal rule on xi ~ N(0, I): u = a xi_1, v = b xi_1 + c xi_2 (Cholesky: a = sqrt(s11),
    b = s12 / a, c = sqrt(s22 - b^2)), nodes xi = k step, |xi| <= 9, weights
    step^2 exp(-|xi|^2 / 2) / (2 pi). For integrands analytic in a strip |Im xi| < w the error
    falls like exp(-2 pi w / step) (Trefethen & Weideman 2014); tanh has w = pi / (2 sqrt(var))."""
    half = int(np.ceil(TRAPEZOID_HALF_RANGE / step))
    nodes = step * np.arange(-half, half + 1)
    weights = step * np.exp(-(nodes**2) / 2) / np.sqrt(2 * np.pi)
    s11, s12, s22 = (s[..., None, None] for s in np.broadcast_arrays(s11, s12, s22))
    a = np.sqrt(s11)
    b = np.divide(s12, a, out=np.zeros_like(a), where=a > 0)
    c = np.sqrt(np.maximum(s22 - b**2, 0.0))
    u, v = a * nodes[:, None], b * nodes[:, None] + c * nodes[None, :]
    w2 = weights[:, None] * weights[None, :]
    return (
        (w2 * phi(u) * phi(v)).sum(axis=(-2, -1)),
        (w2 * dphi(u) * dphi(v)).sum(axis=(-2, -1)),
    )


def quadrature_step(sigma: np.ndarray) -> float:
    """Trapezoid step in xi for a covariance: TRAPEZOID_STEP / sqrt(max(largest variance, 1))."""
    return TRAPEZOID_STEP / np.sqrt(max(float(np.diag(sigma).max()), 1.0))


def gaussian_moments(activation: str, sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(E[phi(u) phi(v)], E[phi'(u) phi'(v)]) over (u, v) ~ N(0, Sigma on {x_i, x_j}) for all
    pairs i, j of the N x N covariance `sigma`: closed forms for relu and erf, else quadrature."""
    diag = np.diag(sigma)
    if activation in CLOSED_FORMS:
        return CLOSED_FORMS[activation](diag[:, None], sigma, diag[None, :])
    if activation not in QUADRATURE_ACTIVATIONS:
        raise ValueError(
            f"model.activation '{activation}' has no infinite-width kernel; "
            f"use one of {sorted([*CLOSED_FORMS, *QUADRATURE_ACTIVATIONS])}"
        )
    phi, dphi, step = *QUADRATURE_ACTIVATIONS[activation], quadrature_step(sigma)
    e_act, e_dact = np.zeros_like(sigma), np.zeros_like(sigma)
    for i in range(len(diag)):  # upper triangle row by row, then mirrored: exactly symmetric
        e_act[i, i:], e_dact[i, i:] = quadrature_moments(
            phi, dphi, diag[i], sigma[i, i:], diag[i:], step
        )
    return e_act + np.triu(e_act, 1).T, e_dact + np.triu(e_dact, 1).T


def nngp_and_ntk(
    x: np.ndarray, depth: int, activation: str, bias_std: float, use_bias: bool
) -> tuple[np.ndarray, np.ndarray]:
    """(K, Theta), each N x N: the output NNGP kernel Sigma^(depth+1) and the NTK Theta^(depth+1)
    of the recursion in the module docstring (docs/physics.md §8), in float64."""
    x = np.asarray(x, np.float64)
    bias_var = bias_std**2 if use_bias else 0.0
    sigma = x @ x.T / x.shape[1] + bias_var
    theta = sigma
    for _ in range(depth):
        e_act, e_dact = gaussian_moments(activation, sigma)
        sigma = e_act + bias_var
        theta = sigma + theta * e_dact
    return sigma, theta


def infinite_width_ntk(model_spec: dict, x: np.ndarray) -> np.ndarray:
    """Analytic infinite-width NTK on x (N, d) of the MLP that the config's `model` block
    (depth, activation, bias_std, use_bias) describes."""
    return nngp_and_ntk(
        x,
        model_spec["depth"],
        model_spec["activation"],
        model_spec["bias_std"],
        model_spec["use_bias"],
    )[1]


def infinite_width_dictionary(model_spec: dict, x: np.ndarray, eta, beta) -> dict:
    """The infinite-width dictionary (docs/physics.md §8.1): kappa_a = lambda_a(Theta_inf) / N of
    the analytic NTK on x (N, d), all N modes in descending order, and at each (eta, beta) (arrays
    broadcast, the mode axis last) the exact dictionary's H, m^2_a, Lambda and regime
    (`theory.exact_dictionary`), the values the fits approach as the width grows."""
    kappa = ntk_kappa(np.linalg.eigvalsh(infinite_width_ntk(model_spec, x))[::-1], len(x))
    eta, beta = (np.asarray(a, dtype=float)[..., None] for a in (eta, beta))
    return {"kappa": kappa, **exact_dictionary(eta, beta, kappa)}
