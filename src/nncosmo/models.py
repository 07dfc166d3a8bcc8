"""Stage 2a, models: an MLP in NTK parameterisation, as a Flax (linen) module.

Each layer computes z = W h / sqrt(fan_in) + bias_std * b with W, b ~ N(0, 1) (Jacot et al. 2018),
so the NTK has a finite, deterministic infinite-width limit. The pre-activations are declared as
Flax `perturb` points and the layer inputs are sown, which lets `nncosmo.ntk` build the NTK
layer by layer without forming the Jacobian.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache, partial

import flax.linen as nn
import jax
import jax.numpy as jnp

# Every float32 product at full float32 precision on every backend: XLA:GPU's default runs them
# with TF32 operands (10-bit mantissa) on Ampere and later, which moves f(theta_n) by up to 4e-3
# over a default width-1024 run (README, "Set-up"); a no-op on CPUs and for float64.
PRECISION = jax.lax.Precision.HIGHEST

ACTIVATIONS: dict[str, Callable] = {
    "relu": jax.nn.relu,
    "erf": jax.scipy.special.erf,
    "tanh": jnp.tanh,
}


@jax.custom_vjp
def dense_product(h: jax.Array, kernel: jax.Array) -> jax.Array:
    """h @ W, with the pullback (ct @ W^T, h^T ct) written out: the weight gradient comes out as
    one product in W's own (fan_in, fan_out) order. Autodiff's transpose rule computes
    (ct^T h)^T instead, which XLA's CPU backend, for one unbatched run, lays out as the
    transpose of W: every training step then transposed the gradient or read it strided, 1.6x
    the per-run time of a batch of runs (benchmarks/README.md §16). Reverse mode only (no jvp)."""
    return jnp.matmul(h, kernel, precision=PRECISION)


def _dense_product_forward(h, kernel):
    return jnp.matmul(h, kernel, precision=PRECISION), (h, kernel)


def _dense_product_pullback(residuals, ct):
    h, kernel = residuals
    leading = tuple(range(h.ndim - 1))  # every axis but the features: samples, any batch
    return (
        jnp.matmul(ct, kernel.T, precision=PRECISION),
        jnp.tensordot(h, ct, axes=(leading, leading), precision=PRECISION),
    )


dense_product.defvjp(_dense_product_forward, _dense_product_pullback)


class NTKDense(nn.Module):
    """z = x @ W / sqrt(fan_in) + bias_std * b, with W, b ~ N(0, 1); with `reverse_mode_only`,
    x @ W is `dense_product` (its pullback written out; no forward-mode derivatives)."""

    features: int
    bias_std: float = 1.0
    use_bias: bool = True
    dtype: jnp.dtype = jnp.float32
    reverse_mode_only: bool = False

    @nn.compact
    def __call__(self, x):
        kernel = self.param(
            "kernel", nn.initializers.normal(1.0), (x.shape[-1], self.features), self.dtype
        )
        if self.reverse_mode_only:
            product = dense_product(x, kernel)
        else:
            product = jnp.matmul(x, kernel, precision=PRECISION)
        z = product / jnp.sqrt(jnp.asarray(x.shape[-1], self.dtype))
        if self.use_bias:
            bias = self.param("bias", nn.initializers.normal(1.0), (self.features,), self.dtype)
            z = z + self.bias_std * bias
        return z


class MLP(nn.Module):
    """f(x) = readout(act(... act(hidden_0(x)))) with `depth` hidden layers; scalar output.
    `reverse_mode_only`: every layer's product is `dense_product` (`training_apply_function`)."""

    width: int
    depth: int
    activation: str = "erf"
    bias_std: float = 1.0
    use_bias: bool = True
    dtype: jnp.dtype = jnp.float32
    reverse_mode_only: bool = False

    def layer_names(self) -> list[str]:
        """Names of the dense layers, input to output."""
        return [f"hidden_{i}" for i in range(self.depth)] + ["readout"]

    @nn.compact
    def __call__(self, x):
        act = ACTIVATIONS[self.activation]
        h = x.astype(self.dtype)
        for name in self.layer_names():
            self.sow("intermediates", f"{name}_input", h)
            features = 1 if name == "readout" else self.width
            dense = NTKDense(
                features,
                self.bias_std,
                self.use_bias,
                self.dtype,
                self.reverse_mode_only,
                name=name,
            )
            z = dense(h)
            z = self.perturb(f"{name}_preactivation", z)
            h = z if name == "readout" else act(z)
        return h[..., 0]


def build_model(spec: dict, width: int, dtype=jnp.float32) -> MLP:
    """The MLP described by the config's `model` block at the given width."""
    return MLP(
        width=width,
        depth=spec["depth"],
        activation=spec["activation"],
        bias_std=spec["bias_std"],
        use_bias=spec["use_bias"],
        dtype=dtype,
    )


def apply_function(model: nn.Module) -> Callable:
    """f(params, x) = model.apply({"params": params}, x), one function per model (equal models,
    equal configurations, share it): as a static argument of a compiled program (the training
    sweep's) it lets a second call for the same model reuse the program instead of recompiling.
    A module that cannot be hashed (an attribute such as a list) gets a function of its own."""
    try:
        return _shared_apply_function(model)
    except TypeError:  # Flax: "Failed to hash Flax Module"
        return _apply_function(model)


def training_apply_function(model: MLP) -> Callable:
    """`apply_function` of `model` with the written-out pullback of `dense_product` in every
    layer, for code that only pulls back (training steps, kappa_a(n), the simulations): the same
    values and gradients, faster single runs on a CPU; `jax.jvp` of it raises."""
    return apply_function(model.clone(reverse_mode_only=True))


def _apply_function(model: nn.Module) -> Callable:
    """f(params, x) = model.apply({"params": params}, x)."""
    return lambda params, x: model.apply({"params": params}, x)


_shared_apply_function = cache(_apply_function)


def init_params(model: nn.Module, seeds, x) -> dict:
    """Parameters for each seed, stacked along a leading run axis (vmap over PRNG keys)."""
    return _stacked_init(model, jnp.asarray(seeds, dtype=jnp.uint32), x[:1])


# LLVM at -O1 for this run-once program: its compile (the threefry and erf_inv fusions of every
# initialiser) takes half the time at the default level, with bit-identical parameters
# (tests/test_training.py::test_init_program_matches_the_default_compilation).
INIT_COMPILER_OPTIONS = {"xla_backend_optimization_level": 1}


@partial(jax.jit, static_argnums=0, compiler_options=INIT_COMPILER_OPTIONS)
def _stacked_init(model: nn.Module, seeds, x) -> dict:
    """`init_params` as one compiled program (run eagerly, every primitive of the initialisers
    and of the forward pass that shapes them compiled on its own: about 3 s per job)."""
    keys = jax.vmap(jax.random.key)(seeds)
    return jax.vmap(lambda k: model.init(k, x))(keys)["params"]
