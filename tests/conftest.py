"""Shared test set-up: float64 available (models keep explicit dtypes), small fixtures, and a
`scontrol` stub for the local snakemake runs."""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import jax
import numpy as np
import pytest

jax.config.update("jax_enable_x64", True)

# Every snakemake start imports the SLURM executor plugin (the `slurm` extra), which runs
# `scontrol show config` at import; where SLURM is installed but its controller is down (here
# after tests/test_slurm.py stops its cluster) scontrol retries for MessageTimeout - 1 = 9 s,
# on every one of the suite's snakemake commands. Local runs never need it: the tests' processes
# find a stub first on PATH that fails at once; tests/test_slurm.py takes it off PATH.
SCONTROL_STUB = Path(tempfile.mkdtemp(prefix="nncosmo-scontrol-stub-"))
(SCONTROL_STUB / "scontrol").write_text("#!/bin/sh\nexit 1\n")
(SCONTROL_STUB / "scontrol").chmod(0o755)
atexit.register(shutil.rmtree, SCONTROL_STUB, ignore_errors=True)
os.environ["PATH"] = f"{SCONTROL_STUB}{os.pathsep}{os.environ['PATH']}"


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
