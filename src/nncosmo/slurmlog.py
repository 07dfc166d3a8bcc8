"""SLURM's own reason for a failed job, in the output of the Snakemake run that submitted it.

The executor plugin reports a failed job by its state alone ("SLURM status is: 'FAILED'"); why
SLURM killed it (memory, time limit, `scancel`) is in the job's SLURM log, as `slurmstepd`
error lines. `show-failed-logs` would print that log, but Snakemake stops printing a job's logs
at the first one that does not exist, and the rule's own log does not exist when SLURM kills
the job before its script starts. So the Snakefile's `onerror` handler reads the run's main log
(which records "submitted with SLURM jobid N (log: PATH)" and "SLURM-job 'N' failed") and prints
the `slurmstepd` error lines of each failed job's SLURM log.
"""

from __future__ import annotations

import re
from pathlib import Path

SUBMITTED = re.compile(r"has been submitted with SLURM jobid (\S+) \(log: (.+?)\)\.?$")
FAILED = re.compile(r"SLURM-job '(\S+)' failed")


def slurm_failure_reasons(snakemake_logs: list[str]) -> list[str]:
    """Lines "SLURM job N: <slurmstepd error>", each distinct slurmstepd error line of the SLURM
    log of every job that the run's main logs (onerror's `log`, a list) report as failed."""
    text = "\n".join(
        Path(p).read_text(errors="replace") for p in snakemake_logs if Path(p).is_file()
    )
    logs = dict(m.groups() for line in text.splitlines() if (m := SUBMITTED.search(line)))
    reasons = []
    for job in dict.fromkeys(FAILED.findall(text)):
        path = Path(logs.get(job, ""))
        lines = path.read_text(errors="replace").splitlines() if path.is_file() else []
        errors = dict.fromkeys(s.strip() for s in lines if "slurmstepd" in s and "error" in s)
        reasons += [f"SLURM job {job}: {line}" for line in errors]
    return reasons
