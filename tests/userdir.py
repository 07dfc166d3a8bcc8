"""A user's directory with the workflow, and the README's command run in it.

Tests that check recovery and reruns copy the repository's workflow files (Snakefile,
profiles/, workflow/, scripts/) and the tiny preset as config.yaml into a temporary directory
and run the README's exact command there, so Snakemake finds `profiles/default` as it does for
a user; the nncosmo package is the one the test interpreter imports (or PYTHONPATH's first).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import xarray as xr

from nncosmo.io import read_dataset
from nncosmo.manifest import read_manifest, sha256_file

ROOT = Path(__file__).resolve().parents[1]
README_COMMAND = [str(Path(sys.executable).with_name("snakemake")), "--cores", "2"]
NOT_RESULTS = ("logs", "benchmarks", "MANIFEST", ".jax_cache")  # what MANIFEST does not list

# As tests/test_workflow.py: float32 training is deterministic here; room for XLA's order.
RTOL, ATOL = 1e-5, 1e-9


def dry_run(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    """`snakemake --cores 2 -n` of the project's Snakefile in `workdir`, as a user runs it."""
    command = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-d", str(workdir)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.run(
        [*command, "--cores", "2", "-n", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=env,
    )


def copy_workflow(dest: Path) -> Path:
    """`dest` made a user's directory: the workflow files and the tiny preset as config.yaml."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "Snakefile", dest)
    for folder in ("profiles", "workflow", "scripts"):
        shutil.copytree(ROOT / folder, dest / folder)
    shutil.copy(ROOT / "workflow" / "presets" / "tiny.yaml", dest / "config.yaml")
    return dest


def readme_command(workdir: Path, *args: str, env: dict | None = None, **popen):
    """Start `snakemake --cores 2 [args]` in `workdir`; output goes to workdir/<n>.out."""
    out = workdir / f"{len(list(workdir.glob('*.out')))}.out"
    env = {**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})}
    with open(out, "w") as handle:
        proc = subprocess.Popen(
            [*README_COMMAND, *args],
            cwd=workdir,
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
            **popen,
        )
    proc.output = out
    return proc


def run_readme_command(workdir: Path, *args: str, env: dict | None = None) -> str:
    """Run `snakemake --cores 2 [args]` in `workdir` to the end; its output (asserts success)."""
    proc = readme_command(workdir, *args, env=env)
    proc.wait(timeout=900)
    output = proc.output.read_text()
    assert proc.returncode == 0, output[-4000:]
    return output


def result_files(results: Path) -> set[str]:
    """Every result file under `results` (as `results/...`), without logs and benchmarks."""
    return {
        str(p.relative_to(results.parent))
        for p in results.rglob("*")
        if p.is_file() and p.relative_to(results).parts[0] not in NOT_RESULTS
    }


def assert_same_results(results: Path, reference: Path) -> None:
    """The same files as `reference`; every dataset readable and equal by tolerance; claims."""
    assert result_files(results) == result_files(reference)
    for path in sorted(reference.rglob("*.nc")):
        expected = read_dataset(path).drop_attrs()
        actual = read_dataset(results / path.relative_to(reference)).drop_attrs()
        xr.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL)
    claims = [json.loads((r / "claims.json").read_text())["claims"] for r in (results, reference)]
    assert [c["verdict"] for c in claims[0]] == [c["verdict"] for c in claims[1]]
    measured = [np.asarray([c["measured"] for c in cs], dtype=float) for cs in claims]
    np.testing.assert_allclose(*measured, rtol=RTOL, atol=ATOL)
    for figure in (results / "figures").iterdir():
        assert figure.stat().st_size > 10_000, figure


def assert_manifest_is_true(results: Path) -> None:
    """MANIFEST lists exactly the result files present, with their sha256, size and mtime."""
    workdir = results.parent
    entries = read_manifest(results / "MANIFEST")
    assert {e.path for e in entries} == result_files(results)
    for entry in entries:
        stat = (workdir / entry.path).stat()
        assert entry.sha256 == sha256_file(workdir / entry.path), entry.path
        assert (entry.size, entry.mtime_ns) == (stat.st_size, stat.st_mtime_ns), entry.path
