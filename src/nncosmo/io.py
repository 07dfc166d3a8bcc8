"""Reading and writing the pipeline's xarray datasets (netCDF4 files through the netCDF C library,
atomic writes)."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import xarray as xr

from nncosmo.config import job_width, run_key
from nncosmo.theory import parse_schedule_label

# netCDF4-python (Unidata's netCDF C library): opening a file is ~5x faster than h5netcdf's
# per-variable metadata lookups (README, "Data on disk"), and every job starts by opening files.
ENGINE = "netcdf4"


class CorruptDatasetError(RuntimeError):
    """A result file exists but cannot be read: it must be deleted and rebuilt."""


class MissingVariableError(KeyError):
    """A dataset lacks a variable its consumer needs (an outdated or foreign file)."""


# Long name and units of every coordinate the stages share, filled in by `write_dataset`
# wherever a coordinate has none of its own (the coordinates travel from stage to stage).
# The coordinates that identify a run; every stage dataset carries them along the run dim.
RUN_COORDS = ("run", "eta", "beta", "seed", "schedule", "diverged")

COORDINATE_ATTRS = {
    "run": {"long_name": "run index (one eta, beta, seed, schedule)", "units": "1"},
    "eta": {"long_name": "learning rate eta", "units": "tau^2"},
    "beta": {"long_name": "momentum beta (NaN: the schedule sets beta_n)", "units": "1"},
    "seed": {"long_name": "initialisation seed", "units": "1"},
    "schedule": {"long_name": "schedule: expansion history and its parameters", "units": "1"},
    "diverged": {"long_name": "loss non-finite or grew by divergence_factor", "units": "1"},
    "step": {"long_name": "training step n", "units": "step"},
    "checkpoint": {"long_name": "training step of a parameter checkpoint", "units": "step"},
    "kappa_step": {"long_name": "training step n of a kappa_a(n) measurement", "units": "step"},
    "sample": {"long_name": "training sample index i", "units": "1"},
    "sample_": {"long_name": "training sample index j (second NTK index)", "units": "1"},
    "feature": {"long_name": "input feature index", "units": "1"},
    "eigen": {"long_name": "NTK eigenpair index a (descending eigenvalue)", "units": "1"},
    "mode": {"long_name": "residual mode index a (descending NTK eigenvalue)", "units": "1"},
    "mode_": {"long_name": "residual mode index b (second mass-matrix index)", "units": "1"},
    "dictionary": {"long_name": "neural network to cosmology dictionary", "units": "1"},
    "law": {"long_name": "candidate law of the NTK drift kappa_a(n)", "units": "1"},
    "drift_mode": {"long_name": "mode index a of a measured kappa_a(n)", "units": "1"},
    "history": {"long_name": "field of a run's history: exact image or continuum", "units": "1"},
    "window": {"long_name": "sliding Prony window index (windowed H of u_0)", "units": "1"},
}


def with_coordinate_attrs(ds: xr.Dataset) -> xr.Dataset:
    """A copy of `ds` whose coordinates carry `COORDINATE_ATTRS` (attributes already set win)."""
    ds = ds.copy()
    for name in ds.coords.keys() & COORDINATE_ATTRS.keys():
        variable = ds.variables[name]
        variable.attrs = {**COORDINATE_ATTRS[name], **variable.attrs}
    return ds


def write_dataset(ds: xr.Dataset, path: str | os.PathLike, provenance: dict | None = None) -> Path:
    """Write `ds` to `path` atomically (temporary file in the same folder, then rename).

    The temporary file is created by the netCDF library like any new file, so the result gets
    the mode `open()` gives (0o666 & ~umask), and the coordinates get `COORDINATE_ATTRS`; a
    dataset of runs records their seeds (its `seed` coordinate) in the provenance.
    Temporary files of `path` left by a killed writer are removed first (`write_atomically`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = with_coordinate_attrs(ds)
    if provenance is not None:
        if "seed" in ds.coords and ds.seed.dims == ("run",):
            provenance = {"seeds": ds.seed.values.tolist(), **provenance}
        ds.attrs["provenance"] = json.dumps(provenance, sort_keys=True, default=str)
    write_atomically(path, lambda tmp: ds.to_netcdf(tmp, engine=ENGINE, format="NETCDF4"))
    return path


def write_atomically(path: Path, write: Callable[[Path], object], shared: bool = False) -> None:
    """`write(tmp)` to a temporary file `.<name>.<uuid>.tmp` beside `path`, then rename it to
    `path`: readers and concurrent writers never see a partial file; the temporary file is
    removed if `write` fails. Temporary files of `path` left by a killed writer (SIGKILL,
    `scancel`) are removed first: Snakemake runs one job per output, so no other writer of
    `path` can be alive. Not for a `shared` path (a cache entry any job may write at the same
    time, `nncosmo.programs`): there the other files may be live writers' own."""
    for stale in () if shared else path.parent.glob(f".{path.name}.*.tmp"):
        stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_dataset(
    path: str | os.PathLike,
    variables: Iterable[str] = (),
    optional: Iterable[str] | None = None,
    lazy: bool = False,
) -> xr.Dataset:
    """Load a result dataset into memory; clear errors for corrupt files or missing variables.

    With `optional` given, only `variables` and those of `optional` that the file has are read
    (the rest of a large file never is); without it, the whole file. With `lazy`, the file stays
    open and a variable is read when (and as far as) it is indexed, so a consumer can stream a
    large file (the NTK stage reads one run's parameters at a time)."""
    variables = tuple(variables)
    ds = _load(path, None if optional is None else [*variables, *optional], lazy)
    missing = [v for v in variables if v not in ds.variables]
    if missing:
        raise MissingVariableError(
            f"{path} lacks the variables {missing}; it was written by another version. "
            f"Delete it and rerun snakemake."
        )
    return ds


def _load(path: str | os.PathLike, keep: list[str] | None = None, lazy: bool = False) -> xr.Dataset:
    """The dataset at `path` (only the data variables in `keep`, when given): in memory, or
    opened lazily."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such result file; run the pipeline to build it.")
    try:
        opened = xr.open_dataset(path, engine=ENGINE)
        ds = opened if keep is None else opened[[v for v in keep if v in opened.data_vars]]
        if not lazy:
            with opened:
                ds = ds.load()
    except (MemoryError, PermissionError):  # the machine's or the file's mode: not its content
        raise
    except Exception as exc:  # netCDF4 raises OSError, RuntimeError... for damaged files
        raise CorruptDatasetError(
            f"{path} is truncated or corrupt ({type(exc).__name__}: {exc}). "
            f"Delete it and rerun snakemake to rebuild it."
        ) from exc
    return ds


def job_key(path: str | os.PathLike) -> tuple[str, int]:
    """(dataset, width) of a per-job result file `<stage>/<dataset>/w<width>[_<split>...].nc`."""
    path = Path(path)
    return path.parent.name, job_width(path.stem)


def merge_runs(parts: list[xr.Dataset]) -> xr.Dataset:
    """The runs of several jobs of one (dataset, width) as one dataset, in the order of the
    unsplit job (`config.run_key`: eta, beta with a NaN beta (set by the schedule) first, seed,
    schedule).

    Attributes (provenance included) are those of the first part.
    """
    ds = xr.concat(
        parts,
        dim="run",
        data_vars="minimal",
        coords="minimal",
        compat="override",
        combine_attrs="override",
    )
    keys = [
        run_key(
            {
                "eta": float(eta),
                "beta": None if np.isnan(beta) else float(beta),
                "seed": int(seed),
                "schedule": parse_schedule_label(label),
            }
        )
        for eta, beta, seed, label in zip(
            ds.eta.values, ds.beta.values, ds.seed.values, ds.schedule.values, strict=True
        )
    ]
    order = sorted(range(len(keys)), key=keys.__getitem__)
    run = ("run", np.arange(ds.sizes["run"]), ds.run.attrs)
    return ds.isel(run=order).assign_coords(run=run)


def load_stage(paths: Iterable[str | os.PathLike], variables: Iterable[str] = ()) -> dict:
    """Every dataset of one stage keyed by (dataset, width), the jobs of a split sweep merged."""
    parts: dict[tuple[str, int], list[xr.Dataset]] = {}
    for p in paths:
        parts.setdefault(job_key(p), []).append(read_dataset(p, variables))
    return {key: merge_runs(group) if len(group) > 1 else group[0] for key, group in parts.items()}
