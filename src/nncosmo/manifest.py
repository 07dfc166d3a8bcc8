"""results/MANIFEST, the list of every result file, and the check that keeps it true.

The manifest rule writes MANIFEST at the end of a run: a provenance summary, then one line
`sha256  bytes  mtime_ns  path` per result file (its inputs are every result file, so any rebuilt
file rewrites it); a run that executes jobs removes it first (the Snakefile's `onstart`), so a
run killed or failed before its end leaves none. At the start of the next run the Snakefile
calls `check_manifest`: a listed file that is missing, or whose size or mtime changed and whose
sha256 no longer matches, is removed together with MANIFEST. MANIFEST's job then needs the file
again, so Snakemake rebuilds it and, because the rebuilt file is newer than what was made from
it, everything downstream, and rewrites MANIFEST. Checksums identify files; datasets are
compared by tolerance, never by bytes (netCDF files embed provenance and timestamps).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from pathlib import Path
from typing import NamedTuple

COLUMNS = "# sha256  bytes  mtime_ns  path"


class Entry(NamedTuple):
    """One MANIFEST line; `size` and `mtime_ns` are None in a manifest without them."""

    sha256: str
    size: int | None
    mtime_ns: int | None
    path: str


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """sha256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def manifest(paths: list[str], record: dict) -> str:
    """MANIFEST text: the provenance summary of `record`, then one `Entry` line per file."""
    summary = {k: record[k] for k in ("config_hash", "git", "packages", "runtime")}
    lines = ["# nncosmo results manifest", "# " + json.dumps(summary, sort_keys=True), COLUMNS]
    for path in sorted(paths):
        stat = os.stat(path)
        lines.append(f"{sha256_file(path)}  {stat.st_size}  {stat.st_mtime_ns}  {path}")
    return "\n".join(lines) + "\n"


def write_manifest(out: str | Path, paths: list[str], record: dict) -> None:
    """Write the MANIFEST of `paths` to `out` atomically (`io.write_atomically`: a killed write
    leaves no half file)."""
    from nncosmo.io import write_atomically  # here: the Snakefile imports this module, not xarray

    text = manifest(paths, record)
    write_atomically(Path(out), lambda tmp: tmp.write_text(text))


def read_manifest(path: str | Path) -> list[Entry]:
    """The entries of a MANIFEST file (also of the older `sha256  path` form)."""
    entries = []
    for line in Path(path).read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            sha256, *stat, name = line.split()
            size, mtime_ns = (int(v) for v in stat) if stat else (None, None)
            entries.append(Entry(sha256, size, mtime_ns, name))
    return entries


def differs(entry: Entry) -> str | None:
    """How the file of `entry` differs from MANIFEST ("is missing", "changed"), or None.

    The sha256 is computed only when size or mtime changed, so checking costs a few stat calls.
    """
    path = Path(entry.path)
    if not path.exists():
        return "is missing"
    stat = path.stat()
    if (stat.st_size, stat.st_mtime_ns) == (entry.size, entry.mtime_ns):
        return None
    return None if sha256_file(path) == entry.sha256 else "changed"


def earlier_build_note(results: str, unbuilt: dict[str, str], simulations) -> str | None:
    """Which files under `results` an earlier build left that this run neither updates nor lists
    in MANIFEST: those of the figures not built ({figure: file stem}, `unbuilt`) and the
    simulations not among this run's `simulations` (they belong to F8); None when there are
    none."""
    old = {
        fig: sorted(map(str, Path(results, "figures").glob(f"{stem}.*")))
        for fig, stem in unbuilt.items()
    }
    simulated = set(map(str, simulations))
    stale = sorted(
        str(p) for p in Path(results, "simulate").glob("*.nc") if str(p) not in simulated
    )
    old["F8"] = old.get("F8", []) + stale
    old = {fig: paths for fig, paths in old.items() if paths}
    if not old:
        return None
    files = ", ".join(path for paths in old.values() for path in paths)
    return (
        f"files of {', '.join(old)} from an earlier build (figures.build or cosmologies.targets "
        "does not name them now; this run neither updates them nor lists them in MANIFEST): "
        + files
    )


def failing_claims(doc: dict, on_failure: str) -> list[str]:
    """The ids of the failing claims in claims.json's `doc` that fail the run (its manifest job,
    so that claims.json is kept): all of them where `on_failure` (config claims.on_failure) is
    "error", none where it is "warn"."""
    failing = [c["id"] for c in doc["claims"] if c["verdict"] == "fail"]
    return failing if on_failure == "error" else []


def check_manifest(manifest_path: str | Path, dry_run: bool = False) -> list[str]:
    """Remove the files that differ from MANIFEST, and MANIFEST with them; one message each.

    With `dry_run` nothing is removed; the messages say what a run would do.
    """
    manifest_path = Path(manifest_path)
    if not manifest_path.exists():
        return []
    messages = []
    for entry in read_manifest(manifest_path):
        if (how := differs(entry)) is None:
            continue
        if dry_run:
            action = (
                "a run without -n removes it and rebuilds it with everything downstream (the plan "
                "below does not show these rebuilds: it takes the file as it is)"
            )
        else:
            Path(entry.path).unlink(missing_ok=True)
            action = "removed, " if how == "changed" else ""
            action += "it is rebuilt with everything downstream"
        messages.append(f"{entry.path} {how} since MANIFEST was written; {action}")
    if messages and not dry_run:
        manifest_path.unlink()
    return messages


# Snakemake command-line modes that build the DAG but run no job (snakemake.cli.args_to_api):
# a MANIFEST check must not remove anything there (a --report or --lint is not a rebuild).
NO_JOB_MODES = (
    "lint", "list_target_rules", "list_rules", "print_compilation", "containerize", "report",
    "generate_unit_tests", "dag", "rulegraph", "filegraph", "d3dag", "unlock", "cleanup_metadata",
    "conda_cleanup_envs", "conda_create_envs_only", "list_conda_envs", "cleanup_shadow",
    "container_cleanup_images", "list_changes", "list_input_changes", "list_params_changes",
    "list_untracked", "summary", "detailed_summary", "archive", "delete_all_output",
    "delete_temp_output", "touch", "edit_notebook",
)  # fmt: skip


def invocation(argv: list[str]) -> str:
    """What a snakemake command line does: "run" (executes jobs), "dry-run", or "other" (lint,
    report, unlock, summaries..., or a command line Snakemake's own parser does not accept)."""
    from snakemake.cli import parse_args

    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            _, args = parse_args(argv)
    except (SystemExit, Exception):
        return "other"
    if any(getattr(args, mode, None) for mode in NO_JOB_MODES):
        return "other"
    return "dry-run" if args.dryrun else "run"
