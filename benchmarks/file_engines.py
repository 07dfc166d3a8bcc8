"""Reading and writing a finished run's result files with each netCDF engine xarray has here.

    python benchmarks/file_engines.py [--results results] [--repeats 5]

Per stage (data, ntk, cosmology, duality, and train without its largest file), the median over
`--repeats` rounds of: opening and loading every file (`xr.open_dataset(path,
engine=E).load()`, what `nncosmo.io.read_dataset` does) and writing every file again into a
temporary folder (`Dataset.to_netcdf(path, engine=E)`, what `nncosmo.io.write_dataset` does).
Engines: `netcdf4` (the project's, netCDF4-python) and `h5netcdf` where it is installed
(`pip install h5netcdf` to compare; it is not a project dependency). The engines alternate within
every round. Each read-back is checked equal (`xr.testing.assert_identical`) to the first
engine's. A job reads 1-4 of these files and writes one; the figures and claims jobs read all
of the ntk, cosmology, duality and data files (README, "Data on disk").
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path

import xarray as xr
from _timing import cpu_model

STAGES = ("data", "train", "ntk", "cosmology", "duality")


def stage_files(results: Path, stage: str) -> list[Path]:
    """The stage's .nc files; for train all but the largest (one checkpoint file can be 0.7 GB:
    that is disk bandwidth, not an engine's per-file cost)."""
    files = sorted(results.glob(f"{stage}/*.nc")) + sorted(results.glob(f"{stage}/*/*.nc"))
    if stage == "train" and files:
        files.remove(max(files, key=lambda p: p.stat().st_size))
    return files


def read_all(files: list[Path], engine: str) -> tuple[float, list[xr.Dataset]]:
    """Seconds to open and load every file with `engine`, and the datasets."""
    start = time.perf_counter()
    loaded = []
    for path in files:
        with xr.open_dataset(path, engine=engine) as ds:
            loaded.append(ds.load())
    return time.perf_counter() - start, loaded


def write_all(datasets: list[xr.Dataset], engine: str, folder: Path) -> float:
    """Seconds to write every dataset with `engine` into `folder`."""
    start = time.perf_counter()
    for k, ds in enumerate(datasets):
        ds.to_netcdf(folder / f"{engine}_{k}.nc", engine=engine)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    engines = [
        e for e, module in (("netcdf4", "netCDF4"), ("h5netcdf", "h5netcdf")) if find_spec(module)
    ]
    print(f"machine: {cpu_model()}; engines: {engines}; median of {args.repeats} rounds")
    print(
        f"{'stage':<10} {'files':>5} {'variables':>9}  "
        + "  ".join(f"{e + ' read (s)':>18} {e + ' write (s)':>19}" for e in engines)
    )
    for stage in STAGES:
        files = stage_files(args.results, stage)
        if not files:
            continue
        reads = {e: [] for e in engines}
        writes = {e: [] for e in engines}
        with tempfile.TemporaryDirectory() as tmp:
            for r in range(args.repeats):
                order = engines if r % 2 == 0 else engines[::-1]
                loaded = {}
                for engine in order:
                    seconds, loaded[engine] = read_all(files, engine)
                    reads[engine].append(seconds)
                    writes[engine].append(write_all(loaded[engine], engine, Path(tmp)))
                for engine in engines[1:]:
                    for a, b in zip(loaded[engine], loaded[engines[0]], strict=True):
                        xr.testing.assert_identical(a, b)
        variables = sum(len(ds.variables) for ds in loaded[engines[0]])
        print(
            f"{stage:<10} {len(files):>5} {variables:>9}  "
            + "  ".join(
                f"{statistics.median(reads[e]):>18.3f} {statistics.median(writes[e]):>19.3f}"
                for e in engines
            )
        )


if __name__ == "__main__":
    main()
