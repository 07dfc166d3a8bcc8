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


@pytest.fixture(scope="session")
def finished_split_tiny_run(tmp_path_factory):
    """A user's directory after the README command ran the tiny preset with one training job per
    (dataset, width, seed); shared by the split-run and SLURM tests, never modified."""
    import yaml
    from userdir import copy_workflow, run_readme_command

    workdir = copy_workflow(tmp_path_factory.mktemp("finished_split") / "user")
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["split_by"] = ["dataset", "width", "seed"]
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    run_readme_command(workdir)
    return workdir
