"""Wall time of the cosmology stage on existing upstream files, median of fresh processes.

    python benchmarks/cosmology_stage.py --results /path/to/results --roots /path/to/old .

Each repeat runs the rule script `scripts/cosmology.py` of each checkout in `--roots` (default:
this repository; add an export of an older commit, `git archive <commit> src scripts | tar -x -C
DIR`, to compare; the checkouts take turns within each repeat, so a change in the machine's load
hits both alike) in a fresh Python
process with that checkout's `src/` on PYTHONPATH, a stand-in for Snakemake's `snakemake` object
(inputs `ntk` and `train` of the job, the `cosmology` block of config.yaml) and the output in a
temporary folder. Reported per job: the median, min and max over `--repeats` processes of the
process wall time (imports, reading, compiling, integrating, writing) and of the integration
alone (the time the script logs).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

STUB = """
import sys, types
smk = types.SimpleNamespace(
    input=types.SimpleNamespace(ntk=sys.argv[1], train=sys.argv[2]),
    output=[sys.argv[3]], log=[sys.argv[4]], config={}, threads=1, params=types.SimpleNamespace(
        cosmology={"rtol": float(sys.argv[5]), "atol": float(sys.argv[6])}),
)
sys.argv = [sys.argv[0]]
exec(compile(open(SCRIPT).read(), SCRIPT, "exec"), {"snakemake": smk, "__name__": "__main__"})
"""


def run_once(root: Path, results: Path, job: str, tolerances: dict) -> tuple[float, float]:
    """(process wall time, integration time the script logs) of one fresh run, in seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "cosmology.log"
        script = STUB.replace("SCRIPT", repr(str(root / "scripts" / "cosmology.py")))
        args = [results / "ntk" / f"{job}.nc", results / "train" / f"{job}.nc"]
        args += [Path(tmp) / "out.nc", log, tolerances["rtol"], tolerances["atol"]]
        env = {**os.environ, "PYTHONPATH": str(root / "src")}
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", script, *map(str, args)], check=True, env=env)
        wall = time.perf_counter() - start
        integrated = re.search(r"integrated in ([0-9.]+) s", log.read_text())
        return wall, float(integrated.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--roots", type=Path, nargs="+", default=[Path(__file__).parents[1]])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--jobs", nargs="+", default=["teacher/w1024", "digits/w256"])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tolerances = yaml.safe_load(Path("config.yaml").read_text())["cosmology"]
    print("| job | checkout | process wall s (median, min-max) | integration s (median, min-max) |")
    print("|---|---|---|---|")
    for job in args.jobs:
        times = {root: [] for root in args.roots}
        for _ in range(args.repeats):
            for root in args.roots:
                times[root].append(run_once(root.resolve(), args.results, job, tolerances))
        for root, pairs in times.items():
            text = [
                f"{statistics.median(t):.2f} ({min(t):.2f}-{max(t):.2f})"
                for t in zip(*pairs, strict=True)
            ]
            print(f"| {job} | {root} | {text[0]} | {text[1]} |", flush=True)


if __name__ == "__main__":
    main()
