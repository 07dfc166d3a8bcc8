"""Reading and writing the pipeline's xarray datasets (netCDF4 via h5netcdf, atomic writes)."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import xarray as xr

from nncosmo.config import job_width

ENGINE = "h5netcdf"


class CorruptDatasetError(RuntimeError):
    """A result file exists but cannot be read: it must be deleted and rebuilt."""


class MissingVariableError(KeyError):
    """A dataset lacks a variable its consumer needs (an outdated or foreign file)."""


def write_dataset(ds: xr.Dataset, path: str | os.PathLike, provenance: dict | None = None) -> Path:
    """Write `ds` to `path` atomically (temporary file in the same folder, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ds = ds.copy()
    if provenance is not None:
        ds.attrs["provenance"] = json.dumps(provenance, sort_keys=True, default=str)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        ds.to_netcdf(tmp, engine=ENGINE, invalid_netcdf=False)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def read_dataset(path: str | os.PathLike, variables: Iterable[str] = ()) -> xr.Dataset:
    """Load a result dataset into memory; clear errors for corrupt files or missing variables."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such result file; run the pipeline to build it.")
    try:
        with xr.open_dataset(path, engine=ENGINE) as ds:
            ds = ds.load()
    except Exception as exc:  # h5py raises OSError, ValueError, KeyError... for damaged files
        raise CorruptDatasetError(
            f"{path} is truncated or corrupt ({type(exc).__name__}: {exc}). "
            f"Delete it and rerun snakemake to rebuild it."
        ) from exc
    missing = [v for v in variables if v not in ds.variables]
    if missing:
        raise MissingVariableError(
            f"{path} lacks the variables {missing}; it was written by another version. "
            f"Delete it and rerun snakemake."
        )
    return ds


def provenance_of(ds: xr.Dataset) -> dict:
    """The provenance record stored in a dataset's attributes."""
    return json.loads(ds.attrs.get("provenance", "{}"))


def job_key(path: str | os.PathLike) -> tuple[str, int]:
    """(dataset, width) of a per-job result file `<stage>/<dataset>/w<width>[_<split>...].nc`."""
    path = Path(path)
    return path.parent.name, job_width(path.stem)


def merge_runs(parts: list[xr.Dataset]) -> xr.Dataset:
    """The runs of several jobs of one (dataset, width) as one dataset, sorted by (eta, beta, seed).

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
    order = np.lexsort((ds.seed.values, ds.beta.values, ds.eta.values))
    return ds.isel(run=order).assign_coords(run=np.arange(ds.sizes["run"]))


def load_stage(paths: Iterable[str | os.PathLike], variables: Iterable[str] = ()) -> dict:
    """Every dataset of one stage keyed by (dataset, width), the jobs of a split sweep merged."""
    parts: dict[tuple[str, int], list[xr.Dataset]] = {}
    for p in paths:
        parts.setdefault(job_key(p), []).append(read_dataset(p, variables))
    return {key: merge_runs(group) if len(group) > 1 else group[0] for key, group in parts.items()}
