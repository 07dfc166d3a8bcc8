"""The whole workflow: dry run and lint of the default config, end to end on the tiny preset."""

import copy
import itertools
import json
import os
import re
import shutil
import stat
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import xarray as xr
import yaml
from snakemake.utils import validate

from nncosmo.claims import SIMULATION_ACCURACY, all_claims
from nncosmo.config import FIGURE_IDS, FIGURE_READS, figure_settings
from nncosmo.io import load_stage, read_dataset
from nncosmo.results import STAGES, Results

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]

DOCUMENTED = {
    "data": ["x", "y"],
    "train": ["f", "loss", "tau", "diverged"],
    "ntk": ["ntk", "eigenvalue", "eigenvector", "overlap_uniform", "drift", "u", "residual_norm"],
    "cosmology": ["field", "hubble", "mass2", "history_field", "history_hubble"],
    "duality": [
        "H_fit",
        "H_fit_err",
        "m2_fit",
        "m2_fit_err",
        "fit_status",
        "H_exact",
        "residual_own",
        "residual_norm",
        "regime",
        "kappa_measured",
        "kinetic",
        "drift_unexplained",
        "H_window",
        "window_status",
    ],
    "simulate": ["phi_network", "phi_target", "a", "H", "beta", "eta", "loss_scale", "kappa"],
}


def snakemake(*args, cwd=ROOT, check=True):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([*SNAKEMAKE, *args], cwd=cwd, capture_output=True, text=True, env=env)
    if check and proc.returncode != 0:
        pytest.fail(
            f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    return proc


def test_conda_environment_pins_every_dependency_as_constraints_txt_does():
    """workflow/envs/nncosmo.yaml (for --use-conda) installs every runtime dependency of
    pyproject.toml at the version constraints.txt pins, and pins nothing else differently
    (Snakemake itself runs the jobs: its script preamble brings its own package path)."""
    import tomllib

    def name(requirement: str) -> str:
        return re.split(r"[\[<>=!~ ]", requirement, maxsplit=1)[0].lower()

    pinned = dict(
        line.split("==")
        for line in (ROOT / "constraints.txt").read_text().splitlines()
        if "==" in line
    )
    pinned = {name(k): v for k, v in pinned.items()}
    env = yaml.safe_load((ROOT / "workflow" / "envs" / "nncosmo.yaml").read_text())
    (pip,) = [d["pip"] for d in env["dependencies"] if isinstance(d, dict)]
    conda_pins = {name(k): v for k, v in (p.split("==") for p in pip)}
    for package, version in conda_pins.items():
        assert pinned.get(package) == version, (package, version, pinned.get(package))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    missing = {name(r) for r in project["dependencies"]} - set(conda_pins) - {"snakemake"}
    assert missing == set(), f"pyproject.toml dependencies the conda environment lacks: {missing}"


def test_every_stage_script_starts_and_ends_its_job_through_provenance():
    """Each script's main begins with `start_job` (XLA's threads set before any computation;
    harmless where a job computes nothing with JAX) and the script ends with
    `main(snakemake)` then `end_job()`; `end_job` freezes the garbage collector's heap."""
    import ast

    for script in sorted((ROOT / "scripts").glob("*.py")):
        body = ast.parse(script.read_text()).body
        calls = [ast.unparse(node.value) for node in body[-2:] if isinstance(node, ast.Expr)]
        assert calls == ["main(snakemake)", "end_job()"], script.name
        (main,) = [
            node for node in body if isinstance(node, ast.FunctionDef) and node.name == "main"
        ]
        assert ast.unparse(main.body[0]).startswith("log = start_job(smk, "), script.name
    code = (
        "import gc; from nncosmo.provenance import end_job; end_job(); print(gc.get_freeze_count())"
    )
    frozen = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert int(frozen.stdout) > 0


def test_start_job_sizes_xla_threads_to_the_job_after_the_scripts_imports(tmp_path):
    """After every JAX script's imports, `start_job` with the job's `threads` still decides the
    size of XLA's CPU pool: a 3-thread job's process runs more threads than a 1-thread job's."""
    imports = sorted(
        {
            line
            for name in ("train", "ntk", "cosmology", "simulate")
            for line in (ROOT / "scripts" / f"{name}.py").read_text().splitlines()
            if line.startswith(("import ", "from "))
        }
    )
    log = str(tmp_path / "probe.log")
    probe = "\n".join(
        [
            *imports,
            "import re, sys, types",
            "from nncosmo.provenance import start_job",
            f"smk = types.SimpleNamespace(threads=int(sys.argv[1]), log=[{log!r}])",
            "start_job(smk, 'probe')",
            "jax.numpy.ones((256, 256)).sum().block_until_ready()",
            "print(re.search(r'Threads:\\s+(\\d+)', open('/proc/self/status').read()).group(1))",
        ]
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PJRT_NPROC", "NPROC")}
    counts = [
        int(
            subprocess.run(
                [sys.executable, "-c", probe, str(threads)],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            ).stdout
        )
        for threads in (1, 3)
    ]
    assert counts[1] > counts[0], counts


def test_dry_run_of_default_config():
    out = snakemake("-n", "--forceall", "--cores", "2", "--quiet", "rules")
    for rule in ("train", "ntk", "cosmology", "duality", "simulate", "claims", "figures"):
        assert rule in out.stdout


def planned_jobs(stdout: str) -> dict[str, int]:
    """Rule name -> job count from the job-stats table of a dry run."""
    rows = (line.split() for line in stdout.splitlines())
    return {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()}


def test_readme_f1_to_f6_command_plans_no_history_sweep_and_no_simulation():
    """README "Runtime of the default preset": F1-F6 and their claims alone, from scratch."""
    config = "figures={build: [F1, F2, F3, F4, F5, F6]}"
    out = snakemake("-n", "--forceall", "--cores", "2", "--config", config).stdout
    planned = planned_jobs(out)
    assert "simulate" not in planned and planned["claims"] == 1
    assert planned["figures_1"] == planned["figures_2"] == 1 and "figures_3" not in planned
    for stem in ("F1_background", "F6_phase_diagram"):
        assert f"results/figures/{stem}.png" in out
    assert "F7_histories" not in out and "F8_reverse" not in out
    # the same train jobs, without the history sweeps' runs (tests/test_config.py checks the runs)
    everything = snakemake("-n", "--forceall", "--cores", "2").stdout
    assert planned_jobs(everything)["simulate"] == 2
    assert planned_jobs(everything)["train"] == planned["train"]
    # the earlier stage first, and within a stage the widest chain first
    # (nncosmo.config.job_priorities)
    priorities = planned_priorities(out)
    chains = {job for _, job in priorities}
    assert max(priorities, key=priorities.get) == ("train", "dataset=teacher, job=w1024")
    stages = ("train", "ntk", "cosmology", "duality")
    for earlier, later in itertools.pairwise(stages):
        assert min(priorities[earlier, j] for j in chains) > max(
            priorities[later, j] for j in chains
        )
    order = lambda rule: sorted(chains, key=lambda job: priorities[rule, job])  # noqa: E731
    assert all(order(stage) == order("train") for stage in stages)


def test_manifest_of_an_f8_build_lists_the_network_data_set():
    """README "Simulate your own universe": F8 alone builds the network's data set; MANIFEST
    lists every result file (no trained job reads that data set)."""
    network = yaml.safe_load((ROOT / "config.yaml").read_text())["cosmologies"]["network"]
    out = snakemake("-n", "--forceall", "--cores", "2", "--config", "figures={build: [F8]}")
    inputs, _ = planned_files(out.stdout, "manifest")["manifest"]
    assert f"results/data/{network['dataset']}.nc" in inputs
    assert "train" not in planned_jobs(out.stdout)


def test_only_the_figures_job_drawing_f8_reads_the_simulations():
    """A changed target re-renders the job that draws F8, not the other (F1, F3, F5, F7), which
    reads the sweeps' stages alone; the F8 job reads those too for its F2, F4 and F6."""
    jobs = planned_files(snakemake("-n", "--forceall", "--cores", "2").stdout, "figures_")
    assert sorted(jobs) == ["figures_1", "figures_2"]
    for job, (inputs, outputs) in jobs.items():
        simulations = [f for f in inputs if f.startswith("results/simulate/")]
        draws_f8 = "results/figures/F8_reverse.png" in outputs
        assert len(simulations) == (2 if draws_f8 else 0), job
        assert "results/duality/teacher/w1024.nc" in inputs, job
    assert sum("results/figures/F8_reverse.png" in out for _, out in jobs.values()) == 1


def planned_files(stdout: str, prefix: str) -> dict[str, tuple[list[str], list[str]]]:
    """Rule name -> (inputs, outputs) of a dry run's jobs whose rule name starts with prefix."""
    found, rule = {}, None
    for line in stdout.splitlines():
        if line.startswith(("rule ", "localrule ")):
            name = line.split()[1].rstrip(":")
            rule = name if name.startswith(prefix) else None
            if rule:
                found[rule] = ([], [])
        elif rule and line.strip().startswith(("input:", "output:")):
            key, files = line.strip().split(": ", 1)
            found[rule][key == "output"].extend(files.split(", "))
    return found


def planned_priorities(stdout: str) -> dict[tuple[str, str], int]:
    """(rule, wildcards) -> priority of every job with wildcards in a dry run's output."""
    found, rule, wildcards = {}, None, None
    for line in stdout.splitlines():
        if line.startswith(("rule ", "localrule ")):
            rule, wildcards = line.split()[1].rstrip(":"), None
        elif line.strip().startswith("wildcards:"):
            wildcards = line.split(":", 1)[1].strip()
        elif line.strip().startswith("priority:") and wildcards:
            found[rule, wildcards] = int(line.split(":")[1])
    return found


def test_lint_of_default_config():
    snakemake("--lint")


def test_bad_config_stops_before_any_job(tmp_path):
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["sweeps"]["grid"]["eta"] = [-0.1]
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(
        "-s",
        str(ROOT / "Snakefile"),
        "-d",
        str(tmp_path),
        "--cores",
        "1",
        cwd=tmp_path,
        check=False,
    )
    assert proc.returncode != 0
    assert "eta" in proc.stdout + proc.stderr and "-0.1" in proc.stdout + proc.stderr
    assert not (tmp_path / "results").exists()


def test_a_nested_number_on_the_command_line_stops_with_the_way_out(tmp_path):
    """`--config 'training={chunk_runs: 1}'`: Snakemake hands the 1 over as text; the run stops
    before any job, naming the key and the --configfile way to give it."""
    proc = snakemake(
        *("-s", str(ROOT / "Snakefile"), "-d", str(tmp_path), "--cores", "1", "-n"),
        *("--configfile", str(ROOT / "config.yaml"), "--config", "training={chunk_runs: 1}"),
        cwd=tmp_path,
        check=False,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "config key 'training.chunk_runs' = '1' is invalid" in output, output
    assert "give it unquoted in a file passed with --configfile" in output, output
    assert not (tmp_path / "results").exists()


def run_tiny_preset(workdir: Path, **overrides) -> Path:
    """The whole pipeline on the tiny preset (top-level keys replaced by `overrides`) in
    `workdir`, as its own config.yaml; returns `workdir`."""
    config = yaml.safe_load((ROOT / "workflow" / "presets" / "tiny.yaml").read_text())
    (workdir / "config.yaml").write_text(yaml.safe_dump({**config, **overrides}))
    snakemake("-s", str(ROOT / "Snakefile"), "-d", str(workdir), "--cores", "2", cwd=workdir)
    return workdir


@pytest.fixture(scope="module")
def tiny_run(finished_tiny_run):
    """The README command's run of the tiny preset (conftest.py), shared with other modules."""
    workdir = finished_tiny_run
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    validate(config, str(ROOT / "workflow" / "schemas" / "config.schema.yaml"))  # fills defaults
    return workdir / "results", config


def test_end_to_end_outputs_exist(tiny_run):
    results, _ = tiny_run
    for stem in (
        "F1_background",
        "F2_ntk",
        "F3_lambda",
        "F4_perturbations",
        "F5_width",
        "F6_phase_diagram",
        "F7_histories",
        "F8_reverse",
    ):
        for ext in ("png", "pdf"):
            path = results / "figures" / f"{stem}.{ext}"
            assert path.stat().st_size > 10_000, path


def test_end_to_end_datasets_have_documented_variables(tiny_run):
    results, config = tiny_run
    files = {stage: sorted((results / stage).rglob("*.nc")) for stage in DOCUMENTED}
    assert all(files.values()), files
    for stage, variables in DOCUMENTED.items():
        for path in files[stage]:
            ds = read_dataset(path, variables)
            provenance = json.loads(ds.attrs["provenance"])
            assert provenance["config"] == config
            assert {"commit", "dirty"} <= provenance["git"].keys()
            assert {"seed", "seeds"} & provenance.keys(), (path, "no seed in the provenance")
            if stage in ("train", "ntk", "simulate"):  # README "Reproducibility"
                assert provenance["runtime"]["network_matmul_precision"] == "HIGHEST", path
            for name, variable in ds.variables.items():  # data variables and coordinates
                assert {"long_name", "units"} <= variable.attrs.keys(), (path, name)
                assert variable.attrs["units"] == UNITS.get(name, variable.attrs["units"]), name
            if stage == "simulate":  # its physical scalars are attributes: their units as JSON
                units = json.loads(ds.attrs["attribute_units"])
                numeric = {k for k, v in ds.attrs.items() if isinstance(v, (int, float, np.number))}
                assert numeric == units.keys(), (path, numeric ^ units.keys())
                assert {units[k] for k in ("mass", "dt", "kappa0")} == {"1/t", "t", "1/tau^2"}


# One quantity, one unit in every file that holds it (docs/physics.md §1: tau, eta in tau^2,
# H in 1/tau and kappa = lambda / N in 1/tau^2)
UNITS = {"tau": "tau", "kappa": "1/tau^2", "kappa_measured": "1/tau^2", "eigenvalue": "1/tau^2"}
UNITS |= {"window_tau": "tau", "kappa_tau": "tau", "field": "1", "history_field": "1"}
UNITS |= {"eta": "tau^2", "eta_n": "tau^2", "loss_scale": "tau^2/t^2"}


def test_end_to_end_files_are_readable_by_group_and_others(tiny_run):
    results, _ = tiny_run
    umask = os.umask(0)
    os.umask(umask)
    for path in results.rglob("*.nc"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path


def test_end_to_end_training_logs_its_progress(tiny_run):
    """Ten progress lines ending at 100 % in the last chunk's last step, the diverged run named
    by its settings (the edge sweep's eta = 4), and the XLA threads the job was given."""
    results, config = tiny_run
    steps = config["training"]["steps"]
    log = (results / "logs" / "train" / "teacher" / "w32.log").read_text()
    line = r"(\d+) % of the job \(chunk (\d+)/(\d+) at step (\d+)/(\d+)\), [\d.]+ s"
    progress = re.findall(line, log)
    assert len(progress) == 10, log
    share, chunk, chunks, step, last = progress[-1]
    assert (share, step, last) == ("100", str(steps), str(steps)) and chunk == chunks
    assert re.search(r"diverged runs: eta=4 beta=[\d.]+ seed=\d+", log), log
    assert "XLA CPU threads 1)" in log  # the job's Snakemake threads (provenance.start_job)


def test_end_to_end_diverged_run_is_flagged_downstream(tiny_run):
    results, _ = tiny_run
    ntk = read_dataset(results / "ntk" / "teacher" / "w32.nc")
    duality = read_dataset(results / "duality" / "teacher" / "w32.nc")
    diverged = ntk.diverged.values
    assert diverged.any(), "the tiny preset's edge sweep (eta = 4) must diverge"
    assert (duality.fit_status.values[diverged] == 1).all()
    assert (duality.diverged.values == diverged).all()


def test_end_to_end_claims_are_well_formed(tiny_run):
    results, _ = tiny_run
    doc = json.loads((results / "claims.json").read_text())
    assert doc["total"] == len(doc["claims"]) > 0
    for verdict in ("pass", "fail", "untestable"):
        assert doc[verdict] == sum(c["verdict"] == verdict for c in doc["claims"])
    figures = {c["figure"] for c in doc["claims"]}
    assert figures == {"F1", "F2", "F3", "F4", "F5", "F6", "F7", "F8"}
    for claim in doc["claims"]:
        assert {"id", "statement", "measured", "tolerance", "verdict", "reason"} <= claim.keys()
        if claim["verdict"] == "untestable":
            assert claim["measured"] is None and claim["reason"], claim
        elif claim["measured"] is None:  # a fail whose measured quantity does not exist
            assert claim["verdict"] == "fail" and claim["reason"], claim
        else:  # a fail judged on an interval that straddles the range says so
            assert np.isfinite(claim["measured"]), claim
            inconclusive = claim["verdict"] == "fail" and claim["interval"] is not None
            assert claim["reason"] is None or inconclusive, claim
    table = (results / "claims.tsv").read_text().splitlines()
    assert len(table) == doc["total"] + 1


def test_end_to_end_simulates_the_chosen_universes(tiny_run):
    """F8 on the tiny preset: each target trained with settings whose exact image is the target
    (H(t_n) and m^2 to 1e-10), the network's field within F8-field's 0.1 % of the integrated
    one (the lattice's own error for a time-dependent H dominates)."""
    results, config = tiny_run
    doc = {c["id"]: c for c in json.loads((results / "claims.json").read_text())["claims"]}
    for name, target in config["cosmologies"]["targets"].items():
        ds = read_dataset(results / "simulate" / f"{name}.nc")
        assert ds.sizes["step"] == target["steps"] + 1
        np.testing.assert_allclose(ds.H_image, ds.H[:-1], rtol=1e-10)
        np.testing.assert_allclose(ds.m2_image, target["mass"] ** 2, rtol=1e-10)
        error = np.max(np.abs(ds.phi_network - ds.phi_target)) / abs(target["phi0"])
        claim = doc[f"F8-field-{name}"]
        assert error < SIMULATION_ACCURACY and claim["measured"] == pytest.approx(error)
        assert claim["verdict"] == "pass"
        assert ds.kappa.size and ds.attrs["kappa_drift"] < 1e-3


@pytest.fixture(scope="module")
def second_tiny_run(tmp_path_factory, tiny_run):
    """The tiny preset again, in a fresh directory seeded with the first run's compilation cache
    (compiled executables only), so that test_two_clean_runs_agree_within_tolerance also
    compares results computed with and without cached executables."""
    workdir = tmp_path_factory.mktemp("tiny_again")
    shutil.copytree(tiny_run[0] / ".jax_cache", workdir / "results" / ".jax_cache")
    return run_tiny_preset(workdir)


def load_results(results: Path, config: dict, stages=STAGES) -> Results:
    """`Results.load` of a finished run's data sets and the files of `stages`, as a figures or
    claims job reads them."""
    files = {s: sorted((results / s).rglob("*.nc")) for s in ("data", *stages)}
    return Results.load(SimpleNamespace(**files), config)


def tiny_claims(results: Path, config: dict) -> dict[str, dict]:
    """The claims measured on a finished tiny run's files under `config`, keyed by id."""
    return {c.id: asdict(c) for c in all_claims(load_results(results, config))}


def test_claims_of_figures_not_built_are_absent(tiny_run):
    results, config = tiny_run
    loaded = load_results(results, config)
    f1_to_f6 = ["F1", "F2", "F3", "F4", "F5", "F6"]
    shown = lambda claims: [(c.id, c.figure, c.verdict, c.measured) for c in claims]  # noqa: E731
    every = shown(all_claims(loaded))
    built = shown(all_claims(loaded, f1_to_f6))
    assert built == [c for c in every if c[1] in f1_to_f6]
    assert {c[1] for c in built} == set(f1_to_f6) and {c[1] for c in every} > set(f1_to_f6)


def test_jobs_share_a_persistent_compilation_cache(tiny_run, second_tiny_run):
    """The first run filled results/.jax_cache; the second started with a copy of it (fixture;
    copytree keeps mtimes) and rewrote none of its entries: a miss compiles and stores the program
    again, a hit loads it. (It may add entries: programs that took over the 0.1 s threshold to
    compile only this time, under other load.) The integrator's traced programs (programs/,
    nncosmo.programs) are kept the same way: stored by the first run, loaded by the second.
    MANIFEST does not list the cache."""
    first, _ = tiny_run
    cache = second_tiny_run / "results" / ".jax_cache"
    for folder in ("", "programs"):
        stored = {p.name: p.stat().st_mtime_ns for p in (first / ".jax_cache" / folder).iterdir()}
        again = {p.name: p.stat().st_mtime_ns for p in (cache / folder).iterdir()}
        assert stored and {name: again.get(name) for name in stored} == stored
    assert ".jax_cache" not in (first / "MANIFEST").read_text()


def test_claims_the_tiny_preset_cannot_test_are_untestable(tiny_run):
    """Two widths, two eta and two beta values, three checkpoints: no slope (F2 drift, F3, the
    F5 width slopes); two seeds give the overlap's bootstrap interval; kappa measured at every
    step on a 2 x 2 grid tests the drift laws (F4-redshift, F4-law-*), pass or fail."""
    results, _ = tiny_run
    claims = json.loads((results / "claims.json").read_text())["claims"]
    verdicts = {c["id"]: (c["verdict"], c["reason"]) for c in claims}
    slopes = [
        c["id"] for c in claims if c["id"].startswith("F5-teacher-") and "infinite" not in c["id"]
    ]
    assert len(slopes) == 3  # the NTK drift's slope is F2-drift-teacher
    for claim_id in ("F2-drift-teacher", "F3-slope", "F3-continuum-order", *slopes):
        verdict, reason = verdicts[claim_id]
        assert verdict == "untestable" and "needs at least" in reason, (claim_id, reason)
    for law in ("redshift", "relaxation", "backreaction"):
        assert verdicts[f"F4-law-{law}"][0] in ("pass", "fail"), verdicts[f"F4-law-{law}"]
    assert verdicts["F4-redshift"][0] in ("pass", "fail"), verdicts["F4-redshift"]
    overlap = next(c for c in claims if c["id"] == "F2-overlap-teacher")
    assert overlap["verdict"] in ("pass", "fail") and len(overlap["interval"]) == 2


def test_one_width_and_one_eta_make_claims_untestable_not_passing(tiny_run):
    """The runs of a one-width sweep and a one-eta grid: F5 and F3 claims are untestable."""
    results, config = tiny_run
    small = copy.deepcopy(config)
    small["sweeps"]["width"]["widths"] = [32]
    small["sweeps"]["grid"]["eta"] = [0.1]
    claims = tiny_claims(results, small)
    f5 = [c for c in claims.values() if c["figure"] == "F5"]
    assert f5 and all(c["verdict"] == "untestable" for c in f5)
    assert all("only 1 widths" in c["reason"] for c in f5)
    assert claims["F3-slope"]["verdict"] == "untestable"
    assert claims["F1-exact"]["verdict"] in ("pass", "fail")  # one eta still tests F1


def assert_same_claims(first: list[dict], second: list[dict], **tolerance) -> None:
    """Two claims lists have the same ids and verdicts, and measured values within tolerance."""
    assert [(c["id"], c["verdict"]) for c in first] == [(c["id"], c["verdict"]) for c in second]
    for a, b in zip(first, second, strict=True):
        if a["measured"] is not None:
            np.testing.assert_allclose(b["measured"], a["measured"], err_msg=a["id"], **tolerance)


# float32 training on the CPU is deterministic run to run here; the tolerance leaves room for
# XLA choosing another reduction order (thread count, library version): 1e-5 relative on float32
# outputs, propagated through fits of trajectories that decay over three decades.
RTOL, ATOL = 1e-5, 1e-9


def test_two_clean_runs_agree_within_tolerance(tiny_run, second_tiny_run):
    first, _ = tiny_run
    second = second_tiny_run / "results"
    for stage in DOCUMENTED:
        for path in sorted((first / stage).rglob("*.nc")):
            a = read_dataset(path).drop_attrs()
            b = read_dataset(second / path.relative_to(first)).drop_attrs()
            xr.testing.assert_allclose(a, b, rtol=RTOL, atol=ATOL)
    claims = [json.loads((r / "claims.json").read_text())["claims"] for r in (first, second)]
    assert_same_claims(*claims, rtol=RTOL, atol=ATOL)


@pytest.fixture(scope="module")
def split_tiny_run(finished_split_tiny_run):
    """The tiny preset with one training job per (dataset, width, seed) (conftest.py)."""
    return finished_split_tiny_run / "results"


# A split job vmaps fewer runs, so XLA picks other matmul kernels and float32 rounding differs
# (measured: at most 1.2e-5 of a variable's largest value, in the NTK eigenvectors). Compared on
# that scale, 1e-4 is ~1000 float32 epsilons. Diverged runs amplify any rounding difference
# exponentially; for them only the flag is compared.
SPLIT_TOL = 1e-4


def assert_close_on_scale(a: xr.Dataset, b: xr.Dataset, tol: float) -> None:
    """Every float variable of the finite runs agrees to `tol` times its largest magnitude."""
    np.testing.assert_array_equal(a.diverged.values, b.diverged.values)
    finite = ~a.diverged.values
    for name, var in a.data_vars.items():
        if "run" in var.dims and var.dtype.kind == "f":
            x, y = var.isel(run=finite).values, b[name].isel(run=finite).values
            scale = np.nanmax(np.abs(x), initial=0.0)
            np.testing.assert_allclose(y, x, rtol=0, atol=tol * scale, err_msg=name)


def test_split_run_agrees_with_unsplit_run(tiny_run, split_tiny_run):
    """Splitting jobs changes the files, not the results: merged datasets and claims agree."""
    whole, _ = tiny_run
    assert len(list((split_tiny_run / "train").rglob("*.nc"))) > len(
        list((whole / "train").rglob("*.nc"))
    )
    for stage in ("train", "ntk", "cosmology", "duality"):
        a = load_stage(sorted((whole / stage).rglob("*.nc")))
        b = load_stage(sorted((split_tiny_run / stage).rglob("*.nc")))
        assert a.keys() == b.keys()
        for key in a:
            assert_close_on_scale(a[key], b[key], SPLIT_TOL)
    claims = [
        json.loads((r / "claims.json").read_text())["claims"] for r in (whole, split_tiny_run)
    ]
    assert_same_claims(*claims, rtol=SPLIT_TOL)


def test_failing_claims_in_error_mode_fail_the_run_keeping_claims_and_results(second_tiny_run):
    """claims.on_failure: error fails the run in its last job (manifest), after every other job
    (figures included): claims.json and claims.tsv stay to be read, MANIFEST is not written, and
    the log names the failing claims."""
    results = second_tiny_run / "results"
    assert any(
        c["verdict"] == "fail" for c in json.loads((results / "claims.json").read_text())["claims"]
    ), "the tiny preset is expected to fail some claims"
    before = {p: p.stat().st_mtime for p in results.rglob("*.nc")}
    figure = results / "figures" / "F1_background.png"
    figure.unlink()  # rebuilt before the run fails
    proc = snakemake(
        "-s",
        str(ROOT / "Snakefile"),
        "-d",
        str(second_tiny_run),
        "--cores",
        "1",
        "--prioritize",
        "claims",
        "--config",
        "claims={'on_failure': 'error'}",
        cwd=second_tiny_run,
        check=False,
    )
    assert proc.returncode != 0
    claims = json.loads((results / "claims.json").read_text())["claims"]
    failing = [c["id"] for c in claims if c["verdict"] == "fail"]
    log = (results / "logs" / "manifest.log").read_text()
    assert "failing claims" in log and all(claim in log for claim in failing[:3])
    assert (results / "claims.json").exists() and (results / "claims.tsv").exists()
    assert not (results / "MANIFEST").exists(), "MANIFEST certifies a run that succeeded"
    after = {p: p.stat().st_mtime for p in results.rglob("*.nc")}
    assert after == before
    assert figure.exists(), "a failing claims job must not stop the figures"


def job_counts(stdout: str) -> dict[str, int]:
    """Rule name -> job count from the stats table of a dry run."""
    rows = (line.split() for line in stdout.splitlines())
    return {row[0]: int(row[1]) for row in rows if len(row) == 2 and row[1].isdigit()}


def test_slurm_profile_dry_run_resolves_every_job(tmp_path):
    args = ["-n", "--forceall", "--workflow-profile", "profiles/slurm", "--quiet", "rules"]
    counts = job_counts(snakemake(*args).stdout)
    for rule in ("train", "ntk", "cosmology", "duality", "claims", "manifest"):
        assert counts.get(rule, 0) >= 1, rule
    (tmp_path / "split.yaml").write_text("split_by: [dataset, width, seed]\n")
    split = job_counts(snakemake(*args, "--configfile", str(tmp_path / "split.yaml")).stdout)
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    seeds = {s for sweep in config["sweeps"].values() for s in sweep["seeds"]}
    assert counts["train"] < split["train"] <= counts["train"] * len(seeds)
    assert split["ntk"] == split["cosmology"] == split["duality"] == split["train"]


class ReadSettings(dict):
    """A settings mapping that records the keys read from it (by [] or .get)."""

    def __init__(self, settings: dict):
        super().__init__(settings)
        self.read = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.read.add(key)
        return super().get(key, default)


@pytest.mark.parametrize("fig", FIGURE_IDS)
def test_each_figure_reads_the_settings_its_job_is_rerun_for(tiny_run, fig):
    """Each figure of the tiny run, drawn from its files as scripts/figures.py draws it (with only
    its job's settings, `figure_settings`: reading another raises KeyError), reads exactly the
    figures.* settings that FIGURE_READS declares (dpi is read by the script): one it read but did
    not declare would leave its figure stale when that setting changes."""
    from nncosmo.figures import FIGURES, plt

    results, config = tiny_run
    config = {**config, "figures": ReadSettings(figure_settings(config, [fig]))}
    plt.close(FIGURES[fig](load_results(results, config, (*STAGES, "simulate"))))
    assert config["figures"].read == set(FIGURE_READS[fig])
    assert set(config["figures"]) == {"dpi", *FIGURE_READS[fig]}


def test_f1_shows_three_dictionaries_and_claims_the_adiabatic_one(tiny_run):
    """F1 of the tiny run draws network points and the three dictionaries' fields; claims.json
    has F1-adiabatic with a verdict."""
    from nncosmo.figures import figure_background

    results, config = tiny_run
    fig = figure_background(load_results(results, config))
    labels = {line.get_label() for ax in fig.axes for line in ax.get_lines()}
    assert {f"{d} dictionary" for d in ("exact", "adiabatic", "continuum")} <= labels
    claims = json.loads((results / "claims.json").read_text())["claims"]
    assert {c["id"]: c["verdict"] for c in claims}["F1-adiabatic"] in ("pass", "fail")
