"""Faults lose nothing: corrupt files get clear errors, writes are atomic, a killed run resumes
with the README's own command, and a changed or missing result is rebuilt with what follows it."""

import hashlib
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import jax
import numpy as np
import pytest
import xarray as xr
from userdir import (
    assert_manifest_is_true,
    assert_same_results,
    copy_workflow,
    readme_command,
    run_readme_command,
)

from nncosmo import locks, provenance, theory
from nncosmo.io import (
    COORDINATE_ATTRS,
    CorruptDatasetError,
    MissingVariableError,
    load_stage,
    read_dataset,
    write_atomically,
    write_dataset,
)
from nncosmo.manifest import (
    check_manifest,
    failing_claims,
    invocation,
    read_manifest,
    write_manifest,
)
from nncosmo.provenance import config_hash, git_state, runtime_state, stage_logger, start_job


def small_dataset():
    return xr.Dataset({"a": ("x", np.arange(5.0), {"long_name": "a", "units": "1"})})


def test_truncated_file_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "broken.nc"
    write_dataset(small_dataset(), path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CorruptDatasetError, match="broken.nc") as err:
        read_dataset(path)
    assert "Delete it and rerun" in str(err.value)


@pytest.mark.parametrize("error", [MemoryError, PermissionError])
def test_a_sound_file_that_cannot_be_read_here_is_not_called_corrupt(tmp_path, monkeypatch, error):
    """Memory or the file's mode, not its content: the advice to delete it would lose a result."""
    path = write_dataset(small_dataset(), tmp_path / "sound.nc")

    def refuse(*args, **kwargs):
        raise error("refused")

    monkeypatch.setattr(xr, "open_dataset", refuse)
    with pytest.raises(error, match="refused"):
        read_dataset(path)


def test_missing_variable_is_reported(tmp_path):
    path = write_dataset(small_dataset(), tmp_path / "ok.nc")
    with pytest.raises(MissingVariableError, match="'b'"):
        read_dataset(path, ["a", "b"])


def test_failed_write_leaves_no_file(tmp_path):
    path = tmp_path / "out.nc"
    bad = small_dataset().assign_attrs(unserialisable={"a": 1})  # netCDF attrs cannot be dicts
    with pytest.raises(Exception):  # noqa: B017 - whatever the backend raises
        write_dataset(bad, path)
    assert list(tmp_path.iterdir()) == []


def test_a_write_that_fails_midway_leaves_no_temporary_file(tmp_path):
    def half_written(tmp):
        tmp.write_bytes(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(tmp_path / "r.png", half_written)
    assert list(tmp_path.iterdir()) == []


def test_a_missing_result_file_names_the_file_and_the_fix(tmp_path):
    with pytest.raises(FileNotFoundError, match="absent.nc: no such result file; run the pipeline"):
        read_dataset(tmp_path / "absent.nc")


def test_optional_variables_are_read_where_the_file_has_them(tmp_path):
    ds = small_dataset().assign(b=small_dataset().a + 1, c=small_dataset().a + 2)
    path = write_dataset(ds, tmp_path / "r.nc")
    back = read_dataset(path, ["a"], optional=["b", "absent"])
    assert sorted(back.data_vars) == ["a", "b"]


def test_written_runs_record_their_seeds_in_the_provenance(tmp_path):
    ds = xr.Dataset({"f": ("run", [1.0, 2.0])}, coords={"run": [0, 1], "seed": ("run", [4, 5])})
    back = read_dataset(write_dataset(ds, tmp_path / "r.nc", {"stage": "train"}))
    assert json.loads(back.attrs["provenance"]) == {"seeds": [4, 5], "stage": "train"}


WRITERS = {  # every result goes through write_atomically: datasets, figures, claims, MANIFEST
    "r.nc": lambda path: write_dataset(small_dataset(), path),
    "r.png": lambda path: write_atomically(path, lambda tmp: tmp.write_bytes(b"png")),
}


@pytest.mark.parametrize("name", WRITERS)
def test_temporary_files_of_a_killed_writer_are_removed(tmp_path, name):
    killed = tmp_path / f".{name}.0123abcd.tmp"  # what a writer killed mid-write leaves
    killed.write_bytes(b"partial")
    other = tmp_path / ".other.nc.0123abcd.tmp"  # another output's: not this write's business
    other.write_bytes(b"partial")
    WRITERS[name](tmp_path / name)
    assert sorted(p.name for p in tmp_path.iterdir()) == [other.name, name]


def test_roundtrip_keeps_values_and_provenance(tmp_path):
    path = write_dataset(small_dataset(), tmp_path / "r.nc", {"seed": 3})
    back = read_dataset(path)
    xr.testing.assert_allclose(back.drop_attrs(), small_dataset().drop_attrs())
    assert '"seed": 3' in back.attrs["provenance"]


def test_provenance_records_the_precision_the_network_passes_to_its_matmuls(monkeypatch):
    """Not JAX's global default (None unless set): the precision models.PRECISION gives every
    product of the network, read when the record is written."""
    from nncosmo import models

    monkeypatch.setattr(models, "PRECISION", jax.lax.Precision.DEFAULT)
    assert runtime_state()["network_matmul_precision"] == "DEFAULT"
    monkeypatch.setattr(models, "PRECISION", jax.lax.Precision.HIGH)
    assert runtime_state()["network_matmul_precision"] == "HIGH"


def test_provenance_without_git_on_path_says_unknown(tmp_path, monkeypatch):
    """A machine without git (a container, say) still writes results: the commit is recorded as
    unknown instead of the job failing. (`__wrapped__`: past git_state's per-process cache, which
    an earlier test may have filled for this root.)"""
    repository = Path(__file__).resolve().parents[1]
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no git executable
    assert git_state.__wrapped__(str(repository)) == {"commit": "unknown", "dirty": None}


@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_written_file_gets_the_mode_of_a_new_file(tmp_path, umask, mode):
    """Like open(): 0o666 & ~umask, not the 0o600 of a private temporary file."""
    previous = os.umask(umask)
    try:
        path = write_dataset(small_dataset(), tmp_path / "shared.nc")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(path.stat().st_mode) == mode


def test_written_coordinates_get_long_name_and_units(tmp_path):
    ds = xr.Dataset(
        {"u": (("run", "step", "mode"), np.zeros((2, 3, 1)), {"long_name": "u", "units": "1"})},
        coords={
            "run": [0, 1],
            "step": [0, 1, 2],
            "mode": [0],
            "seed": ("run", [4, 5], {"long_name": "my seed"}),
        },
    )
    back = read_dataset(write_dataset(ds, tmp_path / "c.nc"))
    assert back.step.attrs == {"long_name": "training step n", "units": "step"}
    assert back.run.attrs == COORDINATE_ATTRS["run"]
    assert back.mode.attrs == COORDINATE_ATTRS["mode"]
    assert back.seed.attrs == {"long_name": "my seed", "units": "1"}  # its own name kept
    assert ds.step.attrs == {} and ds.seed.attrs == {"long_name": "my seed"}  # input untouched


def test_split_jobs_load_as_one_dataset(tmp_path):
    """Jobs of one (dataset, width) split along seed and eta merge back, sorted by run keys."""
    rng = np.random.default_rng(0)
    eta, seed = np.repeat([0.1, 0.2], 2), np.tile([0, 1], 2)
    whole = xr.Dataset(
        {
            "f": (("run", "step"), rng.normal(size=(4, 5))),
            "eta": ("run", eta),
            "beta": ("run", np.full(4, 0.9)),
            "seed": ("run", seed),
            "schedule": ("run", ["constant"] * 4),
            "x": ("sample", rng.normal(size=3)),
        },
        coords={"run": np.arange(4)},
        attrs={"n_samples": 3},
    )
    paths = []
    for i in (3, 1, 2, 0):  # written and listed out of order
        part = whole.isel(run=[i]).assign_coords(run=[0])
        name = f"w8_eta{eta[i]!r}_seed{seed[i]!r}.nc"
        paths.append(write_dataset(part, tmp_path / "teacher" / name))
    write_dataset(whole, tmp_path / "digits" / "w8.nc")
    loaded = load_stage([*paths, tmp_path / "digits" / "w8.nc"])
    assert sorted(loaded) == [("digits", 8), ("teacher", 8)]
    xr.testing.assert_identical(loaded[("teacher", 8)], loaded[("digits", 8)])
    xr.testing.assert_equal(loaded[("teacher", 8)], whole)  # written coords gain attrs


def test_two_split_jobs_merge_with_the_schedule_set_beta_first(tmp_path):
    """A power-law run (beta NaN: the schedule sets beta_n) sorts before a constant one of the
    same eta, as in the unsplit job (config.run_key); two parts are merged like four."""
    power_law = {"kind": "power_law", "p": 0.5, "tau0": 2.0, "hubble_step": 0.0}
    whole = xr.Dataset(
        {
            "f": (("run", "step"), [[1.0, 2.0], [3.0, 4.0]]),
            "eta": ("run", [0.1, 0.1]),
            "beta": ("run", [np.nan, 0.9]),
            "seed": ("run", [0, 0]),
            "schedule": ("run", [theory.schedule_label(power_law), "constant"]),
        },
        coords={"run": [0, 1]},
    )
    paths = [
        write_dataset(whole.isel(run=[i]).assign_coords(run=[0]), tmp_path / "t" / name)
        for i, name in ((1, "w8_beta0.9.nc"), (0, "w8_betaNone.nc"))  # constant listed first
    ]
    xr.testing.assert_equal(load_stage(paths)[("t", 8)], whole)


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def stale_lock(tmp_path, **owner) -> Path:
    """A .snakemake folder with a lock file and a holder record patched by `owner`."""
    smk = tmp_path / ".snakemake"
    (smk / "locks").mkdir(parents=True)
    (smk / "locks" / "0.output.lock").write_text("results/x.nc\n")
    locks.record_owner(smk)
    record = json.loads((smk / locks.OWNER_FILE).read_text())
    (smk / locks.OWNER_FILE).write_text(json.dumps({**record, **owner}))
    return smk


def test_lock_of_a_dead_run_is_cleared(tmp_path):
    smk = stale_lock(tmp_path, pid=dead_pid())
    assert "stale lock" in locks.clear_stale_lock(smk)
    assert not (smk / "locks").exists() and not (smk / locks.OWNER_FILE).exists()


@pytest.mark.parametrize(
    "owner",
    [{}, {"host": "another-host", "pid": 0}, {"start_time": None}],
    ids=["live holder", "other host", "live holder, start time unknown"],
)
def test_lock_of_a_live_or_foreign_run_is_kept(tmp_path, owner):
    owner = {"pid": os.getpid(), **owner} if "pid" not in owner else owner
    smk = stale_lock(tmp_path, **owner)
    assert locks.clear_stale_lock(smk) is None
    assert (smk / "locks" / "0.output.lock").exists()


def test_an_uncaught_error_of_a_job_lands_in_its_log_once(tmp_path):
    """A stage script that raises after `start_job`: the traceback is in the rule's log (which
    Snakemake's show-failed-logs prints), and on stderr once."""
    log = tmp_path / "logs" / "job.log"
    script = (
        "from types import SimpleNamespace\n"
        "from nncosmo.provenance import start_job\n"
        f"start_job(SimpleNamespace(threads=1, log=[{str(log)!r}]), 'stage')\n"
        "raise RuntimeError('the job broke')\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "job failed" in log.read_text() and "RuntimeError: the job broke" in log.read_text()
    assert proc.stderr.count("RuntimeError: the job broke") == 1


def test_lock_of_a_dead_cluster_run_is_kept_with_what_to_do(tmp_path):
    """A killed submitter of a cluster run (executor slurm) is dead here but its jobs may still run
    on the nodes: the lock stays, and the message says to cancel them, then unlock."""
    smk = stale_lock(tmp_path, pid=dead_pid(), local=False)
    message = locks.clear_stale_lock(smk)
    assert "scancel" in message and "--unlock" in message
    assert (smk / "locks" / "0.output.lock").exists() and (smk / locks.OWNER_FILE).exists()


def test_reused_pid_counts_as_dead(tmp_path):
    """Our own pid with another start time: the holder died and its pid was reused."""
    smk = stale_lock(tmp_path, pid=os.getpid(), start_time="1")
    assert locks.clear_stale_lock(smk) is not None


def test_lock_without_holder_record_is_kept(tmp_path):
    smk = stale_lock(tmp_path)
    (smk / locks.OWNER_FILE).unlink()
    assert locks.clear_stale_lock(smk) is None
    assert (smk / "locks").exists()


def test_an_empty_lock_folder_is_no_lock(tmp_path):
    """Snakemake removes its lock files on exit and keeps the folder."""
    smk = tmp_path / ".snakemake"
    (smk / "locks").mkdir(parents=True)
    assert not locks.locked(smk)
    (smk / "locks" / "0.input.lock").write_text("results/x.nc\n")
    assert locks.locked(smk)


def test_job_processes_that_ignore_sigterm_are_killed(tmp_path):
    script = tmp_path / ".snakemake" / "scripts" / "tmpjob.py"
    script.parent.mkdir(parents=True)
    script.write_text(
        "import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "print('ready', flush=True)\ntime.sleep(60)\n"
    )
    job = subprocess.Popen([sys.executable, str(script.resolve())], stdout=subprocess.PIPE)
    try:
        job.stdout.readline()  # SIGTERM is ignored from here on
        assert locks.stop_job_processes(tmp_path / ".snakemake", grace_s=0.5) == [job.pid]
        assert job.wait(timeout=5) == -signal.SIGKILL
    finally:
        job.kill()
        job.wait()


# Kill scenarios, each through the README's command in a user's directory: SIGKILL of the
# snakemake process alone (its job processes survive it) while a training job runs, and of its
# whole process group while the first figures job runs (half-written PNG/PDF files).
KILLS = [("snakemake alone", "train"), ("process group", "figures_1")]


def wait_for_stage(workdir: Path, stage: str, proc, timeout: float = 300.0) -> None:
    """Return once a job of `stage` has started (its log file exists: logs/<stage>/... or, for a
    stage of one job, logs/<stage>.log) in the running `proc`."""
    logs, deadline = workdir / "results" / "logs", time.time() + timeout
    while not ((logs / f"{stage}.log").exists() or any(logs.glob(f"{stage}/**/*.log"))):
        assert proc.poll() is None and time.time() < deadline, f"no {stage} job started"
        time.sleep(0.1)
    time.sleep(0.5)  # inside the job: imports and compilation take seconds


@pytest.mark.parametrize(("kill", "stage"), KILLS, ids=[f"{k}, {s}" for k, s in KILLS])
def test_killed_run_completes_with_the_same_command(tmp_path, finished_tiny_run, kill, stage):
    workdir = copy_workflow(tmp_path / "user")
    proc = readme_command(workdir, start_new_session=True)
    wait_for_stage(workdir, stage, proc)
    if kill == "snakemake alone":
        os.kill(proc.pid, signal.SIGKILL)
    else:
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (workdir / "results" / "MANIFEST").exists(), "killed before the end"
    assert any((workdir / ".snakemake" / "locks").iterdir()), "SIGKILL leaves the lock"
    orphans = locks.job_processes(workdir / ".snakemake")
    assert bool(orphans) == (kill == "snakemake alone"), orphans

    output = run_readme_command(workdir)

    assert "removed the stale lock of a killed run" in output
    # An orphan may finish on its own before the rerun looks (the short simulate and data jobs
    # do): the rerun stops what still runs, never anything when nothing was orphaned.
    assert "stopped its" not in output or orphans
    assert locks.job_processes(workdir / ".snakemake") == []
    assert_same_results(workdir / "results", finished_tiny_run / "results")
    assert_manifest_is_true(workdir / "results")


def finished_outputs(log: str, rule: str) -> list[str]:
    """The outputs of the jobs of `rule` that Snakemake's log reports finished."""
    block = rf"rule {rule}:\n(?:.*\n)*?\s+output: (\S+)\n(?:.*\n)*?\s+jobid: (\d+)"
    jobs = {jobid: output for output, jobid in re.findall(block, log)}
    return [jobs[j] for j in re.findall(rf"Finished jobid: (\d+) \(Rule: {rule}\)", log)]


def test_a_rerun_killed_after_some_jobs_keeps_what_they_finished(tmp_path, finished_tiny_run):
    """A finished run, a changed duality key, the rerun killed once a duality job has finished:
    the same command then finishes the work without taking that job's file for a hand edit (the
    killed run removed MANIFEST before its first job, so nothing is compared with the stale one)
    and keeps it; MANIFEST is true at the end."""
    workdir = tmp_path / "user"
    shutil.copytree(finished_tiny_run, workdir, symlinks=True)
    (workdir / "overlay.yaml").write_text("duality: {fit_rel_floor: 2.0e-3}\n")
    proc = readme_command(workdir, "--configfile", "overlay.yaml", start_new_session=True)
    deadline = time.time() + 300
    while not (done := finished_outputs(proc.output.read_text(), "duality")):
        assert proc.poll() is None and time.time() < deadline, "no duality job finished"
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (workdir / "results" / "MANIFEST").exists(), "removed before the first job"
    finished = {path: (workdir / path).stat().st_mtime_ns for path in done}

    output = run_readme_command(workdir, "--configfile", "overlay.yaml")

    assert "since MANIFEST was written" not in output, output
    kept = {path: (workdir / path).stat().st_mtime_ns for path in done}
    assert kept == finished, "a finished job's file was rebuilt"
    assert_manifest_is_true(workdir / "results")


def test_changed_or_missing_result_is_rebuilt_with_everything_downstream(
    tmp_path, finished_tiny_run
):
    workdir = tmp_path / "user"
    shutil.copytree(finished_tiny_run, workdir, symlinks=True)
    results = workdir / "results"
    truncated, deleted = results / "train/teacher/w32.nc", results / "ntk/teacher/w16.nc"
    truncated.write_bytes(truncated.read_bytes()[:1000])
    deleted.unlink()
    downstream = [results / "duality/teacher/w32.nc", results / "duality/teacher/w16.nc"]
    before = {p: p.stat().st_mtime_ns for p in downstream}

    summary = run_readme_command(workdir, "--summary")  # runs no job: checks nothing
    assert "since MANIFEST was written" not in summary
    assert truncated.exists() and (results / "MANIFEST").exists(), "--summary removes nothing"

    dry = run_readme_command(workdir, "-n")
    assert "results/train/teacher/w32.nc changed since MANIFEST was written" in dry
    assert "results/ntk/teacher/w16.nc is missing since MANIFEST was written" in dry
    assert truncated.exists() and (results / "MANIFEST").exists(), "a dry run removes nothing"

    output = run_readme_command(workdir)

    assert (
        "results/train/teacher/w32.nc changed since MANIFEST was written; removed, "
        "it is rebuilt with everything downstream"
    ) in output
    assert "results/ntk/teacher/w16.nc is missing since MANIFEST was written" in output
    assert all(p.stat().st_mtime_ns > t for p, t in before.items()), "downstream rebuilt"
    assert_same_results(results, finished_tiny_run / "results")
    assert_manifest_is_true(results)
    assert "Nothing to be done" in run_readme_command(workdir, "-n")


def manifest_of_one_file(tmp_path) -> tuple[Path, Path]:
    """A result file of 4 bytes and the MANIFEST that lists it."""
    result, manifest = tmp_path / "r.nc", tmp_path / "MANIFEST"
    result.write_bytes(b"abcd")
    record = dict.fromkeys(("config_hash", "git", "packages", "runtime"))
    write_manifest(manifest, [str(result)], record)
    return result, manifest


def test_a_touched_result_is_kept_and_a_same_size_edit_is_removed(tmp_path):
    """Size or mtime changed: the sha256 decides; the same bytes with another mtime are kept."""
    result, manifest = manifest_of_one_file(tmp_path)
    os.utime(result, ns=(10**9, 10**9))
    assert check_manifest(manifest) == [] and result.exists() and manifest.exists()
    result.write_bytes(b"abce")
    os.utime(result, ns=(2 * 10**9, 2 * 10**9))
    assert check_manifest(manifest) == [
        f"{result} changed since MANIFEST was written; removed, "
        "it is rebuilt with everything downstream"
    ]
    assert not result.exists() and not manifest.exists()


def test_a_missing_result_is_reported_as_missing_not_as_removed(tmp_path):
    result, manifest = manifest_of_one_file(tmp_path)
    result.unlink()
    assert check_manifest(manifest) == [
        f"{result} is missing since MANIFEST was written; it is rebuilt with everything downstream"
    ]
    assert not manifest.exists()


def test_config_hash_ignores_the_order_of_keys_only():
    config = {"training": {"steps": 400, "dtype": "float32"}, "model": {"depth": 2}}
    reordered = {"model": {"depth": 2}, "training": {"dtype": "float32", "steps": 400}}
    assert config_hash(config) == config_hash(reordered)
    assert config_hash(config) != config_hash({**config, "model": {"depth": 3}})


def test_a_rerun_overwrites_the_stage_log_and_writes_each_line_once(tmp_path):
    path = tmp_path / "logs" / "ntk.log"
    stage_logger(path, "test.rerun").info("first run")
    stage_logger(path, "test.rerun").info("rerun")
    (line,) = path.read_text().splitlines()
    assert line.endswith(" nncosmo.test.rerun: rerun")


def test_a_job_sizes_the_cpu_thread_pool_to_its_snakemake_threads(tmp_path, monkeypatch):
    monkeypatch.setenv("PJRT_NPROC", "1")  # restored after the test
    start_job(SimpleNamespace(threads=5, log=[str(tmp_path / "job.log")]), "test.threads")
    assert os.environ["PJRT_NPROC"] == "5"


@pytest.mark.parametrize(
    ("argv", "mode"),
    [
        (["--cores", "2"], "run"),
        (["--cores", "2", "-n"], "dry-run"),
        (["--cores", "2", "--report", "r.zip"], "other"),
        (["--lint"], "other"),
        (["--cores", "2", "--summary"], "other"),
        (["--unlock"], "other"),
        (["--cores", "2", "--touch"], "other"),
        (["--cores", "2", "--dag"], "other"),
        (["--no-such-flag"], "other"),
    ],
)
def test_invocation_tells_runs_from_commands_that_run_no_job(argv, mode):
    assert invocation(argv) == mode


def test_only_failing_claims_fail_the_run_and_only_in_error_mode():
    """claims.on_failure: "error" fails the run on each `fail` (an `untestable` claim is not a
    failure of the physics), "warn" on none."""
    doc = {
        "claims": [
            {"id": "F1-a", "verdict": "pass"},
            {"id": "F2-b", "verdict": "fail"},
            {"id": "F3-c", "verdict": "untestable"},
            {"id": "F4-d", "verdict": "fail"},
        ]
    }
    assert failing_claims(doc, "error") == ["F2-b", "F4-d"]
    assert failing_claims(doc, "warn") == []


def test_a_data_variable_named_like_a_coordinate_keeps_its_own_attributes(tmp_path):
    """Only coordinates get `COORDINATE_ATTRS`: a data variable `eta` is not a learning rate."""
    ds = xr.Dataset({"eta": ("x", [1.0, 2.0])}, coords={"x": [0, 1]})
    back = read_dataset(write_dataset(ds, tmp_path / "r.nc"))
    assert back.eta.attrs == {}


def test_a_seed_that_is_not_per_run_is_not_recorded_as_the_runs_seeds(tmp_path):
    ds = xr.Dataset({"x": ("sample", [1.0, 2.0])}, coords={"seed": 7})
    back = read_dataset(write_dataset(ds, tmp_path / "data.nc", {"stage": "data"}))
    assert json.loads(back.attrs["provenance"]) == {"stage": "data"}


def open_handles(path: Path) -> int:
    """How many file descriptors of this process point to `path`."""
    count = 0
    for fd in Path("/proc/self/fd").iterdir():
        try:
            count += os.readlink(fd) == str(path)
        except OSError:  # the descriptor closed meanwhile (e.g. the one listing the folder)
            continue
    return count


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")
def test_a_read_closes_the_file_unless_lazy(tmp_path):
    """A loaded dataset holds no handle on its file; a lazy one keeps it open to read later."""
    path = write_dataset(small_dataset(), tmp_path / "r.nc").resolve()
    loaded = read_dataset(path)
    assert open_handles(path) == 0
    lazy = read_dataset(path, lazy=True)
    assert open_handles(path) >= 1
    np.testing.assert_array_equal(lazy.a.values, loaded.a.values)
    lazy.close()


def git(root: Path, *args: str) -> str:
    identity = ["-c", "user.name=t", "-c", "user.email=t@example.org"]
    out = subprocess.run(["git", "-C", str(root), *identity, *args], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_provenance_names_the_commit_and_whether_tracked_files_changed(tmp_path):
    """Untracked files (results/, logs) do not make the tree dirty; an edited tracked file does."""
    git(tmp_path, "init", "-q")
    (tmp_path / "code.py").write_text("X = 1\n")
    git(tmp_path, "add", "code.py")
    git(tmp_path, "commit", "-q", "-m", "first")
    commit = git(tmp_path, "rev-parse", "HEAD")
    (tmp_path / "untracked.nc").write_bytes(b"result")
    assert git_state.__wrapped__(str(tmp_path)) == {"commit": commit, "dirty": False}
    (tmp_path / "code.py").write_text("X = 2\n")
    assert git_state.__wrapped__(str(tmp_path)) == {"commit": commit, "dirty": True}


def test_a_package_that_is_not_installed_is_recorded_as_none(monkeypatch):
    monkeypatch.setattr(provenance, "PACKAGES", ("numpy", "no-such-package-nncosmo"))
    versions = provenance.package_versions.__wrapped__()
    assert versions == {"numpy": np.__version__, "no-such-package-nncosmo": None}


def test_runtime_state_records_jax_where_the_process_runs_it():
    import jax

    state = provenance.runtime_state()
    assert state["jax_backend"] == jax.default_backend()
    assert state["jax_enable_x64"] is bool(jax.config.jax_enable_x64)
    assert state["jax_devices"] == [str(d) for d in jax.devices()]


def test_progress_lines_give_the_share_done_and_the_time_left(monkeypatch):
    """2 chunks of 10 steps (steps 0..9): step 4 of chunk 0 is 5 of 20 steps, 25 %; step 4 of
    chunk 1 is 15, 75 %, and 10 s after the first report (the rate after compiling: 50 % in
    10 s), 25 % are left: about 5 s."""
    lines, clock = [], iter([110.0, 120.0])
    monkeypatch.setattr(provenance.time, "perf_counter", lambda: next(clock))
    log = SimpleNamespace(info=lambda fmt, *args: lines.append(fmt % args))
    report = provenance.progress_logger(log, start=100.0)
    report(4, 0, 9, 2)
    report(4, 1, 9, 2)
    assert lines == [
        " 25 % of the job (chunk 1/2 at step 4/9), 10.0 s",
        " 75 % of the job (chunk 2/2 at step 4/9), 20.0 s, about 5 s left",
    ]


def test_manifest_lines_give_checksum_size_and_mtime_in_path_order(tmp_path):
    """`sha256  bytes  mtime_ns  path`, sorted by path whatever the order of the inputs."""
    paths = [tmp_path / name for name in ("b.nc", "a.nc")]
    for i, path in enumerate(paths):
        path.write_bytes(b"x" * (i + 3))
    record = dict.fromkeys(("config_hash", "git", "packages", "runtime"))
    write_manifest(tmp_path / "MANIFEST", [str(p) for p in paths], record)
    expected = [
        (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_size, p.stat().st_mtime_ns, str(p))
        for p in sorted(paths)
    ]
    assert [tuple(entry) for entry in read_manifest(tmp_path / "MANIFEST")] == expected


def test_an_untouched_result_is_checked_without_reading_it(tmp_path, monkeypatch):
    """Same size and mtime: the check costs a stat call, not a checksum of the file."""
    result, manifest = manifest_of_one_file(tmp_path)
    monkeypatch.setattr("nncosmo.manifest.sha256_file", lambda path: pytest.fail("read"))
    assert check_manifest(manifest) == []


def test_a_dry_run_removes_nothing_and_says_what_a_run_would_do(tmp_path):
    result, manifest = manifest_of_one_file(tmp_path)
    result.write_bytes(b"abcde")
    (message,) = check_manifest(manifest, dry_run=True)
    assert message.startswith(f"{result} changed since MANIFEST was written; a run without -n ")
    assert result.exists() and manifest.exists()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_start_time_is_field_22_of_proc_stat():
    """proc(5): field 22, starttime (the command `sleep` has no space or parenthesis)."""
    child = subprocess.Popen(["sleep", "10"])
    try:
        fields = Path(f"/proc/{child.pid}/stat").read_text().split()
        assert fields[1] == "(sleep)"
        assert locks._start_time(child.pid) == fields[21]
    finally:
        child.kill()
        child.wait()


def test_a_holder_this_user_may_not_signal_counts_as_alive(tmp_path, monkeypatch):
    """os.kill(pid, 0) raises PermissionError for another user's live process: keep the lock."""
    smk = stale_lock(tmp_path, pid=dead_pid())

    def not_permitted(pid, sig):
        raise PermissionError(pid)

    monkeypatch.setattr(locks.os, "kill", not_permitted)
    assert locks.clear_stale_lock(smk) is None
    assert (smk / "locks" / "0.output.lock").exists()


def test_a_live_pid_whose_start_time_cannot_be_read_counts_as_alive(tmp_path, monkeypatch):
    smk = stale_lock(tmp_path, pid=os.getpid(), start_time="1")
    monkeypatch.setattr(locks, "_start_time", lambda pid: None)  # /proc unreadable
    assert locks.clear_stale_lock(smk) is None


def test_a_cluster_runs_record_keeps_its_lock_after_it_died(tmp_path):
    smk = tmp_path / ".snakemake"
    (smk / "locks").mkdir(parents=True)
    (smk / "locks" / "0.output.lock").write_text("results/x.nc\n")
    locks.record_owner(smk, local=False)
    record = json.loads((smk / locks.OWNER_FILE).read_text())
    (smk / locks.OWNER_FILE).write_text(json.dumps({**record, "pid": dead_pid()}))
    assert "scancel" in locks.clear_stale_lock(smk)
    assert (smk / "locks" / "0.output.lock").exists()


def test_an_empty_lock_folder_of_a_dead_run_is_left_alone(tmp_path):
    smk = stale_lock(tmp_path, pid=dead_pid())
    (smk / "locks" / "0.output.lock").unlink()
    assert locks.clear_stale_lock(smk) is None
    assert (smk / locks.OWNER_FILE).exists()


def test_a_record_without_local_is_of_a_local_run(tmp_path):
    """A holder record written before `local` existed: the run's jobs ran here."""
    smk = stale_lock(tmp_path, pid=dead_pid())
    record = json.loads((smk / locks.OWNER_FILE).read_text())
    del record["local"]
    (smk / locks.OWNER_FILE).write_text(json.dumps(record))
    assert "stale lock" in locks.clear_stale_lock(smk)
    assert not (smk / "locks").exists()
