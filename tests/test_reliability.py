"""Faults lose nothing: corrupt files get clear errors, writes are atomic, a killed run resumes."""

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from nncosmo.io import CorruptDatasetError, MissingVariableError, read_dataset, write_dataset

ROOT = Path(__file__).resolve().parents[1]


def small_dataset():
    return xr.Dataset({"a": ("x", np.arange(5.0), {"long_name": "a", "units": "1"})})


def test_truncated_file_names_the_file_and_the_fix(tmp_path):
    path = tmp_path / "broken.nc"
    write_dataset(small_dataset(), path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(CorruptDatasetError, match="broken.nc") as err:
        read_dataset(path)
    assert "Delete it and rerun" in str(err.value)


def test_missing_variable_is_reported(tmp_path):
    path = write_dataset(small_dataset(), tmp_path / "ok.nc")
    with pytest.raises(MissingVariableError, match="'b'"):
        read_dataset(path, ["a", "b"])


def test_failed_write_leaves_no_file(tmp_path):
    path = tmp_path / "out.nc"
    bad = small_dataset().assign_attrs(unserialisable={"a": 1})  # netCDF attrs cannot be dicts
    with pytest.raises(Exception):  # noqa: B017 - whatever the backend raises
        write_dataset(bad, path)
    assert list(tmp_path.iterdir()) == []


def test_roundtrip_keeps_values_and_provenance(tmp_path):
    path = write_dataset(small_dataset(), tmp_path / "r.nc", {"seed": 3})
    back = read_dataset(path)
    xr.testing.assert_allclose(back.drop_attrs(), small_dataset().drop_attrs())
    assert '"seed": 3' in back.attrs["provenance"]


def run_tiny(workdir, *args, **popen):
    cmd = [
        sys.executable,
        "-m",
        "snakemake",
        "-s",
        str(ROOT / "Snakefile"),
        "-d",
        str(workdir),
        "--workflow-profile",
        str(ROOT / "workflow" / "profiles" / "default"),
        *args,
    ]
    return subprocess.Popen(
        cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen
    )


def test_sigkill_during_training_then_rerun_completes(tmp_path):
    shutil.copy(ROOT / "workflow" / "presets" / "tiny.yaml", tmp_path / "config.yaml")
    target = "results/ntk/teacher/w32.nc"
    proc = run_tiny(tmp_path, target, start_new_session=True)
    train_log = tmp_path / "results" / "logs" / "train" / "teacher" / "w32.log"
    deadline = time.time() + 120
    while not train_log.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    assert train_log.exists(), "training never started"
    time.sleep(1.0)  # inside the training job (import + compile take several seconds)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    train_out = tmp_path / "results" / "train" / "teacher" / "w32.nc"
    assert not train_out.exists(), "killed before the end, the output must not exist"

    # SIGKILL leaves Snakemake's directory lock behind (by design it cannot tell a dead run
    # from a live one); --unlock is the documented step, then the very same command.
    assert run_tiny(tmp_path, "--unlock").wait() == 0
    rerun = run_tiny(tmp_path, target)
    output, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, output[-3000:]
    ds = read_dataset(tmp_path / target, ["u"])
    assert np.isfinite(ds.u.values[~ds.diverged.values]).all()
    leftovers = [p for p in (tmp_path / "results").rglob("*.tmp")]
    assert leftovers == [] or all(".nc." in p.name for p in leftovers)
