"""When each job of a Snakemake run started and ended, and how long the cores stood idle.

    python benchmarks/timeline.py RUN.log [--cores 2]

RUN.log is what `snakemake` printed (stdout and stderr, as `benchmarks/clean_runs.sh` keeps it):
every job's `rule NAME:` block with its `jobid:` and `wildcards:` under a `[timestamp]` line, and
a `[timestamp]` line before each `Finished jobid: N`. Prints one line per job (start and end in
seconds from the first job's start, Snakemake's one-second resolution), then the makespan and the
idle core-seconds: the sum over each second of the run of the cores without a job (README,
"Runtime": a 2-core run is bound by its summed job time when these are few).
"""

import argparse
import re
from datetime import datetime
from pathlib import Path

STAMP = re.compile(r"\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]")
RULE = re.compile(r"(?:local)?rule (\w+):")
JOBID = re.compile(r"\s+jobid: (\d+)")
WILDCARDS = re.compile(r"\s+wildcards: (.*)")
FINISHED = re.compile(r"Finished jobid: (\d+)")


def job_spans(lines: list[str]) -> list[dict]:
    """Every job of the log: rule, wildcards, start and end (datetimes), in order of start."""
    stamp, current, jobs = None, None, {}
    for line in lines:
        if match := STAMP.match(line):
            stamp = datetime.strptime(match.group(1), "%a %b %d %H:%M:%S %Y")
        elif match := RULE.match(line):
            current = {"rule": match.group(1), "wildcards": "", "start": stamp, "end": None}
        elif (match := JOBID.match(line)) and current is not None:
            jobs[int(match.group(1))] = current
        elif (match := WILDCARDS.match(line)) and current is not None:
            current["wildcards"] = match.group(1)
        elif (match := FINISHED.match(line)) and int(match.group(1)) in jobs:
            jobs[int(match.group(1))]["end"] = stamp
    return sorted((j for j in jobs.values() if j["end"] is not None), key=lambda j: j["start"])


def idle_core_seconds(spans: list[tuple[int, int]], cores: int) -> int:
    """Sum over the seconds t of [0, last end) of max(0, cores - jobs running at t), a job
    running over [start, end)."""
    end = max(e for _, e in spans)
    busy = [0] * end
    for s, e in spans:
        for t in range(s, e):
            busy[t] += 1
    return sum(max(0, cores - b) for b in busy)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("log", type=Path)
    parser.add_argument("--cores", type=int, default=2)
    args = parser.parse_args()
    jobs = job_spans(args.log.read_text().splitlines())
    t0 = jobs[0]["start"]
    spans = []
    for job in jobs:
        s, e = (int((job[k] - t0).total_seconds()) for k in ("start", "end"))
        spans.append((s, e))
        print(f"{s:5d} {e:5d} {e - s:4d} s  {job['rule']:10s} {job['wildcards']}")
    makespan = max(e for _, e in spans)
    idle = idle_core_seconds(spans, args.cores)
    print(f"makespan {makespan} s, idle {idle} core-s of {args.cores} x {makespan}")


if __name__ == "__main__":
    main()
