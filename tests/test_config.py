"""Config validation: bad values stop the run before any job, naming key, value and rule."""

import copy
import functools
import itertools
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from snakemake.utils import update_config
from userdir import dry_run

from nncosmo import config as config_module
from nncosmo import theory
from nncosmo.config import (
    INVALID,
    ConfigError,
    built_figures,
    canonical,
    check_config,
    check_cosmologies,
    disk_note,
    figure_jobs,
    job_priorities,
    job_runs,
    job_width,
    jobs,
    lowest_hubble,
    run_key,
    run_label,
    runs_for,
    sweep_runs,
    training_file_bytes,
    validate_config,
    widths_for,
)

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")
BETA_ZERO_REASON = "plain gradient descent) has no de Sitter image"


@pytest.fixture
def config():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


PRESETS = sorted((ROOT / "workflow" / "presets").glob("*.yaml"))


def test_the_presets_are_the_three_the_readme_names():
    """README: `workflow/presets/` holds three presets besides config.yaml. Without this, a
    moved or renamed folder would leave the parametrisation below empty: pytest then reports
    one skip, not a failure, and no preset is checked."""
    assert [p.stem for p in PRESETS] == ["paper", "tiny", "workstation"]


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_default_and_presets_are_valid(config, preset):
    """Presets are merged over config.yaml, as `--configfile` does."""
    validate_config(copy.deepcopy(config), SCHEMA)
    check_config(config)
    update_config(config, yaml.safe_load(preset.read_text()))
    validate_config(config, SCHEMA)
    check_config(config)


def listed(err) -> list[str]:
    """The lines a ConfigError lists under its header (config.INVALID)."""
    header, *lines = str(err.value).splitlines()
    assert header == INVALID
    return [line.removeprefix("  ") for line in lines]


def only_line(err) -> str:
    """The one key a ConfigError lists."""
    (line,) = listed(err)
    return line


def test_every_cross_field_error_is_listed_at_once(config):
    """Two independent cross-field errors (a checkpoint beyond the steps, a grid of one eta) are
    listed together under the header, each naming its key, so that one run shows both."""
    config["training"]["checkpoints"] = [0, 25, 500]
    config["sweeps"]["grid"]["eta"] = [0.1]
    with pytest.raises(ConfigError) as err:
        check_config(config)
    keys = [line.split("'")[1] for line in listed(err)]
    assert keys == ["training.checkpoints", "sweeps.grid.eta"]


def set_key(config, dotted, value):
    node = config
    *parents, last = dotted.split(".")
    for key in parents:
        node = node[key]
    node[last] = value
    return config


@pytest.mark.parametrize(
    "key,value,shown",
    [
        ("sweeps.grid.eta", [0.1, -0.5], "'sweeps.grid.eta[1]' = -0.5 is invalid: must be > 0"),
        ("sweeps.grid.eta", [0.0], "'sweeps.grid.eta[0]' = 0.0 is invalid: must be > 0"),
        ("sweeps.grid.beta", [1.0], "'sweeps.grid.beta[0]' = 1.0 is invalid: must be > 0 and < 1"),
        ("sweeps.grid.beta", [-0.1], "'sweeps.grid.beta[0]' = -0.1 is invalid: must be > 0 and"),
        ("sweeps.grid.widths", [0], "'sweeps.grid.widths[0]' = 0 is invalid: must be >= 1"),
        ("datasets.digits.n_samples", 1, "'datasets.digits.n_samples' = 1 is invalid: must be >="),
        ("model.depth", 0, "'model.depth' = 0 is invalid: must be >= 1"),
        ("model.activation", "gelu", "= 'gelu' is invalid: must be one of 'relu', 'erf', 'tanh'"),
        ("datasets.teacher.kind", "mnist", "must be one of 'teacher', 'digits'"),
        ("training.steps", 1, "'training.steps' = 1 is invalid: must be >= 2"),
        ("sweeps.grid.eta", [], "'sweeps.grid.eta' = [] is invalid: must have at least 1 item(s)"),
        ("training.steps", "400", "'training.steps' = '400' is invalid: must be of type integer"),
        ("training.steps", 400.0, "'training.steps' = 400.0 is invalid: must be of type integer"),
        ("sweeps.grid.widths", [1024.0], "'sweeps.grid.widths[0]' = 1024.0 is invalid: must be of"),
        ("ntk.modes", 8.0, "'ntk.modes' = 8.0 is invalid: must be of type integer"),
        ("training.chunk_runs", -1, "must be >= 0 (0 vmaps all runs of a job at once"),
        ("figures.jobs", 0, "'figures.jobs' = 0 is invalid: must be >= 1 and <= 8 (how many jobs"),
        (
            "cosmologies.targets.misalignment.phi0",
            0,
            "'cosmologies.targets.misalignment.phi0' = 0 is invalid: must not be 0 (field at t0",
        ),
        ("training.steps", True, "'training.steps' = True is invalid: must be of type integer"),
        (
            "sweeps.grid.eta",
            [0.1, 0.1],
            "'sweeps.grid.eta' = [0.1, 0.1] is invalid: must not repeat",
        ),
        ("datasets", {}, "'datasets' = {} is invalid: must have at least 1 entry(ies)"),
        (
            "datasets.digits.classes",
            [3, 10],
            "'datasets.digits.classes[1]' = 10 is invalid: must be >= 0 and <= 9",
        ),
        (
            "datasets.digits.classes",
            [3, 8, 1],
            "= [3, 8, 1] is invalid: must have at most 2 item(s)",
        ),
        (
            "training.checkpoints",
            [-1, 0],
            "'training.checkpoints[0]' = -1 is invalid: must be >= 0",
        ),
        ("model.unknown_key", 3, "unknown config key 'model.unknown_key' (allowed: activation,"),
        (
            "sweps",
            {},
            "unknown config key 'sweps' (allowed: claims, cosmologies, cosmology, datasets,",
        ),
    ],
)
def test_schema_errors_are_one_line_naming_key_value_and_rule(config, key, value, shown):
    bad = set_key(copy.deepcopy(config), key, value)
    with pytest.raises(ConfigError) as err:
        validate_config(bad, SCHEMA)
    message = str(err.value)
    assert shown in message
    assert len(message.splitlines()) == 2, message  # a header and one line for the one error


def test_an_item_error_carries_its_lists_description(config):
    """eta[1] has no schema of its own with a description: the message takes the list's."""
    bad = set_key(copy.deepcopy(config), "sweeps.grid.eta", [0.1, -0.5])
    with pytest.raises(ConfigError) as err:
        validate_config(bad, SCHEMA)
    assert "must be > 0 (learning rates eta (with a power_law schedule's hubble_step" in str(
        err.value
    )


@pytest.mark.parametrize(
    "key,value,hinted",
    [
        ("training.steps", "400", True),
        ("training.steps", "true", True),
        ("training.steps", "four", False),
        ("model.activation", "1", False),  # text is right there: not one of the names
        ("figures.reference.eta", "0.1", True),  # a float as text
    ],
)
def test_a_number_given_as_text_is_explained(config, key, value, hinted):
    """Snakemake keeps nested `--config` values as strings; a string where the schema wants a
    number says so and how to give the number instead, and only when the text is a number and
    the schema wanted another type."""
    bad = set_key(copy.deepcopy(config), key, value)
    with pytest.raises(ConfigError) as err:
        validate_config(bad, SCHEMA)
    (line,) = str(err.value).splitlines()[1:]
    assert line.startswith(f"  config key '{key}' = {value!r} is invalid")
    assert ("it is text" in line) == hinted
    assert ("passed with --configfile" in line) == hinted


@pytest.mark.parametrize("name", ["teacher/v2", "my data", "2teacher"])
@pytest.mark.parametrize("section", ["datasets", "cosmologies.targets"])
def test_a_name_that_cannot_be_a_file_name_stops_at_startup(config, section, name):
    """Data set and target names become result paths: a '/' would nest a folder the figures and
    claims cannot key, a space would break MANIFEST's columns."""
    mapping = functools.reduce(dict.get, section.split("."), config)
    mapping[name] = copy.deepcopy(next(iter(mapping.values())))
    with pytest.raises(ConfigError) as err:
        validate_config(config, SCHEMA)
    (line,) = str(err.value).splitlines()[1:]
    assert line.startswith(f"  config key '{section}' = {name!r} is invalid: must satisfy pattern")


def test_schema_lists_every_error_and_missing_keys(config):
    """In key order, not in the schema's order (sweeps before split_by before ntk)."""
    bad = set_key(copy.deepcopy(config), "model.depth", 0)
    del bad["ntk"]["modes"]
    set_key(bad, "sweeps.grid.widths", [0])
    set_key(bad, "split_by", ["dataset", "width", "depth"])
    with pytest.raises(ConfigError) as err:
        validate_config(bad, SCHEMA)
    lines = str(err.value).splitlines()[1:]
    assert [line.split(" is ")[0] for line in lines] == [
        "  config key 'model.depth' = 0",
        "  config key 'ntk.modes'",
        "  config key 'split_by[2]' = 'depth'",
        "  config key 'sweeps.grid.widths[0]' = 0",
    ]
    assert lines[:2] == [
        "  config key 'model.depth' = 0 is invalid: must be >= 1",
        "  config key 'ntk.modes' is missing (it is required)",
    ]


@pytest.mark.parametrize(
    "key,value", [("sweeps.grid.beta", [0.0, 0.5]), ("figures.reference.beta", 0)]
)
def test_beta_zero_is_rejected_with_the_reason(config, key, value):
    """Plain gradient descent has no de Sitter image (exact friction -ln(beta)/sqrt(eta) = inf)."""
    bad = set_key(copy.deepcopy(config), key, value)
    with pytest.raises(ConfigError) as err:
        validate_config(bad, SCHEMA)
    assert f"config key '{key}" in str(err.value) and "must be > 0 and < 1" in str(err.value)
    assert BETA_ZERO_REASON in str(err.value)


@pytest.mark.parametrize(
    "key,value,fragment",
    [
        ("training.checkpoints", [0, 500], "training.checkpoints"),
        ("training.checkpoints", [10, 20], "must include step 0"),
        ("training.checkpoints", [0], "must include a step after 0"),
        ("training.checkpoints", [0, 0], "must include a step after 0"),
        ("sweeps.grid.datasets", ["cifar"], "sweeps.grid.datasets"),
        ("sweeps.grid.datasets", ["teacher", "cifar"], "sweeps.grid.datasets"),
        ("figures.dataset", "cifar", "figures.dataset"),
        ("figures.grid_sweep", "nope", "figures.grid_sweep"),
        ("figures.reference", {"eta": 9.0, "beta": 0.9}, "figures.reference"),
        ("figures.reference", {"eta": 0.1, "beta": 0.6}, "figures.reference"),  # eta of the grid
        ("ntk.modes", 1000, "ntk.modes"),
        ("training.kappa_modes", 1000, "training.kappa_modes"),
        ("figures.histories", ["nope"], "figures.histories"),
        ("sweeps.history_nesterov.eta", [0.01, 0.02], "one run per history"),
        ("sweeps.history_de_sitter.widths", [512, 1024], "F7 needs one width"),
        ("duality.hubble_window", 399, "duality.hubble_window"),
    ],
)
def test_cross_checks_name_key_and_value(config, key, value, fragment):
    bad = set_key(copy.deepcopy(config), key, value)
    with pytest.raises(ConfigError, match=fragment) as err:
        check_config(bad)
    shown = [value, *value] if isinstance(value, list) else [value]
    assert any(repr(v) in str(err.value) for v in shown)


@pytest.mark.parametrize(
    "stride,dense,measured",
    [(400, 0, [0, 400]), (401, 2, [0, 1]), (401, 1, [0]), (401, 0, [0]), (0, 0, [])],
)
def test_kappa_measured_at_one_step_alone_stops_at_startup(config, stride, dense, measured):
    """kappa_a(n) is interpolated between its measured steps (steps n < kappa_dense_steps and
    the multiples of kappa_stride up to training.steps = 400, here counted by hand): two or
    none are fine; step 0 alone stops the run, naming the key and the bound."""
    config["training"].update(kappa_stride=stride, kappa_dense_steps=dense)
    if len(measured) == 1:
        with pytest.raises(ConfigError) as err:
            check_config(config)
        assert only_line(err).startswith(
            f"config key 'training.kappa_stride' = {stride} is invalid: must be <= "
            "training.steps=400 (or 0 = off) unless kappa_dense_steps >= 2"
        )
    else:
        check_config(config)


def test_digits_asking_for_more_images_than_its_classes_have_stops_at_startup(config):
    """Classes 3 and 8 of scikit-learn's digits have 183 + 174 = 357 images: 357 is allowed,
    358 stops the run before any job starts (not in the data job), naming key and limit."""
    config["datasets"]["digits"].update(classes=[3, 8], n_samples=357)
    check_config(config)
    config["datasets"]["digits"]["n_samples"] = 358
    with pytest.raises(ConfigError) as err:
        check_config(config)
    assert only_line(err) == (
        "config key 'datasets.digits.n_samples' = 358 is invalid: must be <= 357, "
        "the images of classes [3, 8]"
    )


@pytest.mark.parametrize(
    "schedule,beta,shown",
    [
        ({"kind": "power_law", "p": 0.5, "tau0": 2.0}, [], None),
        ({"kind": "nesterov"}, [], None),
        ({"kind": "power_law", "p": 0.5, "tau0": 2.0}, [0.9], "have at most 0 item(s)"),
        ({"kind": "constant"}, [], "have at least 1 item(s) (a constant schedule trains"),
        ({"kind": "friedmann", "planck_mass": 1.0}, [], "have at least 1 item(s)"),
    ],
)
def test_an_empty_beta_means_none_for_schedules_that_set_their_own(config, schedule, beta, shown):
    """`beta: []` is how a --configfile overlay turns a sweep with beta into a power_law or
    nesterov one (Snakemake merges dicts, so it cannot delete the key); the schedules that use
    beta (constant, friedmann) need at least one, and the message says only that."""
    config["sweeps"]["history_de_sitter"].update(schedule=schedule, beta=beta)
    if shown is None:
        validate_config(config, SCHEMA)
        runs = sweep_runs(config["sweeps"]["history_de_sitter"])
        assert [r["beta"] for r in runs] == [None]
        return
    with pytest.raises(ConfigError) as err:
        validate_config(config, SCHEMA)
    (line,) = str(err.value).splitlines()[1:]
    assert line.startswith("  config key 'sweeps.history_de_sitter.beta' = ")
    assert shown in line


def test_ntk_modes_may_reach_the_smallest_n_samples(config):
    """K modes need K samples of the smallest data set (here digits: 6), not of the largest."""
    config["datasets"]["digits"]["n_samples"] = 6
    config["ntk"]["modes"] = 6
    check_config(config)
    config["ntk"]["modes"] = 7
    with pytest.raises(ConfigError, match="'ntk.modes' = 7 is invalid: must not exceed"):
        check_config(config)


@pytest.mark.parametrize(
    "sweep,schedule,shown",
    [
        ("edge", {"kind": "power_law", "tau0": 1.0}, "'sweeps.edge.schedule.p' = None"),
        ("edge", {"kind": "power_law", "p": 0.5, "tau0": 0.0}, "'sweeps.edge.schedule.tau0' = 0.0"),
        ("grid", {"kind": "nesterov"}, "'sweeps.grid.schedule.kind' = 'nesterov'"),
    ],
)
def test_schedules_the_schema_cannot_check_are_rejected(config, sweep, schedule, shown):
    """Without the schema (bypassed) a power law needs p > 0 and tau0 > 0; and the figure
    sweeps of F1-F6, compared with de Sitter, keep the constant schedule."""
    config["sweeps"][sweep]["schedule"] = schedule
    with pytest.raises(ConfigError, match=shown):
        check_config(config)


def test_figures_dataset_in_no_sweep_is_blamed_on_figures_dataset(config):
    config["datasets"]["extra"] = config["datasets"]["teacher"]
    config["figures"]["dataset"] = "extra"
    with pytest.raises(ConfigError) as err:
        check_config(config)
    # only the key to fix: the F7 history sweeps, which do not train it either, are not blamed
    assert only_line(err) == (
        "config key 'figures.dataset' = 'extra' is invalid: "
        "no sweep trains it; name one of ['digits', 'teacher']"
    )


def test_figure_sweep_must_train_figures_dataset(config):
    config["figures"]["dataset"] = "digits"  # trained by the width sweep only
    with pytest.raises(ConfigError, match="'figures.grid_sweep' = 'grid'") as err:
        check_config(config)
    assert "trains figures.dataset='digits': one of ['width']" in str(err.value)


@pytest.mark.parametrize(
    "key,value,shown",
    [
        ("sweeps.width.widths", [1024], "figures.width_sweep needs at least 2 widths (F2 and F5"),
        ("sweeps.grid.eta", [0.1], "figures.grid_sweep needs at least 2 eta values (F3"),
    ],
)
def test_figure_sweeps_too_small_for_a_trend_are_rejected(config, key, value, shown):
    bad = set_key(copy.deepcopy(config), key, value)
    with pytest.raises(ConfigError) as err:
        check_config(bad)
    assert only_line(err).startswith(f"config key '{key}' = {value!r} is invalid: {shown}")


def test_unknown_key_shows_a_short_message_through_snakemake(tmp_path, config):
    config["model"]["dropout"] = 0.1
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = dry_run(tmp_path)
    shown = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert (
        "unknown config key 'model.dropout' (allowed: activation, bias_std, depth, use_bias)"
        in (shown)
    )
    assert len(shown.splitlines()) < 10, shown  # no schema dump
    assert "Job stats" not in shown


@pytest.mark.parametrize(
    "target",
    ["results/train/teacher/w64_seed3.nc", "results/simulate/de_siter.nc", "results/data/cifar.nc"],
    ids=["unplanned job", "misspelt target", "unknown data set"],
)
def test_a_file_the_config_does_not_plan_has_no_rule(tmp_path, config, target):
    """Wildcards match only the config's data sets, jobs and targets: asking for anything else
    is Snakemake's "no rule", not a KeyError in a params function or a job without runs."""
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = dry_run(tmp_path, target)
    assert proc.returncode != 0 and "MissingRuleException" in proc.stdout + proc.stderr
    assert "KeyError" not in proc.stdout + proc.stderr


def test_run_labels_name_eta_beta_seed_and_a_schedule_other_than_constant():
    constant = {"eta": 0.1, "beta": 0.9, "seed": 3, "schedule": {"kind": "constant"}}
    assert run_label(constant) == "eta=0.1 beta=0.9 seed=3"
    power = {"p": 0.5, "tau0": 2.0, "hubble_step": 0.0}
    era = {"eta": 0.01, "beta": None, "seed": 0, "schedule": {"kind": "power_law", **power}}
    assert run_label(era) == "eta=0.01 seed=0 schedule=(power_law p=0.5 tau0=2 hubble_step=0)"


@pytest.mark.parametrize("p", [2 / 3, 0.1 + 0.2, 0.5000001, 0.5000002, 1e-7, 0.5])
def test_a_schedule_label_reads_back_every_parameter_exactly(p):
    """The cosmology stage integrates the continuum history with the parameters it reads back
    from the run coordinate `schedule`, and runs are told apart by it: no rounding."""
    spec = {"kind": "power_law", "p": p, "tau0": 2.0 + p, "hubble_step": 0.0}
    assert theory.parse_schedule_label(theory.schedule_label(spec)) == spec
    near = {**spec, "p": np.nextafter(p, 1.0)}
    assert theory.schedule_label(near) != theory.schedule_label(spec)


def test_figures_of_an_earlier_build_are_named_and_kept(tmp_path, config):
    """A figure file that figures.build no longer names and a simulation F8 no longer reads (left
    by an earlier run) are reported at startup, with the figure, and never deleted; the built
    figures' files are not reported."""
    config["figures"]["build"] = ["F1", "F2"]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    figures = tmp_path / "results" / "figures"
    figures.mkdir(parents=True)
    for name in ("F8_reverse.png", "F1_background.png"):
        (figures / name).write_bytes(b"earlier")
    (tmp_path / "results" / "simulate").mkdir()
    (tmp_path / "results" / "simulate" / "de_sitter.nc").write_bytes(b"earlier")
    proc = dry_run(tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert (
        "nncosmo: files of F8 from an earlier build (figures.build or cosmologies.targets does not "
        "name them now; this run neither updates them nor lists them in MANIFEST): "
        "results/figures/F8_reverse.png, results/simulate/de_sitter.nc\n"
    ) in proc.stderr
    assert "F1_background.png" not in proc.stderr
    assert (figures / "F8_reverse.png").read_bytes() == b"earlier"


def test_malformed_config_yaml_names_file_line_and_column(tmp_path):
    lines = (ROOT / "config.yaml").read_text().splitlines()
    opened = next(i for i, line in enumerate(lines) if line.startswith("  depth: "))
    lines[opened] = "  depth: [2"  # an unclosed list: the parser fails on the next line
    (tmp_path / "config.yaml").write_text("\n".join(lines))
    proc = dry_run(tmp_path)
    shown = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert f"config.yaml is not valid YAML: line {opened + 2}, column " in shown
    assert f"(while parsing a flow sequence at line {opened + 1}, column 10)" in shown


def test_malformed_overlay_location_is_shown_with_verbose(tmp_path):
    """Snakemake parses --configfile overlays before the Snakefile runs, so its own message names
    no file; the README's advice (rerun with --verbose) shows the parser's file and line."""
    (tmp_path / "config.yaml").write_text((ROOT / "config.yaml").read_text())
    (tmp_path / "overlay.yaml").write_text("model:\n  depth: [3\n")
    proc = dry_run(tmp_path, "--configfile", "overlay.yaml", "--verbose")
    assert proc.returncode != 0
    assert 'in "overlay.yaml", line 2, column 10' in proc.stdout + proc.stderr


def test_sweeps_union_without_duplicates(config):
    runs = runs_for(config, "teacher", 1024)
    assert len(runs) == len({run_key(r) for r in runs})
    keys = {(r["eta"], r["beta"], r["seed"], r["schedule"]["kind"]) for r in runs}
    expected = {
        (e, b, seed, sweep.get("schedule", {"kind": "constant"})["kind"])
        for sweep in config["sweeps"].values()
        if "teacher" in sweep["datasets"] and 1024 in sweep["widths"]
        for e, b, seed in itertools.product(sweep["eta"], sweep.get("beta", [None]), sweep["seeds"])
    }
    assert keys == expected  # the union of the sweeps' runs, shared runs once
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
        assert sorted(runs, key=run_key) == runs_for(config, dataset, width)
    width_sweep = config["sweeps"]["width"]
    assert sum(d == "digits" for d, _ in jobs(config)) == len(width_sweep["widths"]) * len(
        width_sweep["seeds"]
    )


@pytest.mark.parametrize(
    ("split_by", "missing"), [(["dataset", "seed"], "width"), (["width"], "dataset")]
)
def test_split_must_keep_dataset_and_width(config, split_by, missing):
    config["split_by"] = split_by
    with pytest.raises(ConfigError, match="split_by") as err:
        check_config(config)
    assert f"must include ['{missing}']" in str(err.value)


def test_split_by_defaults_and_rejects_unknown_axes(config):
    del config["split_by"]
    validate_config(config, SCHEMA)
    assert config["split_by"] == ["dataset", "width"]
    config["split_by"] = ["dataset", "width", "depth"]
    with pytest.raises(ConfigError, match=r"'split_by\[2\]' = 'depth' is invalid: must be one of"):
        validate_config(config, SCHEMA)


@pytest.mark.parametrize(("dense", "added"), [(25, 24), (10, 9)])
def test_training_file_bytes_count_the_dense_kappa_steps(config, dense, added):
    """Default: steps 400, kappa_stride 25, kappa_dense_steps 25, one float32 mode; the dense
    window adds steps 1..24 (24 kappa values per run, 24 coordinate values); a window of 10
    adds steps 1..9 (step 10 is not on the stride: n < kappa_dense_steps, not <=)."""
    config["training"]["kappa_dense_steps"] = dense
    sparse = copy.deepcopy(config)
    sparse["training"]["kappa_dense_steps"] = 0
    runs = len(job_runs(config, "teacher", "w1024"))
    extra = training_file_bytes(config, "teacher", "w1024")
    extra -= training_file_bytes(sparse, "teacher", "w1024")
    assert (config["training"]["kappa_stride"], config["training"]["kappa_modes"]) == (25, 1)
    assert extra == runs * 4 * added + 8 * added


# The README's command for F1-F6 alone ("Runtime of the default preset"); Snakemake parses the
# --config value as YAML and merges it into config.yaml key by key (update_config).
F1_TO_F6 = "figures={build: [F1, F2, F3, F4, F5, F6]}"


def with_command_line_config(config: dict, assignment: str) -> dict:
    """`config` after `--config <assignment>`, merged as Snakemake merges it."""
    key, value = assignment.split("=", 1)
    update_config(config, {key: yaml.safe_load(value)})
    return config


def test_f1_to_f6_train_no_history_sweep(config):
    histories = config["figures"]["histories"]
    every_run = {(d, job): job_runs(config, d, job) for d, job in jobs(config)}
    built = with_command_line_config(copy.deepcopy(config), F1_TO_F6)
    assert built_figures(built) == ["F1", "F2", "F3", "F4", "F5", "F6"]
    assert built["figures"]["dataset"] == config["figures"]["dataset"]  # merged, not replaced
    history_keys = {run_key(r) for h in histories for r in sweep_runs(config["sweeps"][h])}
    for (d, job), runs in every_run.items():
        kept = job_runs(built, d, job)
        assert {run_key(r) for r in kept} == {run_key(r) for r in runs} - history_keys
        assert all(r["schedule"]["kind"] == "constant" for r in kept)
    assert len(every_run[("teacher", "w1024")]) - len(job_runs(built, "teacher", "w1024")) == 5


def test_f7_alone_trains_only_the_history_sweeps(config):
    config["figures"]["build"] = ["F7"]
    expected = {
        run_key(r) for h in config["figures"]["histories"] for r in sweep_runs(config["sweeps"][h])
    }
    assert jobs(config) == [("teacher", "w1024")]
    assert {run_key(r) for r in job_runs(config, "teacher", "w1024")} == expected
    config["figures"]["build"] = ["F8"]
    assert jobs(config) == []


def test_figures_are_dealt_to_the_rendering_jobs_in_build_order(config):
    assert config["figures"]["jobs"] == 2
    assert figure_jobs(config) == [["F1", "F3", "F5", "F7"], ["F2", "F4", "F6", "F8"]]
    config["figures"]["build"] = ["F6", "F1", "F2"]  # built in FIGURE_IDS order
    assert figure_jobs(config) == [["F1", "F6"], ["F2"]]
    config["figures"]["jobs"] = 8  # never more jobs than figures
    assert figure_jobs(config) == [["F1"], ["F2"], ["F6"]]
    del config["figures"]["jobs"], config["figures"]["build"]  # the schema's defaults: 2, all
    assert [len(part) for part in figure_jobs(config)] == [4, 4]


def test_build_names_only_known_figures(config):
    config["figures"]["build"] = ["F1", "F9"]
    with pytest.raises(ConfigError, match="figures.build"):
        validate_config(config, SCHEMA)


def test_job_priorities_rank_stages_then_the_costliest_chain(config):
    """A duality job's priority is its chain's training forward multiply-adds in units of 10^9
    (runs x (steps + 1) x samples x parameters, counted here by hand for the MLP: d w + w^2 + w
    weights, 2 w + 1 biases); each earlier stage (cosmology, ntk, train with the F8 simulations)
    adds one more band, so every job of a stage ranks above every job of a later one."""
    priorities = job_priorities(config)
    width, runs = 1024, len(job_runs(config, "teacher", "w1024"))
    params = 8 * width + width**2 + width + 2 * width + 1
    assert priorities["duality/teacher/w1024"] == runs * 401 * 64 * params // 10**9
    stages = ("train", "ntk", "cosmology", "duality")
    band = priorities["cosmology/teacher/w1024"] - priorities["duality/teacher/w1024"]
    for d, job in jobs(config):
        ranks = [priorities[f"{stage}/{d}/{job}"] for stage in stages]
        assert ranks == [ranks[-1] + k * band for k in (3, 2, 1, 0)]
    of = lambda stage: [v for k, v in priorities.items() if k.startswith(f"{stage}/")]  # noqa: E731
    assert all(min(of(a)) > max(of(b)) for a, b in itertools.pairwise(stages))
    steps = config["cosmologies"]["targets"]["misalignment"]["steps"]
    params = 8 * 512 + 512**2 + 512 + 2 * 512 + 1
    assert priorities["simulate/misalignment"] == 3 * band + steps * 64 * params // 10**9
    assert max(priorities, key=priorities.get) == "train/teacher/w1024"
    ranked = [priorities[f"ntk/digits/w{w}"] for w in (128, 256, 512, 1024)]
    assert ranked == sorted(ranked) and len(set(ranked)) == 4


def test_chains_below_a_billion_multiply_adds_still_rank_by_stage():
    """The tiny preset's costliest chain has about 2 x 10^6 multiply-adds, 0 in units of 10^9: every
    stage's band is then 1 wide (train and simulate 3, ntk 2, cosmology 1, duality 0), not 0."""
    tiny = yaml.safe_load((ROOT / "workflow" / "presets" / "tiny.yaml").read_text())
    priorities = job_priorities(tiny)
    assert priorities["simulate/misalignment"] == priorities["simulate/de_sitter"] == 3
    for d, job in jobs(tiny):
        ranks = [priorities[f"{stage}/{d}/{job}"] for stage in ("train", "ntk", "cosmology")]
        assert [*ranks, priorities[f"duality/{d}/{job}"]] == [3, 2, 1, 0]


def test_disk_note_only_above_a_gigabyte(monkeypatch, config):
    monkeypatch.setattr("nncosmo.config.disk_estimate", lambda config: 10**9)
    assert disk_note(config) is None
    monkeypatch.setattr("nncosmo.config.disk_estimate", lambda config: 1_500_000_000)
    assert disk_note(config) == (
        "this configuration writes about 1.5 GB of training files (results/train)"
    )


def test_lowest_hubble_of_a_power_law_is_at_the_end_of_the_span():
    """H = p / (t0 + t) falls over the span: its smallest value is p / (t0 + span) =
    0.5 / (2 + 8) = 0.05, not p / t0 = 0.25; de Sitter's is H itself."""
    assert lowest_hubble({"kind": "power_law", "p": 0.5, "t0": 2.0}, 8.0) == pytest.approx(0.05)
    assert lowest_hubble({"kind": "de_sitter", "H": 0.3}, 8.0) == 0.3


@pytest.mark.parametrize(("steps", "rejected"), [(2, True), (3, False)])
def test_a_target_at_the_nyquist_phase_is_rejected(steps, rejected):
    """m = 1, H = 0 over span 2 pi: steps = 2 give dt = pi, omega dt = pi exactly, the Nyquist
    bound (the lattice aliases the mass), rejected naming the steps; steps = 3 give 2 pi / 3."""
    target = {"span": 2 * np.pi, "steps": steps, "mass": 1.0}
    target["background"] = {"kind": "de_sitter", "H": 0.0}
    config = {"datasets": {"toy": {}}}
    config["cosmologies"] = {"network": {"dataset": "toy"}, "targets": {"t": target}}
    if rejected:
        with pytest.raises(ConfigError, match="cosmologies.targets.t.steps") as err:
            check_cosmologies(config)
        assert str(err.value).endswith("use steps >= 3 or a shorter span")  # 2 pi / 3 < pi
    else:
        check_cosmologies(config)


def test_friedmann_lowest_hubble_is_the_vacuum_rate():
    """rho_phi >= 0 only adds to H^2 = (rho_phi + Lambda) / 3: the floor is sqrt(Lambda / 3),
    0.2 for Lambda = 0.12 (config.yaml's de Sitter target, Lambda = 3 H^2)."""
    assert lowest_hubble({"kind": "friedmann", "Lambda": 0.12}, 8.0) == pytest.approx(0.2)


# (key, the last value allowed, the first value beyond it, the rule the message names): the
# schema's bounds, each checked from both sides.
BOUNDS = [
    ("datasets.teacher.seed", 0, -1, "must be >= 0 and <= 4294967295"),
    ("datasets.teacher.seed", 2**32 - 1, 2**32, "must be >= 0 and <= 4294967295"),
    ("datasets.teacher.n_samples", 2, 1, "must be >= 2"),
    ("datasets.teacher.noise", 0.0, -0.1, "must be >= 0"),
    ("model.bias_std", 0.0, -0.1, "must be >= 0"),
    ("training.divergence_factor", 1.5, 1.0, "must be > 1"),
    ("training.kappa_modes", 1, 0, "must be >= 1"),
    ("gpus_per_job", 8, 9, "must be >= 0 and <= 8"),
    ("cosmology.rtol", 1.0e-3, 2.0e-3, "must be > 0 and <= 0.001"),
    ("duality.fit_rel_floor", 0.5, 1.0, "must be > 0 and < 1"),
    ("duality.hubble_window", 4, 3, "must be >= 4"),
    ("figures.dpi", 50, 49, "must be >= 50 and <= 1200"),
    ("figures.dpi", 1200, 1201, "must be >= 50 and <= 1200"),
    ("claims.on_failure", "error", "ignore", "must be one of 'warn', 'error'"),
    ("cosmologies.network.amplitude", 1.0, 1.5, "must be > 0 and <= 1"),
    ("cosmologies.targets.de_sitter.steps", 10, 9, "must be >= 10"),
    ("sweeps.history_radiation.schedule.p", 0.1, 0.0, "must be > 0"),
    ("sweeps.history_radiation.schedule.hubble_step", 0.0, -0.1, "must be >= 0"),
]


@pytest.mark.parametrize(("key", "allowed", "beyond", "rule"), BOUNDS)
def test_a_bound_admits_its_last_value_and_names_the_first_beyond(
    config, key, allowed, beyond, rule
):
    validate_config(set_key(copy.deepcopy(config), key, allowed), SCHEMA)
    with pytest.raises(ConfigError) as err:
        validate_config(set_key(copy.deepcopy(config), key, beyond), SCHEMA)
    (line,) = str(err.value).splitlines()[1:]
    assert line.startswith(f"  config key '{key}' = {beyond!r} is invalid: {rule}")


def test_left_out_keys_take_their_documented_defaults(config):
    """gpus_per_job 0 runs on CPUs; chunk_runs 0 vmaps all runs; kappa_stride 0 is off, and
    with it kappa_dense_steps 0; kappa_modes 1 (the schema's descriptions)."""
    del config["gpus_per_job"]
    for key in ("chunk_runs", "kappa_stride", "kappa_dense_steps", "kappa_modes"):
        del config["training"][key]
    validate_config(config, SCHEMA)
    assert config["gpus_per_job"] == 0
    assert [config["training"][k] for k in ("chunk_runs", "kappa_stride", "kappa_modes")] == [
        0,
        0,
        1,
    ]
    assert config["training"]["kappa_dense_steps"] == 0


def test_a_figure_sweep_that_is_no_sweep_names_the_sweeps(config):
    config["figures"]["grid_sweep"] = "nope"
    with pytest.raises(ConfigError) as err:
        check_config(config)
    assert only_line(err) == (
        "config key 'figures.grid_sweep' = 'nope' is invalid: "
        f"must name one of the sweeps {sorted(config['sweeps'])}"
    )


def test_hubble_window_may_reach_two_below_the_steps(config):
    """The schema's description: at most training.steps - 2."""
    steps = config["training"]["steps"]
    config["duality"]["hubble_window"] = steps - 2
    check_config(config)
    config["duality"]["hubble_window"] = steps - 1
    with pytest.raises(ConfigError, match=f"'duality.hubble_window' = {steps - 1} is invalid"):
        check_config(config)


def test_a_schedule_without_its_optional_keys_takes_the_schema_defaults():
    """The defaults a run's schedule gets filled in (power_law's hubble_step, friedmann's
    planck_mass) are the schema's: a sweep given through --config or with the schema bypassed
    trains what the schema documents."""
    schema = yaml.safe_load(Path(SCHEMA).read_text())
    checked = []
    for case in schema["$defs"]["schedule"]["allOf"]:
        kind = case["if"]["properties"]["kind"].get("const")
        properties = case["then"].get("properties", {})
        defaults = {key: p["default"] for key, p in properties.items() if "default" in p}
        if not defaults:
            continue
        required = [key for key in case["then"].get("required", []) if key != "kind"]
        schedule = {"kind": kind, **dict.fromkeys(required, 0.5)}
        (run,) = sweep_runs({"eta": [0.1], "beta": [0.9], "seeds": [0], "schedule": schedule})
        assert {key: run["schedule"][key] for key in defaults} == defaults, kind
        checked.append(kind)
    assert checked == ["power_law", "friedmann"]


def test_a_job_trains_the_runs_of_the_sweeps_at_its_own_width(config):
    """teacher at width 128 is trained by the width sweep alone, not by the sweeps at 1024;
    the widths come sorted."""
    for dataset in config["datasets"]:
        sweeps = [s for s in config["sweeps"].values() if dataset in s["datasets"]]
        widths = sorted({w for s in sweeps for w in s["widths"]})
        assert widths_for(config, dataset) == widths
        for width in widths:
            expected = {
                run
                for sweep in sweeps
                if width in sweep["widths"]
                for run in itertools.product(
                    sweep["eta"], sweep.get("beta", [None]), sweep["seeds"]
                )
            }
            runs = runs_for(config, dataset, width)
            assert {(r["eta"], r["beta"], r["seed"]) for r in runs} == expected, (dataset, width)


def test_canonical_params_do_not_depend_on_the_order_of_keys():
    """A reordered config.yaml (or a key the schema's default appended) gives the same repr,
    so Snakemake's params trigger reruns nothing."""
    given = {"b": 1, "a": {"d": [2, 1], "c": 3.0}}
    reordered = {"a": {"c": 3.0, "d": [2, 1]}, "b": 1}
    assert repr(canonical(given)) == repr(canonical(reordered))
    assert repr(canonical(given)) == "{'a': {'c': 3.0, 'd': [2, 1]}, 'b': 1}"


def test_a_check_that_crashes_with_no_error_before_it_is_not_swallowed(config, monkeypatch):
    """A bug in a cross-field check (an exception other than ConfigError) with no ConfigError
    before it must surface, not let the config pass (mutant `except Exception: break` survives
    tests/test_config.py and tests/test_schedules.py)."""

    def broken(_):
        raise KeyError("a bug in a check")

    monkeypatch.setattr(config_module, "CROSS_CHECKS", ((broken, ()), *config_module.CROSS_CHECKS))
    with pytest.raises(KeyError):
        check_config(config)


def test_a_cross_field_error_through_snakemake_is_the_message_alone(tmp_path, config):
    """check_config's errors (not only the schema's) reach the user without traceback lines and
    with exit status 1, both listed."""
    config["training"]["checkpoints"] = [0, 25, 500]
    config["sweeps"]["grid"]["eta"] = [0.1]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    proc = dry_run(tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert 'File "' not in output and "Traceback" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("  config key")]
    assert len(errors) == 2, output


def test_a_check_that_crashes_after_an_error_is_skipped_and_the_rest_still_run(config, monkeypatch):
    """A check that stumbles (KeyError) after an earlier ConfigError, over what that one
    rejected, is skipped; the checks after it still run and list their errors."""

    def wrong(key):
        def check(_):
            raise ConfigError(f"config key '{key}' = 1 is invalid: no")

        return check

    def stumbles(_):
        raise KeyError("what the first check rejected")

    checks = ((wrong("a"), ()), (stumbles, ()), (wrong("b"), ()))
    monkeypatch.setattr(config_module, "CROSS_CHECKS", checks)
    with pytest.raises(ConfigError) as err:
        check_config(config)
    assert [line.split("'")[1] for line in listed(err)] == ["a", "b"]


def test_an_independent_error_after_a_skipped_check_is_still_listed(config):
    """figures.grid_sweep = 'nope' fails check_figure_sweeps, and check_reference, which builds
    on it (it would raise KeyError), is skipped; check_split_by's independent error is still
    listed."""
    config["figures"]["grid_sweep"] = "nope"
    config["split_by"] = ["dataset"]
    with pytest.raises(ConfigError) as err:
        check_config(config)
    keys = [line.split("'")[1] for line in listed(err)]
    assert keys == ["figures.grid_sweep", "split_by"]


def test_an_unknown_sweep_data_set_is_not_also_blamed_on_figures_grid_sweep(config):
    """sweeps.grid.datasets = ['nope'] is the one wrong key; figures.grid_sweep = 'grid' is
    right and must not be listed as invalid (the user would be told to change it)."""
    config["sweeps"]["grid"]["datasets"] = ["nope"]
    with pytest.raises(ConfigError) as err:
        check_config(config)
    keys = [line.split("'")[1] for line in listed(err)]
    assert keys == ["sweeps.grid.datasets"]


def test_snakemake_api_callers_get_the_config_error_not_systemexit(tmp_path, config):
    """Driven through snakemake.api (no snakemake.cli), an invalid config raises the ConfigError
    for the caller to catch, not SystemExit, which would end the caller's process."""
    config["training"]["checkpoints"] = [0, 25, 500]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    snakefile, workdir = str(ROOT / "Snakefile"), str(tmp_path)
    script = f"""
from pathlib import Path
from snakemake.api import SnakemakeApi
from snakemake.settings.types import OutputSettings, ResourceSettings
try:
    with SnakemakeApi(OutputSettings()) as api:
        cores = ResourceSettings(cores=1)
        api.workflow(cores, snakefile=Path({snakefile!r}), workdir=Path({workdir!r})).dag()
except Exception as err:
    print("caught", type(err).__name__)
print("caller alive")
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.stdout.splitlines()[-2:] == ["caught ConfigError", "caller alive"], (
        proc.stdout + proc.stderr
    )


def sweep_config(config, **sweep):
    config = copy.deepcopy(config)
    extra = {"datasets": ["teacher"], "widths": [16], "eta": [0.1], "seeds": [0]}
    config["sweeps"]["extra"] = extra | sweep
    return config


@pytest.mark.parametrize(
    "sweep, shown",
    [
        ({}, "config key 'sweeps.extra.beta' is missing"),
        ({"schedule": {"kind": "constant"}}, "config key 'sweeps.extra.beta' is missing"),
        ({"schedule": {"kind": "friedmann"}}, "config key 'sweeps.extra.beta' is missing"),
        ({"beta": []}, "config key 'sweeps.extra.beta' = [] is invalid: must have at least 1"),
        (
            {"schedule": {"kind": "nesterov"}, "beta": [0.9]},
            "config key 'sweeps.extra.beta' = [0.9] is invalid: must have at most 0",
        ),
        ({"schedule": {"kind": "foo"}}, "config key 'sweeps.extra.schedule.kind' = 'foo'"),
        ({"schedule": {"kind": "foo"}, "beta": [0.9]}, "config key 'sweeps.extra.schedule.kind'"),
    ],
)
def test_beta_by_schedule_kind(config, sweep, shown):
    """The schema's beta rule: required (>= 1 item) without a schedule and for constant and
    friedmann, empty for power_law and nesterov, neither for an unknown kind (one line)."""
    with pytest.raises(ConfigError) as err:
        validate_config(sweep_config(config, **sweep), SCHEMA)
    (line,) = listed(err)
    assert line.startswith(shown), line


def test_nesterov_without_beta_is_valid(config):
    validate_config(sweep_config(config, schedule={"kind": "nesterov"}), SCHEMA)


@pytest.mark.parametrize("schedule", [{}, "nesterov"])
@pytest.mark.parametrize("beta", [None, [0.9]])
def test_a_schedule_without_kind_is_told_only_that(config, schedule, beta):
    """schedule: {} is told 'kind is missing' (a text schedule: not an object); not also 'beta
    is missing' (without beta) or 'beta must have at most 0 items' (with it): the two would
    contradict each other."""
    sweep = {"schedule": schedule} | ({"beta": beta} if beta else {})
    with pytest.raises(ConfigError) as err:
        validate_config(sweep_config(config, **sweep), SCHEMA)
    assert not any("'sweeps.extra.beta'" in line for line in listed(err)), listed(err)
