"""The presets: complete configurations that run in a fresh directory through the README's
command line, equal to themselves when merged over config.yaml, and the disk estimate."""

import copy
import subprocess
import sys
from pathlib import Path

import jax
import pytest
import xarray as xr
import yaml
from snakemake.utils import update_config, validate

from nncosmo.config import check_config, disk_estimate, jobs, n_params, training_file_bytes
from nncosmo.models import build_model

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
PRESETS = ["tiny", "workstation", "paper"]


def preset_path(name: str) -> Path:
    return ROOT / "workflow" / "presets" / f"{name}.yaml"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text())


def with_defaults(config: dict) -> dict:
    """A copy of `config`, validated against the schema, which fills in its defaults."""
    config = copy.deepcopy(config)
    validate(config, str(SCHEMA))
    return config


def readme_command(
    preset: str, workdir: Path, *args: str, after: tuple[Path, ...] = ()
) -> subprocess.CompletedProcess:
    """`snakemake -s <repo>/Snakefile -d <workdir> --configfile <preset> [<after>...] --cores 2
    ...`, run from `workdir` (README "Presets"); `after`: config files passed after the preset."""
    configfiles = [str(preset_path(preset)), *map(str, after)]
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]
    command += ["-d", str(workdir), "--configfile", *configfiles, "--cores", "2"]
    proc = subprocess.run([*command, *args], cwd=workdir, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(command)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_is_a_complete_valid_config(preset):
    config = load(preset_path(preset))
    assert set(config) == set(load(SCHEMA)["properties"])
    check_config(with_defaults(config))


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_merged_over_config_yaml_is_the_preset(preset):
    """What `snakemake --configfile <preset>` gives from the repository root."""
    merged = load(ROOT / "config.yaml")
    update_config(merged, load(preset_path(preset)))
    assert with_defaults(merged) == with_defaults(load(preset_path(preset)))


def stats(stdout: str) -> dict[str, int]:
    """Rule name -> job count from the job stats table of a dry run."""
    rows = (line.split() for line in stdout.splitlines())
    return {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()}


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_dry_run_in_a_fresh_directory(preset, tmp_path):
    proc = readme_command(preset, tmp_path, "-n")
    expected = len(jobs(with_defaults(load(preset_path(preset)))))
    assert stats(proc.stdout)["train"] == expected
    assert stats(proc.stdout)["ntk"] == expected
    disk_line = "of training files (results/train)" in proc.stderr
    assert disk_line == (preset != "tiny"), proc.stderr


def test_scaled_paper_copy_runs_after_the_paper_preset(tmp_path):
    """benchmarks/slurm_paper_scaled.yaml passed after the paper preset (README "Run on a SLURM
    cluster", here without the profile): a valid config whose dry run plans its jobs."""
    scaled = ROOT / "benchmarks" / "slurm_paper_scaled.yaml"
    config = load(preset_path("paper"))
    update_config(config, load(scaled))
    expected = len(jobs(with_defaults(config)))
    proc = readme_command("paper", tmp_path, "-n", after=(scaled,))
    assert stats(proc.stdout)["train"] == expected


@pytest.mark.parametrize(
    "model",
    [
        {"depth": 1, "use_bias": True},
        {"depth": 3, "use_bias": True},
        {"depth": 2, "use_bias": False},
    ],
)
def test_n_params_counts_the_flax_model(model):
    spec = {"activation": "erf", "bias_std": 1.0, **model}
    variables = build_model(spec, width=6).init(jax.random.key(0), jax.numpy.ones((1, 5)))
    leaves = jax.tree.leaves(variables["params"])
    assert n_params(spec, features=5, width=6) == sum(leaf.size for leaf in leaves)


def test_disk_estimate_matches_tiny_training_files(tmp_path):
    """The training files the README command writes for the tiny preset: array bytes exactly as
    estimated, file sizes above them by HDF5 metadata only."""
    config = with_defaults(load(preset_path("tiny")))
    targets = [f"results/train/{d}/{job}.nc" for d, job in jobs(config)]
    readme_command("tiny", tmp_path, *targets)
    total = 0
    for (dataset, job), target in zip(jobs(config), targets, strict=True):
        with xr.open_dataset(tmp_path / target, engine="netcdf4") as ds:
            assert ds.nbytes == training_file_bytes(config, dataset, job), target
        overhead = (tmp_path / target).stat().st_size - ds.nbytes
        assert 0 < overhead < 64 * 1024, (target, overhead)
        total += ds.nbytes
    assert disk_estimate(config) == total
