"""The SLURM profile on a real cluster: workflow/cluster/local-slurm.sh starts a one-node SLURM
cluster on this machine, the tiny preset (one training job per seed) runs through
`snakemake --workflow-profile profiles/slurm`, sacct shows every job as a completed SLURM job,
the results equal the local run of the same preset, a training job killed with `scancel` is
reported and redone by the same command, a job over its memory request fails with SLURM's reason
in Snakemake's output, and stopping the cluster leaves nothing.

Needs root and apt-get (it installs Debian's slurm and munge packages); CI has both. Elsewhere
every test fails with one line saying why (a skip would read as a pass).
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from snakemake_executor_plugin_slurm.job_status_query import get_min_job_age
from userdir import README_COMMAND, ROOT, assert_same_results, copy_workflow

from nncosmo.io import read_dataset

CLUSTER = ROOT / "workflow" / "cluster" / "local-slurm.sh"
CANNOT = (
    "not root"
    if os.geteuid() != 0
    else "no apt-get and no slurmctld"
    if not (shutil.which("apt-get") or shutil.which("slurmctld"))
    else None
)


@pytest.fixture(autouse=True, scope="module")
def real_scontrol():
    """The real `scontrol` for this module's commands (conftest.py puts a stub first on PATH)."""
    path = os.environ["PATH"].split(os.pathsep)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", os.pathsep.join(p for p in path if "nncosmo-scontrol-stub-" not in p))
        yield


@pytest.fixture(autouse=True)
def cluster_can_start():
    """Fail (never skip) where the cluster cannot be installed: a silent skip would read as a
    pass. CI runs as root on Debian, with apt-get."""
    if CANNOT is not None:
        pytest.fail(
            f"SLURM TEST CANNOT RUN ({CANNOT}): starting the local cluster needs root and "
            "apt-get (Debian); run the test suite as root on Debian, as CI does"
        )


SLURM_COMMAND = [*README_COMMAND[:1], "--workflow-profile", "profiles/slurm"]
# the first status check after 1 s, not the plugin's 40 s: the tiny preset's jobs are short
FAST_CHECKS = ["--slurm-init-seconds-before-status-checks", "1"]


def cluster(command: str) -> subprocess.CompletedProcess:
    """`local-slurm.sh <command>` (start, stop, status), output captured."""
    return subprocess.run(
        ["bash", str(CLUSTER), command], capture_output=True, text=True, timeout=600
    )


def daemon_pids(status: str) -> list[int]:
    """The PIDs that `local-slurm.sh status` reports as running."""
    return [
        int(line.split("pid ")[1].rstrip(")")) for line in status.splitlines() if "pid " in line
    ]


def slurmstepd_pids() -> list[int]:
    """Processes running slurmstepd (job steps), found through /proc (nothing is killed)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and os.readlink(proc / "exe").endswith("slurmstepd"):
                pids.append(int(proc.name))
        except OSError:
            continue
    return pids


# The cluster's accounting outlives a test session (the state folder of local-slurm.sh), and
# pytest's numbered temporary folders recur once their parent is cleaned: only jobs submitted
# since this module was imported are this session's.
SESSION_START = time.strftime("%Y-%m-%dT%H:%M:%S")


def sacct_jobs(workdir: Path) -> dict[str, dict]:
    """SLURM job id -> sacct fields of every job (allocation) that ran in `workdir` since this
    test session started (`SESSION_START`)."""
    fields = ["JobID", "State", "ExitCode", "WorkDir", "Comment"]
    out = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-a", "-S", SESSION_START, "-o", ",".join(fields)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = [dict(zip(fields, line.split("|"), strict=True)) for line in out.splitlines()]
    return {r["JobID"]: r for r in rows if Path(r["WorkDir"]) == workdir}


def dry_run_rules(workdir: Path) -> dict[str, int]:
    """Rule -> job count that the SLURM profile would run, from a dry run's stats table."""
    out = subprocess.run(
        [*SLURM_COMMAND, "-n", "--quiet", "rules"],
        cwd=workdir,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rows = (line.split() for line in out.splitlines())
    return {r[0]: int(r[1]) for r in rows if len(r) == 2 and r[1].isdigit() and r[0] != "total"}


def user_dir(tmp_path_factory, name: str, **changes) -> Path:
    """A user's directory with the tiny preset, its config's top-level blocks updated."""
    workdir = copy_workflow(tmp_path_factory.mktemp(name) / "user")
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    for key, value in changes.items():
        config[key] = {**config[key], **value} if isinstance(value, dict) else value
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    return workdir


def start_slurm_command(workdir: Path, *args: str) -> subprocess.Popen:
    """Start the README's SLURM command (fast first status check) with `args` in `workdir`;
    its output goes to the file `proc.output`."""
    out = workdir / f"{len(list(workdir.glob('*.out')))}.out"
    with open(out, "w") as handle:
        proc = subprocess.Popen(
            [*SLURM_COMMAND, *FAST_CHECKS, *args],
            cwd=workdir,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
    proc.output = out
    return proc


def run_slurm_command(workdir: Path, *args: str) -> tuple[int, str]:
    """The README's SLURM command with `args` in `workdir`, run to its end: (exit code, output)."""
    proc = start_slurm_command(workdir, *args)
    wait_for_exit(proc, 1500)
    return proc.returncode, proc.output.read_text()


def wait_for_exit(proc: subprocess.Popen, seconds: float) -> None:
    """Wait for the SLURM command to end; past `seconds`, kill it and fail with its output."""
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"still running after {seconds} s:\n{proc.output.read_text()[-4000:]}")


def assert_squeue_status_is_used():
    """The profile's `slurm-status-command: squeue` holds only where the plugin reads MinJobAge
    >= 120 s from `scontrol show config` (on every status check); otherwise it falls back to
    sacct, which reports a cancelled job as "CANCELLED by <uid>", and the scancel test would
    wait forever."""
    age = get_min_job_age()  # None where `scontrol show config` fails
    scontrol = shutil.which("scontrol")
    assert age is not None and age >= 120, f"MinJobAge {age} from {scontrol} (a stub on PATH?)"


@pytest.fixture(scope="module")
def running_cluster():
    """Start the local cluster for this module's tests; yields the daemons' PIDs; stops it."""
    started = cluster("start")
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        assert_squeue_status_is_used()
        yield daemon_pids(started.stdout)
    finally:
        cluster("stop")


@pytest.fixture(scope="module")
def slurm_run(running_cluster, tmp_path_factory):
    """The tiny preset split by seed, run through profiles/slurm; yields the workdir, the
    planned rules and Snakemake's output."""
    workdir = user_dir(tmp_path_factory, "slurm", split_by=["dataset", "width", "seed"])
    planned = dry_run_rules(workdir)
    returncode, output = run_slurm_command(workdir)
    assert returncode == 0, output[-4000:]
    return workdir, planned, output


def test_every_job_ran_as_a_completed_slurm_job(slurm_run):
    workdir, planned, output = slurm_run
    submitted = {
        line.split("SLURM jobid ")[1].split()[0]
        for line in output.splitlines()
        if "has been submitted with SLURM jobid" in line
    }
    jobs = sacct_jobs(workdir)
    local = {rule for rule in planned if f"localrule {rule}:" in output}
    assert local == {"all"}, local  # `all` only collects; every rule with work is a SLURM job
    assert len(jobs) == sum(n for rule, n in planned.items() if rule != "all")
    assert set(jobs) == submitted
    for job in jobs.values():
        assert (job["State"], job["ExitCode"]) == ("COMPLETED", "0:0"), job
    ran = {job["Comment"].removeprefix("rule_").split("_wildcards")[0] for job in jobs.values()}
    assert ran == set(planned) - {"all"}


def test_slurm_results_equal_the_local_run(slurm_run, finished_split_tiny_run):
    workdir, *_ = slurm_run
    assert_same_results(workdir / "results", finished_split_tiny_run / "results")


TRAIN_TARGET = "results/train/teacher/w32.nc"  # the tiny preset's one training job


def squeue_job(comment_prefix: str) -> tuple[str, str] | None:
    """(SLURM job id, state) of the queued or running job whose comment (the plugin's
    rule_<rule>_wildcards_...) starts with `comment_prefix`, if there is one."""
    out = subprocess.run(
        ["squeue", "-h", "-o", "%i|%T|%k"], capture_output=True, text=True, check=True
    ).stdout
    rows = [line.split("|") for line in out.splitlines()]
    return next(
        ((job, state) for job, state, comment in rows if comment.startswith(comment_prefix)), None
    )


def wait_for_training_progress(proc: subprocess.Popen, log: Path) -> str:
    """Wait until the training job's log shows its first progress report (the scan is running);
    returns its SLURM job id."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.output.read_text()[-4000:]
        job = squeue_job("rule_train")
        if job and job[1] == "RUNNING" and log.exists() and "step " in log.read_text():
            return job[0]
        time.sleep(0.5)
    raise AssertionError(f"no training progress in {log} within 600 s")


def test_scancel_is_reported_and_the_same_command_completes(running_cluster, tmp_path_factory):
    # 40000 steps (~10 s of scan) so that the job is certainly mid-scan when it is cancelled
    workdir = user_dir(
        tmp_path_factory,
        "scancel",
        training={"steps": 40000, "checkpoints": [0, 30, 40000], "kappa_stride": 1000},
    )
    proc = start_slurm_command(workdir, TRAIN_TARGET)
    job = wait_for_training_progress(proc, workdir / "results/logs/train/teacher/w32.log")
    subprocess.run(["scancel", job], check=True)
    wait_for_exit(proc, 600)
    output = proc.output.read_text()
    assert proc.returncode != 0, output[-4000:]
    assert f"SLURM-job '{job}' failed, SLURM status is: 'CANCELLED'" in output, output[-4000:]
    train_dir = workdir / TRAIN_TARGET.rsplit("/", 1)[0]
    assert not list(train_dir.glob("*w32.nc*")), list(train_dir.iterdir())  # nothing accepted

    returncode, output = run_slurm_command(workdir, TRAIN_TARGET)
    assert returncode == 0, output[-4000:]
    trained = read_dataset(workdir / TRAIN_TARGET, ["loss"])
    assert trained.sizes["step"] == 40001  # the whole scan, not a partial one
    assert not list(train_dir.glob(".*.tmp"))
    states = {job_id: row["State"] for job_id, row in sacct_jobs(workdir).items()}
    assert states[job].startswith("CANCELLED"), states
    assert sorted(states.values()).count("COMPLETED") == len(states) - 1, states


def test_a_job_over_its_memory_request_fails_with_slurms_reason(running_cluster, tmp_path_factory):
    workdir = user_dir(tmp_path_factory, "memory")
    # 60 MB: Python with Snakemake alone needs more; SLURM polls every job's RSS every second
    returncode, output = run_slurm_command(
        workdir, "results/data/teacher.nc", "--set-resources", "data:mem_mb=60"
    )
    assert returncode != 0, output[-4000:]
    (job,) = sacct_jobs(workdir)
    assert f"SLURM-job '{job}' failed, SLURM status is: 'FAILED'" in output, output[-4000:]
    # SLURM's reason, printed by the Snakefile's onerror handler (nncosmo.slurmlog)
    _, printed, after = output.partition(f"nncosmo: SLURM job {job}: slurmstepd")
    assert printed and f"StepId={job}.batch exceeded memory limit" in after, output[-4000:]
    assert not (workdir / "results/data/teacher.nc").exists()


def test_stop_leaves_nothing_running(running_cluster, slurm_run):
    pids = running_cluster
    assert len(pids) == 5, pids  # munged, mariadbd, slurmdbd, slurmctld, slurmd
    stopped = cluster("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert cluster("status").returncode != 0
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    assert not slurmstepd_pids()
