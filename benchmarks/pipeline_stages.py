"""Time per pipeline stage, from the `benchmark:` files every rule writes.

Run after `snakemake --cores 2` (from an empty results/): prints, per stage, the number of jobs,
the summed job wall time and the slowest job. Jobs of a stage run in parallel, so the sum is CPU
occupancy rather than elapsed time; the elapsed total is what `snakemake` itself reports.
"""

import argparse
import csv
from collections import defaultdict
from pathlib import Path

# the stages in pipeline order (the README's runtime table); any other stage follows by name
PIPELINE_ORDER = ("data", "train", "ntk", "cosmology", "duality", "simulate", "figures", "claims")


def stage_times(root: Path) -> dict[str, list[float]]:
    """Seconds of every job, grouped by stage (the folder under results/benchmarks/, or the file
    name: figures_<k>.tsv, the figures stage's k-th rendering job), in pipeline order."""
    times = defaultdict(list)
    for path in sorted(root.rglob("*.tsv")):
        stage = path.relative_to(root).parts[0].removesuffix(".tsv").split("_")[0]
        with path.open() as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        times[stage].append(float(rows[-1]["s"]))
    rank = {stage: k for k, stage in enumerate(PIPELINE_ORDER)}
    return dict(sorted(times.items(), key=lambda item: (rank.get(item[0], len(rank)), item[0])))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", type=Path, default=Path("results"))
    args = parser.parse_args()
    print("| stage | jobs | summed job time (s) | slowest job (s) |")
    print("|---|---|---|---|")
    for stage, seconds in stage_times(args.results / "benchmarks").items():
        print(f"| {stage} | {len(seconds)} | {sum(seconds):.1f} | {max(seconds):.1f} |")


if __name__ == "__main__":
    main()
