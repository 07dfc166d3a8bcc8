"""Recovery from a killed run: Snakemake's directory lock outlives SIGKILL, so clear stale ones.

Snakemake locks a working directory by writing `.snakemake/locks/*.lock` and removes them when
it exits; a SIGKILLed (or OOM-killed) run never removes them, and the next run stops with
"Directory cannot be locked". Snakemake cannot tell a dead holder from a live one, so the
Snakefile records the holder (host, pid, process start time) once it holds the lock
(`onstart`), forgets it on exit (`onsuccess`, `onerror`), and at the next start removes the locks
only when the recorded holder is provably dead: same host, and no process with that pid and
start time. A lock of a live run, of another host or without a record is left alone.

A killed Snakemake process alone leaves its job processes running; they would go on writing
into results/ while the next run rebuilds the same (incomplete) outputs. Before the lock is
removed they are stopped; they are found by their command line, which names the job script
Snakemake wrote under this working directory's `.snakemake/scripts/`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import time
from pathlib import Path

OWNER_FILE = "nncosmo-lock-owner.json"


def _start_time(pid: int) -> str | None:
    """The kernel's start time of process `pid` (Linux /proc), or None where unavailable."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]  # field 22 of proc(5), counted after "(comm)"


def _alive(pid: int, start_time: str | None) -> bool:
    """Whether the process `pid` (with that start time, where known) still exists."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return start_time is None or _start_time(pid) in (None, start_time)


def job_processes(snakemake_dir: str | os.PathLike = ".snakemake") -> list[int]:
    """Pids of running processes that execute a job script of this `.snakemake` folder."""
    scripts = str(Path(snakemake_dir).resolve() / "scripts") + os.sep
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            args = (proc / "cmdline").read_bytes().decode(errors="replace").split("\0")
        except OSError:  # the process ended meanwhile
            continue
        if any(arg.startswith(scripts) for arg in args):
            pids.append(int(proc.name))
    return pids


def stop_job_processes(snakemake_dir: str | os.PathLike = ".snakemake", grace_s: float = 10.0):
    """Stop the job processes of this `.snakemake` folder: SIGTERM, SIGKILL after `grace_s` s.

    Returns the pids found running. (A zombie has an empty command line, so it counts as gone.)
    """
    found = job_processes(snakemake_dir)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in job_processes(snakemake_dir):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and job_processes(snakemake_dir):
            time.sleep(0.1)
    return found


def record_owner(snakemake_dir: str | os.PathLike = ".snakemake", local: bool = True) -> None:
    """Record this process as the holder of the directory lock (call in `onstart`); `local`:
    whether its jobs run on this host (False for a cluster executor: they outlive it there)."""
    pid = os.getpid()
    owner = {
        "host": socket.gethostname(),
        "pid": pid,
        "start_time": _start_time(pid),
        "local": local,
    }
    Path(snakemake_dir).mkdir(exist_ok=True)
    (Path(snakemake_dir) / OWNER_FILE).write_text(json.dumps(owner))


def forget_owner(snakemake_dir: str | os.PathLike = ".snakemake") -> None:
    """Remove the holder record of a run that exits normally (call in `onsuccess`/`onerror`)."""
    (Path(snakemake_dir) / OWNER_FILE).unlink(missing_ok=True)


def clear_stale_lock(snakemake_dir: str | os.PathLike = ".snakemake") -> str | None:
    """Remove the directory lock if its recorded holder died on this host and ran its jobs here;
    say what was done (for a cluster run's holder: keep the lock, say what to do)."""
    locks, record = Path(snakemake_dir) / "locks", Path(snakemake_dir) / OWNER_FILE
    if not (locks.is_dir() and any(locks.iterdir()) and record.exists()):
        return None
    try:
        owner = json.loads(record.read_text())
    except (OSError, ValueError):
        return None
    if owner.get("host") != socket.gethostname() or _alive(owner["pid"], owner.get("start_time")):
        return None
    if not owner.get("local", True):
        return (
            f"the run that holds the lock (pid {owner['pid']} on {owner['host']}) was killed, "
            "but its cluster jobs may still run and write results/: cancel them (squeue --me, "
            "scancel), then snakemake --unlock"
        )
    orphans = stop_job_processes(snakemake_dir)
    shutil.rmtree(locks)
    record.unlink(missing_ok=True)
    noun = "job process" if len(orphans) == 1 else "job processes"
    stopped = f"stopped its {len(orphans)} {noun} {orphans}; " if orphans else ""
    return (
        f"removed the stale lock of a killed run (pid {owner['pid']} on {owner['host']}); "
        f"{stopped}its incomplete outputs are rebuilt"
    )


def locked(snakemake_dir: str | os.PathLike = ".snakemake") -> bool:
    """Whether a run holds Snakemake's lock on this working directory."""
    locks = Path(snakemake_dir) / "locks"
    return locks.is_dir() and any(locks.iterdir())
