"""The SLURM profile on a real cluster: workflow/cluster/local-slurm.sh starts a one-node SLURM
cluster on this machine, the tiny preset (one training job per seed) runs through
`snakemake --workflow-profile profiles/slurm`, sacct shows every job as a completed SLURM job,
the results equal the local run of the same preset, and stopping the cluster leaves nothing.

Needs root and apt-get (it installs Debian's slurm and munge packages); CI has both. Elsewhere
every test fails with one line saying why (a skip would read as a pass).
"""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from userdir import README_COMMAND, ROOT, assert_same_results, copy_workflow

CLUSTER = ROOT / "workflow" / "cluster" / "local-slurm.sh"
CANNOT = (
    "not root"
    if os.geteuid() != 0
    else "no apt-get and no slurmctld"
    if not (shutil.which("apt-get") or shutil.which("slurmctld"))
    else None
)


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


def sacct_jobs(workdir: Path) -> dict[str, dict]:
    """SLURM job id -> sacct fields of every job (allocation) that ran in `workdir`."""
    fields = ["JobID", "State", "ExitCode", "WorkDir", "Comment"]
    out = subprocess.run(
        ["sacct", "-X", "-n", "-P", "-a", "-S", "now-1day", "-o", ",".join(fields)],
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


@pytest.fixture(scope="module")
def slurm_run(tmp_path_factory):
    """Start the cluster, run the tiny preset split by seed through profiles/slurm; yields the
    workdir, the planned rules, Snakemake's output and the daemons' PIDs; stops the cluster."""
    started = cluster("start")
    assert started.returncode == 0, started.stdout + started.stderr
    workdir = copy_workflow(tmp_path_factory.mktemp("slurm") / "user")
    config = yaml.safe_load((workdir / "config.yaml").read_text())
    config["split_by"] = ["dataset", "width", "seed"]
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    try:
        planned = dry_run_rules(workdir)
        proc = subprocess.run(
            [*SLURM_COMMAND, *FAST_CHECKS],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=1500,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
        output = proc.stdout + proc.stderr
        assert proc.returncode == 0, output[-4000:]
        yield workdir, planned, output, daemon_pids(started.stdout)
    finally:
        cluster("stop")


def test_every_job_ran_as_a_completed_slurm_job(slurm_run):
    workdir, planned, output, _ = slurm_run
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


def test_stop_leaves_nothing_running(slurm_run):
    *_, pids = slurm_run
    assert len(pids) == 5, pids  # munged, mariadbd, slurmdbd, slurmctld, slurmd
    stopped = cluster("stop")
    assert stopped.returncode == 0, stopped.stderr
    assert cluster("status").returncode != 0
    assert not [pid for pid in pids if Path(f"/proc/{pid}").exists()]
    assert not slurmstepd_pids()
