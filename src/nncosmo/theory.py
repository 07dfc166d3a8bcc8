"""The theory of the duality (docs/physics.md §1, §2, §4, §5, §7.1, §9-§13): recursion (D), both
dictionaries, the regimes, the closed-form mode solution, and schedules (step-dependent eta_n,
beta_n) with their recursion and per-step FLRW image. Pure numpy, float64; every stage that needs
a dictionary, a regime or a bound imports it from here.

Full-batch heavy-ball momentum (learning rate eta, momentum beta, start from rest) in the
constant-NTK regime gives decoupled residual modes obeying the recursion

    (D)  u(n+1) = (1 + beta - x) u(n) - beta u(n-1),   u(-1) = u(0),   x = eta * kappa,

with kappa = lam / N the NTK eigenvalue over the number of samples.  Time is tau = n sqrt(eta).

Continuum dictionary (the paper's, leading order in 1 - beta and eta):
    u'' + 3H u' + m^2 u = 0,  3H = (1 - beta) / sqrt(eta),  m^2 = kappa,  Lambda = 3H^2.
Exact dictionary: with r+-, the roots of r^2 - (1 + beta - x) r + beta = 0, (D) samples a
solution of the same ODE with 3H = -ln(beta) / sqrt(eta), m^2 = ln(r+) ln(r-) / eta,
Lambda = 3H^2 = ln(beta)^2 / (3 eta).

Regimes (codes index REGIMES), in the plane (x, beta):
    0 overdamped   0 <= x <= (1 - sqrt(beta))^2   real positive roots (slow roll; x equal to
                                                  the bound is the critical double root)
    1 underdamped  (1 - sqrt(beta))^2 < x < (1 + sqrt(beta))^2   complex roots (oscillating)
    2 alternating  (1 + sqrt(beta))^2 <= x < 2 (1 + beta)   real negative roots: stable, sign
                                                  flips every step, no real ODE image (NaN)
    3 unstable     x >= 2 (1 + beta) (a root <= -1), or x < 0 (a root > 1; tachyonic m^2 < 0)
Plain gradient descent (beta = 0) has no image: r- = 0, so 3H = -ln(0) / sqrt(eta) = inf and
u(n) = (1 - x)^n u0 is the image of a first-order equation, not of the damped oscillator. The
config rejects beta = 0; called with it, the exact dictionary returns H = Lambda = inf and
m^2 = NaN for x < 1, and NaN for all three at x >= 1 (the no-image bound (1 + sqrt(beta))^2 is 1
there).
"""

from __future__ import annotations

import numpy as np

REGIMES = ("overdamped", "underdamped", "alternating", "unstable")


def ntk_kappa(eigenvalue, n_samples: int):
    """kappa_a = lam_a / N: an NTK eigenvalue over the number of training samples, the mass^2
    of mode a in both dictionaries (docs/physics.md, notation)."""
    return eigenvalue / n_samples


def regime_bounds(beta):
    """Regime bounds on x = eta kappa: (1 - sqrt(beta))^2, (1 + sqrt(beta))^2 (double roots
    +-sqrt(beta)) and the stability edge 2 (1 + beta) (a root at -1).

    1 - sqrt(beta) = (1 - beta) / (1 + sqrt(beta)) keeps the lower bound accurate as beta -> 1.
    """
    beta = np.asarray(beta, dtype=float)
    sb = np.sqrt(beta)
    return ((1 - beta) / (1 + sb)) ** 2, (1 + sb) ** 2, 2 * (1 + beta)


def _sinhc(z):
    """sinh(z) / z, equal to 1 at z = 0 (the double-root limit)."""
    safe = np.where(z == 0, 1, z)
    return np.where(z == 0, 1, np.sinh(safe) / safe)


def characteristic_roots(eta, beta, kappa):
    """Roots r+- = (b +- sqrt(b^2 - 4 beta)) / 2 of r^2 - b r + beta = 0, b = 1 + beta - eta kappa.

    The discriminant is evaluated as (x - (1 - sqrt(beta))^2) (x - (1 + sqrt(beta))^2) and
    real roots by Vieta (small root = beta / large root), so neither cancels.  Complex roots
    have r+ in the upper half plane.  Returns complex128 arrays broadcast over the inputs.
    """
    beta = np.asarray(beta, dtype=float)
    x = np.asarray(eta, dtype=float) * np.asarray(kappa, dtype=float)
    lo, hi, _ = regime_bounds(beta)
    disc = (x - lo) * (x - hi)
    b, sq = 1 + beta - x, np.sqrt(np.abs(disc))
    big = 0.5 * (b + np.copysign(sq, b))
    small = np.divide(beta, big, out=np.zeros(np.broadcast(beta, big).shape), where=big != 0)
    r_plus = np.where(disc < 0, 0.5 * (b + 1j * sq), np.where(b >= 0, big, small))
    r_minus = np.where(disc < 0, 0.5 * (b - 1j * sq), np.where(b >= 0, small, big))
    return r_plus, r_minus


def _log_roots(eta, beta, kappa):
    """Principal ln(r+-); for real positive roots ln(r+) = log1p(x / (r- - 1)) (slow roll)."""
    r_plus, r_minus = characteristic_roots(eta, beta, kappa)
    x = np.asarray(eta, dtype=float) * np.asarray(kappa, dtype=float)
    slow = (r_plus.imag == 0) & (r_minus.real > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        l_plus = np.where(slow, np.log1p(x / (r_minus.real - 1)), np.log(r_plus))
        return l_plus, np.log(r_minus)


def regime(eta, beta, kappa):
    """Regime code (index into REGIMES) from the bounds on x = eta kappa in the module docstring."""
    beta = np.asarray(beta, dtype=float)
    x = np.asarray(eta, dtype=float) * np.asarray(kappa, dtype=float)
    lo, hi, edge = regime_bounds(beta)
    conds = [x < 0, x <= lo, x < hi, x < edge]
    return np.select(np.broadcast_arrays(*conds), [3, 0, 1, 2], 3)


def hubble_continuum(eta, beta):
    """Continuum (paper) Hubble rate: 3H = (1 - beta) / sqrt(eta)."""
    return (1 - np.asarray(beta, dtype=float)) / (3 * np.sqrt(eta))


def hubble_exact(eta, beta):
    """Exact Hubble rate of recursion (D): 3H = -ln(beta) / sqrt(eta) (inf at beta = 0)."""
    with np.errstate(divide="ignore"):
        return -np.log(np.asarray(beta, dtype=float)) / (3 * np.sqrt(eta))


def cosmological_constant(hubble):
    """Vacuum energy of de Sitter space with Hubble rate H: Lambda = 3 H^2 (M_p = 1)."""
    return 3 * np.asarray(hubble) ** 2


def vacuum_energy(eta, beta):
    """Lambda = 3 H^2 of the exact dictionary's rate 3H = -ln(beta) / sqrt(eta) (docs/physics.md
    §5): the vacuum of a friedmann schedule, beta_n -> beta as rho -> 0 (§11)."""
    return cosmological_constant(hubble_exact(eta, beta))


def momentum_from_hubble(H, dt):
    """beta = exp(-3 H dt): the exact dictionary (docs/physics.md §5, §12) read backwards, the
    momentum of Hubble rate H on a lattice of time step dt (dt = sqrt(eta))."""
    return np.exp(-3 * H * dt)


def power_law_hubble(p, t):
    """Hubble rate H = p / t of a power-law expansion a ∝ t^p (docs/physics.md §3, §11.2)."""
    return p / t


def power_law_time(p, hubble):
    """t = p / H: when a power-law expansion a ∝ t^p has Hubble rate H (`power_law_hubble`
    solved for t; F8 marks t where H = m)."""
    return p / hubble


def field_energies(dphi, phi, m2):
    """(kinetic, potential) = (phi'^2 / 2, m^2 phi^2 / 2) of a scalar field of mass^2 m2: energy
    density rho = kinetic + potential, pressure kinetic - potential (docs/physics.md §11.2, §13)."""
    return dphi**2 / 2, m2 * phi**2 / 2


def friedmann_hubble(rho, vacuum, xp=np):
    """Friedmann rate H = sqrt((rho + Lambda) / 3) of energy density rho and vacuum Lambda
    (M_p = 1; docs/physics.md §11, §13); `xp` np or jnp."""
    return xp.sqrt((rho + vacuum) / 3)


def continuum_dictionary(eta, beta, kappa):
    """Continuum dictionary: 3H = (1 - beta) / sqrt(eta), m^2 = kappa, Lambda = 3H^2."""
    eta, beta, kappa = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (eta, beta, kappa))
    )
    hubble = hubble_continuum(eta, beta)
    return {"H": hubble, "m2": kappa.copy(), "Lambda": cosmological_constant(hubble)}


def exact_dictionary(eta, beta, kappa):
    """Exact dictionary: 3H = -ln(beta) / sqrt(eta), m^2 = ln(r+) ln(r-) / eta, Lambda = 3H^2.

    NaN for H, m^2 and Lambda where the roots are real negative (alternating and unstable
    x > 2(1 + beta)): there ln(r+) ln(r-) is not real and no real ODE image exists; `regime`
    says which.  beta = 0 (gradient descent) gives H = Lambda = inf, m^2 = NaN for x < 1 (NaN for
    all three at x >= 1).
    """
    eta, beta, kappa = np.broadcast_arrays(
        *(np.asarray(a, dtype=float) for a in (eta, beta, kappa))
    )
    code = regime(eta, beta, kappa)
    has_image = (eta * kappa < regime_bounds(beta)[1]) & (beta >= 0)
    l_plus, l_minus = _log_roots(eta, beta, kappa)
    with np.errstate(divide="ignore", invalid="ignore"):
        hubble = np.where(has_image, hubble_exact(eta, beta), np.nan)
        m2 = np.where(has_image & (beta > 0), (l_plus * l_minus).real / eta, np.nan)
    return {"H": hubble, "m2": m2, "Lambda": cosmological_constant(hubble), "regime": code}


def rest_initial_velocity(eta, beta, kappa, u0):
    """u'(0) = A s+ + B s- of the exact image started from rest, u(-sqrt(eta)) = u(0) = u0.

    With u = A e^{s+ tau} + B e^{s- tau}, s+- = ln(r+-) / sqrt(eta), A + B = A / r+ + B / r-
    = u0: A = u0 r+ (r- - 1) / (r- - r+), B = u0 r- (r+ - 1) / (r+ - r-).  Written via
    d = (ln r+ - ln r-) / 2 as
        u'(0) = u0 [ (cosh d - sqrt(beta)) / sinhc(d) + ln(beta) / 2 ] / sqrt(eta),
    even and entire in d, so the double root (d = 0: u0 (1 - r + ln r) / sqrt(eta)) needs no
    division by zero.  Far on the slow-roll side (x <= (1 - sqrt(beta))^2 / 2), where u'(0) = O(x)
    and that form cancels, A s+ + B s- is used directly with r+ - 1 = x / (r- - 1).
    NaN where the exact dictionary has no image (and for beta = 0).
    """
    r_plus, r_minus = (r.real for r in characteristic_roots(eta, beta, kappa))
    l_plus, l_minus = _log_roots(eta, beta, kappa)
    x = np.asarray(eta, dtype=float) * np.asarray(kappa, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        half = 0.5 * (l_plus - l_minus)
        general = (np.cosh(half) - np.sqrt(beta)) / _sinhc(half) + 0.5 * np.log(beta)
        q = r_minus - 1
        slow = (r_plus * q * l_plus.real - r_minus * (x / q) * l_minus.real) / (r_minus - r_plus)
    bracket = np.where((x >= 0) & (x <= 0.5 * regime_bounds(beta)[0]), slow, general.real)
    m2 = exact_dictionary(eta, beta, kappa)["m2"]
    return np.where(np.isnan(m2), np.nan, np.asarray(u0) * bracket / np.sqrt(eta))


def matrix_function(kappa_matrix, scalar):
    """f(C) = V diag(f(mu)) V^T of symmetric matrices C = V diag(mu) V^T (..., K, K); `scalar`
    maps the eigenvalues mu (..., K). NaN matrices where C or f(mu) is not finite."""
    kappa_matrix = np.asarray(kappa_matrix, dtype=float)
    finite = np.isfinite(kappa_matrix).all((-2, -1))
    mu, vec = np.linalg.eigh(np.where(finite[..., None, None], kappa_matrix, 0.0))
    with np.errstate(invalid="ignore"):
        out = (vec * scalar(mu)[..., None, :]) @ np.swapaxes(vec, -1, -2)
    return np.where(finite[..., None, None], out, np.nan)


def exact_mass_matrix(eta, beta, kappa_matrix):
    """Exact dictionary of a kappa matrix C (mode coupling, docs/physics.md §10):
    M^2 = ln r+(eta C) ln r-(eta C) / eta as a matrix function; eta, beta broadcast against the
    leading axes of C (..., K, K)."""
    eta, beta = np.asarray(eta, float)[..., None], np.asarray(beta, float)[..., None]
    return matrix_function(kappa_matrix, lambda mu: exact_dictionary(eta, beta, mu)["m2"])


def rest_velocity_matrix(eta, beta, kappa_matrix):
    """G with u'(0) = G u(0): `rest_initial_velocity` as a matrix function of C (..., K, K)
    (it is linear in u0, so G = g(C) with g(kappa) the velocity of u0 = 1)."""
    eta, beta = np.asarray(eta, float)[..., None], np.asarray(beta, float)[..., None]
    return matrix_function(kappa_matrix, lambda mu: rest_initial_velocity(eta, beta, mu, 1.0))


def momentum_recursion(u0, eta, beta, kappa, steps, *, per_step=False):
    """Recursion (D) from rest, as heavy ball: v(n+1) = beta v(n) - x(n) u(n), u(n+1) = u(n) +
    v(n+1), x(n) = eta kappa(n).

    v(n) = u(n) - u(n-1), v(0) = 0; identical to (D) in exact arithmetic and better conditioned
    for slow modes.  kappa is constant (broadcast with u0, eta, beta) or, with per_step, indexed
    by the step first: kappa[n] drives u(n) -> u(n + 1) (a step-dependent NTK, docs/physics.md
    §9).  Returns float64 u(n), n = 0..steps, shape (steps + 1, *broadcast shape).
    """
    kappa, eta, beta = (np.asarray(a, dtype=float) for a in (kappa, eta, beta))
    kappas = kappa[:steps] if per_step else np.broadcast_to(kappa, (steps, *kappa.shape))
    shape = np.broadcast_shapes(np.shape(u0), eta.shape, beta.shape, kappas.shape[1:])
    out = np.empty((steps + 1, *shape))
    out[0], v = u0, np.zeros(shape)
    for n in range(steps):
        v = beta * v - eta * kappas[n] * out[n]
        out[n + 1] = out[n] + v
    return out


def adiabatic_amplitude_error(eta, beta, kappa):
    """Predicted relative error of the adiabatic image for a slowly varying kappa(n) (axis 0 = n).

    The recursion conserves the discrete Wronskian, so a slow mode's amplitude goes as
    1 / sqrt(sinh(d_n)) (d = (ln r+ - ln r-) / 2, imaginary when underdamped); the field of the
    interpolated mass conserves a^2 w, w = d / sqrt(eta), amplitude 1 / sqrt(d_n).  Both start
    equal, so u(n) = (1 + p_n) phi(n) with p_n = sqrt(sinhc(d_0) / sinhc(d_n)) - 1
    ~ (d_0^2 - d_n^2) / 12 ~ eta (kappa(n) - kappa(0)) / (12 sqrt(beta)) (small d: sinhc d ~
    1 + d^2 / 6, cosh d = (1 + beta - eta kappa) / (2 sqrt(beta))): set by the change of kappa,
    not by its rate (docs/physics.md §9).
    """
    l_plus, l_minus = _log_roots(eta, beta, kappa)
    half = 0.5 * (l_plus - l_minus)
    return np.sqrt(_sinhc(half[:1]) / _sinhc(half)).real - 1


def mode_solution(tau, u0, du0, H, m2):
    """Closed form of u'' + 3H u' + m2 u = 0, u(0) = u0, u'(0) = du0 (s+- = -3H/2 +- w).

    u = e^{-3H tau / 2} [u0 cosh(w tau) + (du0 + 3H u0 / 2) tau sinhc(w tau)], w^2 = 9H^2/4 - m2,
    with complex w (cosh, sinh are the complex exponentials); even in w, so the double root
    w = 0 is the limit (a + b tau) e^{-3H tau / 2}.  Returns the real part.
    """
    tau, u0, du0, H, m2 = (np.asarray(a, dtype=float) for a in (tau, u0, du0, H, m2))
    w = np.sqrt(_frequency2(H, m2).astype(complex))
    growth = np.cosh(w * tau) * u0 + (du0 + 1.5 * H * u0) * tau * _sinhc(w * tau)
    return (np.exp(-1.5 * H * tau) * growth).real


def lattice_settings(H, m2, dt):
    """Inverse of the exact dictionary on a lattice of time step dt (docs/physics.md §12):
    beta = exp(-3 H dt) and x = eta kappa = 1 + beta - 2 sqrt(beta) cos(omega dt),
    omega^2 = m2 - 9 H^2 / 4 (cos(omega dt) = cosh(w dt), w^2 = -omega^2, when overdamped).

    Written as x = (1 - sqrt(beta))^2 + 4 sqrt(beta) sin^2(omega dt / 2) (complex omega on the
    overdamped side), so a slow mode's small x does not cancel.  The map is one to one only for
    omega dt < pi (`lattice_phase`): there x reaches the alternating bound (1 + sqrt(beta))^2.
    Returns (beta, x), float64 arrays broadcast over the inputs.
    """
    H, m2 = np.asarray(H, dtype=float), np.asarray(m2, dtype=float)
    beta = momentum_from_hubble(H, dt)
    sqrt_beta = momentum_from_hubble(H, dt / 2)  # exp(-3 H dt / 2)
    gap = -np.expm1(-1.5 * H * dt)  # 1 - sqrt(beta), computed without cancellation
    sine = np.sin(0.5 * lattice_phase(H, m2, dt))
    return beta, gap**2 + 4 * sqrt_beta * (sine**2).real


def lattice_phase(H, m2, dt):
    """omega dt = sqrt(m2 - 9 H^2 / 4) dt as a complex number (imaginary when overdamped); the
    lattice resolves the mass only for real part < pi (the Nyquist bound of the step)."""
    omega2 = -_frequency2(np.asarray(H, dtype=float), np.asarray(m2, dtype=float))
    return np.sqrt(omega2.astype(complex)) * dt


def _frequency2(H, m2):
    """w^2 = 9 H^2 / 4 - m2, w the rate of the damped oscillator's modes s+- = -3H/2 +- w
    (negative, w = i omega, when underdamped)."""
    return 2.25 * H**2 - m2


# Schedules: step-dependent (eta_n, beta_n) as expansion histories (docs/physics.md §11).
SCHEDULES = ("constant", "power_law", "nesterov", "friedmann")


def schedule_label(spec: dict) -> str:
    """A schedule as the run coordinate `schedule` names it: its kind and parameters, each to
    every digit its float needs (the cosmology stage integrates the parameters read back),
    e.g. "power_law p=0.5 tau0=1 hubble_step=0", "power_law p=0.6666666666666666 tau0=2" or
    "constant"."""
    return " ".join([spec["kind"], *(f"{k}={_exact(v)}" for k, v in spec.items() if k != "kind")])


def _exact(value: float) -> str:
    """The shortest text that reads back as `value`: "0.5", "2", "0.6666666666666666"."""
    short = f"{value:g}"
    return short if float(short) == value else repr(float(value))


def lattice_time(etas):
    """tau_n = sum_{k<n} sqrt(eta_k), n = 0..S-1 for etas (..., S): step k takes sqrt(eta_k).

    Summed as sqrt(eta_max) sum sqrt(eta_k / eta_max), so a constant eta gives n sqrt(eta) to
    the bit."""
    etas = np.asarray(etas, dtype=float)
    top = etas.max(axis=-1, keepdims=True)
    steps = np.sqrt(etas / top)
    counts = np.concatenate([np.zeros_like(steps[..., :1]), np.cumsum(steps, -1)[..., :-1]], -1)
    return np.sqrt(top) * counts


def power_law_schedule(eta, p, tau0, steps, hubble_step=0.0):
    """(eta_n, beta_n), n = 0..steps, whose heavy ball is the power law H = p / (tau0 + tau).

    Time step sqrt(eta_n) = sqrt(eta) s_n, s_n = min(1, hubble_step (tau0 + tau_n) / (p sqrt(eta)))
    (hubble_step 0: eta_n = eta): H sqrt(eta_n) <= hubble_step resolves the early era.
    The velocity (Delta u / sqrt(eta)) loses the factor (a(tau_n) / a(tau_{n+1}))^3 =
    ((tau0 + tau_n) / (tau0 + tau_{n+1}))^(3p) per step (a^3 u' conserved for m = 0), and
    optax's momentum acts on that velocity as beta_n sqrt(eta_n / eta_{n-1}), so
        beta_n = ((tau0 + tau_n) / (tau0 + tau_{n+1}))^(3p) sqrt(eta_{n-1} / eta_n).
    """
    scale = np.ones(steps + 2)
    if hubble_step:
        tau, limit = 0.0, hubble_step / (p * np.sqrt(eta))
        for n in range(steps + 2):
            scale[n] = min(1.0, limit * (tau0 + tau))
            tau += np.sqrt(eta) * scale[n]
    etas = eta * scale**2
    tau = tau0 + lattice_time(etas)
    dilution = (tau[:-1] / tau[1:]) ** (3 * p)
    previous = np.concatenate([scale[:1], scale[:-2]])
    return etas[:-1], dilution * previous / scale[:-1]


def nesterov_momentum(steps):
    """beta_n = n / (n + 3), n = 0..steps (Su, Boyd & Candes 2014: continuum friction 3/t)."""
    n = np.arange(steps + 1, dtype=float)
    return n / (n + 3)


def friedmann_momentum(rho, vacuum, eta, xp=np):
    """beta_n = exp(-3 H sqrt(eta)), H^2 = (rho + Lambda) / 3: `momentum_from_hubble` of
    `friedmann_hubble` (docs/physics.md §5, §11), M_p = 1; `xp` np or jnp.

    Evaluated fused, as exp(-sqrt(3 (rho + Lambda) eta)): composing the two functions rounds
    differently (float32 training trajectories would change in the last bit)."""
    return xp.exp(-xp.sqrt(3 * (rho + vacuum) * eta))


def scheduled_recursion(u0, kappa, etas, betas, nesterov=False):
    """Mode u_a of optax.sgd(eta_n, momentum=beta_n, nesterov) on a quadratic, from rest:

        t(n+1) = kappa u(n) + beta_n t(n),   t(0) = 0,
        u(n+1) = u(n) - eta_n t(n+1)                            (heavy ball),
        u(n+1) = u(n) - eta_n [kappa u(n) + beta_n t(n+1)]      (nesterov).

    etas, betas (steps, ...) index the step first and broadcast with u0 and kappa.  Returns
    float64 u(n), n = 0..steps (docs/physics.md §11; constant (eta, beta): recursion (D))."""
    etas, betas = np.asarray(etas, dtype=float), np.asarray(betas, dtype=float)
    shape = np.broadcast_shapes(np.shape(u0), np.shape(kappa), etas.shape[1:], betas.shape[1:])
    out = np.empty((len(etas) + 1, *shape))
    out[0], trace = u0, np.zeros(shape)
    for n, (eta, beta) in enumerate(zip(etas, betas, strict=True)):
        trace = kappa * out[n] + beta * trace
        step = kappa * out[n] + beta * trace if nesterov else trace
        out[n + 1] = out[n] - eta * step
    return out


def effective_momentum(etas, betas, kappa, nesterov=False):
    """(b_n, c_n) of the scheduled recursion written as (D): u(n+1) = u(n) + b_n (u(n) - u(n-1))
    - c_n u(n) (docs/physics.md §11); etas, betas (steps, ...), step first.

    Heavy ball: b_n = beta_n eta_n / eta_{n-1}, c_n = eta_n kappa.  Nesterov, beta_{n-1} > 0:
    b_n = (eta_n / eta_{n-1}) (beta_n^2 / beta_{n-1}) (1 - eta_{n-1} kappa),
    c_n = eta_n kappa (1 + beta_n - beta_n^2 / beta_{n-1}); after beta_{n-1} = 0 (t(n) = kappa
    u(n-1)): b_n = eta_n beta_n^2 kappa, c_n = eta_n kappa (1 + beta_n + beta_n^2).  At n = 0
    (u(-1) = u(0)) b_0 multiplies zero: b_0 = beta_0, c_0 = eta_0 kappa (1 + beta_0) (nesterov)."""
    etas, betas = np.asarray(etas, dtype=float), np.asarray(betas, dtype=float)
    eta_prev = np.concatenate([etas[:1], etas[:-1]])
    beta_prev = np.concatenate([np.zeros_like(betas[:1]), betas[:-1]])
    if not nesterov:
        return betas * etas / eta_prev, etas * kappa
    with np.errstate(divide="ignore", invalid="ignore"):
        carried = np.where(beta_prev > 0, betas**2 / beta_prev, 0.0)
        b = np.where(
            beta_prev > 0,
            (etas / eta_prev) * carried * (1 - eta_prev * kappa),
            etas * betas**2 * kappa,
        )
        c = etas * kappa * np.where(beta_prev > 0, 1 + betas - carried, 1 + betas + betas**2)
    b[0], c[0] = betas[0], (etas * kappa * (1 + betas))[0]
    return b, c


def scheduled_dictionary(etas, betas, kappa, nesterov=False):
    """Per-step exact image of the scheduled recursion (docs/physics.md §11): time step
    dtau_n = sqrt(eta_n), tau_n (`lattice_time`), velocity momentum a_n = b_n sqrt(eta_{n-1} /
    eta_n), 3H(tau_n) = -ln a_n / dtau_n and m_n^2 = ln r+ ln r- / eta_n of r^2 - (1 + a_n - c_n)
    r + a_n ((b_n, c_n): `effective_momentum`): the exact dictionary of the lattice frozen at
    step n.  Arrays (steps, ...), step first; NaN where step n has no real image."""
    etas = np.asarray(etas, dtype=float)
    b, c = effective_momentum(etas, betas, kappa, nesterov)
    eta_prev = np.concatenate([etas[:1], etas[:-1]])
    a = b * np.sqrt(eta_prev / etas)
    image = exact_dictionary(etas, a, c / etas)
    tau = np.moveaxis(lattice_time(np.moveaxis(etas, 0, -1)), -1, 0)
    return {"dtau": np.sqrt(etas), "tau": tau, "H": image["H"], "m2": image["m2"], "a": a}


def nesterov_friction(eta, kappa):
    """Mode-dependent constant friction of Nesterov's image, 3H_a - 3/tau = -ln(1 - eta kappa_a)
    / sqrt(eta): the momentum (1 - eta kappa_a) beta_n on top of coasting (docs/physics.md §11)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.log1p(-np.asarray(eta, dtype=float) * kappa) / np.sqrt(eta)


def parse_schedule_label(label: str) -> dict:
    """The schedule a `schedule_label` names, {"kind": kind, parameter: float}: the parameters
    exactly."""
    kind, *pairs = str(label).split()
    return {"kind": kind, **{k: float(v) for k, v in (pair.split("=") for pair in pairs)}}


def lattice_velocity(u_prev, u_now, dtau, H, m2):
    """u'(tau_n) of the solution of u'' + 3H u' + m2 u = 0 through u(tau_n - dtau) = u_prev and
    u(tau_n) = u_now (the exact image of one lattice step, docs/physics.md §13):
        u' = -3H u_now / 2 + (u_now cosh(w dtau) - u_prev e^{-3H dtau / 2}) / (dtau sinhc(w dtau)),
    w^2 = 9H^2/4 - m2 (complex w; even in w, so the double root needs no division by zero).
    With u_prev = u_now it is `rest_initial_velocity` in exact arithmetic (that one, written via
    the roots, stays accurate in slow roll, where the two differ by up to ~1e-11 relative)."""
    H, m2, dtau = (np.asarray(a, dtype=float) for a in (H, m2, dtau))
    w = np.sqrt(_frequency2(H, m2).astype(complex))
    swing = u_now * np.cosh(w * dtau) - u_prev * np.exp(-1.5 * H * dtau)
    return (-1.5 * H * u_now + swing / (dtau * _sinhc(w * dtau))).real
