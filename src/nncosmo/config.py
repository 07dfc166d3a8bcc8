"""Config checks, with short messages, and the sweep plan derived from the config.

`check_yaml_syntax` reports where config.yaml is not valid YAML; `validate_config` checks types
and ranges against the schema (workflow/schemas/config.schema.yaml), one line per error;
`check_config` checks the cross-references (checkpoints within the run, sweeps naming known data
sets...). All run in the Snakefile before any job starts.
"""

from __future__ import annotations

import itertools
import json
import os
import reprlib
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import yaml

from nncosmo import theory


class ConfigError(ValueError):
    """An invalid config value: the message names the key, the value and what is allowed."""


# Images per class of scikit-learn's digits (`load_digits().target`, fixed since it ships with
# the package): a digits data set can draw at most the sum over its two classes.
DIGITS_PER_CLASS = (178, 182, 177, 183, 181, 182, 181, 179, 174, 180)


def _fail(key: str, value, allowed: str):
    raise ConfigError(f"config key '{key}' = {value!r} is invalid: {allowed}")


INVALID = (
    "invalid config (config.yaml with any --configfile/--config overrides); "
    "fix these keys, nothing has run:"
)


def _invalid(lines) -> ConfigError:
    """One ConfigError listing every line under the INVALID header."""
    return ConfigError(INVALID + "\n" + "\n".join(f"  {line}" for line in lines))


@contextmanager
def config_errors_exit():
    """In the Snakefile: under the `snakemake` command a ConfigError ends it with its message
    alone (exit status 1), instead of the message followed by the Snakefile's and this module's
    traceback lines; a program driving Snakemake's API (no snakemake.cli imported) gets the
    ConfigError itself, to catch."""
    try:
        yield
    except ConfigError as err:
        if "snakemake.cli" not in sys.modules:
            raise
        sys.exit(f"nncosmo: {err}")


def check_yaml_syntax(path: str) -> None:
    """Raise ConfigError naming file, line and column if `path` exists and is not valid YAML.

    Snakemake's own message ("Config file is not valid JSON or YAML") names neither.
    """
    try:
        with open(path, encoding="utf-8") as f:
            yaml.safe_load(f)
    except FileNotFoundError:
        return  # Snakemake reports a missing config file itself
    except yaml.YAMLError as err:
        raise ConfigError(f"{path} is not valid YAML: {_yaml_problem(err)}; fix it there") from None


def _yaml_problem(err: yaml.YAMLError) -> str:
    """One line from a YAML error: the problem and its line and column (1-based)."""
    if not isinstance(err, yaml.MarkedYAMLError) or err.problem_mark is None:
        return " ".join(str(err).split())
    context = f" ({err.context} at {_position(err.context_mark)})" if err.context_mark else ""
    return f"{_position(err.problem_mark)}: {err.problem}{context}"


def _position(mark: yaml.Mark) -> str:
    """A YAML mark as a 1-based "line L, column C"."""
    return f"line {mark.line + 1}, column {mark.column + 1}"


def canonical(value):
    """`value` with every mapping's keys sorted, as a rule's params: Snakemake's params trigger
    compares repr(), which for a dict follows key order, so a reordered config.yaml or a key left
    to its schema default (validate() appends it) would rerun every job with identical values."""
    return json.loads(json.dumps(value, sort_keys=True))


def validate_config(config: dict, schema_path: str) -> None:
    """Check `config` against the JSON schema (Draft 2020-12) with one line per error, naming
    key, value, what is allowed and the key's description; then fill the schema's defaults
    with snakemake.utils.validate. (Both imported here: the rest of the module, the sweep plan, is
    used where neither is installed, e.g. benchmarks/gpu_training.py on a GPU machine.)"""
    from snakemake.utils import validate

    schema = yaml.safe_load(Path(schema_path).read_text())
    errors = sorted(_strict_validator(schema).iter_errors(config), key=lambda e: e.json_path)
    lines = dict.fromkeys(line for error in errors for line in _error_lines(error, schema))
    if lines:
        raise _invalid(lines)
    validate(config, schema_path)


def _strict_validator(schema: dict):
    """A Draft 2020-12 validator whose `integer` is a Python int: JSON Schema counts 400.0 as an
    integer, but `range(400.0)` and `int('1024.0')` fail inside the Snakefile or a job, and 8.0
    != 8 in Snakemake's params would rerun every job."""
    from jsonschema import Draft202012Validator, validators

    checker = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, value: isinstance(value, int) and not isinstance(value, bool)
    )
    return validators.extend(Draft202012Validator, type_checker=checker)(schema)


def _error_lines(error, schema: dict) -> list[str]:
    """What one jsonschema error means for the user, as lines naming the dotted key path."""
    key = error.json_path.removeprefix("$").removeprefix(".")
    known = error.schema.get("properties", {})
    if error.validator == "additionalProperties":
        allowed = ", ".join(sorted(known))
        extra = sorted(set(error.instance) - set(known))
        return [f"unknown config key '{_child(key, name)}' (allowed: {allowed})" for name in extra]
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        return [f"config key '{_child(key, name)}' is missing (it is required)" for name in missing]
    description = _description(error, schema)
    why = f" ({' '.join(description.split())})" if description else ""
    value = reprlib.repr(error.instance)
    line = f"config key '{key}' = {value} is invalid: must {_allowed(error)}{why}"
    return [line + _text_hint(error)]


def _description(error, schema: dict) -> str | None:
    """The description of the key an error is about: its own schema's, or for an item of a list
    (`eta[1]`) the list's (found by following the error's schema path from the root `schema`)."""
    if "description" in error.schema:
        return error.schema["description"]
    path = list(error.absolute_schema_path)
    if len(path) < 2 or path[-2] != "items":
        return None
    node = schema
    for step in path[:-2]:
        node = node.get(step, {}) if isinstance(node, dict) else {}
    return node.get("description") if isinstance(node, dict) else None


def _text_hint(error) -> str:
    """Why a number or boolean may have arrived as text: Snakemake reads the value of a nested
    `--config 'key={...}'` with YAML's base loader, which keeps every scalar a string."""
    if error.validator != "type" or not isinstance(error.instance, str):
        return ""
    try:
        parsed = yaml.safe_load(error.instance)
    except yaml.YAMLError:
        return ""
    if not isinstance(parsed, (bool, int, float)):
        return ""
    return (
        "; it is text: quoted in a file, or given inside a nested `--config 'key={...}'`, whose "
        "values Snakemake keeps as strings; give it unquoted in a file passed with --configfile "
        '(README, "Changing a hyperparameter")'
    )


def _child(key: str, name: str) -> str:
    """The dotted path of key `name` inside the object at `key` ("" is the top level)."""
    return f"{key}.{name}" if key else name


_BOUNDS = {"minimum": ">=", "exclusiveMinimum": ">", "maximum": "<=", "exclusiveMaximum": "<"}
_RULES = {
    "enum": lambda rule: "be one of " + ", ".join(map(repr, rule)),
    "type": "be of type {}".format,
    "const": "be {!r}".format,
    "minItems": "have at least {} item(s)".format,
    "maxItems": "have at most {} item(s)".format,
    "uniqueItems": lambda rule: "not repeat an item",
    "minProperties": "have at least {} entry(ies)".format,
    "not": lambda rule: f"not be {rule['const']!r}" if set(rule) == {"const"} else f"not {rule}",
}


def _allowed(error) -> str:
    """The rule an error broke, in words ("be > 0 and < 1", "be one of 'relu', 'erf'")."""
    if error.validator in _BOUNDS:
        bounds = [f"{op} {error.schema[k]}" for k, op in _BOUNDS.items() if k in error.schema]
        return "be " + " and ".join(bounds)
    if error.validator in _RULES:
        return _RULES[error.validator](error.validator_value)
    return f"satisfy {error.validator}={error.validator_value!r} ({error.message})"


def check_config(config: dict) -> None:
    """Cross-field checks (`CROSS_CHECKS`): one ConfigError listing each check's first error. A
    check runs only where the checks it builds on passed (so a consequence of one wrong key is
    not blamed on another); one that stumbles over what an earlier check rejected (an exception
    other than ConfigError, after an error) is skipped, and with no error before it raises."""
    errors, failed = [], set()
    for check, needs in CROSS_CHECKS:
        if failed & set(needs):
            failed.add(check)
            continue
        try:
            check(config)
        except ConfigError as err:
            errors.append(str(err))
            failed.add(check)
        except Exception:
            if not errors:
                raise
            failed.add(check)
    if errors:
        raise _invalid(errors)


def check_sweep_datasets(config: dict) -> None:
    """Every sweep trains known data sets."""
    known = set(config["datasets"])
    for name, sweep in config["sweeps"].items():
        for ds in sweep["datasets"]:
            if ds not in known:
                _fail(f"sweeps.{name}.datasets", ds, f"must be one of the datasets {sorted(known)}")


def check_reference(config: dict) -> None:
    """figures.reference is a run of the grid sweep."""
    ref = config["figures"]["reference"]
    grid = config["sweeps"][config["figures"]["grid_sweep"]]
    if not any(run_matches(r, ref) for r in sweep_runs(grid)):
        _fail("figures.reference", ref, "must be an (eta, beta) pair of figures.grid_sweep")


def check_split_by(config: dict) -> None:
    """Jobs are split by data set and width at least (one compiled program per job)."""
    missing = {"dataset", "width"} - set(config["split_by"])
    if missing:
        _fail(
            "split_by",
            config["split_by"],
            f"must include {sorted(missing)}: runs of different "
            "data sets or widths cannot share one compiled program",
        )


def check_mode_counts(config: dict) -> None:
    """ntk.modes and training.kappa_modes within the smallest data set."""
    smallest = min(d["n_samples"] for d in config["datasets"].values())
    for section, key in (("ntk", "modes"), ("training", "kappa_modes")):
        if config[section].get(key, 0) > smallest:
            _fail(
                f"{section}.{key}",
                config[section][key],
                f"must not exceed the smallest n_samples ({smallest})",
            )


def check_measured_steps(config: dict) -> None:
    """Checkpoints in [0, steps], step 0 and a later one among them; kappa_a(n) measured at two
    steps at least, or not at all: the cosmology stage interpolates the NTK between checkpoints
    and kappa between its measured steps, which one step cannot give."""
    training = config["training"]
    steps, checkpoints = training["steps"], training["checkpoints"]
    for c in checkpoints:
        if c > steps:
            _fail("training.checkpoints", c, f"checkpoints must lie in [0, training.steps={steps}]")
    if 0 not in checkpoints:
        _fail(
            "training.checkpoints",
            checkpoints,
            "must include step 0 (the NTK at initialisation defines the modes)",
        )
    if len(set(checkpoints)) < 2:
        _fail(
            "training.checkpoints",
            checkpoints,
            "must include a step after 0 too (the NTK is interpolated between checkpoints)",
        )
    stride, dense = training.get("kappa_stride", 0), training.get("kappa_dense_steps", 0)
    if stride > steps and dense < 2:  # then kappa is measured at step 0 alone
        _fail(
            "training.kappa_stride",
            stride,
            f"must be <= training.steps={steps} (or 0 = off) unless kappa_dense_steps >= 2: kappa "
            "measured at step 0 alone cannot be interpolated",
        )


def check_digits(config: dict) -> None:
    """A digits data set asks for at most the images its two classes have (`DIGITS_PER_CLASS`)."""
    for name, spec in config["datasets"].items():
        if spec["kind"] != "digits":
            continue
        available = sum(DIGITS_PER_CLASS[c] for c in spec["classes"])
        if spec["n_samples"] > available:
            _fail(
                f"datasets.{name}.n_samples",
                spec["n_samples"],
                f"must be <= {available}, the images of classes {spec['classes']}",
            )


def lowest_hubble(background: dict, span: float) -> float:
    """The smallest H(t) over a target's span: H (de Sitter), p / (t0 + span) (power law),
    sqrt(Lambda / 3) (Friedmann: rho_phi >= 0 only adds to it)."""
    kind = background["kind"]
    if kind == "de_sitter":
        return background["H"]
    if kind == "power_law":
        return theory.power_law_hubble(background["p"], background["t0"] + span)
    return float(theory.friedmann_hubble(0.0, background["Lambda"]))


def check_cosmologies(config: dict) -> None:
    """F8 targets: the network's data set exists, and each target's lattice resolves its mass,
    omega dt < pi at the smallest H of the span (docs/physics.md §12); at omega dt = pi the
    derived eta kappa reaches the alternating bound (1 + sqrt(beta))^2 of theory.regime_bounds,
    beyond it no loss scaling gives the mass (the lattice aliases it)."""
    cosmologies = config["cosmologies"]
    if cosmologies["network"]["dataset"] not in config["datasets"]:
        _fail(
            "cosmologies.network.dataset",
            cosmologies["network"]["dataset"],
            f"must be one of the datasets {sorted(config['datasets'])}",
        )
    for name, target in cosmologies["targets"].items():
        dt = target["span"] / target["steps"]
        hubble = lowest_hubble(target["background"], target["span"])
        phase = float(theory.lattice_phase(hubble, target["mass"] ** 2, dt).real)
        if phase >= np.pi:
            beta = float(theory.momentum_from_hubble(hubble, dt))
            needed = int(np.floor(phase * target["steps"] / np.pi)) + 1
            _fail(
                f"cosmologies.targets.{name}.steps",
                target["steps"],
                f"dt = span / steps = {dt:.4g} cannot resolve mass {target['mass']:g}: omega dt = "
                f"{phase:.4g} >= pi at H = {hubble:.4g} (omega^2 = m^2 - 9 H^2 / 4), so the "
                f"derived eta kappa would reach the alternating bound (1 + sqrt(beta))^2 = "
                f"{theory.regime_bounds(beta)[1]:.4g} of theory.regime_bounds, beyond which no "
                f"loss scaling gives this mass; use steps >= {needed} or a shorter span",
            )


# The sweep axes that each figure sweep must span: F2 and F5 are trends against width, F3 a trend
# against eta, so one value is no trend.
FIGURE_SWEEP_AXES = {
    "grid_sweep": ("eta", "eta values (F3 is a trend against eta)"),
    "width_sweep": ("widths", "widths (F2 and F5 are trends against width)"),
}


def check_figure_sweeps(config: dict) -> None:
    """figures.dataset is trained by some sweep; the figure sweeps train it, each spanning at
    least 2 values of the axis its figures plot against."""
    dataset = config["figures"]["dataset"]
    trainers = sorted(name for name, s in config["sweeps"].items() if dataset in s["datasets"])
    if not trainers:
        trained = sorted({ds for s in config["sweeps"].values() for ds in s["datasets"]})
        _fail("figures.dataset", dataset, f"no sweep trains it; name one of {trained}")
    for key, (axis, needed) in FIGURE_SWEEP_AXES.items():
        name = config["figures"][key]
        if name not in config["sweeps"]:
            _fail(f"figures.{key}", name, f"must name one of the sweeps {sorted(config['sweeps'])}")
        if name not in trainers:
            _fail(
                f"figures.{key}",
                name,
                f"must be a sweep that trains figures.dataset={dataset!r}: one of {trainers}",
            )
        values = config["sweeps"][name][axis]
        if len(values) < 2:
            _fail(f"sweeps.{name}.{axis}", values, f"figures.{key} needs at least 2 {needed}")


def check_schedules(config: dict) -> None:
    """Schedules the schema cannot check: an unknown kind or a power law with p <= 0 or
    tau0 <= 0 (also when the schema was bypassed), and F1-F6's sweeps, whose figures compare with
    de Sitter, keep the constant schedule."""
    for name, sweep in config["sweeps"].items():
        schedule, key = _given_schedule(sweep), f"sweeps.{name}.schedule"
        if schedule.get("kind") not in SCHEDULE_KEYS:
            _fail(f"{key}.kind", schedule.get("kind"), f"must be one of {list(SCHEDULE_KEYS)}")
        for param in ("p", "tau0") if schedule["kind"] == "power_law" else ():
            if not schedule.get(param, 0) > 0:
                _fail(f"{key}.{param}", schedule.get(param), "a power law needs it > 0")
    for figure_key in FIGURE_SWEEP_AXES:
        name = config["figures"][figure_key]
        kind = schedule_spec(config["sweeps"][name])["kind"]
        if kind != "constant":
            _fail(
                f"sweeps.{name}.schedule.kind",
                kind,
                f"figures.{figure_key} (F1-F6: de Sitter) needs the constant schedule",
            )


def check_history_sweeps(config: dict) -> None:
    """figures.histories (F7) names sweeps that train figures.dataset with exactly one run (one
    width, eta, beta, seed), and duality.hubble_window fits into training.steps."""
    dataset = config["figures"]["dataset"]
    for name in config["figures"]["histories"]:
        if name not in config["sweeps"]:
            _fail(
                "figures.histories", name, f"must name one of the sweeps {sorted(config['sweeps'])}"
            )
        sweep = config["sweeps"][name]
        if dataset not in sweep["datasets"] or len(sweep["widths"]) != 1:
            _fail(
                f"sweeps.{name}", sweep, f"F7 needs one width training figures.dataset={dataset!r}"
            )
        if len(sweep_runs(sweep)) != 1:
            _fail(f"sweeps.{name}", sweep, "F7 shows one run per history: one eta, beta and seed")
    window, steps = config["duality"]["hubble_window"], config["training"]["steps"]
    if window + 2 > steps:
        _fail("duality.hubble_window", window, f"must be below training.steps={steps} - 1")


# `check_config`'s checks in order, each with the checks it builds on; each reports its first error.
CROSS_CHECKS = (
    (check_measured_steps, ()),
    (check_sweep_datasets, ()),
    (check_digits, ()),
    (check_figure_sweeps, (check_sweep_datasets,)),
    (check_schedules, ()),
    (check_history_sweeps, (check_sweep_datasets, check_figure_sweeps)),
    (check_reference, (check_figure_sweeps,)),
    (check_split_by, ()),
    (check_mode_counts, ()),
    (check_cosmologies, ()),
)


def run_matches(run: dict, ref: dict) -> bool:
    """Whether a run has the reference (eta, beta)."""
    return run["eta"] == ref["eta"] and run["beta"] == ref["beta"]


# Keys of each schedule kind (theory.SCHEDULES) with their defaults (workflow/schemas:
# $defs.schedule); the kinds not named here take no keys.
_SCHEDULE_PARAMETERS = {
    "power_law": {"p": None, "tau0": None, "hubble_step": 0.0},
    "friedmann": {"planck_mass": 1.0},
}
SCHEDULE_KEYS = {kind: _SCHEDULE_PARAMETERS.get(kind, {}) for kind in theory.SCHEDULES}
# Schedules that set beta_n themselves: their sweeps take no beta (the run's beta is None).
OWN_MOMENTUM = ("power_law", "nesterov")


def _given_schedule(sweep: dict) -> dict:
    """The schedule a sweep (or run) names, as given; the constant schedule when it names none."""
    return sweep.get("schedule", {"kind": "constant"})


def schedule_spec(sweep: dict) -> dict:
    """A sweep's (or run's) schedule with every key of its kind, defaults filled (default:
    constant, `_given_schedule`)."""
    given = _given_schedule(sweep)
    keys = SCHEDULE_KEYS[given["kind"]]
    return {"kind": given["kind"], **{k: given.get(k, v) for k, v in keys.items()}}


def sweep_runs(sweep: dict) -> list[dict]:
    """The (eta, beta, seed) product of one sweep, each run with the sweep's schedule (beta None
    where the schedule sets beta_n itself)."""
    schedule = schedule_spec(sweep)
    betas = [None] if schedule["kind"] in OWN_MOMENTUM else sweep["beta"]
    return [
        {"eta": e, "beta": b, "seed": s, "schedule": schedule}
        for e, b, s in itertools.product(sweep["eta"], betas, sweep["seeds"])
    ]


def run_label(run: dict) -> str:
    """A run as a person names it: "eta=0.1 beta=0.9 seed=0", its beta only where it has one,
    its schedule unless constant (`theory.schedule_label`)."""
    beta = "" if run["beta"] is None else f" beta={run['beta']:g}"
    label = f"eta={run['eta']:g}{beta} seed={run['seed']}"
    if run["schedule"]["kind"] == "constant":
        return label
    return f"{label} schedule=({theory.schedule_label(run['schedule'])})"


def run_key(run: dict) -> tuple:
    """A run's identity (eta, beta, seed, schedule) as a sortable, hashable tuple."""
    beta = -1.0 if run["beta"] is None else run["beta"]
    return run["eta"], beta, run["seed"], tuple(run["schedule"].items())


# Every figure; figures.build names the ones a run builds (default: all). F1-F6 read the sweeps
# other than figures.histories, F7 those, F8 only the simulations (results/simulate).
FIGURE_IDS = ("F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8")
SWEEP_FIGURES = ("F1", "F2", "F3", "F4", "F5", "F6")


def built_figures(config: dict) -> list[str]:
    """The figures this run builds (`figures.build`, default all), in FIGURE_IDS order."""
    build = config["figures"].get("build", FIGURE_IDS)
    return [fig for fig in FIGURE_IDS if fig in build]


def figure_jobs(config: dict) -> list[list[str]]:
    """The built figures dealt to `figures.jobs` rendering jobs (default 2) in build order, figure
    i to job i mod jobs; never more jobs than figures. Each job pays the Python and matplotlib
    start-up and reads the results once; the jobs render side by side where cores are free."""
    built = built_figures(config)
    jobs = min(config["figures"].get("jobs", 2), len(built))
    return [built[k::jobs] for k in range(jobs)]


# The figures.* settings each figure reads (besides dpi, which every figure reads): its rendering
# job's params hold only its figures' settings, so that a changed setting re-renders only the
# jobs drawing a figure that reads it (tests/test_workflow.py records what each figure reads).
FIGURE_READS = {
    "F1": ("dataset", "grid_sweep"),
    "F2": ("dataset", "width_sweep"),
    "F3": ("dataset", "grid_sweep"),
    "F4": ("dataset", "grid_sweep", "reference", "width_sweep"),
    "F5": ("width_sweep",),
    "F6": ("dataset", "width_sweep"),
    "F7": ("dataset", "histories"),
    "F8": (),
}


def figure_settings(config: dict, figures: list[str]) -> dict:
    """The figures.* settings that `figures` are drawn with: dpi and their FIGURE_READS."""
    keys = {"dpi"}.union(*(FIGURE_READS[fig] for fig in figures))
    return canonical({key: config["figures"][key] for key in sorted(keys)})


def built_sweeps(config: dict) -> dict[str, dict]:
    """The sweeps the built figures read: figures.histories' sweeps if F7 is built, every other
    sweep if any of F1-F6 is; the others are not trained."""
    built = built_figures(config)
    histories = set(config["figures"]["histories"])
    sweep_figures = bool(set(SWEEP_FIGURES) & set(built))
    needed = {
        name: "F7" in built if name in histories else sweep_figures for name in config["sweeps"]
    }
    return {name: sweep for name, sweep in config["sweeps"].items() if needed[name]}


def jax_cache_env(folder: str | Path) -> dict[str, str]:
    """Environment of every job: JAX's persistent compilation cache in `folder` (absolute).

    Entries are compiled executables keyed by the program (HLO), the jax/jaxlib version, the
    backend and the compile flags, so a changed program or package misses and recompiles; a hit
    runs the very executable a compile would build, so no result changes. Not stored: programs
    that compile in under 0.1 s (the many one-operation programs), and, by JAX itself, programs
    with host callbacks (the training scan's progress lines): these compile in every job
    (benchmarks/README.md, "Start-up").

    EQX_ON_ERROR=nan unless the caller's environment sets it: equinox's run-time checks inside
    the diffrax integration return NaN instead of raising through a host callback, so the
    integrator's programs are stored too (and shared by every job of a configuration:
    `nncosmo.cosmology.each_system`); a failed integration then stops the job in
    `nncosmo.cosmology.check_solved`. A user's `EQX_ON_ERROR=raise` (to read diffrax's own
    message) is kept: those programs then have callbacks, so JAX does not store them, and the
    traced programs are keyed by the setting (`nncosmo.programs.program_key`).

    NNCOSMO_PROGRAMS: the folder `programs/` in `folder`, where the integrator's traced programs
    are kept, so that later jobs neither trace them nor import diffrax (`nncosmo.programs`).

    XLA_PYTHON_CLIENT_PREALLOCATE=false unless the caller's environment sets it: by default JAX
    preallocates 75 % of a GPU's memory in each process, which JAX's "GPU memory allocation"
    guide names as a common cause of out-of-memory failures when several processes (here: the
    jobs Snakemake runs side by side) share one GPU; with it each job allocates what it uses.
    No effect on CPUs."""
    return {
        "JAX_COMPILATION_CACHE_DIR": str(Path(folder).absolute()),
        "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0.1",
        "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "0",
        "EQX_ON_ERROR": os.environ.get("EQX_ON_ERROR", "nan"),
        "NNCOSMO_PROGRAMS": str(Path(folder, "programs").absolute()),
        "XLA_PYTHON_CLIENT_PREALLOCATE": os.environ.get("XLA_PYTHON_CLIENT_PREALLOCATE", "false"),
    }


def runs_for(config: dict, dataset: str, width: int) -> list[dict]:
    """Union of the runs that the built figures' sweeps ask for (`built_sweeps`), without
    duplicates, sorted by (eta, beta, seed, schedule) (`run_key`).

    Sorted, so the list (a Snakemake param: a change reruns the job) does not depend on the
    order in which config files were merged.
    """
    runs = {
        run_key(r): r
        for sweep in built_sweeps(config).values()
        if dataset in sweep["datasets"] and width in sweep["widths"]
        for r in sweep_runs(sweep)
    }
    return [runs[key] for key in sorted(runs)]


def widths_for(config: dict, dataset: str) -> list[int]:
    """Sorted widths at which `dataset` is trained (by the built figures' sweeps)."""
    sweeps = built_sweeps(config).values()
    return sorted({w for s in sweeps if dataset in s["datasets"] for w in s["widths"]})


# Axes of a run along which training jobs may be split further (workflow/schemas: split_by).
# dataset and width are always split: runs of one job share the data and the parameter shapes,
# so they compile to one vmapped program.
RUN_AXES = ("eta", "beta", "seed")


def job_name(width: int, run: dict, split_by: list[str]) -> str:
    """File stem of the job that trains `run`: `w<width>` plus `_<axis><value>` per split axis.

    For example `w1024` (split by dataset and width) or `w1024_eta0.1_seed2`.
    """
    return f"w{width}" + "".join(f"_{axis}{run[axis]!r}" for axis in RUN_AXES if axis in split_by)


def job_width(job: str) -> int:
    """Width of a job from its name `w<width>[_<axis><value>...]`."""
    return int(job.split("_")[0].removeprefix("w"))


def jobs(config: dict) -> list[tuple[str, str]]:
    """Every (dataset, job name) training job, split along the axes `config["split_by"]` names."""
    split_by = config["split_by"]
    return [
        (d, name)
        for d in config["datasets"]
        for w in widths_for(config, d)
        for name in dict.fromkeys(job_name(w, r, split_by) for r in runs_for(config, d, w))
    ]


def job_runs(config: dict, dataset: str, job: str) -> list[dict]:
    """The runs that one job trains, sorted by (eta, beta, seed)."""
    width = job_width(job)
    return [
        r for r in runs_for(config, dataset, width) if job_name(width, r, config["split_by"]) == job
    ]


# Bytes per element of the training dtypes; tau and the coordinates are 8-byte (float64, int64).
ITEMSIZE = {"float32": 4, "float64": 8}
# scikit-learn's digits have 8 x 8 pixels; the data stage drops the ones constant over the chosen
# samples, so 64 is an upper bound on their feature count (51 for the default config's digits).
DIGITS_PIXELS = 64
# Above this many bytes of training files the Snakefile says how much a run will write.
DISK_NOTE_BYTES = 10**9


def n_features(spec: dict) -> int:
    """Input dimension of a data set: `n_features` of a teacher, at most 64 pixels for digits."""
    return spec["n_features"] if spec["kind"] == "teacher" else DIGITS_PIXELS


def n_params(model: dict, features: int, width: int) -> int:
    """Parameters of the MLP (nncosmo.models): weights d w + (depth - 1) w^2 + w, plus
    depth w + 1 biases when `use_bias`."""
    weights = features * width + (model["depth"] - 1) * width**2 + width
    return weights + (model["depth"] * width + 1 if model["use_bias"] else 0)


def job_cost(config: dict, dataset: str, job: str) -> int:
    """Multiply-adds of one training job's forward passes, runs x (steps + 1) x samples x
    parameters (`n_params`; the backward pass costs a fixed multiple of it)."""
    spec, steps = config["datasets"][dataset], config["training"]["steps"] + 1
    params = n_params(config["model"], n_features(spec), job_width(job))
    return len(job_runs(config, dataset, job)) * steps * spec["n_samples"] * params


def simulation_cost(config: dict, target: str) -> int:
    """Multiply-adds of one F8 simulation's forward passes: steps x samples x parameters."""
    network = config["cosmologies"]["network"]
    spec = config["datasets"][network["dataset"]]
    params = n_params(config["model"], n_features(spec), network["width"])
    return config["cosmologies"]["targets"][target]["steps"] * spec["n_samples"] * params


# Stages in the order their jobs go first when several are ready (`job_priorities`)
STAGE_ORDER = ("train", "ntk", "cosmology", "duality")


def job_priorities(config: dict) -> dict[str, int]:
    """Snakemake priorities by "stage/chain" (chain: a training job "dataset/job", which its
    ntk, cosmology and duality jobs follow, or an F8 simulation "target"): of the jobs ready to
    run, those of the earlier stage (`STAGE_ORDER`; simulations rank with training) first, and
    within a stage the costliest chain first (its training's forward multiply-adds in units of
    10^9, `job_cost`, `simulation_cost`: longest processing time first). A stage after training
    takes a few seconds per job whatever the width, so the jobs left once every training job
    has started are short ones that fill both cores to the end, instead of one narrow chain's
    jobs running one after another while the other core idles (benchmarks/README.md §11, §21)."""
    costs = {f"{d}/{job}": job_cost(config, d, job) // 10**9 for d, job in jobs(config)}
    targets = config["cosmologies"]["targets"]
    simulations = {t: simulation_cost(config, t) // 10**9 for t in targets}
    step = 1 + max([*costs.values(), *simulations.values()])  # one stage's band of priorities
    band = {stage: step * (len(STAGE_ORDER) - 1 - i) for i, stage in enumerate(STAGE_ORDER)}
    priorities = {f"simulate/{t}": band["train"] + cost for t, cost in simulations.items()}
    for stage in STAGE_ORDER:
        priorities |= {f"{stage}/{chain}": band[stage] + cost for chain, cost in costs.items()}
    return priorities


def training_file_bytes(config: dict, dataset: str, job: str) -> int:
    """Array bytes of one training file (nncosmo.training.sweep_dataset), exact for a teacher:
    runs x [dtype bytes x (checkpoints x params + (steps + 1) x (samples + 1)) (parameters, f,
    loss) + (16 + dtype bytes) (steps + 1) (tau, eta_n, beta_n) + 33 (run, eta, beta, seed,
    diverged) + 4 x the longest schedule label (schedule)]
    + 8 (steps + 1 + checkpoints + samples) (coordinates), and with kappa_stride s > 0
    runs x dtype bytes x kappa_steps x kappa_modes + 8 (kappa_steps + kappa_modes) (kappa),
    kappa_steps = #{n <= steps: n < kappa_dense_steps or n % s == 0}. HDF5 adds some 30 kB per
    file (metadata, provenance)."""
    spec, training = config["datasets"][dataset], config["training"]
    steps, samples = training["steps"] + 1, spec["n_samples"]
    checkpoints = len(training["checkpoints"])
    params = n_params(config["model"], n_features(spec), job_width(job))
    per_run = ITEMSIZE[training["dtype"]] * (checkpoints * params + steps * (samples + 1))
    per_run += (8 + ITEMSIZE[training["dtype"]]) * steps + 8 * steps + 33  # eta_n, beta_n, tau
    runs = job_runs(config, dataset, job)
    labels = [theory.schedule_label(schedule_spec(r)) for r in runs]
    per_run += 4 * max(map(len, labels))  # the schedule label, fixed-width unicode
    coordinates = steps + checkpoints + samples
    if training.get("kappa_stride", 0):
        stride, dense = training["kappa_stride"], training.get("kappa_dense_steps", 0)
        kappa_steps = sum(1 for n in range(steps) if n < dense or n % stride == 0)
        modes = training["kappa_modes"]
        per_run += ITEMSIZE[training["dtype"]] * kappa_steps * modes
        coordinates += kappa_steps + modes
    return len(runs) * per_run + 8 * coordinates


def disk_estimate(config: dict) -> int:
    """Bytes of all training files (results/train), the bulk of a run's disk use; an upper bound
    where a digits data set has constant pixels."""
    return sum(training_file_bytes(config, d, job) for d, job in jobs(config))


def disk_note(config: dict) -> str | None:
    """A line saying how much the training files take, when that exceeds DISK_NOTE_BYTES."""
    size = disk_estimate(config)
    if size <= DISK_NOTE_BYTES:
        return None
    return f"this configuration writes about {size / 1e9:.2g} GB of training files (results/train)"
