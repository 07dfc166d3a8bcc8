"""Config validation: bad values stop the run before any job, naming key, value and rule."""

import copy
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import update_config, validate

from nncosmo.config import ConfigError, check_config, job_runs, job_width, jobs, runs_for

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")


@pytest.fixture
def config():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


@pytest.mark.parametrize(
    "preset", sorted((ROOT / "workflow" / "presets").glob("*.yaml")), ids=lambda p: p.stem
)
def test_default_and_presets_are_valid(config, preset):
    """Presets are merged over config.yaml, as `--configfile` does."""
    validate(copy.deepcopy(config), SCHEMA)
    check_config(config)
    update_config(config, yaml.safe_load(preset.read_text()))
    validate(config, SCHEMA)
    check_config(config)


def set_key(config, dotted, value):
    node = config
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    return config


@pytest.mark.parametrize(
    "key,value",
    [
        ("sweeps.grid.eta", [0.1, -0.5]),
        ("sweeps.grid.eta", [0.0]),
        ("sweeps.grid.beta", [1.0]),
        ("sweeps.grid.beta", [-0.1]),
        ("sweeps.grid.widths", [0]),
        ("model.depth", 0),
        ("model.activation", "gelu"),
        ("datasets.teacher.kind", "mnist"),
        ("training.steps", 1),
        ("sweeps.grid.eta", []),
        ("training.steps", "400"),
        ("model.unknown_key", 3),
    ],
)
def test_schema_rejects_bad_values_naming_the_key(config, key, value):
    bad = set_key(copy.deepcopy(config), key, value)
    with pytest.raises(WorkflowError) as err:
        validate(bad, SCHEMA)
    message = str(err.value)
    assert key.split(".")[-1] in message or repr(value) in message or str(value) in message


@pytest.mark.parametrize(
    "key,value,fragment",
    [
        ("training.checkpoints", [0, 500], "training.checkpoints"),
        ("training.checkpoints", [10, 20], "must include step 0"),
        ("sweeps.grid.datasets", ["cifar"], "sweeps.grid.datasets"),
        ("figures.dataset", "cifar", "figures.dataset"),
        ("figures.grid_sweep", "nope", "figures.grid_sweep"),
        ("figures.reference", {"eta": 9.0, "beta": 0.9}, "figures.reference"),
        ("ntk.modes", 1000, "ntk.modes"),
    ],
)
def test_cross_checks_name_key_and_value(config, key, value, fragment):
    bad = set_key(copy.deepcopy(config), key, value)
    with pytest.raises(ConfigError, match=fragment) as err:
        check_config(bad)
    shown = [value, *value] if isinstance(value, list) else [value]
    assert any(repr(v) in str(err.value) for v in shown)


def test_sweeps_union_without_duplicates(config):
    runs = runs_for(config, "teacher", 1024)
    keys = [(r["eta"], r["beta"], r["seed"]) for r in runs]
    assert len(keys) == len(set(keys))
    grid = config["sweeps"]["grid"]
    assert len(runs) < len(grid["eta"]) * len(grid["beta"]) + 8  # union, not a product of axes
    assert ("digits", "w1024") in jobs(config) and ("teacher", "w128") in jobs(config)


def test_default_split_is_one_job_per_dataset_and_width(config):
    expected = {
        (d, w) for s in config["sweeps"].values() for d in s["datasets"] for w in s["widths"]
    }
    assert sorted((d, job_width(job)) for d, job in jobs(config)) == sorted(expected)


@pytest.mark.parametrize("split_by", [["seed"], ["eta", "seed"], ["eta", "beta", "seed"]])
def test_split_jobs_partition_the_runs(config, split_by):
    """Each run lands in exactly one job, and each job holds one value of every split axis."""
    config["split_by"] = ["dataset", "width", *split_by]
    check_config(config)
    by_width: dict = {}
    for dataset, job in jobs(config):
        runs = job_runs(config, dataset, job)
        assert runs, job
        for axis in split_by:
            assert len({r[axis] for r in runs}) == 1, (job, axis)
        by_width.setdefault((dataset, job_width(job)), []).extend(runs)
    for (dataset, width), runs in by_width.items():
        key = lambda r: (r["eta"], r["beta"], r["seed"])  # noqa: E731
        assert sorted(runs, key=key) == runs_for(config, dataset, width)
    width_sweep = config["sweeps"]["width"]
    assert sum(d == "digits" for d, _ in jobs(config)) == len(width_sweep["widths"]) * len(
        width_sweep["seeds"]
    )


def test_split_must_keep_dataset_and_width(config):
    config["split_by"] = ["dataset", "seed"]
    with pytest.raises(ConfigError, match="split_by") as err:
        check_config(config)
    assert "width" in str(err.value)


def test_split_by_defaults_and_rejects_unknown_axes(config):
    del config["split_by"]
    validate(config, SCHEMA)
    assert config["split_by"] == ["dataset", "width"]
    config["split_by"] = ["dataset", "width", "depth"]
    with pytest.raises(WorkflowError, match="depth"):
        validate(config, SCHEMA)
