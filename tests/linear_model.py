"""A float64 model linear in its parameters, whose NTK is known in closed form: the reference
model of the training and schedule tests (recursion (D) and its scheduled form)."""

import flax.linen as nn
import jax.numpy as jnp


class LinearModel(nn.Module):
    """f(x) = x . w / sqrt(d) + b: linear in its parameters, NTK = x x^T / d + 1."""

    @nn.compact
    def __call__(self, x):
        d = x.shape[-1]
        w = self.param("w", nn.initializers.normal(1.0), (d,), jnp.float64)
        b = self.param("b", nn.initializers.normal(1.0), (), jnp.float64)
        return x @ w / jnp.sqrt(d) + b
