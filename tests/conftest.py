"""Shared test set-up: float64 available (models keep explicit dtypes), small fixtures."""

import jax
import numpy as np
import pytest

jax.config.update("jax_enable_x64", True)


@pytest.fixture
def rng():
    """A seeded numpy generator, fresh for each test."""
    return np.random.default_rng(20220224)


@pytest.fixture(scope="session")
def finished_tiny_run(tmp_path_factory):
    """A user's directory after one uninterrupted run of the README command (tiny preset).

    Tests copy it (shutil.copytree keeps mtimes, so MANIFEST stays true) and never modify it.
    """
    from userdir import copy_workflow, run_readme_command

    workdir = copy_workflow(tmp_path_factory.mktemp("finished") / "user")
    run_readme_command(workdir)
    return workdir
