"""Shared test set-up: float64 available (models keep explicit dtypes), small fixtures."""

import jax
import numpy as np
import pytest

jax.config.update("jax_enable_x64", True)


@pytest.fixture
def rng():
    """A seeded numpy generator, fresh for each test."""
    return np.random.default_rng(20220224)
